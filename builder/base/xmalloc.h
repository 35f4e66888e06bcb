/*
 * xmalloc - the one place boxwright reacts to memory exhaustion.
 *
 * Every allocation in the project goes through these wrappers. They never
 * return NULL: when the C library cannot satisfy a request they print one
 * line to stderr and abort(). Nothing else in boxwright aborts; every other
 * failure is a value (see error.h).
 */
#ifndef BW_XMALLOC_H
#define BW_XMALLOC_H

#include <stddef.h>

void *bw_xmalloc(size_t size);
void *bw_xcalloc(size_t n, size_t size);
void *bw_xrealloc(void *ptr, size_t size);
/* Returns a new copy of s (NULL stays NULL); caller frees. */
char *bw_xstrdup(const char *s);
/* Returns a new NUL-terminated copy of the first n bytes of s; caller frees. */
char *bw_xstrndup(const char *s, size_t n);
/* Returns a new string built like printf; caller frees. */
char *bw_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Grows *items (of *alloc elements of size elem) so that index `need - 1` fits. */
void bw_grow(void **items, size_t *alloc, size_t need, size_t elem);
#define BW_GROW(arr, alloc, need) bw_grow((void **)&(arr), &(alloc), (need), sizeof(*(arr)))

#endif
