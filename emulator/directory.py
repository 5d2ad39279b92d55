"""The seeded tenant (gen_tenant.py, or --fixture): the state both services share."""

import copy
import threading

MEMBER_COLLECTIONS = (("groups", "group"), ("directoryRoles", "directoryRole"),
                      ("administrativeUnits", "administrativeUnit"))


class Directory:
    def __init__(self, tenant):
        self.tenant = tenant            # () -> a fresh copy of the tenant document
        self.lock = threading.RLock()   # guards users, passwords, presence, alerts
        self.load()

    def load(self):
        data = self.tenant()
        with self.lock:
            self.tenant_id = data["tenant"]["id"]
            self.domain = data["tenant"]["domain"]
            self.defaults = data.get("defaults", {})
            self.apps = {a["appId"].lower(): a for a in data["applications"]}
            self.credentials = copy.deepcopy(data.get("credentials", {}))
            self.seed_refresh_tokens = data.get("refreshTokens", [])
            self.users = {u["id"]: u for u in data["users"]}
            self.presence = data.get("presence", {})
            # Licences: the tenant's subscriptions and each service plan's `service`.
            self.subscribed_skus = data.get("subscribedSkus", [])
            self.plan_services = data.get("servicePlanServices", {})
            # Security alerts (alerts_v2), newest first, by id.
            self.alerts = {a["id"]: a for a in data.get("securityAlerts", [])}
            # user id -> time.time() of the last revokeSignInSessions (refresh tokens
            # issued before it are refused).
            self.sessions_revoked_at = {}
            # memberOf: objects in id order (a stable, type-mixed order),
            # without their member lists.
            self.member_of = {uid: [] for uid in self.users}
            objects = []
            for collection, type_name in MEMBER_COLLECTIONS:
                for obj in data.get(collection, []):
                    objects.append((obj["id"], type_name, obj))
            for _, type_name, obj in sorted(objects, key=lambda t: t[0]):
                public = {k: v for k, v in obj.items() if k != "members"}
                for uid in obj.get("members", []):
                    if uid in self.member_of:
                        self.member_of[uid].append((type_name, public))

    # -- lookups ------------------------------------------------------------

    def find_user(self, key):
        """A user by object id or userPrincipalName, both case-insensitive."""
        if not key:
            return None
        lowered = key.lower()
        with self.lock:
            user = self.users.get(lowered)
            if user is None:
                for candidate in self.users.values():
                    if (candidate["userPrincipalName"] or "").lower() == lowered:
                        return candidate
            return user

    def app(self, client_id):
        return self.apps.get((client_id or "").lower())

    def is_this_tenant(self, name):
        return (name or "").lower() in (self.tenant_id.lower(), self.domain.lower())

    def memberships(self, user_id):
        return list(self.member_of.get(user_id, []))

    def user_presence(self, user_id):
        with self.lock:
            return copy.deepcopy(self.presence.get(user_id))

    # -- sign-in secrets ------------------------------------------------------

    def credential(self, user_id):
        with self.lock:
            return dict(self.credentials.get(user_id) or {})

    def set_password(self, user_id, password):
        with self.lock:
            entry = self.credentials.setdefault(user_id, {"mfaRequired": False})
            entry["password"] = password

    # -- licences -------------------------------------------------------------

    def sku(self, sku_id):
        """A subscribed SKU by skuId (case-insensitive), or None."""
        lowered = (sku_id or "").lower()
        return next((s for s in self.subscribed_skus if s["skuId"].lower() == lowered), None)

    def consumed_units(self, sku_id):
        with self.lock:
            return sum(1 for u in self.users.values()
                       for lic in u.get("assignedLicenses") or []
                       if (lic.get("skuId") or "").lower() == sku_id.lower())
