"""Microsoft Graph v1.0 (and beta): users, presence, memberOf, user PATCH and actions,
licences, security alerts.

Formats follow docs/wire.md §3-6 (resources), 8 (401s) and 10 (the
error envelope).  Every response, error or not, carries Graph's headers.
"""

import copy
import datetime
import json
import re
import time
from urllib.parse import unquote

import batch
import odata
import security
from odata import ODataError, Query
from schema import (ALERT_TYPE, COMPLEX, DIRECTORY_OBJECT_TYPE, ENUMS, MEMBER_TYPES,
                    SUBSCRIBED_SKU_TYPE, USER, USER_DEFAULT, USER_DELEGATED_ONLY, USER_NOT_NULL,
                    USER_READ_ONLY, USER_TYPE, edm_name)
from wire import Response, http_date, json_bytes, new_guid, utc_now

ODATA_JSON = ("application/json;odata.metadata=minimal;odata.streaming=true;"
              "IEEE754Compatible=false;charset=utf-8")
AGS_DIAGNOSTIC = json.dumps({"ServerInfo": {"DataCenter": "West Europe", "Slice": "E", "Ring": "5",
                                            "ScaleUnit": "000", "RoleInstance": "EMU0PEPF00000001"}},
                            separators=(",", ":"))
WWW_AUTHENTICATE = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/'
                    'oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"')
PAGE_SIZE = 100   # default directory page (docs/wire.md §5.3; memberOf value assumed)
MAX_PRESENCE_IDS = 650   # getPresencesByUserId (docs/wire.md §4.1)
VERSIONS = ("v1.0", "beta")   # beta serves the same routes as v1.0

NOT_ALLOWED = "Specified HTTP method is not allowed for the request target."
UNREADABLE_JSON = ("Unable to read JSON request payload. Please ensure Content-Type header is set "
                   "and payload is of valid JSON format.")
PASSWORD_COMPLEXITY = ("The specified password does not comply with password complexity "
                       "requirements. Please provide a different password.")
# A write whose Content-Type is not JSON (msgraph-sdk-java#687, a POST
# revokeSignInSessions sent as application/octet-stream: Request_BadRequest).
UNSUPPORTED_MEDIA = ("A supported MIME type could not be found that matches the content type of the "
                     "response. None of the supported type(s) 'application/json;odata=minimalmetadata;"
                     "streaming=true, application/json;odata=minimalmetadata;streaming=false, "
                     "application/json;odata=minimalmetadata, application/json;odata=fullmetadata;"
                     "streaming=true, application/json;odata=fullmetadata;streaming=false, "
                     "application/json;odata=fullmetadata, application/json;odata=nometadata;"
                     "streaming=true, application/json;odata=nometadata;streaming=false, "
                     "application/json;odata=nometadata, application/json;streaming=true, "
                     "application/json;streaming=false, application/json;odata=verbose, "
                     "application/json' matches the content type '%s'.")
DOLLAR_SEGMENT = ("The request URI is not valid. Since the segment 'users' refers to a collection, "
                  "this must be the last segment in the request URI or it must be followed by an "
                  "function or action that can be bound to it otherwise all intermediate segments "
                  "must refer to a single resource.")

# Permissions (application roles or delegated scopes) each operation accepts,
# and the delegated scopes that reach only the signed-in user.
READ_USER = {"User.Read.All", "User.ReadWrite.All", "User.ReadBasic.All", "Directory.Read.All",
             "Directory.ReadWrite.All"}
WRITE_USER = {"User.ReadWrite.All", "Directory.ReadWrite.All"}
READ_PRESENCE = {"Presence.Read.All", "Presence.ReadWrite.All"}
READ_MEMBERSHIP = {"GroupMember.Read.All", "GroupMember.ReadWrite.All", "Group.Read.All",
                   "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
REVOKE_SESSIONS = {"User.RevokeSessions.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
ASSIGN_LICENSE = {"LicenseAssignment.ReadWrite.All", "User.ReadWrite.All",
                  "Directory.ReadWrite.All"}
READ_SKUS = {"LicenseAssignment.Read.All", "LicenseAssignment.ReadWrite.All",
             "Organization.Read.All", "Organization.ReadWrite.All", "Directory.Read.All",
             "Directory.ReadWrite.All"}
READ_ALERTS = {"SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"}
WRITE_ALERTS = {"SecurityAlert.ReadWrite.All"}
SELF_READ = {"User.Read", "User.ReadWrite"}
SELF_WRITE = {"User.ReadWrite"}
SELF_PRESENCE = {"Presence.Read", "Presence.ReadWrite"}

# Default error bodies for injected faults and anything else keyed by status.
STATUS_ERRORS = {
    400: ("BadRequest", "Bad request. Please fix the request before retrying."),
    401: ("InvalidAuthenticationToken", "Access token validation failure."),
    403: ("Authorization_RequestDenied", "Insufficient privileges to complete the operation."),
    404: ("Request_ResourceNotFound", "Resource could not be discovered."),
    409: ("Conflict", "The request conflicts with the current state of the resource."),
    429: ("TooManyRequests", "Please retry again later."),
    500: ("generalException", "General exception while processing."),
    502: ("badGateway", "Bad gateway."),
    503: ("serviceNotAvailable", "The service is not available. Try the request again after a delay."),
    504: ("gatewayTimeout", "The gateway did not receive a response in time."),
}


class GraphError(Exception):
    def __init__(self, status, code, message, headers=()):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = list(headers)


def not_found(key):
    return GraphError(404, "Request_ResourceNotFound",
                      "Resource '%s' does not exist or one of its queried reference-property "
                      "objects are not present." % key)


def unknown_segment(segment):
    return GraphError(400, "BadRequest", "Resource not found for the segment '%s'." % segment)


def forbidden():
    return GraphError(403, "Authorization_RequestDenied",
                      "Insufficient privileges to complete the operation.")


def metadata(req):
    """The $metadata URL of the version the request named (v1.0 or beta)."""
    return "%s/%s/$metadata" % (req.base_url, getattr(req, "graph_version", "v1.0"))


def entity_select(req, etype):
    """The $select of a GET of one entity (no $expand in the emulator)."""
    query = Query(req.query)
    if query.get("expand") is not None:
        raise GraphError(400, "BadRequest", "The emulator does not support $expand.")
    return odata.parse_select(query.get("select"), etype)


def utc_stamp():
    return utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")


def bad_value(prop):
    return GraphError(400, "Request_BadRequest",
                      "Invalid value specified for property '%s' of resource 'User'." % prop)


class Exchange:
    """Per-request ids and the header set every Graph response carries."""

    def __init__(self, req):
        self.req = req
        self.request_id = new_guid()
        self.client_request_id = req.header("client-request-id") or self.request_id
        self.resource_units = 1

    def headers(self, content_type=None, odata_version=False):
        headers = [("Cache-Control", "no-cache")]
        if content_type:
            headers.append(("Content-Type", content_type))
        headers += [("Vary", "Accept-Encoding"),
                    ("Strict-Transport-Security", "max-age=31536000"),
                    ("request-id", self.request_id),
                    ("client-request-id", self.client_request_id),
                    ("x-ms-ags-diagnostic", AGS_DIAGNOSTIC),
                    ("x-ms-resource-unit", str(self.resource_units))]
        if odata_version:
            headers.append(("OData-Version", "4.0"))
        headers.append(("Date", http_date()))
        return headers

    def json(self, obj, status=200):
        return Response(status, self.headers(ODATA_JSON, True), json_bytes(obj), chunked=True)

    def text(self, text):
        return Response(200, self.headers("text/plain", True), text.encode("utf-8"), chunked=True)

    def no_content(self):
        return Response(204, self.headers())

    def error_body(self, code, message, inner_extra=None):
        inner = {"date": utc_now().strftime("%Y-%m-%dT%H:%M:%S"), "request-id": self.request_id,
                 "client-request-id": self.client_request_id}
        inner.update(inner_extra or {})
        return {"error": {"code": code, "message": message, "innerError": inner}}

    def error(self, status, code, message, extra_headers=()):
        body = json_bytes(self.error_body(code, message))
        headers = self.headers("application/json")
        headers[-1:-1] = list(extra_headers)
        return Response(status, headers, body, chunked=True)

    def status_error(self, status):
        """Graph's envelope for a bare status (fault injection)."""
        if status == 429:
            # docs/wire.md §7.1 doc sample: the inner error repeats code and status.
            body = self.error_body("TooManyRequests", "Please retry again later.",
                                   {"code": "429", "message": "Please retry after", "status": "429"})
            return json_bytes(body)
        code, message = STATUS_ERRORS.get(status, ("UnknownError", ""))
        return json_bytes(self.error_body(code, message))


class Route:
    def __init__(self, name, methods, key=None, cast=None, count=False):
        self.name = name          # "user", "users", "presence", "memberOf", "presences", "batch"
        self.methods = methods
        self.key = key            # user id or UPN from the URL (decoded)
        self.cast = cast          # memberOf cast: "group" / "directoryRole" / ...
        self.count = count        # ends with /$count


class GraphService:
    def __init__(self, directory, tokens, limiter=None, stats=None):
        self.directory = directory
        self.tokens = tokens
        self.limiter = limiter            # ratelimit.RateLimiter or None
        self.stats = stats                # faults.Stats or None
        # How a batch item is served: (item Request, item url as sent) -> Response.
        # The server replaces it to apply batch_item faults first.
        self.dispatch_item = lambda ireq, url: self.handle(ireq)

    def handle(self, req):
        ex = Exchange(req)
        try:
            claims = self.authenticate(req)
            try:
                route, route_error = self.route(req, claims), None
            except GraphError as e:
                route, route_error = None, e
            throttled = self.throttle(ex, claims, route)
            if throttled is not None:
                return throttled
            if route_error is not None:
                raise route_error
            if route.name == "batch" and getattr(req, "in_batch", False):
                raise GraphError(400, "BadRequest", batch.NESTED)
            if req.method not in route.methods:
                raise GraphError(405, "Request_BadRequest", NOT_ALLOWED)
            check_content_type(req)
            handler = getattr(self, "%s_%s" % (req.method.lower(), route.name))
            return handler(ex, req, claims, route)
        except GraphError as e:
            return ex.error(e.status, e.code, e.message, e.headers)
        except ODataError as e:
            return ex.error(e.status, e.code, e.message)

    # -- throttling (docs/wire.md §7.1) ---------------------------------------------

    def throttle(self, ex, claims, route):
        """The 429 when the app's bucket for this family is empty, else None.
        A $batch itself is not charged: each of its items is."""
        if self.limiter is None or (route is not None and route.name == "batch"):
            return None
        family = "presence" if route is not None and route.name in ("presence", "presences") \
            else "other"
        retry_after = self.limiter.charge(claims.get("appid"), family)
        if retry_after is None:
            return None
        if self.stats is not None:
            self.stats.incr("throttled")
        headers = ex.headers("application/json")
        headers[-1:-1] = [("Retry-After", retry_after)]
        return Response(429, headers, ex.status_error(429), chunked=True)

    # -- authentication and authorization --------------------------------------

    def authenticate(self, req):
        scheme, _, token = (req.header("authorization") or "").strip().partition(" ")
        token = token.strip()
        challenge = [("WWW-Authenticate", WWW_AUTHENTICATE)]
        if scheme.lower() != "bearer" or not token:
            raise GraphError(401, "InvalidAuthenticationToken", "Access token is empty.", challenge)
        claims = self.tokens.lookup_access(token)
        if claims is None:
            raise GraphError(401, "InvalidAuthenticationToken",
                             "CompactToken parsing failed with error code: 80049217", challenge)
        if claims["exp"] <= time.time():
            raise GraphError(401, "InvalidAuthenticationToken",
                             "Lifetime validation failed, the token is expired.", challenge)
        return claims

    def authorize(self, claims, any_of, self_scopes, route):
        """403 unless the token holds one of any_of, or a self-only delegated scope
        and the target is the signed-in user."""
        granted = set(claims.get("roles") or []) | set((claims.get("scp") or "").split())
        if granted & any_of:
            return
        if claims.get("idtyp") == "user" and granted & self_scopes:
            user = self.directory.find_user(route.key)
            if user is not None and user["id"] == claims.get("oid"):
                return
        raise forbidden()

    def find_user(self, key):
        user = self.directory.find_user(key)
        if user is None:
            raise not_found(key)
        return user

    # -- routing ------------------------------------------------------------------

    def route(self, req, claims):
        segments = req.path.split("/")[1:]
        if len(segments) > 1 and segments[-1] == "":
            segments.pop()                                  # tolerate one trailing slash
        # Each segment is decoded on its own: %2F inside an id stays in the id.
        segments = [unquote(s, errors="replace") for s in segments]
        if not segments or segments[0] not in VERSIONS:
            raise GraphError(400, "BadRequest", "Invalid version: %s" % (segments or [""])[0])
        req.graph_version = segments[0]
        rest = segments[1:]
        if not rest:
            raise unknown_segment("")
        head = rest[0]
        key_syntax = re.fullmatch(r"users\((.*)\)", head, re.IGNORECASE | re.DOTALL)
        if head.lower() == "users":
            if len(rest) == 1:
                return Route("users", ("GET",))
            key, nav = rest[1], rest[2:]
            if key == "$count" and not nav:
                return Route("users", ("GET",), count=True)
            if key.startswith("$"):
                raise GraphError(400, "Request_BadRequest", DOLLAR_SEGMENT)
        elif key_syntax:
            key, nav = self.parse_key(key_syntax.group(1)), rest[1:]
        elif head == "$batch" and len(rest) == 1:
            return Route("batch", ("POST",))
        elif head.lower() == "subscribedskus":
            if len(rest) > 1:
                raise unknown_segment(rest[1])
            return Route("skus", ("GET",))
        elif head.lower() == "security":
            if len(rest) < 2 or rest[1].lower() != "alerts_v2":
                raise unknown_segment(rest[1] if len(rest) > 1 else head)
            if len(rest) == 2:
                return Route("alerts", ("GET",))
            if len(rest) == 3 and rest[2] == "$count":
                return Route("alerts", ("GET",), count=True)
            if len(rest) == 3:
                return Route("alert", ("GET", "PATCH"), key=rest[2])
            raise unknown_segment(rest[3])
        elif head.lower() == "communications":
            action = rest[1] if len(rest) > 1 else ""
            if action.lower() in ("getpresencesbyuserid", "microsoft.graph.getpresencesbyuserid") \
                    and len(rest) == 2:
                return Route("presences", ("POST",))
            raise unknown_segment(action or head)
        elif head.lower() == "me":
            if claims.get("idtyp") != "user":
                raise GraphError(400, "BadRequest",
                                 "/me request is only valid with delegated authentication flow.")
            key, nav = claims["oid"], rest[1:]
        else:
            raise unknown_segment(head)
        return self.user_route(key, nav)

    @staticmethod
    def parse_key(inner):
        """users('…') / users(userPrincipalName='…'): an OData string literal."""
        m = re.fullmatch(r"(?:(?:id|userPrincipalName)\s*=\s*)?'((?:[^']|'')*)'", inner.strip(),
                         re.IGNORECASE | re.DOTALL)
        if not m:
            raise GraphError(400, "BadRequest", "Bad Request - Error in query syntax.")
        return m.group(1).replace("''", "'")

    @staticmethod
    def user_route(key, nav):
        if not nav:
            return Route("user", ("GET", "PATCH"), key=key)
        first = nav[0].lower()
        if first == "presence" and len(nav) == 1:
            return Route("presence", ("GET",), key=key)
        action = first[len("microsoft.graph."):] if first.startswith("microsoft.graph.") else first
        if action == "revokesigninsessions" and len(nav) == 1:
            return Route("revoke", ("POST",), key=key)
        if action == "assignlicense" and len(nav) == 1:
            return Route("assignLicense", ("POST",), key=key)
        if first == "memberof":
            cast, rest = None, nav[1:]
            if rest and rest[0].lower().startswith("microsoft.graph."):
                type_name = rest[0][len("microsoft.graph."):]
                cast = next((t for t in MEMBER_TYPES if t.lower() == type_name.lower()), None)
                if cast is None:
                    raise unknown_segment(rest[0])
                rest = rest[1:]
            count = bool(rest) and rest[0] == "$count"
            if count:
                rest = rest[1:]
            if rest:
                raise unknown_segment(rest[0])
            return Route("memberOf", ("GET",), key=key, cast=cast, count=count)
        raise unknown_segment(nav[0] if first != "presence" else nav[1])

    # -- GET /users/{id} ---------------------------------------------------------

    def get_user(self, ex, req, claims, route):
        self.authorize(claims, READ_USER, SELF_READ, route)
        select = entity_select(req, USER_TYPE)
        with self.directory.lock:
            user = copy.deepcopy(self.find_user(route.key))
        context = "%s#users%s/$entity" % (
            metadata(req), "(%s)" % ",".join(select) if select else "")
        body = {"@odata.context": context}
        body.update(odata.project(user, select or USER_DEFAULT))
        return ex.json(body)

    # -- GET /users/{id}/presence --------------------------------------------------

    def get_presence(self, ex, req, claims, route):
        self.authorize(claims, READ_PRESENCE, SELF_PRESENCE, route)
        check_presence_id(route.key)
        user = self.find_user(route.key)
        presence = self.presence_of(user)
        body = {"@odata.context": "%s#users('%s')/presence/$entity"
                                  % (metadata(req), route.key.replace("'", "''"))}
        body.update(presence)
        return ex.json(body)

    def presence_of(self, user):
        return self.directory.user_presence(user["id"]) or {
            "id": user["id"], "availability": "PresenceUnknown", "activity": "PresenceUnknown",
            "statusMessage": None, "outOfOfficeSettings": {"message": None, "isOutOfOffice": False},
            "sequenceNumber": None}

    # -- POST /communications/getPresencesByUserId ---------------------------------

    def post_presences(self, ex, req, claims, route):
        # G-PRES*: Presence.Read.All (delegated and application); no self-only scope.
        self.authorize(claims, READ_PRESENCE, set(), route)
        body = read_json_object(req)
        for name in body:
            if name != "ids" and "@" not in name:
                raise GraphError(400, "BadRequest",
                                 "The parameter '%s' in the request payload is not a valid "
                                 "parameter for the operation 'getPresencesByUserId'." % name)
        ids = body.get("ids")
        if ids is None:
            raise GraphError(400, "BadRequest",
                             "The parameter 'ids' is missing or null in the request payload.")
        check_value("ids", "strs", ids)
        for key in ids:
            check_presence_id(key)
        if len(ids) > MAX_PRESENCE_IDS:
            raise GraphError(400, "BadRequest",
                             "The request contains %d user ids; at most %d user ids are supported "
                             "per request." % (len(ids), MAX_PRESENCE_IDS))
        values, seen = [], set()
        for key in ids:
            # Object ids (case-insensitive); unknown ids and repeats are left
            # out of `value`.
            with self.directory.lock:
                user = self.directory.users.get(key.lower()) if key else None
            if user is None or user["id"] in seen:
                continue
            seen.add(user["id"])
            values.append(self.presence_of(user))
        return ex.json({"@odata.context": "%s#Collection(microsoft.graph.presence)"
                                          % metadata(req),
                        "value": values})

    # -- POST /$batch (docs/wire.md §9) ---------------------------------------------------

    def post_batch(self, ex, req, claims, route):
        try:
            items, by_key = batch.parse(req)
        except batch.BatchError as e:
            raise GraphError(400, "BadRequest", str(e)) from None
        if self.stats is not None:
            self.stats.add("batch_items", len(items))

        def failed_dependency(ireq, dep):
            iex = Exchange(ireq)
            return iex.error(424, "FailedDependency", batch.FAILED_DEPENDENCY % dep)

        responses = batch.run(items, by_key, req, self.dispatch_item, failed_dependency)
        return ex.json({"responses": responses})

    # -- GET /users/{id}/memberOf[/cast][/$count] -----------------------------------

    def get_memberOf(self, ex, req, claims, route):
        self.authorize(claims, READ_MEMBERSHIP, SELF_READ, route)
        etype = MEMBER_TYPES[route.cast] if route.cast else DIRECTORY_OBJECT_TYPE
        query = Query(req.query)
        plan = self.plan(req, query, etype, count_segment=route.count, advanced_orderby=True)
        user = self.find_user(route.key)
        items = [(t, o) for t, o in self.directory.memberships(user["id"])
                 if route.cast is None or t == route.cast]
        # G-THROT: memberOf costs 2, less 1 for $select and 1 for $top < 20.
        ex.resource_units = max(1, 2 - bool(plan["select"]) - bool(plan["top"] and plan["top"] < 20))
        return self.respond_collection(ex, req, query, plan, items, etype,
                                       annotate=route.cast is None)

    # -- GET /users, /users/$count ------------------------------------------------

    def get_users(self, ex, req, claims, route):
        self.authorize(claims, READ_USER, set(), route)
        query = Query(req.query)
        plan = self.plan(req, query, USER_TYPE, count_segment=route.count, advanced_orderby=False)
        with self.directory.lock:
            items = [("user", copy.deepcopy(u)) for u in self.directory.users.values()]
        return self.respond_collection(ex, req, query, plan, items, USER_TYPE, annotate=False)

    # -- collections: the shared query pipeline ----------------------------------

    def plan(self, req, query, etype, count_segment, advanced_orderby):
        """Validate the query options, in the order Graph reports problems."""
        eventual = (req.header("consistencylevel") or "").strip().lower() == "eventual"
        if count_segment and not eventual:
            raise GraphError(400, "Request_BadRequest", "$count is not currently supported.")
        if query.get("expand") is not None:
            raise GraphError(400, "BadRequest", "The emulator does not support $expand.")
        if query.get("skip") is not None:
            raise GraphError(400, "Request_BadRequest", "'$skip' is not supported by the service.")
        count = odata.parse_count(query.get("count"))
        advanced = eventual and count
        select = odata.parse_select(query.get("select"), etype)
        top = odata.parse_top(query.get("top"))
        flt = None
        if query.get("filter") is not None:
            flt = odata.parse_filter(query.get("filter"), etype, advanced)
            operator = flt.advanced_operator()
            if operator and not advanced:
                raise odata.unsupported(odata.ADVANCED_HINT % operator)
        search = None
        if query.get("search") is not None:
            if not eventual:
                raise odata.unsupported(odata.SEARCH_NEEDS_HEADER)
            search = odata.parse_search(query.get("search"), etype)
        order = None
        if query.get("orderby") is not None:
            order = odata.parse_orderby(query.get("orderby"), etype)
            # Sorting memberOf, or sorting a filtered list, is an advanced query (G-AQ).
            if (advanced_orderby or flt is not None) and not advanced:
                raise odata.unsupported(odata.SORT_UNSUPPORTED)
        offset = 0
        if query.get("skiptoken") is not None:
            offset = odata.decode_skiptoken(query.get("skiptoken"))
        return {"eventual": eventual, "count": count, "select": select, "top": top,
                "filter": flt, "search": search, "order": order, "offset": offset,
                "count_segment": count_segment}

    def respond_collection(self, ex, req, query, plan, items, etype, annotate):
        matched = [(t, o) for t, o in items
                   if (plan["filter"] is None or plan["filter"].matches(o))
                   and (plan["search"] is None or plan["search"](o))]
        if plan["order"]:
            order = odata.sort_items([o for _, o in matched], plan["order"])
            type_of = {id(o): t for t, o in matched}
            matched = [(type_of[id(o)], o) for o in order]
        if plan["count_segment"]:
            return ex.text(str(len(matched)))
        size = plan["top"] or PAGE_SIZE
        offset = plan["offset"]
        page = matched[offset:offset + size]
        select = plan["select"]
        context = "%s#%s%s" % (metadata(req), etype.entity_set,
                                "(%s)" % ",".join(select) if select else "")
        body = {"@odata.context": context}
        if plan["count"] and plan["eventual"]:
            body["@odata.count"] = len(matched)
        if offset + size < len(matched):
            rest = query.raw_without("skiptoken")
            body["@odata.nextLink"] = "%s%s?%s$skiptoken=%s" % (
                req.base_url, req.path, rest + "&" if rest else "",
                odata.encode_skiptoken(offset + size))
        values = []
        for type_name, obj in page:
            own = MEMBER_TYPES.get(type_name, etype)
            names = [n for n in select if n in own.props] if select else own.default
            values.append(odata.project(obj, names, type_name if annotate else None))
        body["value"] = values
        return ex.json(body)

    # -- PATCH /users/{id} ------------------------------------------------------

    def patch_user(self, ex, req, claims, route):
        self.authorize(claims, WRITE_USER, SELF_WRITE, route)
        body = read_json_object(req)
        with self.directory.lock:
            user = self.find_user(route.key)
            changes = self.validate_patch(body, user)
            if claims.get("idtyp") == "app" and USER_DELEGATED_ONLY & set(changes):
                # G-USERUPD: not settable app-only; this is the SharePoint-backed
                # error real tenants answer with (msgraph-sdk-powershell#181, #3234).
                raise GraphError(500, "-1, Microsoft.Office.Server.Directory."
                                      "DirectoryObjectUnauthorizedAccessException",
                                 "Attempted to perform an unauthorized operation.")
            self.apply_patch(user, changes)
        return ex.no_content()

    def validate_patch(self, body, user):
        changes = {}
        for name, value in body.items():
            if "@" in name:
                continue                                   # instance annotations
            canon = USER_TYPE.lookup(name)
            if canon is None:
                raise GraphError(400, "Request_BadRequest", "Invalid property '%s'." % name)
            if canon in USER_READ_ONLY:
                raise GraphError(400, "Request_BadRequest",
                                 "Property '%s' is read-only and cannot be set." % canon)
            if value is None and canon in USER_NOT_NULL:
                raise not_null(canon, USER[canon])         # Nullable="false" in the CSDL
            check_value(canon, USER[canon], value)
            changes[canon] = value
        if "displayName" in changes and not (changes["displayName"] or "").strip():
            raise bad_value("displayName")
        if "accountEnabled" in changes and changes["accountEnabled"] is None:
            raise bad_value("accountEnabled")
        usage = changes.get("usageLocation")
        if usage is not None and not re.fullmatch(r"[A-Za-z]{2}", usage):
            raise bad_value("usageLocation")
        if "userPrincipalName" in changes:
            self.check_upn(changes["userPrincipalName"], user)
        profile = changes.get("passwordProfile")
        if isinstance(profile, dict) and profile.get("password") is not None:
            policies = changes.get("passwordPolicies", user.get("passwordPolicies")) or ""
            if not password_ok(profile["password"], "DisableStrongPassword" in policies):
                raise GraphError(400, "Request_BadRequest", PASSWORD_COMPLEXITY)
        return changes

    def check_upn(self, upn, user):
        local, at, domain = (upn or "").rpartition("@")
        if not at or not local or " " in upn:
            raise bad_value("userPrincipalName")
        if domain.lower() != self.directory.domain.lower():
            raise GraphError(400, "Request_BadRequest",
                             "The domain portion of the userPrincipalName property is invalid. You "
                             "must use one of the verified domain names in your organization.")
        other = self.directory.find_user(upn)
        if other is not None and other["id"] != user["id"]:
            raise GraphError(400, "Request_BadRequest",
                             "Another object with the same value for property userPrincipalName "
                             "already exists.")

    def apply_patch(self, user, changes):
        now = utc_now().strftime("%Y-%m-%dT%H:%M:%SZ")
        for name, value in changes.items():
            value = copy.deepcopy(value)
            if name == "passwordProfile":
                # The password is a sign-in secret: it never shows in the user object.
                if value and value.get("password") is not None:
                    self.directory.set_password(user["id"], value["password"])
                    user["lastPasswordChangeDateTime"] = now
                continue
            if name == "mail" and value:
                # Changing mail makes it the primary SMTP proxy address.
                old = [p for p in user.get("proxyAddresses") or []
                       if p.lower() != "smtp:" + value.lower()]
                user["proxyAddresses"] = ["SMTP:" + value] + [
                    "smtp:" + p[5:] if p.startswith("SMTP:") else p for p in old]
            if name == "onPremisesExtensionAttributes" and isinstance(value, dict):
                merged = dict(user.get(name) or {})
                merged.update(value)
                value = merged
            user[name] = value


    # -- POST /users/{id}/revokeSignInSessions ---------------------------------------

    def post_revoke(self, ex, req, claims, route):
        # user-revokesigninsessions: no request content; 200 with an Edm.Boolean.
        self.authorize(claims, REVOKE_SESSIONS, set(), route)
        with self.directory.lock:
            user = self.find_user(route.key)
            now = utc_stamp()
            user["signInSessionsValidFromDateTime"] = now
            # Refresh tokens issued before this instant are refused (AADSTS50173).
            self.directory.sessions_revoked_at[user["id"]] = time.time()
        return ex.json({"@odata.context": metadata(req) + "#Edm.Boolean", "value": True})

    # -- POST /users/{id}/assignLicense ------------------------------------------------

    def post_assignLicense(self, ex, req, claims, route):
        self.authorize(claims, ASSIGN_LICENSE, set(), route)
        query = Query(req.query)
        select = odata.parse_select(query.get("select"), USER_TYPE)
        self.find_user(route.key)
        add, remove = parse_assign_license(read_json_object(req))
        with self.directory.lock:
            user = self.find_user(route.key)
            self.check_licenses(user, add, remove)
            self.apply_licenses(user, add, remove)
            user = copy.deepcopy(user)
        body = {"@odata.context": "%s#users%s/$entity"
                                  % (metadata(req), "(%s)" % ",".join(select) if select else "")}
        body.update(odata.project(user, select or USER_DEFAULT))
        return ex.json(body)

    def check_licenses(self, user, add, remove):
        """Graph's refusals, in the order the emulator checks them (all 400
        Request_BadRequest)."""
        def refuse(message):
            return GraphError(400, "Request_BadRequest", message)
        if add and not user.get("usageLocation"):
            raise refuse("License assignment cannot be done for user with invalid usage location.")
        held = {(lic.get("skuId") or "").lower() for lic in user.get("assignedLicenses") or []}
        for sku_id in [a["skuId"] for a in add] + remove:
            if self.directory.sku(sku_id) is None:
                raise refuse("License %s does not correspond to a valid company License." % sku_id)
        for sku_id in remove:
            if sku_id.lower() in {a["skuId"].lower() for a in add}:
                raise refuse("License %s cannot be both added and removed in the same request."
                             % sku_id)
            if sku_id.lower() not in held:
                raise refuse("User does not have a corresponding license.")
        for item in add:
            sku = self.directory.sku(item["skuId"])
            plans = {p["servicePlanId"].lower() for p in sku["servicePlans"]}
            for plan in item["disabledPlans"]:
                if plan.lower() not in plans:
                    raise refuse("Service plan %s is not part of license %s." % (plan, sku["skuId"]))
            if item["skuId"].lower() not in held and \
                    self.directory.consumed_units(sku["skuId"]) >= sku["prepaidUnits"]["enabled"]:
                raise refuse("Subscription with SKU %s does not have any available licenses."
                             % sku["skuId"])

    def apply_licenses(self, user, add, remove):
        now = utc_stamp()
        removed = {s.lower() for s in remove} | {a["skuId"].lower() for a in add}
        licenses = [lic for lic in user.get("assignedLicenses") or []
                    if (lic.get("skuId") or "").lower() not in removed]
        for item in add:
            sku = self.directory.sku(item["skuId"])
            licenses.append({"disabledPlans": [p.lower() for p in item["disabledPlans"]],
                             "skuId": sku["skuId"]})
        user["assignedLicenses"] = licenses
        # assignedPlans: plans of the held SKUs (not disabled) are Enabled; plans no
        # longer granted stay listed as Deleted.
        enabled = {}
        for lic in licenses:
            sku = self.directory.sku(lic["skuId"])
            for plan in (sku["servicePlans"] if sku else []):
                pid = plan["servicePlanId"]
                if pid not in lic["disabledPlans"] and plan["appliesTo"] == "User":
                    enabled[pid] = True
        plans, seen = [], set()
        for plan in user.get("assignedPlans") or []:
            pid = plan["servicePlanId"]
            seen.add(pid)
            status = "Enabled" if pid in enabled else "Deleted"
            if status != plan["capabilityStatus"]:
                plan = dict(plan, capabilityStatus=status, assignedDateTime=now)
            plans.append(plan)
        for pid in enabled:
            if pid not in seen:
                plans.append({"assignedDateTime": now, "capabilityStatus": "Enabled",
                              "service": self.directory.plan_services.get(pid),
                              "servicePlanId": pid})
        user["assignedPlans"] = plans

    # -- GET /subscribedSkus -------------------------------------------------------------

    def get_skus(self, ex, req, claims, route):
        self.authorize(claims, READ_SKUS, set(), route)
        query = Query(req.query)
        for option in ("filter", "search", "orderby", "expand", "skip", "top", "count"):
            if query.get(option) is not None:
                # subscribedsku-list: "This method supports only the $select OData query
                # parameter"; the wording is the emulator's.
                raise odata.unsupported("Query option '$%s' is not supported on subscribedSkus."
                                        % option)
        select = odata.parse_select(query.get("select"), SUBSCRIBED_SKU_TYPE)
        values = []
        for sku in copy.deepcopy(self.directory.subscribed_skus):
            sku["consumedUnits"] = self.directory.consumed_units(sku["skuId"])
            values.append(odata.project(sku, select or SUBSCRIBED_SKU_TYPE.default))
        context = "%s#subscribedSkus%s" % (metadata(req), "(%s)" % ",".join(select) if select else "")
        return ex.json({"@odata.context": context, "value": values})

    # -- /security/alerts_v2 -------------------------------------------------------------

    def get_alerts(self, ex, req, claims, route):
        self.authorize(claims, READ_ALERTS, set(), route)
        query = Query(req.query)
        plan = security.plan(query)
        with self.directory.lock:
            alerts = copy.deepcopy(list(self.directory.alerts.values()))
        matched = security.select(alerts, plan)
        if route.count:
            return ex.text(str(len(matched)))
        items, next_offset = security.page(matched, plan)
        select = plan["select"]
        body = {"@odata.context": "%s#security/alerts_v2%s"
                                  % (metadata(req), "(%s)" % ",".join(select) if select else "")}
        if plan["count"]:
            body["@odata.count"] = len(matched)
        if next_offset is not None:
            rest = "&".join(part for part in query.raw_without("skip").split("&")
                            if part and unquote(part.partition("=")[0]).lower().lstrip("$")
                            != "skiptoken")
            body["@odata.nextLink"] = "%s%s?%s$skip=%d" % (
                req.base_url, req.path, rest + "&" if rest else "", next_offset)
        body["value"] = [security.project(a, select) for a in items]
        return ex.json(body)

    def get_alert(self, ex, req, claims, route):
        self.authorize(claims, READ_ALERTS, set(), route)
        select = entity_select(req, ALERT_TYPE)
        with self.directory.lock:
            alert = copy.deepcopy(self.find_alert(route.key))
        return ex.json(self.alert_body(req, alert, select))

    def patch_alert(self, ex, req, claims, route):
        # security-alert-update: 200 with the updated alert.
        self.authorize(claims, WRITE_ALERTS, set(), route)
        with self.directory.lock:
            self.find_alert(route.key)
        changes = security.validate_patch(read_json_object(req))
        with self.directory.lock:
            alert = self.find_alert(route.key)
            security.apply_patch(alert, changes,
                                 utc_now().strftime("%Y-%m-%dT%H:%M:%S.%f0Z"))
            alert = copy.deepcopy(alert)
        return ex.json(self.alert_body(req, alert, None))

    def find_alert(self, key):
        alert = self.directory.alerts.get(key)
        if alert is None:
            raise security.not_found(key)
        return alert

    @staticmethod
    def alert_body(req, alert, select):
        body = {"@odata.context": "%s#security/alerts_v2%s/$entity"
                                  % (metadata(req), "(%s)" % ",".join(select) if select else "")}
        body.update(security.project(alert, select))
        return body


def check_presence_id(key):
    """Presence takes object ids only ("You must pass the user's ID", G-PRES*):
    a userPrincipalName or any other non-GUID is a 400 (emulator wording; the
    real body is not known)."""
    if not GUID.fullmatch(key or ""):
        raise GraphError(400, "BadRequest",
                         "The user id '%s' is not valid: presence takes the user's object id "
                         "(a GUID), not a userPrincipalName." % key)


def parse_assign_license(body):
    """(addLicenses [{skuId, disabledPlans}], removeLicenses [skuId]) from an
    assignLicense payload; OData's 400s for a malformed one."""
    for name in body:
        if name not in ("addLicenses", "removeLicenses") and "@" not in name:
            raise GraphError(400, "BadRequest",
                             "The parameter '%s' in the request payload is not a valid parameter "
                             "for the operation 'assignLicense'." % name)
    missing = [n for n in ("addLicenses", "removeLicenses") if n not in body]
    if missing:
        raise GraphError(400, "BadRequest",
                         "One or more parameters of the operation 'assignLicense' are missing from "
                         "the request payload. The missing parameters are: %s." % ", ".join(missing))
    add, remove = body["addLicenses"], body["removeLicenses"]
    check_value("addLicenses", "objs:assignedLicense", add)
    check_value("removeLicenses", "strs", remove)
    items = []
    for item in add:
        for name in item:
            if name not in ("skuId", "disabledPlans") and "@" not in name:
                raise odata_error("The property '%s' does not exist on type "
                                  "'microsoft.graph.assignedLicense'. Make sure to only use "
                                  "property names that are defined by the type or mark the type "
                                  "as open type." % name)
        sku_id = item.get("skuId")
        if sku_id is None:
            raise odata_error("A null value was found for the property named 'skuId', which has "
                              "the expected type 'Edm.Guid[Nullable=False]'. The expected type "
                              "'Edm.Guid[Nullable=False]' does not allow null values.")
        plans = item.get("disabledPlans")
        if plans is None:
            plans = []
        check_value("disabledPlans", "strs", plans)
        for guid in [sku_id] + plans:
            check_guid(guid)
        items.append({"skuId": sku_id, "disabledPlans": plans})
    for guid in remove:
        check_guid(guid)
    return items, remove


GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def check_guid(value):
    if isinstance(value, (dict, list)):
        check_primitive("str", value)
    if not isinstance(value, str) or not GUID.fullmatch(value):
        raise odata_error("Cannot convert the literal '%s' to the expected type 'Edm.Guid'."
                          % value)

# ==========================================================================
# Request payloads: JSON objects; type checks in OData's wording (BadRequest)
# ==========================================================================

def check_content_type(req):
    """Writes carry JSON or nothing: any other Content-Type is refused, even on a
    bodyless action (libcurl's default form type on an empty POST included)."""
    ctype = req.header("content-type")
    if req.method not in ("POST", "PATCH", "PUT") or ctype is None:
        return
    if ctype.split(";")[0].strip().lower() != "application/json":
        raise GraphError(400, "Request_BadRequest", UNSUPPORTED_MEDIA % ctype.strip())


def read_json_object(req):
    """The request body as a JSON object; a wrong or missing Content-Type, invalid
    JSON or a non-object all give the same 400."""
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    try:
        if ctype != "application/json":
            raise ValueError
        body = json.loads(req.body.decode("utf-8"))
        if not isinstance(body, dict):
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise GraphError(400, "BadRequest", UNREADABLE_JSON) from None
    return body


def odata_error(message):
    return GraphError(400, "BadRequest", message)


def json_node(value):
    if isinstance(value, dict):
        return "StartObject"
    if isinstance(value, list):
        return "StartArray"
    return "PrimitiveValue"


def not_null(prop, code):
    edm = edm_name(code)
    return odata_error("A null value was found for the property named '%s', which has the "
                       "expected type '%s[Nullable=False]'. The expected type '%s"
                       "[Nullable=False]' does not allow null values." % (prop, edm, edm))


def expect_array(prop, value):
    if not isinstance(value, list):
        raise odata_error("A node of type '%s' was read from the JSON reader when trying to "
                          "read the contents of the property '%s'; however, a 'StartArray' "
                          "node was expected." % (json_node(value), prop))


def check_value(prop, code, value):
    """A JSON value against a type code (schema.py), in OData's wording."""
    kind, _, type_name = code.partition(":")
    if value is None:
        if code in ("strs", "guids") or kind in ("objs", "enums"):
            raise not_null(prop, code)
        return
    if code in ("strs", "guids"):
        expect_array(prop, value)
        for item in value:
            check_primitive(code[:-1], item)
    elif kind in ("objs", "enums"):
        expect_array(prop, value)
        for item in value:
            check_value(prop, kind[:-1] + ":" + type_name, item)
    elif kind == "obj":
        check_complex(prop, type_name, value)
    elif kind == "enum":
        check_primitive("str", value)
        if value.casefold() not in (m.casefold() for m in ENUMS[type_name]):
            raise odata_error("Cannot convert the literal '%s' to the expected type '%s'."
                              % (value, edm_name(code)))
    else:
        check_primitive(code, value)


def check_primitive(code, value):
    if isinstance(value, (dict, list)):
        raise odata_error("An unexpected '%s' node was found when reading from the JSON reader. A "
                          "'PrimitiveValue' node was expected." % json_node(value))
    if value is None:
        return
    edm = edm_name(code)
    if code == "bool" and not isinstance(value, bool):
        if isinstance(value, str):
            raise odata_error("Cannot convert the literal '%s' to the expected type '%s'."
                              % (value, edm))
        raise odata_error("Cannot convert a primitive value to the expected type '%s'. See the "
                          "inner exception for more details." % edm)
    numeric = code in ("int", "float") and isinstance(value, (int, float)) \
        and not isinstance(value, bool) and (code == "float" or float(value).is_integer())
    textual = code in ("str", "dt", "guid", "tod") and isinstance(value, str)
    if code != "bool" and not (numeric or textual):
        raise odata_error("Cannot convert a primitive value to the expected type '%s'. See the "
                          "inner exception for more details." % edm)
    if code == "dt" and not valid_datetime(value):
        raise odata_error("Cannot convert the literal '%s' to the expected type '%s'."
                          % (value, edm))


def check_complex(prop, type_name, value):
    if not isinstance(value, dict):
        raise odata_error("A node of type '%s' was read from the JSON reader when trying to read "
                          "the contents of the property '%s'; however, a 'StartObject' node was "
                          "expected." % (json_node(value), prop))
    members = COMPLEX.get(type_name)
    if members is None:
        return                                             # open type
    for name, item in value.items():
        if "@" in name:
            continue
        if name not in members:
            raise odata_error("The property '%s' does not exist on type 'microsoft.graph.%s'. "
                              "Make sure to only use property names that are defined by the type "
                              "or mark the type as open type." % (name, type_name))
        check_value(name, members[name], item)


def valid_datetime(text):
    try:
        parsed = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return parsed.tzinfo is not None


def password_ok(password, weak_allowed):
    """Entra's default policy: 8-256 characters from at least 3 of 4 classes."""
    if not isinstance(password, str) or not 8 <= len(password) <= 256:
        return False
    if weak_allowed:
        return True
    classes = [any(c.islower() for c in password), any(c.isupper() for c in password),
               any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    return sum(classes) >= 3
