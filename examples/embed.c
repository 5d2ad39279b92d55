/*
** embed.c: a C program that embeds Lua 5.4 and lua-msgraph, the way a host
** application (a SOAR agent, a proxy, a game server) would: it owns the
** lua_State, hands a user id to a Lua function and reads the answer back.
**
**   cc -o embed examples/embed.c $(pkg-config --cflags --libs lua5.4)
**   eval "$(make -s env)"; ./embed UPN
**
** Credentials come from the environment (AZURE_TENANT_ID, ...), as for the
** other examples.
*/
#include <stdio.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#ifndef LUA_OK
#define LUA_OK 0 /* Lua 5.1 */
#endif

/* The Lua side: a function of the host's, returning three strings or nil, err. */
static const char *script =
    "local graph = require 'graph'\n"
    "return function(id)\n"
    "  local user, err = graph.users.get{ id = id, select = 'id,displayName' }\n"
    "  if not user then return nil, tostring(err) end\n"
    "  local p = graph.presence.get{ id = user.id }\n"
    "  return user.displayName, p and p.availability or 'unknown', p and p.activity or ''\n"
    "end\n";

int main(int argc, char **argv) {
  lua_State *L;
  int status = 1;
  if (argc != 2) {
    fprintf(stderr, "usage: %s USER_ID_OR_UPN\n", argv[0]);
    return 2;
  }
  L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_loadstring(L, script) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
    fprintf(stderr, "cannot load lua-msgraph: %s\n", lua_tostring(L, -1));
  } else {
    lua_pushstring(L, argv[1]);            /* the function is on the stack */
    if (lua_pcall(L, 1, 3, 0) != LUA_OK) { /* a programming error: raised */
      fprintf(stderr, "error: %s\n", lua_tostring(L, -1));
    } else if (lua_isnil(L, -3)) { /* a run-time failure: nil, "graph: 404 ..." */
      fprintf(stderr, "%s\n", lua_tostring(L, -2));
    } else {
      printf("%s is %s (%s)\n", lua_tostring(L, -3), lua_tostring(L, -2), lua_tostring(L, -1));
      status = 0;
    }
  }
  lua_close(L); /* closes the client: secrets wiped */
  return status;
}
