/*
** gc_util.c: byte buffers, secret wiping, percent-encoding, GUIDs, clocks.
*/
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/random.h>
#endif

#include "gc_util.h"
#include "gc_visibility.h" /* last: see there */


/*
** {======================================================
** Buffers
** =======================================================
*/

static int buf_reserve(gc_buf *b, size_t extra) {
  size_t need, cap;
  char *p;
  if (extra > (size_t)-1 - b->len - 1) return -1;
  need = b->len + extra + 1; /* room for the NUL */
  if (need <= b->cap) return 0;
  cap = b->cap ? b->cap : 256;
  while (cap < need) cap = (cap > (size_t)-1 / 2) ? need : cap * 2;
  p = (char *)malloc(cap); /* not realloc: old bytes may be secret */
  if (p == NULL) return -1;
  if (b->data != NULL) {
    memcpy(p, b->data, b->len);
    gc_wipe(b->data, b->cap);
    free(b->data);
  }
  b->data = p;
  b->cap = cap;
  return 0;
}


int gc_buf_reserve(gc_buf *b, size_t extra) {
  return buf_reserve(b, extra);
}


int gc_buf_append(gc_buf *b, const void *p, size_t n) {
  if (buf_reserve(b, n) != 0) return -1;
  if (n > 0) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}


int gc_buf_puts(gc_buf *b, const char *s) {
  return gc_buf_append(b, s, strlen(s));
}


void gc_buf_reset(gc_buf *b, int wipe) {
  if (b->data != NULL) {
    if (wipe) gc_wipe(b->data, b->len); /* past len: wiped when it was last reset */
    b->data[0] = '\0';
  }
  b->len = 0;
}


void gc_buf_free(gc_buf *b, int wipe) {
  if (b->data != NULL && wipe) gc_wipe(b->data, b->cap);
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

/* }====================================================== */


void gc_wipe(void *p, size_t n) {
#if defined(__GNUC__)
  memset(p, 0, n);
  __asm__ __volatile__("" : : "r"(p) : "memory"); /* the stores may not be elided */
#else
  volatile unsigned char *v = (volatile unsigned char *)p;
  while (n--) *v++ = 0;
#endif
}


char *gc_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = (char *)malloc(n);
  if (d != NULL) memcpy(d, s, n);
  return d;
}


char *gc_concat(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 1;
  char *d = (char *)malloc(n);
  if (d != NULL) (void)snprintf(d, n, "%s%s", a, b);
  return d;
}


void gc_free_secret(char **s) {
  if (*s != NULL) {
    gc_wipe(*s, strlen(*s));
    free(*s);
    *s = NULL;
  }
}


/* RFC 3986 unreserved characters (letters, digits, -._~) as a bitmap of
** the 128 ASCII codes. */
static const uint64_t UNRESERVED[2] = {UINT64_C(0x03ff600000000000), UINT64_C(0x47fffffe87fffffe)};

static int is_unreserved(unsigned char c) {
  return c < 128 && ((UNRESERVED[c >> 6] >> (c & 63)) & 1u);
}


static int kept(unsigned char c, const char *keep) {
  return is_unreserved(c) || (c != '\0' && keep != NULL && strchr(keep, c) != NULL);
}


size_t gc_escaped_len(const char *s, size_t n, const char *keep) {
  size_t i, len = n;
  for (i = 0; i < n; i++)
    if (!kept((unsigned char)s[i], keep)) len += 2;
  return len;
}


void gc_escape_to(char *dst, const char *s, size_t n, const char *keep) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (kept(c, keep)) {
      *dst++ = (char)c;
    } else {
      *dst++ = '%';
      *dst++ = hex[c >> 4];
      *dst++ = hex[c & 15];
    }
  }
}


int gc_escape(gc_buf *out, const char *s, size_t n, const char *keep) {
  size_t len;
  if (n > ((size_t)-1 - 1) / 3) return -1;
  len = gc_escaped_len(s, n, keep);
  if (buf_reserve(out, len) != 0) return -1;
  gc_escape_to(out->data + out->len, s, n, keep);
  out->len += len;
  out->data[out->len] = '\0';
  return 0;
}


/*
** {======================================================
** Redaction: a secret in every shape a server may echo it
** =======================================================
*/

static int hexval(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}


static int hex4(const unsigned char *p, size_t n) {
  int v = 0, i;
  if (n < 4) return -1;
  for (i = 0; i < 4; i++) {
    int h = hexval(p[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}


static size_t utf8_encode(unsigned long cp, unsigned char *out) {
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | (cp >> 6));
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (cp >> 12));
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (cp >> 18));
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}


/* The escape starting at p, if it is one: the bytes it stands for in dec
** (*dlen of them) and its own length (*adv). Form encoding: %XX (either
** case), '+' for a space; JSON: \/ \" \\ \b \f \n \r \t, \uXXXX (with
** surrogate pairs). *dlen is 0 for a plain byte. */
static void escape_at(const unsigned char *p, size_t n, unsigned char dec[4], size_t *dlen,
                      size_t *adv) {
  static const char from[] = "/\"\\bfnrt", to[] = "/\"\\\b\f\n\r\t";
  *dlen = 0;
  if (p[0] == '%' && n >= 3 && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
    dec[0] = (unsigned char)(hexval(p[1]) * 16 + hexval(p[2]));
    *dlen = 1, *adv = 3;
  } else if (p[0] == '+') {
    dec[0] = ' ';
    *dlen = 1, *adv = 1;
  } else if (p[0] == '\\' && n >= 2 && p[1] != '\0' && strchr(from, p[1]) != NULL) {
    dec[0] = (unsigned char)to[strchr(from, p[1]) - from];
    *dlen = 1, *adv = 2;
  } else if (p[0] == '\\' && n >= 6 && p[1] == 'u') {
    long cp = hex4(p + 2, n - 2);
    if (cp >= 0xD800 && cp <= 0xDBFF) { /* a pair, or nothing */
      long lo = (n >= 12 && p[6] == '\\' && p[7] == 'u') ? hex4(p + 8, n - 8) : -1;
      if (lo < 0xDC00 || lo > 0xDFFF) return;
      cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      *adv = 12;
    } else if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) {
      return;
    } else {
      *adv = 6;
    }
    *dlen = utf8_encode((unsigned long)cp, dec);
  }
}


/* Whether t[0..n) starts with s[0..m) spelled in any mix of raw bytes and
** escapes; *used gets the length spelled. Two readings fit only where the
** text has %25 or \\ and the secret '%' or '\': the escape is tried first,
** the raw byte kept to come back to. Bounded: a few dozen such places and
** 64 Ki steps, far more than any real secret needs. */
static int spells(const unsigned char *t, size_t n, const unsigned char *s, size_t m,
                  size_t *used) {
  size_t back_i[32], back_j[32], i = 0, j = 0;
  int top = 0;
  long steps = 65536;
  for (;;) {
    if (j == m) {
      *used = i;
      return 1;
    }
    if (i < n && --steps >= 0) {
      unsigned char dec[4];
      size_t dlen, adv = 0;
      int raw = (t[i] == s[j]), esc;
      escape_at(t + i, n - i, dec, &dlen, &adv);
      esc = (dlen > 0 && dlen <= m - j && memcmp(s + j, dec, dlen) == 0);
      if (esc && raw && top < 32) {
        back_i[top] = i + 1, back_j[top] = j + 1;
        top++;
      }
      if (esc) {
        i += adv, j += dlen;
        continue;
      }
      if (raw) {
        i++, j++;
        continue;
      }
    }
    if (top == 0 || steps < 0) return 0;
    top--;
    i = back_i[top], j = back_j[top];
  }
}


/* The first place from `from` where the secret is spelled, or buf->len. */
static size_t find_secret(const gc_buf *buf, size_t from, const char *secret, size_t slen,
                          size_t *used) {
  const unsigned char *t = (const unsigned char *)buf->data;
  size_t i;
  for (i = from; i < buf->len; i++)
    if (spells(t + i, buf->len - i, (const unsigned char *)secret, slen, used)) return i;
  return buf->len;
}


int gc_redact(gc_buf *buf, const char *secret) {
  static const char mark[] = "<redacted>";
  size_t slen, at, used = 0, done = 0;
  gc_buf tmp = {NULL, 0, 0};
  if (secret == NULL || (slen = strlen(secret)) == 0 || buf->len == 0) return 0;
  at = find_secret(buf, 0, secret, slen, &used);
  if (at == buf->len) return 0; /* the usual case: nothing copied */
  while (at < buf->len) {
    if (gc_buf_append(&tmp, buf->data + done, at - done) != 0 ||
        gc_buf_append(&tmp, mark, sizeof(mark) - 1) != 0)
      goto nomem;
    done = at + used;
    at = find_secret(buf, done, secret, slen, &used);
  }
  if (gc_buf_append(&tmp, buf->data + done, buf->len - done) != 0) goto nomem;
  gc_buf_free(buf, 1);
  *buf = tmp;
  return 0;
nomem:
  gc_buf_free(&tmp, 1);
  return -1;
}

/* }====================================================== */


/*
** {======================================================
** Retry-After (RFC 9110 section 10.2.3)
** =======================================================
*/

static int month_index(const char *m) {
  static const char *const names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int i;
  for (i = 0; i < 12; i++)
    if (strcmp(m, names[i]) == 0) return i;
  return -1;
}


/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm) */
static long days_from_civil(long y, long m, long d) {
  long era, yoe, doy, doe;
  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}


static double http_date(const char *v) {
  char wday[16], mon[4], tz[4], tail;
  int d, y, hh, mm, ss, mi;
  /* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
  if (sscanf(v, "%3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d %3s%c", wday, &d, mon, &y, &hh, &mm,
             &ss, tz, &tail) == 8) {
  }
  /* obsolete RFC 850: Sunday, 06-Nov-94 08:49:37 GMT */
  else if (sscanf(v, "%15[A-Za-z], %2d-%3[A-Za-z]-%4d %2d:%2d:%2d %3s%c", wday, &d, mon, &y, &hh,
                  &mm, &ss, tz, &tail) == 8) {
    if (y < 100) y += (y < 70) ? 2000 : 1900;
  }
  /* obsolete asctime: Sun Nov  6 08:49:37 1994 */
  else if (sscanf(v, "%3[A-Za-z] %3[A-Za-z] %2d %2d:%2d:%2d %4d%c", wday, mon, &d, &hh, &mm, &ss,
                  &y, &tail) == 7) {
    strcpy(tz, "GMT");
  } else
    return -1;
  mi = month_index(mon);
  if (mi < 0 || strcmp(tz, "GMT") != 0 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 ||
      y < 1970 || y > 9999 || hh < 0 || mm < 0 || ss < 0)
    return -1;
  return (double)days_from_civil(y, mi + 1, d) * 86400.0 + hh * 3600.0 + mm * 60.0 + ss;
}


double gc_parse_retry_after(const char *value, double now) {
  const char *p = value;
  while (*p == ' ' || *p == '\t') p++;
  if (*p >= '0' && *p <= '9') { /* delta-seconds, fractions seen from Graph */
    double whole = 0, frac = 0, scale = 1;
    int digits = 0;
    for (; *p >= '0' && *p <= '9'; p++, digits++)
      if (whole < 1e9) whole = whole * 10 + (*p - '0');
    if (*p == '.') { /* digits as an integer over a power of ten: 0.3 is 3/10 */
      for (p++; *p >= '0' && *p <= '9'; p++)
        if (scale < 1e15) {
          frac = frac * 10 + (*p - '0');
          scale *= 10;
        }
    }
    while (*p == ' ' || *p == '\t') p++;
    return (*p == '\0' && digits > 0) ? whole + frac / scale : -1;
  } else {
    double t = http_date(p);
    if (t < 0) return -1;
    return (t > now) ? t - now : 0;
  }
}

/* }====================================================== */


int gc_random(unsigned char *out, size_t n) {
  size_t got = 0;
#if defined(__linux__)
  while (got < n) {
    ssize_t r = getrandom(out + got, n - got, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      break;
    }
    got += (size_t)r;
  }
#endif
  if (got < n) {
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0) return -1;
    while (got < n) {
      ssize_t r = read(fd, out + got, n - got);
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        close(fd);
        return -1;
      }
      got += (size_t)r;
    }
    close(fd);
  }
  return 0;
}


static volatile unsigned long forks;
static pthread_once_t forks_once = PTHREAD_ONCE_INIT;

static void count_fork(void) {
  forks++;
}

/* glibc drops the handler when the library is unloaded */
static void watch_forks(void) {
  (void)pthread_atfork(NULL, NULL, count_fork);
}

unsigned long gc_forks(void) {
  pthread_once(&forks_once, watch_forks);
  return forks;
}


/* Random bytes for GUIDs come from a small per-thread pool, so a request
** costs no read from the kernel; the pool is refilled from it, and emptied
** in a child after fork(), which would otherwise repeat the parent's GUIDs. */
#if defined(__GNUC__)
#define GC_THREAD_LOCAL __thread
#else
#define GC_THREAD_LOCAL
#endif
static GC_THREAD_LOCAL unsigned char guid_pool[512];
static GC_THREAD_LOCAL size_t guid_pool_left;
static GC_THREAD_LOCAL unsigned long guid_pool_forks;

void gc_guid(char out[37]) {
  static const char hex[] = "0123456789abcdef";
  unsigned char *b;
  int i, j;
  unsigned long f = gc_forks();
  if (f != guid_pool_forks) {
    guid_pool_forks = f;
    guid_pool_left = 0;
  }
  if (guid_pool_left < 16) {
    if (gc_random(guid_pool, sizeof guid_pool) != 0) { /* never expected on Linux */
      size_t k;
      unsigned long x = (unsigned long)time(NULL) ^ (unsigned long)clock();
      for (k = 0; k < sizeof guid_pool; k++) {
        x = x * 1103515245UL + 12345UL;
        guid_pool[k] = (unsigned char)(x >> 16);
      }
    }
    guid_pool_left = sizeof guid_pool;
  }
  b = guid_pool + (sizeof guid_pool - guid_pool_left);
  guid_pool_left -= 16;
  b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
  b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
  for (i = 0, j = 0; i < 16; i++) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out[j++] = '-';
    out[j++] = hex[b[i] >> 4];
    out[j++] = hex[b[i] & 15];
  }
  out[j] = '\0';
  gc_wipe(b, 16); /* a GUID is not a secret, but used bytes never serve twice */
}


double gc_monotonic(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


double gc_walltime(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}


void gc_sleep(double seconds) {
  struct timespec ts;
  if (!(seconds > 0)) return;
  if (seconds > 86400) seconds = 86400;
  ts.tv_sec = (time_t)seconds;
  ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}
