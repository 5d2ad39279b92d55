/*
** gc_json.c: JSON text <-> Lua values with yajl (RFC 8259).
** Decoding builds the values straight on the Lua stack from yajl's
** callbacks: a container's elements (or key-value pairs) wait on the stack
** and move into a table made at its end, with the exact size; no Lua
** function is called. Encoding walks a value with yajl_gen. yajl's handles
** live in userdata with a __gc, so an out-of-memory error (the only error
** raised from inside a callback) frees them too. A Lua state keeps one
** decoder between decodes (see take_decoder).
*/
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "gc_json.h"
#include "gc_util.h"
#include "gc_visibility.h" /* last: see there */

static const char array_key = 'a';   /* registry keys: their addresses are unique */
static const char decoder_key = 'd'; /* the idle decoder, while none is under way */
#define DECODER_MT "graph.json.decoder"
#define ENCODER_MT "graph.json.encoder"

/* Values a container keeps on the stack before they move into its table:
** bounds the stack a long array takes (Lua 5.1 allows C functions 8000). */
#define GC_JSON_CHUNK 512

/* A decoder keeps its yajl handle only after a text up to this long: yajl's
** buffers grow to the longest string with escapes and stay that size. */
#define GC_JSON_KEEP 65536

#define GC_STR2(x) #x
#define GC_STR(x)  GC_STR2(x)
#define TOO_DEEP   "nested more than " GC_STR(GC_JSON_MAX_DEPTH) " levels"


void gc_json_push_array_mt(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&array_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
}


/* A zeroed userdata of n bytes whose metatable mt frees what it will hold,
** then the array metatable above it. */
static void *new_codec(lua_State *L, size_t n, const char *mt) {
  void *p;
  luaL_checkstack(L, 8, "graph.core: JSON codec");
  p = lua_newuserdatauv(L, n, 0);
  memset(p, 0, n);
  luaL_setmetatable(L, mt);
  gc_json_push_array_mt(L);
  return p;
}


/*
** {======================================================
** Decoding
** =======================================================
*/

typedef struct frame {
  int first; /* stack index of the first value not yet in the table */
  int table; /* stack index of the container's table; 0 until made */
  int n;     /* array: elements already in the table */
  int is_array;
} frame;

typedef struct decoder {
  lua_State *L;
  yajl_handle h;
  int mt; /* stack index of the array metatable */
  int depth;
  int room;          /* the stack has slots up to this index */
  const char *error; /* why a callback stopped the parse; NULL: yajl's error */
  size_t len;        /* of the text */
  size_t end;        /* where its top-level value ends, once it has ended */
  int finishing;     /* in yajl_complete_parse: past the text's end */
  gc_buf num;        /* a long number's text, NUL-terminated */
  frame frames[GC_JSON_MAX_DEPTH];
} decoder;


static int stop(decoder *d, const char *why) {
  d->error = why;
  return 0; /* tells yajl to cancel */
}


/* Where yajl is in the text: past the token a callback is for. */
static size_t consumed(const decoder *d) {
  return d->finishing ? d->len : yajl_get_bytes_consumed(d->h);
}


/* Move the values waiting above frame f into its table, made now (sized for
** them) when it does not exist yet; the table stays where they began. */
static void fill(lua_State *L, const decoder *d, frame *f) {
  int count = lua_gettop(L) - f->first + 1, t = f->table, i;
  if (t == 0) {
    lua_createtable(L, f->is_array ? count : 0, f->is_array ? 0 : count / 2);
    if (f->is_array) {
      lua_pushvalue(L, d->mt);
      lua_setmetatable(L, -2);
    }
    t = lua_gettop(L);
  }
  if (f->is_array) {
    for (i = 0; i < count; i++) {
      lua_pushvalue(L, f->first + i);
      lua_rawseti(L, t, ++f->n);
    }
  } else { /* in order, so a repeated key's last value wins */
    for (i = 0; i < count; i += 2) {
      lua_pushvalue(L, f->first + i);
      lua_pushvalue(L, f->first + i + 1);
      lua_rawset(L, t);
    }
  }
  if (f->table == 0) {
    if (count > 0) lua_replace(L, f->first); /* else it is already there */
    f->table = f->first;
  }
  lua_settop(L, f->table);
  f->first = f->table + 1;
}


/* Stack room for one more value (a key when is_key); a long container moves
** what it has into its table first (an object only between pairs). */
static inline int room(decoder *d, int is_key) {
  lua_State *L = d->L;
  int top = lua_gettop(L);
  if (top + 4 > d->room) { /* ask for stack in steps, not for every value */
    if (!lua_checkstack(L, 64)) return stop(d, "too large for the Lua stack");
    d->room = top + 64;
  }
  if (d->depth > 0) {
    frame *f = &d->frames[d->depth - 1];
    if ((f->is_array || is_key) && top - f->first + 1 >= GC_JSON_CHUNK) fill(L, d, f);
  } else if (top > d->mt) { /* a second value: yajl allows it (see take_decoder) */
    return stop(d, "parse error: trailing garbage");
  } else {
    d->end = consumed(d); /* a scalar's, or a container's (then its close's) */
  }
  return 1;
}


static int on_null(void *ctx) {
  decoder *d = (decoder *)ctx;
  if (!room(d, 0)) return 0;
  lua_pushlightuserdata(d->L, NULL);
  return 1;
}


static int on_boolean(void *ctx, int b) {
  decoder *d = (decoder *)ctx;
  if (!room(d, 0)) return 0;
  lua_pushboolean(d->L, b);
  return 1;
}


#if LUA_VERSION_NUM >= 503
/* Lua's own conversion: an integer when it fits lua_Integer, else a float;
** independent of the C locale. */
static int push_number(decoder *d, const char *text) {
  lua_State *L = d->L;
  if (lua_stringtonumber(L, text) == 0) return stop(d, "invalid number");
  if (!lua_isinteger(L, -1) && !isfinite(lua_tonumber(L, -1)))
    return stop(d, "number out of range");
  return 1;
}
#else
static int push_number(decoder *d, char *text) {
  char *end;
  double v = strtod(text, &end);
  if (*end == '.') { /* the C locale has another decimal point */
    *end = localeconv()->decimal_point[0];
    v = strtod(text, &end);
  }
  if (*end != '\0') return stop(d, "invalid number");
  if (!isfinite(v)) return stop(d, "number out of range");
  lua_pushnumber(d->L, v);
  return 1;
}
#endif


static int on_number(void *ctx, const char *s, size_t n) {
  decoder *d = (decoder *)ctx;
  char small[48];
  char *text = small;
  if (!room(d, 0)) return 0;
  if (n < sizeof small) {
    memcpy(text, s, n);
    text[n] = '\0';
  } else {
    gc_buf_reset(&d->num, 0);
    if (gc_buf_append(&d->num, s, n) != 0) return stop(d, "out of memory");
    text = d->num.data;
  }
  return push_number(d, text);
}


static int on_string(void *ctx, const unsigned char *s, size_t n) {
  decoder *d = (decoder *)ctx;
  if (!room(d, 0)) return 0;
  lua_pushlstring(d->L, (const char *)s, n);
  return 1;
}


static int on_key(void *ctx, const unsigned char *s, size_t n) {
  decoder *d = (decoder *)ctx;
  if (!room(d, 1)) return 0;
  lua_pushlstring(d->L, (const char *)s, n);
  return 1;
}


static int open_container(decoder *d, int is_array) {
  frame *f;
  if (!room(d, 0)) return 0;
  if (d->depth == GC_JSON_MAX_DEPTH) return stop(d, TOO_DEEP);
  f = &d->frames[d->depth++];
  f->first = lua_gettop(d->L) + 1;
  f->table = 0;
  f->n = 0;
  f->is_array = is_array;
  return 1;
}


static int close_container(void *ctx) {
  decoder *d = (decoder *)ctx;
  fill(d->L, d, &d->frames[--d->depth]);
  if (d->depth == 0) d->end = consumed(d);
  return 1;
}


static int on_start_map(void *ctx) {
  return open_container((decoder *)ctx, 0);
}
static int on_start_array(void *ctx) {
  return open_container((decoder *)ctx, 1);
}


static const yajl_callbacks decode_callbacks = {
    on_null, on_boolean,      NULL,           NULL,           on_number, on_string, on_start_map,
    on_key,  close_container, on_start_array, close_container};


static int decoder_gc(lua_State *L) {
  decoder *d = (decoder *)luaL_checkudata(L, 1, DECODER_MT);
  if (d->h) yajl_free(d->h);
  d->h = NULL;
  gc_buf_free(&d->num, 0);
  return 0;
}


/* "invalid JSON: <why> at byte <n>": the input itself is never quoted (a
** token endpoint reply holds secrets). */
static void push_decode_error(lua_State *L, decoder *d, const char *s, size_t n, size_t at) {
  char why[96];
  if (d->error) {
    (void)snprintf(why, sizeof why, "%s", d->error);
  } else {
    unsigned char *e = yajl_get_error(d->h, 0, (const unsigned char *)s, n);
    size_t len;
    (void)snprintf(why, sizeof why, "%s", e ? (const char *)e : "error");
    if (e) yajl_free_error(d->h, e);
    len = strlen(why);
    while (len > 0 && (why[len - 1] == '\n' || why[len - 1] == '.')) why[--len] = '\0';
  }
  lua_pushfstring(L, "invalid JSON: %s at byte %d", why, (int)(at > INT_MAX ? INT_MAX : (int)at));
}


/*
** The decoder, its yajl handle and its number buffer outlive a decode: a Lua
** state keeps one in the registry while no decode is under way. A decode
** takes it out (and keeps it on its stack) and puts it back when it ends, so
** one that starts meanwhile (a __gc the collector runs from inside a decode,
** on this thread or another coroutine's) makes its own, and one that raises
** (out of memory) leaves its decoder to the collector. yajl has no reset:
** after an error the handle is freed and made anew by the next decode; a
** parse that succeeds leaves it ready for another value only when
** yajl_allow_multiple_values is set, so it is: room() refuses a second
** top-level value, and gc_json_decode anything after the first but
** whitespace (a second one cut short would stay in yajl's lexer). Pushes
** the decoder and the array metatable.
*/
static decoder *take_decoder(lua_State *L) {
  decoder *d;
  luaL_checkstack(L, 8, "graph.core: JSON decoder");
  lua_pushlightuserdata(L, (void *)&decoder_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  d = (decoder *)lua_touserdata(L, -1);
  if (d == NULL) {
    lua_pop(L, 1);
    d = (decoder *)new_codec(L, sizeof *d, DECODER_MT);
  } else {
    lua_pushlightuserdata(L, (void *)&decoder_key);
    lua_pushnil(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
    gc_json_push_array_mt(L);
  }
  d->L = L;
  d->mt = lua_gettop(L);
  d->depth = 0;
  d->room = 0;
  d->error = NULL;
  d->end = 0;
  d->finishing = 0;
  if (d->h == NULL) {
    d->h = yajl_alloc(&decode_callbacks, NULL, d);
    if (d->h == NULL) luaL_error(L, "graph.core: out of memory");
    (void)yajl_config(d->h, yajl_allow_multiple_values, 1);
  }
  return d;
}


/* The decoder at index ud back in the registry for the next decode (in place
** of one a decode that ran meanwhile put there). */
static void keep_decoder(lua_State *L, int ud) {
  lua_pushlightuserdata(L, (void *)&decoder_key);
  lua_pushvalue(L, ud);
  lua_rawset(L, LUA_REGISTRYINDEX);
}


/* The offset of the first byte in s[i..n) that yajl does not skip as
** whitespace, or n. */
static size_t skip_space(const char *s, size_t i, size_t n) {
  while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'))) i++;
  return i;
}


int gc_json_decode(lua_State *L, const char *s, size_t n) {
  int base = lua_gettop(L), rc = 0;
  decoder *d = take_decoder(L);
  yajl_status st;
  size_t at;
  d->len = n;
  st = yajl_parse(d->h, (const unsigned char *)s, n);
  at = yajl_get_bytes_consumed(d->h);
  if (st == yajl_status_ok) {
    d->finishing = 1;
    st = yajl_complete_parse(d->h);
    at = n; /* what it finds is at the end */
  }
  if (st == yajl_status_ok && lua_gettop(L) != d->mt + 1) {
    d->error = "parse error: premature EOF"; /* no value */
    st = yajl_status_error;
  } else if (st == yajl_status_ok && (at = skip_space(s, d->end, n)) < n) {
    /* the start of a second value, cut short: yajl waits for the rest */
    d->error = "parse error: trailing garbage";
    st = yajl_status_error;
  }
  if (st != yajl_status_ok) {
    push_decode_error(L, d, s, n, at);
    rc = -1;
  }
  if (rc != 0 || n > GC_JSON_KEEP) { /* a failed parse's state, or long buffers */
    yajl_free(d->h);
    d->h = NULL;
    gc_buf_free(&d->num, 0);
  }
  keep_decoder(L, base + 1);
  lua_replace(L, base + 1); /* the value or the message, over the decoder */
  lua_settop(L, base + 1);
  return rc;
}

/* }====================================================== */


/*
** {======================================================
** Encoding
** =======================================================
*/

typedef struct encoder {
  lua_State *L;
  yajl_gen g;
  int mt; /* stack index of the array metatable */
  /* where each level is in its parent: the stack index of an object's key
  ** (> 0), or minus an array element's index */
  int at[GC_JSON_MAX_DEPTH];
  gc_buf msg;
} encoder;


static int encoder_gc(lua_State *L) {
  encoder *e = (encoder *)luaL_checkudata(L, 1, ENCODER_MT);
  if (e->g) yajl_gen_free(e->g);
  e->g = NULL;
  gc_buf_free(&e->msg, 0);
  return 0;
}


/* The message "cannot encode <what> at a.b[2]" (the path is left out at the
** top); it never quotes a value, only keys and indexes. */
static int fail(encoder *e, int level, const char *what) {
  gc_buf *b = &e->msg;
  int i;
  gc_buf_reset(b, 0);
  gc_buf_puts(b, "cannot encode ");
  gc_buf_puts(b, what);
  for (i = 0; i < level && b->len < 120; i++) {
    if (i == 0) gc_buf_puts(b, " at ");
    if (e->at[i] > 0) {
      size_t n;
      const char *k = lua_tolstring(e->L, e->at[i], &n);
      if (i > 0) gc_buf_puts(b, ".");
      gc_buf_append(b, k, n > 64 ? 64 : n);
    } else {
      char index[24];
      (void)snprintf(index, sizeof index, "[%d]", -e->at[i]);
      gc_buf_puts(b, index);
    }
  }
  if (i < level) gc_buf_puts(b, "...");
  return -1;
}


static int check(encoder *e, int level, yajl_gen_status st) {
  if (st == yajl_gen_status_ok) return 0;
  if (st == yajl_gen_invalid_string) return fail(e, level, "a string that is not valid UTF-8");
  if (st == yajl_max_depth_exceeded) return fail(e, level, "a value nested too deep");
  return fail(e, level, "a value (JSON generator error)");
}


/* A float: integral values that fit a 64-bit integer as integers (JSON has
** one number type; Lua 5.1 and LuaJIT have only floats, and Graph's Int32 and
** Int64 properties want no fraction), others in the shortest form that reads
** back as the same double. */
static int encode_float(encoder *e, int level, double v) {
  char buf[40], *p;
  int prec;
  if (!isfinite(v)) return fail(e, level, "NaN or infinity");
  if (v == floor(v) && v >= -9223372036854775808.0 && v < 9223372036854775808.0)
    return check(e, level, yajl_gen_integer(e->g, (long long)v));
  for (prec = 15; prec < 17; prec++) {
    (void)snprintf(buf, sizeof buf, "%.*g", prec, v);
    if (strtod(buf, NULL) == v) break;
  }
  if (prec == 17) (void)snprintf(buf, sizeof buf, "%.17g", v);
  p = strchr(buf, localeconv()->decimal_point[0]); /* the C locale may not use '.' */
  if (p) *p = '.';
  return check(e, level, yajl_gen_number(e->g, buf, strlen(buf)));
}


/* A positive integer key as a number, else 0. */
static lua_Number array_index(lua_State *L, int idx) {
  lua_Number k;
  if (lua_type(L, idx) != LUA_TNUMBER) return 0;
  k = lua_tonumber(L, idx);
  return (k >= 1 && k == floor(k)) ? k : 0;
}


/* The encoder recurses once per level, at most GC_JSON_MAX_DEPTH deep. */
static int encode_value(encoder *e, int idx, int level);

// NOLINTNEXTLINE(misc-no-recursion): bounded by GC_JSON_MAX_DEPTH
static int encode_object(encoder *e, int t, int level) {
  lua_State *L = e->L;
  if (check(e, level, yajl_gen_map_open(e->g))) return -1;
  do { /* the first key, a string, is already on the stack */
    size_t n;
    const char *k;
    if (lua_type(L, -2) != LUA_TSTRING)
      return fail(e, level,
                  array_index(L, -2) ? "a table mixing string and integer keys"
                                     : "a table with a key that is neither a string "
                                       "nor a positive integer");
    e->at[level] = lua_gettop(L) - 1;
    k = lua_tolstring(L, -2, &n);
    if (check(e, level + 1, yajl_gen_string(e->g, (const unsigned char *)k, n))) return -1;
    if (encode_value(e, lua_gettop(L), level + 1)) return -1;
    lua_pop(L, 1);
  } while (lua_next(L, t));
  return check(e, level, yajl_gen_map_close(e->g));
}


// NOLINTNEXTLINE(misc-no-recursion): bounded by GC_JSON_MAX_DEPTH
static int encode_array(encoder *e, int t, int level, int marked) {
  lua_State *L = e->L;
  lua_Number count = 0, max = 0;
  int i;
  do { /* count the keys (the first is on the stack): exactly 1..n */
    lua_Number k = array_index(L, -2);
    if (k == 0) {
      if (lua_type(L, -2) == LUA_TSTRING)
        return fail(e, level,
                    marked ? "an array (graph.array) with a string key"
                           : "a table mixing string and integer keys");
      return fail(e, level, "a table with a key that is neither a string nor a positive integer");
    }
    if (k > max) max = k;
    count++;
    lua_pop(L, 1);
  } while (lua_next(L, t));
  if (max != count || count > INT_MAX) {
    char what[96];
    (void)snprintf(what, sizeof what, "a sparse array (%.0f elements, largest index %.0f)",
                   (double)count, (double)max);
    return fail(e, level, what);
  }
  if (check(e, level, yajl_gen_array_open(e->g))) return -1;
  for (i = 1; i <= (int)count; i++) {
    lua_rawgeti(L, t, i);
    e->at[level] = -i;
    if (encode_value(e, lua_gettop(L), level + 1)) return -1;
    lua_pop(L, 1);
  }
  return check(e, level, yajl_gen_array_close(e->g));
}


/* A table with the array metatable is an array (even empty); an unmarked
** table is an object when its first key is a string, an array when its
** keys are exactly 1..n, and {} when empty. */
// NOLINTNEXTLINE(misc-no-recursion): bounded by GC_JSON_MAX_DEPTH
static int encode_table(encoder *e, int t, int level) {
  lua_State *L = e->L;
  int marked = 0;
  if (level >= GC_JSON_MAX_DEPTH) return fail(e, level, "a table " TOO_DEEP " (a cycle?)");
  if (!lua_checkstack(L, 6)) return fail(e, level, "a table nested too deep for the Lua stack");
  if (lua_getmetatable(L, t)) {
    marked = lua_rawequal(L, -1, e->mt);
    lua_pop(L, 1);
  }
  lua_pushnil(L);
  if (!lua_next(L, t)) {
    if (marked)
      return check(e, level, yajl_gen_array_open(e->g)) ||
             check(e, level, yajl_gen_array_close(e->g));
    return check(e, level, yajl_gen_map_open(e->g)) || check(e, level, yajl_gen_map_close(e->g));
  }
  if (!marked && lua_type(L, -2) == LUA_TSTRING) return encode_object(e, t, level);
  return encode_array(e, t, level, marked);
}


// NOLINTNEXTLINE(misc-no-recursion): bounded by GC_JSON_MAX_DEPTH
static int encode_value(encoder *e, int idx, int level) {
  lua_State *L = e->L;
  switch (lua_type(L, idx)) {
    case LUA_TNIL: return check(e, level, yajl_gen_null(e->g));
    case LUA_TBOOLEAN: return check(e, level, yajl_gen_bool(e->g, lua_toboolean(L, idx)));
    case LUA_TNUMBER:
#if LUA_VERSION_NUM >= 503
      if (lua_isinteger(L, idx))
        return check(e, level, yajl_gen_integer(e->g, (long long)lua_tointeger(L, idx)));
#endif
      return encode_float(e, level, (double)lua_tonumber(L, idx));
    case LUA_TSTRING: {
      size_t n;
      const char *s = lua_tolstring(L, idx, &n);
      return check(e, level, yajl_gen_string(e->g, (const unsigned char *)s, n));
    }
    case LUA_TTABLE: return encode_table(e, idx, level);
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) == NULL) return check(e, level, yajl_gen_null(e->g));
      return fail(e, level, "a light userdata (only json.null is null)");
    default: {
      char what[48];
      (void)snprintf(what, sizeof what, "a %s", lua_typename(L, lua_type(L, idx)));
      return fail(e, level, what);
    }
  }
}


int gc_json_encode(lua_State *L, int idx) {
  int base, rc;
  encoder *e;
  idx = lua_absindex(L, idx);
  base = lua_gettop(L);
  e = (encoder *)new_codec(L, sizeof *e, ENCODER_MT);
  e->L = L;
  e->mt = lua_gettop(L);
  e->g = yajl_gen_alloc(NULL);
  if (e->g == NULL || !yajl_gen_config(e->g, yajl_gen_validate_utf8, 1))
    return luaL_error(L, "graph.core: out of memory");
  rc = encode_value(e, idx, 0);
  lua_settop(L, e->mt);
  if (rc == 0) {
    const unsigned char *out;
    size_t n;
    yajl_gen_get_buf(e->g, &out, &n);
    lua_pushlstring(L, (const char *)out, n);
  } else if (e->msg.data == NULL) {
    lua_pushliteral(L, "cannot encode: out of memory");
  } else {
    lua_pushlstring(L, e->msg.data, e->msg.len);
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
  yajl_gen_free(e->g);
  e->g = NULL;
  gc_buf_free(&e->msg, 0);
  return rc;
}

/* }====================================================== */


int gc_json_l_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  if (gc_json_decode(L, s, n) == 0) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}


int gc_json_l_encode(lua_State *L) {
  luaL_checkany(L, 1);
  if (gc_json_encode(L, 1) == 0) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}


void gc_json_open(lua_State *L) {
  lua_pushlightuserdata(L, (void *)&array_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (lua_istable(L, -1)) { /* already made by an earlier require */
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_pushlightuserdata(L, (void *)&array_key);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "graph.json.array");
  lua_setfield(L, -2, "__name");
  lua_rawset(L, LUA_REGISTRYINDEX);
  luaL_newmetatable(L, DECODER_MT);
  lua_pushcfunction(L, decoder_gc);
  lua_setfield(L, -2, "__gc");
  luaL_newmetatable(L, ENCODER_MT);
  lua_pushcfunction(L, encoder_gc);
  lua_setfield(L, -2, "__gc");
  lua_pop(L, 2);
}
