/*
** threads_host.c: a C host embedding Lua 5.4 that runs one lua_State per
** thread, concurrently, each with its own lua-msgraph client. Built with
** ThreadSanitizer by `make test-threads`: libcurl's global initialisation
** must happen once and safely, and clients must share nothing.
**
** usage: threads_host SCRIPT N_THREADS  (the script gets the thread number
** as ...; it raises to fail)
*/
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "lauxlib.h"
#include "lua.h"
#include "lualib.h"

#ifndef LUA_OK
#define LUA_OK 0 /* Lua 5.1 */
#endif

typedef struct job {
  const char *script;
  int number;
  int ok;
} job;

static void *run(void *ud) {
  job *j = (job *)ud;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_loadfile(L, j->script) == LUA_OK) {
    lua_pushinteger(L, j->number);
    j->ok = lua_pcall(L, 1, 0, 0) == LUA_OK;
  }
  if (!j->ok) fprintf(stderr, "thread %d: %s\n", j->number, lua_tostring(L, -1));
  lua_close(L);
  return NULL;
}

int main(int argc, char **argv) {
  pthread_t threads[16];
  job jobs[16];
  int n, i, failed = 0;
  if (argc != 3 || (n = atoi(argv[2])) < 1 || n > 16) {
    fprintf(stderr, "usage: %s SCRIPT N_THREADS (1..16)\n", argv[0]);
    return 2;
  }
  for (i = 0; i < n; i++) {
    jobs[i].script = argv[1];
    jobs[i].number = i + 1;
    jobs[i].ok = 0;
    if (pthread_create(&threads[i], NULL, run, &jobs[i]) != 0) return 1;
  }
  for (i = 0; i < n; i++) {
    pthread_join(threads[i], NULL);
    failed += !jobs[i].ok;
  }
  printf("%d threads, %d failed\n", n, failed);
  return failed ? 1 : 0;
}
