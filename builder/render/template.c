#include "template.h"
#include "../base/xmalloc.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- the parsed form ---- */

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

/* ---- functions ---- */

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
#define MAX_STEPS  1000000UL

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

static int fail_at(const struct bw_template *t, struct bw_error *err, enum bw_errcode code,
                   size_t off, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail_at(const struct bw_template *t, struct bw_error *err, enum bw_errcode code,
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

static const char *kind_name(const struct bw_value *v)
{
    static const char *const names[] = {"a string", "a boolean", "a list"};
    return names[v->kind];
}

static void set_string(struct bw_value *out, char *owned)
{
    memset(out, 0, sizeof(*out));
    out->kind = BW_VAL_STRING;
    out->s = owned;
}

static void set_bool(struct bw_value *out, bool b)
{
    memset(out, 0, sizeof(*out));
    out->kind = BW_VAL_BOOL;
    out->b = b;
}

static int need_string(struct exec *ex, const struct bw_value *v, size_t off, const char *fn)
{
    if (v->kind == BW_VAL_STRING)
        return 0;
    return fail_at(ex->t, ex->err, BW_ERR_RENDER, off, "%s: expected a string, got %s", fn,
                   kind_name(v));
}

static int fn_user(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)n;
    if (need_string(ex, &a[0], off, "user") < 0)
        return -1;
    const struct bw_var *v = bw_vars_get(ex->ctx->vars, a[0].s);
    if (!v || v->builtin)
        return fail_at(ex->t, ex->err, BW_ERR_RENDER, off,
                       "user \"%s\": no such variable in the definition's \"variables\"", a[0].s);
    bw_value_copy(out, &v->value);
    out->sensitive = v->sensitive;
    return 0;
}

static int fn_env(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)n;
    if (need_string(ex, &a[0], off, "env") < 0)
        return -1;
    const char *v = ex->ctx->getenv ? ex->ctx->getenv(a[0].s) : getenv(a[0].s);
    set_string(out, bw_xstrdup(v ? v : ""));
    return 0;
}

static int fn_default(struct exec *ex, struct bw_value *a, size_t n, size_t off,
                      struct bw_value *out)
{
    (void)ex, (void)n, (void)off;
    bw_value_copy(out, bw_value_is_true(&a[1]) ? &a[1] : &a[0]);
    return 0;
}

static int fn_quote(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)n;
    if (need_string(ex, &a[0], off, "quote") < 0)
        return -1;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_addc(&b, '"');
    for (const unsigned char *p = (const unsigned char *)a[0].s; *p; p++) {
        if (*p == '"' || *p == '\\')
            bw_buf_addf(&b, "\\%c", *p);
        else if (*p == '\n')
            bw_buf_adds(&b, "\\n");
        else if (*p == '\t')
            bw_buf_adds(&b, "\\t");
        else if (*p < 0x20 || *p == 0x7f)
            bw_buf_addf(&b, "\\x%02x", *p);
        else
            bw_buf_addc(&b, (char)*p);
    }
    bw_buf_addc(&b, '"');
    set_string(out, bw_buf_detach(&b));
    return 0;
}

static int fn_join(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)n;
    if (need_string(ex, &a[0], off, "join") < 0)
        return -1;
    if (a[1].kind != BW_VAL_LIST)
        return fail_at(ex->t, ex->err, BW_ERR_RENDER, off,
                       "join: expected a list as the second argument, got %s", kind_name(&a[1]));
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    for (size_t i = 0; i < a[1].n; i++) {
        if (i)
            bw_buf_adds(&b, a[0].s);
        bw_buf_adds(&b, a[1].items[i]);
    }
    set_string(out, bw_buf_detach(&b));
    return 0;
}

static int change_case(struct exec *ex, struct bw_value *a, size_t off, struct bw_value *out,
                       int (*fn)(int), const char *name)
{
    if (need_string(ex, &a[0], off, name) < 0)
        return -1;
    char *s = bw_xstrdup(a[0].s);
    for (char *p = s; *p; p++)
        *p = (char)fn((unsigned char)*p);
    set_string(out, s);
    return 0;
}

static int fn_upper(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)n;
    return change_case(ex, a, off, out, toupper, "upper");
}

static int fn_lower(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)n;
    return change_case(ex, a, off, out, tolower, "lower");
}

static bool values_equal(const struct bw_value *x, const struct bw_value *y)
{
    if (x->kind != y->kind)
        return false;
    if (x->kind == BW_VAL_STRING)
        return strcmp(x->s, y->s) == 0;
    if (x->kind == BW_VAL_BOOL)
        return x->b == y->b;
    if (x->n != y->n)
        return false;
    for (size_t i = 0; i < x->n; i++)
        if (strcmp(x->items[i], y->items[i]))
            return false;
    return true;
}

static int fn_eq(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)ex, (void)n, (void)off;
    set_bool(out, values_equal(&a[0], &a[1]));
    return 0;
}

static int fn_ne(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)ex, (void)n, (void)off;
    set_bool(out, !values_equal(&a[0], &a[1]));
    return 0;
}

static int fn_not(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)ex, (void)n, (void)off;
    set_bool(out, !bw_value_is_true(&a[0]));
    return 0;
}

/*
 * sha512crypt PASSWORD, or sha512crypt SALT PASSWORD for a reproducible hash:
 * the "$6$" crypt(3) form that d-i (passwd/user-password-crypted), kickstart
 * (rootpw --iscrypted) and cloud-init (passwd:) accept. libxcrypt does the
 * hashing and, without a salt, draws 16 salt characters from the OS.
 */
static int fn_sha512crypt(struct exec *ex, struct bw_value *a, size_t n, size_t off,
                          struct bw_value *out)
{
    const struct bw_value *pw = &a[n - 1];
    if (need_string(ex, pw, off, "sha512crypt") < 0)
        return -1;
    char setting[CRYPT_GENSALT_OUTPUT_SIZE];
    if (n == 2) {
        if (need_string(ex, &a[0], off, "sha512crypt") < 0)
            return -1;
        size_t sl = strlen(a[0].s);
        bool ok = sl >= 1 && sl <= 16;
        for (const char *p = a[0].s; ok && *p; p++)
            ok = isalnum((unsigned char)*p) || *p == '.' || *p == '/';
        if (!ok)
            return fail_at(ex->t, ex->err, BW_ERR_RENDER, off,
                           "sha512crypt: salt \"%s\": expected 1 to 16 characters of "
                           "[a-zA-Z0-9./]",
                           a[0].s);
        snprintf(setting, sizeof(setting), "$6$%s$", a[0].s);
    } else if (!crypt_gensalt_rn("$6$", 0, NULL, 0, setting, sizeof(setting))) {
        return fail_at(ex->t, ex->err, BW_ERR_RENDER, off, "sha512crypt: no salt: %s",
                       strerror(errno));
    }
    struct crypt_data *cd = bw_xcalloc(1, sizeof(*cd));
    const char *h = crypt_r(pw->s, setting, cd);
    int rc = 0;
    if (!h || h[0] == '*')
        rc = fail_at(ex->t, ex->err, BW_ERR_RENDER, off, "sha512crypt: hashing failed");
    else
        set_string(out, bw_xstrdup(h));
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return rc;
}

static const struct func funcs[] = {
    {"user", 1, 1, fn_user},
    {"env", 1, 1, fn_env},
    {"default", 2, 2, fn_default},
    {"quote", 1, 1, fn_quote},
    {"join", 2, 2, fn_join},
    {"upper", 1, 1, fn_upper},
    {"lower", 1, 1, fn_lower},
    {"eq", 2, 2, fn_eq},
    {"ne", 2, 2, fn_ne},
    {"not", 1, 1, fn_not},
    {"sha512crypt", 1, 2, fn_sha512crypt},
};

static const struct func *find_func(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, name, len) == 0)
            return &funcs[i];
    return NULL;
}

/* ---- freeing ---- */

static void pipeline_free(struct pipeline *p);

static void nodelist_release(struct nodelist *l)
{
    for (size_t i = 0; i < l->n; i++) {
        pipeline_free(l->v[i].pipe);
        nodelist_release(&l->v[i].body);
        nodelist_release(&l->v[i].alt);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static void pipeline_free(struct pipeline *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        for (size_t j = 0; j < p->cmds[i].n; j++) {
            free(p->cmds[i].ops[j].s);
            pipeline_free(p->cmds[i].ops[j].pipe);
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

/* ---- splitting text from actions ---- */

struct seg {
    bool action;
    size_t start, len; /* text, or the action's inside without delimiters and trim marks */
    size_t open;       /* offset of "{{" */
    bool trim_left, trim_right, comment;
};

struct segs {
    struct seg *v;
    size_t n, alloc;
};

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void add_seg(struct segs *s, struct seg seg)
{
    BW_GROW(s->v, s->alloc, s->n + 1);
    s->v[s->n++] = seg;
}

static int split(const struct bw_template *t, struct segs *out, struct bw_error *err)
{
    const char *src = t->src;
    size_t len = t->len, pos = 0;
    while (pos < len) {
        const char *o = NULL;
        for (size_t i = pos; i + 1 < len; i++)
            if (src[i] == '{' && src[i + 1] == '{') {
                o = src + i;
                break;
            }
        if (!o) {
            add_seg(out, (struct seg){false, pos, len - pos, 0, false, false, false});
            break;
        }
        size_t open = (size_t)(o - src);
        if (open > pos)
            add_seg(out, (struct seg){false, pos, open - pos, 0, false, false, false});
        struct seg a = {true, open + 2, 0, open, false, false, false};
        if (a.start + 1 < len && src[a.start] == '-' && is_space(src[a.start + 1])) {
            a.trim_left = true;
            a.start += 2;
        }
        size_t i = a.start;
        while (i < len && is_space(src[i]))
            i++;
        if (i + 1 < len && src[i] == '/' && src[i + 1] == '*') {
            a.comment = true;
            const char *end = NULL;
            for (size_t k = i + 2; k + 1 < len; k++)
                if (src[k] == '*' && src[k + 1] == '/') {
                    end = src + k;
                    break;
                }
            if (!end)
                return fail_at(t, err, BW_ERR_SYNTAX, open, "unclosed comment: expected */");
            i = (size_t)(end - src) + 2;
        }
        /* Find "}}" outside string literals. */
        size_t close = 0;
        bool found = false;
        while (i < len && !found) {
            char c = src[i];
            if (c == '"' || c == '`') {
                size_t k = i + 1;
                while (k < len && src[k] != c && src[k] != '\n') {
                    if (c == '"' && src[k] == '\\' && k + 1 < len)
                        k++;
                    k++;
                }
                if (k >= len || src[k] != c)
                    return fail_at(t, err, BW_ERR_SYNTAX, i, "unterminated string literal");
                i = k + 1;
            } else if (c == '}' && i + 1 < len && src[i + 1] == '}') {
                close = i;
                found = true;
            } else {
                i++;
            }
        }
        if (!found)
            return fail_at(t, err, BW_ERR_SYNTAX, open, "unclosed action: expected }}");
        size_t end = close;
        if (end >= a.start + 2 && src[end - 1] == '-' && is_space(src[end - 2])) {
            a.trim_right = true;
            end -= 2;
        } else if (end == a.start + 1 && src[end - 1] == '-') {
            a.trim_right = true;
            end -= 1;
        }
        a.len = end > a.start ? end - a.start : 0;
        add_seg(out, a);
        pos = close + 2;
    }
    /* Apply {{- and -}} to the neighbouring text. */
    for (size_t k = 0; k < out->n; k++) {
        struct seg *s = &out->v[k];
        if (!s->action)
            continue;
        if (s->trim_left && k > 0 && !out->v[k - 1].action) {
            struct seg *p = &out->v[k - 1];
            while (p->len && is_space(src[p->start + p->len - 1]))
                p->len--;
        }
        if (s->trim_right && k + 1 < out->n && !out->v[k + 1].action) {
            struct seg *n = &out->v[k + 1];
            while (n->len && is_space(src[n->start])) {
                n->start++;
                n->len--;
            }
        }
    }
    return 0;
}

/* ---- tokens inside an action ---- */

enum tok_type { T_EOF, T_DOT, T_FIELD, T_IDENT, T_STRING, T_PIPE, T_LPAREN, T_RPAREN };

struct tok {
    enum tok_type type;
    size_t off; /* in the template source */
    char *text; /* field/ident name or decoded string; owned */
};

struct toks {
    struct tok *v;
    size_t n, alloc, i;
};

static void toks_release(struct toks *ts)
{
    for (size_t i = 0; i < ts->n; i++)
        free(ts->v[i].text);
    free(ts->v);
    memset(ts, 0, sizeof(*ts));
}

static void add_tok(struct toks *ts, enum tok_type type, size_t off, char *text)
{
    BW_GROW(ts->v, ts->alloc, ts->n + 1);
    ts->v[ts->n++] = (struct tok){type, off, text};
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static int tokenize(const struct bw_template *t, const struct seg *s, struct toks *ts,
                    struct bw_error *err)
{
    const char *src = t->src;
    size_t i = s->start, end = s->start + s->len;
    while (i < end) {
        char c = src[i];
        if (is_space(c)) {
            i++;
        } else if (c == '.') {
            size_t k = i + 1;
            while (k < end && ident_char(src[k]))
                k++;
            if (k == i + 1)
                add_tok(ts, T_DOT, i, NULL);
            else if (k < end && src[k] == '.') {
                while (k < end && (ident_char(src[k]) || src[k] == '.'))
                    k++;
                return fail_at(t, err, BW_ERR_SYNTAX, i,
                               "nested fields such as \"%.*s\" are not supported; variables are "
                               "flat (.Name)",
                               (int)(k - i), src + i);
            } else
                add_tok(ts, T_FIELD, i, bw_xstrndup(src + i + 1, k - i - 1));
            i = k;
        } else if (isalpha((unsigned char)c) || c == '_') {
            size_t k = i;
            while (k < end && ident_char(src[k]))
                k++;
            add_tok(ts, T_IDENT, i, bw_xstrndup(src + i, k - i));
            i = k;
        } else if (c == '"' || c == '`') {
            struct bw_buf b = BW_BUF_INIT;
            bw_buf_init(&b);
            size_t k = i + 1;
            while (k < end && src[k] != c) {
                if (c == '"' && src[k] == '\\' && k + 1 < end) {
                    static const char from[] = "nt\"\\r", to[] = "\n\t\"\\\r";
                    const char *m = strchr(from, src[k + 1]);
                    if (!m || !src[k + 1]) {
                        bw_buf_release(&b);
                        return fail_at(t, err, BW_ERR_SYNTAX, k,
                                       "unknown escape \"\\%c\" in string (expected \\n \\t \\r "
                                       "\\\" or \\\\)",
                                       src[k + 1]);
                    }
                    bw_buf_addc(&b, to[m - from]);
                    k += 2;
                } else {
                    bw_buf_addc(&b, src[k++]);
                }
            }
            if (k >= end) {
                bw_buf_release(&b);
                return fail_at(t, err, BW_ERR_SYNTAX, i, "unterminated string literal");
            }
            add_tok(ts, T_STRING, i, bw_buf_detach(&b));
            i = k + 1;
        } else if (c == '|') {
            add_tok(ts, T_PIPE, i++, NULL);
        } else if (c == '(') {
            add_tok(ts, T_LPAREN, i++, NULL);
        } else if (c == ')') {
            add_tok(ts, T_RPAREN, i++, NULL);
        } else {
            return fail_at(t, err, BW_ERR_SYNTAX, i,
                           "unexpected \"%c\" in action (expected a variable like .Name, a "
                           "function, a \"string\", | or parentheses)",
                           c);
        }
    }
    add_tok(ts, T_EOF, end, NULL);
    return 0;
}

/* ---- parsing ---- */

struct parser {
    struct bw_template *t;
    struct segs segs;
    size_t si; /* next segment */
    struct bw_error *err;
};

static struct tok *cur(struct toks *ts)
{
    return &ts->v[ts->i];
}

static struct pipeline *parse_pipeline(struct parser *p, struct toks *ts, int depth);

static int parse_operand(struct parser *p, struct toks *ts, struct operand *op, int depth)
{
    struct tok *tk = cur(ts);
    memset(op, 0, sizeof(*op));
    op->off = tk->off;
    switch (tk->type) {
    case T_DOT:
        op->type = OP_DOT;
        break;
    case T_FIELD:
        op->type = OP_FIELD;
        op->s = bw_xstrdup(tk->text);
        break;
    case T_STRING:
        op->type = OP_STRING;
        op->s = bw_xstrdup(tk->text);
        break;
    case T_IDENT:
        if (strcmp(tk->text, "true") == 0 || strcmp(tk->text, "false") == 0) {
            op->type = OP_BOOL;
            op->b = tk->text[0] == 't';
            break;
        }
        op->fn = find_func(tk->text, strlen(tk->text));
        if (!op->fn) {
            struct bw_buf names = BW_BUF_INIT;
            for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
                bw_buf_addf(&names, "%s%s", i ? ", " : "", funcs[i].name);
            fail_at(p->t, p->err, BW_ERR_SYNTAX, tk->off, "unknown function \"%s\" (known: %s)",
                    tk->text, names.data);
            bw_buf_release(&names);
            return -1;
        }
        op->type = OP_FUNC;
        break;
    case T_LPAREN:
        ts->i++;
        op->type = OP_PIPE;
        op->pipe = parse_pipeline(p, ts, depth + 1);
        if (!op->pipe)
            return -1;
        if (cur(ts)->type != T_RPAREN)
            return fail_at(p->t, p->err, BW_ERR_SYNTAX, cur(ts)->off, "expected \")\"");
        break;
    default:
        return fail_at(p->t, p->err, BW_ERR_SYNTAX, tk->off,
                       "expected a value (a variable like .Name, a \"string\" or a function)");
    }
    ts->i++;
    return 0;
}

static struct pipeline *parse_pipeline(struct parser *p, struct toks *ts, int depth)
{
    struct pipeline *pl = bw_xcalloc(1, sizeof(*pl));
    pl->off = cur(ts)->off;
    if (depth > 50) {
        fail_at(p->t, p->err, BW_ERR_SYNTAX, pl->off, "parentheses nested too deeply");
        goto fail;
    }
    for (;;) {
        BW_GROW(pl->cmds, pl->alloc, pl->n + 1);
        struct command *cmd = &pl->cmds[pl->n++];
        memset(cmd, 0, sizeof(*cmd));
        cmd->off = cur(ts)->off;
        while (cur(ts)->type != T_EOF && cur(ts)->type != T_PIPE && cur(ts)->type != T_RPAREN) {
            BW_GROW(cmd->ops, cmd->alloc, cmd->n + 1);
            if (parse_operand(p, ts, &cmd->ops[cmd->n], depth) < 0) {
                cmd->n++; /* so the partial operand is freed */
                goto fail;
            }
            cmd->n++;
        }
        if (cmd->n == 0) {
            fail_at(p->t, p->err, BW_ERR_SYNTAX, cmd->off, "missing value in action");
            goto fail;
        }
        const struct operand *first = &cmd->ops[0];
        size_t args = cmd->n - 1 + (pl->n > 1 ? 1 : 0);
        if (first->type != OP_FUNC && (cmd->n > 1 || pl->n > 1)) {
            fail_at(p->t, p->err, BW_ERR_SYNTAX, first->off,
                    "%s is not a function; only functions take arguments or piped values",
                    first->type == OP_FIELD ? "a variable" : "a value");
            goto fail;
        }
        if (first->type == OP_FUNC && (args < first->fn->min_args || args > first->fn->max_args)) {
            if (first->fn->max_args > first->fn->min_args)
                fail_at(p->t, p->err, BW_ERR_SYNTAX, first->off,
                        "%s takes %zu to %zu arguments, got %zu", first->fn->name,
                        first->fn->min_args, first->fn->max_args, args);
            else
                fail_at(p->t, p->err, BW_ERR_SYNTAX, first->off, "%s takes %zu argument%s, got %zu",
                        first->fn->name, first->fn->min_args, first->fn->min_args == 1 ? "" : "s",
                        args);
            goto fail;
        }
        if (cur(ts)->type != T_PIPE)
            break;
        ts->i++;
    }
    return pl;
fail:
    pipeline_free(pl);
    return NULL;
}

/* Parses a whole action's pipeline (tokens from ts->i to EOF). */
static struct pipeline *parse_action_pipeline(struct parser *p, struct toks *ts)
{
    struct pipeline *pl = parse_pipeline(p, ts, 0);
    if (pl && cur(ts)->type != T_EOF) {
        fail_at(p->t, p->err, BW_ERR_SYNTAX, cur(ts)->off, "unexpected \")\"");
        pipeline_free(pl);
        return NULL;
    }
    return pl;
}

enum term { TERM_EOF, TERM_END, TERM_ELSE, TERM_ELSE_IF, TERM_ERROR };

static struct node *push_node(struct nodelist *l, enum node_type type, size_t off)
{
    BW_GROW(l->v, l->alloc, l->n + 1);
    struct node *n = &l->v[l->n++];
    memset(n, 0, sizeof(*n));
    n->type = type;
    n->off = off;
    return n;
}

static enum term parse_list(struct parser *p, struct nodelist *list, struct pipeline **elseif,
                            size_t *term_off, int depth);

static int expect_no_more(struct parser *p, struct toks *ts, const char *kw)
{
    if (cur(ts)->type == T_EOF)
        return 0;
    return fail_at(p->t, p->err, BW_ERR_SYNTAX, cur(ts)->off, "unexpected text after {{ %s }}", kw);
}

/* Parses the rest of an if/range whose opening action made `node`. */
static int parse_block(struct parser *p, struct node *node, const char *kw, int depth)
{
    struct pipeline *elseif = NULL;
    size_t term_off = 0;
    enum term tm = parse_list(p, &node->body, &elseif, &term_off, depth + 1);
    if (tm == TERM_ERROR)
        return -1;
    if (tm == TERM_EOF)
        return fail_at(p->t, p->err, BW_ERR_SYNTAX, node->off,
                       "unclosed {{ %s }}: expected {{ end }}", kw);
    if (tm == TERM_ELSE_IF) {
        if (node->type == N_RANGE) {
            pipeline_free(elseif);
            return fail_at(p->t, p->err, BW_ERR_SYNTAX, term_off,
                           "{{ else if }} belongs to {{ if }}, not {{ range }}");
        }
        struct node *inner = push_node(&node->alt, N_IF, term_off);
        inner->pipe = elseif;
        return parse_block(p, inner, "else if", depth + 1);
    }
    if (tm == TERM_ELSE) {
        tm = parse_list(p, &node->alt, &elseif, &term_off, depth + 1);
        if (tm == TERM_ERROR)
            return -1;
        if (tm == TERM_EOF)
            return fail_at(p->t, p->err, BW_ERR_SYNTAX, node->off,
                           "unclosed {{ %s }}: expected {{ end }} after {{ else }}", kw);
        if (tm != TERM_END) {
            pipeline_free(elseif);
            return fail_at(p->t, p->err, BW_ERR_SYNTAX, term_off,
                           "a second {{ else }} in one {{ %s }}", kw);
        }
    }
    return 0;
}

static enum term parse_list(struct parser *p, struct nodelist *list, struct pipeline **elseif,
                            size_t *term_off, int depth)
{
    if (depth > 100) {
        fail_at(p->t, p->err, BW_ERR_SYNTAX, p->segs.v[p->si - 1].open, "blocks nested too deeply");
        return TERM_ERROR;
    }
    while (p->si < p->segs.n) {
        const struct seg *s = &p->segs.v[p->si++];
        if (!s->action) {
            if (s->len) {
                struct node *n = push_node(list, N_TEXT, s->start);
                n->text_start = s->start;
                n->text_len = s->len;
            }
            continue;
        }
        if (s->comment)
            continue;
        struct toks ts = {NULL, 0, 0, 0};
        if (tokenize(p->t, s, &ts, p->err) < 0) {
            toks_release(&ts);
            return TERM_ERROR;
        }
        enum term result = TERM_EOF;
        bool done = false;
        struct tok *first = cur(&ts);
        const char *kw = first->type == T_IDENT ? first->text : "";
        if (strcmp(kw, "end") == 0) {
            ts.i++;
            *term_off = s->open;
            result = expect_no_more(p, &ts, "end") < 0 ? TERM_ERROR : TERM_END;
            done = true;
        } else if (strcmp(kw, "else") == 0) {
            ts.i++;
            *term_off = s->open;
            done = true;
            if (cur(&ts)->type == T_IDENT && strcmp(cur(&ts)->text, "if") == 0) {
                ts.i++;
                *elseif = parse_action_pipeline(p, &ts);
                result = *elseif ? TERM_ELSE_IF : TERM_ERROR;
            } else {
                result = expect_no_more(p, &ts, "else") < 0 ? TERM_ERROR : TERM_ELSE;
            }
        } else if (strcmp(kw, "if") == 0 || strcmp(kw, "range") == 0) {
            ts.i++;
            struct node *n = push_node(list, kw[0] == 'i' ? N_IF : N_RANGE, s->open);
            if (cur(&ts)->type == T_EOF) {
                fail_at(p->t, p->err, BW_ERR_SYNTAX, s->open, "{{ %s }} needs a value", kw);
                result = TERM_ERROR;
                done = true;
            } else {
                n->pipe = parse_action_pipeline(p, &ts);
                char kwcopy[8];
                snprintf(kwcopy, sizeof(kwcopy), "%s", kw);
                toks_release(&ts);
                if (!n->pipe || parse_block(p, n, kwcopy, depth) < 0)
                    return TERM_ERROR;
                continue;
            }
        } else if (first->type == T_EOF) {
            fail_at(p->t, p->err, BW_ERR_SYNTAX, s->open, "empty action {{ }}");
            result = TERM_ERROR;
            done = true;
        } else {
            struct pipeline *pl = parse_action_pipeline(p, &ts);
            if (!pl) {
                result = TERM_ERROR;
                done = true;
            } else {
                push_node(list, N_OUTPUT, s->open)->pipe = pl;
            }
        }
        toks_release(&ts);
        if (done)
            return result;
    }
    return TERM_EOF;
}

struct bw_template *bw_template_parse(const char *name, const char *text, size_t len,
                                      struct bw_error *err)
{
    struct bw_template *t = bw_xcalloc(1, sizeof(*t));
    t->name = bw_xstrdup(name);
    t->src = bw_xstrndup(text, len);
    t->len = len;
    struct parser p = {t, {NULL, 0, 0}, 0, err};
    if (split(t, &p.segs, err) < 0)
        goto fail;
    struct pipeline *elseif = NULL;
    size_t term_off = 0;
    enum term tm = parse_list(&p, &t->root, &elseif, &term_off, 0);
    if (tm == TERM_ERROR)
        goto fail;
    if (tm != TERM_EOF) {
        pipeline_free(elseif);
        fail_at(t, err, BW_ERR_SYNTAX, term_off,
                "{{ %s }} without a matching {{ if }} or {{ range }}",
                tm == TERM_END ? "end" : "else");
        goto fail;
    }
    free(p.segs.v);
    return t;
fail:
    free(p.segs.v);
    bw_template_free(t);
    return NULL;
}

/* ---- execution ---- */

static int eval_pipeline(struct exec *ex, const struct pipeline *pl, const struct bw_value *dot,
                         struct bw_value *out);

static int undefined(struct exec *ex, const struct operand *op)
{
    struct bw_buf names = BW_BUF_INIT;
    for (size_t i = 0; i < ex->ctx->vars->n; i++)
        bw_buf_addf(&names, "%s%s", i ? ", " : "", ex->ctx->vars->v[i].name);
    fail_at(ex->t, ex->err, BW_ERR_RENDER, op->off, "undefined variable .%s (defined: %s)", op->s,
            names.len ? names.data : "none");
    bw_buf_release(&names);
    return -1;
}

static int eval_operand(struct exec *ex, const struct operand *op, const struct bw_value *dot,
                        struct bw_value *out)
{
    switch (op->type) {
    case OP_DOT:
        if (!dot)
            return fail_at(ex->t, ex->err, BW_ERR_RENDER, op->off,
                           "\".\" has a value only inside {{ range }}; outside, name a variable "
                           "such as .Name");
        bw_value_copy(out, dot);
        return 0;
    case OP_FIELD: {
        const struct bw_var *v = bw_vars_get(ex->ctx->vars, op->s);
        if (!v)
            return undefined(ex, op);
        bw_value_copy(out, &v->value);
        out->sensitive = v->sensitive;
        return 0;
    }
    case OP_STRING:
        set_string(out, bw_xstrdup(op->s));
        return 0;
    case OP_BOOL:
        set_bool(out, op->b);
        return 0;
    case OP_PIPE:
        return eval_pipeline(ex, op->pipe, dot, out);
    case OP_FUNC:
        break;
    }
    return fail_at(ex->t, ex->err, BW_ERR_INTERNAL, op->off, "function used as a value");
}

static int eval_command(struct exec *ex, const struct command *cmd, const struct bw_value *dot,
                        struct bw_value *piped, struct bw_value *out)
{
    const struct operand *first = &cmd->ops[0];
    if (first->type != OP_FUNC)
        return eval_operand(ex, first, dot, out);
    size_t n = cmd->n - 1 + (piped ? 1 : 0);
    struct bw_value *args = bw_xcalloc(n + 1, sizeof(*args));
    size_t got = 0;
    int rc = 0;
    for (size_t i = 1; i < cmd->n && rc == 0; i++)
        if ((rc = eval_operand(ex, &cmd->ops[i], dot, &args[got])) == 0)
            got++;
    if (rc == 0 && piped) {
        args[got++] = *piped;
        memset(piped, 0, sizeof(*piped));
    }
    if (rc == 0)
        rc = first->fn->fn(ex, args, n, first->off, out);
    for (size_t i = 0; i < got; i++) { /* what a secret goes into stays secret */
        out->sensitive = out->sensitive || args[i].sensitive;
        bw_value_release(&args[i]);
    }
    free(args);
    return rc;
}

static int eval_pipeline(struct exec *ex, const struct pipeline *pl, const struct bw_value *dot,
                         struct bw_value *out)
{
    struct bw_value acc;
    memset(&acc, 0, sizeof(acc));
    for (size_t i = 0; i < pl->n; i++) {
        struct bw_value next;
        memset(&next, 0, sizeof(next));
        int rc = eval_command(ex, &pl->cmds[i], dot, i ? &acc : NULL, &next);
        bw_value_release(&acc);
        if (rc < 0) {
            bw_value_release(&next);
            return -1;
        }
        acc = next;
    }
    *out = acc;
    return 0;
}

static int exec_list(struct exec *ex, const struct nodelist *l, const struct bw_value *dot,
                     struct bw_buf *out)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct node *n = &l->v[i];
        if (++ex->steps > MAX_STEPS)
            return fail_at(ex->t, ex->err, BW_ERR_RENDER, n->off,
                           "rendering takes more than %lu steps here: expected a template that "
                           "ends (ranges nested in ranges multiply)",
                           MAX_STEPS);
        if (out->len - ex->start > MAX_OUTPUT)
            return fail_at(ex->t, ex->err, BW_ERR_RENDER, n->off,
                           "the rendering is past %u MiB here: expected an answer file of a "
                           "sensible size (ranges nested in ranges multiply)",
                           MAX_OUTPUT >> 20);
        struct bw_value v;
        memset(&v, 0, sizeof(v));
        int rc = 0;
        switch (n->type) {
        case N_TEXT:
            bw_buf_add(out, ex->t->src + n->text_start, n->text_len);
            if (ex->ctx->shown)
                bw_buf_add(ex->ctx->shown, ex->t->src + n->text_start, n->text_len);
            continue;
        case N_OUTPUT:
            if ((rc = eval_pipeline(ex, n->pipe, dot, &v)) == 0) {
                bw_value_format(out, &v);
                if (ex->ctx->shown && v.sensitive)
                    bw_buf_adds(ex->ctx->shown, "<sensitive>");
                else if (ex->ctx->shown)
                    bw_value_format(ex->ctx->shown, &v);
            }
            break;
        case N_IF:
            if ((rc = eval_pipeline(ex, n->pipe, dot, &v)) == 0)
                rc = exec_list(ex, bw_value_is_true(&v) ? &n->body : &n->alt, dot, out);
            break;
        case N_RANGE:
            if ((rc = eval_pipeline(ex, n->pipe, dot, &v)) < 0)
                break;
            if (v.kind != BW_VAL_LIST) {
                rc = fail_at(ex->t, ex->err, BW_ERR_RENDER, n->off,
                             "range: expected a list, got %s", kind_name(&v));
                break;
            }
            if (v.n == 0)
                rc = exec_list(ex, &n->alt, dot, out);
            for (size_t k = 0; k < v.n && rc == 0; k++) {
                struct bw_value item = {BW_VAL_STRING, v.items[k], false, NULL, 0, v.sensitive};
                rc = exec_list(ex, &n->body, &item, out);
            }
            break;
        }
        bw_value_release(&v);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int bw_template_execute(const struct bw_template *t, const struct bw_render_ctx *ctx,
                        struct bw_buf *out, struct bw_error *err)
{
    if (!out->data)
        bw_buf_init(out);
    if (ctx->shown && !ctx->shown->data)
        bw_buf_init(ctx->shown);
    struct exec ex = {t, ctx, err, out->len, 0};
    if (exec_list(&ex, &t->root, NULL, out) < 0)
        return -1;
    if (out->len - ex.start > MAX_OUTPUT)
        return fail_at(t, err, BW_ERR_RENDER, t->len,
                       "the rendering is %zu bytes: expected at most %u MiB (an answer file of "
                       "a sensible size)",
                       out->len - ex.start, MAX_OUTPUT >> 20);
    return 0;
}

int bw_render(const char *name, const char *text, size_t len, const struct bw_render_ctx *ctx,
              struct bw_buf *out, struct bw_error *err)
{
    struct bw_template *t = bw_template_parse(name, text, len, err);
    if (!t)
        return -1;
    int rc = bw_template_execute(t, ctx, out, err);
    bw_template_free(t);
    return rc;
}
