/*
** forklib.c: fork(), wait() and _exit() for fork_spec.lua, which builds this
** as a Lua module at run time (Debian's lua-posix has no Lua 5.4 build).
*/
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lauxlib.h"
#include "lua.h"

/* fork() -> 0 in the child, the child's pid in the parent; raises on failure */
static int l_fork(lua_State *L) {
  pid_t pid = fork();
  if (pid < 0) return luaL_error(L, "fork failed");
  lua_pushinteger(L, (lua_Integer)pid);
  return 1;
}

/* wait(pid) -> the child's exit status, or -signal when a signal ended it */
static int l_wait(lua_State *L) {
  pid_t pid = (pid_t)luaL_checkinteger(L, 1);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return luaL_error(L, "waitpid failed");
  lua_pushinteger(L, WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status));
  return 1;
}

/* _exit(status): no atexit handlers, no stdio flush, no Lua state closing */
static int l_exit(lua_State *L) {
  _exit((int)luaL_optinteger(L, 1, 0));
  return 0;
}

int luaopen_forklib(lua_State *L);

int luaopen_forklib(lua_State *L) {
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, l_fork);
  lua_setfield(L, -2, "fork");
  lua_pushcfunction(L, l_wait);
  lua_setfield(L, -2, "wait");
  lua_pushcfunction(L, l_exit);
  lua_setfield(L, -2, "_exit");
  return 1;
}
