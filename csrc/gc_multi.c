/*
** gc_multi.c: a pool of transfer slots driven by one CURLM handle.
*/
#include <stdlib.h>
#include <string.h>

#include "gc_multi.h"
#include "gc_visibility.h" /* last: see there */


/* After fork(), the pool and its connections are the parent's: abandon the
** handles (see gc_http_abandon), free only our own memory, start afresh. */
static void disown(gc_multi *m) {
  int i;
  for (i = 0; i < m->nslots; i++) {
    gc_http_abandon(m->slots[i].easy);
    m->slots[i].easy = NULL;
    gc_http_close(&m->slots[i]);
  }
  free(m->slots);
  gc_http_abandon(m->multi);
  m->socks.n = 0; /* the parent's */
  m->slots = NULL;
  m->nslots = 0;
  m->multi = NULL;
}


/* Grow the pool to n slots; slots keep their easy handles between runs. */
static int ensure_slots(gc_multi *m, const gc_http_config *cfg, int n) {
  gc_http *slots;
  int i;
  if (m->multi != NULL && m->forks != gc_forks()) disown(m);
  if (m->multi == NULL) {
    if (gc_http_global_init() != 0 || (m->multi = curl_multi_init()) == NULL) return -1;
    m->forks = gc_forks();
  }
  if (n <= m->nslots) return 0;
  slots = (gc_http *)calloc((size_t)n, sizeof *slots);
  if (slots == NULL) return -1;
  if (m->nslots > 0) memcpy(slots, m->slots, (size_t)m->nslots * sizeof *slots);
  free(m->slots);
  m->slots = slots;
  for (i = m->nslots; i < n; i++) {
    if (gc_http_open(&slots[i], cfg) != 0) return -1;
    slots[i].socks = &m->socks; /* the pool's connections, not the slot's */
    m->nslots = i + 1;
  }
  return 0;
}


void gc_multi_close(gc_multi *m) {
  int i;
  if (m->multi != NULL && m->forks != gc_forks()) disown(m);
  for (i = 0; i < m->nslots; i++) gc_http_close(&m->slots[i]);
  free(m->slots);
  m->slots = NULL;
  m->nslots = 0;
  if (m->multi != NULL) curl_multi_cleanup(m->multi);
  m->multi = NULL;
  free(m->socks.fds); /* after the cleanup, which closes them through the slots' callback */
  memset(&m->socks, 0, sizeof m->socks);
}


/* Start job j on a free slot. Returns 0, or the failure for `done`. */
static CURLcode start(gc_multi *m, gc_http *h, const gc_job *job) {
  CURLcode rc;
  h->fresh = job->fresh;
  rc = gc_http_prepare(h, job->method, job->url, job->headers, job->body, job->body_len);
  if (rc != CURLE_OK) return rc;
  curl_easy_setopt(h->easy, CURLOPT_PIPEWAIT, 1L); /* multiplex rather than connect anew */
  curl_easy_setopt(h->easy, CURLOPT_PRIVATE, (void *)h);
  if (curl_multi_add_handle(m->multi, h->easy) != CURLM_OK) return CURLE_FAILED_INIT;
  return CURLE_OK;
}


int gc_multi_run(gc_multi *m, const gc_http_config *cfg, const gc_job *jobs, int njobs,
                 int concurrency, gc_multi_done done, void *ud) {
  int *job_of, *free_slots, nfree, next = 0, running = 0, i, stopped = 0, failed = 0;
  if (njobs <= 0) return 0;
  if (concurrency > njobs) concurrency = njobs;
  if (concurrency < 1) concurrency = 1;
  if (ensure_slots(m, cfg, concurrency) != 0) return -1;
  /* a previous run cut short by an error raised in `done` may have left some */
  for (i = 0; i < m->nslots; i++) curl_multi_remove_handle(m->multi, m->slots[i].easy);
  gc_http_drop_unread(&m->socks); /* nothing runs now */
  curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)concurrency);
  curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)concurrency);
  job_of = (int *)malloc((size_t)concurrency * sizeof *job_of);
  free_slots = (int *)malloc((size_t)concurrency * sizeof *free_slots);
  if (job_of == NULL || free_slots == NULL) {
    free(job_of);
    free(free_slots);
    return -1;
  }
  for (i = 0; i < concurrency; i++) free_slots[i] = concurrency - 1 - i;
  nfree = concurrency;

  while (!stopped && (next < njobs || running > 0)) {
    CURLMsg *msg;
    int left, still;
    while (!stopped && next < njobs && nfree > 0) { /* fill every free slot */
      int s = free_slots[--nfree];
      CURLcode rc = start(m, &m->slots[s], &jobs[next]);
      job_of[s] = next++;
      if (rc == CURLE_OK)
        running++;
      else {
        free_slots[nfree++] = s;
        stopped = done(ud, job_of[s], &m->slots[s], gc_http_finish(&m->slots[s], rc)) != 0;
      }
    }
    if (stopped || running == 0) continue;
    if (curl_multi_perform(m->multi, &still) != CURLM_OK) {
      failed = 1;
      break;
    }
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
      gc_http *h = NULL;
      int s;
      if (msg->msg != CURLMSG_DONE) continue;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&h);
      s = (int)(h - m->slots);
      curl_multi_remove_handle(m->multi, msg->easy_handle);
      running--;
      free_slots[nfree++] = s;
      if (!stopped) stopped = done(ud, job_of[s], h, gc_http_finish(h, msg->data.result)) != 0;
    }
    if (!stopped && running > 0 && still > 0) curl_multi_poll(m->multi, NULL, 0, 100, NULL);
  }
  if (running > 0) { /* stopped early: abandon what is in flight */
    for (i = 0; i < m->nslots; i++) curl_multi_remove_handle(m->multi, m->slots[i].easy);
  }
  free(job_of);
  free(free_slots);
  return failed ? -1 : stopped ? 1 : 0;
}
