/*
** gc_hlist.c: request header lines in one buffer (see gc_hlist.h).
*/
#include <stdlib.h>
#include <string.h>

#include "gc_hlist.h"
#include "gc_visibility.h" /* last: see there */

#define REF ((size_t)-1) /* an offset that marks a line kept elsewhere */


void gc_hlist_reset(gc_hlist *h) {
  gc_buf_reset(&h->text, 1);
  h->n = 0;
}


void gc_hlist_free(gc_hlist *h) {
  gc_buf_free(&h->text, 1);
  free(h->offsets);
  free(h->nodes);
  memset(h, 0, sizeof *h);
}


/* Room for one more line in the offsets and nodes arrays. */
static int grow(gc_hlist *h) {
  size_t cap;
  size_t *offsets;
  struct curl_slist *nodes;
  if (h->n < h->cap) return 0;
  cap = h->cap ? h->cap * 2 : 16;
  offsets = (size_t *)realloc(h->offsets, cap * sizeof *offsets);
  if (offsets == NULL) return -1;
  h->offsets = offsets;
  nodes = (struct curl_slist *)realloc(h->nodes, cap * sizeof *nodes);
  if (nodes == NULL) return -1;
  h->nodes = nodes;
  h->cap = cap;
  return 0;
}


int gc_hlist_add(gc_hlist *h, const char *name, size_t nlen, const char *value, size_t vlen) {
  size_t sep = vlen ? 2 : 1;
  char *p;
  if (nlen + vlen < nlen || nlen + vlen > (size_t)-1 - 4) return -1;
  if (grow(h) != 0 || gc_buf_reserve(&h->text, nlen + sep + vlen + 1) != 0) return -1;
  h->offsets[h->n++] = h->text.len;
  p = h->text.data + h->text.len;
  memcpy(p, name, nlen);
  memcpy(p + nlen, vlen ? ": " : ";", sep);
  if (vlen) memcpy(p + nlen + sep, value, vlen);
  p[nlen + sep + vlen] = '\0';
  h->text.len += nlen + sep + vlen + 1;
  h->text.data[h->text.len] = '\0';
  return 0;
}


int gc_hlist_add_line(gc_hlist *h, const char *line) {
  if (grow(h) != 0) return -1;
  h->offsets[h->n] = h->text.len;
  if (gc_buf_append(&h->text, line, strlen(line) + 1) != 0) return -1;
  h->n++;
  return 0;
}


int gc_hlist_add_ref(gc_hlist *h, const char *line) {
  if (grow(h) != 0) return -1;
  h->offsets[h->n] = REF;
  h->nodes[h->n++].data = (char *)line; /* libcurl only reads it */
  return 0;
}


/* The text may have moved while lines were added: point the nodes now. */
struct curl_slist *gc_hlist_link(gc_hlist *h) {
  size_t i;
  if (h->n == 0) return NULL;
  for (i = 0; i < h->n; i++) {
    if (h->offsets[i] != REF) h->nodes[i].data = h->text.data + h->offsets[i];
    h->nodes[i].next = i + 1 < h->n ? &h->nodes[i + 1] : NULL;
  }
  return h->nodes;
}
