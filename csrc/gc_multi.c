/*
** gc_multi.c: the transfer engine: a pool of transfer slots driven by one
** CURLM handle through the multi socket interface, open to jobs added at
** any time. libcurl's callbacks only record (descriptors, the timer);
** nothing here waits but gc_multi_block, the default waiter, and nothing
** calls Lua.
*/
#define _POSIX_C_SOURCE 200809L

#include <stdlib.h>
#include <string.h>

#include "gc_multi.h"
#include "gc_visibility.h" /* last: see there */


/* After fork(), the pool and its connections are the parent's: abandon the
** handles (see gc_http_abandon), free only our own memory, start afresh.
** The jobs are forgotten: their transfers are the parent's. */
static void disown(gc_multi *m) {
  int i;
  for (i = 0; i < m->nslots; i++) {
    gc_http_abandon(m->slots[i]->easy);
    m->slots[i]->easy = NULL;
    gc_http_close(m->slots[i]);
    free(m->slots[i]);
  }
  free(m->slots);
  free(m->slot_job);
  gc_http_abandon(m->multi);
  gc_http_close_deferred(&m->socks); /* our copies of them */
  m->socks.n = 0;                    /* the parent's */
  m->nfds = 0;
  m->multi_made = NULL;
  m->slots = NULL;
  m->slot_job = NULL;
  m->nslots = m->running = m->left = m->qlen = m->qhead = 0;
  m->multi = NULL;
}


static int ensure_multi(gc_multi *m) {
  if (m->multi != NULL && m->forks != gc_forks()) disown(m);
  if (m->multi == NULL) {
    if (gc_http_global_init() != 0 || (m->multi = curl_multi_init()) == NULL) return -1;
    m->forks = gc_forks();
    m->socks.defer = 1;
  }
  gc_http_close_deferred(&m->socks); /* the caller stopped watching them since */
  return 0;
}


/* A free slot (a new one when all are busy and the pool may grow), or -1. */
static int free_slot(gc_multi *m, const gc_http_config *cfg) {
  gc_http **slots;
  gc_job **jobs;
  int i;
  for (i = 0; i < m->nslots; i++)
    if (m->slot_job[i] == NULL) return i;
  if (m->nslots == GC_MULTI_MAX) return -1;
  /* each slot on its own, so that growing the pool never moves one: libcurl
  ** keeps pointers into them */
  if ((slots = (gc_http **)realloc(m->slots, (size_t)(i + 1) * sizeof(gc_http *))) == NULL)
    return -2;
  m->slots = slots;
  if ((jobs = (gc_job **)realloc(m->slot_job, (size_t)(i + 1) * sizeof(gc_job *))) == NULL)
    return -2;
  m->slot_job = jobs;
  if ((slots[i] = (gc_http *)calloc(1, sizeof **slots)) == NULL) return -2;
  jobs[i] = NULL;
  m->nslots = i + 1; /* from here on, closed with the pool */
  if (gc_http_open(slots[i], cfg) != 0) return -2;
  slots[i]->socks = &m->socks; /* the pool's connections, not the slot's */
  if (m->kept < m->nslots) {   /* keep a connection for every slot */
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)m->nslots);
    m->kept = m->nslots;
  }
  return i;
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
  free(m->slot_job);
  m->slots = NULL;
  m->slot_job = NULL;
  m->nslots = 0;
  if (m->multi != NULL) curl_multi_cleanup(m->multi);
  m->multi = NULL;
  gc_http_close_deferred(&m->socks); /* the cleanup closes them through the slots' callback */
  free(m->socks.fds);
  free(m->socks.closing);
  memset(&m->socks, 0, sizeof m->socks);
  free(m->fds);
  free(m->added);
  free(m->queue);
  m->fds = NULL;
  m->added = NULL;
  m->queue = NULL;
  m->qcap = 0;
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
    if (i < m->nfds) {
      m->fds[i] = m->fds[--m->nfds];
      m->added[i] = m->added[m->nfds];
      m->changed = 1;
    }
    return 0;
  }
  if (i == m->nfds) {
    if (m->nfds == m->capfds) {
      int cap = m->capfds ? m->capfds * 2 : 8;
      struct pollfd *fds = (struct pollfd *)realloc(m->fds, (size_t)cap * sizeof *fds);
      unsigned char *added;
      if (fds == NULL) return -1; /* libcurl fails the transfer */
      m->fds = fds;
      if ((added = (unsigned char *)realloc(m->added, (size_t)cap)) == NULL) return -1;
      m->added = added;
      m->capfds = cap;
    }
    m->fds[m->nfds].fd = fd;
    m->fds[m->nfds].events = 0;
    m->added[m->nfds++] = 1;
  }
  {
    short events =
        (short)(((what & CURL_POLL_IN) ? POLLIN : 0) | ((what & CURL_POLL_OUT) ? POLLOUT : 0));
    if (events != m->fds[i].events || m->added[i]) m->changed = 1;
    m->fds[i].events = events;
  }
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


/* Start job on slot s. Returns 0, or the failure to report. */
static CURLcode start(gc_multi *m, int s, gc_job *job) {
  gc_http *h = m->slots[s];
  CURLcode rc;
  m->slot_job[s] = job;
  h->fresh = job->fresh;
  rc = gc_http_prepare(h, job->method, job->url, job->headers, job->body, job->body_len);
  if (rc != CURLE_OK) return rc;
  h->last_byte = gc_monotonic();
  curl_easy_setopt(h->easy, CURLOPT_PIPEWAIT, 1L); /* multiplex rather than connect anew */
  if (curl_multi_add_handle(m->multi, h->easy) != CURLM_OK) return CURLE_FAILED_INIT;
  m->running++;
  return CURLE_OK;
}


/* Slot s's job ended (rc): free the slot, then tell the caller. */
static void report(gc_multi *m, int s, CURLcode rc, gc_multi_done done, void *ud) {
  gc_job *job = m->slot_job[s];
  m->slot_job[s] = NULL;
  m->left--;
  done(ud, job, m->slots[s], gc_http_finish(m->slots[s], rc));
}


/* Start queued jobs on the free slots. */
static void fill(gc_multi *m, const gc_http_config *cfg, gc_multi_done done, void *ud) {
  int s;
  while (m->qlen > 0 && (s = free_slot(m, cfg)) >= 0) {
    gc_job *job = m->queue[m->qhead];
    CURLcode rc;
    m->qhead = (m->qhead + 1) % m->qcap;
    m->qlen--;
    if ((rc = start(m, s, job)) != CURLE_OK) report(m, s, rc, done, ud);
  }
}


static int enqueue(gc_multi *m, gc_job *job) {
  if (m->qlen == m->qcap) { /* grow, unrolling the ring to start at 0 */
    int cap = m->qcap ? m->qcap * 2 : 16, i;
    gc_job **q = (gc_job **)malloc((size_t)cap * sizeof(gc_job *));
    if (q == NULL) return -1;
    for (i = 0; i < m->qlen; i++) q[i] = m->queue[(m->qhead + i) % m->qcap];
    free(m->queue);
    m->queue = q;
    m->qhead = 0;
    m->qcap = cap;
  }
  m->queue[(m->qhead + m->qlen++) % m->qcap] = job;
  return 0;
}


/* Let libcurl start what was added: it asks for sockets and a timer. */
static int kick(gc_multi *m) {
  int still;
  return curl_multi_socket_action(m->multi, CURL_SOCKET_TIMEOUT, 0, &still) == CURLM_OK ? 0 : -1;
}


int gc_multi_add(gc_multi *m, const gc_http_config *cfg, gc_job *job, gc_multi_done done,
                 void *ud) {
  CURLcode rc;
  int s;
  if (ensure_multi(m) != 0) return -1;
  if (m->multi_made != m->multi) { /* a new CURLM: its callbacks */
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(m->multi, CURLMOPT_SOCKETDATA, (void *)m);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERFUNCTION, on_timer);
    curl_multi_setopt(m->multi, CURLMOPT_TIMERDATA, (void *)m);
    curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)GC_MULTI_MAX);
    m->multi_made = m->multi;
    m->kept = 0;
    m->timer_at = -1;
  }
  if (m->left == 0) gc_http_drop_unread(&m->socks); /* nothing runs now */
  if ((s = free_slot(m, cfg)) == -2) return -1;
  if (s == -1) { /* every slot busy: it waits its turn */
    if (enqueue(m, job) != 0) return -1;
    m->left++;
    return 0;
  }
  m->left++;
  if ((rc = start(m, s, job)) != CURLE_OK) {
    report(m, s, rc, done, ud);
    return 0;
  }
  return kick(m);
}


double gc_multi_timeout(const gc_multi *m) {
  double now, t = m->timer_at;
  int i;
  if (m->left <= 0) return -1;
  now = gc_monotonic();
  /* a stalled answer is noticed here: libcurl only looks at a transfer that
  ** has activity or a timer of its own */
  for (i = 0; i < m->nslots; i++) {
    const gc_http *h = m->slots[i];
    if (m->slot_job[i] != NULL && h->head.len > 0) {
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
  for (i = 0; i < m->nslots; i++) {
    gc_http *h = m->slots[i];
    if (m->slot_job[i] == NULL || h->head.len == 0 || now - h->last_byte <= h->cfg->stall_timeout)
      continue;
    h->stalled = 1;
    curl_multi_remove_handle(m->multi, h->easy);
    m->running--;
    report(m, i, CURLE_ABORTED_BY_CALLBACK, done, ud);
  }
}


static int slot_of(const gc_multi *m, const CURL *easy) {
  int s;
  for (s = 0; s < m->nslots; s++)
    if (m->slot_job[s] != NULL && m->slots[s]->easy == easy) return s;
  return -1;
}


int gc_multi_step(gc_multi *m, const struct pollfd *ready, int n, gc_multi_done done, void *ud) {
  CURLMsg *msg;
  int i, left, still, before;
  gc_http_close_deferred(&m->socks); /* the caller stopped watching them since */
  if (m->left <= 0) return 0;
  for (i = 0; i < n; i++) {
    short r = ready[i].revents;
    int ev = ((r & POLLIN) ? CURL_CSELECT_IN : 0) | ((r & POLLOUT) ? CURL_CSELECT_OUT : 0) |
             ((r & (POLLERR | POLLHUP | POLLNVAL)) ? CURL_CSELECT_ERR : 0);
    if (curl_multi_socket_action(m->multi, ready[i].fd, ev, &still) != CURLM_OK) return -1;
  }
  if (m->timer_at >= 0 && gc_monotonic() >= m->timer_at) {
    m->timer_at = -1; /* libcurl sets the next one */
    if (kick(m) != 0) return -1;
  }
  while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
    int s;
    if (msg->msg != CURLMSG_DONE) continue;
    s = slot_of(m, msg->easy_handle);
    curl_multi_remove_handle(m->multi, msg->easy_handle);
    if (s < 0) continue; /* cancelled meanwhile */
    m->running--;
    report(m, s, msg->data.result, done, ud);
  }
  cut_stalled(m, done, ud);
  before = m->running;
  if (m->qlen > 0) {
    const gc_http_config *cfg = m->nslots > 0 ? m->slots[0]->cfg : NULL;
    if (cfg != NULL) fill(m, cfg, done, ud);
    if (m->running > before && kick(m) != 0) return -1;
  }
  return m->left;
}


int gc_multi_block(gc_multi *m, gc_multi_done done, void *ud) {
  struct pollfd local[16], *p = local;
  double wait = gc_multi_timeout(m);
  int n = m->nfds, r, i, k = 0;
  if (m->left <= 0) return 0;
  if (n > 16 && (p = (struct pollfd *)malloc((size_t)n * sizeof *p)) == NULL) return -1;
  if (n > 0) memcpy(p, m->fds, (size_t)n * sizeof *p); /* libcurl changes m->fds as it runs */
  /* never sleep long: nothing but a timer or a descriptor wakes it */
  if (wait < 0 || wait > 1) wait = 1;
  m->blocking_waits++;
  r = poll(p, (nfds_t)n, (int)(wait * 1000 + 0.999));
  for (i = 0; r > 0 && i < n; i++) /* only the ready ones go to the step */
    if (p[i].revents != 0) p[k++] = p[i];
  r = gc_multi_step(m, p, k, done, ud);
  if (p != local) free(p);
  return r;
}


int gc_multi_changed(gc_multi *m) {
  int was = m->changed;
  m->changed = 0;
  return was;
}


int gc_multi_renewed(gc_multi *m, int i) {
  int was = m->added[i];
  m->added[i] = 0;
  return was;
}


void gc_multi_cancel(gc_multi *m, const gc_job *job) {
  int i;
  for (i = 0; i < m->qlen; i++) {
    int at = (m->qhead + i) % m->qcap;
    if (m->queue[at] == job) { /* close the gap, keeping the order */
      for (; i < m->qlen - 1; i++)
        m->queue[(m->qhead + i) % m->qcap] = m->queue[(m->qhead + i + 1) % m->qcap];
      m->qlen--;
      m->left--;
      return;
    }
  }
  for (i = 0; i < m->nslots; i++) {
    if (m->slot_job[i] != job) continue;
    if (m->forks == gc_forks()) curl_multi_remove_handle(m->multi, m->slots[i]->easy);
    m->slot_job[i] = NULL;
    m->running--;
    m->left--;
    return;
  }
}


void gc_multi_abort(gc_multi *m) {
  int i;
  for (i = 0; i < m->nslots; i++) {
    if (m->slot_job[i] != NULL && m->forks == gc_forks())
      curl_multi_remove_handle(m->multi, m->slots[i]->easy);
    m->slot_job[i] = NULL;
  }
  m->left = m->running = m->qlen = m->qhead = 0;
  m->timer_at = -1;
}
