/*
** lua_host.c: a minimal stand-alone Lua interpreter, `lua_host [-i] script [args]`
** (-i: then a read-eval-print loop on stdin, as lua.c's, for the REPL spec).
** Built with the sanitizers so the whole suite (busted included) runs in an
** instrumented process without LD_PRELOAD leaking into the processes the
** specs start.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

static int traceback(lua_State *L) {
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

/* Each line is tried as an expression first ("=expr" too), then as a statement. */
static const char *repl = "io.write('> ') io.flush()\n"
                          "for line in io.lines() do\n"
                          "  line = line:gsub('^=', 'return ')\n"
                          "  local f, err = load('return ' .. line, '=stdin')\n"
                          "  if not f then f, err = load(line, '=stdin') end\n"
                          "  local r = table.pack(f ~= nil, err)\n"
                          "  if f then r = table.pack(pcall(f)) end\n"
                          "  if not r[1] then print(r[2])\n"
                          "  elseif r.n > 1 then print(table.unpack(r, 2, r.n)) end\n"
                          "  io.write('> ') io.flush()\n"
                          "end\n";

int main(int argc, char **argv) {
  lua_State *L;
  int i, status, first = 1, interactive = argc > 1 && strcmp(argv[1], "-i") == 0;
  if (interactive) first = 2;
  if (argc < first + 1) {
    fprintf(stderr, "usage: %s [-i] script [args]\n", argv[0]);
    return 2;
  }
  L = luaL_newstate();
  luaL_openlibs(L);
  lua_createtable(L, argc, 1); /* arg, as lua.c builds it */
  for (i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - first);
  }
  lua_setglobal(L, "arg");
  lua_pushcfunction(L, traceback);
  status = luaL_loadfile(L, argv[first]);
  if (status == LUA_OK) {
    luaL_checkstack(L, argc, "too many arguments"); /* as lua.c: 1,000 ids is fine */
    for (i = first + 1; i < argc; i++) lua_pushstring(L, argv[i]);
    status = lua_pcall(L, argc - first - 1, 0, 1);
  }
  if (status == LUA_OK && interactive) {
    status = luaL_loadstring(L, repl);
    if (status == LUA_OK) status = lua_pcall(L, 0, 0, 1);
  }
  if (status != LUA_OK) fprintf(stderr, "%s\n", lua_tostring(L, -1));
  lua_close(L);
  return status == LUA_OK ? 0 : 1;
}
