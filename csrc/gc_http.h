/*
** gc_http.h: a transfer slot: one libcurl easy handle and the response it
** received. A session reuses its slot for every exchange, so connections
** (and TLS sessions) are kept alive; gc_multi runs several slots at once.
*/
#ifndef GC_HTTP_H
#define GC_HTTP_H

#include <curl/curl.h>
#include "gc_compat.h"
#include "gc_util.h"

typedef struct gc_http_config {
  long timeout_ms; /* whole exchange */
  long connect_timeout_ms;
  double stall_timeout; /* seconds of silence once a response has begun */
  int verify_ssl;
  char *ca_file;    /* owned; may be NULL */
  char *proxy;      /* owned; may be NULL */
  char *user_agent; /* owned */
  size_t max_response_bytes;
} gc_http_config;

/* The sockets of a connection cache (an easy handle's, or a multi pool's),
** recorded as libcurl opens and closes them. With `defer` (a pool a host's
** loop may be watching), a socket libcurl closes stays open until
** gc_http_close_deferred: a loop told of the removal stops its watch
** first (libuv aborts, cqueues raises EBADF, on a descriptor closed under a
** watch), and the number cannot come back as another socket meanwhile. */
typedef struct gc_socks {
  curl_socket_t *fds;
  int n, cap;
  int defer;
  curl_socket_t *closing;
  int nclosing, capclosing;
} gc_socks;

/* Close the sockets whose close was deferred. */
void gc_http_close_deferred(gc_socks *socks);

typedef struct gc_http {
  CURL *easy;
  gc_socks own_socks;        /* the easy handle's connections */
  gc_socks *socks;           /* where this slot's connections live: own_socks or a pool's */
  const gc_http_config *cfg; /* owned by the session */
  gc_buf body;               /* response body of the last exchange */
  gc_buf head;               /* header lines of the final response */
  int fresh;                 /* next exchange on a new connection (set by the caller) */
  int configured;            /* the options fixed for the slot's life are set */
  int plain_get;             /* the last exchange was a GET on a kept connection */
  int proxy_off;             /* CURLOPT_PROXY is "" for the current plain-http URL */
  unsigned long forks;       /* gc_forks() when the handle was made (fork) */
  const char *crid;          /* the request's client-request-id (in its header list) */
  size_t crid_len;
  const char *code; /* the last failure's code when no CURLcode says it */
  long status;
  int sent;    /* any request byte went out */
  int started; /* any response byte came back */
  int too_large;
  int nomem;
  int stalled;
  int mismatch;     /* the response answers another request */
  double last_byte; /* monotonic time the last response byte arrived */
  char errbuf[CURL_ERROR_SIZE];
} gc_http;

/* Longest URL and request head sent: past these libcurl itself fails with
** an "Out of memory" that cannot be told from a real one. */
#define GC_MAX_URL     ((size_t)64 * 1024)
#define GC_MAX_REQHEAD ((size_t)256 * 1024)

int gc_http_global_init(void); /* once per process, thread-safe */

/* Keep a handle inherited through fork() alive and unused: cleaning it up
** would close the parent's connections (TLS close_notify). Kept reachable,
** so leak checkers do not count it. */
void gc_http_abandon(void *handle);
void gc_http_config_free(gc_http_config *cfg);
int gc_http_open(gc_http *h, const gc_http_config *cfg); /* 0 or -1 */
void gc_http_close(gc_http *h);

/* Set the slot up for one exchange (body may be NULL: no request body), and
** after libcurl ran it, settle the outcome. gc_http_perform does both around
** curl_easy_perform. On return the response is in h->status, h->head, h->body. */
CURLcode gc_http_prepare(gc_http *h, const char *method, const char *url,
                         struct curl_slist *headers, const char *body, size_t body_len);
CURLcode gc_http_finish(gc_http *h, CURLcode rc);
CURLcode gc_http_perform(gc_http *h, const char *method, const char *url,
                         struct curl_slist *headers, const char *body, size_t body_len);

/* Before reusing kept connections: when bytes wait on one that no request
** asked for, make sure libcurl closes it instead. Only while no transfer
** runs on them (gc_multi: between runs). */
void gc_http_drop_unread(gc_socks *socks);

/* A one-line description of the last failure (never contains the URL query),
** and its stable code ("timeout", "mismatched_response", ...). */
const char *gc_http_strerror(gc_http *h, CURLcode rc);
const char *gc_http_code(const gc_http *h, CURLcode rc);

/* Push nil, err for a transport failure of the exchange in h: its facts
** (code, message, client_request_id, request_sent, response_started).
** Returns 2. */
int gc_http_push_error(lua_State *L, gc_http *h, CURLcode rc, const char *crid);

/* Reason phrase for a status when the server sent none (HTTP/2). */
const char *gc_http_reason(long status);

#endif
