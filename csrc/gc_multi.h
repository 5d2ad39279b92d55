/*
** gc_multi.h: the transfer engine. Many exchanges in flight on one CURLM
** through libcurl's multi *socket* interface: HTTP/2 multiplexing on one
** connection when the server offers it, else a bounded pool of kept-alive
** connections. The engine never waits on its own: libcurl's socket and
** timer callbacks only record what it waits for (descriptors and events, a
** deadline), the caller waits (gc_multi_block is the default, poll(2)) and
** then steps the engine with what is ready.
*/
#ifndef GC_MULTI_H
#define GC_MULTI_H

#include <poll.h>

#include "gc_http.h"

typedef struct gc_job {
  const char *method;
  const char *url;
  const char *body; /* may be NULL */
  size_t body_len;
  struct curl_slist *headers;
  int fresh; /* on a new connection: a write */
} gc_job;

#define GC_MULTI_MAX 256 /* transfers at once: slots, and connections to a host */

typedef struct gc_multi {
  CURLM *multi;        /* keeps its connections between jobs */
  unsigned long forks; /* gc_forks() when multi and the slots were made */
  gc_socks socks;      /* the pool's connections */
  gc_http **slots;     /* each allocated on its own: never moved */
  gc_job **slot_job;   /* slot -> its job, NULL when free */
  int nslots;
  gc_job **queue; /* jobs waiting for a slot, oldest first, from qhead */
  int qhead, qlen, qcap;
  int running, left; /* left: jobs added and not yet reported */
  int kept;          /* MAXCONNECTS as set */
  CURLM *multi_made; /* the CURLM whose callbacks are set */
  /* what libcurl waits for, as its callbacks recorded it */
  struct pollfd *fds;
  unsigned char *added; /* per fds entry: new since gc_multi_renewed last looked */
  int nfds, capfds;
  int changed;     /* fds changed (a descriptor or its events) since gc_multi_changed */
  double timer_at; /* monotonic time libcurl wants to be called, or -1 */
  unsigned long blocking_waits; /* gc_multi_block's poll(2) calls */
} gc_multi;

/* Told of each job as it ends (rc is its outcome; the response is in h,
** which is reused once this returns). Must not call Lua functions. */
typedef void (*gc_multi_done)(void *ud, gc_job *job, gc_http *h, CURLcode rc);

/* Add a job (the caller's until reported or cancelled): it starts now, or
** when one of GC_MULTI_MAX transfers ends; a failure to start is reported
** at once. 0, or -1 on a libcurl or memory failure (the job is not added).
** Jobs may be added at any time between steps: many callers share one
** engine and its connections (each caller bounds its own concurrency). */
int gc_multi_add(gc_multi *m, const gc_http_config *cfg, gc_job *job, gc_multi_done done, void *ud);

/* Seconds until libcurl wants a timeout step (0: now), or -1 for none. */
double gc_multi_timeout(const gc_multi *m);

/* One step with the descriptors that are ready (n of them, revents set; 0
** events: ready for something, libcurl finds out); the timer is acted on
** when due. Jobs that end go to `done`. Returns the jobs still to report
** (0: none in flight), or -1 on a libcurl failure. */
int gc_multi_step(gc_multi *m, const struct pollfd *ready, int n, gc_multi_done done, void *ud);

/* The default waiter: poll(2) on the recorded descriptors until one is
** ready or the timer is due, then step. Same return as gc_multi_step. */
int gc_multi_block(gc_multi *m, gc_multi_done done, void *ud);

/* Whether descriptor entry i was added since the last call asked (a new
** socket, perhaps on a number libcurl closed and reused): a host watching
** descriptors must watch it afresh. Clears the mark. */
int gc_multi_renewed(gc_multi *m, int i);

/* Whether the descriptors or their events changed since the last call. */
int gc_multi_changed(gc_multi *m);

/* Forget a job without reporting it: taken off the queue, or its transfer
** stopped (a request already sent is not recalled; its answer is dropped). */
void gc_multi_cancel(gc_multi *m, const gc_job *job);

/* Forget every job (none is reported). */
void gc_multi_abort(gc_multi *m);
void gc_multi_close(gc_multi *m);

#endif
