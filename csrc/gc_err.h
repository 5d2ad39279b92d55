/*
** gc_err.h: the one place errors are built. Every run-time failure reaches
** Lua as `nil, err` where err is a table with the "graph.error" metatable.
*/
#ifndef GC_ERR_H
#define GC_ERR_H

#include <curl/curl.h>
#include "gc_compat.h"

#define GC_ERROR_MT "graph.error"

void gc_err_open(lua_State *L);           /* create the metatable */
void gc_err_setmt(lua_State *L, int idx); /* give a table the metatable */

/* Push nil and a new error table {kind=, code=, message=}; returns 2.
** The table is left at the top so callers can add fields before returning. */
int gc_err_push(lua_State *L, const char *kind, const char *code, const char *message);

void gc_err_setstring(lua_State *L, const char *field, const char *value);
void gc_err_setinteger(lua_State *L, const char *field, lua_Integer value);

/* Stable short code for a libcurl failure: "timeout", "couldnt_connect", ... */
const char *gc_err_curlcode(CURLcode rc);

int gc_err_tostring(lua_State *L);
int gc_err_new(lua_State *L); /* core.error(t) */

#endif
