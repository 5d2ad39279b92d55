/* libFuzzer target: any bytes through the JSON decoder; what decodes must
** encode, and the encoding must decode to an equal value (arrays marked as
** arrays, objects not) whose encoding has the same length (an object's key
** order follows the table, so the bytes may differ). Then the same bytes
** again with Lua's allocator failing part way (a decode that raises): the
** decode after it must give the same outcome, since the state keeps one
** decoder between decodes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lualib.h"

#include "../csrc/gc_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static long budget = -1; /* growing allocations left before they fail; -1: no limit */

static void *limited_alloc(void *ud, void *p, size_t osize, size_t nsize) {
  (void)ud;
  if (nsize == 0) {
    free(p);
    return NULL;
  }
  if (budget >= 0 && (p == NULL || nsize > osize)) {
    if (budget == 0) return NULL;
    budget--;
  }
  return realloc(p, nsize);
}

static int decode(lua_State *L) {
  size_t n;
  const char *s = lua_tolstring(L, 1, &n);
  gc_json_decode(L, s, n);
  return 1;
}

/* The values at a and b are equal: numbers by value, tables by content and
** by their metatable (the array marker or none). */
static int same(lua_State *L, int a, int b) {
  int n = 0;
  if (lua_type(L, a) != lua_type(L, b)) return 0;
  if (lua_type(L, a) != LUA_TTABLE) return lua_rawequal(L, a, b);
  {
    int top = lua_gettop(L), ma = lua_getmetatable(L, a), mb = lua_getmetatable(L, b);
    int eq = ma == mb && (!ma || lua_rawequal(L, -1, -2));
    lua_settop(L, top);
    if (!eq) return 0;
  }
  lua_pushnil(L);
  while (lua_next(L, a) != 0) {
    int eq;
    lua_pushvalue(L, -2);
    lua_rawget(L, b);
    eq = same(L, lua_gettop(L) - 1, lua_gettop(L));
    lua_pop(L, 2);
    if (!eq) return 0;
    n++;
  }
  lua_pushnil(L);
  while (lua_next(L, b) != 0) {
    lua_pop(L, 1);
    n--;
  }
  return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static lua_State *L;
  size_t n1, n2;
  const char *first;
  if (L == NULL) {
    L = lua_newstate(limited_alloc, NULL);
    gc_json_open(L);
  }
  lua_settop(L, 0);
  if (gc_json_decode(L, (const char *)data, size) != 0) { /* 1: a message */
    if (lua_type(L, 1) != LUA_TSTRING || strncmp(lua_tostring(L, 1), "invalid JSON: ", 14) != 0)
      abort();
  } else {                                  /* 1: the value */
    if (gc_json_encode(L, 1) != 0) abort(); /* 2: its text */
    first = lua_tolstring(L, 2, &n1);
    if (gc_json_decode(L, first, n1) != 0) abort(); /* 3: the value again */
    if (gc_json_encode(L, 3) != 0) abort();         /* 4: its text */
    lua_tolstring(L, 4, &n2);
    if (n1 != n2 || !same(L, 1, 3)) abort();
  }
  lua_settop(L, 1);
  lua_pushcfunction(L, decode);
  lua_pushlstring(L, (const char *)data, size);
  budget = (long)(size % 61); /* the allocation it fails at */
  (void)lua_pcall(L, 1, 1, 0);
  budget = -1;
  lua_settop(L, 1);
  if (gc_json_decode(L, (const char *)data, size) != 0) { /* 2: the same outcome */
    if (lua_type(L, 1) != LUA_TSTRING || !lua_rawequal(L, 1, 2)) abort();
  } else if (!same(L, 1, 2)) {
    abort();
  }
  lua_settop(L, 0);
  lua_gc(L, LUA_GCCOLLECT, 0);
  return 0;
}
