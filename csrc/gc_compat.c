/*
** gc_compat.c: the few functions gc_compat.h cannot express as macros.
*/
#include "gc_compat.h"
#include "gc_visibility.h" /* last: see there */

#if LUA_VERSION_NUM < 502
void gc_compat_rawsetp(lua_State *L, int idx, const void *p) {
  idx = lua_absindex(L, idx);
  lua_pushlightuserdata(L, (void *)(size_t)p); /* a key: never written through */
  lua_insert(L, -2);
  lua_rawset(L, idx);
}
#endif

#if LUA_VERSION_NUM < 502 && !defined(luaL_newlibtable)
/* luaL_setfuncs from Lua 5.2: register l into the table below nup upvalues. */
void gc_compat_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup, "too many upvalues");
  for (; l->name != NULL; l++) {
    if (l->func == NULL) { /* a placeholder, as in 5.4 */
      lua_pushboolean(L, 0);
    } else {
      int i;
      for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
      lua_pushcclosure(L, l->func, nup);
    }
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}
#endif

typedef int gc_compat_unused; /* ISO C wants something in every file */
