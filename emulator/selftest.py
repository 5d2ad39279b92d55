#!/usr/bin/env python3
"""Self-test for the emulator: starts it on a free port and checks the routes,
the control plane, faults, keep-alive, concurrency, TLS and process handling.

    python3 emulator/selftest.py [-v] [--certs DIR]

--certs: make-certs.sh's output to use (else it is made in a temporary directory).

Exit status 0 when every check passes.
"""

import base64
import gzip
import hashlib
import http.client
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid

import gen_tenant

HERE = os.path.dirname(os.path.abspath(__file__))
SERVER = os.path.join(HERE, "server.py")
ADELE = "87d349ed-44d7-43e1-9a83-5f2406dee5bd"
LYNNE = "e2a9f0c4-3b1d-4c8e-9f6a-2d5b7e1c0a93"
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
VERBOSE = "-v" in sys.argv
CERTS = sys.argv[sys.argv.index("--certs") + 1] if "--certs" in sys.argv[:-1] else None
failures = []


def check(name, condition, detail=""):
    if condition:
        if VERBOSE:
            print("ok   " + name)
    else:
        failures.append(name)
        print("FAIL %s %s" % (name, detail))


class Emulator:
    """A running server.py plus helpers to talk to it."""

    def __init__(self, *extra):
        self.tmpdir = tempfile.mkdtemp(prefix="emu-")
        self.ready_file = os.path.join(self.tmpdir, "ready.json")
        self.proc = subprocess.Popen(
            [sys.executable, SERVER, "--port", "0", "--quiet", "--ready-file", self.ready_file,
             "--watch-pid", str(os.getpid())] + list(extra),
            stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.proc.stdout.readline())
        parsed = urllib.parse.urlsplit(self.info["url"])
        self.tls = parsed.scheme == "https"
        self.host, self.port = parsed.hostname, parsed.port
        self.ca_file = None
        self.control_conn = None

    def connect(self):
        if self.tls:
            context = ssl.create_default_context(cafile=self.ca_file)
            return http.client.HTTPSConnection(self.host, self.port, context=context, timeout=30)
        return http.client.HTTPConnection(self.host, self.port, timeout=30)

    def request(self, method, path, headers=None, body=None, conn=None):
        """(status, headers {lower: value}, body bytes) on a fresh or given connection."""
        own = conn is None
        conn = conn or self.connect()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
        finally:
            if own:
                conn.close()

    def control(self, method, path, body=None):
        # The control plane gets its own long-lived connection, as the tests do.
        if self.control_conn is None:
            self.control_conn = self.connect()
        payload = json.dumps(body) if body is not None else None
        status, _, data = self.request(method, "/_emulator" + path, body=payload,
                                       conn=self.control_conn)
        return status, json.loads(data)

    def token(self, grant="client_credentials", tenant=None, **params):
        form = {"grant_type": grant, "client_id": self.info["client_id"],
                "client_secret": self.info["client_secret"]}
        if grant == "client_credentials":
            form["scope"] = GRAPH_SCOPE
        form.update(params)
        form = {k: v for k, v in form.items() if v is not None}
        status, headers, data = self.request(
            "POST", "/%s/oauth2/v2.0/token" % (tenant or self.info["tenant_id"]),
            {"Content-Type": "application/x-www-form-urlencoded"}, urllib.parse.urlencode(form))
        return status, headers, json.loads(data)

    def access_token(self, **params):
        status, _, body = self.token(**params)
        assert status == 200, body
        return body["access_token"]

    def graph(self, path, token, method="GET", headers=None, body=None, conn=None):
        h = {"Authorization": "Bearer " + token}
        h.update(headers or {})
        status, rh, data = self.request(method, path, h, body, conn)
        if rh.get("content-encoding") == "gzip":
            data = gzip.decompress(data)
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return status, rh, parsed, data

    def stop(self):
        if self.control_conn:
            self.control_conn.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmpdir, ignore_errors=True)


# ==========================================================================

def test_ready(emu):
    info = emu.info
    for key in ("url", "login_url", "graph_url", "tenant_id", "client_id", "client_secret", "pid"):
        check("ready: has %s" % key, key in info)
    with open(emu.ready_file) as f:
        check("ready: file matches stdout", json.load(f) == info)
    check("ready: pid", info["pid"] == emu.proc.pid)


def test_token_endpoint(emu):
    status, headers, body = emu.token()
    check("cc: 200", status == 200, body)
    check("cc: fields", list(body) == ["token_type", "expires_in", "ext_expires_in", "access_token"], body)
    check("cc: JWT-shaped", body["access_token"].startswith("eyJ") and body["access_token"].count(".") == 2)
    check("cc: headers", headers.get("cache-control") == "no-store, no-cache"
          and headers.get("content-type") == "application/json; charset=utf-8"
          and "x-ms-request-id" in headers)
    claims = json.loads(base64.urlsafe_b64decode(body["access_token"].split(".")[1] + "=="))
    check("cc: claims", claims["aud"] == "https://graph.microsoft.com" and "roles" in claims
          and claims["tid"] == emu.info["tenant_id"])

    status, _, body = emu.token(client_secret="wrong")
    check("cc: bad secret 401", status == 401 and body["error"] == "invalid_client"
          and body["error_codes"] == [7000215], body)
    for field in ("error_description", "timestamp", "trace_id", "correlation_id", "error_uri"):
        check("error: has %s" % field, field in body)
    check("error: description layout", body["error_description"].startswith("AADSTS7000215: ")
          and "\r\nTrace ID: " in body["error_description"])

    # The secret is only right when form-encoded: sent raw, '+', '&', '=' and '%' break it.
    raw = "grant_type=client_credentials&client_id=%s&client_secret=%s&scope=%s" % (
        emu.info["client_id"], emu.info["client_secret"], GRAPH_SCOPE)
    status, _, data = emu.request("POST", "/%s/oauth2/v2.0/token" % emu.info["tenant_id"],
                                  {"Content-Type": "application/x-www-form-urlencoded"}, raw)
    check("cc: unencoded secret fails", status in (400, 401), data)

    basic = base64.b64encode(("%s:%s" % (emu.info["client_id"], emu.info["client_secret"])).encode()).decode()
    status, _, data = emu.request("POST", "/%s/oauth2/v2.0/token" % emu.info["tenant_domain"],
                                  {"Content-Type": "application/x-www-form-urlencoded",
                                   "Authorization": "Basic " + basic},
                                  urllib.parse.urlencode({"grant_type": "client_credentials",
                                                          "scope": GRAPH_SCOPE}))
    check("cc: client_secret_basic + domain tenant", status == 200, data)

    cases = [
        ("missing secret", dict(client_secret=None), 401, "invalid_client", 7000218),
        ("no /.default", dict(scope="User.Read"), 400, "invalid_scope", 1002012),
        ("unknown resource", dict(scope="https://example.com/.default"), 400, "invalid_scope", 70011),
        ("unknown app", dict(client_id="12345678-1234-1234-1234-123456789012"), 400,
         "unauthorized_client", 700016),
        ("unknown tenant", dict(tenant="11111111-2222-3333-4444-555555555555"), 400,
         "invalid_request", 90002),
        ("missing scope", dict(scope=None), 400, "invalid_request", 900144),
        ("bad grant_type", dict(grant="client_credential"), 400, "unsupported_grant_type", 70003),
    ]
    for name, params, want_status, want_error, want_code in cases:
        grant = params.pop("grant", "client_credentials")
        status, _, body = emu.token(grant=grant, **params)
        check("cc: %s" % name, status == want_status and body.get("error") == want_error
              and body.get("error_codes") == [want_code], (status, body))

    status, _, data = emu.request("POST", "/%s/oauth2/v2.0/token" % emu.info["tenant_id"],
                                  {"Content-Type": "application/json"},
                                  json.dumps({"grant_type": "client_credentials"}))
    check("token: JSON body is not read", status == 400 and b"900144" in data)

    # ROPC
    user = dict(username=emu.info["username"], password=emu.info["password"],
                scope=GRAPH_SCOPE + " offline_access")
    status, _, body = emu.token("password", **user)
    check("ropc: 200 with refresh_token", status == 200 and "refresh_token" in body
          and "scope" in body and "id_token" not in body, body)
    status, _, body = emu.token("password", **dict(user, password="nope"))
    check("ropc: bad password", status == 400 and body["error_codes"] == [50126], body)
    status, _, body = emu.token("password", **dict(user, username=emu.info["mfa_username"],
                                                   password="Megan P@ss&w0rd=2"))
    check("ropc: MFA", status == 400 and body["error_codes"] == [50076]
          and body.get("suberror") == "basic_action", body)
    status, _, body = emu.token("password", tenant="common", **user)
    check("ropc: /common refused", status == 400 and body["error_codes"] == [9001023], body)
    status, _, body = emu.token("password", **dict(user, scope="User.Read"))
    check("ropc: no refresh_token without offline_access", status == 200 and "refresh_token" not in body)

    # Refresh: rotation, reuse, expiry.
    seed = emu.info["refresh_token"]
    status, _, body = emu.token("refresh_token", tenant="common", refresh_token=seed)
    check("refresh: /common for a single-tenant app", status == 400
          and body["error_codes"] == [50194], body)
    status, _, first = emu.token("refresh_token", refresh_token=seed)
    check("refresh: seeded token works", status == 200 and first.get("refresh_token") not in (None, seed), first)
    status, _, body = emu.token("refresh_token", refresh_token=seed)
    check("refresh: reuse after rotation", status == 400 and body["error_codes"] == [70008], body)
    status, _, body = emu.token("refresh_token", refresh_token=first["refresh_token"],
                                scope="https://example.com/x")
    check("refresh: failed request keeps the token", status == 400 and body["error"] == "invalid_scope")
    status, _, second = emu.token("refresh_token", refresh_token=first["refresh_token"])
    check("refresh: rotated token works", status == 200, second)
    emu.control("POST", "/refresh_tokens/expire", {"refresh_token": second["refresh_token"]})
    status, _, body = emu.token("refresh_token", refresh_token=second["refresh_token"])
    check("refresh: expired", status == 400 and body["error_codes"] == [700082], body)


def test_graph_users(emu):
    token = emu.access_token()
    status, headers, body, _ = emu.graph("/v1.0/users/" + ADELE, token)
    check("user: 200", status == 200, body)
    check("user: default properties", list(body) == [
        "@odata.context", "businessPhones", "displayName", "givenName", "jobTitle", "mail",
        "mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"], body)
    check("user: context", body["@odata.context"].endswith("/v1.0/$metadata#users/$entity"))
    check("user: content type", headers.get("content-type") == (
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"))
    check("user: graph headers", all(h in headers for h in (
        "request-id", "client-request-id", "date", "strict-transport-security",
        "x-ms-ags-diagnostic", "x-ms-resource-unit", "odata-version")))
    check("user: client-request-id defaults to request-id",
          headers["client-request-id"] == headers["request-id"])
    status, headers, _, _ = emu.graph("/v1.0/users/" + ADELE, token, headers={"client-request-id": "abc-123"})
    check("user: client-request-id echoed", headers.get("client-request-id") == "abc-123"
          and headers.get("request-id") != "abc-123")
    status, headers, body, raw = emu.graph("/v1.0/users/" + ADELE, token, headers={"Accept-Encoding": "gzip"})
    check("user: gzip", headers.get("content-encoding") == "gzip" and body and body["id"] == ADELE)

    status, _, body, _ = emu.graph("/v1.0/users/Adele.Vance@CONTOSO.onmicrosoft.com"
                                   "?$select=displayName,givenName,postalCode,identities", token)
    check("user: UPN + $select", status == 200 and list(body) == [
        "@odata.context", "displayName", "givenName", "postalCode", "identities"], body)
    check("user: $select context", body["@odata.context"].endswith(
        "$metadata#users(displayName,givenName,postalCode,identities)/$entity"))
    status, _, body, _ = emu.graph("/v1.0/users/%s?$select=doesNotExist" % ADELE, token)
    check("user: bad $select", status == 400 and body["error"]["code"] == "BadRequest"
          and "Could not find a property named 'doesNotExist' on type 'microsoft.graph.user'"
          in body["error"]["message"], body)
    status, headers, body, _ = emu.graph("/v1.0/users/nobody@contoso.onmicrosoft.com", token)
    check("user: 404", status == 404 and body["error"]["code"] == "Request_ResourceNotFound"
          and headers.get("content-type") == "application/json", body)
    inner = body["error"]["innerError"]
    check("error envelope: innerError", set(inner) == {"date", "request-id", "client-request-id"}
          and len(inner["date"]) == 19, inner)
    status, _, body, _ = emu.graph("/v1.0/users/%24svc-backup@contoso.onmicrosoft.com", token)
    check("user: /users/$... is 400", status == 400 and body["error"]["code"] == "Request_BadRequest", body)
    status, _, body, _ = emu.graph("/v1.0/users('%24svc-backup@contoso.onmicrosoft.com')", token)
    check("user: users('$...')", status == 200 and body["displayName"] == "Backup Service", body)
    status, _, body, _ = emu.graph("/v1.0/users('patrick.o''brien@contoso.onmicrosoft.com')", token)
    check("user: users('') doubled quote", status == 200 and body["surname"] == "O'Brien", body)
    status, _, body, _ = emu.graph("/v1.0/users/patrick.o%27brien%40contoso.onmicrosoft.com", token)
    check("user: apostrophe in path", status == 200 and body["surname"] == "O'Brien", body)
    status, _, body, _ = emu.graph("/v1.0/users/john.smith_fabrikam.com%23EXT%23@contoso.onmicrosoft.com", token)
    check("user: guest via %23", status == 200 and body["givenName"] == "John", body)
    for path in ("/v1.0/groups/" + ADELE, "/v1.0/users/%s/bogus" % ADELE, "/v1.0/users/a/b"):
        status, _, body, _ = emu.graph(path, token)
        check("route: %s not a user lookup" % path, status == 400
              and body["error"]["message"].startswith("Resource not found for the segment"), body)
    status, _, body, _ = emu.graph("http://graph.example.test/v1.0/users/" + ADELE, token)
    check("route: absolute-form (as an HTTP proxy)", status == 200 and body["id"] == ADELE, body)
    status, _, body, _ = emu.graph("/v1.0/users/a%2Fb", token)
    check("route: %2F stays in the key", status == 404 and "'a/b'" in body["error"]["message"], body)
    status, _, body, _ = emu.graph("/v1.0/users/" + ADELE, token, method="DELETE")
    check("route: 405", status == 405 and body["error"]["code"] == "Request_BadRequest"
          and body["error"]["message"] == "Specified HTTP method is not allowed for the request target.", body)

    status, _, body, _ = emu.graph("/v1.0/users/%s/presence" % ADELE, token)
    check("presence: 200", status == 200 and body["availability"] and body["activity"]
          and body["@odata.context"].endswith("$metadata#users('%s')/presence/$entity" % ADELE), body)
    check("presence: fields", {"id", "availability", "activity", "statusMessage",
                               "outOfOfficeSettings", "sequenceNumber"} <= set(body), body)


def test_graph_auth(emu):
    status, headers, body, _ = emu.graph("/v1.0/users/" + ADELE, "")
    check("401: empty", status == 401 and body["error"]["message"] == "Access token is empty."
          and headers.get("www-authenticate", "").startswith('Bearer realm=""'), body)
    status, _, body, _ = emu.graph("/v1.0/users/" + ADELE, "not-a-token")
    check("401: foreign token", status == 401 and "CompactToken parsing failed" in body["error"]["message"])
    token = emu.access_token()
    emu.control("POST", "/expire_tokens")
    status, _, body, _ = emu.graph("/v1.0/users/" + ADELE, token)
    check("401: expired", status == 401 and body["error"]["code"] == "InvalidAuthenticationToken"
          and body["error"]["message"] == "Lifetime validation failed, the token is expired.", body)

    limited = emu.access_token(client_id=emu.info["limited_client_id"],
                               client_secret=emu.info["limited_client_secret"])
    status, _, _, _ = emu.graph("/v1.0/users/" + ADELE, limited)
    check("403: limited app can read users", status == 200)
    for path, method in (("/v1.0/users/%s/presence" % ADELE, "GET"),
                         ("/v1.0/users/%s/memberOf" % ADELE, "GET"),
                         ("/v1.0/users/" + ADELE, "PATCH")):
        status, _, body, _ = emu.graph(path, limited, method=method,
                                       headers={"Content-Type": "application/json"}, body="{}")
        check("403: %s %s" % (method, path), status == 403
              and body["error"]["code"] == "Authorization_RequestDenied"
              and body["error"]["message"] == "Insufficient privileges to complete the operation.", body)

    status, _, body = emu.token("password", username=emu.info["username"],
                                password=emu.info["password"], scope="User.Read")
    delegated = body["access_token"]
    status, _, body, _ = emu.graph("/v1.0/me?$select=id", delegated)
    check("/me with a delegated token", status == 200 and body["id"] == ADELE, body)
    status, _, body, _ = emu.graph("/v1.0/me", emu.access_token())
    check("/me with an app token is 400", status == 400, body)


def test_member_of(emu):
    token = emu.access_token()
    eventual = {"ConsistencyLevel": "eventual"}
    path = "/v1.0/users/%s/memberOf" % LYNNE
    seen, pages, url = [], 0, path
    while url:
        status, _, body, _ = emu.graph(url, token)
        check("memberOf: page %d" % pages, status == 200, body)
        pages += 1
        seen += [v["id"] for v in body["value"]]
        next_link = body.get("@odata.nextLink")
        if next_link:
            check("memberOf: nextLink absolute", next_link.startswith(emu.info["url"] + path + "?"))
            url = next_link[len(emu.info["url"]):]
        else:
            url = None
    check("memberOf: 3 pages, 250+ unique", pages == 3 and len(seen) == len(set(seen)) >= 250,
          (pages, len(seen)))
    status, _, body, _ = emu.graph(path + "?$top=1", token)
    check("memberOf: types annotated", body["value"][0]["@odata.type"].startswith("#microsoft.graph."))
    check("memberOf: context", body["@odata.context"].endswith("$metadata#directoryObjects"))
    check("memberOf: nextLink keeps $top", "$top=1" in body["@odata.nextLink"]
          and "$skiptoken=" in body["@odata.nextLink"])

    status, _, body, _ = emu.graph(path + "?$count=true&$top=5", token)
    check("memberOf: $count ignored without header", status == 200 and "@odata.count" not in body)
    status, _, body, _ = emu.graph(path + "?$count=true&$top=5", token, headers=eventual)
    check("memberOf: $count with header", body.get("@odata.count") == len(seen), body.get("@odata.count"))
    status, headers, _, raw = emu.graph(path + "/$count", token, headers=eventual)
    check("memberOf: /$count", status == 200 and raw == str(len(seen)).encode()
          and headers["content-type"].startswith("text/plain"), raw)
    status, _, body, _ = emu.graph(path + "/$count", token)
    check("memberOf: /$count needs header", status == 400
          and body["error"]["message"] == "$count is not currently supported.")
    status, _, body, _ = emu.graph(path + "/microsoft.graph.directoryRole?$select=displayName,roleTemplateId",
                                   token)
    check("memberOf: cast", status == 200
          and body["@odata.context"].endswith("#directoryRoles(displayName,roleTemplateId)")
          and all(set(v) == {"displayName", "roleTemplateId"} for v in body["value"]), body)

    for top in ("0", "1000"):
        status, _, body, _ = emu.graph(path + "?$top=" + top, token)
        check("memberOf: $top=%s" % top, status == 400 and body["error"]["code"] == "Request_UnsupportedQuery"
              and body["error"]["message"] == "Invalid page size specified: '%s'. Must be between 1 and "
                                              "999 inclusive." % top)

    q = urllib.parse.quote
    status, _, body, _ = emu.graph(path + "?$filter=" + q("startswith(displayName,'Tier')"), token)
    check("filter: startswith (basic)", status == 200 and len(body["value"]) == 2, body)
    status, _, body, _ = emu.graph(path + "?$filter=" + q("displayName eq 'O''Brien Field Crew'"), token)
    check("filter: doubled quote", status == 200 and len(body["value"]) == 1, body)
    status, _, body, _ = emu.graph(path + "?$top=999&$filter=" + q("securityEnabled eq true and mailEnabled eq false"),
                                   token)
    check("filter: booleans", status == 200 and body["value"]
          and all(v["securityEnabled"] is True and v["mailEnabled"] is False for v in body["value"]))
    for expr, op in (("endswith(mail,'.com')", "endsWith"), ("displayName ne 'x'", "ne"),
                     ("not(startswith(displayName,'P'))", "not")):
        status, _, body, _ = emu.graph(path + "?$filter=" + q(expr), token)
        check("filter: %s needs advanced" % op, status == 400
              and body["error"]["message"].startswith("Operator '%s' is not supported" % op), body)
        status, _, body, _ = emu.graph(path + "?$count=true&$filter=" + q(expr), token, headers=eventual)
        check("filter: %s advanced ok" % op, status == 200, body)
    status, _, body, _ = emu.graph(path + "?$filter=" + q("displayName eq 'x"), token)
    check("filter: syntax error", status == 400 and body["error"]["message"].startswith("Invalid filter clause"))

    status, _, body, _ = emu.graph(path + "?$search=" + q('"displayName:tier"'), token)
    check("search: needs header", status == 400 and body["error"]["code"] == "Request_UnsupportedQuery"
          and "ConsistencyLevel: eventual" in body["error"]["message"], body)
    status, _, body, _ = emu.graph(path + "/microsoft.graph.group?$count=true&$orderby=displayName&$search="
                                   + q('"displayName:tier"') + "&$select=displayName,id", token, headers=eventual)
    names = [v["displayName"] for v in body.get("value", [])]
    check("search: tokenized match, ordered", status == 200 and names == sorted(names, key=str.casefold)
          and "Contoso-tier Query Notification" in names and body.get("@odata.count") == len(names), body)
    status, _, body, _ = emu.graph(path + "?$search=" + q("displayName:tier"), token, headers=eventual)
    check("search: unquoted is a syntax error", status == 400, body)
    status, _, body, _ = emu.graph(path + "?$orderby=displayName", token)
    check("orderby: needs advanced", status == 400 and body["error"]["code"] == "Request_UnsupportedQuery")


def test_patch(emu):
    token = emu.access_token()
    json_type = {"Content-Type": "application/json"}
    def patch(body, key=ADELE):
        return emu.graph("/v1.0/users/" + key, token, "PATCH", json_type, json.dumps(body))

    status, headers, body, raw = patch({"jobTitle": "Regional Manager", "city": "Redmond"})
    check("patch: 204", status == 204 and raw == b"" and "request-id" in headers)
    _, state = emu.control("GET", "/state/users/" + ADELE)
    check("patch: persisted (state)", state["jobTitle"] == "Regional Manager" and state["city"] == "Redmond")
    status, _, body, _ = emu.graph("/v1.0/users/%s?$select=jobTitle,city" % ADELE, token)
    check("patch: persisted (GET)", body["jobTitle"] == "Regional Manager")
    status, _, body, _ = patch({"favouriteColour": "blue"})
    check("patch: unknown property", status == 400 and body["error"]["code"] == "Request_BadRequest"
          and body["error"]["message"] == "Invalid property 'favouriteColour'.", body)
    for prop in ("id", "createdDateTime", "proxyAddresses", "onPremisesSyncEnabled"):
        status, _, body, _ = patch({prop: None})
        check("patch: %s read-only" % prop, status == 400 and body["error"]["message"]
              == "Property '%s' is read-only and cannot be set." % prop, body)
    status, _, _, _ = patch({"onPremisesImmutableId": "abc"})
    check("patch: onPremisesImmutableId writable", status == 204)
    status, _, body, _ = patch({"passwordProfile": {"password": "weak"}})
    check("patch: weak password", status == 400 and "complexity" in body["error"]["message"], body)
    status, _, _, _ = patch({"passwordProfile": {"password": "xWwvJ]6NMw+bWH-d",
                                                 "forceChangePasswordNextSignIn": False}})
    check("patch: strong password", status == 204)
    status, _, body = emu.token("password", username=emu.info["username"],
                                password="xWwvJ]6NMw+bWH-d", scope="User.Read")
    check("patch: new password signs in", status == 200, body)
    status, _, body, _ = emu.graph("/v1.0/users/" + ADELE, token, "PATCH", json_type, "{nope")
    check("patch: invalid JSON", status == 400 and body["error"]["code"] == "BadRequest")
    status, _, body, _ = patch({"jobTitle": "x"}, "nobody@contoso.onmicrosoft.com")
    check("patch: 404", status == 404)

    emu.control("POST", "/reset")
    _, state = emu.control("GET", "/state/users/" + ADELE)
    check("reset: fixture reloaded", state["jobTitle"] == "Retail Manager")
    status, _, _ = emu.token("refresh_token", refresh_token=emu.info["refresh_token"])
    check("reset: seeded refresh token restored", status == 200)


def test_users_list(emu):
    token = emu.access_token()
    ev = {"ConsistencyLevel": "eventual"}
    status, _, body, _ = emu.graph("/v1.0/users", token)
    check("users: 30 on one default page", status == 200 and len(body["value"]) == 30
          and "@odata.nextLink" not in body and body["@odata.context"].endswith("$metadata#users"),
          body)
    check("users: default properties", list(body["value"][0]) == [
        "businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
        "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"])
    # Three pages with $top=10, following @odata.nextLink as given.
    path, pages, ids = "/v1.0/users?$top=10&$select=id,displayName", 0, []
    while path:
        status, _, body, _ = emu.graph(path, token)
        if status != 200:
            break
        pages += 1
        ids += [u["id"] for u in body["value"]]
        link = body.get("@odata.nextLink")
        path = urllib.parse.urlsplit(link)._replace(scheme="", netloc="").geturl() if link else None
    check("users: $top=10 gives 3 pages", pages == 3 and len(ids) == 30 and len(set(ids)) == 30,
          (pages, len(ids)))
    for flt, expect in (("accountEnabled eq false", ["ryan.brooks@contoso.onmicrosoft.com"]),
                        ("userType eq 'Guest'", ["john.smith_fabrikam.com#EXT#@contoso.onmicrosoft.com"])):
        status, _, body, _ = emu.graph("/v1.0/users?$select=userPrincipalName&$filter="
                                       + urllib.parse.quote(flt), token)
        check("users: $filter %s" % flt, status == 200 and
              [u["userPrincipalName"] for u in body["value"]] == expect, body)
    status, _, body, _ = emu.graph("/v1.0/users?$select=displayName&$filter="
                                   + urllib.parse.quote("startswith(displayName,'A')"), token)
    check("users: $filter startswith", status == 200 and [u["displayName"] for u in body["value"]]
          == ["Adele Vance", "Alex Wilber", "Allan Deyoung"], body)
    search = "/v1.0/users?$search=" + urllib.parse.quote('"displayName:wil"') + "&$select=displayName"
    status, _, body, _ = emu.graph(search, token)
    check("users: $search needs ConsistencyLevel", status == 400
          and body["error"]["code"] == "Request_UnsupportedQuery", body)
    status, _, body, _ = emu.graph(search + "&$count=true", token, headers=ev)
    check("users: $search + $count", status == 200 and body["@odata.count"] == 2 and sorted(
        u["displayName"] for u in body["value"]) == ["Alex Wilber", "Nestor Wilke"], body)
    status, _, body, _ = emu.graph("/v1.0/users?$orderby=displayName%20desc&$top=1"
                                   "&$select=displayName", token)
    check("users: $orderby", status == 200 and body["value"][0]["displayName"] == "田中 由紀", body)
    for top in ("0", "1000"):
        status, _, body, _ = emu.graph("/v1.0/users?$top=" + top, token)
        check("users: $top=%s refused" % top, status == 400, body)
    status, headers, _, raw = emu.graph("/v1.0/users/$count", token, headers=ev)
    check("users: /$count", status == 200 and raw == b"30"
          and headers["content-type"].startswith("text/plain"), raw)
    status, _, body, _ = emu.graph("/v1.0/users/$count", token)
    check("users: /$count needs ConsistencyLevel", status == 400, body)
    # beta: same routes, contexts under /beta/.
    status, _, body, _ = emu.graph("/beta/users?$top=10&$select=id", token)
    check("beta: /users", status == 200 and body["@odata.context"].endswith("/beta/$metadata#users(id)")
          and "/beta/users?" in body["@odata.nextLink"], body)
    status, _, body, _ = emu.graph("/beta/users/" + ADELE, token)
    check("beta: /users/{id}", status == 200 and body["id"] == ADELE
          and body["@odata.context"].endswith("/beta/$metadata#users/$entity"), body)
    status, _, body, _ = post_json(emu, "/beta/$batch", token, {"requests": [
        {"id": "1", "method": "GET", "url": "/users/%s?$select=id" % ADELE}]})
    item = body["responses"][0] if status == 200 else {}
    check("beta: $batch items under /beta", item.get("status") == 200 and item["body"][
        "@odata.context"].endswith("/beta/$metadata#users(id)/$entity"), body)
    status, _, body, _ = emu.graph("/v2.0/users/" + ADELE, token)
    check("version: unknown refused", status == 400 and body["error"]["message"] == "Invalid version: v2.0")


def test_revoke_sessions(emu):
    token = emu.access_token()
    path = "/v1.0/users/%s/revokeSignInSessions" % ADELE
    _, before = emu.control("GET", "/state/users/" + ADELE)
    status, headers, body, _ = emu.graph(path, token, "POST")
    check("revoke: 200 Edm.Boolean", status == 200 and body == {
        "@odata.context": emu.info["url"] + "/v1.0/$metadata#Edm.Boolean", "value": True}, body)
    _, state = emu.control("GET", "/state/users/" + ADELE)
    check("revoke: signInSessionsValidFromDateTime now (state)",
          state["signInSessionsValidFromDateTime"] > before["signInSessionsValidFromDateTime"]
          and state["signInSessionsValidFromDateTime"].startswith(time.strftime("%Y-", time.gmtime()))
          and "refreshTokensValidFromDateTime" not in state,       # not in Graph v1.0
          state["signInSessionsValidFromDateTime"])
    status, _, body, _ = emu.graph("/v1.0/users/%s?$select=signInSessionsValidFromDateTime" % ADELE,
                                   token)
    check("revoke: visible via $select", body.get("signInSessionsValidFromDateTime")
          == state["signInSessionsValidFromDateTime"], body)
    status, _, body = emu.token("refresh_token", refresh_token=emu.info["refresh_token"])
    check("revoke: older refresh token refused (AADSTS50173)", status == 400
          and body.get("error") == "invalid_grant" and body.get("error_codes") == [50173], body)
    status, _, body = emu.token("password", username=emu.info["username"],
                                password=emu.info["password"],
                                scope="User.Read offline_access")
    fresh = body.get("refresh_token")
    status, _, body = emu.token("refresh_token", refresh_token=fresh)
    check("revoke: new sign-in works", status == 200, body)
    status, _, body, _ = emu.graph("/v1.0/users/nobody@contoso.onmicrosoft.com/revokeSignInSessions",
                                   token, "POST")
    check("revoke: 404", status == 404 and graph_error(body, "Request_ResourceNotFound"), body)
    status, _, body, _ = emu.graph(path, token)
    check("revoke: GET is 405", status == 405, body)
    status, _, body, _ = emu.graph(path, limited_token(emu), "POST")
    check("revoke: limited app 403", status == 403
          and graph_error(body, "Authorization_RequestDenied"), body)


E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
SPE_E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
O365_E5 = "c7df2760-2c81-4ef7-b578-5b5392b571df"
POWER_BI_PRO = "f8a1db68-be16-40ed-86d5-cb42ce701560"
SWAY = "a23b959c-7ce8-4e57-9140-b90eb88a9e97"
SVC = "users('%24svc-backup@contoso.onmicrosoft.com')"
GUEST = "users/john.smith_fabrikam.com%23EXT%23@contoso.onmicrosoft.com"


def test_licenses(emu):
    token = emu.access_token()
    status, _, body, _ = emu.graph("/v1.0/subscribedSkus", token)
    skus = {s["skuPartNumber"]: s for s in body.get("value", [])} if status == 200 else {}
    check("skus: list", status == 200 and body["@odata.context"].endswith("$metadata#subscribedSkus")
          and set(skus) == {"ENTERPRISEPREMIUM", "ENTERPRISEPACK", "SPE_E5", "POWER_BI_PRO"}, body)
    check("skus: fields", skus and skus["ENTERPRISEPACK"]["skuId"] == E3
          and skus["SPE_E5"]["skuId"] == SPE_E5 and skus["ENTERPRISEPREMIUM"]["consumedUnits"] == 28
          and skus["ENTERPRISEPACK"]["id"] == emu.info["tenant_id"] + "_" + E3
          and set(skus["ENTERPRISEPACK"]["prepaidUnits"]) == {"enabled", "lockedOut", "suspended", "warning"}
          and any(p["servicePlanId"] == SWAY for p in skus["ENTERPRISEPACK"]["servicePlans"]), skus)
    status, _, body, _ = emu.graph("/v1.0/subscribedSkus?$filter=skuId%20eq%20'x'", token)
    check("skus: $filter refused", status == 400, body)
    status, _, body, _ = emu.graph("/v1.0/subscribedSkus", limited_token(emu))
    check("skus: limited app 403", status == 403, body)

    def assign(key, add, remove, tok=token):
        return post_json(emu, "/v1.0/%s/assignLicense" % key, tok,
                         {"addLicenses": add, "removeLicenses": remove})

    status, _, body, _ = assign(SVC, [{"skuId": E3, "disabledPlans": [SWAY]}], [])
    check("assignLicense: 200 user", status == 200 and body["displayName"] == "Backup Service"
          and body["@odata.context"].endswith("$metadata#users/$entity"), body)
    status, _, body, _ = emu.graph("/v1.0/%s?$select=assignedLicenses,assignedPlans" % SVC, token)
    check("assignLicense: assignedLicenses", body.get("assignedLicenses") == [
        {"disabledPlans": [SWAY], "skuId": E3}], body)
    plans = {p["servicePlanId"]: p["capabilityStatus"] for p in body.get("assignedPlans", [])}
    check("assignLicense: assignedPlans", plans.get("efb87545-963c-4e0d-99df-69c6916d9eb0")
          == "Enabled" and SWAY not in plans, plans)
    status, _, body, _ = emu.graph("/v1.0/subscribedSkus?$select=skuId,consumedUnits", token)
    check("assignLicense: consumedUnits", {s["skuId"]: s["consumedUnits"] for s in body["value"]}
          .get(E3) == 1, body)
    status, _, body, _ = assign(SVC, [{"skuId": SPE_E5}], [E3])
    _, state = emu.control("GET", "/state/users/$svc-backup@contoso.onmicrosoft.com")
    check("assignLicense: add + remove", status == 200 and state["assignedLicenses"] == [
        {"disabledPlans": [], "skuId": SPE_E5}], state["assignedLicenses"])
    status, _, body, _ = assign(GUEST, [{"skuId": E3, "disabledPlans": []}], [])
    check("assignLicense: no usageLocation", status == 400 and graph_error(body, "Request_BadRequest")
          and body["error"]["message"] == "License assignment cannot be done for user with invalid "
          "usage location.", body)
    bogus = "0118a350-71fc-4ec3-8f0c-6a1cb8867561"
    status, _, body, _ = assign("users/" + ADELE, [{"skuId": bogus, "disabledPlans": []}], [])
    check("assignLicense: unknown sku", status == 400 and graph_error(body, "Request_BadRequest")
          and body["error"]["message"] == "License %s does not correspond to a valid company "
          "License." % bogus, body)
    status, _, body, _ = assign("users/" + ADELE, [], [E3])
    check("assignLicense: remove one not held", status == 400
          and body["error"]["message"] == "User does not have a corresponding license.", body)
    status, _, body, _ = assign("users/" + ADELE, [{"skuId": POWER_BI_PRO}], [])
    check("assignLicense: no seat left", status == 400 and graph_error(body, "Request_BadRequest")
          and "does not have any available licenses" in body["error"]["message"], body)
    status, _, body, _ = post_json(emu, "/v1.0/users/%s/assignLicense" % ADELE, token,
                                   {"addLicenses": []})
    check("assignLicense: missing removeLicenses", status == 400 and body["error"]["message"].endswith(
        "The missing parameters are: removeLicenses."), body)
    status, _, body, _ = assign("users/" + ADELE, [{"skuId": "not-a-guid"}], [])
    check("assignLicense: bad guid", status == 400 and graph_error(body, "BadRequest"), body)
    status, _, body, _ = assign("users/nobody@contoso.onmicrosoft.com", [], [])
    check("assignLicense: 404", status == 404, body)
    status, _, body, _ = assign("users/" + ADELE, [], [], limited_token(emu))
    check("assignLicense: limited app 403", status == 403, body)
    status, _, body, _ = assign("users/" + ADELE, [], [O365_E5])
    _, state = emu.control("GET", "/state/users/" + ADELE)
    check("assignLicense: remove", status == 200 and state["assignedLicenses"] == [] and all(
        p["capabilityStatus"] == "Deleted" for p in state["assignedPlans"]), state["assignedPlans"])


ALERT = "da638614425261848130_1849275630"


def test_security_alerts(emu):
    token = emu.access_token()
    base = "/v1.0/security/alerts_v2"
    status, _, body, _ = emu.graph(base, token)
    alerts = body.get("value", []) if status == 200 else []
    check("alerts: list", status == 200 and len(alerts) == 15
          and body["@odata.context"].endswith("/v1.0/$metadata#security/alerts_v2"), body)
    check("alerts: newest first", [a["createdDateTime"] for a in alerts]
          == sorted((a["createdDateTime"] for a in alerts), reverse=True) and alerts[0]["id"] == ALERT)
    first = alerts[0] if alerts else {}
    check("alerts: documented properties", {
        "id", "providerAlertId", "incidentId", "status", "severity", "classification",
        "determination", "serviceSource", "detectionSource", "title", "description", "category",
        "assignedTo", "createdDateTime", "lastUpdateDateTime", "resolvedDateTime", "evidence",
        "mitreTechniques", "alertWebUrl", "tenantId", "comments"} <= set(first), first)
    users = {u for a in alerts for e in a["evidence"]
             if e["@odata.type"] == "#microsoft.graph.security.userEvidence"
             for u in [e["userAccount"]["azureAdUserId"]]}
    check("alerts: user evidence names seeded users", ADELE in users and users <= set(fixture_user_ids()))
    check("alerts: device evidence", any(e["@odata.type"] == "#microsoft.graph.security.deviceEvidence"
                                         for a in alerts for e in a["evidence"]))
    # Paging: $top=5 -> 3 pages through @odata.nextLink.
    path, pages, ids = base + "?$top=5", 0, []
    while path and pages < 5:
        status, _, body, _ = emu.graph(path, token)
        pages += 1
        ids += [a["id"] for a in body.get("value", [])]
        link = body.get("@odata.nextLink")
        path = urllib.parse.urlsplit(link)._replace(scheme="", netloc="").geturl() if link else None
    check("alerts: $top=5 pages", pages == 3 and len(set(ids)) == 15, (pages, ids))
    flt = urllib.parse.quote("severity eq 'high' and status eq 'new'")
    status, _, body, _ = emu.graph(base + "?$count=true&$filter=" + flt, token)
    check("alerts: $filter severity/status", status == 200 and [a["id"] for a in body["value"]]
          == [ALERT] and body["@odata.count"] == 1, body)
    status, _, body, _ = emu.graph(base + "?$filter=" + urllib.parse.quote("status eq 'resolved'"),
                                   token)
    check("alerts: $filter status", status == 200 and len(body["value"]) == 4
          and all(a["resolvedDateTime"] for a in body["value"]), body)
    status, _, body, _ = emu.graph(base + "?$filter=" + urllib.parse.quote(
        "createdDateTime ge 2024-09-12T00:00:00Z"), token)
    check("alerts: $filter createdDateTime", status == 200 and len(body["value"]) == 6, body)
    status, _, body, _ = emu.graph(base + "?$filter=" + urllib.parse.quote("severity eq 'severe'"),
                                   token)
    check("alerts: unknown enum member", status == 400 and body["error"]["message"] == (
        "Invalid filter clause: The string 'severe' is not a valid enumeration type constant."), body)
    status, _, body, _ = emu.graph(base + "?$filter=" + urllib.parse.quote("title eq 'x'"), token)
    check("alerts: $filter on a non-filterable property", status == 400, body)
    status, _, _, raw = emu.graph(base + "/$count", token)
    check("alerts: /$count", status == 200 and raw == b"15", raw)

    status, _, body, _ = emu.graph(base + "/" + ALERT, token)
    check("alert: get", status == 200 and body["id"] == ALERT and body["severity"] == "high"
          and body["@odata.context"].endswith("$metadata#security/alerts_v2/$entity"), body)
    status, _, body, _ = emu.graph(base + "/no-such-alert", token)
    check("alert: 404", status == 404 and graph_error(body), body)
    json_type = {"Content-Type": "application/json"}
    change = {"status": "inProgress", "classification": "truePositive", "determination": "malware",
              "assignedTo": "secAdmin@contoso.onmicrosoft.com"}
    status, _, body, _ = emu.graph(base + "/" + ALERT, token, "PATCH", json_type, json.dumps(change))
    check("alert: PATCH 200 with the alert", status == 200 and body["id"] == ALERT
          and all(body[k] == v for k, v in change.items())
          and body["lastUpdateDateTime"] > "2024-09-16T07:44:02.5570000Z", body)
    status, _, body, _ = emu.graph(base + "/" + ALERT, token)
    check("alert: PATCH persisted", body.get("assignedTo") == "secAdmin@contoso.onmicrosoft.com")
    _, state = emu.control("GET", "/state/alerts/" + ALERT)
    check("alert: state", state.get("status") == "inProgress", state)
    status, _, body, _ = emu.graph(base + "/" + ALERT, token, "PATCH", json_type,
                                   json.dumps({"status": "resolved"}))
    check("alert: resolve stamps resolvedDateTime", status == 200 and body["resolvedDateTime"], body)
    for bad in ({"colour": "red"}, {"severity": "low"}, {"status": "closed"}, {"status": 3}):
        status, _, body, _ = emu.graph(base + "/" + ALERT, token, "PATCH", json_type, json.dumps(bad))
        check("alert: PATCH %s refused" % bad, status == 400 and graph_error(body, "BadRequest"), body)
    status, _, body, _ = emu.graph(base + "/no-such-alert", token, "PATCH", json_type,
                                   json.dumps({"status": "resolved"}))
    check("alert: PATCH 404", status == 404, body)
    limited = limited_token(emu)
    for method, path, payload in (("GET", base, None), ("GET", base + "/" + ALERT, None),
                                  ("PATCH", base + "/" + ALERT, json.dumps({"status": "new"}))):
        status, _, body, _ = emu.graph(path, limited, method, json_type, payload)
        check("alerts: limited app 403 on %s %s" % (method, path), status == 403, body)
    status, _, body, _ = emu.graph("/beta/security/alerts_v2?$top=1", token)
    check("alerts: beta", status == 200 and "/beta/$metadata#security/alerts_v2" in
          body["@odata.context"], body)

def test_faults(emu):
    token = emu.access_token()
    user = "/v1.0/users/" + ADELE
    emu.control("POST", "/faults", {"status": 429, "headers": {"Retry-After": "2.128"}})
    status, headers, body, _ = emu.graph(user, token)
    check("fault: 429", status == 429 and headers.get("retry-after") == "2.128"
          and body["error"]["code"] == "TooManyRequests", body)
    status, _, _, _ = emu.graph(user, token)
    check("fault: applied once", status == 200)
    emu.control("POST", "/faults", {"faults": [{"status": 503, "count": 2, "path": "presence$"}]})
    statuses = [emu.graph(user, token)[0]] + [emu.graph(user + "/presence", token)[0] for _ in range(3)]
    check("fault: count and path", statuses == [200, 503, 503, 200], statuses)
    emu.control("POST", "/faults", {"status": 500, "target": "token", "method": "POST"})
    status, _, body = emu.token()
    check("fault: token target", status == 500 and "error" in body, body)
    emu.control("POST", "/faults", {"body": ""})
    status, headers, _, raw_body = emu.graph(user, token)
    check("fault: empty body keeps the real status", status == 200 and raw_body == b""
          and headers.get("content-length") == "0", headers)
    emu.control("POST", "/faults", {"status": 502, "json": {"custom": True}})
    status, _, body, _ = emu.graph(user, token)
    check("fault: json body", status == 502 and body == {"custom": True})

    def raw(action, **extra):
        emu.control("POST", "/faults", dict(action=action, **extra))
        conn = emu.connect()
        try:
            conn.request("GET", user, headers={"Authorization": "Bearer " + token})
            resp = conn.getresponse()
            return resp.status, dict((k.lower(), v) for k, v in resp.getheaders()), resp.read()
        except Exception as e:                       # noqa: BLE001 - the point is the error type
            return e
        finally:
            conn.close()

    check("fault: drop", isinstance(raw("drop"), http.client.RemoteDisconnected))
    check("fault: drop_mid_headers", isinstance(raw("drop_mid_headers"), ConnectionResetError))
    check("fault: drop_mid_body", isinstance(raw("drop_mid_body"), http.client.IncompleteRead))
    result = raw("malformed_json")
    check("fault: malformed_json", result[0] == 200 and not is_json(result[2]))
    result = raw("truncated_json")
    check("fault: truncated_json", result[0] == 200 and not is_json(result[2])
          and int(result[1]["content-length"]) == len(result[2]))
    result = raw("html_502")
    check("fault: html_502", result[0] == 502 and result[1]["content-type"].startswith("text/html"))
    result = raw("wrong_content_type")
    check("fault: wrong_content_type", result[0] == 200 and result[1]["content-type"].startswith("text/html"))
    result = raw("corrupt_gzip")
    check("fault: corrupt_gzip", result[0] == 200 and result[1].get("content-encoding") == "gzip"
          and not result[2].startswith(b"\x1f\x8b"))
    result = raw("oversized", size=3_000_000)
    check("fault: oversized", result[0] == 200 and len(result[2]) == 3_000_000 and is_json(result[2]))
    started = time.monotonic()
    result = raw("stall_body", stall=1)
    check("fault: stall_body", isinstance(result, http.client.IncompleteRead)
          and time.monotonic() - started >= 1)
    emu.control("POST", "/faults", {"delay": 0.5})
    started = time.monotonic()
    status = emu.graph(user, token)[0]
    check("fault: delay", status == 200 and time.monotonic() - started >= 0.5)
    status, body = emu.control("POST", "/faults", {"action": "explode"})
    check("fault: bad spec refused", status == 400, body)
    emu.control("POST", "/faults", {"status": 429, "count": 5})
    emu.control("DELETE", "/faults")
    check("fault: DELETE clears", emu.graph(user, token)[0] == 200)


def is_json(data):
    try:
        json.loads(data)
        return True
    except ValueError:
        return False


def test_keep_alive_and_stats(emu):
    emu.control("POST", "/reset")
    token = emu.access_token()
    conn = emu.connect()
    statuses = []
    for i in range(5):
        headers = {"Connection": "keep-alive"} if i == 0 else {}
        statuses.append(emu.graph("/v1.0/users/" + ADELE, token, headers=headers, conn=conn)[0])
    conn.close()
    check("keep-alive: 5 requests on one socket", statuses == [200] * 5, statuses)
    # Errors, 204s, gzip and text/plain must all leave the connection usable.
    conn = emu.connect()
    mixed = [emu.graph(path, tok, method, hdrs, body, conn=conn)[0] for path, tok, method, hdrs, body in (
        ("/v1.0/users/nobody", token, "GET", {}, None),
        ("/v1.0/users/" + ADELE, "", "GET", {}, None),
        ("/v1.0/users/" + ADELE, token, "PATCH", {"Content-Type": "application/json"}, '{"city":"Kirkland"}'),
        ("/v1.0/users/%s/memberOf/$count" % LYNNE, token, "GET", {"ConsistencyLevel": "eventual"}, None),
        ("/v1.0/users/" + ADELE, token, "GET", {"Accept-Encoding": "gzip"}, None),
        ("/v1.0/users/" + ADELE, token, "DELETE", {}, None),
        ("/v1.0/users/" + ADELE, token, "GET", {}, None))]
    conn.close()
    check("keep-alive: mixed statuses on one socket", mixed == [404, 401, 204, 200, 200, 405, 200], mixed)
    _, stats = emu.control("GET", "/stats")
    # The gauge drops after a response is written, so the next connection's
    # first request may enter before the last one's thread has left: 1 or 2.
    gauge = stats.pop("max_concurrency", None)
    check("stats: counts", stats == {"requests": 13, "graph_requests": 12, "token_requests": 1,
                                     "connections": 3, "tls_handshakes": 0, "batch_items": 0,
                                     "throttled": 0} and gauge in (1, 2), (stats, gauge))
    _, log = emu.control("GET", "/requests?limit=12")
    check("requests: one serial per connection", len({r["connection"] for r in log["requests"]}) == 2)
    log["requests"] = log["requests"][:5]
    serials = {r["connection"] for r in log["requests"]}
    check("requests: last 5, one connection", len(log["requests"]) == 5 and len(serials) == 1, log)
    entry = log["requests"][0]
    check("requests: entry shape", entry["method"] == "GET" and entry["path"] == "/v1.0/users/" + ADELE
          and entry["headers"]["authorization"].startswith("Bearer ") and entry["body"] == "")
    _, log = emu.control("GET", "/requests?limit=13")
    check("requests: token body logged raw", "client_secret=" in log["requests"][0]["body"])


def test_concurrency(emu):
    emu.control("POST", "/reset")
    token = emu.access_token()
    barrier = threading.Barrier(50)
    results = []

    def worker():
        conn = emu.connect()
        conn.connect()
        barrier.wait()                           # 50 connections open at once
        try:
            for path in ("/v1.0/users/" + ADELE, "/v1.0/users/%s/presence" % ADELE,
                         "/v1.0/users/%s/memberOf?$top=5" % LYNNE):
                results.append(emu.graph(path, token, conn=conn)[0])
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    check("concurrency: 150 requests over 50 connections", results.count(200) == 150, len(results))
    _, stats = emu.control("GET", "/stats")
    check("concurrency: 51 connections counted", stats["connections"] == 51, stats)


def test_config(emu):
    emu.control("POST", "/config", {"latency": 0.3, "token_expires_in": 120})
    started = time.monotonic()
    status, _, body = emu.token()
    check("config: latency", time.monotonic() - started >= 0.3)
    check("config: token_expires_in", body["expires_in"] == 120 and body["ext_expires_in"] == 120, body)
    status, body = emu.control("POST", "/config", {"latency": -1})
    check("config: validated", status == 400)
    emu.control("POST", "/reset")
    _, config = emu.control("GET", "/config")
    check("config: reset", config == {
        "latency": 0.0, "token_expires_in": 3599, "device_interval": 5, "device_expires_in": 900,
        "device_slow_down": 0, "device_auto_approve_after": None,
        "device_auto_decline_after": None, "device_auto_approve_user": None,
        "rate_limit": None}, config)
    status, _ = emu.control("POST", "/config", {"device_interval": 0.2, "device_slow_down": -1})
    _, config = emu.control("GET", "/config")
    check("config: all or nothing", status == 400 and config["device_interval"] == 5, config)


# -- throughput: bulk presence, $batch, rate limit, latency ---------------------------

def fixture_user_ids():
    return [u["id"] for u in gen_tenant.build()["users"]]


def limited_token(emu):
    return emu.access_token(client_id=emu.info["limited_client_id"],
                            client_secret=emu.info["limited_client_secret"])


def post_json(emu, path, token, obj, headers=None, conn=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    return emu.graph(path, token, "POST", h, json.dumps(obj) if not isinstance(obj, str) else obj,
                     conn=conn)


def graph_error(body, code=None):
    return (isinstance(body, dict) and "error" in body and isinstance(body["error"].get("message"), str)
            and "request-id" in body["error"].get("innerError", {})
            and (code is None or body["error"]["code"] == code))


def test_bulk_presence(emu):
    token = emu.access_token()
    path = "/v1.0/communications/getPresencesByUserId"
    ids = fixture_user_ids()
    unknown = "00000000-0000-0000-0000-000000000000"
    ask = [LYNNE, unknown, ADELE.upper(), ids[5], ADELE]
    status, headers, body, _ = post_json(emu, path, token, {"ids": ask})
    check("presences: 200", status == 200, (status, body))
    check("presences: context", body["@odata.context"].endswith(
        "/v1.0/$metadata#Collection(microsoft.graph.presence)"), body)
    got = [p["id"] for p in body["value"]]
    check("presences: input order, unknown/repeat left out", got == [LYNNE, ADELE, ids[5]], got)
    first = body["value"][0]
    check("presences: full entity", set(first) >= {"id", "availability", "activity", "statusMessage",
                                                  "outOfOfficeSettings", "sequenceNumber"}
          and "@odata.context" not in first, first)
    _, _, single, _ = emu.graph("/v1.0/users/%s/presence" % LYNNE, token)
    check("presences: same as single", {k: v for k, v in single.items() if k != "@odata.context"}
          == first, (single, first))
    check("presences: graph headers", headers.get("content-type", "").startswith("application/json")
          and "request-id" in headers)
    status, _, upn_body, _ = post_json(emu, path, token, {"ids": [LYNNE, "adele.vance@contoso.onmicrosoft.com"]})
    check("presences: a UPN 400", status == 400 and graph_error(upn_body, "BadRequest"), (status, upn_body))
    status, _, upn_body, _ = emu.graph("/v1.0/users/adele.vance@contoso.onmicrosoft.com/presence", token)
    check("presence: a UPN 400", status == 400 and graph_error(upn_body, "BadRequest"), (status, upn_body))
    status, _, body, _ = post_json(emu, path, token, {"ids": ids[:1] * 650})
    check("presences: 650 ids", status == 200 and len(body["value"]) == 1, status)
    status, _, body, _ = post_json(emu, path, token, {"ids": [ADELE] * 651})
    check("presences: 651 ids 400", status == 400 and graph_error(body, "BadRequest"), (status, body))
    status, _, body, _ = post_json(emu, path, token, '{"ids": [')
    check("presences: invalid JSON 400", status == 400 and graph_error(body, "BadRequest"), status)
    status, _, body, _ = post_json(emu, path, token, {})
    check("presences: missing ids 400", status == 400 and graph_error(body, "BadRequest"), status)
    status, _, body, _ = post_json(emu, path, token, {"ids": ADELE})
    check("presences: ids not a list 400", status == 400 and graph_error(body), status)
    status, _, body, _ = post_json(emu, path, token, {"ids": [ADELE], "other": 1})
    check("presences: unknown parameter 400", status == 400 and graph_error(body), status)
    status, _, body, _ = emu.graph(path, token, "POST", {}, json.dumps({"ids": [ADELE]}))
    check("presences: no Content-Type 400", status == 400, status)
    status, _, body, _ = post_json(emu, path, token, {"ids": []})
    check("presences: empty list", status == 200 and body["value"] == [], (status, body))
    status, _, body, _ = emu.graph(path, token)
    check("presences: GET 405", status == 405, status)
    status, _, body, _ = post_json(emu, path, limited_token(emu), {"ids": [ADELE]})
    check("presences: limited app 403", status == 403
          and graph_error(body, "Authorization_RequestDenied"), status)
    status, _, body, _ = post_json(emu, path, "", {"ids": [ADELE]})
    check("presences: no token 401", status == 401, status)
    status, _, body, _ = post_json(emu, "/v1.0/communications/nothing", token, {"ids": [ADELE]})
    check("presences: other action 400", status == 400, status)


def test_batch(emu):
    token = emu.access_token()
    reqs = [
        {"id": "1", "method": "GET", "url": "/users/%s?$select=displayName" % ADELE},
        {"id": "2", "method": "GET", "url": "users/%s/presence" % LYNNE},
        {"id": "3", "method": "GET", "url": "/users/nobody@contoso.onmicrosoft.com"},
        {"id": "4", "method": "PATCH", "url": "/users/" + ADELE, "body": {"city": "Redmond"},
         "headers": {"Content-Type": "application/json"}},
        {"id": "5", "method": "POST", "url": "/communications/getPresencesByUserId",
         "body": {"ids": [ADELE, LYNNE]}, "headers": {"content-type": "application/json"}},
        {"id": "6", "method": "GET", "url": "/users/%s/memberOf/$count" % LYNNE,
         "headers": {"ConsistencyLevel": "eventual"}},
        {"id": "7", "method": "GET", "url": "/$batch"},
    ]
    status, headers, body, _ = post_json(emu, "/v1.0/$batch", token, {"requests": reqs})
    check("batch: 200", status == 200 and isinstance(body, dict), (status, body))
    items = body["responses"]
    check("batch: input order", [r["id"] for r in items] == [r["id"] for r in reqs], items)
    by = {r["id"]: r for r in items}
    check("batch: item 1 user", by["1"]["status"] == 200 and by["1"]["body"]["displayName"] == "Adele Vance"
          and by["1"]["headers"]["Content-Type"].startswith("application/json")
          and "request-id" not in by["1"]["headers"], by["1"])
    check("batch: url without leading /", by["2"]["status"] == 200
          and by["2"]["body"]["id"] == LYNNE, by["2"])
    check("batch: item 404 envelope", by["3"]["status"] == 404
          and graph_error(by["3"]["body"], "Request_ResourceNotFound"), by["3"])
    check("batch: PATCH 204 without body", by["4"]["status"] == 204 and "body" not in by["4"], by["4"])
    _, state = emu.control("GET", "/state/users/" + ADELE)
    check("batch: PATCH applied", state.get("city") == "Redmond", state.get("city"))
    check("batch: bulk presence item", by["5"]["status"] == 200
          and [p["id"] for p in by["5"]["body"]["value"]] == [ADELE, LYNNE], by["5"])
    check("batch: item headers reach the handler", by["6"]["status"] == 200
          and by["6"]["body"] == "257", by["6"])
    check("batch: nested batch 400", by["7"]["status"] == 400, by["7"])
    _, stats = emu.control("GET", "/stats")
    check("batch: stats", stats["graph_requests"] == 1 and stats["batch_items"] == 7, stats)

    # Limited app: the outer token is used for every item.
    status, _, body, _ = post_json(emu, "/v1.0/$batch", limited_token(emu), {"requests": [
        {"id": "a", "method": "GET", "url": "/users/" + ADELE},
        {"id": "b", "method": "GET", "url": "/users/%s/presence" % ADELE,
         "headers": {"Authorization": "Bearer " + token}}]})
    check("batch: outer token for items", status == 200
          and [r["status"] for r in body["responses"]] == [200, 403], body)

    # dependsOn: 2 fails, 3 depends on it (424); 4 depends on 1 (runs); order by chain.
    status, _, body, _ = post_json(emu, "/v1.0/$batch", token, {"requests": [
        {"id": "4", "method": "GET", "url": "/users/" + ADELE, "dependsOn": ["1"]},
        {"id": "1", "method": "GET", "url": "/users/" + LYNNE},
        {"id": "2", "method": "GET", "url": "/users/nobody", "dependsOn": ["1"]},
        {"id": "3", "method": "GET", "url": "/users/" + ADELE, "dependsOn": ["2"]}]})
    statuses = {r["id"]: r["status"] for r in body["responses"]}
    check("batch: dependsOn", status == 200 and statuses == {"4": 200, "1": 200, "2": 404, "3": 424},
          statuses)
    check("batch: 424 envelope", graph_error(body["responses"][3]["body"], "FailedDependency"), body)

    def refused(name, payload, raw=False):
        status, _, body, _ = post_json(emu, "/v1.0/$batch", token, payload)
        check("batch: %s 400" % name, status == 400 and graph_error(body, "BadRequest"), (status, body))
        return body

    one = {"id": "1", "method": "GET", "url": "/users/" + ADELE}
    body = refused("21 items", {"requests": [dict(one, id=str(i)) for i in range(21)]})
    check("batch: 21 items message", "at most 20" in body["error"]["message"], body)
    status, _, body, _ = post_json(emu, "/v1.0/$batch", token,
                                   {"requests": [dict(one, id=str(i)) for i in range(20)]})
    check("batch: 20 items", status == 200 and len(body["responses"]) == 20, status)
    refused("duplicate ids", {"requests": [dict(one, id="a"), dict(one, id="A")]})
    body = refused("body without Content-Type", {"requests": [
        {"id": "1", "method": "POST", "url": "/communications/getPresencesByUserId",
         "body": {"ids": [ADELE]}}]})
    check("batch: write request message", body["error"]["message"]
          == "Write request id : 1 does not contain Content-Type header or body.", body)
    refused("GET body without Content-Type", {"requests": [dict(one, body={"x": 1})]})
    refused("invalid JSON", '{"requests": [')
    refused("no requests", {"requests": []})
    refused("item without url", {"requests": [{"id": "1", "method": "GET"}]})
    refused("unknown dependsOn", {"requests": [dict(one, dependsOn=["9"])]})
    refused("dependsOn cycle", {"requests": [dict(one, id="1", dependsOn=["2"]),
                                             dict(one, id="2", dependsOn=["1"])]})
    status, _, body, _ = post_json(emu, "/v1.0/$batch", "", {"requests": [one]})
    check("batch: no token 401", status == 401, status)
    status, _, _, _ = emu.graph("/v1.0/$batch", token)
    check("batch: GET 405", status == 405, status)
    status, _, body, _ = post_json(emu, "/v1.0/%24batch", token, {"requests": [one]})
    check("batch: %24batch", status == 200, status)

    # A batch_item fault: a 429 in one item only, Retry-After in the item's headers.
    emu.control("POST", "/reset")
    token = emu.access_token()
    emu.control("POST", "/faults", {"target": "batch_item", "path": "presence$", "status": 429,
                                    "headers": {"Retry-After": "0.2"}})
    status, _, body, _ = post_json(emu, "/v1.0/$batch", token, {"requests": [
        {"id": "1", "method": "GET", "url": "/users/%s/presence" % ADELE},
        {"id": "2", "method": "GET", "url": "/users/%s/presence" % LYNNE}]})
    items = body["responses"]
    check("batch: fault 429 in one item", [r["status"] for r in items] == [429, 200]
          and items[0]["headers"].get("Retry-After") == "0.2"
          and graph_error(items[0]["body"], "TooManyRequests"), items)
    _, faults_left = emu.control("GET", "/faults")
    check("batch: fault used up", faults_left["faults"] == [], faults_left)
    emu.control("POST", "/faults", {"target": "batch_item", "status": 503})
    status, _, body, _ = emu.graph("/v1.0/users/" + ADELE, token)
    check("batch: batch_item fault ignores plain requests", status == 200, status)
    emu.control("DELETE", "/faults")
    emu.control("POST", "/faults", {"target": "any", "path": "presence", "status": 503})
    status, _, body, _ = post_json(emu, "/v1.0/$batch", token, {"requests": [
        {"id": "1", "method": "GET", "url": "/users/%s/presence" % ADELE}]})
    check("batch: 'any' fault does not match items", status == 200
          and body["responses"][0]["status"] == 200, body)
    emu.control("DELETE", "/faults")
    status, _ = emu.control("POST", "/faults", {"target": "batch_item", "action": "drop"})
    check("batch: batch_item only respond", status == 400, status)
    _, stats = emu.control("GET", "/stats")
    check("batch: fault 429 not counted as throttled", stats["throttled"] == 0
          and stats["batch_items"] == 3, stats)


def test_rate_limit(emu):
    token = emu.access_token()
    limited = limited_token(emu)
    status, config = emu.control("POST", "/config", {"rate_limit": {
        "requests": 3, "per": 1, "scope": "presence"}})
    check("ratelimit: config", status == 200 and config["rate_limit"] == {
        "requests": 3, "per": 1, "retry_after": None, "scope": "presence"}, config)
    presence = "/v1.0/users/%s/presence" % ADELE
    conn = emu.connect()
    statuses = [emu.graph(presence, token, conn=conn)[0] for _ in range(3)]
    status, headers, body, _ = emu.graph(presence, token, conn=conn)
    check("ratelimit: 3 pass", statuses == [200] * 3, statuses)
    retry = headers.get("retry-after")
    check("ratelimit: 4th 429", status == 429 and graph_error(body, "TooManyRequests")
          and body["error"]["message"] == "Please retry again later."
          and body["error"]["innerError"].get("status") == "429", (status, body))
    check("ratelimit: fractional Retry-After from the bucket",
          retry is not None and 0 < float(retry) <= 0.334, retry)
    status, _, _, _ = post_json(emu, "/v1.0/communications/getPresencesByUserId", token,
                                {"ids": [ADELE]}, conn=conn)
    check("ratelimit: bulk presence in the family", status == 429, status)
    status, _, _, _ = emu.graph("/v1.0/users/" + ADELE, token, conn=conn)
    check("ratelimit: users not in presence scope", status == 200, status)
    status, _, _, _ = emu.graph(presence, limited, conn=conn)
    check("ratelimit: per app", status == 403, status)        # its own bucket; then no role
    time.sleep(float(retry))
    status, _, _, _ = emu.graph(presence, token, conn=conn)
    check("ratelimit: after Retry-After", status == 200, status)

    emu.control("POST", "/config", {"rate_limit": {"requests": 2, "per": 60, "scope": "all",
                                                   "retry_after": 7}})
    statuses = [emu.graph("/v1.0/users/" + ADELE, token, conn=conn)[0] for _ in range(2)]
    status, headers, _, _ = emu.graph("/v1.0/users?$top=1", token, conn=conn)
    check("ratelimit: scope all", statuses == [200, 200] and status == 429, (statuses, status))
    check("ratelimit: retry_after configured", headers.get("retry-after") == "7", headers)
    status, _, _, _ = emu.graph("/v1.0/users/" + ADELE, limited, conn=conn)
    check("ratelimit: other app unaffected", status == 200, status)

    # Batch items are each charged; the envelope is not.
    emu.control("POST", "/config", {"rate_limit": {"requests": 2, "per": 60, "scope": "presence"}})
    status, _, body, _ = post_json(emu, "/v1.0/$batch", token, {"requests": [
        {"id": str(i), "method": "GET", "url": "/users/%s/presence" % ADELE} for i in range(4)]},
        conn=conn)
    items = body["responses"] if status == 200 else []
    check("ratelimit: batch items throttled one by one", status == 200
          and [r["status"] for r in items] == [200, 200, 429, 429]
          and float(items[2]["headers"]["Retry-After"]) > 0, body)
    _, stats = emu.control("GET", "/stats")
    check("ratelimit: throttled counted", stats["throttled"] == 5, stats)

    emu.control("POST", "/config", {"rate_limit": None})
    statuses = [emu.graph(presence, token, conn=conn)[0] for _ in range(5)]
    check("ratelimit: null disables", statuses == [200] * 5, statuses)
    conn.close()
    for bad in ({"requests": 0, "per": 1}, {"requests": 1}, {"requests": 1, "per": 0},
                {"requests": 1, "per": 1, "scope": "users"}, {"requests": 1, "per": 1, "x": 1},
                {"requests": 1, "per": 1, "retry_after": -1}, 5):
        status, _ = emu.control("POST", "/config", {"rate_limit": bad})
        check("ratelimit: invalid %r" % (bad,), status == 400, status)
    emu.control("POST", "/config", {"rate_limit": {"requests": 1, "per": 60}})
    emu.control("POST", "/reset")
    _, config = emu.control("GET", "/config")
    check("ratelimit: reset disables", config["rate_limit"] is None, config)


def test_latency_concurrency(emu):
    token = emu.access_token()
    emu.control("POST", "/config", {"latency": 0.05})
    n = 32
    barrier = threading.Barrier(n + 1)
    results = []

    def worker():
        conn = emu.connect()
        conn.connect()
        barrier.wait()
        try:
            results.append(emu.graph("/v1.0/users/%s/presence" % ADELE, token, conn=conn)[0])
        finally:
            conn.close()

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    started = time.monotonic()
    for t in threads:
        t.join(30)
    elapsed = time.monotonic() - started
    check("latency: 32 concurrent requests", results.count(200) == n, results)
    check("latency: concurrent, not serial (%.3fs)" % elapsed, elapsed < 0.5, elapsed)
    _, stats = emu.control("GET", "/stats")
    check("latency: max_concurrency", stats["max_concurrency"] >= 16, stats)
    if VERBOSE:
        print("     32 x 50 ms in %.3f s, max_concurrency %d" % (elapsed, stats["max_concurrency"]))

    # A $batch pays the latency once, not per item.
    emu.control("POST", "/config", {"latency": 0.2})
    started = time.monotonic()
    status, _, body, _ = post_json(emu, "/v1.0/$batch", token, {"requests": [
        {"id": str(i), "method": "GET", "url": "/users/" + ADELE} for i in range(20)]})
    elapsed = time.monotonic() - started
    check("latency: batch of 20 pays it once (%.3fs)" % elapsed, status == 200
          and 0.2 <= elapsed < 0.6, elapsed)
    emu.control("POST", "/config", {"latency": 0})
    _, stats = emu.control("GET", "/stats")
    check("latency: max_concurrency sequential", stats["max_concurrency"] >= 1, stats)
    emu.control("POST", "/reset")
    emu.graph("/v1.0/users/" + ADELE, token)
    _, stats = emu.control("GET", "/stats")
    check("stats: max_concurrency reset", stats["max_concurrency"] == 1, stats)


# -- certificate credentials and device code ---------------------------------------

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def der_digest(pem_file, algorithm):
    der = subprocess.run(["openssl", "x509", "-in", pem_file, "-outform", "DER"],
                         stdout=subprocess.PIPE, check=True).stdout
    return hashlib.new(algorithm, der).digest()


def make_assertion(emu, key_file, cert_file, alg="PS256", **claims):
    """A client assertion signed with openssl, as MSAL builds it; claims override."""
    now = int(time.time())
    header = {"alg": alg, "typ": "JWT"}
    if alg == "PS256":
        header["x5t#S256"] = b64url(der_digest(cert_file, "sha256"))
    else:
        header["x5t"] = b64url(der_digest(cert_file, "sha1"))
    body = {"aud": "%s/%s/oauth2/v2.0/token" % (emu.info["url"], emu.info["tenant_id"]),
            "iss": emu.info["client_id"], "sub": emu.info["client_id"],
            "jti": str(uuid.uuid4()), "nbf": now, "iat": now, "exp": now + 600}
    body.update(claims)
    body = {k: v for k, v in body.items() if v is not None}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(body).encode())).encode()
    args = ["openssl", "dgst", "-sha256", "-sign", key_file]
    if alg == "PS256":
        args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]
    sig = subprocess.run(args, input=signing_input, stdout=subprocess.PIPE, check=True).stdout
    return signing_input.decode() + "." + b64url(sig)


def assertion_token(emu, assertion, **extra):
    return emu.token(client_secret=None, client_assertion_type=JWT_BEARER,
                     client_assertion=assertion, **extra)


def test_certificates(certs):
    app, rogue = os.path.join(certs, "app.pem"), os.path.join(certs, "rogue.pem")
    check("certs: app.pem has cert and key", open(app).read().count("-----BEGIN") == 2)
    encrypted = open(os.path.join(certs, "app-encrypted.pem")).read()
    check("certs: app-encrypted.pem is encrypted", "ENCRYPTED PRIVATE KEY" in encrypted)
    emu = Emulator("--app-cert", "6731de76-14a6-49ae-97bc-6eba6914391e=" + app)
    try:
        certificate_checks(emu, app, rogue)
    finally:
        emu.stop()


def certificate_checks(emu, app, rogue):
    status, _, body = assertion_token(emu, make_assertion(emu, app, app))
    check("assertion: PS256 + x5t#S256", status == 200 and "access_token" in body, body)
    status, _, body = assertion_token(emu, make_assertion(emu, app, app, alg="RS256"))
    check("assertion: RS256 + x5t", status == 200 and "access_token" in body, body)
    status, _, body = emu.token(grant="password", client_secret=None,
                                client_assertion_type=JWT_BEARER,
                                client_assertion=make_assertion(emu, app, app),
                                username="adele.vance@contoso.onmicrosoft.com",
                                password=emu.info["password"], scope="User.Read")
    check("assertion: with the password grant", status == 200, body)

    replayed = make_assertion(emu, app, app)
    assertion_token(emu, replayed)
    status, _, body = assertion_token(emu, replayed)
    check("assertion: jti replay", status == 401 and body["error"] == "invalid_client"
          and body["error_codes"] == [50013], body)
    now = int(time.time())
    status, _, body = assertion_token(emu, make_assertion(emu, app, app, nbf=now - 4000,
                                                          iat=now - 4000, exp=now - 3400))
    check("assertion: expired", status == 401 and body["error_codes"] == [700024]
          and "not within its valid time range" in body["error_description"], body)
    status, _, body = assertion_token(emu, make_assertion(emu, app, app, nbf=now + 3600))
    check("assertion: not yet valid", status == 401 and body["error_codes"] == [700024], body)
    status, _, body = assertion_token(emu, make_assertion(emu, app, app, exp=None))
    check("assertion: no exp", status == 401 and body["error_codes"] == [700024], body)
    status, _, body = assertion_token(emu, make_assertion(emu, app, app, jti=None))
    check("assertion: no jti", status == 401 and body["error_codes"] == [50013], body)
    status, _, body = assertion_token(emu, make_assertion(
        emu, app, app, aud="https://login.microsoftonline.com/%s/oauth2/v2.0/token"
        % emu.info["tenant_id"]))
    check("assertion: wrong aud", status == 401 and body["error_codes"] == [50013], body)
    status, _, body = assertion_token(emu, make_assertion(emu, app, app, iss="someone-else"))
    check("assertion: iss is not the client", status == 401 and body["error_codes"] == [700021],
          body)
    status, _, body = assertion_token(emu, make_assertion(emu, rogue, rogue))
    thumb = der_digest(rogue, "sha256").hex().upper()
    check("assertion: unregistered certificate", status == 401
          and body["error_codes"] == [700027] and thumb in body["error_description"], body)
    forged = make_assertion(emu, app, app).rsplit(".", 1)[0]
    forged_sig = make_assertion(emu, rogue, rogue).rsplit(".", 1)[1]
    status, _, body = assertion_token(emu, forged + "." + forged_sig)
    check("assertion: signature by another key", status == 401
          and body["error_codes"] == [700027]
          and "signature validation" in body["error_description"], body)
    header = b64url(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    status, _, body = assertion_token(emu, header + "." + forged.split(".")[1] + ".")
    check("assertion: alg none", status == 401 and body["error_codes"] == [50027], body)
    status, _, body = emu.token(client_assertion_type=JWT_BEARER,
                                client_assertion=make_assertion(emu, app, app))
    check("assertion: and a secret", status == 400 and body["error"] == "invalid_request", body)
    status, _, body = emu.token(client_secret=None, client_assertion=make_assertion(emu, app, app))
    check("assertion: type missing", status == 400 and body["error_codes"] == [900144], body)

    path = "/apps/%s/certificates" % emu.info["client_id"]
    with open(rogue) as f:
        status, reply = emu.control("POST", path, {"pem": f.read()})
    check("control: register a certificate", status == 200
          and reply["x5t#S256"] == b64url(der_digest(rogue, "sha256")), reply)
    status, _, body = assertion_token(emu, make_assertion(emu, rogue, rogue, alg="RS256"))
    check("assertion: newly registered certificate", status == 200, body)
    _, listed = emu.control("GET", path)
    check("control: list certificates", len(listed["certificates"]) == 2, listed)
    status, reply = emu.control("POST", path, {"pem": "not a certificate"})
    check("control: bad pem", status == 400, reply)
    status, reply = emu.control("POST", "/apps/00000000-0000-0000-0000-000000000000/certificates",
                                {"pem": "x"})
    check("control: unknown app", status == 404, reply)
    emu.control("POST", "/reset")
    _, listed = emu.control("GET", path)
    check("control: reset keeps --app-cert only", len(listed["certificates"]) == 1, listed)
    status, _, body = assertion_token(emu, make_assertion(emu, rogue, rogue))
    check("assertion: reset forgot the registration", status == 401, body)


def device_tenant(emu, client_id):
    """The public client is multi-tenant: /organizations; the others: their tenant."""
    return "organizations" if client_id is None else emu.info["tenant_id"]


def device_start(emu, client_id=None, scope="User.Read offline_access", tenant=None):
    status, _, data = emu.request(
        "POST", "/%s/oauth2/v2.0/devicecode" % (tenant or device_tenant(emu, client_id)),
        {"Content-Type": "application/x-www-form-urlencoded"},
        urllib.parse.urlencode({"client_id": client_id or emu.info["public_client_id"],
                                "scope": scope}))
    return status, json.loads(data)


def device_poll(emu, code, client_id=None, client_secret=None):
    return emu.token(grant=DEVICE_GRANT, tenant=device_tenant(emu, client_id),
                     client_secret=client_secret,
                     client_id=client_id or emu.info["public_client_id"], device_code=code)


def test_device_code(emu):
    emu.control("POST", "/config", {"device_interval": 0.2, "device_expires_in": 60})
    status, start = device_start(emu)
    check("device: 200", status == 200 and set(start) == {
        "user_code", "device_code", "verification_uri", "expires_in", "interval", "message"}, start)
    check("device: values", start["interval"] == 0.2 and start["expires_in"] == 60
          and start["verification_uri"] == "https://microsoft.com/devicelogin"
          and start["user_code"] in start["message"], start)
    status, _, body = device_poll(emu, start["device_code"])
    check("device: pending", status == 400 and body["error"] == "authorization_pending"
          and body["error_codes"] == [70016], body)
    _, pending = emu.control("GET", "/device/pending")
    check("device: listed as pending", [p["user_code"] for p in pending["pending"]]
          == [start["user_code"]] and "device_code" not in pending["pending"][0], pending)
    status, reply = emu.control("POST", "/device/approve", {"user_code": start["user_code"],
                                                            "username": "adele.vance@contoso.onmicrosoft.com"})
    check("device: approve", status == 200, reply)
    status, _, body = device_poll(emu, start["device_code"])
    check("device: tokens after approval", status == 200 and "refresh_token" in body
          and "access_token" in body, body)
    status, _, body = device_poll(emu, start["device_code"])
    check("device: code used once", status == 400 and body["error"] == "invalid_grant", body)
    status, _, body = device_poll(emu, "DAQABIQEAAADnot-a-code")
    check("device: unknown code", status == 400 and body["error"] == "invalid_grant", body)

    _, start = device_start(emu)
    emu.control("POST", "/device/decline", {"user_code": start["user_code"]})
    status, _, body = device_poll(emu, start["device_code"])
    check("device: declined", status == 400 and body["error"] == "authorization_declined", body)
    status, reply = emu.control("POST", "/device/approve", {"user_code": start["user_code"]})
    check("device: approve after decline is 404", status == 404, reply)

    emu.control("POST", "/config", {"device_expires_in": 0.3})
    _, start = device_start(emu)
    time.sleep(0.4)
    status, _, body = device_poll(emu, start["device_code"])
    check("device: expired", status == 400 and body["error"] == "expired_token"
          and body["error_codes"] == [70020], body)

    status, body = device_start(emu, client_id=emu.info["client_id"], tenant="organizations")
    check("device: /organizations for a single-tenant app", status == 400
          and body["error_codes"] == [50194], body)

    emu.control("POST", "/config", {"device_expires_in": 60, "device_slow_down": 1,
                                    "device_auto_approve_after": 1})
    _, start = device_start(emu, client_id=emu.info["client_id"],
                            scope="https://graph.microsoft.com/.default")
    answers = [device_poll(emu, start["device_code"], client_id=emu.info["client_id"])
               for _ in range(3)]
    check("device: slow_down, pending, then auto-approved",
          [a[2].get("error") for a in answers] == ["slow_down", "authorization_pending", None]
          and "refresh_token" not in answers[2][2], answers)
    _, config = emu.control("GET", "/config")
    check("device: slow_down used up", config["device_slow_down"] == 0, config)

    emu.control("POST", "/config", {"device_auto_approve_after": None,
                                    "device_auto_decline_after": 0})
    _, start = device_start(emu, client_id=emu.info["client_id"])
    status, _, body = device_poll(emu, start["device_code"], client_id=emu.info["client_id"],
                                  client_secret="wrong")
    check("device: a wrong secret is still checked", status == 401
          and body["error_codes"] == [7000215], body)
    status, _, body = device_poll(emu, start["device_code"], client_id=emu.info["client_id"])
    check("device: auto-declined", body.get("error") == "authorization_declined", body)
    status, _, body = device_poll(emu, start["device_code"])
    check("device: another client's code", body.get("error") == "invalid_grant", body)
    status, body = device_start(emu, client_id="00000000-0000-0000-0000-000000000001")
    check("device: unknown app", status == 400 and body["error_codes"] == [700016], body)
    status, body = device_start(emu, scope="https://example.com/.default")
    check("device: bad scope", status == 400 and body["error"] == "invalid_scope", body)
    emu.control("POST", "/reset")
    _, pending = emu.control("GET", "/device/pending")
    check("device: reset forgets codes", pending["pending"] == [], pending)


def test_tls(certs):
    emu = Emulator("--tls-cert", os.path.join(certs, "server.pem"),
                   "--tls-key", os.path.join(certs, "server.key"))
    emu.ca_file = os.path.join(certs, "ca.pem")
    try:
        check("tls: https url", emu.info["url"].startswith("https://127.0.0.1:"))
        emu.control("GET", "/stats")
        token = emu.access_token()
        conn = emu.connect()
        statuses = [emu.graph("/v1.0/users/" + ADELE, token, conn=conn)[0] for _ in range(3)]
        conn.close()
        _, stats = emu.control("GET", "/stats")
        check("tls: requests", statuses == [200] * 3)
        check("tls: one handshake per connection", stats["tls_handshakes"] == 2
              and stats["connections"] == 2, stats)
        try:
            plain = http.client.HTTPSConnection(emu.host, emu.port, timeout=5,
                                                context=ssl.create_default_context())
            plain.request("GET", "/_emulator/health")
            plain.getresponse()
            check("tls: unknown CA rejected", False)
        except ssl.SSLError:
            check("tls: unknown CA rejected", True)
    finally:
        emu.stop()


def test_process_handling():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    emu = subprocess.Popen([sys.executable, SERVER, "--quiet", "--watch-pid", str(sleeper.pid)],
                           stdout=subprocess.PIPE, text=True)
    emu.stdout.readline()
    sleeper.kill()
    sleeper.wait()
    try:
        emu.wait(5)
        check("watch-pid: exits when the watched process is gone", True)
    except subprocess.TimeoutExpired:
        emu.kill()
        check("watch-pid: exits when the watched process is gone", False)

    emu = subprocess.Popen([sys.executable, SERVER, "--quiet"], stdout=subprocess.PIPE, text=True)
    emu.stdout.readline()
    emu.send_signal(signal.SIGTERM)
    try:
        check("SIGTERM: clean exit", emu.wait(5) == 0)
    except subprocess.TimeoutExpired:
        emu.kill()
        check("SIGTERM: clean exit", False)


def main():
    check("tenant: gen_tenant.build() is deterministic",
          json.dumps(gen_tenant.build()) == json.dumps(gen_tenant.build()))
    emu = Emulator()
    try:
        for test in (test_ready, test_token_endpoint, test_graph_users, test_graph_auth,
                     test_member_of, test_patch, test_users_list, test_revoke_sessions,
                     test_licenses, test_security_alerts, test_faults, test_keep_alive_and_stats,
                     test_concurrency, test_config, test_device_code, test_bulk_presence,
                     test_batch, test_rate_limit, test_latency_concurrency):
            emu.control("POST", "/reset")
            test(emu)
    finally:
        emu.stop()
    if CERTS or shutil.which("openssl"):
        certs = CERTS or tempfile.mkdtemp(prefix="emu-certs-")
        try:
            if not CERTS:
                subprocess.run(["sh", os.path.join(HERE, "make-certs.sh"), certs], check=True,
                               stdout=subprocess.DEVNULL)
            test_tls(certs)
            test_certificates(certs)
        finally:
            if not CERTS:
                shutil.rmtree(certs)
    else:
        print("skip TLS and certificates: no openssl")
    test_process_handling()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("selftest: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
