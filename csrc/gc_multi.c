/*
** gc_multi.c: the transfer engine: a pool of transfer slots driven by one
** CURLM handle through the multi socket interface. libcurl's callbacks
** only record (descriptors, the timer); nothing here waits but
** gc_multi_block, the default waiter, and nothing calls Lua.
*/
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "gc_multi.h"
#include "gc_visibility.h" /* last: see there */


/* After fork(), the pool and its connections are the parent's: abandon the
** handles (see gc_http_abandon), free only our own memory, start afresh. */
static void disown(gc_multi *m) {
  int i;
  for (i = 0; i < m->nslots; i++) {
    gc_http_abandon(m->slots[i]->easy);
    m->slots[i]->easy = NULL;
    gc_http_close(m->slots[i]);
    free(m->slots[i]);
  }
  free(m->slots);
  gc_http_abandon(m->multi);
  m->socks.n = 0; /* the parent's */
  m->nfds = 0;
  m->multi_made = NULL;
  m->slots = NULL;
  m->nslots = 0;
  m->multi = NULL;
}


/* Grow the pool to n slots; slots keep their easy handles between runs. */
static int ensure_slots(gc_multi *m, const gc_http_config *cfg, int n) {
  gc_http **slots;
  int i;
  if (m->multi != NULL && m->forks != gc_forks()) disown(m);
  if (m->multi == NULL) {
    if (gc_http_global_init() != 0 || (m->multi = curl_multi_init()) == NULL) return -1;
    m->forks = gc_forks();
  }
  if (n <= m->nslots) return 0;
  /* each slot on its own, so that growing the pool never moves one: libcurl
  ** keeps pointers into them */
  slots = (gc_http **)realloc(m->slots, (size_t)n * sizeof(gc_http *));
  if (slots == NULL) return -1;
  m->slots = slots;
  for (i = m->nslots; i < n; i++) {
    if ((slots[i] = (gc_http *)calloc(1, sizeof **slots)) == NULL) return -1;
    m->nslots = i + 1; /* from here on, closed with the pool */
    if (gc_http_open(slots[i], cfg) != 0) return -1;
    slots[i]->socks = &m->socks; /* the pool's connections, not the slot's */
  }
  return 0;
}


void gc_multi_close(gc_multi *m) {
  int i;
  gc_multi_abort(m);
  if (m->multi != NULL && m->forks != gc_forks()) disown(m);
  for (i = 0; i < m->nslots; i++) {
    gc_http_close(m->slots[i]);
    free(m->slots[i]);
  }
  free(m->slots);
  m->slots = NULL;
  m->nslots = 0;
  if (m->multi != NULL) curl_multi_cleanup(m->multi);
  m->multi = NULL;
  free(m->socks.fds); /* after the cleanup, which closes them through the slots' callback */
  memset(&m->socks, 0, sizeof m->socks);
  free(m->fds);
  free(m->job_of);
  free(m->free_slots);
  m->fds = NULL;
  m->job_of = m->free_slots = NULL;
  m->cap = 0;
  m->multi_made = NULL;
  m->nfds = m->capfds = 0;
}


/*
** {======================================================
** libcurl's callbacks: record, nothing else
** =======================================================
*/

/* CURLMOPT_SOCKETFUNCTION: fd -> the events libcurl waits for on it. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *ud, void *sockp) {
  gc_multi *m = (gc_multi *)ud;
  int i;
  (void)easy;
  (void)sockp;
  for (i = 0; i < m->nfds && m->fds[i].fd != fd; i++) {
  }
  if (what == CURL_POLL_REMOVE) {
    if (i < m->nfds) m->fds[i] = m->fds[--m->nfds];
    return 0;
  }
  if (i == m->nfds) {
    if (m->nfds == m->capfds) {
      int cap = m->capfds ? m->capfds * 2 : 8;
      struct pollfd *fds = (struct pollfd *)realloc(m->fds, (size_t)cap * sizeof *fds);
      if (fds == NULL) return -1; /* libcurl fails the transfer */
      m->fds = fds;
      m->capfds = cap;
    }
    m->fds[m->nfds++].fd = fd;
  }
  m->fds[i].events =
      (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
  m->fds[i].revents = 0;
  return 0;
}

/* CURLMOPT_TIMERFUNCTION: when libcurl wants a timeout step. */
static int on_timer(CURLM *multi, long timeout_ms, void *ud) {
  gc_multi *m = (gc_multi *)ud;
  (void)multi;
  m->timer_at = timeout_ms < 0 ? -1 : gc_monotonic() + (double)timeout_ms / 1000;
  return 0;
}

/* }====================================================== */


/* Start a job on a free slot. Returns 0, or the failure for `done`. */
static CURLcode start(gc_multi *m, gc_http *h, const gc_job *job) {
  CURLcode rc;
  h->fresh = job->fresh;
  rc = gc_http_prepare(h, job->method, job->url, job->headers, job->body, job->body_len);
  if (rc != CURLE_OK) return rc;
  h->last_byte = gc_monotonic();
  curl_easy_setopt(h->easy, CURLOPT_PIPEWAIT, 1L); /* multiplex rather than connect anew */
  if (curl_multi_add_handle(m->multi, h->easy) != CURLM_OK) return CURLE_FAILED_INIT;
  return CURLE_OK;
}


static void report(gc_multi *m, int s, CURLcode rc, gc_multi_done done, void *ud) {
  int job = m->job_of[s];
  m->job_of[s] = -1; /* free */
  m->free_slots[m->nfree++] = s;
  m->left--;
  done(ud, job, m->slots[s], gc_http_finish(m->slots[s], rc));
}


/* Fill every free slot with the next jobs. */
static void fill(gc_multi *m, gc_multi_done done, void *ud) {
  while (m->next < m->njobs && m->nfree > 0) {
    int s = m->free_slots[--m->nfree];
    CURLcode rc = start(m, m->slots[s], &m->jobs[m->next]);
    m->job_of[s] = m->next++;
    if (rc == CURLE_OK)
      m->running++;
    else
      report(m, s, rc, done, ud);
  }
}


int gc_multi_begin(gc_multi *m, const gc_http_config *cfg, const gc_job *jobs, int njobs,
                   int concurrency, gc_multi_done done, void *ud) {
  int i, still;
  if (m->left > 0) gc_multi_abort(m); /* a run left unfinished (an error between steps) */
  if (concurrency > njobs) concurrency = njobs;
  if (concurrency < 1) concurrency = 1;
  if (ensure_slots(m, cfg, concurrency) != 0) return -1;
  if (m->multi_made != m->multi) { /* a new CURLM: its callbacks */
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, (void *)m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, (void *)m);
    m->multi_made = m->multi;
    m->limit = m->kept = 0;
  }
  gc_http_drop_unread(&m->socks); /* nothing runs now */
  if (m->limit != concurrency) {
    curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
    m->limit = concurrency;
  }
  if (m->kept < concurrency) { /* a single request keeps the connections of a wider run */
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)concurrency);
    m->kept = concurrency;
  }
  if (m->cap < concurrency) {
    free(m->job_of);
    free(m->free_slots);
    m->job_of = (int *)malloc((size_t)concurrency * sizeof *m->job_of);
    m->free_slots = (int *)malloc((size_t)concurrency * sizeof *m->free_slots);
    m->cap = 0;
    if (m->job_of == NULL || m->free_slots == NULL) return -1;
    m->cap = concurrency;
  }
  for (i = 0; i < concurrency; i++) {
    m->free_slots[i] = concurrency - 1 - i;
    m->job_of[i] = -1;
  }
  m->nfree = m->conc = concurrency;
  m->jobs = jobs;
  m->njobs = m->left = njobs;
  m->next = m->running = 0;
  m->timer_at = -1;
  fill(m, done, ud);
  /* let libcurl start what was added: it asks for sockets and a timer */
  if (m->running > 0 &&
      curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &still) != CURLM_OK)
    return -1;
  return 0;
}


double gc_multi_timeout(const gc_multi *m) {
  double now, t = m->timer_at;
  int i;
  if (m->left <= 0) return -1;
  now = gc_monotonic();
  /* a stalled answer is noticed here: libcurl only looks at a transfer that
  ** has activity or a timer of its own */
  for (i = 0; i < m->conc; i++) {
    const gc_http *h = m->slots[i];
    if (m->job_of[i] >= 0 && h->head.len > 0) {
      double at = h->last_byte + h->cfg->stall_timeout;
      if (t < 0 || at < t) t = at;
    }
  }
  if (t < 0) return -1;
  return t > now ? t - now : 0;
}


/* Cut off the transfers whose answer went quiet for stall_timeout. */
static void cut_stalled(gc_multi *m, gc_multi_done done, void *ud) {
  double now = gc_monotonic();
  int i;
  for (i = 0; i < m->conc; i++) {
    gc_http *h = m->slots[i];
    if (m->job_of[i] < 0 || h->head.len == 0 || now - h->last_byte <= h->cfg->stall_timeout)
      continue;
    h->stalled = 1;
    curl_multi_remove_handle(m->multi, h->easy);
    m->running--;
    report(m, i, CURLE_ABORTED_BY_CALLBACK, done, ud);
  }
}


int gc_multi_step(gc_multi *m, const struct pollfd *ready, int n, gc_multi_done done, void *ud) {
  CURLMsg *msg;
  int i, left, still;
  if (m->left <= 0) return 0;
  for (i = 0; i < n; i++) {
    short r = ready[i].revents;
    int ev = ((r & POLLIN) ? CURL_CSELECT_IN : 0) | ((r & POLLOUT) ? CURL_CSELECT_OUT : 0) |
             ((r & (POLLERR | POLLHUP | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
    if (ev != 0 && curl_multi_socket_action(m->multi, ready[i].fd, ev, &still) != CURLM_OK)
      return -1;
  }
  if (m->timer_at >= 0 && gc_monotonic() >= m->timer_at) {
    m->timer_at = -1; /* libcurl sets the next one */
    if (curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &still) != CURLM_OK) return -1;
  }
  while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
    int s;
    if (msg->msg != CURLMSG_DONE) continue;
    for (s = 0; s < m->conc && m->slots[s]->easy != msg->easy_handle; s++) {
    }
    curl_multi_remove_handle(m->multi, msg->easy_handle);
    if (s == m->conc) continue; /* not one of this run's */
    m->running--;
    report(m, s, msg->data.result, done, ud);
  }
  cut_stalled(m, done, ud);
  if (m->next < m->njobs && m->nfree > 0) {
    fill(m, done, ud);
    if (m->running > 0 &&
        curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &still) != CURLM_OK)
      return -1;
  }
  return m->left;
}


int gc_multi_block(gc_multi *m, gc_multi_done done, void *ud) {
  struct pollfd local[16], *p = local;
  double wait = gc_multi_timeout(m);
  int n = m->nfds, r;
  if (m->left <= 0) return 0;
  if (n > 16 && (p = (struct pollfd *)malloc((size_t)n * sizeof *p)) == NULL) return -1;
  if (n > 0) memcpy(p, m->fds, (size_t)n * sizeof *p); /* libcurl changes m->fds as it runs */
  /* never sleep long: nothing but a timer or a descriptor wakes it */
  if (wait < 0 || wait > 1) wait = 1;
  r = poll(p, (nfds_t)n, (int)(wait * 1000 + 0.999));
  if (r < 0) n = 0; /* EINTR: a step with nothing ready */
  r = gc_multi_step(m, p, n, done, ud);
  if (p != local) free(p);
  return r;
}


void gc_multi_abort(gc_multi *m) {
  if (m->multi != NULL && m->forks == gc_forks()) {
    int i;
    for (i = 0; i < m->nslots; i++) curl_multi_remove_handle(m->multi, m->slots[i]->easy);
  }
  m->left = m->running = m->njobs = m->next = m->conc = 0;
  m->jobs = NULL;
  m->timer_at = -1;
}
