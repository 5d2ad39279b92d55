"""Microsoft identity platform v2.0 token endpoint and the token store.

POST /{tenant}/oauth2/v2.0/token, per docs/wire.md §1.  Grants are
looked up in TokenEndpoint.grants.  Client assertions (certificates) are
checked in assertions.py, device codes kept in devicecode.py; POST
/{tenant}/oauth2/v2.0/devicecode is answered here too.
"""

import base64
import binascii
import hmac
import json
import os
import re
import threading
import time
from urllib.parse import parse_qsl, unquote_plus

import assertions
import devicecode
from identity_errors import IdentityError, missing  # noqa: F401 (re-exported)
from wire import Response, json_bytes, new_guid, utc_now

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_RESOURCES = {"https://graph.microsoft.com", "https://graph.microsoft.com/", GRAPH_APP_ID}
OIDC_SCOPES = {"openid", "profile", "email", "offline_access"}
META_TENANTS = {"common", "organizations", "consumers"}
# signInAudience values that may sign in through /common and /organizations;
# the default registration (AzureADMyOrg) is single-tenant.
MULTI_TENANT = {"AzureADMultipleOrgs", "AzureADandPersonalMicrosoftAccount"}
FORM = "application/x-www-form-urlencoded"
_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DNS = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def fake_jwt(claims):
    """JWT-shaped: real header and claims, random bytes in place of an RS256 signature."""
    header = {"typ": "JWT", "alg": "RS256", "x5t": "emulator-key-1", "kid": "emulator-key-1"}
    return ".".join([b64url(json.dumps(header, separators=(",", ":")).encode()),
                     b64url(json.dumps(claims, separators=(",", ":")).encode()),
                     b64url(os.urandom(256))])


# ==========================================================================
# Token store
# ==========================================================================

class TokenStore:
    """Issued access and refresh tokens.  Validity lives here, not in the JWT."""

    def __init__(self):
        self.lock = threading.RLock()
        self.issued = []          # every token ever issued, across resets: for leak scans
        self.reset([])

    def reset(self, seeded_refresh_tokens):
        with self.lock:
            self.access = {}      # token -> claims dict (with "exp")
            self.refresh = {}     # token -> record
            self.redeemed = {}    # rotated-away refresh token -> record
            for seed in seeded_refresh_tokens:
                self.refresh[seed["token"]] = {
                    "client_id": seed["clientId"].lower(), "user_id": seed["userId"],
                    "scopes": seed["scope"].split(), "issued": seed.get("issuedAt"),
                    "issued_at": 0.0, "expired": False}     # older than any revocation

    def add_access(self, token, claims):
        with self.lock:
            self.access[token] = claims
            self.issued.append(token)

    def lookup_access(self, token):
        with self.lock:
            return self.access.get(token)

    def expire_all(self):
        with self.lock:
            past = int(time.time()) - 1
            for claims in self.access.values():
                claims["exp"] = min(claims["exp"], past)
            return len(self.access)

    def new_refresh(self, client_id, user_id, scopes):
        token = "1.AXEA" + b64url(os.urandom(240))
        with self.lock:
            self.issued.append(token)
            self.refresh[token] = {"client_id": client_id, "user_id": user_id, "scopes": scopes,
                                   "issued": utc_now().strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
                                   "issued_at": time.time(), "expired": False}
        return token

    def check_refresh(self, token, client_id):
        """The record of a usable refresh token, or the error Entra gives."""
        with self.lock:
            record = self.refresh.get(token)
            if record is None:
                if token in self.redeemed:
                    raise IdentityError(400, "invalid_grant", 70008,
                                        "The provided authorization code or refresh token has "
                                        "expired due to inactivity. Send a new interactive "
                                        "authorization request for this user and resource.")
                raise IdentityError(400, "invalid_grant", 9002313,
                                    "Invalid request. Request is malformed or invalid.")
            if record["client_id"] != client_id:
                raise IdentityError(400, "invalid_grant", 70000,
                                    "Provided grant is invalid or malformed.")
            if record["expired"]:
                raise IdentityError(400, "invalid_grant", 700082,
                                    "The refresh token has expired due to inactivity. The token "
                                    "was issued on %s and was inactive for 90.00:00:00."
                                    % (record["issued"] or "2024-01-01T00:00:00.0000000Z"),
                                    suberror="bad_token")
            return record

    def consume_refresh(self, token, client_id):
        """Use a refresh token up.  Rotation: any later use is refused (70008)."""
        with self.lock:
            record = self.check_refresh(token, client_id)     # a concurrent use may have won
            del self.refresh[token]
            self.redeemed[token] = record

    def expire_refresh(self, token):
        with self.lock:
            record = self.refresh.get(token)
            if record is None:
                return False
            record["expired"] = True
            return True


# ==========================================================================
# Token endpoint
# ==========================================================================

class TokenEndpoint:
    def __init__(self, directory, tokens, config):
        self.directory = directory
        self.tokens = tokens
        self.config = config
        self.certificates = assertions.CertificateStore()
        self.device_codes = devicecode.DeviceCodes()
        self.grants = {
            "client_credentials": self.client_credentials,
            "password": self.password,
            "refresh_token": self.refresh_token,
            devicecode.DEVICE_GRANT: self.device_code,
        }

    def reset(self):
        """Forget assertions seen, control-plane certificates and device codes."""
        self.certificates.reset()
        self.device_codes.reset()

    # -- plumbing -------------------------------------------------------------

    def handle(self, req, tenant, endpoint="token"):
        trace_id = new_guid()
        correlation = req.header("client-request-id")
        if not (correlation and _GUID.match(correlation)):
            correlation = new_guid()
        try:
            if req.method != "POST":
                raise IdentityError(400, "invalid_request", 900561,
                                    "The endpoint only accepts POST, OPTIONS requests. Received a "
                                    "%s request." % req.method)
            params = self.parse_form(req)
            self.check_tenant(tenant)
            if endpoint == "devicecode":
                body = self.new_device_code(tenant, params)
                return self.reply(200, body, trace_id, correlation, req, "1,0,0,,")
            grant_type = params.get("grant_type") or ""
            if not grant_type:
                raise missing("grant_type")
            grant = self.grants.get(grant_type)
            if grant is None:
                raise IdentityError(400, "unsupported_grant_type", 70003,
                                    "The app requested an unsupported grant type '%s'." % grant_type)
            body = grant(tenant, params, req)
            return self.reply(200, body, trace_id, correlation, req, "1,0,0,,")
        except IdentityError as e:
            return self.error_reply(e, trace_id, correlation, req)

    def status_reply(self, req, status):
        """The error for an injected status (fault injection), in Entra's format."""
        if status == 401:
            e = self.bad_secret(req.header("client-id") or "00000000-0000-0000-0000-000000000000")
        elif status == 429:
            e = IdentityError(429, "temporarily_unavailable", 90055,
                              "There are too many incoming requests. Please try again later.")
        elif status >= 500:
            e = IdentityError(status, "temporarily_unavailable", 90033,
                              "The Microsoft Online Directory Service (MSODS) isn't available.")
        else:
            e = IdentityError(status, "invalid_request", 90100,
                              "The parameter is empty or not valid.")
        e.status = status
        return self.error_reply(e, new_guid(), req.header("client-request-id") or new_guid(), req)

    def parse_form(self, req):
        # A body that is not form-encoded is not read at all, as Entra does: the
        # client then hears that grant_type is missing.
        ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
        if ctype != FORM:
            return {}
        params = {}
        text = req.body.decode("utf-8", errors="replace")
        for name, value in parse_qsl(text, keep_blank_values=True):
            if name in params:
                raise IdentityError(400, "invalid_request", 9000411,
                                    "The request is not properly formatted. The parameter '%s' "
                                    "is duplicated." % name)
            params[name] = value
        return params

    def check_tenant(self, tenant):
        lowered = tenant.lower()
        if lowered in META_TENANTS or self.directory.is_this_tenant(tenant):
            return
        if not (_GUID.match(tenant) or _DNS.match(tenant)):
            raise IdentityError(400, "invalid_request", 900023,
                                "Specified tenant identifier '%s' is neither a valid DNS name, "
                                "nor a valid external domain." % tenant)
        raise IdentityError(400, "invalid_request", 90002,
                            "Tenant '%s' not found. Check to make sure you have the correct tenant "
                            "ID and are signing into the correct cloud. Check with your subscription "
                            "administrator, this may happen if there are no active subscriptions "
                            "for the tenant." % tenant)

    def common_headers(self, trace_id, req):
        headers = [
            ("Cache-Control", "no-store, no-cache"),
            ("Pragma", "no-cache"),
            ("Content-Type", "application/json; charset=utf-8"),
            ("Expires", "-1"),
            ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
            ("X-Content-Type-Options", "nosniff"),
            ("P3P", 'CP="DSP CUR OTPi IND OTRi ONL FIN"'),
            ("x-ms-request-id", trace_id),
            ("x-ms-ests-server", "2.1.18874.3 - EMU ProdSlices"),
        ]
        if req.header("client-request-id"):
            headers.append(("client-request-id", req.header("client-request-id")))
        return headers

    def reply(self, status, body, trace_id, correlation, req, telemetry):
        headers = self.common_headers(trace_id, req)
        headers.append(("x-ms-clitelem", telemetry))
        headers.append(("Set-Cookie", "fpc=AkF0ZW11bGF0b3I; expires=Thu, 01-Jan-2099 00:00:00 GMT; "
                                      "path=/; secure; HttpOnly; SameSite=None"))
        headers.append(("Set-Cookie", "x-ms-gateway-slice=estsfd; path=/; secure; samesite=none; "
                                      "httponly"))
        headers.append(("Set-Cookie", "stsservicecookie=estsfd; path=/; secure; samesite=none; "
                                      "httponly"))
        return Response(status, headers, json_bytes(body))

    def error_reply(self, e, trace_id, correlation, req):
        stamp = utc_now().strftime("%Y-%m-%d %H:%M:%SZ")
        body = {
            "error": e.error,
            "error_description": "AADSTS%d: %s\r\nTrace ID: %s\r\nCorrelation ID: %s\r\nTimestamp: %s"
                                 % (e.code, e.text, trace_id, correlation, stamp),
            "error_codes": [e.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation,
            "error_uri": "https://login.microsoftonline.com/error?code=%d" % e.code,
        }
        if e.suberror:
            body["suberror"] = e.suberror
        return self.reply(e.status, body, trace_id, correlation, req, "1,%d,0,," % e.code)

    # -- client authentication -------------------------------------------------

    def authenticate_client(self, params, req, tenant, secret_required, credentials_optional=False):
        """The app, after checking client_secret (body), HTTP Basic credentials or a
        certificate assertion.  credentials_optional: a confidential app may send
        none (the device code grant)."""
        basic_id, basic_secrets = self.basic_credentials(req)
        body_id = params.get("client_id")
        if body_id and basic_id and body_id.lower() != basic_id.lower():
            raise self.bad_secret(body_id)
        client_id = body_id or basic_id
        if not client_id:
            raise missing("client_id")
        app = self.directory.app(client_id)
        if app is None:
            raise self.unknown_app(client_id, tenant)
        offered = []
        if params.get("client_secret"):
            offered.append([params["client_secret"]])
        if basic_secrets:
            offered.append(basic_secrets)
        assertion = params.get("client_assertion")
        assertion_type = params.get("client_assertion_type")
        if (assertion or assertion_type) and offered:
            raise IdentityError(400, "invalid_request", 90100,
                                "Only one client credential may be presented: send "
                                "'client_secret' or 'client_assertion', not both.")
        if app.get("publicClient"):
            if offered or assertion:
                raise IdentityError(401, "invalid_client", 700025,
                                    "Client is public so neither 'client_assertion' nor "
                                    "'client_secret' should be presented.")
            if secret_required:
                raise self.no_secret()
            return app
        if assertion or assertion_type:
            if not assertion_type:
                raise missing("client_assertion_type")
            if not assertion:
                raise missing("client_assertion")
            if assertion_type != assertions.JWT_BEARER:
                raise IdentityError(400, "invalid_request", 90100,
                                    "The client_assertion_type '%s' is not supported; use '%s'."
                                    % (assertion_type, assertions.JWT_BEARER))
            assertions.check_assertion(self.certificates, app, assertion,
                                       req.base_url + req.path)
            return app
        if not offered:
            if credentials_optional:
                return app
            raise self.no_secret()
        # Every credential offered must be right (body secret and Basic alike).
        for candidates in offered:
            if not any(self.secret_matches(app, c) for c in candidates):
                raise self.bad_secret(app["appId"])
        return app

    @staticmethod
    def check_audience(app, tenant):
        """A single-tenant app on /common or /organizations: Entra's AADSTS50194."""
        if tenant.lower() not in ("common", "organizations"):
            return
        if app.get("signInAudience", "AzureADMyOrg") in MULTI_TENANT:
            return
        raise IdentityError(400, "invalid_request", 50194,
                            "Application '%s'(%s) is not configured as a multi-tenant "
                            "application. Usage of the /common endpoint is not supported for such "
                            "applications created after '10/15/2018'. Use a tenant-specific "
                            "endpoint or configure the application to be multi-tenant."
                            % (app["appId"], app["displayName"]))

    @staticmethod
    def unknown_app(client_id, tenant):
        return IdentityError(400, "unauthorized_client", 700016,
                             "Application with identifier '%s' was not found in the directory "
                             "'%s'. This can happen if the application has not been installed by "
                             "the administrator of the tenant or consented to by any user in the "
                             "tenant. You may have sent your authentication request to the wrong "
                             "tenant." % (client_id, tenant))

    @staticmethod
    def basic_credentials(req):
        """(client_id, [secret candidates]) from Authorization: Basic, or (None, [])."""
        auth = req.header("authorization") or ""
        scheme, _, value = auth.partition(" ")
        if scheme.lower() != "basic" or not value.strip():
            return None, []
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise IdentityError(401, "invalid_client", 7000215,
                                "Invalid client secret provided.") from None
        user, _, secret = decoded.partition(":")
        # RFC 6749 2.3.1 form-encodes both parts before base64; whether Entra
        # decodes them is unverified, so both spellings are accepted.
        return unquote_plus(user), [secret, unquote_plus(secret)]

    @staticmethod
    def secret_matches(app, candidate):
        return any(hmac.compare_digest(candidate.encode(), s.encode()) for s in app["secrets"])

    @staticmethod
    def no_secret():
        return IdentityError(401, "invalid_client", 7000218,
                             "The request body must contain the following parameter: "
                             "'client_assertion' or 'client_secret'.")

    @staticmethod
    def bad_secret(app_id):
        return IdentityError(401, "invalid_client", 7000215,
                             "Invalid client secret provided. Ensure the secret being sent in the "
                             "request is the client secret value, not the client secret ID, for a "
                             "secret added to app '%s'." % app_id)

    # -- scopes --------------------------------------------------------------

    @staticmethod
    def invalid_scope(scope):
        return IdentityError(400, "invalid_scope", 70011,
                             "The provided value for the input parameter 'scope' is not valid. "
                             "The scope %s is not valid." % scope)

    def delegated_scopes(self, app, scope_text):
        """(granted Graph permissions, OIDC scopes) for a delegated request."""
        permissions, oidc = [], []
        for scope in scope_text.split():
            lowered = scope.lower()
            if lowered in OIDC_SCOPES:
                oidc.append(lowered)
                continue
            resource, slash, name = scope.rpartition("/")
            if not slash:
                resource, name = "https://graph.microsoft.com", scope
            if resource.lower() not in GRAPH_RESOURCES:
                raise self.invalid_scope(scope)
            if name == ".default":
                granted = app.get("delegatedPermissions", [])
            else:
                granted = [name]
            for p in granted:
                if p not in permissions:
                    permissions.append(p)
        if not permissions:
            permissions = ["User.Read"]   # what Entra grants for a bare sign-in
        return permissions, oidc

    # -- tokens ------------------------------------------------------------------

    def lifetime(self):
        return int(self.config.token_expires_in)

    def access_token(self, app, roles=None, scopes=None, user=None):
        now = int(time.time())
        lifetime = self.lifetime()
        tid = self.directory.tenant_id
        claims = {
            "aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/%s/" % tid,
            "iat": now, "nbf": now, "exp": now + lifetime,
            "app_displayname": app["displayName"], "appid": app["appId"], "appidacr": "1",
            "idp": "https://sts.windows.net/%s/" % tid, "tid": tid,
            "uti": b64url(os.urandom(16)), "ver": "1.0",
        }
        if user is None:
            claims.update({"idtyp": "app", "oid": app["appId"], "sub": app["appId"],
                           "roles": list(roles or [])})
        else:
            claims.update({"idtyp": "user", "oid": user["id"], "sub": b64url(user["id"].encode()),
                           "name": user["displayName"], "upn": user["userPrincipalName"],
                           "unique_name": user["userPrincipalName"], "amr": ["pwd"],
                           "scp": " ".join(scopes or [])})
        token = fake_jwt(claims)
        self.tokens.add_access(token, dict(claims))
        return token, lifetime

    def id_token(self, app, user):
        now = int(time.time())
        tid = self.directory.tenant_id
        return fake_jwt({
            "aud": app["appId"], "iss": "https://login.microsoftonline.com/%s/v2.0" % tid,
            "iat": now, "nbf": now, "exp": now + 3600, "name": user["displayName"],
            "oid": user["id"], "preferred_username": user["userPrincipalName"],
            "sub": b64url(user["id"].encode()), "tid": tid, "ver": "2.0"})

    def delegated_reply(self, app, user, permissions, oidc, scopes_for_refresh, issue_refresh):
        token, lifetime = self.access_token(app, scopes=permissions + [s for s in oidc
                                                                      if s != "offline_access"],
                                            user=user)
        body = {"token_type": "Bearer",
                "scope": " ".join(permissions + [s for s in oidc if s != "offline_access"]),
                "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}
        if issue_refresh:
            body["refresh_token"] = self.tokens.new_refresh(app["appId"].lower(), user["id"],
                                                            scopes_for_refresh)
        if "openid" in oidc:
            body["id_token"] = self.id_token(app, user)
        return body

    # -- grants --------------------------------------------------------------------

    def client_credentials(self, tenant, params, req):
        app = self.authenticate_client(params, req, tenant, secret_required=True)
        if tenant.lower() in META_TENANTS:
            raise IdentityError(400, "invalid_request", 50059,
                                "No tenant-identifying information found in either the request "
                                "or implied by any provided credentials.")
        scope = params.get("scope")
        if not scope:
            raise missing("scope")
        scopes = scope.split()
        if len(scopes) != 1:
            raise self.invalid_scope(scope)
        if not scopes[0].endswith("/.default"):
            raise IdentityError(400, "invalid_scope", 1002012,
                                "The provided value for scope %s is not valid. Client credential "
                                "flows must have a scope value with /.default suffixed to the "
                                "resource identifier (application ID URI)." % scope)
        if scopes[0][:-len("/.default")].lower() not in GRAPH_RESOURCES:
            raise self.invalid_scope(scope)
        token, lifetime = self.access_token(app, roles=app.get("appRoles", []))
        return {"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime,
                "access_token": token}

    def password(self, tenant, params, req):
        if tenant.lower() in ("common", "consumers"):
            raise IdentityError(400, "invalid_request", 9001023,
                                "The grant type isn't supported over the /common or /consumers "
                                "endpoints. Please use the /organizations or tenant-specific "
                                "endpoint.")
        app = self.authenticate_client(params, req, tenant, secret_required=False)
        self.check_audience(app, tenant)
        for name in ("username", "password", "scope"):
            if not params.get(name):
                raise missing(name)
        permissions, oidc = self.delegated_scopes(app, params["scope"])
        user = self.directory.find_user(params["username"])
        if user is None or user.get("userType") == "Guest":
            raise IdentityError(400, "invalid_grant", 50034,
                                "The user account {EUII Hidden} does not exist in the %s directory. "
                                "To sign into this application, the account must be added to the "
                                "directory." % self.directory.tenant_id)
        cred = self.directory.credential(user["id"])
        if not cred.get("password") or not hmac.compare_digest(
                cred["password"].encode(), params["password"].encode()):
            raise IdentityError(400, "invalid_grant", 50126,
                                "Error validating credentials due to invalid username or password.")
        self.check_user_can_sign_in(user)
        if cred.get("mfaRequired"):
            raise IdentityError(400, "invalid_grant", 50076,
                                "Due to a configuration change made by your administrator, or "
                                "because you moved to a new location, you must use multi-factor "
                                "authentication to access '%s'." % GRAPH_APP_ID,
                                suberror="basic_action")
        return self.delegated_reply(app, user, permissions, oidc, params["scope"].split(),
                                    "offline_access" in oidc)

    def refresh_token(self, tenant, params, req):
        app = self.authenticate_client(params, req, tenant, secret_required=False)
        self.check_audience(app, tenant)
        token = params.get("refresh_token")
        if not token:
            raise missing("refresh_token")
        if tenant.lower() == "consumers":
            raise IdentityError(400, "invalid_grant", 70000, "Provided grant is invalid or malformed.")
        client_id = app["appId"].lower()
        record = self.tokens.check_refresh(token, client_id)
        user = self.grant_user(record["user_id"])
        self.check_user_can_sign_in(user)
        self.check_not_revoked(user, record)
        scope_text = params.get("scope") or " ".join(record["scopes"])
        permissions, oidc = self.delegated_scopes(app, scope_text)
        # Only a request that succeeds uses the token up.
        self.tokens.consume_refresh(token, client_id)
        # A new refresh token only when offline_access is asked for, as Entra does.
        return self.delegated_reply(app, user, permissions, oidc, record["scopes"],
                                    "offline_access" in oidc)

    def check_not_revoked(self, user, record):
        """Refresh tokens issued before the user's last revokeSignInSessions (or the
        stamp it sets) are refused, as Entra does (AADSTS50173)."""
        revoked_at = self.directory.sessions_revoked_at.get(user["id"])
        issued_at = record.get("issued_at")
        if revoked_at is None or issued_at is None or issued_at >= revoked_at:
            return
        raise IdentityError(400, "invalid_grant", 50173,
                            "The provided grant has expired due to it being revoked, a fresh auth "
                            "token is needed. The user might have changed or reset their "
                            "password. The grant was issued on '%s' and the TokensValidFrom date "
                            "(before which tokens are not valid) is '%s'."
                            % (record.get("issued") or "", user.get("signInSessionsValidFromDateTime")))

    def grant_user(self, user_id):
        """The user a refresh token or a device code was issued to; one deleted
        since is Entra's AADSTS50034."""
        user = self.directory.find_user(user_id)
        if user is None:
            raise IdentityError(400, "invalid_grant", 50034,
                                "The user account {EUII Hidden} does not exist in the %s directory."
                                % self.directory.tenant_id)
        return user

    @staticmethod
    def check_user_can_sign_in(user):
        if not user.get("accountEnabled", True):
            raise IdentityError(400, "invalid_grant", 50057, "The user account is disabled.")

    # -- device code (RFC 8628) ----------------------------------------------------

    def new_device_code(self, tenant, params):
        client_id = params.get("client_id")
        if not client_id:
            raise missing("client_id")
        app = self.directory.app(client_id)
        if app is None:
            raise self.unknown_app(client_id, tenant)
        self.check_audience(app, tenant)
        scope = params.get("scope")
        if not scope:
            raise missing("scope")
        self.delegated_scopes(app, scope)            # invalid_scope now, not at redemption
        interval, expires_in = self.config.device_interval, self.config.device_expires_in
        record = self.device_codes.issue(app["appId"], tenant, scope, interval, expires_in)
        return devicecode.new_device_reply(record, expires_in, interval)

    def device_code(self, tenant, params, req):
        app = self.authenticate_client(params, req, tenant, secret_required=False,
                                       credentials_optional=True)
        self.check_audience(app, tenant)
        code = params.get("device_code")
        if not code:
            raise missing("device_code")
        default_user = self.config.device_auto_approve_user or self.directory.defaults.get("username")
        user = self.directory.find_user(default_user)
        record = self.device_codes.poll(code, app["appId"], self.config,
                                        user["id"] if user else None)
        user = self.grant_user(record["user_id"])
        self.check_user_can_sign_in(user)
        permissions, oidc = self.delegated_scopes(app, record["scope"])
        return self.delegated_reply(app, user, permissions, oidc, record["scope"].split(),
                                    "offline_access" in oidc)
