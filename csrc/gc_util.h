/*
** gc_util.h: byte buffers, secret wiping, percent-encoding, GUIDs, clocks.
** Plain C with no Lua or libcurl: each function here is fuzzable alone.
*/
#ifndef GC_UTIL_H
#define GC_UTIL_H

#include <stddef.h>

typedef struct gc_buf {
  char *data; /* always NUL-terminated once anything was appended */
  size_t len;
  size_t cap;
} gc_buf;

int gc_buf_append(gc_buf *b, const void *p, size_t n); /* 0 or -1 (ENOMEM) */
int gc_buf_reserve(gc_buf *b, size_t extra);           /* room for extra more bytes and a NUL */
int gc_buf_puts(gc_buf *b, const char *s);
void gc_buf_reset(gc_buf *b, int wipe); /* len = 0, keep memory */
void gc_buf_free(gc_buf *b, int wipe);

void gc_wipe(void *p, size_t n); /* memset the optimiser cannot drop */
char *gc_strdup(const char *s);
char *gc_concat(const char *a, const char *b); /* malloc'd a .. b, or NULL */
void gc_free_secret(char **s);                 /* wipe, free, set NULL */

/* Percent-encode everything but RFC 3986 unreserved characters and the
** characters listed in `keep` (may be NULL). */
int gc_escape(gc_buf *out, const char *s, size_t n, const char *keep);
size_t gc_escaped_len(const char *s, size_t n, const char *keep); /* bytes gc_escape_to writes */
void gc_escape_to(char *dst, const char *s, size_t n, const char *keep);

/* Replace every spelling of `secret` in buf with "<redacted>": raw, form
** encoded (%XX in either case, '+' for a space), JSON-escaped (\/, \",
** \uXXXX, ...), or any mix of them. */
int gc_redact(gc_buf *buf, const char *secret);

/* Retry-After: delta-seconds (fractions allowed) or an HTTP-date, relative to
** `now` (Unix time). Returns seconds >= 0, or -1 when the value is not valid. */
double gc_parse_retry_after(const char *value, double now);

int gc_random(unsigned char *out, size_t n);

/* How many fork()s made this process from the one that loaded the library:
** 0 there, 1 in a child, ... A number that changed means that whatever was
** set up before belongs to a parent. No system call (pthread_atfork). */
unsigned long gc_forks(void);
void gc_guid(char out[37]);
double gc_monotonic(void);
double gc_walltime(void);
void gc_sleep(double seconds);

#endif
