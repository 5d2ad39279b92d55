"""Per-client rate limit: a token bucket per app (the token's client id) and
endpoint family, as Graph throttles (docs/wire.md §7.1).  Off unless the control
plane sets config `rate_limit`."""

import math
import threading
import time

SCOPES = ("presence", "all")
FAMILIES = ("presence", "other")


def check_config(value):
    """Validate config `rate_limit`; returns the normalised dict or None."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("rate_limit must be an object or null")
    unknown = set(value) - {"requests", "per", "retry_after", "scope"}
    if unknown:
        raise ValueError("unknown rate_limit field(s): %s" % ", ".join(sorted(unknown)))
    requests = value.get("requests")
    if isinstance(requests, bool) or not isinstance(requests, int) or requests < 1:
        raise ValueError("rate_limit.requests must be an integer >= 1")
    per = value.get("per")
    if isinstance(per, bool) or not isinstance(per, (int, float)) or per <= 0:
        raise ValueError("rate_limit.per must be a positive number of seconds")
    retry_after = value.get("retry_after")
    if retry_after is not None and (isinstance(retry_after, bool)
                                    or not isinstance(retry_after, (int, float))
                                    or retry_after < 0):
        raise ValueError("rate_limit.retry_after must be a non-negative number or null")
    scope = value.get("scope", "all")
    if scope not in SCOPES:
        raise ValueError("rate_limit.scope must be one of %s" % ", ".join(SCOPES))
    return {"requests": requests, "per": per, "retry_after": retry_after, "scope": scope}


def format_seconds(seconds):
    """Retry-After text: whole seconds as an integer, else up to 3 decimals
    (rounded up, so waiting that long is always enough), like Graph's 2.128."""
    seconds = math.ceil(seconds * 1000 - 1e-6) / 1000
    text = ("%.3f" % seconds).rstrip("0").rstrip(".")
    return text or "0"


class RateLimiter:
    def __init__(self, config):
        self.config = config
        self.lock = threading.Lock()
        self.settings = None
        self.buckets = {}                 # (client id, scope) -> [tokens, last refill]

    def reset(self):
        with self.lock:
            self.buckets = {}

    def charge(self, client_id, family):
        """Take one token for this request.  None when allowed; else the
        Retry-After text for the 429.  Refused requests take no token."""
        settings = self.config.rate_limit
        if settings is None or not client_id:
            return None
        if settings["scope"] == "presence" and family != "presence":
            return None
        capacity = float(settings["requests"])
        rate = capacity / settings["per"]                  # tokens per second
        key = (client_id.lower(), settings["scope"])
        now = time.monotonic()
        with self.lock:
            if settings is not self.settings:              # new settings: fresh buckets
                self.settings, self.buckets = settings, {}
            bucket = self.buckets.setdefault(key, [capacity, now])
            bucket[0] = min(capacity, bucket[0] + (now - bucket[1]) * rate)
            bucket[1] = now
            if bucket[0] >= 1.0:
                bucket[0] -= 1.0
                return None
            wait = (1.0 - bucket[0]) / rate
        if settings["retry_after"] is not None:
            return format_seconds(settings["retry_after"])
        return format_seconds(max(wait, 0.001))
