"""The control plane: /_emulator/... routes for tests.  No auth, JSON in and
out, never counted in stats nor written to the request log."""

import json
import re
from urllib.parse import parse_qs, unquote

from assertions import CertificateError
from faults import FaultError
from wire import Response, json_bytes

PREFIX = "/_emulator"


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class ControlPlane:
    def __init__(self, emulator):
        self.emu = emulator
        # (method, path regex, handler); the regex groups are passed on.
        self.routes = [
            ("POST", r"/reset", self.reset),
            ("GET", r"/health", self.health),
            ("GET", r"/stats", self.stats),
            ("GET", r"/requests", self.requests),
            ("GET", r"/faults", self.list_faults),
            ("POST", r"/faults", self.add_faults),
            ("DELETE", r"/faults", self.clear_faults),
            ("POST", r"/expire_tokens", self.expire_tokens),
            ("GET", r"/issued", self.issued),
            ("GET", r"/config", self.get_config),
            ("POST", r"/config", self.set_config),
            ("GET", r"/state/users/([^/]+)", self.state_user),
            ("GET", r"/state/alerts/([^/]+)", self.state_alert),
            ("POST", r"/refresh_tokens/expire", self.expire_refresh_token),
            ("GET", r"/apps/([^/]+)/certificates", self.list_certificates),
            ("POST", r"/apps/([^/]+)/certificates", self.add_certificate),
            ("DELETE", r"/apps/([^/]+)/certificates", self.clear_certificates),
            ("GET", r"/device/pending", self.device_pending),
            ("POST", r"/device/approve", self.device_approve),
            ("POST", r"/device/decline", self.device_decline),
        ]

    def handle(self, req):
        path = req.path[len(PREFIX):] or "/"
        try:
            matched_path = False
            for method, pattern, handler in self.routes:
                m = re.fullmatch(pattern, path)
                if not m:
                    continue
                matched_path = True
                if method == req.method:
                    return self.reply(200, handler(req, *m.groups()))
            if matched_path:
                raise ControlError(405, "method %s not allowed on %s" % (req.method, req.path))
            raise ControlError(404, "no control route %s" % req.path)
        except ControlError as e:
            return self.reply(e.status, {"error": str(e)})

    @staticmethod
    def reply(status, obj):
        return Response(status, [("Content-Type", "application/json; charset=utf-8"),
                                 ("Cache-Control", "no-store")], json_bytes(obj))

    @staticmethod
    def body(req, default=None):
        if not req.body.strip():
            return default
        try:
            return json.loads(req.body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise ControlError(400, "invalid JSON body: %s" % e) from None

    # -- routes ---------------------------------------------------------------

    def reset(self, req):
        self.emu.reset()
        return {"ok": True}

    def health(self, req):
        return {"ok": True}

    def stats(self, req):
        return self.emu.stats.snapshot()

    def requests(self, req):
        limit = parse_qs(req.query).get("limit", [None])[0]
        try:
            limit = int(limit) if limit is not None else None
        except ValueError:
            raise ControlError(400, "limit must be an integer") from None
        return {"requests": self.emu.log.last(limit)}

    def issued(self, req):
        """Every access and refresh token issued since start (reset keeps them)."""
        with self.emu.tokens.lock:
            return {"tokens": list(self.emu.tokens.issued)}

    def list_faults(self, req):
        return {"faults": self.emu.faults.pending()}

    def add_faults(self, req):
        spec = self.body(req)
        specs = spec.get("faults") if isinstance(spec, dict) and "faults" in spec else [spec]
        if not isinstance(specs, list):
            raise ControlError(400, "faults must be a list")
        try:
            queued = self.emu.faults.add(specs)
        except FaultError as e:
            raise ControlError(400, str(e)) from None
        return {"ok": True, "queued": queued, "pending": len(self.emu.faults.pending())}

    def clear_faults(self, req):
        self.emu.faults.clear()
        return {"ok": True}

    def expire_tokens(self, req):
        return {"ok": True, "expired": self.emu.tokens.expire_all()}

    def get_config(self, req):
        return self.emu.config.as_dict()

    def set_config(self, req):
        changes = self.body(req, {})
        if not isinstance(changes, dict):
            raise ControlError(400, "config must be a JSON object")
        try:
            self.emu.config.update(changes)
        except ValueError as e:
            raise ControlError(400, str(e)) from None
        return self.emu.config.as_dict()

    def state_user(self, req, key):
        user = self.emu.directory.find_user(unquote(key))
        if user is None:
            raise ControlError(404, "no such user")
        with self.emu.directory.lock:
            return json.loads(json.dumps(user))

    def state_alert(self, req, key):
        with self.emu.directory.lock:
            alert = self.emu.directory.alerts.get(unquote(key))
            if alert is None:
                raise ControlError(404, "no such alert")
            return json.loads(json.dumps(alert))

    def expire_refresh_token(self, req):
        spec = self.body(req, {})
        token = spec.get("refresh_token") if isinstance(spec, dict) else None
        if not isinstance(token, str) or not token:
            raise ControlError(400, "refresh_token is required")
        if not self.emu.tokens.expire_refresh(token):
            raise ControlError(404, "unknown refresh token")
        return {"ok": True}

    # -- certificate credentials -------------------------------------------------

    def app_id(self, key):
        app = self.emu.directory.app(unquote(key))
        if app is None:
            raise ControlError(404, "no such application")
        return app["appId"]

    def list_certificates(self, req, key):
        return {"certificates": self.emu.identity.certificates.list(self.app_id(key))}

    def add_certificate(self, req, key):
        client_id = self.app_id(key)
        spec = self.body(req, {})
        pem = spec.get("pem") if isinstance(spec, dict) else None
        if not isinstance(pem, str) or not pem:
            raise ControlError(400, "pem (the certificate in PEM) is required")
        try:
            cert = self.emu.identity.certificates.register(client_id, pem)
        except (CertificateError, RuntimeError) as e:
            raise ControlError(400, str(e)) from None
        return dict(cert.describe(), ok=True)

    def clear_certificates(self, req, key):
        self.emu.identity.certificates.clear(self.app_id(key))
        return {"ok": True}

    # -- device code: the end user's side ------------------------------------------

    def device_pending(self, req):
        return {"pending": self.emu.identity.device_codes.pending()}

    def device_decision(self, req, state):
        spec = self.body(req, {})
        if not isinstance(spec, dict) or not isinstance(spec.get("user_code"), str):
            raise ControlError(400, "user_code is required")
        user_id = None
        if state == "approved":
            upn = spec.get("username") or self.emu.directory.defaults.get("username")
            user = self.emu.directory.find_user(upn)
            if user is None:
                raise ControlError(404, "no such user")
            user_id = user["id"]
        record = self.emu.identity.device_codes.decide(spec["user_code"], state, user_id)
        if record is None:
            raise ControlError(404, "no pending device code with that user_code")
        return {"ok": True, "user_code": record["user_code"], "state": state}

    def device_approve(self, req):
        return self.device_decision(req, "approved")

    def device_decline(self, req):
        return self.device_decision(req, "declined")
