"""Certificate credentials: the apps' registered certificates and the checks
on a client assertion (RFC 7523 JWT, docs/wire.md §1.4).

Python's standard library has no RSA, so signatures are verified with the
openssl command-line tool, on files in a private temporary directory that is
removed afterwards.  Only public material (certificates, public keys) is kept.
"""

import base64
import binascii
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time

from identity_errors import IdentityError

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW = 300            # seconds of nbf tolerance (Entra allows for clock skew)
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END CERTIFICATE-----")
DOCS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"


class CertificateError(ValueError):
    """A certificate the control plane cannot register."""


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text):
    """Lenient: base64url or standard base64, with or without padding."""
    if not isinstance(text, str):
        raise ValueError("not a string")
    cleaned = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    return base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)


def openssl(args, stdin=None):
    """Run openssl; (exit status, stdout bytes).  Never raises for a failing verify."""
    try:
        proc = subprocess.run(["openssl"] + args, input=stdin, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError("cannot run openssl: %s" % e) from None
    return proc.returncode, proc.stdout


class Certificate:
    """One registered certificate: DER thumbprints and the public key (PEM)."""

    def __init__(self, pem_text):
        m = _PEM_CERT.search(pem_text or "")
        if not m:
            raise CertificateError("no -----BEGIN CERTIFICATE----- block in pem")
        try:
            self.der = base64.b64decode("".join(m.group(1).split()), validate=True)
        except binascii.Error:
            raise CertificateError("the certificate block is not base64") from None
        self.pem = ("-----BEGIN CERTIFICATE-----\n%s\n-----END CERTIFICATE-----\n"
                    % "\n".join(re.findall(".{1,64}", base64.b64encode(self.der).decode())))
        status, out = openssl(["x509", "-noout", "-pubkey"], self.pem.encode())
        if status != 0 or b"PUBLIC KEY" not in out:
            raise CertificateError("openssl cannot read the certificate")
        self.public_key = out
        self.sha1 = hashlib.sha1(self.der).digest()
        self.sha256 = hashlib.sha256(self.der).digest()

    def describe(self):
        return {"thumbprint": self.sha1.hex().upper(), "x5t": b64url(self.sha1),
                "x5t#S256": b64url(self.sha256),
                "thumbprint_sha256": self.sha256.hex().upper()}


class CertificateStore:
    """client_id -> registered certificates.  Those given with --app-cert
    survive a reset; control-plane registrations do not."""

    def __init__(self):
        self.lock = threading.Lock()
        self.permanent = {}
        self.reset()

    def reset(self):
        with self.lock:
            self.certs = {k: list(v) for k, v in self.permanent.items()}
            self.seen_jti = {}          # (client_id, jti) -> exp

    def register(self, client_id, pem_text, permanent=False):
        cert = Certificate(pem_text)
        key = client_id.lower()
        with self.lock:
            targets = [self.certs] + ([self.permanent] if permanent else [])
            for table in targets:
                entries = table.setdefault(key, [])
                if not any(c.sha256 == cert.sha256 for c in entries):
                    entries.append(cert)
        return cert

    def clear(self, client_id):
        with self.lock:
            self.certs.pop(client_id.lower(), None)

    def list(self, client_id):
        with self.lock:
            return [c.describe() for c in self.certs.get(client_id.lower(), [])]

    def find(self, client_id, kind, digest):
        with self.lock:
            for cert in self.certs.get(client_id.lower(), []):
                if (cert.sha256 if kind == "x5t#S256" else cert.sha1) == digest:
                    return cert
        return None

    def use_jti(self, client_id, jti, exp):
        """True the first time (client, jti) is seen; False for a replay."""
        now = time.time()
        with self.lock:
            for k in [k for k, e in self.seen_jti.items() if e < now - CLOCK_SKEW]:
                del self.seen_jti[k]                      # expired ones can never come back
            key = (client_id.lower(), jti)
            if key in self.seen_jti:
                return False
            self.seen_jti[key] = exp
            return True


# ==========================================================================
# Checking an assertion
# ==========================================================================

def malformed(detail):
    return IdentityError(401, "invalid_client", 50027,
                         "JWT token is invalid or malformed. %s" % detail)


def verify_signature(public_key, alg, signing_input, signature):
    work = tempfile.mkdtemp(prefix="emu-assert-")      # mode 0700
    try:
        paths = {}
        for name, data in (("key.pem", public_key), ("input", signing_input), ("sig", signature)):
            paths[name] = os.path.join(work, name)
            with open(paths[name], "wb") as f:
                f.write(data)
        args = ["dgst", "-sha256", "-verify", paths["key.pem"], "-signature", paths["sig"]]
        if alg == "PS256":
            args += ["-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32"]
        status, _ = openssl(args + [paths["input"]])
        return status == 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def check_assertion(store, app, assertion, audience):
    """Raise the IdentityError Entra gives unless `assertion` is a valid
    client assertion for `app` addressed to `audience` (this token URL)."""
    client_id = app["appId"]
    parts = assertion.split(".")
    if len(parts) != 3:
        raise malformed("The assertion must have three dot-separated parts.")
    try:
        header = json.loads(b64url_decode(parts[0]))
        claims = json.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, UnicodeDecodeError):
        raise malformed("The assertion is not base64url-encoded JSON.") from None
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise malformed("The assertion header and claims must be JSON objects.")

    alg = header.get("alg")
    if alg not in ("PS256", "RS256"):
        raise malformed("Unsupported signing algorithm '%s'; use PS256 or RS256." % alg)
    if "x5t#S256" in header:
        kind = "x5t#S256"
    elif "x5t" in header and alg == "RS256":
        kind = "x5t"
    else:
        raise malformed("Invalid JWT token. No certificate thumbprint specified in token header.")
    try:
        digest = b64url_decode(header[kind])
    except ValueError:
        raise malformed("The certificate thumbprint in the token header is not base64url.") \
            from None

    cert = store.find(client_id, kind, digest)
    if cert is None:
        raise IdentityError(
            401, "invalid_client", 700027,
            "The certificate with identifier used to sign the client assertion is not registered "
            "on application. [Reason - The key was not found., Thumbprint of key used by client: "
            "'%s', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see "
            "configured keys for app Id '%s'. Review the documentation at "
            "https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding "
            "service endpoint and https://docs.microsoft.com/en-us/graph/api/application-get"
            "?view=graph-rest-1.0&tabs=http to build a query request URL, such as "
            "'https://graph.microsoft.com/beta/applications/%s']."
            % (digest.hex().upper(), client_id, client_id))
    signing_input = (parts[0] + "." + parts[1]).encode("ascii", errors="replace")
    if not verify_signature(cert.public_key, alg, signing_input, signature):
        raise IdentityError(
            401, "invalid_client", 700027,
            "Client assertion failed signature validation. [Reason - The provided signature value "
            "did not match the expected signature value., Thumbprint of key used by client: '%s', "
            "Found key 'Start=01/01/2024 00:00:00, End=01/01/2034 00:00:00']"
            % digest.hex().upper())

    if any(not isinstance(claims.get(k), str) or claims[k].lower() != client_id.lower()
           for k in ("iss", "sub")):
        raise IdentityError(401, "invalid_client", 700021,
                            "Client assertion application identifier doesn't match 'client_id' "
                            "parameter. Review the documentation at %s ." % DOCS)
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(isinstance(a, str) and a.rstrip("/").lower() == audience.lower() for a in auds):
        raise IdentityError(401, "invalid_client", 50013,
                            "Assertion audience claim does not match the required value. The "
                            "audience in the assertion was '%s' and the expected audience is '%s'."
                            % (aud, audience))
    now = time.time()
    exp, nbf = claims.get("exp"), claims.get("nbf", 0)
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (exp, nbf))
    if not numeric or nbf > now + CLOCK_SKEW or exp <= now:
        raise IdentityError(
            401, "invalid_client", 700024,
            "Client assertion is not within its valid time range. Current time: %s, assertion "
            "valid from %s, expiry time of assertion %s. Review the documentation at %s ."
            % (iso(now), iso(nbf), iso(exp), DOCS))
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise IdentityError(401, "invalid_client", 50013,
                            "Assertion is invalid: the 'jti' claim is missing.")
    if not store.use_jti(client_id, jti, exp):
        raise IdentityError(401, "invalid_client", 50013,
                            "Assertion is invalid: the assertion with jti '%s' has already been "
                            "used (replay)." % jti)


def iso(t):
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S.0000000Z", time.gmtime(float(t)))
    except (TypeError, ValueError, OverflowError, OSError):
        return "(invalid: %r)" % (t,)
