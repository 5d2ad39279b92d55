/*
** gc_headers.h: turn a raw HTTP response head into a Lua table.
*/
#ifndef GC_HEADERS_H
#define GC_HEADERS_H

#include <stddef.h>
#include "gc_compat.h"

/* Whether s[0..n) is a non-empty RFC 9110 token (a header name, a method). */
int gc_header_token(const char *s, size_t n);

/* One field line "Name: value\r\n" -> name/value spans (value trimmed).
** Returns 1 for a field, 0 for anything else (status line, blank, junk). */
int gc_header_split(const char *line, size_t n, const char **name, size_t *name_len,
                    const char **value, size_t *value_len);

/* The reason phrase of a status line "HTTP/1.1 404 Not Found\r\n"; may be empty. */
void gc_header_reason(const char *line, size_t n, const char **reason, size_t *len);

/* The strings of the last response's fields, kept for the next one: Graph
** answers with the same dozen names, and most values repeat, so a session
** reuses their Lua strings instead of hashing and interning them again. */
#define GC_HCACHE_SLOTS 24
#define GC_HCACHE_NAME  40  /* a longer name is not kept */
#define GC_HCACHE_VALUE 160 /* nor a longer value */

typedef struct gc_hcache {
  int ref; /* registry: { name1, value1, name2, value2, ... }; 0 before first use */
  int n;
  struct {
    size_t nlen, vlen;         /* vlen (size_t)-1: no value kept */
    char name[GC_HCACHE_NAME]; /* lower-cased */
    char raw[GC_HCACHE_NAME];  /* as the server wrote it */
    char value[GC_HCACHE_VALUE];
  } slot[GC_HCACHE_SLOTS];
} gc_hcache;

void gc_hcache_free(lua_State *L, gc_hcache *c);

/* Push a table { [lower-case name] = value } for the head in block; repeated
** fields are joined with ", ". Also pushes the reason phrase (a string) below
** it when want_reason is set. cache may be NULL. Returns the number of values
** pushed. */
int gc_headers_push(lua_State *L, const char *block, size_t len, int want_reason, gc_hcache *cache);

#endif
