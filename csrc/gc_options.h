/*
** gc_options.h: the options core.session{...} takes, described once in one
** table (gc_options.c): name, type, range, default and where the value
** goes. The session reads them through it, refusing unknown keys, and
** core.options hands it to Lua, which checks graph.client's options against
** the same ranges.
*/
#ifndef GC_OPTIONS_H
#define GC_OPTIONS_H

#include "gc_compat.h"
#include "gc_http.h"
#include "gc_oauth.h"

/* Check every field of the options table at idx and store it (or its
** default) into cfg and o. Raises "graph.core.session: ..." on an unknown
** key, a wrong type or a value out of range. Strings are copied: cfg and o
** own them (freed with gc_http_config_free and gc_oauth_free). */
void gc_options_read(lua_State *L, int idx, gc_http_config *cfg, gc_oauth *o);

/* core.options: { name = { type =, default =, min =, max =, integer =,
** values = {...}, expect = "a number from 1 to 86400" }, ... } */
void gc_options_push(lua_State *L);

#endif
