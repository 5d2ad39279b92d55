/*
** gc_err.h: the facts of a failure, as C hands them to Lua, and the error
** metatable. C makes no error object: a run-time failure reaches Lua as
** nil and a plain table of facts (kind, code, message, status_code,
** headers, request_sent, ...), and graph.errors (errors.from_core) makes
** the error users see, with this metatable (core.error attaches it).
*/
#ifndef GC_ERR_H
#define GC_ERR_H

#include <curl/curl.h>
#include "gc_compat.h"

#define GC_ERROR_MT "graph.error"

void gc_err_open(lua_State *L); /* create the metatable */

/* Push nil and a new plain table of facts {kind=, code=, message=} (NULL
** fields left out); returns 2. The table is left at the top so callers can
** add facts before returning. */
int gc_err_facts(lua_State *L, const char *kind, const char *code, const char *message);

void gc_err_setstring(lua_State *L, const char *field, const char *value);
void gc_err_setinteger(lua_State *L, const char *field, lua_Integer value);

/* Stable short code for a libcurl failure: "timeout", "couldnt_connect", ... */
const char *gc_err_curlcode(CURLcode rc);

int gc_err_tostring(lua_State *L);
int gc_err_new(lua_State *L); /* core.error(t): for graph.errors only */

#endif
