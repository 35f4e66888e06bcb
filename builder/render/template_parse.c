/* Parsing a template: text split from {{ actions }}, actions tokenized, a tree of nodes
 * built (if, else if, else, range, end), every error at its line and column. */
#include "template_int.h"
#include "../base/xmalloc.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
                return bw_tmpl_fail_at(t, err, BW_ERR_SYNTAX, open,
                                       "unclosed comment: expected */");
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
                    return bw_tmpl_fail_at(t, err, BW_ERR_SYNTAX, i, "unterminated string literal");
                i = k + 1;
            } else if (c == '}' && i + 1 < len && src[i + 1] == '}') {
                close = i;
                found = true;
            } else {
                i++;
            }
        }
        if (!found)
            return bw_tmpl_fail_at(t, err, BW_ERR_SYNTAX, open, "unclosed action: expected }}");
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
                return bw_tmpl_fail_at(
                    t, err, BW_ERR_SYNTAX, i,
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
                        return bw_tmpl_fail_at(
                            t, err, BW_ERR_SYNTAX, k,
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
                return bw_tmpl_fail_at(t, err, BW_ERR_SYNTAX, i, "unterminated string literal");
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
            return bw_tmpl_fail_at(t, err, BW_ERR_SYNTAX, i,
                                   "unexpected \"%c\" in action (expected a variable like .Name, a "
                                   "function, a \"string\", | or parentheses)",
                                   c);
        }
    }
    add_tok(ts, T_EOF, end, NULL);
    return 0;
}

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
        op->fn = bw_tmpl_find_func(tk->text, strlen(tk->text));
        if (!op->fn) {
            struct bw_buf names = BW_BUF_INIT;
            bw_tmpl_func_names(&names);
            bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, tk->off,
                            "unknown function \"%s\" (known: %s)", tk->text, names.data);
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
            return bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, cur(ts)->off, "expected \")\"");
        break;
    default:
        return bw_tmpl_fail_at(
            p->t, p->err, BW_ERR_SYNTAX, tk->off,
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
        bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, pl->off, "parentheses nested too deeply");
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
            bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, cmd->off, "missing value in action");
            goto fail;
        }
        const struct operand *first = &cmd->ops[0];
        size_t args = cmd->n - 1 + (pl->n > 1 ? 1 : 0);
        if (first->type != OP_FUNC && (cmd->n > 1 || pl->n > 1)) {
            bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, first->off,
                            "%s is not a function; only functions take arguments or piped values",
                            first->type == OP_FIELD ? "a variable" : "a value");
            goto fail;
        }
        if (first->type == OP_FUNC && (args < first->fn->min_args || args > first->fn->max_args)) {
            if (first->fn->max_args > first->fn->min_args)
                bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, first->off,
                                "%s takes %zu to %zu arguments, got %zu", first->fn->name,
                                first->fn->min_args, first->fn->max_args, args);
            else
                bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, first->off,
                                "%s takes %zu argument%s, got %zu", first->fn->name,
                                first->fn->min_args, first->fn->min_args == 1 ? "" : "s", args);
            goto fail;
        }
        if (cur(ts)->type != T_PIPE)
            break;
        ts->i++;
    }
    return pl;
fail:
    bw_tmpl_pipeline_free(pl);
    return NULL;
}

/* Parses a whole action's pipeline (tokens from ts->i to EOF). */
static struct pipeline *parse_action_pipeline(struct parser *p, struct toks *ts)
{
    struct pipeline *pl = parse_pipeline(p, ts, 0);
    if (pl && cur(ts)->type != T_EOF) {
        bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, cur(ts)->off, "unexpected \")\"");
        bw_tmpl_pipeline_free(pl);
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
    return bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, cur(ts)->off,
                           "unexpected text after {{ %s }}", kw);
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
        return bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, node->off,
                               "unclosed {{ %s }}: expected {{ end }}", kw);
    if (tm == TERM_ELSE_IF) {
        if (node->type == N_RANGE) {
            bw_tmpl_pipeline_free(elseif);
            return bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, term_off,
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
            return bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, node->off,
                                   "unclosed {{ %s }}: expected {{ end }} after {{ else }}", kw);
        if (tm != TERM_END) {
            bw_tmpl_pipeline_free(elseif);
            return bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, term_off,
                                   "a second {{ else }} in one {{ %s }}", kw);
        }
    }
    return 0;
}

static enum term parse_list(struct parser *p, struct nodelist *list, struct pipeline **elseif,
                            size_t *term_off, int depth)
{
    if (depth > 100) {
        bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, p->segs.v[p->si - 1].open,
                        "blocks nested too deeply");
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
                bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, s->open, "{{ %s }} needs a value", kw);
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
            bw_tmpl_fail_at(p->t, p->err, BW_ERR_SYNTAX, s->open, "empty action {{ }}");
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
        bw_tmpl_pipeline_free(elseif);
        bw_tmpl_fail_at(t, err, BW_ERR_SYNTAX, term_off,
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
