/* libFuzzer target: a response head straight from the network, through the
** same code that builds the Lua headers table. */
#include <stddef.h>
#include <stdint.h>

#include "lauxlib.h"
#include "lualib.h"

#include "../csrc/gc_headers.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  const char *name, *value;
  size_t nlen, vlen;
  if (L == NULL) L = luaL_newstate();
  gc_header_split((const char *)data, size, &name, &nlen, &value, &vlen);
  gc_header_reason((const char *)data, size, &value, &vlen);
  lua_settop(L, 0);
  gc_headers_push(L, (const char *)data, size, 1);
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
