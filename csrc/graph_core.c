/*
** graph_core.c: luaopen_graph_core, the entry point of the C core of
** lua-msgraph. Mechanism only (transport, grants, token cache, encoders);
** policy lives in lua/graph/.
*/
#define _POSIX_C_SOURCE 200809L

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gc_err.h"
#include "gc_json.h"
#include "gc_oauth.h"
#include "gc_options.h"
#include "gc_session.h"
#include "gc_util.h"
#include "gc_visibility.h" /* last: see there */

#ifndef GC_VERSION
#define GC_VERSION "0.1.0"
#endif

#if defined(__GNUC__)
#define GC_API __attribute__((visibility("default")))
#else
#define GC_API
#endif


/* core.escape(s [, keep]): percent-encode all but RFC 3986 unreserved
** characters and those listed in keep. */
static int core_escape(lua_State *L) {
  size_t n, len;
  const char *s = luaL_checklstring(L, 1, &n);
  const char *keep = luaL_optstring(L, 2, NULL);
  char small[256];
  char *out;
  luaL_argcheck(L, n <= ((size_t)-1) / 3, 1, "string too long");
  len = gc_escaped_len(s, n, keep);
  if (len == n) { /* nothing to encode: the string itself */
    lua_settop(L, 1);
    return 1;
  }
  out = len <= sizeof small ? small : (char *)lua_newuserdata(L, len);
  gc_escape_to(out, s, n, keep);
  lua_pushlstring(L, out, len);
  return 1;
}


static int core_guid(lua_State *L) {
  char g[37];
  gc_guid(g);
  lua_pushstring(L, g);
  return 1;
}


static int core_now(lua_State *L) {
  lua_pushnumber(L, gc_monotonic());
  return 1;
}


static int core_time(lua_State *L) {
  lua_pushnumber(L, gc_walltime());
  return 1;
}


static int core_sleep(lua_State *L) {
  gc_sleep(luaL_checknumber(L, 1));
  return 0;
}


/* core.poll(fds, seconds) -> ready: the default waiter of a run (s:wants()
** says what to wait for). fds: { [fd] = "r" | "w" | "rw" }; ready holds the
** descriptors that are, with "r" (readable), "w" (writable) and "e" (an
** error or a hang-up),
** empty after the timeout. */
static int core_poll(lua_State *L) {
  struct pollfd local[16], *p = local;
  double wait = luaL_optnumber(L, 2, -1);
  int n = 0, cap = 16, i, r;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    const char *ev = lua_tostring(L, -1);
    if (lua_type(L, -2) != LUA_TNUMBER || ev == NULL) {
      if (p != local) free(p);
      return luaL_error(L, "graph.core.poll: fds maps descriptors to \"r\", \"w\" or \"rw\"");
    }
    if (n == cap) {
      struct pollfd *q = (struct pollfd *)malloc((size_t)cap * 2 * sizeof *q);
      if (q == NULL) {
        if (p != local) free(p);
        return luaL_error(L, "graph.core: out of memory");
      }
      memcpy(q, p, (size_t)n * sizeof *q);
      if (p != local) free(p);
      p = q;
      cap *= 2;
    }
    p[n].fd = (int)lua_tointeger(L, -2);
    p[n].events = (short)((strchr(ev, 'r') ? POLLIN : 0) | (strchr(ev, 'w') ? POLLOUT : 0));
    p[n].revents = 0;
    n++;
    lua_pop(L, 1);
  }
  r = poll(p, (nfds_t)n, wait < 0 ? -1 : (int)(wait * 1000 + 0.999));
  lua_createtable(L, 0, r > 0 ? r : 0);
  for (i = 0; r > 0 && i < n; i++) {
    short re = p[i].revents;
    char ev[4];
    int k = 0;
    if (re == 0) continue;
    if (re & POLLIN) ev[k++] = 'r';
    if (re & POLLOUT) ev[k++] = 'w';
    if (re & (POLLERR | POLLHUP | POLLNVAL)) ev[k++] = 'e';
    lua_pushlstring(L, ev, (size_t)k);
    lua_rawseti(L, -2, p[i].fd);
  }
  if (p != local) free(p);
  return 1;
}


/* core.retry_after(value): seconds to wait, or nil when value is not valid */
static int core_retry_after(lua_State *L) {
  double s = gc_parse_retry_after(luaL_checkstring(L, 1), gc_walltime());
  if (s < 0)
    lua_pushnil(L);
  else
    lua_pushnumber(L, s);
  return 1;
}


GC_API int luaopen_graph_core(lua_State *L);

GC_API int luaopen_graph_core(lua_State *L) {
  static const luaL_Reg funcs[] = {{"session", gc_session_new},
                                   {"escape", core_escape},
                                   {"guid", core_guid},
                                   {"now", core_now},
                                   {"time", core_time},
                                   {"sleep", core_sleep},
                                   {"poll", core_poll},
                                   {"retry_after", core_retry_after},
                                   {"error", gc_err_new},
                                   {"json_decode", gc_json_l_decode},
                                   {"json_encode", gc_json_l_encode},
                                   {NULL, NULL}};
  gc_err_open(L);
  gc_session_open(L);
  gc_json_open(L);
  luaL_newlib(L, funcs);
  gc_json_push_array_mt(L); /* graph.array() marks a table with it */
  lua_setfield(L, -2, "json_array");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "json_null");
  gc_options_push(L); /* what core.session takes: graph.options checks against it */
  lua_setfield(L, -2, "options");
  gc_grants_push(L);
  lua_setfield(L, -2, "grants");
  lua_pushliteral(L, GC_VERSION);
  lua_setfield(L, -2, "_VERSION");
  lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
  lua_setfield(L, -2, "curl_version");
  return 1;
}
