#!/usr/bin/env python3
"""The seeded Contoso tenant: server.py builds it in memory at start.

Deterministic: build() always returns the same tenant (fixed seed, uuid5
ids), so only this generator is committed.  To read the JSON it amounts to:

    python3 emulator/gen_tenant.py OUT.json      # or - for stdout
"""

import hashlib
import json
import random
import sys
import uuid

TENANT_ID = "4a9c2f1e-8b3d-4e6f-a1c2-5d7e9f0b3a6c"
DOMAIN = "contoso.onmicrosoft.com"
NS = uuid.UUID("0f5c7c1e-2a43-4b8e-9a2f-1d3c5e7f9a0b")

MAIN_APP = "6731de76-14a6-49ae-97bc-6eba6914391e"
LIMITED_APP = "0b8e2d4f-6a1c-4e3b-9d5f-7c2a8e4b1d6f"
PUBLIC_APP = "9d3f5b7e-2c4a-4f6e-8b1d-3e5c7a9f2b4d"

ADELE_ID = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
LYNNE_ID = "e2a9f0c4-3b1d-4c8e-9f6a-2d5b7e1c0a93"

SEED = 20240917
rng = random.Random(SEED)


def oid(kind, key):
    """A stable id that looks like Entra's random (version 4) object ids."""
    return str(uuid.UUID(bytes=uuid.uuid5(NS, kind + ":" + key).bytes, version=4))


def stamp(year, month, day, hour=9, minute=0, second=0):
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (year, month, day, hour, minute, second)


def rand_stamp(year_from=2019, year_to=2024):
    return stamp(rng.randint(year_from, year_to), rng.randint(1, 12), rng.randint(1, 28),
                 rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59))


def sid(object_id):
    """Entra's securityIdentifier: S-1-12-1- and the object id as four uint32s."""
    raw = uuid.UUID(object_id).bytes_le
    parts = [int.from_bytes(raw[i:i + 4], "little") for i in range(0, 16, 4)]
    return "S-1-12-1-" + "-".join(str(p) for p in parts)


# --------------------------------------------------------------------------
# Users
# --------------------------------------------------------------------------

OFFICES = {
    "Bellevue": ("WA", "98004", "205 108th Ave. NE, Suite 400", "United States", "US"),
    "San Diego": ("CA", "92121", "9256 Towne Center Dr., Suite 400", "United States", "US"),
    "Waukesha": ("WI", "53188", "20255 Watertower Blvd., Suite 150", "United States", "US"),
    "Birmingham": ("AL", "35243", "2 Perimeter Park S., Suite 100", "United States", "US"),
    "Louisville": ("KY", "40223", "12910 Shelbyville Road, Suite 205", "United States", "US"),
    "Bloomington": ("IN", "47401", "2611 E. 3rd St.", "United States", "US"),
    "Tulsa": ("OK", "74133", "7633 E. 63rd Place, Suite 300", "United States", "US"),
    "Pittsburgh": ("PA", "15212", "1 Allegheny Square East, Suite 200", "United States", "US"),
    "Seattle": ("WA", "98101", "1800 9th Ave., Suite 1500", "United States", "US"),
    "Cairo": (None, "11511", "Smart Village, Km 28 Cairo-Alex Desert Road", "Egypt", "EG"),
    "Dublin": (None, "D18 P521", "One Microsoft Place, South County Business Park", "Ireland", "IE"),
    "Munich": ("BY", "80807", "Walter-Gropius-Strasse 5", "Germany", "DE"),
    "Madrid": (None, "28108", "Paseo del Club Deportivo 1, Centro Empresarial La Finca", "Spain", "ES"),
    "Paris": (None, "92130", "39 Quai du Président Roosevelt", "France", "FR"),
    "Tokyo": (None, "108-0075", "2-16-3 Konan, Minato-ku", "Japan", "JP"),
}

# (local part, given, surname, display, job, department, office, city, phone, mobile, language)
PEOPLE = [
    ("adele.vance", "Adele", "Vance", "Adele Vance", "Retail Manager", "Retail", "18/2111",
     "Bellevue", "+1 425 555 0109", "+1 425 555 0109", "en-US"),
    ("alex.wilber", "Alex", "Wilber", "Alex Wilber", "Marketing Assistant", "Marketing", "131/1104",
     "San Diego", "+1 858 555 0110", None, "en-US"),
    ("allan.deyoung", "Allan", "Deyoung", "Allan Deyoung", "IT Admin", "IT", "131/1104",
     "Waukesha", "+1 262 555 0106", "+1 262 555 0199", "en-US"),
    ("christie.cline", "Christie", "Cline", "Christie Cline", "Buyer", "Retail", "131/2103",
     "San Diego", "+1 858 555 0111", None, "en-US"),
    ("debra.berger", "Debra", "Berger", "Debra Berger", "Administrative Assistant",
     "Executive Management", "18/2107", "Bellevue", "+1 425 555 0102", None, "en-US"),
    ("diego.siciliani", "Diego", "Siciliani", "Diego Siciliani", "HR Manager", "HR", "14/1108",
     "Birmingham", "+1 205 555 0108", None, "en-US"),
    ("emily.braun", "Emily", "Braun", "Emily Braun", "Budget Analyst", "Finance", "97/2302",
     "Louisville", "+1 502 555 0102", None, "en-US"),
    ("enrico.cattaneo", "Enrico", "Cattaneo", "Enrico Cattaneo", "Attorney", "Legal", "14/1102",
     "Birmingham", "+1 205 555 0103", None, "en-US"),
    ("grady.archie", "Grady", "Archie", "Grady Archie", "Designer", "R&D", "19/2109",
     "Bloomington", "+1 309 555 0104", None, "en-US"),
    ("henrietta.mueller", "Henrietta", "Mueller", "Henrietta Mueller", "Developer", "R&D", "18/1106",
     "Bellevue", "+1 425 555 0104", None, "en-US"),
    ("irvin.sayers", "Irvin", "Sayers", "Irvin Sayers", "Director", "R&D", "20/1101",
     "Bloomington", "+1 309 555 0108", None, "en-US"),
    ("isaiah.langer", "Isaiah", "Langer", "Isaiah Langer", "Sales Rep", "Sales", "20/1101",
     "Tulsa", "+1 918 555 0101", None, "en-US"),
    ("johanna.lorenz", "Johanna", "Lorenz", "Johanna Lorenz", "Senior Engineer", "Engineering",
     "23/2102", "Louisville", "+1 502 555 0110", None, "en-US"),
    ("joni.sherman", "Joni", "Sherman", "Joni Sherman", "Paralegal", "Legal", "20/1109",
     "Birmingham", "+1 205 555 0107", None, "en-US"),
    ("lee.gu", "Lee", "Gu", "Lee Gu", "Director", "Manufacturing", "23/3101",
     "Seattle", "+1 206 555 0105", None, "en-US"),
    ("lidia.holloway", "Lidia", "Holloway", "Lidia Holloway", "Product Manager", "Engineering",
     "20/2107", "Tulsa", "+1 918 555 0107", None, "en-US"),
    ("lynne.robbins", "Lynne", "Robbins", "Lynne Robbins", "Planner", "Retail", "20/1104",
     "Tulsa", "+1 918 555 0104", None, "en-US"),
    ("megan.bowen", "Megan", "Bowen", "Megan Bowen", "Marketing Manager", "Marketing", "12/1110",
     "Pittsburgh", "+1 412 555 0109", "+1 412 555 0188", "en-US"),
    ("miriam.graham", "Miriam", "Graham", "Miriam Graham", "Director", "Sales & Marketing",
     "131/2103", "San Diego", "+1 858 555 0103", None, "en-US"),
    ("nestor.wilke", "Nestor", "Wilke", "Nestor Wilke", "Director", "Operations", "36/2121",
     "Seattle", "+1 206 555 0105", None, "en-US"),
    ("patti.fernandez", "Patti", "Fernandez", "Patti Fernandez", "President",
     "Executive Management", "15/1102", "Louisville", "+1 502 555 0144", "+1 502 555 0145", "en-US"),
    ("pradeep.gupta", "Pradeep", "Gupta", "Pradeep Gupta", "Accountant II", "Finance", "98/2202",
     "Cairo", "+20 255501070", None, "en-US"),
    ("patrick.o'brien", "Patrick", "O'Brien", "Patrick O'Brien", "Field Technician", "Operations",
     "D1/0042", "Dublin", "+353 1 555 0142", "+353 87 555 0142", "en-IE"),
    ("zoe.mueller", "Zoë", "Müller", "Zoë Müller", "Sales Engineer", "Sales", "MUC/3.14",
     "Munich", "+49 89 5550 1234", None, "de-DE"),
    ("jose.alvarez", "José", "Álvarez", "José Álvarez", "Account Manager", "Sales", "MAD/2.07",
     "Madrid", "+34 91 555 0107", None, "es-ES"),
    ("elodie.fournier", "Élodie", "Fournier", "Élodie Fournier", "Data Protection Officer", "Legal",
     "PAR/5.02", "Paris", "+33 1 55 55 01 02", None, "fr-FR"),
    ("yuki.tanaka", "由紀", "田中", "田中 由紀", "Supply Chain Analyst", "Manufacturing", "TYO/12F",
     "Tokyo", "+81 3 5555 0112", None, "ja-JP"),
    ("ryan.brooks", "Ryan", "Brooks", "Ryan Brooks", "Store Associate", "Retail", "18/1010",
     "Bellevue", "+1 425 555 0177", None, "en-US"),
]

FIXED_IDS = {"adele.vance": ADELE_ID, "lynne.robbins": LYNNE_ID}
DISABLED = {"ryan.brooks"}
SYNCED = {"nestor.wilke"}

LICENSES = [{"disabledPlans": [], "skuId": "c7df2760-2c81-4ef7-b578-5b5392b571df"}]  # E5
PLANS = [
    {"assignedDateTime": "2023-01-10T17:43:02Z", "capabilityStatus": "Enabled",
     "service": "exchange", "servicePlanId": "efb87545-963c-4e0d-99df-69c6916d9eb0"},
    {"assignedDateTime": "2023-01-10T17:43:02Z", "capabilityStatus": "Enabled",
     "service": "MicrosoftCommunicationsOnline", "servicePlanId": "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"},
    {"assignedDateTime": "2023-01-10T17:43:02Z", "capabilityStatus": "Enabled",
     "service": "SharePoint", "servicePlanId": "5dbe027f-2339-4123-9542-606e4d348a72"},
    {"assignedDateTime": "2023-01-10T17:43:02Z", "capabilityStatus": "Enabled",
     "service": "TeamspaceAPI", "servicePlanId": "57ff2da0-773e-42df-b2af-ffb7a2317929"},
]


def extension_attributes(values=None):
    attrs = {"extensionAttribute%d" % i: None for i in range(1, 16)}
    attrs.update(values or {})
    return attrs


def base_user(uid, upn):
    """Every property the emulator knows, with Graph's empty values."""
    return {
        "id": uid, "businessPhones": [], "displayName": None, "givenName": None, "jobTitle": None,
        "mail": None, "mobilePhone": None, "officeLocation": None, "preferredLanguage": None,
        "surname": None, "userPrincipalName": upn,
        "aboutMe": None, "accountEnabled": True, "ageGroup": None, "assignedLicenses": [],
        "assignedPlans": [], "birthday": "0001-01-01T08:00:00Z", "city": None, "companyName": None,
        "consentProvidedForMinor": None, "country": None, "createdDateTime": None,
        "creationType": None, "deletedDateTime": None, "department": None, "employeeHireDate": None,
        "employeeLeaveDateTime": None, "employeeId": None,
        "employeeOrgData": None, "employeeType": None, "externalUserState": None,
        "externalUserStateChangeDateTime": None, "faxNumber": None, "hireDate": "0001-01-01T08:00:00Z",
        "identities": [], "imAddresses": [], "interests": [], "isManagementRestricted": None,
        "isResourceAccount": None, "lastPasswordChangeDateTime": None,
        "legalAgeGroupClassification": None, "licenseAssignmentStates": [], "mailNickname": None,
        "mySite": None, "onPremisesDistinguishedName": None, "onPremisesDomainName": None,
        "onPremisesExtensionAttributes": extension_attributes(), "onPremisesImmutableId": None,
        "onPremisesLastSyncDateTime": None, "onPremisesProvisioningErrors": [],
        "onPremisesSamAccountName": None, "onPremisesSecurityIdentifier": None,
        "onPremisesSyncEnabled": None, "onPremisesUserPrincipalName": None, "otherMails": [],
        "passwordPolicies": None, "passwordProfile": None, "pastProjects": [], "postalCode": None,
        "preferredDataLocation": None, "preferredName": None, "provisionedPlans": [],
        "proxyAddresses": [], "responsibilities": [],
        "schools": [], "securityIdentifier": sid(uid), "serviceProvisioningErrors": [],
        "showInAddressList": None, "signInSessionsValidFromDateTime": None, "skills": [],
        "state": None, "streetAddress": None, "usageLocation": None, "userType": "Member",
        "authorizationInfo": {"certificateUserIds": []}, "customSecurityAttributes": None,
        "deviceEnrollmentLimit": 5, "identityParentId": None, "mailboxSettings": None,
        "print": None, "signInActivity": None,
    }


# mailboxSettings.timeZone by country (Windows zone names, as Exchange stores them).
OFFICE_ZONES = {"United States": "Pacific Standard Time", "Egypt": "Egypt Standard Time",
                "Ireland": "GMT Standard Time", "Germany": "W. Europe Standard Time",
                "Spain": "Romance Standard Time", "France": "Romance Standard Time",
                "Japan": "Tokyo Standard Time"}


def sign_in_activity(upn, disabled):
    """signInActivity (read with AuditLog.Read.All): last sign-ins and their request ids."""
    # From the UPN, not the shared random stream (which would move every later value).
    h = int(hashlib.sha1(upn.encode()).hexdigest(), 16)
    last = stamp(2024, 9, 1 + h % 16, h % 24, h // 24 % 60, h // 1440 % 60) \
        if not disabled else "2024-06-28T16:02:11Z"
    return {"lastSignInDateTime": last, "lastSignInRequestId": oid("signin", upn),
            "lastNonInteractiveSignInDateTime": last,
            "lastNonInteractiveSignInRequestId": oid("signin-ni", upn),
            "lastSuccessfulSignInDateTime": last,
            "lastSuccessfulSignInRequestId": oid("signin", upn)}


def mailbox_settings(language, zone):
    return {
        "archiveFolder": None,
        "automaticRepliesSetting": {
            "status": "disabled", "externalAudience": "all", "internalReplyMessage": "",
            "externalReplyMessage": "",
            "scheduledStartDateTime": {"dateTime": "2024-09-16T00:00:00.0000000", "timeZone": "UTC"},
            "scheduledEndDateTime": {"dateTime": "2024-09-17T00:00:00.0000000", "timeZone": "UTC"}},
        "dateFormat": "M/d/yyyy", "timeFormat": "h:mm tt", "timeZone": zone,
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "language": {"locale": language or "en-US", "displayName": None},
        "userPurpose": "user",
        "workingHours": {"daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
                         "startTime": "08:00:00.0000000", "endTime": "17:00:00.0000000",
                         "timeZone": {"name": zone}},
    }


def make_member(index, person):
    (local, given, surname, display, job, dept, office, city, phone, mobile, lang) = person
    upn = local + "@" + DOMAIN
    uid = FIXED_IDS.get(local) or oid("user", upn)
    state, postal, street, country, usage = OFFICES[city]
    created = rand_stamp(2019, 2023)
    user = base_user(uid, upn)
    user.update({
        "businessPhones": [phone], "displayName": display, "givenName": given, "jobTitle": job,
        "mail": upn, "mobilePhone": mobile, "officeLocation": office, "preferredLanguage": lang,
        "surname": surname, "accountEnabled": local not in DISABLED, "city": city,
        "companyName": "Contoso Ltd.", "country": country, "createdDateTime": created,
        "department": dept, "employeeHireDate": created[:10] + "T00:00:00Z",
        "employeeId": "%06d" % (100100 + 37 * index), "employeeType": "Employee",
        "employeeOrgData": {"division": dept, "costCenter": "CC-%04d" % (1000 + 11 * index)},
        "identities": [{"signInType": "userPrincipalName", "issuer": DOMAIN, "issuerAssignedId": upn}],
        "imAddresses": ["sip:" + upn], "interests": [], "lastPasswordChangeDateTime": rand_stamp(2023, 2024),
        "mailNickname": local.replace("'", ""), "otherMails": [],
        "postalCode": postal, "proxyAddresses": ["SMTP:" + upn, "smtp:" + local.replace("'", "") + "@contoso.com"],
        "signInSessionsValidFromDateTime": created,
        "state": state, "streetAddress": street, "usageLocation": usage,
        "assignedLicenses": LICENSES, "assignedPlans": PLANS,
    })
    user["signInActivity"] = sign_in_activity(upn, disabled=local in DISABLED)
    user["mailboxSettings"] = mailbox_settings(lang, OFFICE_ZONES.get(country, "UTC"))
    if local in DISABLED:
        user["employeeLeaveDateTime"] = "2024-06-30T00:00:00Z"
        user["jobTitle"] = "Store Associate (left)"
    if local in SYNCED:
        user.update({
            "onPremisesSyncEnabled": True, "onPremisesSamAccountName": "nestorw",
            "onPremisesDomainName": "corp.contoso.com",
            "onPremisesUserPrincipalName": "nestorw@corp.contoso.com",
            "onPremisesDistinguishedName": "CN=Nestor Wilke,OU=Operations,DC=corp,DC=contoso,DC=com",
            "onPremisesImmutableId": "kq3bQ1x2sUu9bq8cO0Hk7w==",
            "onPremisesSecurityIdentifier": "S-1-5-21-3623811015-3361044348-30300820-1107",
            "onPremisesLastSyncDateTime": "2024-09-16T23:41:07Z",
            "onPremisesExtensionAttributes": extension_attributes({"extensionAttribute1": "OPS-SEA"}),
        })
    if local == "megan.bowen":
        user["otherMails"] = ["megan.bowen@fabrikam.com"]
        user["aboutMe"] = "Marketing lead for the Mark 8 launch."
        user["skills"] = ["Brand strategy", "Market research"]
    if local == "adele.vance":
        user["otherMails"] = ["adele.vance@outlook.com"]
        user["interests"] = ["Retail analytics", "Cycling"]
    return user


def make_guest():
    upn = "john.smith_fabrikam.com#EXT#@" + DOMAIN
    uid = oid("user", upn)
    user = base_user(uid, upn)
    user.update({
        "displayName": "John Smith (Fabrikam)", "givenName": "John", "surname": "Smith",
        "mail": "john.smith@fabrikam.com", "companyName": "Fabrikam, Inc.", "country": "United States",
        "city": "Redmond", "state": "WA", "createdDateTime": "2023-05-02T14:21:09Z",
        "creationType": "Invitation", "externalUserState": "Accepted",
        "externalUserStateChangeDateTime": "2023-05-02T14:25:51Z",
        "identities": [{"signInType": "userPrincipalName", "issuer": "fabrikam.com",
                        "issuerAssignedId": "john.smith@fabrikam.com"}],
        "mailNickname": "john.smith_fabrikam.com#EXT#", "otherMails": ["john.smith@fabrikam.com"],
        "proxyAddresses": ["SMTP:john.smith@fabrikam.com"], "userType": "Guest",
        # B2B guests have no usage location by default: assignLicense refuses them.
        "signInSessionsValidFromDateTime": "2023-05-02T14:21:09Z", "usageLocation": None,
    })
    return user


def make_service_account():
    upn = "$svc-backup@" + DOMAIN
    uid = oid("user", upn)
    user = base_user(uid, upn)
    user.update({
        "displayName": "Backup Service", "mail": None, "createdDateTime": "2022-11-08T07:30:00Z",
        "department": "IT", "companyName": "Contoso Ltd.", "mailNickname": "svc-backup",
        "identities": [{"signInType": "userPrincipalName", "issuer": DOMAIN, "issuerAssignedId": upn}],
        "passwordPolicies": "DisablePasswordExpiration", "usageLocation": "US",
        "employeeType": "Service", "lastPasswordChangeDateTime": "2024-02-01T07:30:00Z",
        "signInSessionsValidFromDateTime": "2022-11-08T07:30:00Z",
    })
    return user


# --------------------------------------------------------------------------
# Groups, roles, administrative units
# --------------------------------------------------------------------------

def base_group(gid, name, kind, description, created):
    nick = "".join(c for c in name if c.isalnum())[:60] or "group"
    unified = kind in ("m365", "team")
    mail_enabled = kind in ("m365", "team", "mailsec", "distribution")
    group = {
        "id": gid, "deletedDateTime": None, "classification": None, "createdDateTime": created,
        "description": description,
        "displayName": name, "expirationDateTime": None,
        "groupTypes": ["Unified"] if unified else (["DynamicMembership"] if kind == "dynamic" else []),
        "isAssignableToRole": True if kind == "roleassignable" else None,
        "mail": (nick + "@" + DOMAIN) if mail_enabled else None, "mailEnabled": mail_enabled,
        "mailNickname": nick, "membershipRule": None, "membershipRuleProcessingState": None,
        "onPremisesDomainName": None, "onPremisesLastSyncDateTime": None,
        "onPremisesNetBiosName": None, "onPremisesSamAccountName": None,
        "onPremisesSecurityIdentifier": None, "onPremisesSyncEnabled": None,
        "preferredDataLocation": None, "preferredLanguage": None,
        "proxyAddresses": (["SMTP:" + nick + "@" + DOMAIN] if mail_enabled else []),
        "renewedDateTime": created, "resourceBehaviorOptions": [],
        "resourceProvisioningOptions": ["Team"] if kind == "team" else [],
        "securityEnabled": kind in ("security", "mailsec", "dynamic", "roleassignable"),
        "securityIdentifier": sid(gid), "theme": None,
        "visibility": ("Private" if kind == "team" else "Public") if unified else None,
        "onPremisesProvisioningErrors": [], "serviceProvisioningErrors": [],
        # Returned only on $select (Exchange-backed for Microsoft 365 groups).
        "accessType": None, "allowExternalSenders": None, "assignedLabels": [],
        "assignedLicenses": [], "autoSubscribeNewMembers": None,
        "hasMembersWithLicenseErrors": False, "hideFromAddressLists": None,
        "hideFromOutlookClients": None, "infoCatalogs": [], "isArchived": None,
        "isFavorite": None, "isManagementRestricted": None, "isSubscribedByMail": None,
        "licenseProcessingState": None,
        "onPremisesExtensionAttributes": extension_attributes(), "organizationId": TENANT_ID,
        "uniqueName": None, "unseenConversationsCount": None, "unseenCount": None,
        "unseenMessagesCount": None, "welcomeMessageEnabled": None,
        "members": [],
    }
    if kind == "dynamic":
        group["membershipRule"] = 'user.department -eq "Sales"'
        group["membershipRuleProcessingState"] = "On"
    return group


NAMED_GROUPS = [
    ("All Company", "m365", "This is the default group for everyone in the network"),
    ("Sales and Marketing", "m365", "Sales and Marketing"),
    ("Retail", "team", "Retail team"),
    ("U.S. Sales", "m365", "U.S. Sales"),
    ("Mark 8 Project Team", "team", "Welcome to the team that we've assembled to create the Mark 8."),
    ("Digital Initiative Public Relations", "m365", "Marketing campaigns for the digital initiative"),
    ("Leadership", "team", "Leadership team"),
    ("Ask HR", "m365", "Ask HR questions here"),
    ("Legal Notices", "distribution", "Distribution list for legal notices"),
    ("Helpdesk Escalation", "mailsec", "Mail-enabled security group for helpdesk escalations"),
    ("SG-Finance-Readers", "security", "Read access to finance shares"),
    ("SG-VPN-Users", "security", "Users allowed to connect through the corporate VPN"),
    ("SG-Privileged-Admins", "roleassignable", "Role-assignable group for privileged administrators"),
    ("Dynamic - Sales Department", "dynamic", "Everyone whose department is Sales"),
    ("Contoso-tier Query Notification", "security", "Notifications for tier queries"),
    ("Tier 1 Support", "security", "First-line support engineers"),
    ("Tier 2 Support", "mailsec", "Second-line support engineers"),
    ("Engineering", "m365", "Engineering department"),
    ("Operations", "m365", "Operations department"),
    ("Finance", "m365", "Finance department"),
    ("Paralegals", "distribution", "All paralegals"),
    ("O'Brien Field Crew", "security", "Field technicians working with Patrick O'Brien"),
    ("Zürich Büro", "m365", "Contoso Zürich office (Ümlaut test group)"),
]

CODENAMES = [
    "Apollo", "Borealis", "Cascade", "Dynamo", "Ember", "Falcon", "Glacier", "Horizon", "Ion",
    "Jetstream", "Kestrel", "Lumen", "Meridian", "Nimbus", "Orion", "Pinnacle", "Quasar",
    "Radiant", "Summit", "Tundra", "Umbra", "Vertex", "Willow",
]
WORKSTREAMS = ["Design", "Build", "Test", "Launch", "Finance", "Legal", "Marketing", "Support",
               "Readiness", "Analytics"]

ROLES = [
    ("Global Administrator", "62e90394-69f5-4237-9190-012177145e10",
     "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities."),
    ("User Administrator", "fe930be7-5e62-47db-91af-98c3a49a38b1",
     "Can manage all aspects of users and groups, including resetting passwords for limited admins."),
    ("Security Administrator", "194ae4cb-b126-40b2-bd5b-6091b380977d",
     "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365."),
    ("Global Reader", "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
     "Can read everything that a Global Administrator can, but not update anything."),
    ("Helpdesk Administrator", "729827e3-9c14-49f7-bb1b-9608f156bbb8",
     "Can reset passwords for non-administrators and Helpdesk Administrators."),
    ("Exchange Administrator", "29232cdf-9323-42fd-ade2-1d097af3e4de",
     "Can manage all aspects of the Exchange product."),
    ("SharePoint Administrator", "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
     "Can manage all aspects of the SharePoint service."),
    ("Teams Administrator", "69091246-20e8-4a56-aa4d-066075b2a7a8",
     "Can manage the Microsoft Teams service."),
    ("Application Administrator", "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
     "Can create and manage all aspects of app registrations and enterprise apps."),
    ("Groups Administrator", "fdd7a751-b60b-444a-984c-02652fe8fa1c",
     "Members of this role can create/manage groups, create/manage groups settings like naming and "
     "expiration policies, and view groups activity and audit reports."),
    ("Security Reader", "5d6b6bb7-de71-4623-b4af-96380a352509",
     "Can read security information and reports in Microsoft Entra ID and Office 365."),
    ("Billing Administrator", "b0f54661-2d74-4c50-afa3-1ec803f12efe",
     "Can perform common billing related tasks like updating payment information."),
    ("Privileged Role Administrator", "e8611ab8-c189-46e8-94e1-60213ab1f814",
     "Can manage role assignments in Microsoft Entra ID, and all aspects of Privileged Identity Management."),
    ("Authentication Administrator", "c4e39bd9-1100-46d3-8c65-fb160da0071f",
     "Can access to view, set and reset authentication method information for any non-admin user."),
    ("Compliance Administrator", "17315797-102d-40b4-93e0-432062caca18",
     "Can read and manage compliance configuration and reports in Microsoft Entra ID and Microsoft 365."),
    ("Directory Readers", "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
     "Can read basic directory information. Commonly used to grant directory read access to applications and guests."),
]

ROLE_HOLDERS = {
    "Global Administrator": ["megan.bowen", "allan.deyoung", "patti.fernandez", "lynne.robbins"],
    "User Administrator": ["adele.vance", "allan.deyoung", "diego.siciliani", "lynne.robbins"],
    "Security Administrator": ["megan.bowen", "nestor.wilke", "lynne.robbins"],
    "Global Reader": ["adele.vance", "irvin.sayers", "lynne.robbins"],
    "Helpdesk Administrator": ["adele.vance", "patrick.o'brien", "lynne.robbins"],
    "Exchange Administrator": ["allan.deyoung", "lynne.robbins"],
    "SharePoint Administrator": ["allan.deyoung", "lynne.robbins"],
    "Teams Administrator": ["allan.deyoung", "lee.gu", "lynne.robbins"],
    "Application Administrator": ["henrietta.mueller"],
    "Groups Administrator": ["diego.siciliani", "lynne.robbins"],
    "Security Reader": ["elodie.fournier", "johanna.lorenz"],
    "Billing Administrator": ["emily.braun", "pradeep.gupta"],
    "Privileged Role Administrator": ["patti.fernandez"],
    "Authentication Administrator": ["patrick.o'brien"],
    "Compliance Administrator": ["elodie.fournier", "enrico.cattaneo"],
    "Directory Readers": ["john.smith_fabrikam.com#EXT#", "$svc-backup"],
}

ADMIN_UNITS = [
    ("Seattle Office", "Users based in the Seattle and Bellevue offices", None, None, None, None),
    ("Tulsa Office", "Users based in the Tulsa office", None, None, None, None),
    ("EMEA", "Users based in Europe, the Middle East and Africa", "Dynamic",
     '(user.usageLocation -in ["IE","DE","ES","FR","EG"])', "On", None),
    ("Sales Division", "Sales and marketing staff", None, None, None, None),
    ("Executive Team", "Executives; membership managed by privileged admins only", None, None, None,
     "HiddenMembership"),
    ("Contractors", "External and contract staff", None, None, None, None),
]


def build():
    """The tenant, as the JSON document server.py --fixture reads."""
    rng.seed(SEED)
    users = [make_member(i, p) for i, p in enumerate(PEOPLE)]
    users.insert(22, make_guest())
    users.insert(23, make_service_account())
    by_local = {u["userPrincipalName"].split("@")[0]: u for u in users}
    all_ids = [u["id"] for u in users]
    lynne = LYNNE_ID

    groups = []
    for name, kind, desc in NAMED_GROUPS:
        groups.append(base_group(oid("group", name), name, kind, desc, rand_stamp()))
    for code in CODENAMES:
        for stream in WORKSTREAMS:
            name = "Project %s - %s" % (code, stream)
            kind = ["security", "m365", "mailsec", "distribution", "team"][rng.randint(0, 4)]
            groups.append(base_group(oid("group", name), name, kind,
                                     "%s workstream of project %s" % (stream, code), rand_stamp()))

    def add(group, uid):
        if uid not in group["members"]:
            group["members"].append(uid)

    named = {g["displayName"]: g for g in groups[:len(NAMED_GROUPS)]}
    for u in users:
        if u["userType"] == "Member" and u["accountEnabled"] and u["mail"]:
            add(named["All Company"], u["id"])
        dept = u["department"] or ""
        if dept in ("Sales", "Marketing", "Sales & Marketing"):
            add(named["Sales and Marketing"], u["id"])
        if dept == "Sales":
            add(named["Dynamic - Sales Department"], u["id"])
        if dept == "Retail":
            add(named["Retail"], u["id"])
        if dept in ("Engineering", "R&D"):
            add(named["Engineering"], u["id"])
        if dept == "Operations":
            add(named["Operations"], u["id"])
        if dept == "Finance":
            add(named["Finance"], u["id"])
            add(named["SG-Finance-Readers"], u["id"])
        if u["jobTitle"] in ("Director", "President"):
            add(named["Leadership"], u["id"])
        if u["country"] == "United States" and dept.startswith("Sales"):
            add(named["U.S. Sales"], u["id"])
    for local in ("adele.vance", "megan.bowen", "alex.wilber", "lidia.holloway", "grady.archie",
                  "lynne.robbins", "johanna.lorenz"):
        add(named["Mark 8 Project Team"], by_local[local]["id"])
    for local in ("megan.bowen", "alex.wilber", "lynne.robbins", "miriam.graham"):
        add(named["Digital Initiative Public Relations"], by_local[local]["id"])
    for local in ("joni.sherman", "lynne.robbins"):
        add(named["Paralegals"], by_local[local]["id"])
    for local in ("enrico.cattaneo", "joni.sherman", "elodie.fournier", "adele.vance"):
        add(named["Legal Notices"], by_local[local]["id"])
    for local in ("allan.deyoung", "adele.vance", "patrick.o'brien", "lynne.robbins"):
        add(named["Helpdesk Escalation"], by_local[local]["id"])
        add(named["Tier 1 Support"], by_local[local]["id"])
    for local in ("allan.deyoung", "megan.bowen", "patti.fernandez"):
        add(named["SG-Privileged-Admins"], by_local[local]["id"])
    for local in ("patrick.o'brien", "nestor.wilke", "lynne.robbins"):
        add(named["O'Brien Field Crew"], by_local[local]["id"])
    for local in ("zoe.mueller", "lynne.robbins", "adele.vance"):
        add(named["Zürich Büro"], by_local[local]["id"])
    for local in ("allan.deyoung", "lynne.robbins", "adele.vance"):
        add(named["Contoso-tier Query Notification"], by_local[local]["id"])
        add(named["Tier 2 Support"], by_local[local]["id"])
    for uid in all_ids:
        if rng.random() < 0.6:
            add(named["SG-VPN-Users"], uid)
        if rng.random() < 0.3:
            add(named["Ask HR"], uid)

    # Lynne is in every project group: with the named ones, the roles and the
    # AUs she holds more than 250 direct memberships (3 pages at 100).
    for g in groups[len(NAMED_GROUPS):]:
        add(g, lynne)
        for uid in rng.sample(all_ids, rng.randint(1, 4)):
            add(g, uid)

    roles = []
    for name, template, desc in ROLES:
        rid = oid("role", template)
        roles.append({"id": rid, "deletedDateTime": None, "description": desc, "displayName": name,
                      "roleTemplateId": template,
                      "members": [by_local[l]["id"] for l in ROLE_HOLDERS.get(name, [])]})

    units = []
    for name, desc, mtype, rule, state, visibility in ADMIN_UNITS:
        units.append({"id": oid("au", name), "deletedDateTime": None, "displayName": name,
                      "description": desc, "isMemberManagementRestricted": name == "Executive Team",
                      "membershipRule": rule, "membershipRuleProcessingState": state,
                      "membershipType": mtype, "visibility": visibility, "members": []})
    au = {u["displayName"]: u for u in units}
    for u in users:
        if u["city"] in ("Seattle", "Bellevue"):
            au["Seattle Office"]["members"].append(u["id"])
        if u["city"] == "Tulsa":
            au["Tulsa Office"]["members"].append(u["id"])
        if u["usageLocation"] in ("IE", "DE", "ES", "FR", "EG"):
            au["EMEA"]["members"].append(u["id"])
        if (u["department"] or "").startswith(("Sales", "Marketing")):
            au["Sales Division"]["members"].append(u["id"])
        if u["jobTitle"] in ("President", "Director"):
            au["Executive Team"]["members"].append(u["id"])
        if u["userType"] == "Guest":
            au["Contractors"]["members"].append(u["id"])
    for name in ("Seattle Office", "Sales Division", "Executive Team", "Contractors"):
        if lynne not in au[name]["members"]:
            au[name]["members"].append(lynne)

    # Sign-in secrets live apart from the user objects so they can never leak
    # into a Graph response.
    credentials = {}
    for u in users:
        local = u["userPrincipalName"].split("@")[0]
        if u["userType"] == "Guest":
            continue  # guests sign in at their home tenant
        credentials[u["id"]] = {"password": "Contoso!Passw0rd", "mfaRequired": False}
    credentials[ADELE_ID] = {"password": "Adele P@ss&w0rd=1", "mfaRequired": False}
    credentials[by_local["megan.bowen"]["id"]] = {"password": "Megan P@ss&w0rd=2", "mfaRequired": True}
    credentials[by_local["$svc-backup"]["id"]] = {"password": "Svc-B@ckup#2024!", "mfaRequired": False}

    presence = make_presence(users)

    graph_delegated = ["User.Read", "User.Read.All", "User.ReadWrite.All", "Presence.Read.All",
                       "GroupMember.Read.All", "Directory.Read.All", "SecurityAlert.Read.All",
                       "SecurityAlert.ReadWrite.All"]

    # Power BI Pro: Megan holds the only seat, so assigning it again finds none free.
    by_local["megan.bowen"]["assignedLicenses"] = LICENSES + [
        {"disabledPlans": [], "skuId": POWER_BI_PRO}]
    by_local["megan.bowen"]["assignedPlans"] = PLANS + [
        {"assignedDateTime": "2024-02-12T10:05:31Z", "capabilityStatus": "Enabled",
         "service": "PowerBI",
         "servicePlanId": "70d33638-9c74-4d01-bfd3-562de28bd4ba"}]
    tenant = {
        "tenant": {"id": TENANT_ID, "domain": DOMAIN, "displayName": "Contoso"},
        # What the server announces on its ready line.
        "defaults": {"clientId": MAIN_APP, "limitedClientId": LIMITED_APP,
                     "publicClientId": PUBLIC_APP, "username": "adele.vance@" + DOMAIN,
                     "mfaUsername": "megan.bowen@" + DOMAIN,
                     "refreshToken": "seed-refresh-token-adele-0001"},
        "applications": [
            {"appId": MAIN_APP, "displayName": "lua-msgraph test app", "publicClient": False,
             "secrets": ["emu+Secret/&=%~K9v.Q_x"],
             "appRoles": ["User.Read.All", "User.ReadWrite.All", "Presence.Read.All",
                          "GroupMember.Read.All", "Directory.Read.All",
                          "SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"],
             "delegatedPermissions": graph_delegated},
            {"appId": LIMITED_APP, "displayName": "lua-msgraph limited app", "publicClient": False,
             "secrets": ["limited-secret-1"], "appRoles": ["User.Read.All"],
             "delegatedPermissions": ["User.Read"]},
            {"appId": PUBLIC_APP, "displayName": "lua-msgraph public client", "publicClient": True,
             "signInAudience": "AzureADMultipleOrgs", "secrets": [], "appRoles": [],
             "delegatedPermissions": ["User.Read", "User.Read.All", "Presence.Read.All",
                                      "GroupMember.Read.All"]},
        ],
        "credentials": credentials,
        "refreshTokens": [
            {"token": "seed-refresh-token-adele-0001", "clientId": MAIN_APP, "userId": ADELE_ID,
             "scope": "https://graph.microsoft.com/.default offline_access",
             "issuedAt": "2024-09-01T08:00:00Z"},
        ],
        "users": users,
        "groups": groups,
        "directoryRoles": roles,
        "administrativeUnits": units,
        "presence": presence,
        "subscribedSkus": make_skus(),
        "servicePlanServices": SERVICE_OF_PLAN,
        "securityAlerts": make_alerts(by_local),
    }
    return tenant


def main(out):
    tenant = build()
    text = json.dumps(tenant, indent=1, ensure_ascii=False) + "\n"
    if out == "-":
        sys.stdout.write(text)
        return
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    lynne = LYNNE_ID
    collections = [tenant[k] for k in ("groups", "directoryRoles", "administrativeUnits")]
    member_of = sum(1 for coll in collections for o in coll if lynne in o["members"])
    print("wrote %s: %d users, %d groups, %d roles, %d units; lynne.robbins is in %d objects"
          % (out, len(tenant["users"]), *(len(c) for c in collections), member_of), file=sys.stderr)


# --------------------------------------------------------------------------
# Licences: the tenant's subscribed SKUs (ids from Microsoft's "Product names
# and service plan identifiers for licensing" reference)
# --------------------------------------------------------------------------

ENTERPRISEPREMIUM = "c7df2760-2c81-4ef7-b578-5b5392b571df"   # Office 365 E5 (LICENSES above)
ENTERPRISEPACK = "6fd2c87f-b296-42f0-b197-1e91e994b900"      # Office 365 E3
SPE_E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"              # Microsoft 365 E5
POWER_BI_PRO = "f8a1db68-be16-40ed-86d5-cb42ce701560"        # Power BI Pro

# servicePlanName -> (servicePlanId, the `service` an assignedPlan names, appliesTo)
SERVICE_PLANS = {
    "EXCHANGE_S_ENTERPRISE": ("efb87545-963c-4e0d-99df-69c6916d9eb0", "exchange", "User"),
    "MCOSTANDARD": ("0feaeb32-d00e-4d66-bd5a-43b5b83db82c", "MicrosoftCommunicationsOnline", "User"),
    "SHAREPOINTENTERPRISE": ("5dbe027f-2339-4123-9542-606e4d348a72", "SharePoint", "User"),
    "SHAREPOINTWAC": ("e95bec33-7c88-4a70-8e19-b10bd9d0c014", "SharePoint", "User"),
    "TEAMS1": ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TeamspaceAPI", "User"),
    "OFFICESUBSCRIPTION": ("43de0ff5-c92c-492b-9116-175376d08c38", "MicrosoftOffice", "User"),
    "FORMS_PLAN_E3": ("2789c901-c14e-48ab-a76a-be334d9d793a", "OfficeForms", "User"),
    "FORMS_PLAN_E5": ("e212cbc7-0961-4c40-9825-01117710dcb1", "OfficeForms", "User"),
    "PROJECTWORKMANAGEMENT": ("b737dad2-2f6c-4c65-90e3-ca563267e8b9", "ProjectWorkManagement", "User"),
    "SWAY": ("a23b959c-7ce8-4e57-9140-b90eb88a9e97", "Sway", "User"),
    "YAMMER_ENTERPRISE": ("7547a3fe-08ee-4ccb-b430-5077c5041653", "YammerEnterprise", "User"),
    "RMS_S_ENTERPRISE": ("bea4c11e-220a-4e6d-8eb8-8ea15d019f90", "RMSOnline", "User"),
    "MCOMEETADV": ("3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40", "MicrosoftCommunicationsOnline", "User"),
    "MCOEV": ("4828c8ec-dc2e-4779-b502-87ac9ce28ab7", "MicrosoftCommunicationsOnline", "User"),
    "ATP_ENTERPRISE": ("f20fedf3-f3c3-43c3-8267-2bfdd51c0939", "exchange", "User"),
    "THREAT_INTELLIGENCE": ("8e0c0a52-6a6c-4d40-8370-dd62790dcd70", "exchange", "User"),
    "ADALLOM_S_O365": ("8c098270-9dd4-4350-9b30-ba4703f3b36b", "Adallom", "User"),
    "ADALLOM_S_STANDALONE": ("2e2ddb96-6af9-4b1d-a3f0-d6ecfd22edb2", "Adallom", "User"),
    "BI_AZURE_P2": ("70d33638-9c74-4d01-bfd3-562de28bd4ba", "PowerBI", "User"),
    "AAD_PREMIUM": ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AADPremiumService", "User"),
    "AAD_PREMIUM_P2": ("eec0eb4f-6444-4f95-aba0-50c24d67f998", "AADPremiumService", "User"),
    "MFA_PREMIUM": ("8a256a2b-b617-496d-b51b-e76466e88db0", "MultiFactorService", "User"),
    "INTUNE_A": ("c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "SCO", "User"),
    "WINDEFATP": ("871d91ec-ec1a-452b-a83f-bd76c7d770ef", "WindowsDefenderATP", "User"),
    "EXCHANGE_S_FOUNDATION": ("113feb6c-3fe4-4440-bddc-54d774bf0318", "exchange", "Company"),
}
SERVICE_OF_PLAN = {plan_id: service for plan_id, service, _ in SERVICE_PLANS.values()}

# (skuPartNumber, skuId, prepaid enabled units, service plan names)
SKUS = [
    ("ENTERPRISEPREMIUM", ENTERPRISEPREMIUM, 30,
     ["EXCHANGE_S_ENTERPRISE", "MCOSTANDARD", "SHAREPOINTENTERPRISE", "TEAMS1", "OFFICESUBSCRIPTION",
      "SHAREPOINTWAC", "MCOMEETADV", "MCOEV", "ATP_ENTERPRISE", "THREAT_INTELLIGENCE",
      "FORMS_PLAN_E5", "ADALLOM_S_O365", "BI_AZURE_P2", "RMS_S_ENTERPRISE"]),
    ("ENTERPRISEPACK", ENTERPRISEPACK, 25,
     ["EXCHANGE_S_ENTERPRISE", "MCOSTANDARD", "SHAREPOINTENTERPRISE", "SHAREPOINTWAC", "TEAMS1",
      "OFFICESUBSCRIPTION", "FORMS_PLAN_E3", "PROJECTWORKMANAGEMENT", "SWAY", "YAMMER_ENTERPRISE",
      "RMS_S_ENTERPRISE"]),
    ("SPE_E5", SPE_E5, 10,
     ["EXCHANGE_S_ENTERPRISE", "MCOSTANDARD", "SHAREPOINTENTERPRISE", "SHAREPOINTWAC", "TEAMS1",
      "OFFICESUBSCRIPTION", "MCOMEETADV", "MCOEV", "AAD_PREMIUM", "AAD_PREMIUM_P2", "MFA_PREMIUM",
      "INTUNE_A", "WINDEFATP", "ATP_ENTERPRISE", "ADALLOM_S_STANDALONE", "BI_AZURE_P2"]),
    ("POWER_BI_PRO", POWER_BI_PRO, 1, ["EXCHANGE_S_FOUNDATION", "BI_AZURE_P2"]),
]


def make_skus():
    """subscribedSku objects; consumedUnits is computed by the server from the users."""
    skus = []
    for part, sku_id, enabled, plans in SKUS:
        skus.append({
            "accountName": "Contoso", "accountId": TENANT_ID, "appliesTo": "User",
            "capabilityStatus": "Enabled", "consumedUnits": 0, "id": TENANT_ID + "_" + sku_id,
            "prepaidUnits": {"enabled": enabled, "lockedOut": 0, "suspended": 0, "warning": 0},
            "servicePlans": [{"servicePlanId": SERVICE_PLANS[n][0], "servicePlanName": n,
                              "provisioningStatus": "Success", "appliesTo": SERVICE_PLANS[n][2]}
                             for n in plans],
            "skuId": sku_id, "skuPartNumber": part,
            "subscriptionIds": [oid("subscription", part)],
        })
    return skus


# --------------------------------------------------------------------------
# Security alerts (alerts_v2): hand-written, newest first
# --------------------------------------------------------------------------

MDE_DETECTOR = "e0da400f-affd-43ef-b1d5-afc2eb6f2756"

# (id, incident, status, severity, classification, determination, serviceSource,
#  detectionSource, productName, title, category, mitre, assignedTo, created,
#  last update, users (local parts), device name or None, ip or None)
ALERTS = [
    ("da638614425261848130_1849275630", "412", "new", "high", "unknown", "unknown",
     "microsoftDefenderForEndpoint", "microsoftDefenderForEndpoint", "Microsoft Defender for Endpoint",
     "Suspicious credential dump from NTDS.dit", "CredentialAccess", ["T1003.003"], None,
     "2024-09-16T07:42:18.1630000Z", "2024-09-16T07:44:02.5570000Z", ["allan.deyoung"],
     "dc01.corp.contoso.com", None),
    ("ad1f3a2c7e-4b8d-4a6f-9c1e-2d5b7f9a3c61", "411", "inProgress", "high", "truePositive",
     "compromisedAccount", "azureAdIdentityProtection", "azureAdIdentityProtection",
     "Microsoft Entra ID Protection", "Atypical travel", "InitialAccess", ["T1078"],
     "secops@contoso.onmicrosoft.com", "2024-09-15T22:10:05.0000000Z",
     "2024-09-16T06:30:11.2030000Z", ["megan.bowen"], None, "185.220.101.47"),
    ("fa3c9e1b47-2d6a-4f8b-8e3c-5a7d9b1f2e40", "410", "new", "medium", "unknown", "unknown",
     "microsoftDefenderForOffice365", "microsoftDefenderForOffice365", "Microsoft Defender for Office 365",
     "Email messages containing malicious URL removed after delivery", "InitialAccess", ["T1566.002"],
     None, "2024-09-15T14:27:40.0000000Z", "2024-09-15T14:31:09.4500000Z",
     ["adele.vance", "alex.wilber", "lynne.robbins"], None, None),
    ("da638613281094417762_-961444813", "409", "new", "medium", "unknown", "unknown",
     "microsoftDefenderForEndpoint", "microsoftDefenderForEndpoint", "Microsoft Defender for Endpoint",
     "Suspicious PowerShell command line", "Execution", ["T1059.001"], None,
     "2024-09-14T23:55:09.4417762Z", "2024-09-15T00:02:44.1000000Z", ["adele.vance"],
     "cpc-adele-7h2k.contoso.com", None),
    ("aa5d2b8e91-7c3f-4e6a-b1d4-8f2c6a9e3b75", "408", "inProgress", "medium", "unknown", "unknown",
     "microsoftDefenderForIdentity", "microsoftDefenderForIdentity", "Microsoft Defender for Identity",
     "Account enumeration reconnaissance", "Discovery", ["T1087.002"],
     "allan.deyoung@contoso.onmicrosoft.com", "2024-09-13T16:03:27.0000000Z",
     "2024-09-14T09:12:51.7700000Z", ["isaiah.langer"], "lt-isaiah-0931.corp.contoso.com", None),
    ("da638611052667201947_2103348861", "407", "resolved", "high", "truePositive", "malware",
     "microsoftDefenderForEndpoint", "antivirus", "Microsoft Defender for Endpoint",
     "Ransomware behavior detected in the file system", "Ransomware", ["T1486"],
     "secops@contoso.onmicrosoft.com", "2024-09-12T09:07:46.7201947Z",
     "2024-09-12T15:40:03.0000000Z", ["pradeep.gupta"], "lt-pradeep-2217.contoso.com", None),
    ("ca7e1f3b52-9d4c-4a8e-a6f2-3b8d1c5e7a94", "406", "new", "low", "unknown", "unknown",
     "microsoftDefenderForCloudApps", "cloudAppSecurity", "Microsoft Defender for Cloud Apps",
     "Mass download by a single user", "Exfiltration", ["T1530"], None,
     "2024-09-11T18:44:12.0000000Z", "2024-09-11T18:44:12.0000000Z", ["johanna.lorenz"], None,
     "203.0.113.58"),
    ("ad9b4e7c21-3f5a-4d8c-9e1b-6a2f8c4d7e13", "405", "resolved", "medium", "falsePositive",
     "notMalicious", "azureAdIdentityProtection", "azureAdIdentityProtection",
     "Microsoft Entra ID Protection", "Unfamiliar sign-in properties", "InitialAccess", ["T1078"],
     "allan.deyoung@contoso.onmicrosoft.com", "2024-09-10T06:15:33.0000000Z",
     "2024-09-10T11:02:19.0000000Z", ["patti.fernandez"], None, "198.51.100.23"),
    ("da638608371450088812_-1273658442", "404", "new", "informational", "unknown", "unknown",
     "microsoftDefenderForEndpoint", "microsoftDefenderForEndpoint", "Microsoft Defender for Endpoint",
     "Suspicious 'PUAWindowsTweaker' unwanted software was detected", "SuspiciousActivity", [],
     None, "2024-09-09T06:38:34.5008881Z", "2024-09-09T06:38:34.5008881Z", ["grady.archie"],
     "ws-grady-1184.contoso.com", None),
    ("fa2b8d4f63-1e7c-4b9a-8d5e-7c3a9f1b6d28", "403", "inProgress", "high", "truePositive",
     "phishing", "microsoftDefenderForOffice365", "microsoftDefenderForOffice365",
     "Microsoft Defender for Office 365", "A potentially malicious URL click was detected",
     "InitialAccess", ["T1566.002"], "secops@contoso.onmicrosoft.com",
     "2024-09-08T13:20:57.0000000Z", "2024-09-09T08:45:10.3300000Z", ["lynne.robbins"], None, None),
    ("dl4e6a9c85-2b7d-4f1e-a3c8-9d5b2e7f4a16", "402", "new", "low", "unknown", "unknown",
     "dataLossPrevention", "microsoftDataLossPrevention", "Microsoft Data Loss Prevention",
     "DLP policy (Financial data) matched for document in SharePoint", "Exfiltration", [],
     None, "2024-09-06T10:52:08.0000000Z", "2024-09-06T10:52:08.0000000Z", ["emily.braun"],
     None, None),
    ("aa8c3f1d74-5e9b-4a2c-b7d6-1f4e8a3c9b52", "401", "resolved", "low",
     "informationalExpectedActivity", "securityTesting", "microsoftDefenderForIdentity",
     "microsoftDefenderForIdentity", "Microsoft Defender for Identity",
     "Suspected brute-force attack (Kerberos, NTLM)", "CredentialAccess", ["T1110"],
     "allan.deyoung@contoso.onmicrosoft.com", "2024-09-04T08:31:45.0000000Z",
     "2024-09-04T16:20:00.0000000Z", ["ryan.brooks"], "dc01.corp.contoso.com", None),
    ("da638605005913367512_875102964", "400", "new", "medium", "unknown", "unknown",
     "microsoftDefenderForEndpoint", "microsoftDefenderForEndpoint", "Microsoft Defender for Endpoint",
     "Suspicious scheduled task", "Persistence", ["T1053.005"], None,
     "2024-09-05T09:03:11.3367512Z", "2024-09-05T09:10:27.0000000Z", ["nestor.wilke"],
     "ws-nestor-0417.corp.contoso.com", None),
    ("ca1d5b9e36-8f2a-4c7e-9b3d-4e6a1c8f2d57", "399", "resolved", "informational", "truePositive",
     "confirmedActivity", "microsoftDefenderForCloudApps", "cloudAppSecurity",
     "Microsoft Defender for Cloud Apps", "Activity from infrequent country", "InitialAccess",
     ["T1078"], "secops@contoso.onmicrosoft.com", "2024-09-02T19:12:40.0000000Z",
     "2024-09-03T07:55:31.0000000Z", ["zoe.mueller"], None, "192.0.2.141"),
    ("da638601238841952204_-402117395", "398", "inProgress", "low", "unknown", "unknown",
     "microsoftDefenderForEndpoint", "smartScreen", "Microsoft Defender for Endpoint",
     "Connection to a custom network indicator", "CommandAndControl", ["T1071.001"],
     "allan.deyoung@contoso.onmicrosoft.com", "2024-09-01T00:24:44.1952204Z",
     "2024-09-02T10:18:05.0000000Z", ["diego.siciliani"], "lt-diego-3390.contoso.com",
     "203.0.113.200"),
]

DESCRIPTIONS = {
    "CredentialAccess": "Credential theft activity was observed. Attackers use stolen credentials "
                        "to move laterally and escalate privileges.",
    "InitialAccess": "Activity consistent with an attempt to gain a foothold in the organization "
                     "was observed.",
    "Execution": "A suspicious command was run. This behavior may indicate that an attacker ran "
                 "code on the device.",
    "Discovery": "An actor performed reconnaissance against the directory to learn account names.",
    "Ransomware": "Files were encrypted in a pattern typical of ransomware.",
    "Exfiltration": "A large amount of data was moved out of the organization's control.",
    "SuspiciousActivity": "Potentially unwanted software was detected on the device.",
    "Persistence": "A scheduled task was created that runs an unusual binary at sign-in.",
    "CommandAndControl": "The device connected to an address listed as a custom indicator.",
}


def make_alerts(by_local):
    alerts = []
    for (aid, incident, status, severity, classification, determination, service, detection,
         product, title, category, mitre, assigned, created, updated, users, device,
         ip) in ALERTS:
        evidence = []
        for local in users:
            u = by_local[local]
            evidence.append({
                "@odata.type": "#microsoft.graph.security.userEvidence",
                "createdDateTime": created, "verdict": "suspicious",
                "remediationStatus": "none", "remediationStatusDetails": None,
                "roles": ["compromised"] if determination == "compromisedAccount" else [],
                "detailedRoles": [], "tags": [],
                "userAccount": {"accountName": local.replace("'", ""), "domainName": DOMAIN,
                                "userSid": u["securityIdentifier"], "azureAdUserId": u["id"],
                                "userPrincipalName": u["userPrincipalName"],
                                "displayName": u["displayName"]},
            })
        if device:
            evidence.append({
                "@odata.type": "#microsoft.graph.security.deviceEvidence",
                "createdDateTime": created,
                "verdict": "malicious" if status == "resolved" and classification == "truePositive"
                else "suspicious",
                "remediationStatus": "remediated" if status == "resolved" else "none",
                "remediationStatusDetails": None, "roles": [], "detailedRoles": ["Main device"],
                "tags": [], "firstSeenDateTime": "2023-03-14T08:12:55.0000000Z",
                "mdeDeviceId": hashlib.sha1(device.encode()).hexdigest(),
                "azureAdDeviceId": oid("device", device), "deviceDnsName": device,
                "osPlatform": "WindowsServer2022" if device.startswith("dc") else "Windows11",
                "osBuild": 20348 if device.startswith("dc") else 22631,
                "version": "21H2" if device.startswith("dc") else "23H2",
                "healthStatus": "active", "riskScore": severity,
                "rbacGroupId": 0, "rbacGroupName": None, "onboardingStatus": "onboarded",
                "defenderAvStatus": "updated", "vmMetadata": None,
                "ipInterfaces": ["10.12.%d.%d" % (len(device) % 7 + 1, len(device) * 3 % 250 + 2)],
                "loggedOnUsers": [{"accountName": users[0].replace("'", ""), "domainName": "CONTOSO"}],
            })
        if ip:
            evidence.append({
                "@odata.type": "#microsoft.graph.security.ipEvidence",
                "createdDateTime": created, "verdict": "suspicious", "remediationStatus": "none",
                "remediationStatusDetails": None, "roles": [], "detailedRoles": [], "tags": [],
                "ipAddress": ip, "countryLetterCode": {"185.220.101.47": "DE", "203.0.113.58": "NL",
                                                      "198.51.100.23": "US", "192.0.2.141": "BR",
                                                      "203.0.113.200": "SG"}[ip],
            })
        resolved = updated if status == "resolved" else None
        comments = []
        if status == "resolved":
            comments.append({"comment": "Investigated and closed.",
                             "createdByDisplayName": assigned or "Automation",
                             "createdDateTime": updated})
        alerts.append({
            "id": aid, "providerAlertId": aid[2:] if not aid.startswith("da") else aid,
            "incidentId": incident, "status": status, "severity": severity,
            "classification": classification, "determination": determination,
            "serviceSource": service, "detectionSource": detection, "productName": product,
            "detectorId": MDE_DETECTOR if aid.startswith("da") else oid("detector", title),
            "tenantId": TENANT_ID, "title": title, "description": DESCRIPTIONS[category],
            "recommendedActions": "Review the evidence, contain affected accounts and devices, "
                                  "and reset credentials if compromise is confirmed.",
            "category": category, "assignedTo": assigned,
            "alertWebUrl": "https://security.microsoft.com/alerts/%s?tid=%s" % (aid, TENANT_ID),
            "incidentWebUrl": "https://security.microsoft.com/incidents/%s?tid=%s"
                              % (incident, TENANT_ID),
            "actorDisplayName": None, "threatDisplayName": None, "threatFamilyName": None,
            "mitreTechniques": mitre, "createdDateTime": created, "lastUpdateDateTime": updated,
            "resolvedDateTime": resolved, "firstActivityDateTime": created,
            "lastActivityDateTime": updated, "comments": comments, "evidence": evidence,
            "systemTags": [], "categories": [category], "alertPolicyId": None,
            "investigationState": "unknown", "additionalData": {},
            "customDetails": {"DetectedBy": product} if aid.startswith("da") else {},
        })
    alerts.sort(key=lambda a: a["createdDateTime"], reverse=True)
    return alerts


PRESENCE_PAIRS = [
    ("Available", "Available"), ("Busy", "InACall"), ("Busy", "InAMeeting"),
    ("DoNotDisturb", "Presenting"), ("Away", "Away"), ("BeRightBack", "BeRightBack"),
    ("Offline", "OffWork"), ("Busy", "InAConferenceCall"), ("AvailableIdle", "Available"),
    ("BusyIdle", "Busy"), ("DoNotDisturb", "UrgentInterruptionsOnly"), ("Busy", "Busy"),
    ("Available", "Inactive"), ("DoNotDisturb", "DoNotDisturb"),
]
STATUS_MESSAGES = [
    "Working from the Tulsa office this week", "Heads down on the Mark 8 launch",
    "In workshops all day, replies may be slow", "On call for Tier 2 support 🔔",
]


def make_presence(users):
    presence = {}
    for i, u in enumerate(users):
        local = u["userPrincipalName"].split("@")[0]
        availability, activity = PRESENCE_PAIRS[i % len(PRESENCE_PAIRS)]
        ooo = {"message": None, "isOutOfOffice": False}
        status = None
        if local == "adele.vance":
            availability, activity = "Available", "Available"
        elif local == "ryan.brooks":
            availability, activity = "Offline", "Offline"
        elif u["userType"] == "Guest":
            availability, activity = "PresenceUnknown", "PresenceUnknown"
        elif local in ("patti.fernandez", "pradeep.gupta"):
            availability, activity = "Away", "OutOfOffice"
            ooo = {"message": "I am out of the office until Monday and will reply when I am back.",
                   "isOutOfOffice": True}
        if i % 5 == 2:
            status = {
                "message": {"content": STATUS_MESSAGES[i % len(STATUS_MESSAGES)], "contentType": "text"},
                "publishedDateTime": "2024-09-16T07:%02d:11.4051263Z" % (i % 60),
                "expiryDateTime": {"dateTime": "2030-12-31T23:00:00.0000000", "timeZone": "UTC"},
            }
        presence[u["id"]] = {
            "id": u["id"], "availability": availability, "activity": activity,
            "statusMessage": status, "outOfOfficeSettings": ooo,
            "sequenceNumber": "C%010d" % (4564556109 + 7919 * i),
            "workLocation": {"workLocationType": ("office", "remote", "unspecified")[i % 3],
                             "source": "manual" if i % 3 != 2 else "none", "placeId": None},
        }
    return presence


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gen_tenant.py OUT.json | -")
    main(sys.argv[1])
