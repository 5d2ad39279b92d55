/*
** gc_multi.h: many exchanges in flight at once through libcurl's multi
** interface: HTTP/2 multiplexing on one connection when the server offers
** it, else a bounded pool of kept-alive connections.
*/
#ifndef GC_MULTI_H
#define GC_MULTI_H

#include "gc_http.h"

typedef struct gc_job {
  const char *method;
  const char *url;
  const char *body; /* may be NULL */
  size_t body_len;
  struct curl_slist *headers;
  int fresh; /* on a new connection: a write */
} gc_job;

typedef struct gc_multi {
  CURLM *multi;        /* keeps its connections between runs */
  unsigned long forks; /* gc_forks() when multi and the slots were made */
  gc_socks socks;      /* the pool's connections */
  gc_http *slots;
  int nslots;
} gc_multi;

/* Called as each job ends (rc is its outcome; the response is in h). Return
** non-zero to stop the run: the transfers still in flight are abandoned. */
typedef int (*gc_multi_done)(void *ud, int job, gc_http *h, CURLcode rc);

/* Run njobs jobs, at most `concurrency` at a time. Returns 0, 1 when `done`
** stopped the run, or -1 on a libcurl or memory failure. */
int gc_multi_run(gc_multi *m, const gc_http_config *cfg, const gc_job *jobs, int njobs,
                 int concurrency, gc_multi_done done, void *ud);
void gc_multi_close(gc_multi *m);

#endif
