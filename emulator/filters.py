"""$filter operators each property accepts: hand-written, the CSDL does not say.

Sources: "Advanced query capabilities on Microsoft Entra ID objects"
(learn.microsoft.com/graph/aad-advanced-queries, its per-property tables of
default and advanced support) and the "Supports $filter (...)" notes of the
user, group, directoryRole and administrativeUnit resource pages; for
alerts, "List alerts_v2" (the properties $filter names).

Operators: eq, ne, not, ge, le, in, startsWith, endsWith, null (eq/ne null)
and any (a lambda over a collection; the operators inside it are checked
against the collection's own entry).  `ne`, `not`, `endsWith` and null
comparisons need the advanced query parameters (ConsistencyLevel: eventual
and $count=true) wherever they are allowed (odata.Filter.advanced_operator).
A property listed in ADVANCED_ONLY filters only as an advanced query; one
not listed at all does not filter.
"""

STRING = "eq ne not ge le in startsWith null"
ID = "eq ne not in"
DATE = "eq ne not ge le in"
FLAG = "eq ne not in"
MULTI = "any eq not ge le startsWith"               # collections of strings

USER = {
    "id": ID, "accountEnabled": FLAG, "ageGroup": FLAG, "assignedLicenses": "any eq not",
    "assignedPlans": "any eq not", "businessPhones": MULTI, "city": STRING, "companyName": STRING,
    "consentProvidedForMinor": FLAG, "country": STRING, "createdDateTime": DATE,
    "creationType": FLAG, "department": STRING, "displayName": STRING,
    "employeeHireDate": DATE, "employeeLeaveDateTime": DATE, "employeeId": STRING,
    "employeeOrgData": DATE, "employeeType": "eq ne not in startsWith",
    "externalUserState": FLAG, "externalUserStateChangeDateTime": FLAG, "faxNumber": STRING,
    "givenName": STRING, "identities": "any eq", "imAddresses": MULTI, "jobTitle": STRING,
    "lastPasswordChangeDateTime": DATE, "legalAgeGroupClassification": FLAG,
    "mail": STRING + " endsWith", "mailNickname": STRING, "mobilePhone": STRING,
    "officeLocation": STRING, "onPremisesExtensionAttributes": FLAG,
    "onPremisesImmutableId": DATE, "onPremisesLastSyncDateTime": DATE,
    "onPremisesProvisioningErrors": "any eq not ge le", "onPremisesSamAccountName": STRING,
    "onPremisesSecurityIdentifier": STRING, "onPremisesSyncEnabled": FLAG + " null",
    "onPremisesUserPrincipalName": STRING, "otherMails": MULTI + " in endsWith",
    "passwordPolicies": FLAG + " null", "passwordProfile": FLAG, "postalCode": STRING,
    "preferredLanguage": STRING, "provisionedPlans": "any eq not",
    "proxyAddresses": MULTI + " endsWith", "securityIdentifier": STRING,
    "showInAddressList": "eq ne not", "signInActivity": "eq ne not ge le", "state": STRING,
    "streetAddress": STRING, "surname": STRING, "usageLocation": STRING,
    "userPrincipalName": "eq ne not ge le in startsWith endsWith", "userType": FLAG + " null",
}
# Listed with their operators, but only in advanced queries (the advanced-query
# tables mark them so; Q&A 726469 shows the default-query 400 for them).
USER_ADVANCED_ONLY = {
    "companyName", "employeeHireDate", "employeeLeaveDateTime", "employeeType", "faxNumber",
    "mobilePhone", "officeLocation", "postalCode", "preferredLanguage", "showInAddressList",
    "streetAddress", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
    "onPremisesProvisioningErrors", "passwordPolicies", "passwordProfile", "signInActivity",
    "employeeOrgData", "consentProvidedForMinor", "legalAgeGroupClassification", "ageGroup",
    "lastPasswordChangeDateTime", "onPremisesExtensionAttributes",
}

GROUP = {
    "id": ID, "classification": STRING, "createdDateTime": DATE, "description": STRING,
    "displayName": STRING, "expirationDateTime": DATE, "groupTypes": "any eq not",
    "isAssignableToRole": "eq ne not", "mail": STRING + " endsWith", "mailEnabled": "eq ne not",
    "mailNickname": STRING, "membershipRule": STRING, "membershipRuleProcessingState": FLAG,
    "onPremisesSamAccountName": STRING, "onPremisesSecurityIdentifier": STRING,
    "onPremisesSyncEnabled": FLAG + " null", "preferredLanguage": STRING,
    "proxyAddresses": MULTI + " endsWith", "renewedDateTime": DATE,
    "resourceProvisioningOptions": "any eq not", "securityEnabled": FLAG,
    "securityIdentifier": STRING, "theme": STRING, "visibility": STRING,
}
GROUP_ADVANCED_ONLY = {"description", "classification", "membershipRule", "theme",
                       "expirationDateTime"}

DIRECTORY_ROLE = {"id": ID, "displayName": STRING, "description": STRING,
                  "roleTemplateId": ID}

ADMINISTRATIVE_UNIT = {
    "id": ID, "displayName": STRING, "description": STRING, "membershipType": FLAG,
    "visibility": FLAG, "isMemberManagementRestricted": "eq ne not",
    "membershipRule": STRING, "membershipRuleProcessingState": FLAG,
}
ADMINISTRATIVE_UNIT_ADVANCED_ONLY = {"description"}

# list-alerts_v2: "$filter: assignedTo, classification, determination,
# createdDateTime, lastUpdateDateTime, severity, serviceSource and status".
ALERT_OPS = "eq ne gt ge lt le in"
ALERT = {p: ALERT_OPS for p in ("assignedTo", "classification", "determination",
                                "createdDateTime", "lastUpdateDateTime", "severity",
                                "serviceSource", "status")}


def _table(ops, advanced_only=()):
    return {p: (set(o.split()), p in advanced_only) for p, o in ops.items()}


# type name -> {property: ({operators}, advanced only?)}
TABLES = {
    "user": _table(USER, USER_ADVANCED_ONLY),
    "group": _table(GROUP, GROUP_ADVANCED_ONLY),
    "directoryRole": _table(DIRECTORY_ROLE),
    "administrativeUnit": _table(ADMINISTRATIVE_UNIT, ADMINISTRATIVE_UNIT_ADVANCED_ONLY),
    "alert": _table(ALERT),
}
# memberOf lists directoryObjects: what any of its member types allows.
TABLES["directoryObject"] = {}
for _name in ("group", "directoryRole", "administrativeUnit"):
    for _prop, (_ops, _adv) in TABLES[_name].items():
        _ops0, _adv0 = TABLES["directoryObject"].get(_prop, (set(), True))
        TABLES["directoryObject"][_prop] = (_ops0 | _ops, _adv0 and _adv)


def allows(type_name, prop, op, advanced):
    """True when `prop` of `type_name` may be filtered with `op` in this query."""
    entry = TABLES.get(type_name, {}).get(prop)
    if entry is None:
        return False
    ops, advanced_only = entry
    return op in ops and (advanced or not advanced_only)
