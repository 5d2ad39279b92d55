"""Entity types the emulator serves: property names, types and write rules.

Types are short codes: "str", "bool", "dt" (Edm.DateTimeOffset), "strs"
(Collection(Edm.String)), "obj:<complex type>" and "objs:<complex type>".
Property order is the order Graph emits them in.
"""

EDM = {"str": "Edm.String", "bool": "Edm.Boolean", "dt": "Edm.DateTimeOffset",
       "strs": "Collection(Edm.String)", "int": "Edm.Int32", "float": "Edm.Double",
       "guid": "Edm.Guid"}

# docs/wire.md §3.1: the properties GET /users/{id} returns without $select, in order.
USER_DEFAULT = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"]

USER = {
    "id": "str", "businessPhones": "strs", "displayName": "str", "givenName": "str",
    "jobTitle": "str", "mail": "str", "mobilePhone": "str", "officeLocation": "str",
    "preferredLanguage": "str", "surname": "str", "userPrincipalName": "str",
    "aboutMe": "str", "accountEnabled": "bool", "ageGroup": "str",
    "assignedLicenses": "objs:assignedLicense", "assignedPlans": "objs:assignedPlan",
    "birthday": "dt", "city": "str", "companyName": "str", "consentProvidedForMinor": "str",
    "country": "str", "createdDateTime": "dt", "creationType": "str",
    "customSecurityAttributes": "obj:customSecurityAttributeValue", "deletedDateTime": "dt",
    "department": "str", "employeeHireDate": "dt", "employeeLeaveDateTime": "dt",
    "employeeId": "str", "employeeOrgData": "obj:employeeOrgData", "employeeType": "str",
    "externalUserState": "str", "externalUserStateChangeDateTime": "str", "faxNumber": "str",
    "hireDate": "dt", "identities": "objs:objectIdentity", "imAddresses": "strs",
    "interests": "strs", "isManagementRestricted": "bool", "isResourceAccount": "bool",
    "lastPasswordChangeDateTime": "dt", "legalAgeGroupClassification": "str",
    "licenseAssignmentStates": "objs:licenseAssignmentState", "mailNickname": "str",
    "mySite": "str", "onPremisesDistinguishedName": "str", "onPremisesDomainName": "str",
    "onPremisesExtensionAttributes": "obj:onPremisesExtensionAttributes",
    "onPremisesImmutableId": "str", "onPremisesLastSyncDateTime": "dt",
    "onPremisesProvisioningErrors": "objs:onPremisesProvisioningError",
    "onPremisesSamAccountName": "str", "onPremisesSecurityIdentifier": "str",
    "onPremisesSyncEnabled": "bool", "onPremisesUserPrincipalName": "str", "otherMails": "strs",
    "passwordPolicies": "str", "passwordProfile": "obj:passwordProfile", "pastProjects": "strs",
    "postalCode": "str", "preferredDataLocation": "str", "preferredName": "str",
    "provisionedPlans": "objs:provisionedPlan", "proxyAddresses": "strs",
    "refreshTokensValidFromDateTime": "dt", "responsibilities": "strs", "schools": "strs",
    "securityIdentifier": "str", "serviceProvisioningErrors": "objs:serviceProvisioningError",
    "showInAddressList": "bool", "signInSessionsValidFromDateTime": "dt", "skills": "strs",
    "state": "str", "streetAddress": "str", "usageLocation": "str", "userType": "str",
}

# G-USER / G-USERUPD: properties a PATCH may not set.
USER_READ_ONLY = {
    "id", "createdDateTime", "creationType", "deletedDateTime", "assignedLicenses",
    "assignedPlans", "imAddresses", "isManagementRestricted", "lastPasswordChangeDateTime",
    "legalAgeGroupClassification", "licenseAssignmentStates", "provisionedPlans",
    "proxyAddresses", "refreshTokensValidFromDateTime", "securityIdentifier",
    "serviceProvisioningErrors", "signInSessionsValidFromDateTime", "externalUserState",
    "externalUserStateChangeDateTime", "onPremisesDistinguishedName", "onPremisesDomainName",
    "onPremisesLastSyncDateTime", "onPremisesProvisioningErrors", "onPremisesSamAccountName",
    "onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "onPremisesUserPrincipalName",
}

# G-USERUPD: "cannot be updated using an application-only context".
USER_DELEGATED_ONLY = {"aboutMe", "birthday", "hireDate", "interests", "mySite", "pastProjects",
                       "preferredName", "responsibilities", "schools", "skills"}

# Complex types a PATCH body may carry, with their members (None = open type).
COMPLEX = {
    "passwordProfile": {"forceChangePasswordNextSignIn": "bool",
                        "forceChangePasswordNextSignInWithMfa": "bool", "password": "str"},
    "employeeOrgData": {"division": "str", "costCenter": "str"},
    "onPremisesExtensionAttributes": {"extensionAttribute%d" % i: "str" for i in range(1, 16)},
    "objectIdentity": {"signInType": "str", "issuer": "str", "issuerAssignedId": "str"},
    "customSecurityAttributeValue": None,
}

GROUP = {
    "id": "str", "deletedDateTime": "dt", "classification": "str", "createdDateTime": "dt",
    "creationOptions": "strs", "description": "str", "displayName": "str",
    "expirationDateTime": "dt", "groupTypes": "strs", "isAssignableToRole": "bool",
    "mail": "str", "mailEnabled": "bool", "mailNickname": "str", "membershipRule": "str",
    "membershipRuleProcessingState": "str", "onPremisesDomainName": "str",
    "onPremisesLastSyncDateTime": "dt", "onPremisesNetBiosName": "str",
    "onPremisesSamAccountName": "str", "onPremisesSecurityIdentifier": "str",
    "onPremisesSyncEnabled": "bool", "preferredDataLocation": "str", "preferredLanguage": "str",
    "proxyAddresses": "strs", "renewedDateTime": "dt", "resourceBehaviorOptions": "strs",
    "resourceProvisioningOptions": "strs", "securityEnabled": "bool", "securityIdentifier": "str",
    "theme": "str", "visibility": "str",
    "onPremisesProvisioningErrors": "objs:onPremisesProvisioningError",
    "serviceProvisioningErrors": "objs:serviceProvisioningError",
}

DIRECTORY_ROLE = {"id": "str", "deletedDateTime": "dt", "description": "str",
                  "displayName": "str", "roleTemplateId": "str"}

ADMINISTRATIVE_UNIT = {
    "id": "str", "deletedDateTime": "dt", "displayName": "str", "description": "str",
    "isMemberManagementRestricted": "bool", "membershipRule": "str",
    "membershipRuleProcessingState": "str", "membershipType": "str", "visibility": "str",
}


class EntityType:
    """One Graph type as a collection sees it: name, properties, sort/search rules."""

    def __init__(self, name, entity_set, props, default=None, searchable=(), sortable=(),
                 namespace="microsoft.graph", filterable=None):
        self.name = name                    # e.g. "group" (microsoft.graph.group)
        self.entity_set = entity_set        # e.g. "groups" (used in @odata.context)
        self.props = props                  # name -> type code
        self.default = default or list(props)
        self.searchable = set(searchable)
        self.sortable = set(sortable)
        self.namespace = namespace
        # Properties $filter may name (None: all of them).
        self.filterable = set(filterable) if filterable is not None else None
        self.by_lower = {p.lower(): p for p in props}

    @property
    def qualified(self):
        return self.namespace + "." + self.name

    def lookup(self, name):
        """Canonical property name, matched case-insensitively as Graph does, or None."""
        return self.by_lower.get(name.lower())


USER_TYPE = EntityType("user", "users", USER, USER_DEFAULT,
                       searchable=("displayName", "mail", "userPrincipalName", "givenName",
                                   "surname", "mailNickname", "jobTitle", "department"),
                       sortable=("displayName", "userPrincipalName"))
GROUP_TYPE = EntityType("group", "groups", GROUP, searchable=("displayName", "description"),
                        sortable=("displayName",))
ROLE_TYPE = EntityType("directoryRole", "directoryRoles", DIRECTORY_ROLE,
                       searchable=("displayName", "description"), sortable=("displayName",))
AU_TYPE = EntityType("administrativeUnit", "administrativeUnits", ADMINISTRATIVE_UNIT,
                     searchable=("displayName", "description"), sortable=("displayName",))

# memberOf returns directoryObjects: any property of the member types may be named.
_union = {}
for _t in (GROUP_TYPE, ROLE_TYPE, AU_TYPE):
    for _p, _code in _t.props.items():
        _union.setdefault(_p, _code)
DIRECTORY_OBJECT_TYPE = EntityType("directoryObject", "directoryObjects", _union,
                                   searchable=("displayName", "description"),
                                   sortable=("displayName",))

MEMBER_TYPES = {"group": GROUP_TYPE, "directoryRole": ROLE_TYPE, "administrativeUnit": AU_TYPE}


# ==========================================================================
# microsoft.graph.security.alert (alerts_v2); enum types are "enum:<name>"
# ==========================================================================

ENUMS = {
    "alertStatus": ["unknown", "new", "inProgress", "resolved", "unknownFutureValue"],
    "alertSeverity": ["unknown", "informational", "low", "medium", "high", "unknownFutureValue"],
    "alertClassification": ["unknown", "falsePositive", "truePositive",
                            "informationalExpectedActivity", "unknownFutureValue"],
    # The resource page and the update page list different members; both are accepted.
    "alertDetermination": ["unknown", "apt", "malware", "securityPersonnel", "securityTesting",
                           "unwantedSoftware", "other", "multiStagedAttack", "compromisedAccount",
                           "phishing", "maliciousUserActivity", "notMalicious",
                           "notEnoughDataToValidate", "confirmedActivity",
                           "lineOfBusinessApplication", "unknownFutureValue", "compromisedUser",
                           "clean", "insufficientData", "confirmedUserActivity"],
    "serviceSource": ["unknown", "microsoftDefenderForEndpoint", "microsoftDefenderForIdentity",
                      "microsoftDefenderForCloudApps", "microsoftDefenderForOffice365",
                      "microsoft365Defender", "azureAdIdentityProtection", "microsoftAppGovernance",
                      "dataLossPrevention", "unknownFutureValue", "microsoftDefenderForCloud"],
    "detectionSource": ["unknown", "microsoftDefenderForEndpoint", "antivirus", "smartScreen",
                        "customTi", "microsoftDefenderForOffice365", "automatedInvestigation",
                        "microsoftThreatExperts", "customDetection", "microsoftDefenderForIdentity",
                        "cloudAppSecurity", "microsoft365Defender", "azureAdIdentityProtection",
                        "manual", "microsoftDataLossPrevention", "appGovernancePolicy",
                        "appGovernanceDetection", "unknownFutureValue", "microsoftDefenderForCloud"],
}
ENUM_NAMESPACE = "microsoft.graph.security."

ALERT = {
    "id": "str", "providerAlertId": "str", "incidentId": "str", "status": "enum:alertStatus",
    "severity": "enum:alertSeverity", "classification": "enum:alertClassification",
    "determination": "enum:alertDetermination", "serviceSource": "enum:serviceSource",
    "detectionSource": "enum:detectionSource", "productName": "str", "detectorId": "str",
    "tenantId": "str", "title": "str", "description": "str", "recommendedActions": "str",
    "category": "str", "assignedTo": "str", "alertWebUrl": "str", "incidentWebUrl": "str",
    "actorDisplayName": "str", "threatDisplayName": "str", "threatFamilyName": "str",
    "mitreTechniques": "strs", "createdDateTime": "dt", "lastUpdateDateTime": "dt",
    "resolvedDateTime": "dt", "firstActivityDateTime": "dt", "lastActivityDateTime": "dt",
    "comments": "objs:alertComment", "evidence": "objs:alertEvidence", "systemTags": "strs",
}
# security-alert-update (v1.0): the properties a PATCH may set.
ALERT_WRITABLE = {"status", "classification", "determination", "assignedTo"}

ALERT_TYPE = EntityType("alert", "security/alerts_v2", ALERT, namespace="microsoft.graph.security",
                        sortable=("createdDateTime", "lastUpdateDateTime"),
                        filterable=("assignedTo", "classification", "determination",
                                    "createdDateTime", "lastUpdateDateTime", "severity",
                                    "serviceSource", "status"))

SUBSCRIBED_SKU = {
    "accountId": "str", "accountName": "str", "appliesTo": "str", "capabilityStatus": "str",
    "consumedUnits": "int", "id": "str", "prepaidUnits": "obj:licenseUnitsDetail",
    "servicePlans": "objs:servicePlanInfo", "skuId": "str", "skuPartNumber": "str",
    "subscriptionIds": "strs",
}
SUBSCRIBED_SKU_TYPE = EntityType("subscribedSku", "subscribedSkus", SUBSCRIBED_SKU)
