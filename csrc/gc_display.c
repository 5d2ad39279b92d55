/*
** gc_display.c: text from a server made safe to show on a terminal (the
** device code prompt): what a terminal would act on is dropped, not shown.
*/
#include "gc_display.h"
#include "gc_visibility.h" /* last: see there */

/* Length of the valid UTF-8 sequence at p (its code point in *cp), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n, unsigned long *cp) {
  size_t len, i;
  unsigned long v, min;
  if (p[0] < 0xC2 || p[0] > 0xF4) return 0; /* continuation, overlong or too big */
  if (p[0] < 0xE0)
    len = 2, v = p[0] & 0x1F, min = 0x80;
  else if (p[0] < 0xF0)
    len = 3, v = p[0] & 0x0F, min = 0x800;
  else
    len = 4, v = p[0] & 0x07, min = 0x10000;
  if (n < len) return 0;
  for (i = 1; i < len; i++) {
    if ((p[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (p[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}


/* Past a control sequence's parameters, intermediates and final byte. */
static size_t skip_csi(const unsigned char *p, size_t n, size_t i) {
  while (i < n && p[i] >= 0x30 && p[i] <= 0x3F) i++;
  while (i < n && p[i] >= 0x20 && p[i] <= 0x2F) i++;
  if (i < n && p[i] >= 0x40 && p[i] <= 0x7E) i++;
  return i;
}


/* Past a control string (OSC, DCS, SOS, PM, APC) and its terminator: BEL,
** ESC \ or the 8-bit ST. Unterminated: it runs to the end. */
static size_t skip_string(const unsigned char *p, size_t n, size_t i) {
  for (; i < n; i++) {
    if (p[i] == 0x07) return i + 1;
    if (p[i] == 0x1B && i + 1 < n && p[i + 1] == '\\') return i + 2;
    if (p[i] == 0xC2 && i + 1 < n && p[i + 1] == 0x9C) return i + 2;
  }
  return n;
}


/* Past the escape sequence whose ESC is just before i. */
static size_t skip_escape(const unsigned char *p, size_t n, size_t i) {
  if (i >= n) return n;
  if (p[i] == '[') return skip_csi(p, n, i + 1);
  if (p[i] == ']' || p[i] == 'P' || p[i] == 'X' || p[i] == '^' || p[i] == '_')
    return skip_string(p, n, i + 1);
  while (i < n && p[i] >= 0x20 && p[i] <= 0x2F) i++; /* intermediates, then the final */
  return (i < n && p[i] >= 0x30 && p[i] <= 0x7E) ? i + 1 : i;
}


static int invisible_format(unsigned long cp) {
  return (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069); /* bidi */
}


int gc_display_text(gc_buf *out, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t i = 0;
  if (gc_buf_reserve(out, n) != 0) return -1;
  while (i < n) {
    unsigned long cp;
    size_t len;
    if (p[i] == 0x1B) {
      i = skip_escape(p, n, i + 1);
    } else if (p[i] < 0x80) {
      if ((p[i] >= 0x20 && p[i] != 0x7F) || p[i] == '\n') {
        if (gc_buf_append(out, p + i, 1) != 0) return -1;
      }
      i++;
    } else if ((len = utf8_seq(p + i, n - i, &cp)) == 0) {
      if (gc_buf_puts(out, "\xEF\xBF\xBD") != 0) return -1; /* U+FFFD */
      i++;
    } else if (cp == 0x9B) { /* 8-bit CSI */
      i = skip_csi(p, n, i + len);
    } else if (cp == 0x90 || cp == 0x98 || cp == 0x9D || cp == 0x9E || cp == 0x9F) {
      i = skip_string(p, n, i + len);
    } else {
      if (cp > 0x9F && !invisible_format(cp) && gc_buf_append(out, p + i, len) != 0) return -1;
      i += len;
    }
  }
  return gc_buf_append(out, "", 0); /* NUL-terminated even when empty */
}
