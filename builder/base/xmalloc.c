#include "xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void out_of_memory(size_t size)
{
    fprintf(stderr, "boxwright: out of memory (%zu bytes)\n", size);
    abort();
}

void *bw_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (!p)
        out_of_memory(size);
    return p;
}

void *bw_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        out_of_memory(n * size);
    return p;
}

void *bw_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (!p)
        out_of_memory(size);
    return p;
}

char *bw_xstrdup(const char *s)
{
    return s ? bw_xstrndup(s, strlen(s)) : NULL;
}

char *bw_xstrndup(const char *s, size_t n)
{
    char *p = bw_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *bw_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = bw_xmalloc((size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void bw_grow(void **items, size_t *alloc, size_t need, size_t elem)
{
    if (need <= *alloc)
        return;
    size_t n = *alloc ? *alloc : 8;
    while (n < need)
        n *= 2;
    *items = bw_xrealloc(*items, n * elem);
    *alloc = n;
}
