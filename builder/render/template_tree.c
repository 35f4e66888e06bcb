/* The parsed form of a template: errors at a position in its text, and freeing. */
#include "template_int.h"

#include <stdlib.h>
#include <string.h>

static void pos_of(const struct bw_template *t, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off && i < t->len; i++) {
        if (t->src[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)t->src[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

int bw_tmpl_fail_at(const struct bw_template *t, struct bw_error *err, enum bw_errcode code,
                    size_t off, const char *fmt, ...)
{
    int line, col;
    pos_of(t, off, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    bw_error_vat(err, code, t->name, NULL, line, col, fmt, ap);
    va_end(ap);
    return -1;
}

static void nodelist_release(struct nodelist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        bw_tmpl_pipeline_free(l->v[i].pipe);
        nodelist_release(&l->v[i].body);
        nodelist_release(&l->v[i].alt);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

void bw_tmpl_pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t j = 0; j < p->cmds[i].n; j++) {
            free(p->cmds[i].ops[j].s);
            bw_tmpl_pipeline_free(p->cmds[i].ops[j].pipe);
        }
        free(p->cmds[i].ops);
    }
    free(p->cmds);
    free(p);
}

void bw_template_free(struct bw_template *t)
{
    if (!t)
        return;
    nodelist_release(&t->root);
    free(t->name);
    free(t->src);
    free(t);
}
