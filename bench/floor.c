/*
** floor.c: the physical floor of a libcurl client on this machine.
**
**   floor URL_PREFIX N TOKEN [CA_FILE] [WARMUP] [bare]
**
** N sequential GETs of URL_PREFIX<id> (ids cycled from a fixed list, as the
** other rows do) with ONE libcurl easy handle set up once and reused, so the
** connection stays alive; the body is appended to one reused buffer and never
** decoded. Libcurl's defaults otherwise: HTTP/2 over TLS when the server
** offers it, HTTP/1.1 in clear.
** The request is the one lua-msgraph sends: Authorization, Accept,
** User-Agent, Accept-Encoding: gzip and a new client-request-id GUID each
** time (written over the previous one in place: no allocation). With "bare",
** only Authorization, Accept and one fixed client-request-id.
** WARMUP requests (default 100) go first and are not counted.
** Prints one line:  RESULT n=N wall=SECONDS cpu=SECONDS bytes=BODY_BYTES
** where cpu is user+sys of this process over the N requests (getrusage).
*/
#define _POSIX_C_SOURCE 200809L
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *const IDS[] = {
  "87d349ed-44d7-43e1-9a83-5f2406dee5bd", "adele.vance@contoso.onmicrosoft.com",
  "e2a9f0c4-3b1d-4c8e-9f6a-2d5b7e1c0a93", "lynne.robbins@contoso.onmicrosoft.com",
  "megan.bowen@contoso.onmicrosoft.com", "nestor.wilke@contoso.onmicrosoft.com",
  "3f1c9a2e-5b7d-4e8f-a0c1-9d2e4b6f8a10", "zoe.mueller@contoso.onmicrosoft.com",
};
#define NIDS (sizeof IDS / sizeof IDS[0])

struct buf { char *p; size_t len, cap; };

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  struct buf *b = (struct buf *)ud;
  size_t len = size * n;
  if (b->len + len > b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + len) cap *= 2;
    if ((b->p = realloc(b->p, cap)) == NULL) return 0;
    b->cap = cap;
  }
  memcpy(b->p + b->len, p, len);
  b->len += len;
  return len;
}

/* A new client-request-id in place: 36 characters of GUID text from a
** xorshift generator (the floor pays nothing it need not). */
static void new_guid(char *g) {
  static unsigned long long x = 0x9E3779B97F4A7C15ULL;
  static const char hex[] = "0123456789abcdef";
  int i;
  for (i = 0; i < 36; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23) continue;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    g[i] = hex[x & 15];
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

static char *crid; /* the GUID inside the client-request-id line, or NULL: fixed */

static int get(CURL *e, struct buf *b, const char *prefix, long i, char *url, size_t urlsz) {
  long status = 0;
  CURLcode rc;
  snprintf(url, urlsz, "%s%s", prefix, IDS[i % NIDS]);
  if (crid) new_guid(crid);
  b->len = 0;
  curl_easy_setopt(e, CURLOPT_URL, url);
  rc = curl_easy_perform(e);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  if (rc != CURLE_OK || status != 200 || b->len == 0) {
    fprintf(stderr, "floor: request %ld failed: %s (status %ld)\n", i, curl_easy_strerror(rc),
            status);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  const char *prefix, *token, *ca;
  long n, warm, i;
  char url[512], auth[4096], ua[128];
  int bare;
  struct curl_slist *h = NULL;
  struct buf b = {NULL, 0, 0};
  double t0, c0, t1, c1;
  CURL *e;
  if (argc < 4) {
    fprintf(stderr, "usage: floor URL_PREFIX N TOKEN [CA_FILE] [WARMUP]\n");
    return 2;
  }
  prefix = argv[1];
  n = atol(argv[2]);
  token = argv[3];
  ca = argc > 4 && argv[4][0] ? argv[4] : NULL;
  warm = argc > 5 ? atol(argv[5]) : 100;
  bare = argc > 6 && strcmp(argv[6], "bare") == 0;
  curl_global_init(CURL_GLOBAL_DEFAULT);
  e = curl_easy_init();
  snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
  h = curl_slist_append(h, auth);
  h = curl_slist_append(h, "Accept: application/json");
  h = curl_slist_append(h, "client-request-id: 9a6f3e2c-1b4d-4e8a-b7c5-0d2f1e3a5b7c");
  if (!bare) {
    struct curl_slist *last = h;
    while (last->next) last = last->next;
    crid = last->data + strlen("client-request-id: ");
    snprintf(ua, sizeof ua, "User-Agent: lua-msgraph/0.1.0 libcurl/%s",
             curl_version_info(CURLVERSION_NOW)->version);
    h = curl_slist_append(h, ua);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "gzip");
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &b);
  if (ca) curl_easy_setopt(e, CURLOPT_CAINFO, ca);
  for (i = 0; i < warm; i++)
    if (get(e, &b, prefix, i, url, sizeof url) != 0) return 1;
  t0 = now();
  c0 = cpu();
  for (i = 0; i < n; i++)
    if (get(e, &b, prefix, i, url, sizeof url) != 0) return 1;
  c1 = cpu();
  t1 = now();
  printf("RESULT n=%ld wall=%.6f cpu=%.6f bytes=%zu\n", n, t1 - t0, c1 - c0, b.len);
  curl_easy_cleanup(e);
  curl_slist_free_all(h);
  free(b.p);
  curl_global_cleanup();
  return 0;
}
