/*
** gc_options.c: the options of core.session{...}, one row each, and the
** reader that checks and stores them. A range is written here only: Lua
** reads it from core.options.
*/
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "gc_options.h"
#include "gc_util.h"
#include "gc_visibility.h" /* last: see there */

/* How a value is checked and kept. */
typedef enum opt_kind {
  OPT_STRING,  /* char *, owned; no NUL, CR or LF */
  OPT_CHOICE,  /* a string among `choices`, kept as its index (int) */
  OPT_GRANT,   /* a name in gc_grants, kept as its gc_grant */
  OPT_SECONDS, /* a number, kept as double */
  OPT_MS,      /* seconds, kept as long milliseconds */
  OPT_BYTES,   /* a whole number, kept as size_t */
  OPT_BOOLEAN, /* kept as int */
  OPT_FUNCTION /* kept as a registry reference (int) */
} opt_kind;

/* Where a value goes; IN_NONE: checked only, the session reads it itself. */
typedef enum opt_place { IN_NONE, IN_HTTP, IN_OAUTH } opt_place;

typedef struct option { /* fields ordered for no padding */
  const char *name;
  double min, max;            /* numbers */
  double number;              /* the default of a number or a boolean */
  const char *string;         /* the default of a string or a choice, or NULL */
  const char *const *choices; /* OPT_CHOICE, NULL-terminated */
  size_t offset;              /* in gc_http_config or gc_oauth */
  opt_kind kind;
  opt_place place;
} option;

#define HTTP(m)  .place = IN_HTTP, .offset = offsetof(gc_http_config, m)
#define OAUTH(m) .place = IN_OAUTH, .offset = offsetof(gc_oauth, m)
#define DAY      86400.0

/* The index is gc_oauth's cert_pss: RS256 + x5t (0) or PS256 + x5t#S256 (1). */
static const char *const cert_algs[] = {"RS256", "PS256", NULL};

static const option options[] = {
    {.name = "grant", .kind = OPT_GRANT, .string = "none", OAUTH(grant)},
    {.name = "token_url", .kind = OPT_STRING, OAUTH(token_url)},
    {.name = "client_id", .kind = OPT_STRING, OAUTH(client_id)},
    {.name = "client_secret", .kind = OPT_STRING, OAUTH(client_secret)},
    {.name = "username", .kind = OPT_STRING, OAUTH(username)},
    {.name = "password", .kind = OPT_STRING, OAUTH(password)},
    {.name = "refresh_token", .kind = OPT_STRING, OAUTH(refresh_token)},
    {.name = "scope",
     .kind = OPT_STRING,
     .string = "https://graph.microsoft.com/.default",
     OAUTH(scope)},
    {.name = "certificate_file", .kind = OPT_STRING, .place = IN_NONE},
    {.name = "certificate_password", .kind = OPT_STRING, .place = IN_NONE},
    {.name = "certificate_alg",
     .kind = OPT_CHOICE,
     .string = "PS256",
     .choices = cert_algs,
     OAUTH(cert_pss)},
    {.name = "on_device_code", .kind = OPT_FUNCTION, OAUTH(device_cb)},
    {.name = "timeout", .kind = OPT_MS, .min = 0.001, .max = DAY, .number = 100, HTTP(timeout_ms)},
    {.name = "connect_timeout",
     .kind = OPT_MS,
     .min = 0.001,
     .max = DAY,
     .number = 30,
     HTTP(connect_timeout_ms)},
    /* whole seconds at least: libcurl's progress callback, which checks it,
    ** runs about once a second */
    {.name = "stall_timeout",
     .kind = OPT_SECONDS,
     .min = 1,
     .max = DAY,
     .number = 30,
     HTTP(stall_timeout)},
    {.name = "max_response_bytes",
     .kind = OPT_BYTES,
     .min = 1,
     .max = 1099511627776.0, /* 1 TiB */
     .number = 64.0 * 1024 * 1024,
     HTTP(max_response_bytes)},
    {.name = "verify_ssl", .kind = OPT_BOOLEAN, .number = 1, HTTP(verify_ssl)},
    {.name = "ca_file", .kind = OPT_STRING, HTTP(ca_file)},
    {.name = "http_proxy", .kind = OPT_STRING, HTTP(proxy)},
    {.name = "user_agent", .kind = OPT_STRING, HTTP(user_agent)}, /* default: the session's */
};
#define NOPTIONS (sizeof options / sizeof options[0])


static const option *find(const char *name, size_t len) {
  size_t i;
  for (i = 0; i < NOPTIONS; i++)
    if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
      return &options[i];
  return NULL;
}


/* The i-th value a choice may take, or NULL past the last. */
static const char *choice(const option *opt, int i) {
  if (opt->kind == OPT_GRANT) return i < GC_NGRANTS ? gc_grants[i].name : NULL;
  return opt->choices[i];
}


static int is_number(const option *opt) {
  return opt->kind == OPT_SECONDS || opt->kind == OPT_MS || opt->kind == OPT_BYTES;
}


static const char *type_name(const option *opt) {
  if (is_number(opt)) return "number";
  if (opt->kind == OPT_BOOLEAN) return "boolean";
  if (opt->kind == OPT_FUNCTION) return "function";
  return "string";
}


/* What a value of opt must be, pushed: "a string", "a number from 1 to
** 86400", "'RS256' or 'PS256'". */
static void push_expect(lua_State *L, const option *opt) {
  if (is_number(opt)) {
    char text[96];
    (void)snprintf(text, sizeof text, "%s from %.14g to %.14g",
                   opt->kind == OPT_BYTES ? "an integer" : "a number", opt->min, opt->max);
    lua_pushstring(L, text);
  } else if (opt->kind == OPT_CHOICE || opt->kind == OPT_GRANT) {
    luaL_Buffer b;
    int i;
    luaL_buffinit(L, &b);
    for (i = 0; choice(opt, i) != NULL; i++) {
      if (i > 0) luaL_addstring(&b, choice(opt, i + 1) == NULL ? " or " : ", ");
      luaL_addchar(&b, '\'');
      luaL_addstring(&b, choice(opt, i));
      luaL_addchar(&b, '\'');
    }
    luaL_pushresult(&b);
  } else {
    lua_pushfstring(L, "a %s", type_name(opt));
  }
}


static void push_default(lua_State *L, const option *opt) {
  if (is_number(opt))
    lua_pushnumber(L, opt->number);
  else if (opt->kind == OPT_BOOLEAN)
    lua_pushboolean(L, opt->number != 0);
  else if (opt->kind == OPT_FUNCTION)
    lua_pushnil(L);
  else
    lua_pushstring(L, opt->string); /* nil when there is none */
}


static int bad(lua_State *L, const option *opt, const char *got) {
  push_expect(L, opt);
  if (got != NULL)
    return luaL_error(L, "graph.core.session: field '%s' must be %s, got %s", opt->name,
                      lua_tostring(L, -1), got);
  return luaL_error(L, "graph.core.session: field '%s' must be %s", opt->name, lua_tostring(L, -1));
}


/* Check the value at the top for opt: raise, or return its index when opt
** is a choice (0 otherwise). */
static int check(lua_State *L, const option *opt) {
  int t = lua_type(L, -1);
  if (is_number(opt)) {
    double v = lua_tonumber(L, -1);
    if (t != LUA_TNUMBER) return bad(L, opt, lua_typename(L, t));
    /* "not within" also refuses NaN */
    if (!(v >= opt->min && v <= opt->max) || (opt->kind == OPT_BYTES && (double)(size_t)v != v))
      return bad(L, opt, NULL);
  } else if (opt->kind == OPT_BOOLEAN || opt->kind == OPT_FUNCTION) {
    if (t != (opt->kind == OPT_BOOLEAN ? LUA_TBOOLEAN : LUA_TFUNCTION))
      return bad(L, opt, lua_typename(L, t));
  } else {
    size_t n;
    const char *s;
    int i;
    if (t != LUA_TSTRING) return bad(L, opt, lua_typename(L, t));
    s = lua_tolstring(L, -1, &n);
    if (strlen(s) != n || strpbrk(s, "\r\n") != NULL)
      return luaL_error(L, "graph.core.session: field '%s' contains CR, LF or NUL", opt->name);
    if (opt->kind == OPT_STRING) return 0;
    for (i = 0; choice(opt, i) != NULL; i++)
      if (strcmp(choice(opt, i), s) == 0) return i;
    return bad(L, opt, NULL); /* the value is not echoed: it may be anything */
  }
  return 0;
}


/* Store the checked value at the top (popped) at p. */
static void keep(lua_State *L, const option *opt, void *p, int index) {
  switch (opt->kind) {
    case OPT_STRING:
      if ((*(char **)p = gc_strdup(lua_tostring(L, -1))) == NULL)
        luaL_error(L, "graph.core.session: out of memory");
      break;
    case OPT_CHOICE: *(int *)p = index; break;
    case OPT_GRANT: *(gc_grant *)p = (gc_grant)index; break;
    case OPT_SECONDS: *(double *)p = lua_tonumber(L, -1); break;
    case OPT_MS: *(long *)p = (long)(lua_tonumber(L, -1) * 1000); break;
    case OPT_BYTES: *(size_t *)p = (size_t)lua_tonumber(L, -1); break;
    case OPT_BOOLEAN: *(int *)p = lua_toboolean(L, -1); break;
    case OPT_FUNCTION: *(int *)p = luaL_ref(L, LUA_REGISTRYINDEX); return; /* popped */
  }
  lua_pop(L, 1);
}


/* Raise for the unknown key at the top. */
static int unknown(lua_State *L) {
  int t = lua_type(L, -1);
  if (t == LUA_TSTRING || t == LUA_TNUMBER) {
    size_t n;
    const char *key;
    lua_pushvalue(L, -1); /* a copy: tostring converts a number in place */
    key = lua_tolstring(L, -1, &n);
    return luaL_error(L, "graph.core.session: unknown option '%s'%s", key,
                      strlen(key) != n ? " (cut at a NUL byte)" : "");
  }
  return luaL_error(L, "graph.core.session: unknown option (a %s key)", lua_typename(L, t));
}


void gc_options_read(lua_State *L, int idx, gc_http_config *cfg, gc_oauth *o) {
  size_t i;
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) { /* a misspelt option is a bug: refused */
    size_t n = 0;
    const char *key;
    lua_pop(L, 1);
    key = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &n) : NULL;
    if (key == NULL || find(key, n) == NULL) unknown(L);
  }
  for (i = 0; i < NOPTIONS; i++) {
    const option *opt = &options[i];
    int index;
    lua_getfield(L, idx, opt->name);
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      push_default(L, opt);
    }
    if (lua_isnil(L, -1)) {
      lua_pop(L, 1);
      continue;
    }
    index = check(L, opt);
    if (opt->place == IN_NONE)
      lua_pop(L, 1);
    else
      keep(L, opt, (char *)(opt->place == IN_HTTP ? (void *)cfg : (void *)o) + opt->offset, index);
  }
}


void gc_options_push(lua_State *L) {
  size_t i;
  lua_createtable(L, 0, (int)NOPTIONS);
  for (i = 0; i < NOPTIONS; i++) {
    const option *opt = &options[i];
    lua_createtable(L, 0, 6);
    lua_pushstring(L, type_name(opt));
    lua_setfield(L, -2, "type");
    push_default(L, opt);
    lua_setfield(L, -2, "default");
    push_expect(L, opt);
    lua_setfield(L, -2, "expect");
    if (is_number(opt)) {
      lua_pushnumber(L, opt->min);
      lua_setfield(L, -2, "min");
      lua_pushnumber(L, opt->max);
      lua_setfield(L, -2, "max");
      lua_pushboolean(L, opt->kind == OPT_BYTES);
      lua_setfield(L, -2, "integer");
    }
    if (opt->kind == OPT_CHOICE || opt->kind == OPT_GRANT) {
      int n;
      lua_newtable(L);
      for (n = 0; choice(opt, n) != NULL; n++) {
        lua_pushstring(L, choice(opt, n));
        lua_rawseti(L, -2, n + 1);
      }
      lua_setfield(L, -2, "values");
    }
    lua_setfield(L, -2, opt->name);
  }
}
