/*
** gc_hlist.h: a request's header lines as a curl_slist without a malloc per
** line. The lines live in one buffer and the list nodes in one array, both
** kept between requests; the buffer is wiped on reset (a line may carry the
** token).
*/
#ifndef GC_HLIST_H
#define GC_HLIST_H

#include <curl/curl.h>
#include <stddef.h>

#include "gc_util.h"

typedef struct gc_hlist {
  gc_buf text;              /* "Name: value\0Name: value\0..." */
  size_t *offsets;          /* where each line starts in text */
  struct curl_slist *nodes; /* linked by gc_hlist_link */
  size_t n, cap;
} gc_hlist;

void gc_hlist_reset(gc_hlist *h); /* no lines; the memory is kept, the text wiped */
void gc_hlist_free(gc_hlist *h);

/* Add "Name: value", or "Name;" for an empty value (libcurl's way of
** sending one). 0, or -1 when out of memory. */
int gc_hlist_add(gc_hlist *h, const char *name, size_t nlen, const char *value, size_t vlen);
int gc_hlist_add_line(gc_hlist *h, const char *line); /* a whole "Name: value" */
/* A whole line that lives elsewhere, not copied: it must outlive the
** request (the token's Authorization line: one copy fewer of a secret). */
int gc_hlist_add_ref(gc_hlist *h, const char *line);

/* The lines as a list for CURLOPT_HTTPHEADER, valid until the next add,
** reset or free; NULL when there are none. */
struct curl_slist *gc_hlist_link(gc_hlist *h);

#endif
