"""Entity types the emulator serves: property names, types and write rules.

Names and types come from graph-v1.0-extract.json, the part of Graph's v1.0
CSDL the project uses (written by csdl_extract.py; `make csdl CSDL=path`
regenerates it).  Only what the CSDL does not say is written here: default
property sets, read-only properties, and what $search, $orderby and $filter
accept (filters.py).

Types are short codes: "str", "bool", "dt" (Edm.DateTimeOffset), "int",
"float", "guid", "tod" (Edm.TimeOfDay), "strs" / "guids" (collections),
"obj:<complex type>", "objs:<complex type>", "enum:<enum type>" and
"enums:<enum type>".  Type names are relative to microsoft.graph
("passwordProfile", "security.alertStatus").
"""

import json
import os

EXTRACT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "graph-v1.0-extract.json")
with open(EXTRACT_PATH, encoding="utf-8") as _f:
    EXTRACT = json.load(_f)

ROOT_NAMESPACE = "microsoft.graph."
PRIMITIVES = {"Edm.String": "str", "Edm.Boolean": "bool", "Edm.DateTimeOffset": "dt",
              "Edm.Int32": "int", "Edm.Int64": "int", "Edm.Double": "float", "Edm.Guid": "guid",
              "Edm.TimeOfDay": "tod"}
COLLECTIONS = {"str": "strs", "guid": "guids"}
EDM = {code: edm for edm, code in PRIMITIVES.items() if edm != "Edm.Int64"}
EDM.update({plural: "Collection(%s)" % EDM[single] for single, plural in COLLECTIONS.items()})


def short(qualified):
    return qualified[len(ROOT_NAMESPACE):] if qualified.startswith(ROOT_NAMESPACE) else qualified


def code_of(edm_type):
    """The short code of an EDM type name from the extract."""
    inner = edm_type[len("Collection("):-1] if edm_type.startswith("Collection(") else None
    name = inner or edm_type
    if name in PRIMITIVES:
        code = PRIMITIVES[name]
        if inner is None:
            return code
        if code not in COLLECTIONS:
            raise ValueError("no code for %s" % edm_type)
        return COLLECTIONS[code]
    kind = "enum" if name in EXTRACT["enumTypes"] else "obj"
    return "%s%s:%s" % (kind, "s" if inner else "", short(name))


def edm_name(code):
    """The EDM type name of a code, as Graph's messages spell it."""
    if code in EDM:
        return EDM[code]
    kind, _, name = code.partition(":")
    qualified = ROOT_NAMESPACE + name
    return "Collection(%s)" % qualified if kind.endswith("s") else qualified


def properties(section, qualified):
    """{name: code} of an entity or complex type, base type's properties first."""
    return {name: code_of(p["type"]) for name, p in EXTRACT[section][qualified]["properties"].items()}


def non_nullable(section, qualified):
    return {name for name, p in EXTRACT[section][qualified]["properties"].items()
            if not p["nullable"]}


# Complex types a body may carry, with their members (None = an open type
# without declared members, e.g. customSecurityAttributeValue).
COMPLEX = {}
for _name, _t in EXTRACT["complexTypes"].items():
    COMPLEX[short(_name)] = (None if _t.get("openType") and not _t["properties"]
                             else properties("complexTypes", _name))
ENUMS = {short(name): t["members"] for name, t in EXTRACT["enumTypes"].items()}

# docs/wire.md §3.1: the properties GET /users/{id} returns without $select, in order.
USER_DEFAULT = ["businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
                "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"]

USER = properties("entityTypes", "microsoft.graph.user")
USER_NOT_NULL = non_nullable("entityTypes", "microsoft.graph.user")   # e.g. birthday

# G-USER / G-USERUPD: properties a PATCH may not set.  signInActivity is
# computed; mailboxSettings has its own endpoint (/users/{id}/mailboxSettings).
USER_READ_ONLY = {
    "id", "createdDateTime", "creationType", "deletedDateTime", "assignedLicenses",
    "assignedPlans", "imAddresses", "isManagementRestricted", "lastPasswordChangeDateTime",
    "legalAgeGroupClassification", "licenseAssignmentStates", "provisionedPlans",
    "proxyAddresses", "securityIdentifier", "serviceProvisioningErrors",
    "signInSessionsValidFromDateTime", "externalUserState", "externalUserStateChangeDateTime",
    "onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesLastSyncDateTime",
    "onPremisesProvisioningErrors", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
    "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "signInActivity", "mailboxSettings",
    "print",
}

# G-USERUPD: "cannot be updated using an application-only context".
USER_DELEGATED_ONLY = {"aboutMe", "birthday", "hireDate", "interests", "mySite", "pastProjects",
                       "preferredName", "responsibilities", "schools", "skills"}


class EntityType:
    """One Graph type as a collection sees it: name, properties, sort/search rules."""

    def __init__(self, name, entity_set, props, default=None, searchable=(), sortable=(),
                 namespace="microsoft.graph"):
        self.name = name                    # e.g. "group" (microsoft.graph.group)
        self.entity_set = entity_set        # e.g. "groups" (used in @odata.context)
        self.props = props                  # name -> type code
        self.default = default or list(props)
        self.searchable = set(searchable)
        self.sortable = set(sortable)
        self.namespace = namespace
        self.by_lower = {p.lower(): p for p in props}

    @property
    def qualified(self):
        return self.namespace + "." + self.name

    def lookup(self, name):
        """Canonical property name, matched case-insensitively as Graph does, or None."""
        return self.by_lower.get(name.lower())


def entity(name, entity_set, namespace="microsoft.graph", **rules):
    return EntityType(name, entity_set, properties("entityTypes", namespace + "." + name),
                      namespace=namespace, **rules)


USER_TYPE = EntityType("user", "users", USER, USER_DEFAULT,
                       searchable=("displayName", "mail", "userPrincipalName", "givenName",
                                   "surname", "mailNickname", "jobTitle", "department"),
                       sortable=("displayName", "userPrincipalName"))
# group resource: "Returned only on $select" (Exchange-backed and licensing
# properties); the rest is the default set a group GET or memberOf returns.
GROUP_SELECT_ONLY = {
    "accessType", "allowExternalSenders", "assignedLabels", "assignedLicenses",
    "autoSubscribeNewMembers", "hasMembersWithLicenseErrors", "hideFromAddressLists",
    "hideFromOutlookClients", "infoCatalogs", "isArchived", "isFavorite",
    "isManagementRestricted", "isSubscribedByMail", "licenseProcessingState",
    "onPremisesExtensionAttributes", "organizationId", "uniqueName", "unseenConversationsCount",
    "unseenCount", "unseenMessagesCount", "welcomeMessageEnabled",
}
_group_props = properties("entityTypes", "microsoft.graph.group")
GROUP_TYPE = EntityType("group", "groups", _group_props,
                        [p for p in _group_props if p not in GROUP_SELECT_ONLY],
                        searchable=("displayName", "description"), sortable=("displayName",))
ROLE_TYPE = entity("directoryRole", "directoryRoles", searchable=("displayName", "description"),
                   sortable=("displayName",))
AU_TYPE = entity("administrativeUnit", "administrativeUnits",
                 searchable=("displayName", "description"), sortable=("displayName",))
PRESENCE_TYPE = entity("presence", "presences")

# memberOf returns directoryObjects: any property of the member types may be named.
_union = {}
for _t in (GROUP_TYPE, ROLE_TYPE, AU_TYPE):
    for _p, _code in _t.props.items():
        _union.setdefault(_p, _code)
DIRECTORY_OBJECT_TYPE = EntityType("directoryObject", "directoryObjects", _union,
                                   searchable=("displayName", "description"),
                                   sortable=("displayName",))

MEMBER_TYPES = {"group": GROUP_TYPE, "directoryRole": ROLE_TYPE, "administrativeUnit": AU_TYPE}

# microsoft.graph.security.alert (alerts_v2)
ALERT_TYPE = entity("alert", "security/alerts_v2", namespace="microsoft.graph.security",
                    sortable=("createdDateTime", "lastUpdateDateTime"))
# security-alert-update (v1.0): the properties a PATCH may set.
ALERT_WRITABLE = {"status", "classification", "determination", "assignedTo"}

SUBSCRIBED_SKU_TYPE = entity("subscribedSku", "subscribedSkus")

# Every type the emulator serves, for the drift checks (selftest, spec/schema_spec.lua).
SERVED = {t.qualified: t for t in (USER_TYPE, GROUP_TYPE, ROLE_TYPE, AU_TYPE, PRESENCE_TYPE,
                                   ALERT_TYPE, SUBSCRIBED_SKU_TYPE)}
