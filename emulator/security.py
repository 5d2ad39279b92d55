"""Security alerts (alerts_v2): query options, paging and the PATCH rules.

Pure functions over alert dicts; problems are raised as odata.ODataError with
Graph's status, code and message (the handlers live in graph.py).
"""

import re

import odata
from odata import ODataError, bad_request
from schema import ALERT_TYPE, ALERT_WRITABLE, ENUMS, edm_name

PAGE_SIZE = 100      # default page (emulator choice; the docs give none)
MAX_TOP = 2000       # largest $top (emulator choice)


def not_found(alert_id):
    # Emulator wording: no capture of the security API's 404 body is known.
    return ODataError(404, "NotFound", "The alert '%s' was not found." % alert_id)


def parse_int_option(name, value):
    if value is None:
        return None
    if not re.fullmatch(r"\s*\d+\s*", value):
        raise bad_request("Invalid value '%s' for $%s query option found. The $%s query option "
                          "requires a non-negative integer value." % (value, name, name))
    return int(value)


def plan(query):
    """The query options of GET /security/alerts_v2: $filter, $top, $skip, $count
    (documented), $orderby and $select (accepted too)."""
    if query.get("expand") is not None:
        raise bad_request("The emulator does not support $expand.")
    if query.get("search") is not None:
        raise odata.unsupported("Query option '$search' is not supported on security/alerts_v2.")
    if query.get("skiptoken") is not None:
        raise bad_request("Invalid $skiptoken value.")
    top = parse_int_option("top", query.get("top"))
    if top is not None and not 1 <= top <= MAX_TOP:
        raise bad_request("Invalid page size specified: '%d'. Must be between 1 and %d inclusive."
                          % (top, MAX_TOP))
    skip = parse_int_option("skip", query.get("skip")) or 0
    flt = odata.parse_filter(query.get("filter"), ALERT_TYPE) \
        if query.get("filter") is not None else None
    order = odata.parse_orderby(query.get("orderby"), ALERT_TYPE) \
        if query.get("orderby") is not None else None
    return {"top": top, "skip": skip, "filter": flt, "order": order,
            "count": odata.parse_count(query.get("count")),
            "select": odata.parse_select(query.get("select"), ALERT_TYPE)}


def select(alerts, p):
    """Matching alerts in answer order: newest first unless $orderby says otherwise."""
    matched = [a for a in alerts if p["filter"] is None or p["filter"].matches(a)]
    matched.sort(key=lambda a: odata._instant(a["createdDateTime"]), reverse=True)
    if p["order"]:
        matched = odata.sort_items(matched, p["order"])
    return matched


def page(matched, p):
    """(items of this page, offset of the next page or None)."""
    size = p["top"] or PAGE_SIZE
    start = p["skip"]
    items = matched[start:start + size]
    return items, (start + size if start + size < len(matched) else None)


def project(alert, names):
    return odata.project(alert, names or list(ALERT_TYPE.props))


# -- PATCH ---------------------------------------------------------------------

def validate_patch(body):
    """{property: value} for the writable properties; 400 for anything else."""
    changes = {}
    for name, value in body.items():
        if "@" in name:
            continue                                   # instance annotations
        canon = ALERT_TYPE.lookup(name)
        if canon is None:
            raise bad_request("The property '%s' does not exist on type '%s'. Make sure to only "
                              "use property names that are defined by the type or mark the type "
                              "as open type." % (name, ALERT_TYPE.qualified))
        if canon not in ALERT_WRITABLE:
            # Emulator wording: only the documented properties can be updated.
            raise bad_request("The property '%s' cannot be updated. Updatable properties are: "
                              "assignedTo, classification, determination, status." % canon)
        code = ALERT_TYPE.props[canon]
        if isinstance(value, (dict, list)):
            raise bad_request("An unexpected '%s' node was found when reading from the JSON "
                              "reader. A 'PrimitiveValue' node was expected."
                              % ("StartObject" if isinstance(value, dict) else "StartArray"))
        if value is not None and not isinstance(value, str):
            raise bad_request("Cannot convert a primitive value to the expected type '%s'. See "
                              "the inner exception for more details."
                              % edm_name(code))
        if code.startswith("enum:"):
            members = ENUMS[code[5:]]
            qualified = edm_name(code)
            if value is None:
                raise bad_request("A null value was found for the property named '%s', which has "
                                  "the expected type '%s[Nullable=False]'. The expected type '%s"
                                  "[Nullable=False]' does not allow null values."
                                  % (canon, qualified, qualified))
            member = next((m for m in members if m.lower() == value.lower()), None)
            if member is None or member == "unknownFutureValue":
                raise bad_request("Cannot convert the literal '%s' to the expected type '%s'."
                                  % (value, qualified))
            value = member
        changes[canon] = value
    return changes


def apply_patch(alert, changes, now):
    """Set the changes; stamps lastUpdateDateTime and resolvedDateTime."""
    was_resolved = alert.get("status") == "resolved"
    alert.update(changes)
    alert["lastUpdateDateTime"] = now
    if alert.get("status") == "resolved" and not was_resolved:
        alert["resolvedDateTime"] = now
    elif alert.get("status") != "resolved":
        alert["resolvedDateTime"] = None
