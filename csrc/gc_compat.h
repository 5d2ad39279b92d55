/*
** gc_compat.h: the Lua C API differences lua-msgraph papers over, so the
** rest of csrc/ is written against Lua 5.4 and builds on 5.1, 5.2, 5.3 and
** LuaJIT 2.1 too. Only what csrc/ actually uses is here.
*/
#ifndef GC_COMPAT_H
#define GC_COMPAT_H

#include "lua.h"
#include "lauxlib.h"

#if LUA_VERSION_NUM < 504
#define lua_newuserdatauv(L, sz, nuv) lua_newuserdata(L, sz)
#endif

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i)   lua_objlen(L, i)
#define lua_absindex(L, i) (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)
#ifndef LUA_OK
#define LUA_OK 0
#endif
/* t[p] = the value at the top (popped), t at idx; neither 5.1 nor LuaJIT has it */
#define lua_rawsetp(L, idx, p) gc_compat_rawsetp(L, idx, p)
void gc_compat_rawsetp(lua_State *L, int idx, const void *p);
/* LuaJIT 2.1 already has these three from the 5.2 API; PUC Lua 5.1 does not. */
#if !defined(luaL_newlibtable) /* LuaJIT 2.1 defines it with the rest */
#define luaL_setfuncs(L, l, nup)   gc_compat_setfuncs(L, l, nup)
#define luaL_setmetatable(L, name) (luaL_getmetatable(L, name), lua_setmetatable(L, -2))
#define luaL_newlib(L, l)          (lua_newtable(L), luaL_setfuncs(L, l, 0))
void gc_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup);
#endif
#endif

#endif
