/* libFuzzer target: percent-encoding (paths, queries, form bodies), secret
** redaction (raw and form-encoded shapes), text for a terminal and
** base64url, with round-trip and invariant checks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../csrc/gc_display.h"
#include "../csrc/gc_jwt.h"
#include "../csrc/gc_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  gc_buf e = {NULL, 0, 0}, d = {NULL, 0, 0}, r = {NULL, 0, 0}, b = {NULL, 0, 0};
  size_t i;
  char secret[8];
  if (gc_escape(&e, (const char *)data, size, NULL) != 0) abort();
  for (i = 0; i < e.len; i++) { /* only unreserved characters and %XX remain */
    unsigned char c = (unsigned char)e.data[i];
    if (c == '%') {
      int hi = hexval(e.data[i + 1]), lo = hexval(e.data[i + 2]);
      unsigned char x;
      if (hi < 0 || lo < 0) abort();
      x = (unsigned char)(hi * 16 + lo);
      gc_buf_append(&d, &x, 1);
      i += 2;
    } else {
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~'))
        abort();
      gc_buf_append(&d, &c, 1);
    }
  }
  if (d.len != size || (size > 0 && memcmp(d.data, data, size) != 0)) abort();
  /* redact the first bytes (as a C string) out of the whole input */
  if (size > 2) {
    size_t n = size < sizeof secret ? size - 1 : sizeof secret - 1;
    memcpy(secret, data, n);
    secret[n] = '\0';
    gc_buf_append(&r, data, size);
    if (gc_redact(&r, secret) != 0) abort();
    /* the replacement text itself could spell the secret: skip those */
    if (strlen(secret) > 0 && strpbrk(secret, "<redacted>") == NULL &&
        memchr(r.data, '\0', r.len) == NULL && strstr(r.data, secret) != NULL)
      abort();
  }
  /* the form-encoded shape of the secret, appended, is redacted too */
  if (size > 2 && strlen(secret) > 0) {
    gc_buf f = {NULL, 0, 0}, t = {NULL, 0, 0};
    if (gc_escape(&f, secret, strlen(secret), NULL) != 0) abort();
    gc_buf_append(&t, data, size);
    gc_buf_append(&t, f.data, f.len);
    if (gc_redact(&t, secret) != 0) abort();
    if (strpbrk(f.data, "<redacted>") == NULL && memchr(t.data, '\0', t.len) == NULL &&
        strstr(t.data, f.data) != NULL)
      abort();
    gc_buf_free(&f, 0);
    gc_buf_free(&t, 0);
  }
  /* text for a terminal: no ESC, no C0 but newline, no DEL, no C1 */
  {
    gc_buf v = {NULL, 0, 0};
    if (gc_display_text(&v, (const char *)data, size) != 0) abort();
    for (i = 0; i < v.len; i++) {
      unsigned char c = (unsigned char)v.data[i];
      if ((c < 0x20 && c != '\n') || c == 0x7f) abort();
      if (c == 0xC2 && i + 1 < v.len && (unsigned char)v.data[i + 1] >= 0x80 &&
          (unsigned char)v.data[i + 1] <= 0x9f)
        abort();
    }
    gc_buf_free(&v, 0);
  }
  if (gc_base64url(&b, data, size) != 0 || b.len != (size * 4 + 2) / 3) abort();
  gc_buf_free(&e, 0);
  gc_buf_free(&d, 0);
  gc_buf_free(&r, 0);
  gc_buf_free(&b, 0);
  return 0;
}
