/*
** gc_json.h: JSON text <-> Lua values, on yajl (RFC 8259). Every decoded
** array carries one shared marker metatable (the "array" metatable), so an
** empty array and an empty object stay apart through a round trip.
*/
#ifndef GC_JSON_H
#define GC_JSON_H

#include <stddef.h>

#include "gc_compat.h"

/* Nesting allowed both ways: below yajl_gen's own fixed limit (127), so any
** value decoded can be encoded again; Graph's documents nest a few levels. */
#define GC_JSON_MAX_DEPTH 100

void gc_json_open(lua_State *L); /* the array metatable and the codecs' own */
void gc_json_push_array_mt(lua_State *L);

/* Decode s: pushes the value and returns 0, or pushes a message and returns
** -1. Never raises on bad input (only on out of memory, as Lua does). */
int gc_json_decode(lua_State *L, const char *s, size_t n);

/* Encode the value at idx: pushes the text and returns 0, or pushes a
** message naming the problem and where it is, and returns -1. */
int gc_json_encode(lua_State *L, int idx);

int gc_json_l_decode(lua_State *L); /* core.json_decode(s) -> value | nil, msg */
int gc_json_l_encode(lua_State *L); /* core.json_encode(v) -> text | nil, msg */

#endif
