"""Device authorization grant (RFC 8628; docs/wire.md §1.7): the codes issued by
POST /{tenant}/oauth2/v2.0/devicecode and what the end user did with them.
The user's side (approve, decline) is the control plane's job."""

import secrets
import threading
import time

from identity_errors import IdentityError

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
VERIFICATION_URI = "https://microsoft.com/devicelogin"
USER_CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"

PENDING, APPROVED, DECLINED, REDEEMED = "pending", "approved", "declined", "redeemed"


def number(x):
    """5.0 -> 5 (Entra sends integers; fractions exist only for fast tests)."""
    return int(x) if float(x).is_integer() else float(x)


class DeviceCodes:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.by_device = {}       # device_code -> record
            self.by_user = {}         # user_code -> record

    def issue(self, client_id, tenant, scope, interval, expires_in):
        with self.lock:
            while True:
                user_code = "".join(secrets.choice(USER_CODE_LETTERS) for _ in range(9))
                if user_code not in self.by_user:
                    break
            device_code = "DAQABIQEAAAD" + secrets.token_urlsafe(150)
            record = {"device_code": device_code, "user_code": user_code,
                      "client_id": client_id.lower(), "tenant": tenant, "scope": scope,
                      "issued": time.time(), "expires_at": time.time() + expires_in,
                      "interval": interval, "polls": 0, "slow_downs": 0, "state": PENDING,
                      "user_id": None}
            self.by_device[device_code] = record
            self.by_user[user_code] = record
        return record

    def find_user_code(self, user_code):
        with self.lock:
            return self.by_user.get((user_code or "").strip().upper().replace("-", ""))

    def decide(self, user_code, state, user_id=None):
        """Approve or decline a pending code; the record, or None when there is none."""
        with self.lock:
            record = self.by_user.get((user_code or "").strip().upper().replace("-", ""))
            if record is None or record["state"] != PENDING or time.time() >= record["expires_at"]:
                return None
            record["state"], record["user_id"] = state, user_id
            return dict(record)

    def pending(self):
        now = time.time()
        with self.lock:
            return [{"user_code": r["user_code"], "client_id": r["client_id"], "scope": r["scope"],
                     "polls": r["polls"], "slow_downs": r["slow_downs"],
                     "expires_in": round(r["expires_at"] - now, 3)}
                    for r in self.by_device.values()
                    if r["state"] == PENDING and now < r["expires_at"]]

    def poll(self, device_code, client_id, config, default_user_id):
        """One poll: the record's state after this poll (and the record), or an
        IdentityError for anything but approval."""
        with self.lock:
            record = self.by_device.get(device_code)
            if record is None or record["client_id"] != client_id.lower():
                raise IdentityError(400, "invalid_grant", 70000,
                                    "Provided grant is invalid or malformed.")
            if record["state"] == REDEEMED:
                raise IdentityError(400, "invalid_grant", 70000,
                                    "Provided grant is invalid or malformed. The device code has "
                                    "already been redeemed.")
            if time.time() >= record["expires_at"]:
                raise expired()
            if record["state"] == PENDING and config.device_slow_down > 0:
                config.device_slow_down -= 1
                record["slow_downs"] += 1
                raise IdentityError(400, "slow_down", 70016,
                                    "OAuth 2.0 device flow error. Polling too frequently: "
                                    "increase the polling interval by 5 seconds.")
            record["polls"] += 1
            if record["state"] == PENDING:
                decline_after = config.device_auto_decline_after
                approve_after = config.device_auto_approve_after
                if decline_after is not None and record["polls"] > decline_after:
                    record["state"] = DECLINED
                elif approve_after is not None and record["polls"] > approve_after:
                    record["state"], record["user_id"] = APPROVED, default_user_id
            if record["state"] == PENDING:
                raise IdentityError(400, "authorization_pending", 70016,
                                    "OAuth 2.0 device flow error. Authorization is pending. "
                                    "Continue polling.")
            if record["state"] == DECLINED:
                raise IdentityError(400, "authorization_declined", 70000,
                                    "The end user declined the authorization request.")
            record["state"] = REDEEMED           # APPROVED: tokens now, once
            return dict(record)


def expired():
    return IdentityError(400, "expired_token", 70020,
                         "The provided value for the input parameter 'device_code' is not valid. "
                         "This device code has expired.")


def message(user_code):
    return ("To sign in, use a web browser to open the page %s and enter the code %s to "
            "authenticate." % (VERIFICATION_URI, user_code))


def new_device_reply(record, expires_in, interval):
    return {"user_code": record["user_code"], "device_code": record["device_code"],
            "verification_uri": VERIFICATION_URI, "expires_in": number(expires_in),
            "interval": number(interval), "message": message(record["user_code"])}

