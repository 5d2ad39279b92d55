/*
** gc_visibility.h: every definition after this include is private to
** graph/core.so; only luaopen_graph_core, marked GC_API in graph_core.c, is
** exported. The Makefile also builds with -fvisibility=hidden, but luarocks'
** builtin build passes no such flag, so the pragma is what hides them there.
**
** Include it last, after every other header: the pragma hides declarations
** too, and a libc, libcurl or Lua function declared hidden cannot be linked
** from its shared library (ld stops with "undefined hidden symbol").
*/
#ifndef GC_VISIBILITY_H
#define GC_VISIBILITY_H

#if defined(__GNUC__) && !defined(_WIN32)
#pragma GCC visibility push(hidden)
#endif

#endif
