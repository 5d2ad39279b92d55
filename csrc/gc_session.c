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

#define GC_JOB_MT "graph.core.job"

typedef struct gc_session {
  gc_http_config cfg;
  gc_http http;
  gc_multi multi; /* the engine: every exchange and run, created on first use */
  gc_oauth oauth;
  gc_hlist headers;     /* the request's header lines, reused */
  char last_crid[37];   /* the client-request-id of the last request */
  gc_hcache hcache;     /* response field strings, reused */
  struct gc_sjob *jobs; /* the jobs in the engine (s:submit, s:auth), a list */
  struct gc_sjob *auth; /* the identity platform request among them, or NULL */
  int live_ref;         /* registry ref of { [job] = its userdata }: kept alive */
  unsigned long requests;
  int token_ready; /* s:token() just succeeded: the next request uses that token as it is */
  int busy;        /* reporting into Lua mid-step: a __gc run by its allocations finds it so */
  int close_pending;
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
  if (s->busy)
    luaL_error(L, "graph.core: the session is in the middle of a step (used from a __gc "
                  "metamethod run by the step's allocations)");
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
  s->live_ref = LUA_NOREF;
  if (gc_http_open(&s->http, &s->cfg) != 0)
    luaL_error(L, "graph.core.session: libcurl could not be initialised");
  lua_newtable(L);
  s->live_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

/* }====================================================== */


static void forget_jobs(lua_State *L, gc_session *s);

static void release(lua_State *L, gc_session *s) {
  if (!s->closed) {
    forget_jobs(L, s); /* their transfers stop; their headers and bodies are wiped */
    s->closed = 1;     /* first, so a failure below cannot close twice */
    gc_oauth_free(L, &s->oauth);
    gc_hlist_free(&s->headers);
    gc_hcache_free(L, &s->hcache);
    gc_http_close(&s->http);
    gc_multi_close(&s->multi);
    gc_http_config_free(&s->cfg);
  }
}


/* s:close() and __close: the jobs in flight are abandoned. No Lua function
** runs inside a step but a __gc metamethod its allocations may run: a close
** from there waits for the step to end (see leave). */
static int session_close(lua_State *L) {
  gc_session *s = (gc_session *)luaL_checkudata(L, 1, GC_SESSION_MT);
  if (s->busy)
    s->close_pending = 1;
  else
    release(L, s);
  return 0;
}


/* Around the parts of a method that report into Lua while the engine is
** mid-step (its results pushed, a reply decoded): enter, then leave with
** the number of results. A raise in between (out of memory) leaves the
** session busy: unusable but for close and __gc. */
static void enter(gc_session *s) {
  s->busy = 1;
}

static int leave(lua_State *L, gc_session *s, int nresults) {
  s->busy = 0;
  if (s->close_pending) release(L, s);
  return nresults;
}


/* __gc: a session being collected may have jobs left: abandoned. */
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

static void one_done(void *ud, gc_job *job, gc_http *h, CURLcode rc) {
  one_ctx *c = (one_ctx *)ud;
  (void)job;
  c->h = h;
  c->rc = rc;
}


/* One exchange, waited for with the default waiter; the handle that ran it
** (its response inside), or NULL on a libcurl failure. While other jobs are
** in the engine (a host stepping them) it goes on the session's own handle,
** so that their answers are not taken by this wait. */
static gc_http *run_one(gc_session *s, const char *method, const char *url,
                        struct curl_slist *headers, const char *body, size_t blen, int fresh,
                        CURLcode *rc) {
  gc_job job;
  one_ctx c = {NULL, CURLE_OK};
  int left;
  if (s->multi.left > 0) {
    s->multi.blocking_waits++; /* gc_multi_block counts the other way's waits */
    s->http.fresh = fresh;
    *rc = gc_http_perform(&s->http, method, url, headers, body, blen);
    return &s->http;
  }
  job.method = method;
  job.url = url;
  job.body = body;
  job.body_len = blen;
  job.headers = headers;
  job.fresh = fresh;
  if (gc_multi_add(&s->multi, &s->cfg, &job, one_done, &c) != 0) return NULL;
  for (left = s->multi.left; left > 0;) left = gc_multi_block(&s->multi, one_done, &c);
  if (left < 0) {
    gc_multi_abort(&s->multi);
    return NULL;
  }
  *rc = c.rc;
  return c.h;
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
    if (must_acquire(s))
      return luaL_error(L, "graph.core: no usable token (s:auth(\"token\") acquires it)");
    /* not copied: no Lua runs until the exchange is over, so the token stays */
    if (gc_hlist_add_ref(&s->headers, s->oauth.auth_header) != 0)
      return luaL_error(L, "graph.core: out of memory");
  }

  s->requests++;
  h = run_one(s, method, url, gc_hlist_link(&s->headers), body, blen, fresh, &rc);
  gc_hlist_reset(&s->headers); /* wiped: a caller's header may be a secret too */
  if (h == NULL) return luaL_error(L, "graph.core: libcurl multi interface failed");
  enter(s); /* h is the engine's until this returns */
  if (rc != CURLE_OK) return leave(L, s, gc_http_push_error(L, h, rc, s->last_crid));
  lua_pushinteger(L, h->status);
  gc_headers_push(L, h->head.data, h->head.len, 1, &s->hcache);
  if (lua_rawlen(L, -2) == 0) { /* HTTP/2 has no reason phrase */
    lua_pushstring(L, gc_http_reason(h->status));
    lua_replace(L, -3);
  }
  lua_pushlstring(L, h->body.data, h->body.len);
  return leave(L, s, 4);
}

/* }====================================================== */

/*
** {======================================================
** Jobs: many exchanges at once, from many callers, stepped by the caller
** =======================================================
*/

/* A job of the engine, in a userdata so that a raised error (bad input) or
** a session closed while it runs still frees and wipes it: a request from
** Lua or a request to the identity platform, its strings copied in. Kept
** alive by the session's live table while it is in the engine. */
typedef struct gc_sjob {
  gc_job job; /* first: the engine's pointer is this */
  struct gc_sjob *prev, *next;
  lua_Integer id; /* the caller's, echoed in the result */
  int step;       /* a gc_auth_step, or -1 for a request */
  int live;       /* in the engine and the session's list */
  double started;
  gc_hlist headers;
  char crid[37];
  size_t len; /* of data: method, url, body, each after the other */
  char data[1];
} gc_sjob;

static const char *const STEP_NAMES[] = {"token", "device_start", "device_poll", NULL};

static void wipe_job(gc_sjob *j) {
  gc_hlist_free(&j->headers);
  gc_wipe(j->data, j->len); /* a body may hold a secret: the form does */
  j->len = 0;
}

static int job_gc(lua_State *L) {
  wipe_job((gc_sjob *)luaL_checkudata(L, 1, GC_JOB_MT));
  return 0;
}


/* A new job (on the stack) with its strings copied, its headers empty. */
static gc_sjob *new_job(lua_State *L, lua_Integer id, const char *method, const char *url,
                        size_t ulen, const char *body, size_t blen) {
  size_t mlen = strlen(method), len = mlen + 1 + ulen + 1 + blen + 1;
  gc_sjob *j = (gc_sjob *)lua_newuserdatauv(L, sizeof *j + len, 0);
  memset(j, 0, sizeof *j);
  luaL_setmetatable(L, GC_JOB_MT);
  j->id = id;
  j->step = -1;
  j->len = len;
  memcpy(j->data, method, mlen + 1);
  memcpy(j->data + mlen + 1, url, ulen);
  j->data[mlen + 1 + ulen] = '\0';
  if (body != NULL) memcpy(j->data + mlen + 2 + ulen, body, blen);
  j->data[len - 1] = '\0';
  j->job.method = j->data;
  j->job.url = j->data + mlen + 1;
  j->job.body = body ? j->data + mlen + 2 + ulen : NULL;
  j->job.body_len = blen;
  return j;
}


/* Into the engine: linked, kept alive (the userdata at the top, popped). */
static int add_job(lua_State *L, gc_session *s, gc_sjob *j, gc_multi_done done, void *ud) {
  int r;
  j->job.headers = gc_hlist_link(&j->headers);
  j->started = gc_monotonic();
  j->prev = NULL;
  j->next = s->jobs;
  if (s->jobs != NULL) s->jobs->prev = j;
  s->jobs = j;
  j->live = 1;
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->live_ref);
  lua_pushvalue(L, -2);
  lua_rawsetp(L, -2, j);
  lua_pop(L, 2);
  enter(s); /* a failure to start is reported at once */
  r = gc_multi_add(&s->multi, &s->cfg, &j->job, done, ud);
  s->busy = 0;
  return r;
}


/* Out of the engine's list and the live table; wiped now, freed when
** collected. No Lua function runs (safe inside a step). */
static void drop_job(lua_State *L, gc_session *s, gc_sjob *j) {
  if (!j->live) return;
  j->live = 0;
  if (j->prev != NULL) j->prev->next = j->next;
  if (j->next != NULL) j->next->prev = j->prev;
  if (s->jobs == j) s->jobs = j->next;
  if (s->auth == j) s->auth = NULL;
  wipe_job(j);
  lua_rawgeti(L, LUA_REGISTRYINDEX, s->live_ref);
  lua_pushnil(L);
  lua_rawsetp(L, -2, j);
  lua_pop(L, 1);
}


/* The session closes: every job stops, wiped now. */
static void forget_jobs(lua_State *L, gc_session *s) {
  gc_multi_abort(&s->multi);
  while (s->jobs != NULL) drop_job(L, s, s->jobs);
  if (s->live_ref != LUA_NOREF) luaL_unref(L, LUA_REGISTRYINDEX, s->live_ref);
  s->live_ref = LUA_NOREF;
}


typedef struct step_ctx {
  lua_State *L;
  gc_session *s;
  int done; /* stack index of the table of results reported by this step */
  int ndone;
} step_ctx;

static void new_step(lua_State *L, gc_session *s, step_ctx *ctx) {
  lua_createtable(L, 0, 0);
  ctx->L = L;
  ctx->s = s;
  ctx->done = lua_gettop(L);
  ctx->ndone = 0;
}


/* A request's outcome into the record at the top. */
static void push_response(step_ctx *c, gc_sjob *j, gc_http *h, CURLcode rc) {
  lua_State *L = c->L;
  if (rc != CURLE_OK) {
    gc_http_push_error(L, h, rc, j->crid);
    lua_setfield(L, -3, "err");
    lua_pop(L, 1); /* the nil */
    return;
  }
  lua_pushinteger(L, h->status);
  lua_setfield(L, -2, "status");
  gc_headers_push(L, h->head.data, h->head.len, 1, &c->s->hcache);
  lua_setfield(L, -3, "headers");
  if (lua_rawlen(L, -1) == 0) { /* HTTP/2 has no reason phrase */
    lua_pop(L, 1);
    lua_pushstring(L, gc_http_reason(h->status));
  }
  lua_setfield(L, -2, "reason");
  lua_pushlstring(L, h->body.data, h->body.len);
  lua_setfield(L, -2, "body");
}


/* An identity platform reply, settled here (the token stays in C), into
** the record at the top: value = its result, or err. */
static void push_auth(step_ctx *c, gc_sjob *j, gc_http *h, CURLcode rc) {
  lua_State *L = c->L;
  int n = gc_oauth_reply(L, &c->s->oauth, (gc_auth_step)j->step, h, rc, j->crid, j->started);
  if (n == 2) {
    lua_setfield(L, -3, "err");
    lua_pop(L, 1); /* the nil */
    return;
  }
  if (lua_type(L, -1) == LUA_TBOOLEAN) c->s->token_ready = 1;
  lua_setfield(L, -2, "value");
  lua_pushstring(L, STEP_NAMES[j->step]);
  lua_setfield(L, -2, "auth");
}


/* gc_multi_done: the job's outcome into the step's table (no Lua function
** runs: the transfers still in flight are inside libcurl). */
static void job_done(void *ud, gc_job *job, gc_http *h, CURLcode rc) {
  step_ctx *c = (step_ctx *)ud;
  lua_State *L = c->L;
  gc_sjob *j = (gc_sjob *)(void *)job;
  lua_createtable(L, 0, 7);
  if (j->step < 0)
    push_response(c, j, h, rc);
  else
    push_auth(c, j, h, rc);
  lua_pushinteger(L, j->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, j->crid); /* a retry goes with the same one */
  lua_setfield(L, -2, "client_request_id");
  if (h->easy != NULL) { /* each request's own duration, for the log */
    double t = 0;
    curl_easy_getinfo(h->easy, CURLINFO_TOTAL_TIME, &t);
    lua_pushnumber(L, t);
    lua_setfield(L, -2, "time");
  }
  lua_rawseti(L, c->done, ++c->ndone);
  c->s->requests += (j->step < 0);
  drop_job(L, c->s, j);
}


/* Push how many jobs are left, after the step's done table. */
static int step_result(lua_State *L, int left) {
  if (left < 0) return luaL_error(L, "graph.core: libcurl multi interface failed");
  lua_pushinteger(L, left);
  return 2;
}


/* s:submit({ {id=, method=, url=, headers=, body=, fresh=}, ... }, use_auth)
**   -> done, left
** Adds the requests to the engine, beside any already there (other callers'
** included); they move only in s:step / s:step_blocking, which return the
** results of the jobs that ended (done: a list of {id=, status=, reason=,
** headers=, body=} or {id=, err=}, each with the client_request_id it went
** with and its `time` in seconds) and how many jobs the engine has left.
** `done` here holds the requests that could not start. With use_auth each
** request carries the session's token (s:token_ready() says it is usable). */
static int session_submit(lua_State *L) {
  gc_session *s = check_session(L);
  int n, use_auth, i;
  step_ctx ctx;
  luaL_checktype(L, 2, LUA_TTABLE);
  n = (int)lua_rawlen(L, 2);
  use_auth = lua_toboolean(L, 3);
  luaL_argcheck(L, n <= 1000000, 2, "too many requests");
  lua_settop(L, 3);
  if (use_auth && s->oauth.grant == GC_GRANT_NONE)
    return luaL_error(L, "graph.core: this session has no credentials");
  if (use_auth && s->oauth.auth_header == NULL)
    return luaL_error(L, "graph.core: no token (s:auth(\"token\") acquires it)");
  s->token_ready = 0;
  new_step(L, s, &ctx); /* 4 */
  for (i = 0; i < n; i++) {
    size_t mlen, ulen, blen = 0;
    const char *method, *url, *body = NULL;
    int t, isnum;
    lua_Integer id;
    gc_sjob *j;
    lua_rawgeti(L, 2, i + 1);
    t = lua_gettop(L);
    if (!lua_istable(L, t)) return luaL_error(L, "graph.core: request %d is not a table", i + 1);
    lua_getfield(L, t, "method");
    lua_getfield(L, t, "url");
    lua_getfield(L, t, "body");
    lua_getfield(L, t, "id");
    method = lua_tolstring(L, t + 1, &mlen);
    url = lua_tolstring(L, t + 2, &ulen);
    isnum = lua_type(L, t + 4) == LUA_TNUMBER;
    id = lua_tointeger(L, t + 4);
    if (method == NULL || mlen >= 16 || !gc_header_token(method, mlen) || url == NULL ||
        ulen == 0 || has_space_or_ctl(url, ulen) || !isnum)
      return luaL_error(L, "graph.core: request %d needs a valid method, url and integer id",
                        i + 1);
    if (!lua_isnil(L, t + 3)) {
      if (lua_type(L, t + 3) != LUA_TSTRING)
        return luaL_error(L, "graph.core: request %d body must be a string", i + 1);
      body = lua_tolstring(L, t + 3, &blen);
    }
    j = new_job(L, id, method, url, ulen, body, blen); /* t + 5 */
    lua_getfield(L, t, "fresh");
    j->job.fresh = lua_toboolean(L, -1);
    lua_getfield(L, t, "headers");
    build_headers(L, t + 7, &j->headers, j->crid, s->cfg.user_agent, body != NULL);
    /* copied: the token may be renewed before this one leaves */
    if (use_auth && gc_hlist_add_line(&j->headers, s->oauth.auth_header) != 0)
      luaL_error(L, "graph.core: out of memory");
    lua_settop(L, t + 5);
    if (add_job(L, s, j, job_done, &ctx) != 0) {
      drop_job(L, s, j);
      luaL_error(L, "graph.core: libcurl multi interface failed");
    }
    lua_settop(L, 4);
  }
  return step_result(L, s->multi.left);
}


/* s:auth(step, id) -> true | nil, err: one request to the identity
** platform, through the engine like any other job; its result comes back
** from a step as {id=, auth=step, value=} or {id=, err=} (token and
** device_poll: value true, the token cached; device_start: the prompt's
** info; device_poll: "pending" or "slow_down" too). step: "token",
** "device_start" or "device_poll". One at a time. */
static int session_auth(lua_State *L) {
  gc_session *s = check_session(L);
  int step = luaL_checkoption(L, 2, NULL, STEP_NAMES), r;
  lua_Integer id = luaL_checkinteger(L, 3);
  gc_buf url = {NULL, 0, 0}, form = {NULL, 0, 0};
  gc_sjob *j;
  step_ctx ctx;
  if (s->oauth.grant == GC_GRANT_NONE)
    return luaL_error(L, "graph.core: this session has no credentials");
  if (step != GC_AUTH_TOKEN && s->oauth.grant != GC_GRANT_DEVICE_CODE)
    return luaL_error(L, "graph.core: this session's grant is not device_code");
  if (s->auth != NULL)
    return luaL_error(L, "graph.core: a request to the identity platform is in flight");
  lua_settop(L, 3);
  r = gc_oauth_request(L, &s->oauth, (gc_auth_step)step, &url, &form);
  if (r == 2) return 2; /* refused before anything was sent */
  if (url.data == NULL || form.data == NULL) return luaL_error(L, "graph.core: out of memory");
  j = new_job(L, id, "POST", url.data, url.len, form.data, form.len); /* 4 */
  gc_buf_free(&url, 0);
  gc_buf_free(&form, 1); /* wipes the secret: the job has its own copy */
  j->step = step;
  j->job.fresh = 1; /* a redemption is never silently re-sent on a kept connection */
  gc_guid(j->crid);
  if (gc_hlist_add_line(&j->headers, "Content-Type: application/x-www-form-urlencoded") != 0 ||
      gc_hlist_add_line(&j->headers, "Accept: application/json") != 0 ||
      gc_hlist_add(&j->headers, "client-request-id", 17, j->crid, 36) != 0 ||
      gc_hlist_add_line(&j->headers, "Expect:") != 0 ||
      gc_hlist_add(&j->headers, "User-Agent", 10, s->cfg.user_agent, strlen(s->cfg.user_agent)) !=
          0)
    return luaL_error(L, "graph.core: out of memory");
  new_step(L, s, &ctx); /* 5 */
  lua_pushvalue(L, 4);
  s->auth = j;
  if (add_job(L, s, j, job_done, &ctx) != 0) {
    drop_job(L, s, j);
    return luaL_error(L, "graph.core: libcurl multi interface failed");
  }
  if (ctx.ndone > 0) { /* it could not start: that failure is the answer */
    lua_rawgeti(L, ctx.done, 1);
    lua_pushnil(L);
    lua_getfield(L, -2, "err");
    return 2;
  }
  lua_pushboolean(L, 1);
  return 1;
}


/* s:cancel(id): forget the jobs with that id: a request already sent is
** not recalled; its answer is dropped. */
static int session_cancel(lua_State *L) {
  gc_session *s = check_session(L);
  lua_Integer id = luaL_checkinteger(L, 2);
  gc_sjob *j, *next;
  for (j = s->jobs; j != NULL; j = next) {
    next = j->next;
    if (j->id != id) continue;
    gc_multi_cancel(&s->multi, &j->job);
    if (j->step == GC_AUTH_DEVICE_POLL || j->step == GC_AUTH_DEVICE_START)
      gc_free_secret(&s->oauth.device_code); /* a sign-in given up on */
    drop_job(L, s, j);
  }
  return 0;
}


/* s:device_cancel(): give up the sign-in in progress (its code wiped now). */
static int session_device_cancel(lua_State *L) {
  gc_session *s = check_session(L);
  gc_free_secret(&s->oauth.device_code);
  return 0;
}


/* s:wants([changes_only]) -> { [fd] = "r" | "w" | "rw" }, seconds (nil: no
** timer), { [fd] = true }: what the engine waits for, and the descriptors
** that are new since the last call (a host watching descriptors watches
** those afresh: the number may be a closed one's, reused). changes_only:
** false instead of the two tables when no descriptor or event changed since
** the last call (a host keeps its watches as they are). */
static int session_wants(lua_State *L) {
  gc_session *s = check_session(L);
  double t = gc_multi_timeout(&s->multi);
  int i;
  if (!gc_multi_changed(&s->multi) && lua_toboolean(L, 2)) {
    lua_pushboolean(L, 0);
    if (t < 0)
      lua_pushnil(L);
    else
      lua_pushnumber(L, t);
    return 2;
  }
  lua_createtable(L, 0, s->multi.nfds);
  lua_createtable(L, 0, 0);
  for (i = 0; i < s->multi.nfds; i++) {
    short ev = s->multi.fds[i].events;
    lua_pushstring(L, (ev & POLLIN) && (ev & POLLOUT) ? "rw" : (ev & POLLOUT) ? "w" : "r");
    lua_rawseti(L, -3, (int)s->multi.fds[i].fd);
    if (gc_multi_renewed(&s->multi, i)) {
      lua_pushboolean(L, 1);
      lua_rawseti(L, -2, (int)s->multi.fds[i].fd);
    }
  }
  if (t < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, t);
  lua_insert(L, -2);
  return 3;
}


static short revents_of(const char *ev) {
  return (short)((strchr(ev, 'r') ? POLLIN : 0) | (strchr(ev, 'w') ? POLLOUT : 0) |
                 (strchr(ev, 'e') ? POLLERR : 0));
}


/* Read what is ready at idx into p (n entries at most): a table { [fd] =
** "r" | "w" | "rw" | "e" | "?" }, or one descriptor and its letters (idx,
** idx + 1); returns how many. "?": ready, libcurl finds out. */
static int read_ready(lua_State *L, int idx, struct pollfd *p, int n) {
  int k = 0;
  if (lua_isnoneornil(L, idx)) return 0;
  if (lua_type(L, idx) == LUA_TNUMBER) {
    p[0].fd = (int)lua_tointeger(L, idx);
    p[0].events = 0;
    p[0].revents = revents_of(luaL_checkstring(L, idx + 1));
    return 1;
  }
  luaL_checktype(L, idx, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0 && k < n) {
    const char *ev = lua_tostring(L, -1);
    if (lua_type(L, -2) == LUA_TNUMBER && ev != NULL) {
      p[k].fd = (int)lua_tointeger(L, -2);
      p[k].events = 0;
      p[k].revents = revents_of(ev);
      k++;
    }
    lua_pop(L, 1);
  }
  return k;
}


/* s:step(ready) or s:step(fd, letters) -> done, left: act on the
** descriptors that are ready (and on the timer when it is due). */
static int session_step(lua_State *L) {
  gc_session *s = check_session(L);
  struct pollfd p[64];
  step_ctx ctx;
  int n = read_ready(L, 2, p, 64), left;
  lua_settop(L, 3);
  new_step(L, s, &ctx);
  enter(s);
  left = gc_multi_step(&s->multi, p, n, job_done, &ctx);
  leave(L, s, 0);
  return step_result(L, left);
}


/* s:step_blocking() -> done, left: the default waiter (poll(2) on what the
** engine waits for), then a step. */
static int session_step_blocking(lua_State *L) {
  gc_session *s = check_session(L);
  step_ctx ctx;
  int left;
  lua_settop(L, 1);
  new_step(L, s, &ctx);
  enter(s);
  left = gc_multi_block(&s->multi, job_done, &ctx);
  leave(L, s, 0);
  return step_result(L, left);
}

/* }====================================================== */


/* s:token_ready() -> whether the session holds a token to send now: fresh,
** or just acquired (a token with a short life is used as it came). */
static int session_token_ready(lua_State *L) {
  gc_session *s = check_session(L);
  if (s->oauth.grant == GC_GRANT_NONE)
    return luaL_error(L, "graph.core: this session has no credentials");
  lua_pushboolean(L,
                  (s->token_ready && s->oauth.access_token != NULL) || gc_oauth_fresh(&s->oauth));
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
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, (lua_Integer)s->requests);
  lua_setfield(L, -2, "requests");
  lua_pushinteger(L, (lua_Integer)s->multi.blocking_waits);
  lua_setfield(L, -2, "blocking_waits");
  lua_pushinteger(L, (lua_Integer)s->multi.left);
  lua_setfield(L, -2, "jobs");
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
                                     {"auth", session_auth},
                                     {"cancel", session_cancel},
                                     {"device_cancel", session_device_cancel},
                                     {"token_ready", session_token_ready},
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
  luaL_newmetatable(L, GC_JOB_MT);
  lua_pushcfunction(L, job_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 1);
  luaL_newmetatable(L, GC_SESSION_MT);
  luaL_setfuncs(L, metamethods, 0);
  luaL_newlib(L, methods);
  lua_setfield(L, -2, "__index");
  lua_pop(L, 1);
}
