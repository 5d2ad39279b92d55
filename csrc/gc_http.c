/*
** gc_http.c: the transport. A slot owns one CURL easy handle; libcurl keeps
** the connection cache inside it, so consecutive requests reuse connections.
*/
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gc_err.h"
#include "gc_headers.h"
#include "gc_http.h"
#include "gc_visibility.h" /* last: see there */


static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* libcurl's OpenSSL backend opens $SSLKEYLOGFILE at global init and writes
** every TLS session key there: whoever can read that file reads the tokens
** on the wire. Only an explicit GRAPH_TLS_KEYLOG=1 lets it; otherwise the
** variable is hidden while libcurl initialises and put back after (the
** environment of child processes is left as it was). */
static void global_init(void) {
  const char *keylog = getenv("SSLKEYLOGFILE");
  const char *allow = getenv("GRAPH_TLS_KEYLOG");
  char *saved = NULL;
  if (keylog != NULL && !(allow != NULL && strcmp(allow, "1") == 0)) {
    if ((saved = gc_strdup(keylog)) == NULL) return; /* global_rc stays a failure */
    unsetenv("SSLKEYLOGFILE");
  }
  global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (saved != NULL) {
    (void)setenv("SSLKEYLOGFILE", saved, 0);
    free(saved);
  }
}

/* curl_global_init is not thread-safe on every libcurl build: run it once. */
int gc_http_global_init(void) {
  pthread_once(&global_once, global_init);
  return global_rc == CURLE_OK ? 0 : -1;
}


typedef struct abandoned {
  void *handle;
  struct abandoned *next;
} abandoned;

static pthread_mutex_t abandoned_lock = PTHREAD_MUTEX_INITIALIZER;
static abandoned *abandoned_list;

/* Provided by LeakSanitizer when the process runs under it: an ignored
** object counts as live, and so does everything it points to. Needed as
** well as the list, because Lua unloads this library (and the list's root)
** when its state closes. */
extern void __lsan_ignore_object(const void *p) __attribute__((weak));

void gc_http_abandon(void *handle) {
  abandoned *a;
  if (handle == NULL) return;
  if (__lsan_ignore_object) __lsan_ignore_object(handle);
  if ((a = (abandoned *)malloc(sizeof *a)) == NULL) return;
  if (__lsan_ignore_object) __lsan_ignore_object(a);
  a->handle = handle;
  pthread_mutex_lock(&abandoned_lock);
  a->next = abandoned_list;
  abandoned_list = a;
  pthread_mutex_unlock(&abandoned_lock);
}


static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  gc_http *h = (gc_http *)ud;
  size_t len = size * n;
  h->last_byte = gc_monotonic();
  if (h->body.len + len > h->cfg->max_response_bytes) {
    h->too_large = 1;
    return 0; /* makes libcurl abort the transfer */
  }
  if (gc_buf_append(&h->body, p, len) != 0) {
    h->nomem = 1;
    return 0;
  }
  return len;
}


/* Whether the field line p[0..len) is a client-request-id that is not the
** request's: then the response answers another request (one an earlier
** exchange left unread on the connection, or a smuggled one). */
static int foreign_crid(const gc_http *h, const char *p, size_t len) {
  const char *name, *value;
  size_t nlen, vlen, i;
  if (h->crid == NULL || len < 18 || (p[0] | 0x20) != 'c' ||
      !gc_header_split(p, len, &name, &nlen, &value, &vlen) || nlen != 17)
    return 0;
  for (i = 0; i < 17; i++)
    if ((name[i] | 0x20) != "client-request-id"[i]) return 0;
  if (vlen != h->crid_len) return 1;
  for (i = 0; i < vlen; i++)
    if ((value[i] | 0x20) != (h->crid[i] | 0x20)) return 1;
  return 0;
}


/* Header lines arrive one at a time; a new status line starts a new response
** (after 100 Continue, a proxy CONNECT or an interim 1xx) so keep only the last. */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  gc_http *h = (gc_http *)ud;
  size_t len = size * n;
  h->last_byte = gc_monotonic(); /* a slow but steady head is progress too */
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) gc_buf_reset(&h->head, 0);
  if (h->head.len + len > (size_t)256 * 1024) { /* no legitimate header block is this big */
    h->too_large = 1;
    return 0;
  }
  if (foreign_crid(h, p, len)) {
    h->mismatch = 1;
    return 0; /* aborted: libcurl closes the connection, and what follows on it */
  }
  if (gc_buf_append(&h->head, p, len) != 0) {
    h->nomem = 1;
    return 0;
  }
  return len;
}


void gc_http_config_free(gc_http_config *cfg) {
  free(cfg->ca_file);
  free(cfg->proxy);
  free(cfg->user_agent);
  cfg->ca_file = cfg->proxy = cfg->user_agent = NULL;
}


/* A peer that starts answering and then goes quiet is cut off after
** stall_timeout; before the first byte, only the total timeout applies
** (Graph may think for a while). libcurl's own low-speed check averages
** over several seconds, too coarse for this. */
static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow) {
  gc_http *h = (gc_http *)ud;
  (void)dltotal;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  if (h->head.len > 0 && gc_monotonic() - h->last_byte > h->cfg->stall_timeout) {
    h->stalled = 1;
    return 1; /* abort the transfer */
  }
  return 0;
}


/* CURLOPT_OPENSOCKETFUNCTION and CLOSESOCKETFUNCTION: keep the set of the
** cache's sockets, for gc_http_drop_unread. */
static curl_socket_t open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *a) {
  gc_socks *socks = (gc_socks *)ud;
  curl_socket_t fd;
  (void)purpose;
  if (socks->n == socks->cap) {
    int cap = socks->cap ? socks->cap * 2 : 8;
    curl_socket_t *fds = (curl_socket_t *)realloc(socks->fds, (size_t)cap * sizeof *fds);
    if (fds == NULL) return CURL_SOCKET_BAD;
    socks->fds = fds;
    socks->cap = cap;
  }
  fd = socket(a->family, a->socktype, a->protocol);
  if (fd != CURL_SOCKET_BAD) socks->fds[socks->n++] = fd;
  return fd;
}

static int close_socket(void *ud, curl_socket_t fd) {
  gc_socks *socks = (gc_socks *)ud;
  int i;
  for (i = 0; i < socks->n; i++)
    if (socks->fds[i] == fd) {
      socks->fds[i] = socks->fds[--socks->n];
      break;
    }
  if (socks->defer) {
    if (socks->nclosing == socks->capclosing) {
      int cap = socks->capclosing ? socks->capclosing * 2 : 8;
      curl_socket_t *fds =
          (curl_socket_t *)realloc(socks->closing, (size_t)cap * sizeof(curl_socket_t));
      if (fds == NULL) return close(fd); /* out of memory: now, as without a loop */
      socks->closing = fds;
      socks->capclosing = cap;
    }
    socks->closing[socks->nclosing++] = fd;
    return 0;
  }
  return close(fd);
}


void gc_http_close_deferred(gc_socks *socks) {
  while (socks->nclosing > 0) (void)close(socks->closing[--socks->nclosing]);
}


int gc_http_open(gc_http *h, const gc_http_config *cfg) {
  if (gc_http_global_init() != 0) return -1;
  h->cfg = cfg;
  h->forks = gc_forks();
  h->socks = &h->own_socks;
  h->easy = curl_easy_init();
  return h->easy ? 0 : -1;
}


/* After fork(), the handle and its connections are the parent's: leave them
** to it and start over with a handle of our own. */
static int own_handle(gc_http *h) {
  if (h->forks == gc_forks() && h->easy != NULL) return 0;
  if (h->forks != gc_forks()) {
    gc_http_abandon(h->easy);
    h->socks->n = 0; /* the parent's */
  }
  h->forks = gc_forks();
  h->configured = h->plain_get = h->proxy_off = 0;
  h->easy = curl_easy_init();
  return h->easy ? 0 : -1;
}


void gc_http_close(gc_http *h) {
  if (h->easy != NULL) {
    if (h->forks == gc_forks())
      curl_easy_cleanup(h->easy);
    else
      gc_http_abandon(h->easy);
    h->easy = NULL;
  }
  free(h->own_socks.fds); /* after the cleanup, which closes them through close_socket */
  memset(&h->own_socks, 0, sizeof h->own_socks);
  gc_buf_free(&h->body, 1); /* may hold tokens */
  gc_buf_free(&h->head, 0);
}


#define SET(opt, val)                                                \
  do {                                                               \
    if ((rc = curl_easy_setopt(e, opt, val)) != CURLE_OK) return rc; \
  } while (0)

/* Options that stay the same for every exchange of a slot: set once, since
** curl_easy_reset and two dozen setopts a request cost more than decoding
** the answer does. */
static CURLcode setup_fixed(gc_http *h) {
  CURL *e = h->easy;
  const gc_http_config *c = h->cfg;
  CURLcode rc;
  SET(CURLOPT_NOSIGNAL, 1L);
  SET(CURLOPT_NOPROGRESS, 0L);
  SET(CURLOPT_XFERINFOFUNCTION, on_progress);
#if LIBCURL_VERSION_NUM >= 0x075500
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_FOLLOWLOCATION, 0L); /* a redirect must never carry the token elsewhere */
  SET(CURLOPT_PATH_AS_IS, 1L);     /* the path is already encoded: send it verbatim */
  SET(CURLOPT_TIMEOUT_MS, c->timeout_ms);
  SET(CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_ACCEPT_ENCODING, "gzip");
  SET(CURLOPT_SSL_VERIFYPEER, c->verify_ssl ? 1L : 0L);
  SET(CURLOPT_SSL_VERIFYHOST, c->verify_ssl ? 2L : 0L);
  /* what Graph requires, whatever an OPENSSL_CONF allows */
  SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
  SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED); /* the default; ~/.netrc is never read */
  if (c->ca_file) SET(CURLOPT_CAINFO, c->ca_file);
  if (c->proxy) SET(CURLOPT_PROXY, c->proxy);
  SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
  SET(CURLOPT_OPENSOCKETDATA, (void *)h->socks);
  SET(CURLOPT_CLOSESOCKETFUNCTION, close_socket);
  SET(CURLOPT_CLOSESOCKETDATA, (void *)h->socks);
  SET(CURLOPT_XFERINFODATA, h); /* a slot never moves (gc_multi allocates each) */
  SET(CURLOPT_ERRORBUFFER, h->errbuf);
  SET(CURLOPT_WRITEDATA, h);
  SET(CURLOPT_HEADERDATA, h);
  h->configured = 1;
  return CURLE_OK;
}


static CURLcode setup(gc_http *h, const char *method, const char *url, struct curl_slist *headers,
                      const char *body, size_t body_len) {
  CURL *e = h->easy;
  CURLcode rc;
  if (!h->configured && (rc = setup_fixed(h)) != CURLE_OK) return rc;
  SET(CURLOPT_URL, url);
  SET(CURLOPT_HTTPHEADER, headers);
  /* Plain http (loopback only) carries the token in clear: never through a
  ** proxy, the option's or the environment's ("" beats http_proxy, ALL_PROXY). */
  if (strncasecmp(url, "https://", 8) != 0) {
    if (!h->proxy_off) SET(CURLOPT_PROXY, "");
    h->proxy_off = 1;
  } else if (h->proxy_off) {
    SET(CURLOPT_PROXY, h->cfg->proxy); /* NULL: the environment's, for https */
    h->proxy_off = 0;
  }
  /* the usual run of reads: nothing below changes from one to the next */
  if (!h->fresh && h->plain_get && strcmp(method, "GET") == 0) return CURLE_OK;
  h->plain_get = 0;
  /* libcurl silently re-sends a request whose reused connection died before
  ** any answer: harmless for reads, not for writes, which get a connection
  ** of their own. */
  SET(CURLOPT_FRESH_CONNECT, h->fresh ? 1L : 0L);
  SET(CURLOPT_CUSTOMREQUEST, (char *)NULL);
  SET(CURLOPT_NOBODY, 0L);
  if (strcmp(method, "GET") == 0) {
    SET(CURLOPT_HTTPGET, 1L);
    h->plain_get = !h->fresh;
  } else if (strcmp(method, "HEAD") == 0)
    SET(CURLOPT_NOBODY, 1L);
  else {
    if (body == NULL && strcmp(method, "DELETE") != 0) {
      body = ""; /* POST/PATCH/PUT without a body: Content-Length: 0 */
      body_len = 0;
    }
    if (body != NULL) {
      SET(CURLOPT_POSTFIELDS, body); /* not copied: the caller wipes it afterwards */
      SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    } else {
      SET(CURLOPT_HTTPGET, 1L);
    }
    if (strcmp(method, "POST") != 0) SET(CURLOPT_CUSTOMREQUEST, method);
  }
  return CURLE_OK;
}

#undef SET


/* The request's client-request-id, found in its header lines (each caller
** sets one), so that the response can be checked against it. Only a GUID:
** a server may replace a value of another shape with its own. */
static void find_crid(gc_http *h, const struct curl_slist *headers) {
  h->crid = NULL;
  h->crid_len = 0;
  for (; headers != NULL; headers = headers->next) {
    const char *name, *value, *line = headers->data;
    size_t nlen, vlen;
    if (gc_header_split(line, strlen(line), &name, &nlen, &value, &vlen) && nlen == 17 &&
        strncasecmp(name, "client-request-id", 17) == 0) {
      h->crid = vlen == 36 ? value : NULL;
      h->crid_len = vlen;
    }
  }
}


/* The request line and head libcurl would build, bounded (see GC_MAX_URL). */
static int request_too_large(gc_http *h, const char *url, const struct curl_slist *headers) {
  size_t ulen = strlen(url), total = ulen;
  for (; headers != NULL && total <= GC_MAX_REQHEAD; headers = headers->next)
    total += strlen(headers->data) + 2;
  if (ulen > GC_MAX_URL) {
    (void)snprintf(h->errbuf, sizeof h->errbuf, "URL of %zu bytes refused (the limit is %zu)", ulen,
                   GC_MAX_URL);
    return 1;
  }
  if (total > GC_MAX_REQHEAD) {
    (void)snprintf(h->errbuf, sizeof h->errbuf, "request head over %zu bytes refused",
                   GC_MAX_REQHEAD);
    return 1;
  }
  return 0;
}


/* A kept connection with bytes waiting before anything was asked (a second
** response, a 408 before a close) would hand them to the next request as
** its answer. libcurl cannot be told to drop one cached connection, and
** its TLS liveness check counts waiting bytes as alive: discard them and
** shut the socket, so that libcurl's own check finds it dead and closes it. */
void gc_http_drop_unread(gc_socks *socks) {
  struct pollfd p[16];
  int i, base;
  for (base = 0; base < socks->n; base += 16) {
    int n = socks->n - base < 16 ? socks->n - base : 16;
    for (i = 0; i < n; i++) {
      p[i].fd = socks->fds[base + i];
      p[i].events = POLLIN;
      p[i].revents = 0;
    }
    if (poll(p, (nfds_t)n, 0) <= 0) continue;
    for (i = 0; i < n; i++) {
      char junk[4096];
      if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      while (recv(p[i].fd, junk, sizeof junk, MSG_DONTWAIT) > 0) {
      }
      (void)shutdown(p[i].fd, SHUT_RDWR);
    }
  }
}


CURLcode gc_http_prepare(gc_http *h, const char *method, const char *url,
                         struct curl_slist *headers, const char *body, size_t body_len) {
  gc_buf_reset(&h->body, 1); /* the last body may have held a token */
  gc_buf_reset(&h->head, 0);
  h->status = 0;
  h->sent = h->started = h->too_large = h->nomem = h->stalled = h->mismatch = 0;
  h->code = NULL;
  h->errbuf[0] = '\0';
  find_crid(h, headers);
  if (own_handle(h) != 0) return CURLE_OUT_OF_MEMORY;
  if (request_too_large(h, url, headers)) {
    h->code = "too_large";
    return CURLE_FILESIZE_EXCEEDED;
  }
  return setup(h, method, url, headers, body, body_len);
}


CURLcode gc_http_perform(gc_http *h, const char *method, const char *url,
                         struct curl_slist *headers, const char *body, size_t body_len) {
  CURLcode rc = gc_http_prepare(h, method, url, headers, body, body_len);
  if (rc == CURLE_OK) {
    gc_http_drop_unread(h->socks);
    rc = curl_easy_perform(h->easy);
  }
  return gc_http_finish(h, rc);
}


/* Whether the head ends with the blank line that closes it. */
static int head_complete(const gc_buf *head) {
  const char *d = head->data;
  size_t n = head->len;
  return n >= 2 && d[n - 1] == '\n' &&
         (d[n - 2] == '\n' || (n >= 3 && d[n - 2] == '\r' && d[n - 3] == '\n'));
}


/* Turn what libcurl and the callbacks saw into one outcome with a message. */
static CURLcode settle(gc_http *h, CURLcode rc) {
  if (h->code != NULL) return rc; /* refused before sending: already said */
  if (rc == CURLE_WRITE_ERROR && h->mismatch) {
    (void)snprintf(h->errbuf, sizeof h->errbuf,
                   "the response answers another request (its client-request-id is not this "
                   "request's): discarded, connection closed");
    h->code = "mismatched_response";
    return CURLE_RECV_ERROR;
  }
  if ((rc == CURLE_WRITE_ERROR && h->too_large) || rc == CURLE_FILESIZE_EXCEEDED) {
    if (h->head.len > 0 && !head_complete(&h->head))
      (void)snprintf(h->errbuf, sizeof h->errbuf, "response headers larger than 256 KiB");
    else
      (void)snprintf(h->errbuf, sizeof h->errbuf, "response larger than max_response_bytes");
    return CURLE_FILESIZE_EXCEEDED;
  }
  if (rc == CURLE_WRITE_ERROR && h->nomem) return CURLE_OUT_OF_MEMORY;
  /* libcurl's own limit on one header line (100 KiB) also reads "Out of
  ** memory": once a head has begun and not ended, that is what it was (the
  ** request side is bounded before sending, see request_too_large) */
  if (rc == CURLE_OUT_OF_MEMORY && h->head.len > 0 && !head_complete(&h->head)) {
    (void)snprintf(h->errbuf, sizeof h->errbuf, "a response header line is longer than 100 KiB");
    return CURLE_FILESIZE_EXCEEDED;
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK && h->stalled) {
    (void)snprintf(h->errbuf, sizeof h->errbuf, "no data from the server for %g s (stall_timeout)",
                   h->cfg->stall_timeout);
    return CURLE_OPERATION_TIMEDOUT;
  }
  /* an unsupported HTTP version in the answer shares its code with an
  ** unsupported URL scheme: a request that went out got a bad response */
  if (rc == CURLE_UNSUPPORTED_PROTOCOL && h->sent) return CURLE_WEIRD_SERVER_REPLY;
  /* A peer that closes inside the header block can leave libcurl content with
  ** what it got: without the blank line that ends the head, it is not a response. */
  if (rc == CURLE_OK && !head_complete(&h->head)) {
    (void)snprintf(h->errbuf, sizeof h->errbuf,
                   "connection closed before the response headers ended");
    return CURLE_RECV_ERROR;
  }
  return rc;
}


CURLcode gc_http_finish(gc_http *h, CURLcode rc) {
  long status = 0, request_size = 0;
  if (h->easy != NULL) {
    curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h->easy, CURLINFO_REQUEST_SIZE, &request_size);
  }
  h->status = status;
  h->sent = request_size > 0;
  /* a response that answers another request is not this one's beginning */
  h->started = h->head.len > 0 && !h->mismatch;
  rc = settle(h, rc);
  if (rc == CURLE_WEIRD_SERVER_REPLY) h->started = 1; /* bytes came back, unusable */
  if (h->body.data == NULL) gc_buf_append(&h->body, "", 0);
  if (h->head.data == NULL) gc_buf_append(&h->head, "", 0);
  if (h->easy != NULL) {
    /* drop the pointer to the body (a GET set none: and setting this one
    ** would turn the handle's method into POST) */
    if (!h->plain_get) curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, NULL);
    curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, NULL);
  }
  h->crid = NULL; /* it pointed into the caller's header list */
  return rc;
}


const char *gc_http_strerror(gc_http *h, CURLcode rc) {
  if (h->errbuf[0] != '\0') return h->errbuf;
  return curl_easy_strerror(rc);
}


const char *gc_http_code(const gc_http *h, CURLcode rc) {
  return h->code != NULL ? h->code : gc_err_curlcode(rc);
}


int gc_http_push_error(lua_State *L, gc_http *h, CURLcode rc, const char *crid) {
  gc_err_facts(L, "transport", gc_http_code(h, rc), gc_http_strerror(h, rc));
  gc_err_setstring(L, "client_request_id", crid);
  lua_pushboolean(L, h->sent); /* lets callers retry what never left */
  lua_setfield(L, -2, "request_sent");
  lua_pushboolean(L, h->started);
  lua_setfield(L, -2, "response_started");
  return 2;
}


const char *gc_http_reason(long status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 423: return "Locked";
    case 424: return "Failed Dependency";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}
