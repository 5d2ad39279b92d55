/*
** gc_oauth.c: token endpoint requests (RFC 6749 sections 4.3, 4.4, 6; RFC
** 8628 device flow; RFC 7523 client assertions), their JSON replies decoded
** with gc_json, and the access-token cache.
*/
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gc_display.h"
#include "gc_err.h"
#include "gc_headers.h"
#include "gc_json.h"
#include "gc_oauth.h"
#include "gc_visibility.h" /* last: see there */

/* Renew this long before expiry (Graph SDKs and MSAL use 5 minutes), or a
** quarter of a shorter lifetime, so a 2-minute token still serves 90 s. */
#define GC_TOKEN_MARGIN       300.0
#define GC_TOKEN_LIFETIME     3599.0  /* when the reply gives none, as Entra's default */
#define GC_TOKEN_MAX_LIFETIME 86400.0 /* Entra's configurable maximum: one day */
#define GC_TOKEN_MAX          32768   /* bytes; larger tokens are not credible */
#define GC_DEVICE_INTERVAL    5.0     /* RFC 8628 section 3.2: the default */
#define GC_DEVICE_MIN         1.0     /* poll no faster than this, */
#define GC_DEVICE_MAX         60.0    /* nor wait longer between polls than this */
#define GC_ASSERTION_LIFETIME 600     /* seconds, as MSAL does */
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
  gc_free_secret(&o->device_code);
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
  const char *secrets[5];
  int i;
  secrets[0] = o->client_secret;
  secrets[1] = o->password;
  secrets[2] = o->refresh_token;
  secrets[3] = o->access_token;
  secrets[4] = o->device_code;
  for (i = 0; i < 5; i++)
    if (gc_redact(b, secrets[i]) != 0) return -1;
  return 0;
}


/*
** {======================================================
** The grants (GC_GRANTS in gc_oauth.h) and the fields they use
** =======================================================
*/

#define GC_GRANT_ROW(id, name, type, delegated, sends, needs) {name, type, delegated, sends, needs},
const gc_grant_info gc_grants[GC_NGRANTS] = {GC_GRANTS(GC_GRANT_ROW)};
#undef GC_GRANT_ROW

#define NOT_A_STRING ((size_t)-1)

/* Each GC_F_* flag: its name (the form field and the option; "a|b" when
** either of two options does) and its string in gc_oauth. In the order a
** form sends them. */
typedef struct gc_field {
  int flag;
  const char *name;
  size_t offset; /* of its char * in gc_oauth, or NOT_A_STRING */
} gc_field;

static const gc_field fields[] = {
    {GC_F_TOKEN_URL, "token_url", offsetof(gc_oauth, token_url)},
    {GC_F_CLIENT_ID, "client_id", offsetof(gc_oauth, client_id)},
    {GC_F_CLIENT_AUTH, "client_secret|certificate_file", NOT_A_STRING},
    {GC_F_SCOPE, "scope", offsetof(gc_oauth, scope)},
    {GC_F_USERNAME, "username", offsetof(gc_oauth, username)},
    {GC_F_PASSWORD, "password", offsetof(gc_oauth, password)},
    {GC_F_REFRESH_TOKEN, "refresh_token", offsetof(gc_oauth, refresh_token)},
    {GC_F_DEVICE_CODE, "device_code", offsetof(gc_oauth, device_code)},
    {GC_F_DEVICE_CB, "on_device_code", NOT_A_STRING},
};
#define NFIELDS (sizeof fields / sizeof fields[0])


static const char *field_string(const gc_oauth *o, const gc_field *f) {
  return *(char *const *)(const void *)((const char *)o + f->offset);
}


static int has_field(const gc_oauth *o, const gc_field *f) {
  if (f->flag == GC_F_CLIENT_AUTH) return o->client_secret != NULL || o->cert.key != NULL;
  if (f->flag == GC_F_DEVICE_CB) return o->device_cb != LUA_NOREF && o->device_cb != LUA_REFNIL;
  return field_string(o, f) != NULL;
}


int gc_grant_find(const char *name) {
  int i;
  for (i = 0; i < GC_NGRANTS; i++)
    if (strcmp(gc_grants[i].name, name) == 0) return i;
  return -1;
}


const char *gc_oauth_missing(const gc_oauth *o) {
  size_t i;
  for (i = 0; i < NFIELDS; i++)
    if ((gc_grants[o->grant].needs & fields[i].flag) && !has_field(o, &fields[i]))
      return fields[i].name;
  return NULL;
}


/* The names of the fields in `flags`, as an array at the top. */
static void push_fields(lua_State *L, int flags) {
  size_t i;
  int n = 0;
  lua_newtable(L);
  for (i = 0; i < NFIELDS; i++)
    if (flags & fields[i].flag) {
      lua_pushstring(L, fields[i].name);
      lua_rawseti(L, -2, ++n);
    }
}


void gc_grants_push(lua_State *L) {
  int i;
  lua_createtable(L, GC_NGRANTS, 0);
  for (i = 0; i < GC_NGRANTS; i++) {
    const gc_grant_info *g = &gc_grants[i];
    lua_createtable(L, 0, 5);
    lua_pushstring(L, g->name);
    lua_setfield(L, -2, "name");
    lua_pushstring(L, g->grant_type); /* nil for "none" */
    lua_setfield(L, -2, "grant_type");
    lua_pushboolean(L, g->delegated);
    lua_setfield(L, -2, "delegated");
    push_fields(L, g->sends);
    lua_setfield(L, -2, "sends");
    push_fields(L, g->needs);
    lua_setfield(L, -2, "needs");
    lua_rawseti(L, -2, i + 1);
  }
}

/* }====================================================== */


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
  if (o->cert.key != NULL) return add_assertion(L, o, b);
  return add_param(b, "client_secret", o->client_secret);
}


/* application/x-www-form-urlencoded, every value percent-encoded: the
** grant's fields, as its row in GC_GRANTS lists them. */
static int build_form(lua_State *L, const gc_oauth *o, gc_buf *b) {
  const gc_grant_info *g = &gc_grants[o->grant];
  size_t i;
  int r = add_param(b, "grant_type", g->grant_type);
  for (i = 0; r == 0 && i < NFIELDS; i++) {
    const gc_field *f = &fields[i];
    if (!(g->sends & f->flag)) continue;
    r = (f->flag == GC_F_CLIENT_AUTH) ? add_client_auth(L, o, b)
                                      : add_param(b, f->name, field_string(o, f));
  }
  return r;
}


/* The reply in h decoded on the stack: a table, or nil when it is not JSON
** (returns 0); or, when the exchange failed (rc), nil, err pushed (returns 2). */
static int decode_reply(lua_State *L, gc_http *h, CURLcode rc, const char *crid) {
  /* request_sent: a redemption that may have arrived is never re-sent */
  if (rc != CURLE_OK) return gc_http_push_error(L, h, rc, crid);
  gc_json_decode(L, h->body.data, h->body.len); /* a message on bad input: not a table */
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
  return 0;
}

/* }====================================================== */


static const char *get_lstring(lua_State *L, int t, const char *k, size_t *len) {
  const char *s = NULL;
  lua_getfield(L, t, k);
  if (lua_type(L, -1) == LUA_TSTRING) s = lua_tolstring(L, -1, len);
  lua_pop(L, 1); /* still anchored in the table */
  return s;
}


static const char *get_string(lua_State *L, int t, const char *k) {
  size_t len;
  return get_lstring(L, t, k, &len);
}


/* A number, or a numeric string (ADFS sends "3600"); def for anything else,
** NaN included. */
static double get_number(lua_State *L, int t, const char *k, double def) {
  double v = def;
  lua_getfield(L, t, k);
  if (lua_type(L, -1) != LUA_TBOOLEAN && lua_isnumber(L, -1)) v = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return (v == v) ? v : def;
}


/* Push the string at idx with every secret of o redacted. */
static void push_redacted(lua_State *L, const gc_oauth *o, int idx) {
  size_t n;
  const char *s = lua_tolstring(L, idx, &n);
  gc_buf b = {NULL, 0, 0};
  if (gc_buf_append(&b, s, n) == 0 && gc_oauth_redact(o, &b) == 0)
    lua_pushlstring(L, b.data, b.len);
  else
    lua_pushliteral(L, "<redacted>"); /* out of memory: shown as nothing rather than raw */
  gc_buf_free(&b, 1);
}


/* Push the key at k, then the value above it, each redacted if a string. */
static void push_redacted_pair(lua_State *L, const gc_oauth *o, int k) {
  int i;
  for (i = k; i <= k + 1; i++)
    if (lua_type(L, i) == LUA_TSTRING)
      push_redacted(L, o, i);
    else
      lua_pushvalue(L, i);
}


/* Push a copy of the table at idx with its string keys and values
** redacted, its tables dropped. */
static void push_redacted_flat(lua_State *L, const gc_oauth *o, int idx) {
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    if (lua_type(L, -1) != LUA_TTABLE) {
      push_redacted_pair(L, o, lua_gettop(L) - 1);
      lua_rawset(L, -5);
    }
    lua_pop(L, 1);
  }
}


/* The same with its tables copied flat (the facts' headers, the reply's
** error_codes): what is deeper is no fact of a failure. */
static void push_redacted_table(lua_State *L, const gc_oauth *o, int idx) {
  idx = lua_absindex(L, idx);
  lua_newtable(L);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    int k = lua_gettop(L) - 1;
    if (lua_type(L, k + 1) == LUA_TTABLE) {
      if (lua_type(L, k) == LUA_TSTRING)
        push_redacted(L, o, k);
      else
        lua_pushvalue(L, k);
      push_redacted_flat(L, o, k + 1);
    } else
      push_redacted_pair(L, o, k);
    lua_rawset(L, k - 1);
    lua_pop(L, 1);
  }
}


/* The reply at the top of the stack is a refusal (or unusable): replace it
** with nil and the facts graph.errors makes the error of (errors.from_core):
** the identity platform's error reply as it came (`oauth`), or the kind,
** code and message of what else it is (`invalid`, not NULL: what makes a
** 200 reply unusable); the answer's status, reason and headers; the
** client-request-id sent. Every string is redacted here, with the
** session's secrets of this moment: a device code is wiped once its
** sign-in ends, before Lua sees these facts. */
static int push_failure(lua_State *L, const gc_oauth *o, gc_http *h, const char *crid,
                        const char *invalid) {
  int reply = lua_gettop(L);
  int refusal = !invalid && lua_istable(L, reply) && get_string(L, reply, "error") != NULL;
  if (invalid)
    gc_err_facts(L, "decode", "invalid_token", invalid);
  else if (refusal)
    gc_err_facts(L, "auth", NULL, NULL);
  else if (h->status < 200 || h->status > 299) { /* a proxy's page, a redirect: not followed */
    char msg[96];
    (void)snprintf(msg, sizeof msg,
                   "token endpoint answered HTTP %ld without the identity platform's JSON error",
                   h->status);
    gc_err_facts(L, "auth", "http_error", msg);
  } else
    gc_err_facts(L, "decode", lua_istable(L, reply) ? "invalid_response" : "invalid_json",
                 lua_istable(L, reply) ? "token endpoint reply has no access_token"
                                       : "token endpoint reply is not JSON");
  gc_err_setinteger(L, "status_code", h->status);
  gc_headers_push(L, h->head.data, h->head.len, 1, NULL); /* reason, headers */
  lua_setfield(L, -3, "headers");
  if (lua_rawlen(L, -1) == 0) {
    lua_pop(L, 1);
    lua_pushstring(L, gc_http_reason(h->status));
  }
  lua_setfield(L, -2, "reason");
  gc_err_setstring(L, "client_request_id", crid);
  lua_pushboolean(L, 1); /* an answer came: the request arrived */
  lua_setfield(L, -2, "request_sent");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "response_started");
  push_redacted_table(L, o, -1);
  lua_replace(L, -2);
  if (refusal) {
    push_redacted_table(L, o, reply);
    lua_setfield(L, -2, "oauth");
  }
  lua_remove(L, reply);
  return 2;
}


/* RFC 6750 section 2.1 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
** / "+" / "/" ) *"=". Nothing else may reach the Authorization header. */
static int is_b64token(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && ((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                   (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.' || s[i] == '_' ||
                   s[i] == '~' || s[i] == '+' || s[i] == '/'))
    i++;
  if (i == 0) return 0;
  while (i < n && s[i] == '=') i++;
  return i == n && n <= GC_TOKEN_MAX;
}


/* A credential kept and sent back in a form: visible ASCII, bounded. */
static int is_printable_token(const char *s, size_t n) {
  size_t i;
  if (n == 0 || n > GC_TOKEN_MAX) return 0;
  for (i = 0; i < n; i++)
    if (s[i] <= ' ' || s[i] > '~') return 0;
  return 1;
}


static int ascii_caseeq(const char *a, const char *b) {
  for (;; a++, b++) {
    int x = (unsigned char)*a, y = (unsigned char)*b;
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return 0;
    if (x == 0) return 1;
  }
}


/* What makes the 200 reply at idx unusable, or NULL when it is a token. */
static const char *token_problem(lua_State *L, int idx) {
  size_t n = 0;
  const char *tok = get_lstring(L, idx, "access_token", &n);
  int type_ok;
  if (tok == NULL || !is_b64token(tok, n))
    return "token endpoint reply's access_token is not a bearer token (RFC 6750 b64token)";
  lua_getfield(L, idx, "token_type"); /* optional; Bearer in any case when present */
  type_ok = lua_isnil(L, -1) ||
            (lua_type(L, -1) == LUA_TSTRING && strlen(lua_tostring(L, -1)) == lua_rawlen(L, -1) &&
             ascii_caseeq(lua_tostring(L, -1), "bearer"));
  lua_pop(L, 1);
  return type_ok ? NULL : "token endpoint reply's token_type is not Bearer";
}


/* Seconds the token may be used: expires_in within [0, one day]; the default
** when it is missing or not a number. Negative: already expired, used once. */
static double token_lifetime(lua_State *L, int idx) {
  double v = get_number(L, idx, "expires_in", GC_TOKEN_LIFETIME);
  if (v < 0) return 0;
  return (v > GC_TOKEN_MAX_LIFETIME) ? GC_TOKEN_MAX_LIFETIME : v;
}


/* A rotated refresh token in the reply at idx replaces the old one at once,
** whatever else the reply holds: the old one is used up. One that is not
** printable or too long is not kept. -1: out of memory. */
static int take_refresh_token(lua_State *L, gc_oauth *o, int idx) {
  size_t n = 0;
  const char *rt = get_lstring(L, idx, "refresh_token", &n);
  char *copy;
  if (rt == NULL || o->grant == GC_GRANT_CLIENT_CREDENTIALS || !is_printable_token(rt, n)) return 0;
  if ((copy = gc_strdup(rt)) == NULL) return -1;
  gc_free_secret(&o->refresh_token);
  o->refresh_token = copy;
  return 0;
}


/* Cache the valid token of the reply at the top (popped). -1: out of memory. */
static int take_token(lua_State *L, gc_oauth *o, double started) {
  int reply = lua_gettop(L);
  double lifetime = token_lifetime(L, reply);
  double margin = (lifetime / 4 < GC_TOKEN_MARGIN) ? lifetime / 4 : GC_TOKEN_MARGIN;
  gc_oauth_drop(o);
  if ((o->auth_header = gc_concat(GC_BEARER_PREFIX, get_string(L, reply, "access_token"))) != NULL)
    o->access_token = o->auth_header + sizeof(GC_BEARER_PREFIX) - 1;
  lua_pop(L, 1);
  if (o->access_token == NULL) return -1;
  o->refresh_at = started + lifetime - margin;
  return 0;
}


/* The reply at the top to a token request (started at `started`): 0 with the
** token cached, 2 with nil, err pushed instead, -1 out of memory. */
static int settle(lua_State *L, gc_oauth *o, gc_http *h, const char *crid, double started) {
  int reply = lua_gettop(L);
  const char *problem;
  if (h->status != 200 || !lua_istable(L, reply)) return push_failure(L, o, h, crid, NULL);
  if (take_refresh_token(L, o, reply) != 0) return -1;
  lua_getfield(L, reply, "access_token");
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    return push_failure(L, o, h, crid, NULL);
  }
  lua_pop(L, 1);
  problem = token_problem(L, reply);
  return problem ? push_failure(L, o, h, crid, problem) : take_token(L, o, started);
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


/* Field k of the reply at idx, as safe to print, into the table at the top. */
static int set_display(lua_State *L, const gc_oauth *o, int idx, const char *k) {
  size_t n = 0;
  const char *s = get_lstring(L, idx, k, &n);
  gc_buf b = {NULL, 0, 0};
  if (s == NULL) return 0;
  if (gc_display_text(&b, s, n) != 0 || gc_oauth_redact(o, &b) != 0) {
    gc_buf_free(&b, 0);
    return -1;
  }
  lua_pushlstring(L, b.data, b.len);
  lua_setfield(L, -2, k);
  gc_buf_free(&b, 0);
  return 0;
}


/* The prompt's facts (info table at the top) from the devicecode reply at
** reply: the server's texts made safe to print, without the device code. */
static int push_info(lua_State *L, const gc_oauth *o, int reply, double interval,
                     double expires_in) {
  lua_createtable(L, 0, 5);
  if (set_display(L, o, reply, "user_code") != 0 ||
      set_display(L, o, reply, "verification_uri") != 0 || set_display(L, o, reply, "message") != 0)
    return -1;
  push_seconds(L, expires_in);
  lua_setfield(L, -2, "expires_in");
  push_seconds(L, interval);
  lua_setfield(L, -2, "interval");
  return 0;
}


/* The devicecode reply at the top: pushes the prompt's info (1), or nil,
** err (2); the device code kept in o. */
static int take_device_code(lua_State *L, gc_oauth *o, gc_http *h, const char *crid) {
  int reply = lua_gettop(L);
  const char *code;
  double interval, expires_in;
  size_t n = 0;
  if (h->status != 200 || !lua_istable(L, reply) || get_string(L, reply, "device_code") == NULL)
    return push_failure(L, o, h, crid, NULL);
  code = get_lstring(L, reply, "device_code", &n);
  if (!is_printable_token(code, n))
    return push_failure(L, o, h, crid, "devicecode reply's device_code is not a printable token");
  /* the server's pace, within [1 s, 60 s]; its code's life, at most a day */
  interval = get_number(L, reply, "interval", GC_DEVICE_INTERVAL);
  interval = (interval < GC_DEVICE_MIN)   ? GC_DEVICE_MIN
             : (interval > GC_DEVICE_MAX) ? GC_DEVICE_MAX
                                          : interval;
  expires_in = get_number(L, reply, "expires_in", 900);
  expires_in = (expires_in < 0) ? 0 : (expires_in > 86400) ? 86400 : expires_in;
  /* held by o until the sign-in ends: redacted, wiped, never in Lua */
  if ((o->device_code = gc_strdup(code)) == NULL ||
      push_info(L, o, reply, interval, expires_in) != 0) {
    gc_free_secret(&o->device_code);
    return luaL_error(L, "graph.core: out of memory");
  }
  lua_remove(L, reply);
  return 1;
}


/* A poll that was not answered (throttled, the server failing) leaves the
** sign-in open: the caller may poll again after waiting, or cancel it. */
static int poll_may_repeat(long status) {
  return status == 429 || (status >= 500 && status <= 504);
}


/* The token reply to a device code poll at the top: "pending" or
** "slow_down" (1), true with the token cached (1), or nil, err (2). */
static int take_poll(lua_State *L, gc_oauth *o, gc_http *h, const char *crid, double started) {
  const char *e = lua_istable(L, -1) ? get_string(L, lua_gettop(L), "error") : NULL;
  int r;
  if (e != NULL && (strcmp(e, "authorization_pending") == 0 || strcmp(e, "slow_down") == 0)) {
    const char *step = (e[0] == 'a') ? "pending" : "slow_down"; /* before e is let go */
    lua_pop(L, 1);
    lua_pushstring(L, step);
    return 1;
  }
  r = settle(L, o, h, crid, started); /* a token; declined, expired, or anything else */
  if (r != 2 || !poll_may_repeat(h->status)) gc_free_secret(&o->device_code); /* over */
  if (r < 0) return luaL_error(L, "graph.core: out of memory");
  if (r == 2) return 2;
  lua_pushboolean(L, 1);
  return 1;
}

/* }====================================================== */


int gc_oauth_request(lua_State *L, gc_oauth *o, gc_auth_step step, gc_buf *url, gc_buf *form) {
  int r = 0;
  switch (step) {
    case GC_AUTH_TOKEN:
      if (o->grant == GC_GRANT_DEVICE_CODE) /* a person signs in: the Lua layer drives the steps */
        return gc_err_facts(L, "auth", "sign_in_required",
                            "the device code grant signs in through the device steps, "
                            "driven by graph.client");
      r = gc_buf_puts(url, o->token_url);
      if (r == 0 && build_form(L, o, form) != 0)
        return luaL_error(L, "graph.core: cannot build the token request (out of memory "
                             "or a signing failure)");
      break;
    case GC_AUTH_DEVICE_START:
      gc_free_secret(&o->device_code); /* a sign-in given up on ends here */
      r = device_url(o, url);
      if (r == 0) r = add_param(form, "client_id", o->client_id);
      if (r == 0) r = add_param(form, "scope", o->scope);
      break;
    case GC_AUTH_DEVICE_POLL:
      if (o->device_code == NULL)
        return luaL_error(L, "graph.core: no device code sign-in in progress (start it first)");
      r = gc_buf_puts(url, o->token_url);
      if (r == 0) r = add_param(form, "grant_type", GC_DEVICE_GRANT);
      if (r == 0) r = add_param(form, "client_id", o->client_id);
      if (r == 0) r = add_param(form, "device_code", o->device_code);
      break;
  }
  if (r != 0) return luaL_error(L, "graph.core: out of memory");
  o->token_requests++;
  return 0;
}


int gc_oauth_reply(lua_State *L, gc_oauth *o, gc_auth_step step, gc_http *h, CURLcode rc,
                   const char *crid, double started) {
  int r = decode_reply(L, h, rc, crid);
  if (r != 0) return r; /* a transport failure: a device sign-in stays open, as for a 503 */
  switch (step) {
    case GC_AUTH_DEVICE_START: return take_device_code(L, o, h, crid);
    case GC_AUTH_DEVICE_POLL: return take_poll(L, o, h, crid, started);
    default:
      r = settle(L, o, h, crid, started);
      if (r < 0) return luaL_error(L, "graph.core: out of memory");
      if (r == 2) return 2;
      lua_pushboolean(L, 1);
      return 1;
  }
}
