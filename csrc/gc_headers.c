/*
** gc_headers.c: response head parsing. Bytes come straight from the network,
** so every function here is bounded by the lengths it is given.
*/
#include <stdint.h>
#include <string.h>

#include "gc_headers.h"
#include "gc_visibility.h" /* last: see there */


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


/* The value of a field line whose colon is at line[colon]: without the
** optional whitespace around it or the line end. */
static void field_value(const char *line, size_t colon, size_t n, const char **value,
                        size_t *value_len) {
  size_t i, end = n;
  for (i = colon + 1; i < n && (line[i] == ' ' || line[i] == '\t'); i++) {
  }
  while (end > i && (line[end - 1] == '\r' || line[end - 1] == '\n' || line[end - 1] == ' ' ||
                     line[end - 1] == '\t'))
    end--;
  *value = line + i;
  *value_len = end - i;
}


int gc_header_split(const char *line, size_t n, const char **name, size_t *name_len,
                    const char **value, size_t *value_len) {
  size_t i = 0;
  while (i < n && is_tchar((unsigned char)line[i])) i++;
  if (i == 0 || i >= n || line[i] != ':') return 0;
  *name = line;
  *name_len = i;
  field_value(line, i, n, value, value_len);
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


/* The cache slot of the field named `raw` (as sent; `lower`, lower-cased),
** made when there is room; -1 when there is none. */
static int find_slot(lua_State *L, gc_hcache *c, int cache, int hint, const char *raw,
                     const char *lower, size_t nlen) {
  int i;
  /* a server sends its fields in the same order each time: try that slot first */
  if (hint < c->n && c->slot[hint].nlen == nlen && memcmp(c->slot[hint].name, lower, nlen) == 0)
    return hint;
  for (i = 0; i < c->n; i++)
    if (c->slot[i].nlen == nlen && memcmp(c->slot[i].name, lower, nlen) == 0) return i;
  if (c->n == GC_HCACHE_SLOTS) return -1;
  i = c->n++; /* a new name: keep it */
  memcpy(c->slot[i].name, lower, nlen);
  memcpy(c->slot[i].raw, raw, nlen);
  c->slot[i].nlen = nlen;
  c->slot[i].vlen = (size_t)-1; /* no value yet */
  lua_pushlstring(L, lower, nlen);
  lua_rawseti(L, cache, 2 * i + 1);
  return i;
}


/* Push the slot's name and the value, reusing the last value's string when
** it is the same, keeping this one otherwise. */
static void push_cached(lua_State *L, gc_hcache *c, int cache, int slot, const char *value,
                        size_t vlen) {
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


/* Push the field's name (lower-cased) and value, through the cache when
** there is one. */
static void push_field(lua_State *L, gc_hcache *c, int cache, int hint, const char *name,
                       size_t nlen, const char *value, size_t vlen) {
  char lower[GC_HCACHE_NAME];
  luaL_Buffer b;
  int slot;
  size_t k;
  if (nlen > GC_HCACHE_NAME) { /* rare: not cached */
    luaL_buffinit(L, &b);
    for (k = 0; k < nlen; k++) luaL_addchar(&b, lower_ascii(name[k]));
    luaL_pushresult(&b);
    lua_pushlstring(L, value, vlen);
    return;
  }
  for (k = 0; k < nlen; k++) lower[k] = lower_ascii(name[k]);
  if (c != NULL && (slot = find_slot(L, c, cache, hint, name, lower, nlen)) >= 0) {
    push_cached(L, c, cache, slot, value, vlen);
    return;
  }
  lua_pushlstring(L, lower, nlen);
  lua_pushlstring(L, value, vlen);
}


/* Whether line[0..n) is a field of the name cached in slot, byte for byte
** as it came last time: then the name needs no scanning or lower-casing. */
static int same_field(const gc_hcache *c, int slot, const char *line, size_t n) {
  size_t nlen;
  if (c == NULL || slot >= c->n) return 0;
  nlen = c->slot[slot].nlen;
  return n > nlen && line[nlen] == ':' && memcmp(line, c->slot[slot].raw, nlen) == 0;
}


/* Whether the field named name[0..nlen) came earlier in this head. */
static int repeated(const char *const *seen, const size_t *seen_len, int nseen, const char *name,
                    size_t nlen) {
  int i;
  for (i = 0; i < nseen; i++)
    if (seen_len[i] == nlen && same_name(seen[i], name, nlen)) return 1;
  return 0;
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
    int again, fast = same_field(c, nseen, p, n);
    if (fast) {
      name = p;
      nlen = c->slot[nseen].nlen;
      field_value(p, nlen, n, &value, &vlen);
    } else if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
      if (want_reason) {
        gc_header_reason(p, n, &value, &vlen);
        lua_pushlstring(L, value, vlen);
        lua_replace(L, tbl - 1);
      }
      p += n;
      continue;
    } else if (!gc_header_split(p, n, &name, &nlen, &value, &vlen)) {
      p += n;
      continue;
    }
    again = nseen == 32 || repeated(seen, seen_len, nseen, name, nlen); /* past 32: ask the table */
    if (fast)
      push_cached(L, c, cache, nseen, value, vlen);
    else
      push_field(L, c, cache, nseen, name, nlen, value, vlen);
    if (nseen < 32) {
      seen[nseen] = name;
      seen_len[nseen++] = nlen;
    }
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
    p += n;
  }
  if (cache) lua_pop(L, 1);
  return want_reason ? 2 : 1;
}
