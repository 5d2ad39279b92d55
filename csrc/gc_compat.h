/*
** gc_compat.h: the few Lua C API differences lua-msgraph papers over.
** Kept in one place so the rest of csrc/ is written against Lua 5.4.
*/
#ifndef GC_COMPAT_H
#define GC_COMPAT_H

#include "lua.h"
#include "lauxlib.h"

#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata(L, sz)
#endif

#if LUA_VERSION_NUM < 502
#define luaL_setfuncs(L, l, nup) gc_compat_setfuncs(L, l, nup)
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs(L, l, 0))
#define luaL_setmetatable(L, name) \
  (luaL_getmetatable(L, name), lua_setmetatable(L, -2))
#define luaL_testudata(L, i, name) gc_compat_testudata(L, i, name)
#define lua_rawlen(L, i) lua_objlen(L, i)
void gc_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
void *gc_compat_testudata(lua_State *L, int i, const char *name);
#endif

#if LUA_VERSION_NUM < 503
#define lua_isinteger(L, i) 0
#endif

#endif
