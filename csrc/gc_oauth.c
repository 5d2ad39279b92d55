/*
** gc_oauth.c: token endpoint requests (RFC 6749 sections 4.3, 4.4, 6; RFC
** 8628 device flow; RFC 7523 client assertions), their JSON replies decoded
** with gc_json, and the access-token cache.
*/
#include <stdlib.h>
#include <string.h>

#include "gc_err.h"
#include "gc_headers.h"
#include "gc_json.h"
#include "gc_oauth.h"

/* Renew this long before expiry (Graph SDKs and MSAL use 5 minutes). */
#define GC_TOKEN_MARGIN       300.0
#define GC_ASSERTION_LIFETIME 600 /* seconds, as MSAL does */
#define GC_DEVICE_GRANT       "urn:ietf:params:oauth:grant-type:device_code"
#define GC_BEARER_PREFIX      "Authorization: Bearer "
#define GC_JWT_BEARER         "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


void gc_oauth_init(gc_oauth *o) {
  memset(o, 0, sizeof *o);
  o->device_cb = LUA_NOREF;
}


void gc_oauth_drop(gc_oauth *o) {
  gc_free_secret(&o->auth_header);
  o->access_token = NULL;
  o->refresh_at = 0;
}


void gc_oauth_free(lua_State *L, gc_oauth *o) {
  gc_oauth_drop(o);
  gc_free_secret(&o->client_secret);
  gc_free_secret(&o->username);
  gc_free_secret(&o->password);
  gc_free_secret(&o->refresh_token);
  gc_cert_free(&o->cert);
  free(o->token_url);
  free(o->client_id);
  free(o->scope);
  o->token_url = o->client_id = o->scope = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, o->device_cb);
  o->device_cb = LUA_NOREF;
  o->grant = GC_GRANT_NONE;
}


int gc_oauth_fresh(const gc_oauth *o) {
  return o->access_token != NULL && gc_monotonic() < o->refresh_at;
}


int gc_oauth_redact(const gc_oauth *o, gc_buf *b) {
  const char *secrets[4];
  int i;
  secrets[0] = o->client_secret;
  secrets[1] = o->password;
  secrets[2] = o->refresh_token;
  secrets[3] = o->access_token;
  for (i = 0; i < 4; i++)
    if (gc_redact(b, secrets[i]) != 0) return -1;
  return 0;
}


/*
** {======================================================
** Requests to the identity platform
** =======================================================
*/

static int add_param(gc_buf *b, const char *name, const char *value) {
  if (value == NULL) return 0;
  if (b->len > 0 && gc_buf_append(b, "&", 1) != 0) return -1;
  if (gc_buf_puts(b, name) != 0 || gc_buf_append(b, "=", 1) != 0) return -1;
  return gc_escape(b, value, strlen(value), NULL);
}


/* JSON-encode the table at the top (popped): its text, or nil. */
static void encode_top(lua_State *L) {
  if (gc_json_encode(L, -1) != 0) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  lua_remove(L, -2);
}


/* A fresh client assertion: header and claims as the identity platform
** documents them (certificate-credentials), signed with the app's key. */
static int add_assertion(lua_State *L, const gc_oauth *o, gc_buf *form) {
  gc_buf jwt = {NULL, 0, 0};
  char jti[37];
  double now = (double)(long)gc_walltime();
  size_t hlen, clen;
  const char *header, *claims;
  int r;
  lua_createtable(L, 0, 3);
  lua_pushstring(L, o->cert_pss ? "PS256" : "RS256");
  lua_setfield(L, -2, "alg");
  lua_pushliteral(L, "JWT");
  lua_setfield(L, -2, "typ");
  lua_pushstring(L, o->cert_pss ? o->cert.x5t_s256 : o->cert.x5t);
  lua_setfield(L, -2, o->cert_pss ? "x5t#S256" : "x5t");
  encode_top(L);
  gc_guid(jti);
  lua_createtable(L, 0, 7);
  lua_pushstring(L, o->token_url);
  lua_setfield(L, -2, "aud");
  lua_pushstring(L, o->client_id);
  lua_setfield(L, -2, "iss");
  lua_pushstring(L, o->client_id);
  lua_setfield(L, -2, "sub");
  lua_pushstring(L, jti);
  lua_setfield(L, -2, "jti");
  lua_pushinteger(L, (lua_Integer)now);
  lua_setfield(L, -2, "nbf");
  lua_pushinteger(L, (lua_Integer)now);
  lua_setfield(L, -2, "iat");
  lua_pushinteger(L, (lua_Integer)now + GC_ASSERTION_LIFETIME);
  lua_setfield(L, -2, "exp");
  encode_top(L);
  header = lua_tolstring(L, -2, &hlen);
  claims = lua_tolstring(L, -1, &clen);
  r = (header && claims) ? gc_jwt_sign(&o->cert, o->cert_pss, header, hlen, claims, clen, &jwt)
                         : -1;
  lua_pop(L, 2);
  if (r == 0) r = add_param(form, "client_assertion_type", GC_JWT_BEARER);
  if (r == 0) r = add_param(form, "client_assertion", jwt.data);
  gc_buf_free(&jwt, 1);
  return r;
}


/* Client authentication: a certificate assertion, or the secret (none for
** a public client). */
static int add_client_auth(lua_State *L, const gc_oauth *o, gc_buf *b) {
  int r = add_param(b, "client_id", o->client_id);
  if (r != 0) return r;
  if (o->cert.key != NULL) return add_assertion(L, o, b);
  return add_param(b, "client_secret", o->client_secret);
}


/* application/x-www-form-urlencoded, every value percent-encoded */
static int build_form(lua_State *L, const gc_oauth *o, gc_buf *b) {
  static const char *const grant_names[] = {NULL, "client_credentials", "password", "refresh_token",
                                            GC_DEVICE_GRANT};
  int r = add_param(b, "grant_type", grant_names[o->grant]);
  r |= add_client_auth(L, o, b);
  if (o->grant != GC_GRANT_DEVICE_CODE) r |= add_param(b, "scope", o->scope);
  if (o->grant == GC_GRANT_PASSWORD) {
    r |= add_param(b, "username", o->username);
    r |= add_param(b, "password", o->password);
  } else if (o->grant == GC_GRANT_REFRESH_TOKEN)
    r |= add_param(b, "refresh_token", o->refresh_token);
  return r;
}


/* POST form to url. Returns 0 with the reply decoded on the stack (a table,
** or nil when it is not JSON), or pushes nil, err (transport) and returns 2. */
static int post_form(lua_State *L, gc_oauth *o, gc_http *h, const char *url, const gc_buf *form,
                     char crid[37]) {
  struct curl_slist *hdrs = NULL, *t;
  char crid_header[64];
  CURLcode rc;
  gc_guid(crid);
  (void)snprintf(crid_header, sizeof crid_header, "client-request-id: %s", crid);
  t = curl_slist_append(hdrs, "Content-Type: application/x-www-form-urlencoded");
  if (t) t = curl_slist_append(hdrs = t, "Accept: application/json");
  if (t) t = curl_slist_append(hdrs = t, crid_header);
  if (t) t = curl_slist_append(hdrs = t, "Expect:");
  if (t) {
    gc_buf ua = {NULL, 0, 0};
    if (gc_buf_puts(&ua, "User-Agent: ") == 0 && gc_buf_puts(&ua, h->cfg->user_agent) == 0)
      t = curl_slist_append(hdrs = t, ua.data);
    else
      t = NULL;
    gc_buf_free(&ua, 0);
  }
  if (t == NULL) {
    curl_slist_free_all(hdrs);
    return luaL_error(L, "graph.core: out of memory");
  }
  hdrs = t;
  o->token_requests++;
  h->fresh = 1; /* a redemption is never silently re-sent on a kept connection that died */
  rc = gc_http_perform(h, "POST", url, hdrs, form->data, form->len);
  h->fresh = 0;
  curl_slist_free_all(hdrs);
  if (rc != CURLE_OK) {
    gc_err_push(L, "transport", gc_http_code(h, rc), gc_http_strerror(h, rc));
    gc_err_setstring(L, "client_request_id", crid);
    return 2;
  }
  gc_json_decode(L, h->body.data, h->body.len); /* a message on bad input: not a table */
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  return 0;
}

/* }====================================================== */


static const char *get_string(lua_State *L, int t, const char *k) {
  const char *s;
  lua_getfield(L, t, k);
  s = (lua_type(L, -1) == LUA_TSTRING) ? lua_tostring(L, -1) : NULL;
  lua_pop(L, 1); /* still anchored in the table */
  return s;
}


static double get_number(lua_State *L, int t, const char *k, double def) {
  double v = def;
  lua_getfield(L, t, k); /* a number, or a numeric string (ADFS) */
  if (lua_type(L, -1) == LUA_TNUMBER || lua_isstring(L, -1)) v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return v;
}


/* Copy field k of the table at t into the error table at the top, redacted. */
static void copy_field(lua_State *L, const gc_oauth *o, int t, const char *k, const char *as) {
  const char *s = get_string(L, t, k);
  gc_buf b = {NULL, 0, 0};
  if (s == NULL) return;
  if (gc_buf_puts(&b, s) == 0 && gc_oauth_redact(o, &b) == 0) gc_err_setstring(L, as, b.data);
  gc_buf_free(&b, 1);
}


/* The reply at the top of the stack is a refusal (or unusable): replace it
** with nil, err. kind "auth" when it is the identity platform's error JSON. */
static int push_failure(lua_State *L, const gc_oauth *o, gc_http *h, const char *crid) {
  int reply = lua_gettop(L), err;
  int t = (lua_istable(L, reply) && get_string(L, reply, "error") != NULL) ? reply : 0;
  if (t) {
    gc_err_push(L, "auth", get_string(L, t, "error"), NULL);
    err = lua_gettop(L);
    copy_field(L, o, t, "error_description", "message");
    copy_field(L, o, t, "trace_id", "trace_id");
    copy_field(L, o, t, "correlation_id", "correlation_id");
    copy_field(L, o, t, "suberror", "suberror");
    copy_field(L, o, t, "error_uri", "error_uri");
    copy_field(L, o, t, "timestamp", "timestamp");
    lua_getfield(L, t, "error_codes");
    if (lua_istable(L, -1))
      lua_setfield(L, err, "error_codes");
    else
      lua_pop(L, 1);
  } else {
    gc_err_push(L, "decode", lua_istable(L, reply) ? "invalid_response" : "invalid_json",
                lua_istable(L, reply) ? "token endpoint reply has no access_token"
                                      : "token endpoint reply is not JSON");
    err = lua_gettop(L);
  }
  gc_err_setinteger(L, "status_code", h->status);
  gc_headers_push(L, h->head.data, h->head.len, 1, NULL); /* reason, headers */
  lua_getfield(L, -1, "x-ms-request-id");
  lua_setfield(L, err, "request_id");
  lua_setfield(L, err, "headers");
  if (lua_rawlen(L, -1) == 0) {
    lua_pop(L, 1);
    lua_pushstring(L, gc_http_reason(h->status));
  }
  lua_setfield(L, err, "reason");
  gc_err_setstring(L, "client_request_id", crid);
  lua_remove(L, reply);
  return 2;
}


/* A 200 reply with an access_token: cache it (and a rotated refresh token). */
static int take_token(lua_State *L, gc_oauth *o, double started) {
  int reply = lua_gettop(L);
  const char *token = get_string(L, reply, "access_token");
  const char *rt = get_string(L, reply, "refresh_token");
  double expires_in = get_number(L, reply, "expires_in", -1);
  if (!(expires_in > 0)) expires_in = 3599;
  gc_oauth_drop(o);
  if ((o->auth_header = gc_concat(GC_BEARER_PREFIX, token)) != NULL)
    o->access_token = o->auth_header + sizeof(GC_BEARER_PREFIX) - 1;
  if (rt != NULL && rt[0] != '\0' && o->grant != GC_GRANT_CLIENT_CREDENTIALS) {
    gc_free_secret(&o->refresh_token); /* rotation: the new one replaces the old */
    o->refresh_token = gc_strdup(rt);
  }
  lua_pop(L, 1);
  if (o->access_token == NULL) return luaL_error(L, "graph.core: out of memory");
  o->refresh_at = started + expires_in - GC_TOKEN_MARGIN;
  return 0;
}


static int is_token_reply(lua_State *L, gc_http *h) {
  const char *tok;
  if (h->status != 200 || !lua_istable(L, -1)) return 0;
  tok = get_string(L, lua_gettop(L), "access_token");
  return tok != NULL && tok[0] != '\0';
}


/* One token request for the non-interactive grants. */
static int redeem(lua_State *L, gc_oauth *o, gc_http *h) {
  gc_buf form = {NULL, 0, 0};
  char crid[37];
  double started = gc_monotonic();
  int r;
  if (build_form(L, o, &form) != 0) {
    gc_buf_free(&form, 1);
    return luaL_error(L, "graph.core: cannot build the token request (out of memory "
                         "or a signing failure)");
  }
  r = post_form(L, o, h, o->token_url, &form, crid);
  gc_buf_free(&form, 1); /* wipes the secret */
  if (r != 0) return r;
  if (is_token_reply(L, h)) return take_token(L, o, started);
  return push_failure(L, o, h, crid);
}


/*
** {======================================================
** Device code flow (RFC 8628), for people at a REPL
** =======================================================
*/

/* ".../oauth2/v2.0/token" -> ".../oauth2/v2.0/devicecode" */
static int device_url(const gc_oauth *o, gc_buf *b) {
  size_t n = strlen(o->token_url);
  if (n < 6 || strcmp(o->token_url + n - 6, "/token") != 0) return -1;
  if (gc_buf_append(b, o->token_url, n - 5) != 0) return -1;
  return gc_buf_puts(b, "devicecode");
}


/* A number may be a float (a numeric string, Lua 5.1): whole seconds as integers. */
static void push_seconds(lua_State *L, double v) {
  if (v == (double)(lua_Integer)v)
    lua_pushinteger(L, (lua_Integer)v);
  else
    lua_pushnumber(L, v);
}


static int device_flow(lua_State *L, gc_oauth *o, gc_http *h) {
  gc_buf url = {NULL, 0, 0}, form = {NULL, 0, 0};
  char crid[37];
  char *device_code = NULL;
  double interval, deadline;
  int r, reply;
  if (device_url(o, &url) != 0 || add_param(&form, "client_id", o->client_id) != 0 ||
      add_param(&form, "scope", o->scope) != 0) {
    gc_buf_free(&url, 0);
    gc_buf_free(&form, 0);
    return luaL_error(L, "graph.core: out of memory");
  }
  r = post_form(L, o, h, url.data, &form, crid);
  gc_buf_free(&url, 0);
  gc_buf_free(&form, 0);
  if (r != 0) return r;
  reply = lua_gettop(L);
  if (h->status != 200 || !lua_istable(L, reply) || get_string(L, reply, "device_code") == NULL)
    return push_failure(L, o, h, crid);
  device_code = gc_strdup(get_string(L, reply, "device_code"));
  interval = get_number(L, reply, "interval", 5);
  deadline = gc_monotonic() + get_number(L, reply, "expires_in", 900);
  if (device_code == NULL) return luaL_error(L, "graph.core: out of memory");

  /* Show the user what to do: the info table, without the device code. */
  lua_rawgeti(L, LUA_REGISTRYINDEX, o->device_cb);
  lua_createtable(L, 0, 5);
  lua_getfield(L, reply, "user_code");
  lua_setfield(L, -2, "user_code");
  lua_getfield(L, reply, "verification_uri");
  lua_setfield(L, -2, "verification_uri");
  lua_getfield(L, reply, "message");
  lua_setfield(L, -2, "message");
  push_seconds(L, get_number(L, reply, "expires_in", 900));
  lua_setfield(L, -2, "expires_in");
  push_seconds(L, interval);
  lua_setfield(L, -2, "interval");
  lua_remove(L, reply);             /* leaves: callback, info */
  if (lua_pcall(L, 1, 0, 0) != 0) { /* the callback failed: our error to raise */
    gc_free_secret(&device_code);
    return lua_error(L);
  }

  for (;;) {
    double started;
    const char *e;
    gc_sleep(interval);
    gc_buf_reset(&form, 1);
    if (add_param(&form, "grant_type", GC_DEVICE_GRANT) != 0 ||
        add_param(&form, "client_id", o->client_id) != 0 ||
        add_param(&form, "device_code", device_code) != 0) {
      gc_buf_free(&form, 1);
      gc_free_secret(&device_code);
      return luaL_error(L, "graph.core: out of memory");
    }
    started = gc_monotonic();
    r = post_form(L, o, h, o->token_url, &form, crid);
    if (r != 0) break;
    if (is_token_reply(L, h)) {
      r = take_token(L, o, started);
      break;
    }
    e = lua_istable(L, -1) ? get_string(L, lua_gettop(L), "error") : NULL;
    if (e != NULL && strcmp(e, "authorization_pending") == 0 && gc_monotonic() < deadline) {
      lua_pop(L, 1);
      continue;
    }
    if (e != NULL && strcmp(e, "slow_down") == 0 && gc_monotonic() < deadline) {
      interval += 5; /* RFC 8628 section 3.5 */
      lua_pop(L, 1);
      continue;
    }
    r = push_failure(L, o, h, crid); /* declined, expired, or anything else */
    break;
  }
  gc_buf_free(&form, 1);
  gc_free_secret(&device_code);
  return r;
}

/* }====================================================== */


int gc_oauth_acquire(lua_State *L, gc_oauth *o, gc_http *h) {
  if (o->grant == GC_GRANT_DEVICE_CODE) return device_flow(L, o, h);
  return redeem(L, o, h);
}
