/*
** gc_err.c: the facts of a failure, the error metatable with its one-line
** __tostring, and the CURLcode map.
*/
#include <stdio.h>
#include <string.h>

#include "gc_err.h"
#include "gc_visibility.h" /* last: see there */


/* libcurl result -> stable code. Codes users compare literally, like
** LuaSocket's "timeout"; anything unlisted becomes "transport". */
#define GC_CURL_CODES(X)                           \
  X(CURLE_OPERATION_TIMEDOUT, "timeout")           \
  X(CURLE_COULDNT_CONNECT, "couldnt_connect")      \
  X(CURLE_COULDNT_RESOLVE_HOST, "couldnt_resolve") \
  X(CURLE_COULDNT_RESOLVE_PROXY, "proxy")          \
  X(CURLE_PEER_FAILED_VERIFICATION, "ssl_verify")  \
  X(CURLE_SSL_CACERT_BADFILE, "ssl_verify")        \
  X(CURLE_SSL_CONNECT_ERROR, "ssl")                \
  X(CURLE_SSL_CERTPROBLEM, "ssl")                  \
  X(CURLE_SEND_ERROR, "send")                      \
  X(CURLE_RECV_ERROR, "recv")                      \
  X(CURLE_GOT_NOTHING, "recv")                     \
  X(CURLE_PARTIAL_FILE, "recv")                    \
  X(CURLE_HTTP2, "recv")                           \
  X(CURLE_HTTP2_STREAM, "recv")                    \
  X(CURLE_WEIRD_SERVER_REPLY, "bad_response")      \
  X(CURLE_BAD_CONTENT_ENCODING, "bad_encoding")    \
  X(CURLE_FILESIZE_EXCEEDED, "too_large")          \
  X(CURLE_URL_MALFORMAT, "bad_url")                \
  X(CURLE_UNSUPPORTED_PROTOCOL, "bad_url")

const char *gc_err_curlcode(CURLcode rc) {
  switch (rc) {
#define GC_CASE(c, name) \
  case c: return name;
    GC_CURL_CODES(GC_CASE)
#undef GC_CASE
    default: return "transport";
  }
}


void gc_err_setstring(lua_State *L, const char *field, const char *value) {
  if (value == NULL) return;
  lua_pushstring(L, value);
  lua_setfield(L, -2, field);
}


void gc_err_setinteger(lua_State *L, const char *field, lua_Integer value) {
  lua_pushinteger(L, value);
  lua_setfield(L, -2, field);
}


int gc_err_facts(lua_State *L, const char *kind, const char *code, const char *message) {
  lua_pushnil(L);
  lua_createtable(L, 0, 8);
  gc_err_setstring(L, "kind", kind);
  gc_err_setstring(L, "code", code);
  gc_err_setstring(L, "message", message);
  return 2;
}


/* Append s to b with CR, LF and other control bytes folded into one space,
** so the error stays on one line whatever the server sent. */
static void add_oneline(luaL_Buffer *b, const char *s, size_t n) {
  size_t i;
  int space = 0;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) {
      if (!space) luaL_addchar(b, ' ');
      space = 1;
    } else {
      luaL_addchar(b, (char)c);
      space = (c == ' ');
    }
  }
}


static const char *field(lua_State *L, int t, const char *k, size_t *len) {
  const char *s;
  lua_getfield(L, t, k);
  s = (lua_type(L, -1) == LUA_TSTRING) ? lua_tolstring(L, -1, len) : NULL;
  lua_pop(L, 1); /* still anchored in the table */
  return s;
}


/* "graph: 404 Request_ResourceNotFound: Resource 'x' does not exist (request-id 9b...)" */
int gc_err_tostring(lua_State *L) {
  luaL_Buffer b;
  size_t n;
  const char *s;
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_buffinit(L, &b);
  s = field(L, 1, "kind", &n);
  luaL_addstring(&b, s ? s : "error");
  luaL_addchar(&b, ':');
  lua_getfield(L, 1, "status_code");
  if (lua_type(L, -1) == LUA_TNUMBER) {
    char num[32];
    (void)snprintf(num, sizeof num, " %ld", (long)lua_tointeger(L, -1));
    lua_pop(L, 1);
    luaL_addstring(&b, num);
  } else
    lua_pop(L, 1);
  if ((s = field(L, 1, "code", &n)) != NULL && n > 0) {
    luaL_addchar(&b, ' ');
    add_oneline(&b, s, n);
  }
  if ((s = field(L, 1, "message", &n)) != NULL && n > 0) {
    luaL_addstring(&b, ": ");
    add_oneline(&b, s, n > 500 ? 500 : n);
    if (n > 500) luaL_addstring(&b, "...");
  }
  if ((s = field(L, 1, "request_id", &n)) != NULL) {
    luaL_addstring(&b, " (request-id ");
    add_oneline(&b, s, n > 64 ? 64 : n);
    luaL_addchar(&b, ')');
  } else if ((s = field(L, 1, "trace_id", &n)) != NULL) {
    luaL_addstring(&b, " (trace-id ");
    add_oneline(&b, s, n > 64 ? 64 : n);
    luaL_addchar(&b, ')');
  }
  luaL_pushresult(&b);
  return 1;
}


int gc_err_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  luaL_getmetatable(L, GC_ERROR_MT);
  lua_setmetatable(L, 1);
  return 1;
}


void gc_err_open(lua_State *L) {
  if (luaL_newmetatable(L, GC_ERROR_MT)) {
    lua_pushcfunction(L, gc_err_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, GC_ERROR_MT);
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
}
