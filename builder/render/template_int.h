/*
 * template_int - the parsed form of a template and what the engine's files
 * share (private to builder/render/).
 *
 * template_parse.c turns text into a tree of nodes, template_exec.c runs
 * it, template_funcs.c is the function library it calls, template_tree.c
 * holds errors with positions and freeing; template.c is bw_render.
 */
#ifndef BW_TEMPLATE_INT_H
#define BW_TEMPLATE_INT_H

#include "template.h"
#include "../base/buf.h"

#include <stdbool.h>
#include <stddef.h>

enum op_type { OP_DOT, OP_FIELD, OP_STRING, OP_BOOL, OP_FUNC, OP_PIPE };

struct func;

struct pipeline;

struct operand {
    enum op_type type;
    char *s; /* field name or string literal */
    bool b;
    const struct func *fn;
    struct pipeline *pipe;
    size_t off;
};

struct command {
    struct operand *ops;
    size_t n, alloc;
    size_t off;
};

struct pipeline {
    struct command *cmds;
    size_t n, alloc;
    size_t off;
};

enum node_type { N_TEXT, N_OUTPUT, N_IF, N_RANGE };

struct node;

struct nodelist {
    struct node *v;
    size_t n, alloc;
};

struct node {
    enum node_type type;
    size_t off;
    size_t text_start, text_len; /* N_TEXT, into the template's source */
    struct pipeline *pipe;       /* N_OUTPUT, N_IF, N_RANGE */
    struct nodelist body, alt;   /* then/else, or range body/else */
};

struct bw_template {
    char *name;
    char *src;
    size_t len;
    struct nodelist root;
};

struct exec;

typedef int (*func_fn)(struct exec *ex, struct bw_value *args, size_t n, size_t off,
                       struct bw_value *out);

struct func {
    const char *name;
    size_t min_args, max_args;
    func_fn fn;
};

struct exec {
    const struct bw_template *t;
    const struct bw_render_ctx *ctx;
    struct bw_error *err;
    size_t start;        /* out->len when execution began */
    unsigned long steps; /* nodes executed so far */
};

/*
 * What one rendering may cost. Answer files are kilobytes; a template that nests ranges
 * doubles its output per level (26 levels of a two-item list took 27 s and 3.2 GB), and one
 * whose ranges have empty bodies loops without writing anything.
 */
#define MAX_OUTPUT (4u << 20)

#define MAX_STEPS 1000000UL

/* template_tree.c */
int bw_tmpl_fail_at(const struct bw_template *t, struct bw_error *err, enum bw_errcode code,
                    size_t off, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void bw_tmpl_pipeline_free(struct pipeline *p);

/* template_funcs.c */
const char *bw_tmpl_kind_name(const struct bw_value *v);
void bw_tmpl_set_string(struct bw_value *out, char *owned);
void bw_tmpl_set_bool(struct bw_value *out, bool b);
const struct func *bw_tmpl_find_func(const char *name, size_t len);
/* Appends the names of every function, ", " between them (for an unknown one's error). */
void bw_tmpl_func_names(struct bw_buf *out);

#endif
