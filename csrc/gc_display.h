/*
** gc_display.h: text from a server made safe to show on a terminal.
*/
#ifndef GC_DISPLAY_H
#define GC_DISPLAY_H

#include <stddef.h>
#include "gc_util.h"

/* Append s[0..n) to out without terminal escape sequences (ESC and 8-bit
** CSI, OSC, DCS, ... with what they carry), C0 controls but newline, DEL,
** C1 controls and bidirectional overrides; invalid UTF-8 becomes U+FFFD.
** 0 or -1 (out of memory). */
int gc_display_text(gc_buf *out, const char *s, size_t n);

#endif
