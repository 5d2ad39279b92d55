/*
** gc_http.c: the transport. A slot owns one CURL easy handle; libcurl keeps
** the connection cache inside it, so consecutive requests reuse connections.
*/
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc_http.h"


static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

static void global_init(void) {
  global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* curl_global_init is not thread-safe on every libcurl build: run it once. */
int gc_http_global_init(void) {
  pthread_once(&global_once, global_init);
  return global_rc == CURLE_OK ? 0 : -1;
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


/* Header lines arrive one at a time; a new status line starts a new response
** (after 100 Continue, a proxy CONNECT or an interim 1xx) so keep only the last. */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  gc_http *h = (gc_http *)ud;
  size_t len = size * n;
  /* the lines of a head arrive together: its first and last mark the time */
  if (h->head.len == 0 || len <= 2) h->last_byte = gc_monotonic();
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) gc_buf_reset(&h->head, 0);
  if (h->head.len + len > (size_t)256 * 1024) { /* no legitimate header block is this big */
    h->too_large = 1;
    return 0;
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


int gc_http_open(gc_http *h, const gc_http_config *cfg) {
  if (gc_http_global_init() != 0) return -1;
  h->cfg = cfg;
  h->easy = curl_easy_init();
  return h->easy ? 0 : -1;
}


void gc_http_close(gc_http *h) {
  if (h->easy != NULL) {
    curl_easy_cleanup(h->easy);
    h->easy = NULL;
  }
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
  if (c->ca_file) SET(CURLOPT_CAINFO, c->ca_file);
  if (c->proxy) SET(CURLOPT_PROXY, c->proxy);
  SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response_bytes);
  SET(CURLOPT_WRITEFUNCTION, on_body);
  SET(CURLOPT_HEADERFUNCTION, on_header);
  h->configured = 1;
  return CURLE_OK;
}


static CURLcode setup(gc_http *h, const char *method, const char *url, struct curl_slist *headers,
                      const char *body, size_t body_len) {
  CURL *e = h->easy;
  CURLcode rc;
  if (!h->configured && (rc = setup_fixed(h)) != CURLE_OK) return rc;
  if (h->bound != h) { /* first use, or gc_multi grew its array: point libcurl here */
    SET(CURLOPT_XFERINFODATA, h);
    SET(CURLOPT_ERRORBUFFER, h->errbuf);
    SET(CURLOPT_WRITEDATA, h);
    SET(CURLOPT_HEADERDATA, h);
    h->bound = h;
  }
  SET(CURLOPT_URL, url);
  SET(CURLOPT_HTTPHEADER, headers);
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


CURLcode gc_http_prepare(gc_http *h, const char *method, const char *url,
                         struct curl_slist *headers, const char *body, size_t body_len) {
  gc_buf_reset(&h->body, 1); /* the last body may have held a token */
  gc_buf_reset(&h->head, 0);
  h->status = 0;
  h->sent = h->started = h->too_large = h->nomem = h->stalled = 0; /* fresh: the caller's */
  h->errbuf[0] = '\0';
  return setup(h, method, url, headers, body, body_len);
}


CURLcode gc_http_perform(gc_http *h, const char *method, const char *url,
                         struct curl_slist *headers, const char *body, size_t body_len) {
  CURLcode rc = gc_http_prepare(h, method, url, headers, body, body_len);
  if (rc == CURLE_OK) rc = curl_easy_perform(h->easy);
  return gc_http_finish(h, rc);
}


CURLcode gc_http_finish(gc_http *h, CURLcode rc) {
  long status = 0;
  if (rc == CURLE_WRITE_ERROR && h->too_large) rc = CURLE_FILESIZE_EXCEEDED;
  if (rc == CURLE_WRITE_ERROR && h->nomem) rc = CURLE_OUT_OF_MEMORY;
  if (rc == CURLE_ABORTED_BY_CALLBACK && h->stalled) {
    (void)snprintf(h->errbuf, sizeof h->errbuf, "no data from the server for %g s (stall_timeout)",
                   h->cfg->stall_timeout);
    rc = CURLE_OPERATION_TIMEDOUT;
  }
  /* A peer that closes inside the header block can leave libcurl content with
  ** what it got: without the blank line that ends the head, it is not a response. */
  if (rc == CURLE_OK && !(h->head.len >= 2 && h->head.data[h->head.len - 1] == '\n' &&
                          (h->head.data[h->head.len - 2] == '\n' ||
                           (h->head.len >= 3 && h->head.data[h->head.len - 2] == '\r' &&
                            h->head.data[h->head.len - 3] == '\n')))) {
    (void)snprintf(h->errbuf, sizeof h->errbuf,
                   "connection closed before the response headers ended");
    rc = CURLE_RECV_ERROR;
  }
  curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &status);
  h->status = status;
  {
    long request_size = 0;
    curl_easy_getinfo(h->easy, CURLINFO_REQUEST_SIZE, &request_size);
    h->sent = request_size > 0;
    h->started = h->head.len > 0;
  }
  if (h->body.data == NULL) gc_buf_append(&h->body, "", 0);
  if (h->head.data == NULL) gc_buf_append(&h->head, "", 0);
  /* drop the pointer to the body (a GET set none: and setting this one
  ** would turn the handle's method into POST) */
  if (!h->plain_get) curl_easy_setopt(h->easy, CURLOPT_POSTFIELDS, NULL);
  curl_easy_setopt(h->easy, CURLOPT_HTTPHEADER, NULL);
  return rc;
}


const char *gc_http_strerror(gc_http *h, CURLcode rc) {
  if (rc == CURLE_FILESIZE_EXCEEDED) return "response larger than max_response_bytes";
  if (h->errbuf[0] != '\0') return h->errbuf;
  return curl_easy_strerror(rc);
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
