#include "error.h"
#include "buf.h"
#include "xmalloc.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void bw_error_release(struct bw_error *e)
{
    if (!e)
        return;
    free(e->file);
    free(e->path);
    free(e->msg);
    memset(e, 0, sizeof(*e));
}

__attribute__((format(printf, 7, 0))) static void vset(struct bw_error *e, enum bw_errcode code,
                                                       const char *file, const char *path, int line,
                                                       int col, const char *fmt, va_list ap)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_vaddf(&b, fmt, ap);
    bw_error_release(e);
    e->code = code;
    e->file = bw_xstrdup(file);
    e->path = bw_xstrdup(path);
    e->line = line;
    e->col = col;
    e->msg = bw_buf_detach(&b);
    /* Messages quote what files, guests and servers said: no byte of it may drive the
     * terminal the message is printed on (an ESC sequence, a carriage return). */
    for (char *p = e->msg; *p; p++)
        if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            *p = '?';
}

void bw_error_set(struct bw_error *e, enum bw_errcode code, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, NULL, NULL, 0, 0, fmt, ap);
    va_end(ap);
}

void bw_error_at(struct bw_error *e, enum bw_errcode code, const char *file, const char *path,
                 int line, int col, const char *fmt, ...)
{
    if (!e)
        return;
    va_list ap;
    va_start(ap, fmt);
    vset(e, code, file, path, line, col, fmt, ap);
    va_end(ap);
}

void bw_error_vat(struct bw_error *e, enum bw_errcode code, const char *file, const char *path,
                  int line, int col, const char *fmt, va_list ap)
{
    if (e)
        vset(e, code, file, path, line, col, fmt, ap);
}

void bw_error_prefix(struct bw_error *e, const char *fmt, ...)
{
    if (!e)
        return;
    struct bw_buf b = BW_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    bw_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    bw_buf_adds(&b, ": ");
    bw_buf_adds(&b, e->msg ? e->msg : "unknown error");
    free(e->msg);
    e->msg = bw_buf_detach(&b);
}

void bw_error_move(struct bw_error *dst, struct bw_error *src)
{
    bw_error_release(dst);
    *dst = *src;
    memset(src, 0, sizeof(*src));
}

char *bw_error_format(const struct bw_error *e)
{
    struct bw_buf b = BW_BUF_INIT;
    if (e->file) {
        bw_buf_adds(&b, e->file);
        if (e->line > 0) {
            bw_buf_addf(&b, ":%d", e->line);
            if (e->col > 0)
                bw_buf_addf(&b, ":%d", e->col);
        }
        bw_buf_adds(&b, ": ");
    }
    if (e->path && *e->path)
        bw_buf_addf(&b, "%s: ", e->path);
    bw_buf_adds(&b, e->msg ? e->msg : "unknown error");
    return bw_buf_detach(&b);
}

void bw_errors_take(struct bw_errors *list, struct bw_error *e)
{
    BW_GROW(list->v, list->alloc, list->n + 1);
    list->v[list->n++] = *e;
    memset(e, 0, sizeof(*e));
}

void bw_errors_release(struct bw_errors *list)
{
    for (size_t i = 0; i < list->n; i++)
        bw_error_release(&list->v[i]);
    free(list->v);
    memset(list, 0, sizeof(*list));
}
