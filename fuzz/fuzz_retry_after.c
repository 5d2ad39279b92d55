/* libFuzzer target: Retry-After values (delta-seconds or HTTP-date). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../csrc/gc_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *s = (char *)malloc(size + 1);
  double v;
  if (s == NULL) return 0;
  memcpy(s, data, size);
  s[size] = '\0'; /* header values reach the parser NUL-terminated */
  v = gc_parse_retry_after(s, 1700000000.0);
  if (!(v == -1 || v >= 0)) abort(); /* never NaN or negative but the error value */
  free(s);
  return 0;
}
