/* Executing a parsed template: pipelines evaluated against the variables, output and
 * steps bounded (a template bomb fails, it does not take the machine). */
#include "template_int.h"
#include "../base/xmalloc.h"

#include <stdlib.h>
#include <string.h>

static int eval_pipeline(struct exec *ex, const struct pipeline *pl, const struct bw_value *dot,
                         struct bw_value *out);

static int undefined(struct exec *ex, const struct operand *op)
{
    struct bw_buf names = BW_BUF_INIT;
    for (size_t i = 0; i < ex->ctx->vars->n; i++)
        bw_buf_addf(&names, "%s%s", i ? ", " : "", ex->ctx->vars->v[i].name);
    bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_RENDER, op->off, "undefined variable .%s (defined: %s)",
                    op->s, names.len ? names.data : "none");
    bw_buf_release(&names);
    return -1;
}

static int eval_operand(struct exec *ex, const struct operand *op, const struct bw_value *dot,
                        struct bw_value *out)
{
    switch (op->type) {
    case OP_DOT:
        if (!dot)
            return bw_tmpl_fail_at(
                ex->t, ex->err, BW_ERR_RENDER, op->off,
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
        bw_tmpl_set_string(out, bw_xstrdup(op->s));
        return 0;
    case OP_BOOL:
        bw_tmpl_set_bool(out, op->b);
        return 0;
    case OP_PIPE:
        return eval_pipeline(ex, op->pipe, dot, out);
    case OP_FUNC:
        break;
    }
    return bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_INTERNAL, op->off, "function used as a value");
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
            return bw_tmpl_fail_at(
                ex->t, ex->err, BW_ERR_RENDER, n->off,
                "rendering takes more than %lu steps here: expected a template that "
                "ends (ranges nested in ranges multiply)",
                MAX_STEPS);
        if (out->len - ex->start > MAX_OUTPUT)
            return bw_tmpl_fail_at(
                ex->t, ex->err, BW_ERR_RENDER, n->off,
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
                rc = bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_RENDER, n->off,
                                     "range: expected a list, got %s", bw_tmpl_kind_name(&v));
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
        return bw_tmpl_fail_at(
            t, err, BW_ERR_RENDER, t->len,
            "the rendering is %zu bytes: expected at most %u MiB (an answer file of "
            "a sensible size)",
            out->len - ex.start, MAX_OUTPUT >> 20);
    return 0;
}
