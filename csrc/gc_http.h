/*
** gc_http.h: one libcurl easy handle per session, reused for every exchange
** so connections (and TLS sessions) are kept alive.
*/
#ifndef GC_HTTP_H
#define GC_HTTP_H

#include <curl/curl.h>
#include "gc_util.h"

typedef struct gc_http_config {
  long timeout_ms;            /* whole exchange */
  long connect_timeout_ms;
  long stall_timeout;         /* seconds below 1 byte/s before giving up */
  int verify_ssl;
  char *ca_file;              /* owned; may be NULL */
  char *proxy;                /* owned; may be NULL */
  char *user_agent;           /* owned */
  size_t max_response_bytes;
} gc_http_config;

typedef struct gc_http {
  CURL *easy;
  gc_http_config cfg;
  gc_buf body;                /* response body of the last exchange */
  gc_buf head;                /* header lines of the final response */
  long status;
  int sent;                   /* any request byte went out */
  int started;                /* any response byte came back */
  int too_large;
  int nomem;
  char errbuf[CURL_ERROR_SIZE];
} gc_http;

int gc_http_global_init(void);                  /* once per process, thread-safe */
int gc_http_open(gc_http *h);                   /* 0 or -1 */
void gc_http_close(gc_http *h);

/* One exchange. On return the response is in h->status, h->head, h->body.
** body may be NULL (no request body). */
CURLcode gc_http_perform(gc_http *h, const char *method, const char *url,
                         struct curl_slist *headers, const char *body, size_t body_len);

/* A one-line description of the last failure (never contains the URL query). */
const char *gc_http_strerror(gc_http *h, CURLcode rc);

/* Reason phrase for a status when the server sent none (HTTP/2). */
const char *gc_http_reason(long status);

#endif
