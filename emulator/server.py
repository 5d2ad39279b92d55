#!/usr/bin/env python3
"""Microsoft Graph + identity platform emulator for lua-msgraph tests.

One HTTP/1.1 server (optionally TLS) answers the token endpoint
(/{tenant}/oauth2/v2.0/token), Graph (/v1.0/...) and the test control plane
(/_emulator/...).  See README.md beside this file.
"""

import argparse
import http
import itertools
import json
import os
import re
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, unquote_plus

import faults
import gen_tenant
import ratelimit
from control import PREFIX as CONTROL_PREFIX, ControlPlane
from directory import Directory
from faults import FaultQueue, RequestLog, Stats
from graph import Exchange, GraphService
from identity import TokenEndpoint, TokenStore
from wire import Request, Response, accepts_gzip, gzip_bytes, new_guid

TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/(token|devicecode)$")
IDENTITY_PATH = re.compile(r"^/[^/]+/oauth2(/|$)")
MAX_BODY = 16 * 1024 * 1024


def _number(name, minimum=0.0, strict=False):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < minimum \
                or (strict and v <= minimum):
            raise ValueError("%s must be a %s number of seconds"
                             % (name, "positive" if strict else "non-negative"))
        return float(v)
    return check


def _count(name, minimum, nullable=False):
    def check(v):
        if v is None and nullable:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise ValueError("%s must be an integer >= %d%s"
                             % (name, minimum, " or null" if nullable else ""))
        return v
    return check


def _user(v):
    if v is not None and (not isinstance(v, str) or not v):
        raise ValueError("device_auto_approve_user must be a user principal name, id or null")
    return v


class Config:
    """Settings the control plane may change; reset restores the CLI values."""

    CHECKS = {
        "latency": _number("latency"),
        "token_expires_in": _count("token_expires_in", 1),
        # device code flow (devicecode.py)
        "device_interval": _number("device_interval"),
        "device_expires_in": _number("device_expires_in", strict=True),
        "device_slow_down": _count("device_slow_down", 0),
        "device_auto_approve_after": _count("device_auto_approve_after", 0, nullable=True),
        "device_auto_decline_after": _count("device_auto_decline_after", 0, nullable=True),
        "device_auto_approve_user": _user,
        # per-client token bucket (ratelimit.py); None: off
        "rate_limit": ratelimit.check_config,
    }

    def __init__(self, latency):
        self.defaults = {"latency": float(latency), "token_expires_in": 3599,
                         "device_interval": 5, "device_expires_in": 900, "device_slow_down": 0,
                         "device_auto_approve_after": None, "device_auto_decline_after": None,
                         "device_auto_approve_user": None, "rate_limit": None}
        self.reset()

    def reset(self):
        for k, v in self.defaults.items():
            setattr(self, k, v)

    def update(self, changes):
        unknown = set(changes) - set(self.defaults)
        if unknown:
            raise ValueError("unknown config key(s): %s" % ", ".join(sorted(unknown)))
        checked = {k: self.CHECKS[k](v) for k, v in changes.items()}   # all or nothing
        for k, v in checked.items():
            setattr(self, k, v)
        if "token_expires_in" in checked:
            self.token_expires_in = int(self.token_expires_in)

    def as_dict(self):
        return {k: getattr(self, k) for k in self.defaults}


class Emulator:
    """All state, and which service answers which path."""

    def __init__(self, tenant, latency):
        self.directory = Directory(tenant)
        self.tokens = TokenStore()
        self.config = Config(latency)
        self.faults = FaultQueue()
        self.stats = Stats()
        self.log = RequestLog()
        self.identity = TokenEndpoint(self.directory, self.tokens, self.config)
        self.limiter = ratelimit.RateLimiter(self.config)
        self.graph = GraphService(self.directory, self.tokens, self.limiter, self.stats)
        self.graph.dispatch_item = self.serve_batch_item
        self.control = ControlPlane(self)
        self.connection_serials = itertools.count(1)
        self.tokens.reset(self.directory.seed_refresh_tokens)

    def reset(self):
        self.directory.load()
        self.tokens.reset(self.directory.seed_refresh_tokens)
        self.faults.clear()
        self.stats.reset()
        self.log.clear()
        self.config.reset()
        self.limiter.reset()
        self.identity.reset()

    @staticmethod
    def classify(path):
        if path == CONTROL_PREFIX or path.startswith(CONTROL_PREFIX + "/"):
            return "control"
        if IDENTITY_PATH.match(path):
            return "token"
        return "graph"

    def serve(self, req, target):
        if target == "token":
            m = TOKEN_PATH.match(req.path)
            if m:
                return self.identity.handle(req, unquote(m.group(1)), m.group(2))
            return Response(404, [("Content-Type", "text/html; charset=utf-8")],
                            b"<html><body><h1>404 Not Found</h1></body></html>")
        return self.graph.handle(req)

    def serve_batch_item(self, ireq, url):
        """One $batch item: a batch_item fault (matched on the item's method and
        url as sent) or the Graph handlers.  No latency: the outer request had it."""
        fault = self.faults.take(BatchItemView(ireq.method, url), "batch_item")
        if fault is None:
            return self.graph.handle(ireq)
        return faults.perform_item(fault, lambda: self.graph.handle(ireq),
                                   lambda status: self.error_response(ireq, "graph", status))

    def error_response(self, req, target, status):
        """The default error for an injected status, in the target's own format."""
        if target == "token":
            return self.identity.status_reply(req, status)
        ex = Exchange(req)
        return Response(status, ex.headers("application/json"), ex.status_error(status), chunked=True)

    def base_headers(self, req, target, content_type):
        if target == "token":
            return [(k, content_type if k == "Content-Type" else v)
                    for k, v in self.identity.common_headers(new_guid(), req)]
        return Exchange(req).headers(content_type, odata_version=content_type.startswith("application/json"))

    def ready_info(self, base_url):
        d = self.directory
        defaults = d.defaults
        return {"url": base_url, "login_url": base_url, "graph_url": base_url,
                "tenant_id": d.tenant_id, "client_id": defaults.get("clientId"),
                "client_secret": first_secret(d.app(defaults.get("clientId"))), "pid": os.getpid(),
                # Extras for tests: the other seeded apps and sign-ins.
                "tenant_domain": d.domain,
                "limited_client_id": defaults.get("limitedClientId"),
                "limited_client_secret": first_secret(d.app(defaults.get("limitedClientId"))),
                "public_client_id": defaults.get("publicClientId"),
                "username": defaults.get("username"),
                "password": self.password_of(defaults.get("username")),
                "mfa_username": defaults.get("mfaUsername"),
                "refresh_token": defaults.get("refreshToken")}

    def password_of(self, upn):
        user = self.directory.find_user(upn)
        return self.directory.credential(user["id"]).get("password") if user else None


class BatchItemView:
    """What a fault matches for a batch item: its method and its url as sent."""

    def __init__(self, method, url):
        self.method, self.target = method, url


def first_secret(app):
    return app["secrets"][0] if app and app.get("secrets") else None


# ==========================================================================
# HTTP
# ==========================================================================

class Connection:
    """Per-TCP-connection facts: serial number, TLS, whether a request came yet."""

    def __init__(self, serial):
        self.serial = serial
        self.tls = False
        self.seen_request = False


class FaultIO:
    """What faults.perform() may do with one exchange."""

    def __init__(self, handler, req, target):
        self.handler, self.req, self.target = handler, req, target
        self.emu = handler.server.emulator

    def real(self):
        return self.emu.serve(self.req, self.target)

    def error(self, status):
        return self.emu.error_response(self.req, self.target, status)

    def headers(self, content_type):
        return self.emu.base_headers(self.req, self.target, content_type)

    def send(self, resp, compress=True):
        self.handler.send(resp, compress=compress and self.target == "graph")

    def send_head(self, status, headers, length):
        headers = [(k, v) for k, v in headers if k.lower() not in ("content-length", "transfer-encoding")]
        self.handler.wfile.write(self.handler.head_bytes(status, headers + [("Content-Length", str(length))]))

    def send_raw(self, data):
        self.handler.wfile.write(data)

    def abort(self, reset=False):
        self.handler.abort(reset)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"      # keep-alive
    timeout = 300                      # idle keep-alive connections end after 5 minutes

    def __init__(self, sock, client_address, server, conn):
        self.conn = conn
        super().__init__(sock, client_address, server)

    def do_GET(self):
        self.dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def dispatch(self):
        emu = self.server.emulator
        started = time.monotonic()
        try:
            body = self.read_body()
        except ValueError as e:
            self.close_connection = True
            self.send(Response(400, [("Content-Type", "text/plain")], str(e).encode()))
            return
        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = headers[key] + ", " + value if key in headers else value
        host = headers.get("host") or "%s:%d" % self.server.server_address[:2]
        # behind a TLS front (spec/support/h2front.lua: nghttpx) links keep the client's scheme
        forwarded = headers.get("x-forwarded-proto", "").split(",")[-1].strip()
        scheme = "https" if self.conn.tls or forwarded == "https" else "http"
        req = Request(self.command, self.path, headers, body, scheme, host, self.conn.serial)
        target = emu.classify(req.path)
        first, self.conn.seen_request = not self.conn.seen_request, True

        if target == "control":
            try:
                resp = emu.control.handle(req)
            except Exception:
                traceback.print_exc()
                resp = emu.control.reply(500, {"error": "internal error, see the emulator's stderr"})
            self.send(resp)
            self.log_line(req, resp.status, started)
            return

        counters = ["requests", target + "_requests"]
        if first:
            counters.append("connections")
            if self.conn.tls:
                counters.append("tls_handshakes")
        emu.stats.incr(*counters)
        emu.log.add(req)
        if target == "graph":
            emu.stats.enter()
        status = "?"
        try:
            status = self.answer(req, target)
        finally:
            if target == "graph":
                emu.stats.leave()
            self.log_line(req, status, started)

    def answer(self, req, target):
        emu = self.server.emulator
        if emu.config.latency:
            # In this connection's thread: concurrent requests wait concurrently.
            time.sleep(emu.config.latency)
        try:
            fault = emu.faults.take(req, target)
            if fault is not None:
                status = faults.perform(fault, FaultIO(self, req, target))
            else:
                resp = emu.serve(req, target)
                self.send(resp, compress=target == "graph")
                status = resp.status
        except (ConnectionError, socket.timeout, ssl.SSLError):
            self.close_connection = True
            status = "client-gone"
        except Exception:
            # A bug here must not look like a network failure to the client.
            traceback.print_exc()
            resp = emu.error_response(req, target, 500)
            self.close_connection = True
            self.send(resp)
            status = 500
        return status

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size_line = self.rfile.readline(1024)
                try:
                    size = int(size_line.split(b";")[0].strip(), 16)
                except ValueError:
                    raise ValueError("bad chunk size") from None
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass                                   # trailers
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY:
                    raise ValueError("request body too large")
                chunks.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = self.headers.get("Content-Length")
        if not length:
            return b""
        try:
            n = int(length)
        except ValueError:
            raise ValueError("bad Content-Length") from None
        if n < 0 or n > MAX_BODY:
            raise ValueError("bad Content-Length")
        return self.rfile.read(n)

    # -- writing ------------------------------------------------------------------

    @staticmethod
    def head_bytes(status, headers):
        try:
            reason = http.HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        lines = ["HTTP/1.1 %d %s" % (status, reason)] + ["%s: %s" % (k, v) for k, v in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")

    def send(self, resp, compress=False):
        body, headers = resp.body, list(resp.headers)
        if compress and body and resp.header("Content-Encoding") is None \
                and accepts_gzip(self.headers.get("Accept-Encoding")):
            body = gzip_bytes(body)
            headers.insert(1, ("Content-Encoding", "gzip"))
        chunked = resp.chunked and body and self.request_version == "HTTP/1.1"
        if resp.status in (204, 304) or resp.status < 200:
            body = b""
        elif chunked:
            headers.append(("Transfer-Encoding", "chunked"))
        else:
            headers.append(("Content-Length", str(len(body))))
        if self.close_connection:
            headers.append(("Connection", "close"))
        elif self.request_version == "HTTP/1.0":
            headers.append(("Connection", "keep-alive"))
        out = self.head_bytes(resp.status, headers)
        if self.command != "HEAD" and body:
            out += chunk_encode(body) if chunked else body
        self.wfile.write(out)

    def abort(self, reset=False):
        """Close the connection now, mid-response if need be.  reset=True sends a
        TCP RST instead of a FIN (SO_LINGER 0)."""
        self.close_connection = True
        try:
            if reset:
                self.rfile.close()                 # drop makefile's reference to the socket
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
                self.connection.close()
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # -- logging --------------------------------------------------------------------

    def log_line(self, req, status, started):
        if not self.server.quiet:
            sys.stderr.write("%s %s %s %dms\n" % (req.method, loggable(req.target), status,
                                                  (time.monotonic() - started) * 1000))

    def log_message(self, fmt, *args):
        # http.server's own messages (malformed requests, timeouts).
        if not self.server.quiet:
            sys.stderr.write("emulator: %s\n" % (fmt % args))


def chunk_encode(body):
    # Two chunks, so clients must reassemble, as with Graph's streamed bodies.
    half = len(body) // 2
    parts = [p for p in (body[:half], body[half:]) if p]
    return b"".join(b"%X\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def loggable(target):
    """The request-target with custom query values hidden; $options are kept."""
    path, sep, query = target.partition("?")
    if not sep:
        return path
    parts = []
    for part in query.split("&"):
        name, eq, _ = part.partition("=")
        parts.append(part if not eq or unquote_plus(name).startswith("$") else name + "=***")
    return path + "?" + "&".join(parts)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128           # 50+ clients may connect at once

    def __init__(self, address, emulator, ssl_context, quiet):
        self.emulator = emulator
        self.ssl_context = ssl_context
        self.quiet = quiet
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)

    def finish_request(self, sock, client_address):
        # Runs in the connection's own thread, so a slow TLS handshake never
        # blocks the accept loop.
        conn = Connection(next(self.emulator.connection_serials))
        if self.ssl_context is not None:
            try:
                sock.settimeout(10)
                sock = self.ssl_context.wrap_socket(sock, server_side=True)
            except (OSError, ssl.SSLError):
                return                      # e.g. the client rejected our certificate
            conn.tls = True
        try:
            Handler(sock, client_address, self, conn)
        finally:
            if conn.tls:
                try:
                    sock.close()
                except OSError:
                    pass

    def handle_error(self, request, client_address):
        # Clients that vanish mid-exchange are routine in fault tests.
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout, ssl.SSLError)):
            return
        if not self.quiet:
            super().handle_error(request, client_address)


# ==========================================================================
# Process plumbing
# ==========================================================================

def parse_args(argv):
    p = argparse.ArgumentParser(description="Microsoft Graph + identity platform emulator")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--fixture", metavar="TENANT_JSON",
                   help="serve this tenant instead of the one gen_tenant.py builds")
    p.add_argument("--tls-cert", help="PEM certificate (enables https)")
    p.add_argument("--tls-key", help="PEM private key for --tls-cert")
    p.add_argument("--ready-file", help="also write the ready JSON here (atomically)")
    p.add_argument("--watch-pid", type=int, help="exit once this process is gone")
    p.add_argument("--latency", type=float, default=0.0,
                   help="seconds to wait before answering each non-control request")
    p.add_argument("--quiet", action="store_true", help="no access log on stderr")
    p.add_argument("--app-cert", action="append", default=[], metavar="CLIENT_ID=PATH",
                   help="register the certificate in PEM file PATH for app CLIENT_ID "
                        "(client assertions); repeatable; kept across resets")
    args = p.parse_args(argv)
    if bool(args.tls_cert) != bool(args.tls_key):
        p.error("--tls-cert and --tls-key go together")
    return args


def write_ready_file(path, text):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    os.replace(tmp, path)                 # readers never see a partial file


def process_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open("/proc/%d/stat" % pid, encoding="ascii", errors="replace") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"      # a zombie is gone too
    except (OSError, IndexError):
        return True


def watch_pid(pid):
    while process_alive(pid):
        time.sleep(0.5)
    os._exit(0)


def url_host(host):
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return "[%s]" % host if ":" in host else host


def tenant_source(fixture):
    """() -> a fresh copy of the tenant (each reset starts from one): the
    --fixture file's, or gen_tenant's, built once at start."""
    if fixture:
        with open(fixture, encoding="utf-8") as f:
            text = f.read()
    else:
        text = json.dumps(gen_tenant.build())
    return lambda: json.loads(text)


def main(argv=None):
    args = parse_args(argv)
    emulator = Emulator(tenant_source(args.fixture), args.latency)
    for spec in args.app_cert:
        client_id, _, path = spec.partition("=")
        if not path or emulator.directory.app(client_id) is None:
            sys.exit("server.py: --app-cert %s: expected CLIENT_ID=PATH with a known client id"
                     % spec)
        try:
            with open(path, encoding="utf-8") as f:
                emulator.identity.certificates.register(client_id, f.read(), permanent=True)
        except (OSError, ValueError, RuntimeError) as e:
            sys.exit("server.py: --app-cert %s: %s" % (spec, e))
    context = None
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    server = EmulatorServer((args.host, args.port), emulator, context, args.quiet)

    def stop(signum, frame):
        # shutdown() waits for serve_forever to finish, so it runs off the main thread.
        threading.Thread(target=server.shutdown, daemon=True).start()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if args.watch_pid:
        threading.Thread(target=watch_pid, args=(args.watch_pid,), daemon=True).start()

    base = "%s://%s:%d" % ("https" if context else "http", url_host(args.host),
                           server.server_address[1])
    ready = json.dumps(emulator.ready_info(base))
    if args.ready_file:
        write_ready_file(args.ready_file, ready)
    sys.stdout.write(ready + "\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
