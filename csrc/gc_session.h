/*
** gc_session.h: the session object (userdata "graph.core.session"): one
** libcurl handle, one token cache, the credentials to refill it.
*/
#ifndef GC_SESSION_H
#define GC_SESSION_H

#include "gc_compat.h"

#define GC_SESSION_MT "graph.core.session"

void gc_session_open(lua_State *L); /* register the metatable */
int gc_session_new(lua_State *L);   /* core.session{...} */

#endif
