"""HTTP request/response values shared by the services, and small helpers."""

import datetime
import email.utils
import gzip
import json
import uuid


class Request:
    """One parsed HTTP request, as the services see it."""

    def __init__(self, method, target, headers, body, scheme, host, connection):
        self.method = method
        self.target = target                        # raw request-target, query included
        origin = target
        if target.startswith(("http://", "https://")):
            # Absolute form: the client uses this server as its HTTP proxy.
            rest = target.split("://", 1)[1]
            origin = "/" + rest.split("/", 1)[1] if "/" in rest else "/"
        self.path, _, self.query = origin.partition("?")
        self.headers = headers                      # {lower-case name: value}
        self.body = body                            # bytes
        self.scheme = scheme
        self.host = host
        self.connection = connection                # connection serial number

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def base_url(self):
        return "%s://%s" % (self.scheme, self.host)


class Response:
    """A complete response.  chunked=True sends the body with chunked transfer
    encoding, as Graph does; otherwise Content-Length is used."""

    def __init__(self, status, headers=None, body=b"", chunked=False):
        self.status = status
        self.headers = list(headers or [])
        self.body = body
        self.chunked = chunked

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set_header(self, name, value):
        """Replace a header; value None removes it."""
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            self.headers.append((name, value))


def new_guid():
    return str(uuid.uuid4())


def http_date():
    return email.utils.formatdate(usegmt=True)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc)


def json_bytes(obj):
    # Compact and UTF-8, like Graph; key order is the insertion order.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def accepts_gzip(accept_encoding):
    """True when Accept-Encoding lists gzip (or *) with a non-zero q-value."""
    for item in (accept_encoding or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "x-gzip", "*"):
            q = params.strip()
            if q.startswith("q="):
                try:
                    return float(q[2:]) > 0
                except ValueError:
                    return False
            return True
    return False


def gzip_bytes(data):
    return gzip.compress(data, compresslevel=6, mtime=0)
