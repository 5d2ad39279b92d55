/*
** gc_session.c: core.session{...} and its methods.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc_err.h"
#include "gc_headers.h"
#include "gc_hlist.h"
#include "gc_http.h"
#include "gc_multi.h"
#include "gc_oauth.h"
#include "gc_options.h"
#include "gc_session.h"
#include "gc_util.h"
#include "gc_visibility.h" /* last: see there */

#ifndef GC_VERSION
#define GC_VERSION "0.1.0"
#endif

#define GC_JOBS_MT "graph.core.jobs"

typedef struct gc_session {
  gc_http_config cfg;
  gc_http http;
  gc_multi multi; /* the engine: every exchange and run, created on first use */
  gc_oauth oauth;
  gc_hlist headers;    /* the request's header lines, reused */
  char last_crid[37];  /* the client-request-id of the last request */
  gc_hcache hcache;    /* response field strings, reused */
  struct gc_jobs *run; /* the jobs of the run in progress (s:submit), or NULL */
  int run_ref;         /* registry ref of { jobs, anchors } while a run is in progress */
  unsigned long requests;
  int token_ready; /* s:token() just succeeded: the next request uses that token as it is */
  int closed;
} gc_session;


/* Whether a request must acquire the token itself: not when Lua has just
** done it with s:token() (a token no longer "fresh" at once, with a short
** lifetime, is still the one to use), else when it is missing or stale. */
static int must_acquire(gc_session *s) {
  int ready = s->token_ready && s->oauth.access_token != NULL;
  s->token_ready = 0;
  return !ready && !gc_oauth_fresh(&s->oauth);
}


static gc_session *check_session(lua_State *L) {
  gc_session *s = (gc_session *)luaL_checkudata(L, 1, GC_SESSION_MT);
  if (s->closed) luaL_error(L, "attempt to use a closed graph.core.session");
  return s;
}


/*
** {======================================================
** Options (read through gc_options' table)
** =======================================================
*/

/* The certificate credential: a PEM file with the certificate and its key
** (certificate_alg is already in o->cert_pss). */
static void read_certificate(lua_State *L, gc_oauth *o) {
  const char *file, *password;
  char err[512];
  lua_getfield(L, 1, "certificate_file"); /* both checked: strings or nil */
  lua_getfield(L, 1, "certificate_password");
  file = lua_tostring(L, -2);
  password = lua_tostring(L, -1);
  if (file != NULL && gc_cert_load(&o->cert, file, password, err, sizeof err) != 0)
    luaL_error(L, "graph.core.session: %s", err);
  lua_pop(L, 2);
}


/* Everything the grant's row in GC_GRANTS needs is there, or raise. */
static void check_grant(lua_State *L, const gc_oauth *o) {
  const char *missing = gc_oauth_missing(o), *bar;
  char what[96];
  if (missing == NULL) return;
  bar = strchr(missing, '|'); /* either of two fields */
  if (bar != NULL)
    (void)snprintf(what, sizeof what, "'%.*s' or '%s'", (int)(bar - missing), missing, bar + 1);
  else
    (void)snprintf(what, sizeof what, "'%s'", missing);
  luaL_error(L, "graph.core.session: grant '%s' needs field %s", gc_grants[o->grant].name, what);
}


int gc_session_new(lua_State *L) {
  gc_session *s;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  /* Create it empty first, so an error below leaves a consistent object for __gc. */
  s = (gc_session *)lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  gc_oauth_init(&s->oauth);
  luaL_setmetatable(L, GC_SESSION_MT);
  gc_options_read(L, 1, &s->cfg, &s->oauth);
  if (s->cfg.user_agent == NULL) {
    char ua[128];
    (void)snprintf(ua, sizeof ua, "lua-msgraph/%s libcurl/%s", GC_VERSION,
                   curl_version_info(CURLVERSION_NOW)->version);
    if ((s->cfg.user_agent = gc_strdup(ua)) == NULL)
      luaL_error(L, "graph.core.session: out of memory");
  }
  read_certificate(L, &s->oauth);
  check_grant(L, &s->oauth);
  if (gc_http_open(&s->http, &s->cfg) != 0)
    luaL_error(L, "graph.core.session: libcurl could not be initialised");
  return 1;
}

/* }====================================================== */


static void end_run(lua_State *L, gc_session *s);

static void release(lua_State *L, gc_session *s) {
  if (!s->closed) {
    end_run(L, s); /* the run's transfers stop; its headers are wiped */
    s->closed = 1; /* first, so a failure below cannot close twice */
    gc_oauth_free(L, &s->oauth);
    gc_hlist_free(&s->headers);
    gc_hcache_free(L, &s->hcache);
    gc_http_close(&s->http);
    gc_multi_close(&s->multi);
    gc_http_config_free(&s->cfg);
  }
}


/* s:close() and __close: a run in progress is abandoned (no Lua runs
** inside a step, so nothing is under way when this is called). */
static int session_close(lua_State *L) {
  gc_session *s = (gc_session *)luaL_checkudata(L, 1, GC_SESSION_MT);
  release(L, s);
  return 0;
}


/* __gc: a session being collected may have a run left unfinished: it is
** abandoned. */
static int session_gc(lua_State *L) {
  release(L, (gc_session *)luaL_checkudata(L, 1, GC_SESSION_MT));
  return 0;
}


/*
** {======================================================
** request
** =======================================================
*/

static int has_ctl(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (s[i] == '\r' || s[i] == '\n' || s[i] == '\0') return 1;
  return 0;
}


static int strncasecmp_ascii(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    int x = (unsigned char)a[i], y = (unsigned char)b[i];
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return x - y;
  }
  return 0;
}


/* Fill hl with the request's header lines from the Lua table at idx, adding
** client-request-id and User-Agent unless given. Raises on bad input (a
** programming error); *crid receives the client-request-id sent. */
static void build_headers(lua_State *L, int idx, gc_hlist *hl, char crid[37], const char *ua,
                          int has_body) {
  int have_crid = 0, have_ua = 0, have_type = 0;
  gc_hlist_reset(hl);
  crid[0] = '\0';
  if (!lua_isnoneornil(L, idx)) {
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      size_t kn, vn;
      const char *k, *v;
      if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING)
        luaL_error(L, "graph.core: header names and values must be strings");
      k = lua_tolstring(L, -2, &kn);
      v = lua_tolstring(L, -1, &vn);
      if (!gc_header_token(k, kn) || has_ctl(v, vn))
        luaL_error(L, "graph.core: header '%s' has an invalid name or a CR, LF or NUL", k);
      if (kn == 17 && strncasecmp_ascii(k, "client-request-id", 17) == 0) {
        have_crid = 1;
        (void)snprintf(crid, 37, "%s", v);
      }
      if (kn == 10 && strncasecmp_ascii(k, "user-agent", 10) == 0) have_ua = 1;
      if (kn == 12 && strncasecmp_ascii(k, "content-type", 12) == 0) have_type = 1;
      if (gc_hlist_add(hl, k, kn, v, vn) != 0) goto nomem;
      lua_pop(L, 1);
    }
  }
  /* set here rather than with CURLOPT_USERAGENT, which libcurl rebuilds for
  ** every request */
  if (!have_ua && gc_hlist_add(hl, "User-Agent", 10, ua, strlen(ua)) != 0) goto nomem;
  if (!have_crid) {
    gc_guid(crid);
    if (gc_hlist_add(hl, "client-request-id", 17, crid, 36) != 0) goto nomem;
  }
  if (has_body && gc_hlist_add_line(hl, "Expect:") != 0) goto nomem; /* no 100-continue wait */
  /* a bodyless POST goes out as the Graph SDKs send it, with no body type:
  ** libcurl would add application/x-www-form-urlencoded, which Graph refuses */
  if (!has_body && !have_type && gc_hlist_add_line(hl, "Content-Type:") != 0) goto nomem;
  return;
nomem:
  luaL_error(L, "graph.core: out of memory");
}


/* No request splitting through the URL: no space or control character. */
static int has_space_or_ctl(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) return 1;
  return 0;
}


typedef struct one_ctx {
  gc_http *h;
  CURLcode rc;
} one_ctx;

static void one_done(void *ud, int job, gc_http *h, CURLcode rc) {
  one_ctx *c = (one_ctx *)ud;
  (void)job;
  c->h = h;
  c->rc = rc;
}


/* One exchange through the engine with the default waiter; the slot that ran it (its response inside), or NULL on a
** libcurl failure. While a run is in progress (a host stepping it) the
** engine is that run's: the exchange goes on the session's own slot. */
static gc_http *run_one(void *ud, const char *method, const char *url, struct curl_slist *headers,
                        const char *body, size_t blen, int fresh, CURLcode *rc) {
  gc_session *s = (gc_session *)ud;
  gc_job job;
  one_ctx c = {NULL, CURLE_OK};
  int left;
  job.method = method;
  job.url = url;
  job.body = body;
  job.body_len = blen;
  job.headers = headers;
  job.fresh = fresh;
  if (s->run != NULL) {
    s->http.fresh = fresh;
    *rc = gc_http_perform(&s->http, method, url, job.headers, body, blen);
    return &s->http;
  }
  if (gc_multi_begin(&s->multi, &s->cfg, &job, 1, 1, one_done, &c) != 0) return NULL;
  for (left = s->multi.left; left > 0;) left = gc_multi_block(&s->multi, one_done, &c);
  if (left < 0) {
    gc_multi_abort(&s->multi);
    return NULL;
  }
  *rc = c.rc;
  return c.h;
}


/* The token, acquired through the same engine as every request. */
static int acquire(lua_State *L, gc_session *s) {
  gc_exchanger x;
  x.run = run_one;
  x.ud = s;
  x.cfg = &s->cfg;
  return gc_oauth_acquire(L, &s->oauth, &x);
}


/* s:device_start() -> info | nil, err; s:device_poll() -> "pending" |
** "slow_down" | true | nil, err: the device code sign-in, one request a
** call through the same engine; the caller shows the code and waits. */
static int device_step(lua_State *L, int poll) {
  gc_session *s = check_session(L);
  gc_exchanger x;
  if (s->oauth.grant != GC_GRANT_DEVICE_CODE)
    return luaL_error(L, "graph.core: this session's grant is not device_code");
  x.run = run_one;
  x.ud = s;
  x.cfg = &s->cfg;
  return poll ? gc_oauth_device_poll(L, &s->oauth, &x) : gc_oauth_device_start(L, &s->oauth, &x);
}


static int session_device_start(lua_State *L) {
  return device_step(L, 0);
}


static int session_device_poll(lua_State *L) {
  return device_step(L, 1);
}


/* s:device_cancel(): give up the sign-in in progress (its code wiped now). */
static int session_device_cancel(lua_State *L) {
  gc_session *s = check_session(L);
  gc_free_secret(&s->oauth.device_code);
  return 0;
}


/* s:request(method, url, headers, body, use_auth, fresh)
**   -> status, reason, headers, body  |  nil, err
** fresh: use a new connection (writes: libcurl must not re-send them). */
static int session_request(lua_State *L) {
  gc_session *s = check_session(L);
  size_t mlen, ulen, blen = 0;
  const char *method = luaL_checklstring(L, 2, &mlen);
  const char *url = luaL_checklstring(L, 3, &ulen);
  const char *body = luaL_optlstring(L, 5, NULL, &blen);
  int use_auth = lua_toboolean(L, 6);
  int fresh = lua_toboolean(L, 7);
  CURLcode rc;
  gc_http *h;

  luaL_argcheck(L, mlen < 16 && gc_header_token(method, mlen), 2, "invalid HTTP method");
  luaL_argcheck(L, ulen > 0 && !has_space_or_ctl(url, ulen), 3,
                "URL is empty or contains a space or control character");
  if (use_auth && s->oauth.grant == GC_GRANT_NONE)
    luaL_error(L, "graph.core: this session has no credentials");
  lua_settop(L, 7);
  build_headers(L, 4, &s->headers, s->last_crid, s->cfg.user_agent, body != NULL);
  if (use_auth) {
    if (must_acquire(s)) {
      int r = acquire(L, s);
      if (r != 0) return r;
    }
    /* not copied: no Lua runs until the exchange is over, so the token stays */
    if (gc_hlist_add_ref(&s->headers, s->oauth.auth_header) != 0)
      return luaL_error(L, "graph.core: out of memory");
  }

  s->requests++;
  h = run_one(s, method, url, gc_hlist_link(&s->headers), body, blen, fresh, &rc);
  gc_hlist_reset(&s->headers); /* wiped: a caller's header may be a secret too */
  if (h == NULL) return luaL_error(L, "graph.core: libcurl multi interface failed");
  if (rc != CURLE_OK) return gc_http_push_error(L, h, rc, s->last_crid);
  lua_pushinteger(L, h->status);
  gc_headers_push(L, h->head.data, h->head.len, 1, &s->hcache);
  if (lua_rawlen(L, -2) == 0) { /* HTTP/2 has no reason phrase */
    lua_pushstring(L, gc_http_reason(h->status));
    lua_replace(L, -3);
  }
  lua_pushlstring(L, h->body.data, h->body.len);
  return 4;
}

/* }====================================================== */

/*
** {======================================================
** A run: many exchanges at once, stepped by the caller
** =======================================================
*/

/* The jobs of one run, in a userdata so that a raised error
** (bad input, a failing callback) still frees and wipes their headers. */
typedef struct gc_jobs {
  int n;
  gc_job *jobs; /* points just past this struct */
  gc_hlist *headers;
  char (*crids)[37];
} gc_jobs;

static int jobs_gc(lua_State *L) {
  gc_jobs *j = (gc_jobs *)luaL_checkudata(L, 1, GC_JOBS_MT);
  int i;
  for (i = 0; i < j->n; i++) {
    gc_hlist_free(&j->headers[i]);
    j->jobs[i].headers = NULL;
  }
  return 0;
}

typedef struct run_ctx {
  lua_State *L;
  gc_session *s;
  gc_jobs *jobs;
  int done; /* stack index of the table of results reported by this step */
  int ndone;
} run_ctx;

/* gc_multi_done: the job's outcome into the step's table (no Lua function
** runs: the transfers still in flight are inside libcurl). */
static void job_done(void *ud, int job, gc_http *h, CURLcode rc) {
  run_ctx *c = (run_ctx *)ud;
  lua_State *L = c->L;
  lua_createtable(L, 0, 7);
  if (rc != CURLE_OK) {
    gc_http_push_error(L, h, rc, c->jobs->crids[job]);
    lua_setfield(L, -3, "err");
    lua_pop(L, 1); /* the nil */
  } else {
    lua_pushinteger(L, h->status);
    lua_setfield(L, -2, "status");
    gc_headers_push(L, h->head.data, h->head.len, 1, &c->s->hcache);
    lua_setfield(L, -3, "headers");
    if (lua_rawlen(L, -1) == 0) {
      lua_pop(L, 1);
      lua_pushstring(L, gc_http_reason(h->status));
    }
    lua_setfield(L, -2, "reason");
    lua_pushlstring(L, h->body.data, h->body.len);
    lua_setfield(L, -2, "body");
  }
  lua_pushinteger(L, job + 1);
  lua_setfield(L, -2, "index");
  lua_pushstring(L, c->jobs->crids[job]); /* a retry goes with the same one */
  lua_setfield(L, -2, "client_request_id");
  if (h->easy != NULL) { /* each request's own duration, for the log */
    double t = 0;
    curl_easy_getinfo(h->easy, CURLINFO_TOTAL_TIME, &t);
    lua_pushnumber(L, t);
    lua_setfield(L, -2, "time");
  }
  lua_rawseti(L, c->done, ++c->ndone);
  c->s->requests++;
}


/* The run is over (or abandoned): wipe and free the jobs' headers, let go of
** the strings they pointed into. */
static void end_run(lua_State *L, gc_session *s) {
  if (s->run == NULL) return;
  gc_multi_abort(&s->multi);
  lua_pushcfunction(L, jobs_gc);
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->run_ref);
  lua_rawgeti(L, -1, 1);
  lua_remove(L, -2);
  lua_call(L, 1, 0);
  luaL_unref(L, LUA_REGISTRYINDEX, s->run_ref);
  s->run = NULL;
}


/* Push the step's results and what is left; end the run when nothing is. */
static int step_result(lua_State *L, gc_session *s, int left) {
  if (left <= 0) end_run(L, s);
  if (left < 0) return luaL_error(L, "graph.core: libcurl multi interface failed");
  lua_pushinteger(L, left);
  return 2;
}


/* s:submit({ {method, url, headers, body, fresh}, ... }, concurrency, use_auth)
**   -> done, left
** Starts a run; its transfers move only in s:step / s:step_blocking, which
** return the results of the requests that ended (done: a list of
** {index=, status=, reason=, headers=, body=} or {index=, err=}, each with
** the client_request_id it went with and its `time` in seconds) and how
** many are left. The token is acquired once, before any request leaves. */
static int session_submit(lua_State *L) {
  gc_session *s = check_session(L);
  int n, conc, use_auth, i, r, anchors, run;
  size_t size;
  gc_jobs *j;
  run_ctx ctx;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (int)lua_rawlen(L, 2);
  conc = (int)luaL_optinteger(L, 3, 8);
  use_auth = lua_toboolean(L, 4);
  luaL_argcheck(L, conc >= 1 && conc <= 256, 3, "concurrency must be from 1 to 256");
  luaL_argcheck(L, n <= 1000000, 2, "too many requests");
  lua_settop(L, 4);
  if (s->run != NULL)
    return luaL_error(L, "graph.core: a run is already in progress on this session");
  if (use_auth && s->oauth.grant == GC_GRANT_NONE)
    return luaL_error(L, "graph.core: this session has no credentials");
  if (use_auth && must_acquire(s)) {
    r = acquire(L, s);
    if (r != 0) return r;
  }

  size = sizeof *j + (size_t)n * (sizeof(gc_job) + sizeof(gc_hlist) + 37);
  lua_createtable(L, 2, 0); /* 5: the run: jobs, anchors */
  run = lua_gettop(L);
  j = (gc_jobs *)lua_newuserdatauv(L, size, 0);
  memset(j, 0, size);
  j->jobs = (gc_job *)(void *)(j + 1);
  j->headers = (gc_hlist *)(void *)(j->jobs + n);
  j->crids = (char(*)[37])(void *)(j->headers + n);
  luaL_setmetatable(L, GC_JOBS_MT);
  lua_rawseti(L, run, 1);
  lua_newtable(L); /* anchors the strings the jobs point into */
  anchors = lua_gettop(L);
  lua_pushvalue(L, anchors);
  lua_rawseti(L, run, 2);
  for (i = 0; i < n; i++) {
    gc_job *job = &j->jobs[i];
    size_t mlen, ulen;
    int t;
    lua_rawgeti(L, 2, i + 1);
    t = lua_gettop(L);
    if (!lua_istable(L, t)) luaL_error(L, "graph.core: request %d is not a table", i + 1);
    lua_getfield(L, t, "method");
    lua_getfield(L, t, "url");
    lua_getfield(L, t, "body");
    job->method = lua_tolstring(L, t + 1, &mlen);
    job->url = lua_tolstring(L, t + 2, &ulen);
    if (job->method == NULL || mlen >= 16 || !gc_header_token(job->method, mlen) ||
        job->url == NULL || ulen == 0 || has_space_or_ctl(job->url, ulen))
      luaL_error(L, "graph.core: request %d needs a valid method and url", i + 1);
    if (!lua_isnil(L, t + 3)) {
      if (lua_type(L, t + 3) != LUA_TSTRING)
        luaL_error(L, "graph.core: request %d body must be a string", i + 1);
      job->body = lua_tolstring(L, t + 3, &job->body_len);
    }
    lua_getfield(L, t, "fresh");
    job->fresh = lua_toboolean(L, -1);
    lua_pop(L, 1);
    lua_getfield(L, t, "headers");
    j->n = i + 1; /* from here on, jobs_gc frees its headers */
    build_headers(L, t + 4, &j->headers[i], j->crids[i], s->cfg.user_agent, job->body != NULL);
    /* copied: the token may be renewed between steps */
    if (use_auth && gc_hlist_add_line(&j->headers[i], s->oauth.auth_header) != 0)
      luaL_error(L, "graph.core: out of memory");
    job->headers = gc_hlist_link(&j->headers[i]);
    lua_pop(L, 1);                      /* headers */
    lua_rawseti(L, anchors, 3 * i + 3); /* body, url, method: kept alive */
    lua_rawseti(L, anchors, 3 * i + 2);
    lua_rawseti(L, anchors, 3 * i + 1);
    lua_pop(L, 1); /* the request table */
  }
  lua_settop(L, run);
  s->run_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  s->run = j;
  lua_createtable(L, 0, 0);
  ctx.L = L;
  ctx.s = s;
  ctx.jobs = j;
  ctx.done = lua_gettop(L);
  ctx.ndone = 0;
  if (n == 0) return step_result(L, s, 0);
  r = gc_multi_begin(&s->multi, &s->cfg, j->jobs, n, conc, job_done, &ctx);
  return step_result(L, s, r < 0 ? -1 : s->multi.left);
}


static void step_ctx(lua_State *L, gc_session *s, run_ctx *ctx) {
  lua_createtable(L, 0, 0);
  ctx->L = L;
  ctx->s = s;
  ctx->jobs = s->run;
  ctx->done = lua_gettop(L);
  ctx->ndone = 0;
}


/* s:wants() -> { [fd] = "r" | "w" | "rw" }, seconds (nil: no timer):
** what the run waits for. */
static int session_wants(lua_State *L) {
  gc_session *s = check_session(L);
  double t;
  int i;
  lua_createtable(L, 0, s->run ? s->multi.nfds : 0);
  if (s->run == NULL) return 1;
  for (i = 0; i < s->multi.nfds; i++) {
    short ev = s->multi.fds[i].events;
    lua_pushstring(L, (ev & POLLIN) && (ev & POLLOUT) ? "rw" : (ev & POLLOUT) ? "w" : "r");
    lua_rawseti(L, -2, (int)s->multi.fds[i].fd);
  }
  t = gc_multi_timeout(&s->multi);
  if (t < 0) return 1;
  lua_pushnumber(L, t);
  return 2;
}


/* Read a ready table { [fd] = "r" | "w" | "rw" | "e" } at idx into p (n
** entries at most); returns how many. */
static int read_ready(lua_State *L, int idx, struct pollfd *p, int n) {
  int k = 0;
  if (lua_isnoneornil(L, idx)) return 0;
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0 && k < n) {
    const char *ev = lua_tostring(L, -1);
    if (lua_type(L, -2) == LUA_TNUMBER && ev != NULL) {
      p[k].fd = (int)lua_tointeger(L, -2);
      p[k].events = 0;
      p[k].revents = (short)((strchr(ev, 'r') ? POLLIN : 0) | (strchr(ev, 'w') ? POLLOUT : 0) |
                             (strchr(ev, 'e') ? POLLERR : 0));
      k++;
    }
    lua_pop(L, 1);
  }
  return k;
}


/* s:step(ready) -> done, left: act on the descriptors that are ready (and
** on the timer when it is due). */
static int session_step(lua_State *L) {
  gc_session *s = check_session(L);
  struct pollfd p[64];
  run_ctx ctx;
  int n, r;
  if (s->run == NULL) {
    lua_newtable(L);
    lua_pushinteger(L, 0);
    return 2;
  }
  n = read_ready(L, 2, p, 64);
  lua_settop(L, 2);
  step_ctx(L, s, &ctx);
  r = gc_multi_step(&s->multi, p, n, job_done, &ctx);
  return step_result(L, s, r);
}


/* s:step_blocking() -> done, left: the default waiter (poll(2) on what the
** run waits for), then a step. */
static int session_step_blocking(lua_State *L) {
  gc_session *s = check_session(L);
  run_ctx ctx;
  int r;
  if (s->run == NULL) {
    lua_newtable(L);
    lua_pushinteger(L, 0);
    return 2;
  }
  lua_settop(L, 1);
  step_ctx(L, s, &ctx);
  r = gc_multi_block(&s->multi, job_done, &ctx);
  return step_result(L, s, r);
}

/* }====================================================== */


static int session_token(lua_State *L) {
  gc_session *s = check_session(L);
  if (s->oauth.grant == GC_GRANT_NONE)
    return luaL_error(L, "graph.core: this session has no credentials");
  s->token_ready = 0;
  if (!gc_oauth_fresh(&s->oauth)) {
    int r = acquire(L, s);
    if (r != 0) return r;
  }
  s->token_ready = 1;
  lua_pushboolean(L, 1);
  return 1;
}


/* s:client_request_id() -> the client-request-id the last request sent
** (an error needs it; a success rarely does, so it is not returned). */
static int session_client_request_id(lua_State *L) {
  gc_session *s = check_session(L);
  if (s->last_crid[0] == '\0') return 0;
  lua_pushstring(L, s->last_crid);
  return 1;
}


static int session_drop_token(lua_State *L) {
  gc_oauth_drop(&check_session(L)->oauth);
  return 0;
}


/* The current refresh token, so a script can persist a rotated one. */
static int session_refresh_token(lua_State *L) {
  gc_session *s = check_session(L);
  if (s->oauth.refresh_token == NULL)
    lua_pushnil(L);
  else
    lua_pushstring(L, s->oauth.refresh_token);
  return 1;
}


/* s:redact(text): text with every secret of this session replaced. */
static int session_redact(lua_State *L) {
  gc_session *s = check_session(L);
  size_t n;
  const char *text = luaL_checklstring(L, 2, &n);
  gc_buf b = {NULL, 0, 0};
  if (gc_buf_append(&b, text, n) != 0 || gc_oauth_redact(&s->oauth, &b) != 0) {
    gc_buf_free(&b, 1);
    return luaL_error(L, "graph.core: out of memory");
  }
  lua_pushlstring(L, b.data, b.len);
  gc_buf_free(&b, 1);
  return 1;
}


static int session_stats(lua_State *L) {
  gc_session *s = check_session(L);
  lua_createtable(L, 0, 2);
  lua_pushinteger(L, (lua_Integer)s->requests);
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, (lua_Integer)s->oauth.token_requests);
  lua_setfield(L, -2, "token_requests");
  return 1;
}


static int session_tostring(lua_State *L) {
  gc_session *s = (gc_session *)luaL_checkudata(L, 1, GC_SESSION_MT);
  lua_pushfstring(L, "graph.core.session (%s)", s->closed ? "closed" : "open");
  return 1;
}


void gc_session_open(lua_State *L) {
  static const luaL_Reg methods[] = {{"request", session_request},
                                     {"submit", session_submit},
                                     {"wants", session_wants},
                                     {"step", session_step},
                                     {"step_blocking", session_step_blocking},
                                     {"token", session_token},
                                     {"device_start", session_device_start},
                                     {"device_poll", session_device_poll},
                                     {"device_cancel", session_device_cancel},
                                     {"drop_token", session_drop_token},
                                     {"client_request_id", session_client_request_id},
                                     {"refresh_token", session_refresh_token},
                                     {"redact", session_redact},
                                     {"stats", session_stats},
                                     {"close", session_close},
                                     {NULL, NULL}};
  static const luaL_Reg metamethods[] = {{"__gc", session_gc},
                                         {"__close", session_close},
                                         {"__tostring", session_tostring},
                                         {"__index", NULL}, /* placeholder */
                                         {NULL, NULL}};
  luaL_newmetatable(L, GC_JOBS_MT);
  lua_pushcfunction(L, jobs_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, GC_SESSION_MT);
  luaL_setfuncs(L, metamethods, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
