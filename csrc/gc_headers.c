/*
** gc_headers.c: response head parsing. Bytes come straight from the network,
** so every function here is bounded by the lengths it is given.
*/
#include <stdint.h>
#include <string.h>

#include "gc_headers.h"


/* RFC 9110 token characters, as a bitmap of the 128 ASCII codes: letters,
** digits and !#$%&'*+-.^_`|~ (a header name is checked byte by byte). */
static const uint64_t TCHAR[2] = {UINT64_C(0x03ff6cfa00000000), UINT64_C(0x57ffffffc7fffffe)};

static int is_tchar(unsigned char c) {
  return c < 128 && ((TCHAR[c >> 6] >> (c & 63)) & 1u);
}


int gc_header_token(const char *s, size_t n) {
  size_t i;
  if (n == 0) return 0;
  for (i = 0; i < n; i++)
    if (!is_tchar((unsigned char)s[i])) return 0;
  return 1;
}


int gc_header_split(const char *line, size_t n, const char **name, size_t *name_len,
                    const char **value, size_t *value_len) {
  size_t i = 0, end;
  while (i < n && is_tchar((unsigned char)line[i])) i++;
  if (i == 0 || i >= n || line[i] != ':') return 0;
  *name = line;
  *name_len = i;
  for (i++; i < n && (line[i] == ' ' || line[i] == '\t'); i++) {
  }
  end = n;
  while (end > i && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' ' ||
                     line[end - 1] == '\t'))
    end--;
  *value = line + i;
  *value_len = end - i;
  return 1;
}


void gc_header_reason(const char *line, size_t n, const char **reason, size_t *len) {
  size_t i = 0, end;
  int spaces = 0;
  while (i < n && spaces < 2) { /* skip "HTTP/x.y" and the status code */
    if (line[i] == ' ') {
      spaces++;
      while (i + 1 < n && line[i + 1] == ' ' && spaces < 2) i++;
    }
    i++;
  }
  end = n;
  while (end > i && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' ')) end--;
  *reason = line + (i < n ? i : n);
  *len = (spaces == 2 && end > i) ? end - i : 0;
}


static char lower_ascii(char c) {
  if (c >= 'A' && c <= 'Z') return (char)(c - 'A' + 'a');
  return c;
}


static int same_name(const char *a, const char *b, size_t n) {
  size_t i;
  for (i = 0; i < n; i++)
    if (lower_ascii(a[i]) != lower_ascii(b[i])) return 0;
  return 1;
}


void gc_hcache_free(lua_State *L, gc_hcache *c) {
  if (c->ref != 0) luaL_unref(L, LUA_REGISTRYINDEX, c->ref);
  memset(c, 0, sizeof *c);
}


/* Push the field's name (lower-cased) and value, from the cache at index
** `cache` when they are there, and keep them there for the next response. */
static void push_field(lua_State *L, gc_hcache *c, int cache, int hint, const char *name,
                       size_t nlen, const char *value, size_t vlen) {
  char lower[GC_HCACHE_NAME];
  luaL_Buffer b;
  int i, slot = -1;
  size_t k;
  if (nlen > GC_HCACHE_NAME) { /* rare: not cached */
    luaL_buffinit(L, &b);
    for (k = 0; k < nlen; k++) luaL_addchar(&b, lower_ascii(name[k]));
    luaL_pushresult(&b);
    lua_pushlstring(L, value, vlen);
    return;
  }
  for (k = 0; k < nlen; k++) lower[k] = lower_ascii(name[k]);
  /* a server sends its fields in the same order each time: try that slot first */
  if (c != NULL && hint < c->n && c->slot[hint].nlen == nlen &&
      memcmp(c->slot[hint].name, lower, nlen) == 0)
    slot = hint;
  for (i = 0; c != NULL && i < c->n && slot < 0; i++)
    if (c->slot[i].nlen == nlen && memcmp(c->slot[i].name, lower, nlen) == 0) slot = i;
  if (slot < 0 && c != NULL && c->n < GC_HCACHE_SLOTS) { /* a new name: keep it */
    slot = c->n++;
    memcpy(c->slot[slot].name, lower, nlen);
    c->slot[slot].nlen = nlen;
    c->slot[slot].vlen = (size_t)-1; /* no value yet */
    lua_pushlstring(L, lower, nlen);
    lua_rawseti(L, cache, 2 * slot + 1);
  }
  if (slot < 0) {
    lua_pushlstring(L, lower, nlen);
    lua_pushlstring(L, value, vlen);
    return;
  }
  lua_rawgeti(L, cache, 2 * slot + 1);
  if (c->slot[slot].vlen == vlen && memcmp(c->slot[slot].value, value, vlen) == 0) {
    lua_rawgeti(L, cache, 2 * slot + 2);
    return;
  }
  lua_pushlstring(L, value, vlen);
  if (vlen <= GC_HCACHE_VALUE) {
    memcpy(c->slot[slot].value, value, vlen);
    c->slot[slot].vlen = vlen;
    lua_pushvalue(L, -1);
    lua_rawseti(L, cache, 2 * slot + 2);
  }
}


int gc_headers_push(lua_State *L, const char *block, size_t len, int want_reason, gc_hcache *c) {
  const char *p = block, *stop = block + len;
  const char *seen[32]; /* the names so far, to spot a repeated field cheaply */
  size_t seen_len[32];
  int nseen = 0, tbl, cache = 0;
  if (want_reason) lua_pushliteral(L, "");
  lua_createtable(L, 0, 16); /* Graph sends about a dozen */
  tbl = lua_gettop(L);
  if (c != NULL) {
    if (c->ref == 0) {
      lua_newtable(L);
      c->ref = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref);
    cache = lua_gettop(L);
  }
  while (p < stop) {
    const char *nl = (const char *)memchr(p, '\n', (size_t)(stop - p));
    size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(stop - p);
    const char *name, *value;
    size_t nlen, vlen;
    if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
      if (want_reason) {
        gc_header_reason(p, n, &value, &vlen);
        lua_pushlstring(L, value, vlen);
        lua_replace(L, tbl - 1);
      }
    } else if (gc_header_split(p, n, &name, &nlen, &value, &vlen)) {
      int i, again = nseen == 32; /* past 32 fields, ask the table */
      for (i = 0; i < nseen && !again; i++)
        again = seen_len[i] == nlen && same_name(seen[i], name, nlen);
      if (nseen < 32) {
        seen[nseen] = name;
        seen_len[nseen++] = nlen;
      }
      push_field(L, c, cache, nseen - 1, name, nlen, value, vlen);
      if (again) {
        lua_pushvalue(L, -2);
        lua_rawget(L, tbl); /* the earlier value: join them */
        if (lua_isstring(L, -1)) {
          lua_insert(L, -2);
          lua_pushliteral(L, ", ");
          lua_insert(L, -2);
          lua_concat(L, 3);
        } else {
          lua_pop(L, 1);
        }
      }
      lua_rawset(L, tbl);
    }
    p += n;
  }
  if (cache) lua_pop(L, 1);
  return want_reason ? 2 : 1;
}
