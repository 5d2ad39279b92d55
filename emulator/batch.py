"""JSON batching: POST /v1.0/$batch (docs/wire.md §9).

The batch is checked as a whole first (any problem: 400 for the batch); then
each item is dispatched, as its own request with the outer request's
Authorization, to the same Graph handlers (through the server's batch_item
fault matching), in dependsOn order; the answers come back in input order.
"""

import json

from wire import Request

MAX_ITEMS = 20
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE")
WRITE_METHODS = ("POST", "PATCH", "PUT")

# The 400 texts for a bad batch.  "Invalid batch payload format." and the
# write-request text are Graph's as seen in third-party reports (UNVERIFIED);
# the others are the emulator's own.
INVALID_PAYLOAD = "Invalid batch payload format."
TOO_MANY = "The batch contains %d requests; a batch may contain at most %d requests."
DUPLICATE_ID = "Batch request id '%s' is used by more than one request (ids are not case-sensitive)."
WRITE_WITHOUT_BODY = "Write request id : %s does not contain Content-Type header or body."
BODY_WITHOUT_TYPE = "Request id : %s has a body but no Content-Type header."
UNKNOWN_DEPENDENCY = "Request id : %s depends on request id '%s', which is not in the batch."
CYCLE = "Request id : %s is part of a dependsOn cycle."
NESTED = "A batch request cannot contain another batch request."
FAILED_DEPENDENCY = "The request depends on request id '%s', which failed."

# Response headers left out of an item's `headers` (they belong to the outer
# HTTP response), as in G-BATCH's item examples.
OUTER_ONLY = {"vary", "strict-transport-security", "request-id", "client-request-id",
              "x-ms-ags-diagnostic", "date", "content-length", "transfer-encoding",
              "content-encoding", "connection"}


class BatchError(Exception):
    """The batch itself is refused: 400 BadRequest with this message."""


class Item:
    def __init__(self, index, spec):
        if not isinstance(spec, dict):
            raise BatchError(INVALID_PAYLOAD)
        self.index = index
        self.id = spec.get("id")
        self.method = spec.get("method")
        self.url = spec.get("url")
        self.headers = spec.get("headers")
        self.has_body = "body" in spec and spec["body"] is not None
        self.body = spec.get("body")
        self.depends_on = spec.get("dependsOn") or []
        if not isinstance(self.id, str) or not self.id:
            raise BatchError(INVALID_PAYLOAD)
        if not isinstance(self.method, str) or self.method.upper() not in METHODS:
            raise BatchError(INVALID_PAYLOAD)
        self.method = self.method.upper()
        if not isinstance(self.url, str) or not self.url:
            raise BatchError(INVALID_PAYLOAD)
        if self.headers is None:
            self.headers = {}
        if not isinstance(self.headers, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in self.headers.items()):
            raise BatchError(INVALID_PAYLOAD)
        if not isinstance(self.depends_on, list) or not all(
                isinstance(d, str) for d in self.depends_on):
            raise BatchError(INVALID_PAYLOAD)
        has_type = any(k.lower() == "content-type" for k in self.headers)
        if self.method in WRITE_METHODS and not (self.has_body and has_type):
            raise BatchError(WRITE_WITHOUT_BODY % self.id)
        if self.has_body and not has_type:
            raise BatchError(BODY_WITHOUT_TYPE % self.id)

    def key(self):
        return self.id.lower()

    def request(self, outer):
        """The item as a Request of its own: path under /v1.0, the item's headers,
        the outer Authorization (an item's own Authorization is ignored)."""
        headers = {k.lower(): v for k, v in self.headers.items()}
        headers.pop("authorization", None)
        if outer.header("authorization") is not None:
            headers["authorization"] = outer.header("authorization")
        headers.setdefault("client-request-id", outer.header("client-request-id") or "")
        if not headers["client-request-id"]:
            del headers["client-request-id"]
        if not self.has_body:
            body = b""
        elif isinstance(self.body, str):
            body = self.body.encode("utf-8")              # base64 or raw text, passed as is
        else:
            body = json.dumps(self.body, ensure_ascii=False).encode("utf-8")
        # Items are relative to the batch's own version: /v1.0/$batch or /beta/$batch.
        version = "beta" if outer.path.split("/")[1:2] == ["beta"] else "v1.0"
        req = Request(self.method, "/%s/" % version + self.url.lstrip("/"), headers, body,
                      outer.scheme, outer.host, outer.connection)
        req.in_batch = True
        return req


def parse(req):
    """The items of a batch request body, or BatchError."""
    ctype = (req.header("content-type") or "").split(";")[0].strip().lower()
    try:
        if ctype != "application/json":
            raise ValueError
        doc = json.loads(req.body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise BatchError(INVALID_PAYLOAD) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("requests"), list) \
            or not doc["requests"]:
        raise BatchError(INVALID_PAYLOAD)
    specs = doc["requests"]
    if len(specs) > MAX_ITEMS:
        raise BatchError(TOO_MANY % (len(specs), MAX_ITEMS))
    items = [Item(i, spec) for i, spec in enumerate(specs)]
    by_key = {}
    for item in items:
        if item.key() in by_key:
            raise BatchError(DUPLICATE_ID % item.id)
        by_key[item.key()] = item
    for item in items:
        for dep in item.depends_on:
            if dep.lower() not in by_key:
                raise BatchError(UNKNOWN_DEPENDENCY % (item.id, dep))
    order(items, by_key)                                   # refuses cycles
    return items, by_key


def order(items, by_key):
    """Items in an order that runs every dependency first (input order otherwise)."""
    done, visiting, out = set(), set(), []

    def visit(item):
        if item.key() in done:
            return
        if item.key() in visiting:
            raise BatchError(CYCLE % item.id)
        visiting.add(item.key())
        for dep in item.depends_on:
            visit(by_key[dep.lower()])
        visiting.discard(item.key())
        done.add(item.key())
        out.append(item)

    for item in items:
        visit(item)
    return out


def run(items, by_key, outer, dispatch, failed_dependency):
    """Dispatch the items; `dispatch(item_request, item_url)` -> Response;
    `failed_dependency(item_request, dep_id)` -> the 424 Response.  Returns the
    `responses` list in input order."""
    results = {}
    for item in order(items, by_key):
        ireq = item.request(outer)
        failed = next((d for d in item.depends_on
                       if not 200 <= results[d.lower()].status < 300), None)
        resp = failed_dependency(ireq, failed) if failed is not None else dispatch(ireq, item.url)
        results[item.key()] = resp
    return [answer(item.id, results[item.key()]) for item in items]


def answer(item_id, resp):
    """One entry of `responses`: the body as JSON (a string when it is not JSON;
    no `body` when the response has none)."""
    headers = {}
    for name, value in resp.headers:
        if name.lower() not in OUTER_ONLY:
            headers[name] = value
    entry = {"id": item_id, "status": resp.status, "headers": headers}
    if resp.body and resp.status not in (204, 304):
        text = resp.body.decode("utf-8", errors="replace")
        ctype = (resp.header("Content-Type") or "").lower()
        if "json" in ctype:
            try:
                entry["body"] = json.loads(text)
            except ValueError:
                entry["body"] = text
        else:
            entry["body"] = text
    return entry
