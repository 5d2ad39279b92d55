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

typedef struct gc_multi {
  CURLM *multi;        /* keeps its connections between runs */
  unsigned long forks; /* gc_forks() when multi and the slots were made */
  gc_socks socks;      /* the pool's connections */
  gc_http **slots;     /* each allocated on its own: never moved */
  int nslots;
  /* the run in progress */
  const gc_job *jobs;
  int njobs, next, running, left; /* left: jobs not yet reported */
  int conc;                       /* slots the run uses */
  int cap;                        /* room in job_of and free_slots */
  int limit, kept;                /* MAX_HOST_CONNECTIONS and MAXCONNECTS as set */
  CURLM *multi_made;              /* the CURLM whose callbacks are set */
  int *job_of;                    /* slot -> job, -1 when free */
  int *free_slots, nfree;
  /* what libcurl waits for, as its callbacks recorded it */
  struct pollfd *fds;
  int nfds, capfds;
  double timer_at; /* monotonic time libcurl wants to be called, or -1 */
} gc_multi;

/* Told of each job as it ends (rc is its outcome; the response is in h,
** which is reused once this returns). Must not call Lua functions. */
typedef void (*gc_multi_done)(void *ud, int job, gc_http *h, CURLcode rc);

/* Start a run of njobs jobs, at most `concurrency` at a time (the jobs stay
** the caller's until it ends). 0, or -1 on a libcurl or memory failure. */
int gc_multi_begin(gc_multi *m, const gc_http_config *cfg, const gc_job *jobs, int njobs,
                   int concurrency, gc_multi_done done, void *ud);

/* Seconds until libcurl wants a timeout step (0: now), or -1 for none. */
double gc_multi_timeout(const gc_multi *m);

/* One step with the descriptors that are ready (n of them; their revents
** set); the timer is acted on when due. Jobs that end go to `done`. Returns
** the jobs still to report (0: the run is over), or -1 on a libcurl failure. */
int gc_multi_step(gc_multi *m, const struct pollfd *ready, int n, gc_multi_done done, void *ud);

/* The default waiter: poll(2) on the recorded descriptors until one is
** ready or the timer is due, then step. Same return as gc_multi_step. */
int gc_multi_block(gc_multi *m, gc_multi_done done, void *ud);

/* End a run early: the transfers in flight are abandoned. */
void gc_multi_abort(gc_multi *m);
void gc_multi_close(gc_multi *m);

#endif
