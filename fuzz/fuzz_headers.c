/* libFuzzer target: a response head straight from the network, through the
** same code that builds the Lua headers table; with and without the string
** cache a session keeps, which must not change the table. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lualib.h"

#include "../csrc/gc_headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every key of table a is in table b with the same value. */
static int contained(lua_State *L, int a, int b) {
  lua_pushnil(L);
  while (lua_next(L, a) != 0) {
    lua_pushvalue(L, -2);
    lua_rawget(L, b);
    if (!lua_rawequal(L, -1, -2)) return 0;
    lua_pop(L, 2);
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  static gc_hcache cache; /* kept across inputs, as a session keeps it */
  const char *name, *value;
  size_t nlen, vlen;
  if (L == NULL) L = luaL_newstate();
  gc_header_split((const char *)data, size, &name, &nlen, &value, &vlen);
  gc_header_reason((const char *)data, size, &value, &vlen);
  lua_settop(L, 0);
  gc_headers_push(L, (const char *)data, size, 1, NULL);   /* 1: reason, 2: table */
  gc_headers_push(L, (const char *)data, size, 1, &cache); /* 3: reason, 4: table */
  if (!lua_rawequal(L, 1, 3) || !contained(L, 2, 4) || !contained(L, 4, 2)) abort();
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
