"""Fault injection, request counters and the request log.

A fault is queued through the control plane and applied to the next `count`
requests that match it (method, path regex, target), first queued first.
Actions that break the wire protocol write to the socket through the small
interface the server hands to perform().
"""

import collections
import http
import re
import threading
import time

from wire import Response, http_date, json_bytes

ACTIONS = ("respond", "drop", "drop_mid_headers", "drop_mid_body", "stall_body",
           "malformed_json", "truncated_json", "html_502", "wrong_content_type", "corrupt_gzip",
           "oversized", "extra_response", "slow_headers", "giant_header", "bad_status_line")
TARGETS = ("graph", "token", "any", "batch_item")

GATEWAY_502 = (b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
               b"<center><h1>502 Bad Gateway</h1></center>\r\n"
               b"<hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n"
               b"</body>\r\n</html>\r\n")
PORTAL_PAGE = (b"<!DOCTYPE html>\n<html><head><title>Sign in to continue</title></head>\n"
               b"<body><h1>Network access requires sign-in</h1>"
               b"<p>Your request was intercepted by a web proxy.</p></body></html>\n")
MALFORMED_JSON = b'{"id": "x", "displayName": "Adele Vance", "mail": , "value": [1, 2,,]'


class FaultError(ValueError):
    """A fault specification the control plane rejects."""


class Fault:
    def __init__(self, spec):
        if not isinstance(spec, dict):
            raise FaultError("a fault must be a JSON object")
        unknown = set(spec) - {"method", "path", "target", "count", "status", "headers", "body",
                               "json", "delay", "action", "stall", "size"}
        if unknown:
            raise FaultError("unknown fault field(s): %s" % ", ".join(sorted(unknown)))
        self.spec = dict(spec)
        self.method = (spec.get("method") or "").upper() or None
        try:
            self.path = re.compile(spec["path"]) if spec.get("path") else None
        except (re.error, TypeError) as e:
            raise FaultError("bad path regex: %s" % e) from None
        self.target = spec.get("target", "graph")
        if self.target not in TARGETS:
            raise FaultError("target must be one of %s" % ", ".join(TARGETS))
        self.action = spec.get("action", "respond")
        if self.action not in ACTIONS:
            raise FaultError("action must be one of %s" % ", ".join(ACTIONS))
        if self.target == "batch_item" and self.action != "respond":
            # A batch item has no wire of its own to break.
            raise FaultError("a batch_item fault can only use action respond")
        self.count = self.number(spec, "count", 1, int)
        if self.count < 1:
            raise FaultError("count must be at least 1")
        self.status = spec.get("status")
        if self.status is not None and not (isinstance(self.status, int) and 100 <= self.status <= 599):
            raise FaultError("status must be an integer HTTP status")
        self.headers = spec.get("headers") or {}
        if not isinstance(self.headers, dict):
            raise FaultError("headers must be an object")
        self.body = spec.get("body")
        if self.body is not None and not isinstance(self.body, str):
            raise FaultError("body must be a string (use json for an object)")
        self.json = spec.get("json")
        self.delay = self.number(spec, "delay", 0.0, float)
        self.stall = self.number(spec, "stall", 30.0, float)
        self.size = self.number(spec, "size", 128 * 1024 * 1024, int)

    @staticmethod
    def number(spec, name, default, kind):
        value = spec.get(name, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise FaultError("%s must be a non-negative number" % name)
        return kind(value)

    def matches(self, req, target):
        """req: anything with .method and .target (for a batch item: its url as sent).
        "any" means any HTTP request: graph or token, never a batch item."""
        return ((self.target == target or (self.target == "any" and target != "batch_item"))
                and (self.method is None or self.method == req.method)
                and (self.path is None or self.path.search(req.target) is not None))

    def describe(self):
        return dict(self.spec, remaining=self.count)


class FaultQueue:
    def __init__(self):
        self.lock = threading.Lock()
        self.faults = []

    def add(self, specs):
        faults = [Fault(s) for s in specs]          # validate all before queueing any
        with self.lock:
            self.faults.extend(faults)
        return len(faults)

    def clear(self):
        with self.lock:
            self.faults = []

    def take(self, req, target):
        """The first queued fault matching this request, consuming one use."""
        with self.lock:
            for fault in self.faults:
                if fault.matches(req, target):
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def pending(self):
        with self.lock:
            return [f.describe() for f in self.faults]


class Stats:
    FIELDS = ("requests", "graph_requests", "token_requests", "connections", "tls_handshakes",
              "batch_items", "throttled", "max_concurrency")

    def __init__(self):
        self.lock = threading.Lock()
        self.in_flight = 0              # Graph requests being handled now (not reset)
        self.reset()

    def reset(self):
        with self.lock:
            self.counts = dict.fromkeys(self.FIELDS, 0)
            # Requests still in flight at reset count toward the new maximum.
            self.counts["max_concurrency"] = self.in_flight

    def incr(self, *names):
        with self.lock:
            for name in names:
                self.counts[name] += 1

    def add(self, name, n):
        with self.lock:
            self.counts[name] += n

    def enter(self):
        """A Graph request starts: the gauge behind max_concurrency."""
        with self.lock:
            self.in_flight += 1
            if self.in_flight > self.counts["max_concurrency"]:
                self.counts["max_concurrency"] = self.in_flight

    def leave(self):
        with self.lock:
            self.in_flight -= 1

    def snapshot(self):
        with self.lock:
            return dict(self.counts)


class RequestLog:
    def __init__(self, size=1000):
        self.lock = threading.Lock()
        self.entries = collections.deque(maxlen=size)

    def add(self, req):
        entry = {"method": req.method, "path": req.target, "headers": dict(req.headers),
                 "body": req.body.decode("utf-8", errors="replace"),
                 "connection": req.connection, "time": time.time()}
        with self.lock:
            self.entries.append(entry)

    def clear(self):
        with self.lock:
            self.entries.clear()

    def last(self, limit=None):
        with self.lock:
            entries = list(self.entries)
        return entries[-limit:] if limit else entries


# ==========================================================================
# Performing a fault
# ==========================================================================

def perform(fault, io):
    """Carry out one fault.  io is the server's view of the exchange:
    real() -> the Response the service would give; error(status) -> the
    default error Response for the target; headers(content_type) -> base
    headers; send(resp, compress=True); send_head(status, headers, length);
    send_raw(bytes); abort(reset=False).  Returns the status to log (or a word)."""
    if fault.delay:
        time.sleep(fault.delay)
    action = fault.action

    if action == "respond":
        resp = respond(fault, io.real, io.error)
        io.send(resp)
        return resp.status

    if action == "drop":
        io.abort()
        return "drop"

    if action == "drop_mid_headers":
        # A FIN here reads as "end of headers" to curl and http.client (a 200
        # with no body); a reset after the bytes have arrived is a network failure.
        io.send_raw(b"HTTP/1.1 200 OK\r\nContent-Ty")
        time.sleep(0.1)
        io.abort(reset=True)
        return "drop_mid_headers"

    if action in ("drop_mid_body", "stall_body"):
        resp = with_json_body(io.real(), io)
        io.send_head(resp.status, resp.headers, len(resp.body))
        io.send_raw(resp.body[:len(resp.body) // 2])
        if action == "stall_body":
            time.sleep(fault.stall)
        io.abort()
        return action

    if action == "malformed_json":
        io.send(make(io, 200, "application/json", MALFORMED_JSON), compress=False)
        return 200

    if action == "truncated_json":
        resp = with_json_body(io.real(), io)
        resp.body = resp.body[:max(1, len(resp.body) // 2)]
        resp.chunked = False                       # a valid Content-Length for the cut body
        io.send(resp, compress=False)
        return resp.status

    if action == "html_502":
        resp = make(io, 502, "text/html", GATEWAY_502, graph_headers=False)
        io.send(resp, compress=False)
        return 502

    if action == "wrong_content_type":
        io.send(make(io, 200, "text/html; charset=utf-8", PORTAL_PAGE), compress=False)
        return 200

    if action == "corrupt_gzip":
        resp = make(io, 200, "application/json", b"this is not gzip data \x00\x01\x02\x03")
        resp.set_header("Content-Encoding", "gzip")
        io.send(resp, compress=False)
        return 200

    if action == "oversized":
        send_oversized(io, fault.size)
        return 200

    if action == "extra_response":
        # The real response, then a second full one nobody asked for (after
        # `stall` seconds when given): a copy, with the fault's status, body
        # and headers applied (a null header removes it).
        resp = io.real()
        io.send(resp)
        if "stall" in fault.spec:
            time.sleep(fault.stall)
        extra = Response(resp.status, resp.headers, resp.body, chunked=resp.chunked)
        io.send(respond(fault, lambda: extra, io.error))
        return resp.status

    if action == "slow_headers":
        # A steady trickle: the status line, then one header line every 0.3 s
        # for `stall` seconds, then the real response's own fields and body.
        resp = with_json_body(io.real(), io)
        io.send_raw(b"HTTP/1.1 %d %s\r\n" % (resp.status, reason(resp.status)))
        deadline = time.monotonic() + fault.stall
        n = 0
        while time.monotonic() < deadline:
            n += 1
            io.send_raw(b"X-Slow-%d: %s\r\n" % (n, b"y" * 16))
            time.sleep(0.3)
        io.send_raw(fields(resp.headers, len(resp.body)) + resp.body)
        return resp.status

    if action == "giant_header":
        # One header line of `size` bytes (libcurl refuses lines over 100 KiB).
        resp = with_json_body(io.real(), io)
        resp.headers.append(("X-Giant", "g" * fault.size))
        resp.chunked = False
        io.send(resp, compress=False)
        return resp.status

    if action == "bad_status_line":
        # A status line that is not HTTP/1.x (the fault's body, by default an
        # unknown version), then an ordinary head and body.
        resp = with_json_body(io.real(), io)
        line = (fault.body if fault.body is not None else "HTTP/1.7 200 OK").encode("latin-1")
        io.send_raw(line + b"\r\n" + fields(resp.headers, len(resp.body)) + resp.body)
        io.abort()
        return "bad_status_line"
    raise AssertionError(action)


def fields(headers, length):
    """The field lines and blank line of a head, with Content-Length: length."""
    lines = ["%s: %s\r\n" % (k, v) for k, v in headers
             if k.lower() not in ("content-length", "transfer-encoding")]
    lines.append("Content-Length: %d\r\n\r\n" % length)
    return "".join(lines).encode("latin-1", errors="replace")


def reason(status):
    try:
        return http.HTTPStatus(status).phrase.encode("latin-1")
    except ValueError:
        return b"Unknown"


def respond(fault, real, error):
    """The Response of a `respond` fault: error(status) or real(), then the
    fault's body and headers applied."""
    resp = error(fault.status) if fault.status is not None else real()
    if fault.json is not None:
        resp.body = json_bytes(fault.json)
        resp.set_header("Content-Type", "application/json")
    elif fault.body is not None:
        resp.body = fault.body.encode("utf-8")
    for name, value in fault.headers.items():
        if isinstance(value, list):        # the field repeated, one line a value
            resp.set_header(name, None)
            resp.headers.extend((name, str(v)) for v in value)
        else:
            resp.set_header(name, None if value is None else str(value))
    return resp


def perform_item(fault, real, error):
    """A batch_item fault (always `respond`): the Response for that item."""
    if fault.delay:
        time.sleep(fault.delay)
    return respond(fault, real, error)


def make(io, status, content_type, body, graph_headers=True):
    headers = io.headers(content_type) if graph_headers else [
        ("Content-Type", content_type), ("Date", http_date()),
        ("Server", "Microsoft-Azure-Application-Gateway/v2")]
    return Response(status, headers, body)


def with_json_body(resp, io):
    """The real response, or a stand-in JSON body when it has none (204)."""
    if resp.body:
        resp.chunked = False
        return resp
    return make(io, 200, "application/json",
                json_bytes({"id": "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
                            "displayName": "Adele Vance", "note": "stand-in body " + "x" * 64}))


def send_oversized(io, size):
    # A valid JSON document of exactly `size` bytes, streamed in chunks.
    head, tail = b'{"value":"', b'"}'
    size = max(size, len(head) + len(tail))
    io.send_head(200, io.headers("application/json"), size)
    io.send_raw(head)
    remaining = size - len(head) - len(tail)
    block = b"x" * 65536
    while remaining > 0:
        n = min(remaining, len(block))
        io.send_raw(block[:n])
        remaining -= n
    io.send_raw(tail)
