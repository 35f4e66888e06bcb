/* The function library templates call: user, env, default, quote, xml, join, upper, lower, eq,
 * ne, not, sha512crypt. */
#include "template_int.h"
#include "../base/xmalloc.h"

#include <crypt.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bw_tmpl_kind_name(const struct bw_value *v)
{
    static const char *const names[] = {"a string", "a boolean", "a list"};
    return names[v->kind];
}

void bw_tmpl_set_string(struct bw_value *out, char *owned)
{
    memset(out, 0, sizeof(*out));
    out->kind = BW_VAL_STRING;
    out->s = owned;
}

void bw_tmpl_set_bool(struct bw_value *out, bool b)
{
    memset(out, 0, sizeof(*out));
    out->kind = BW_VAL_BOOL;
    out->b = b;
}

static int need_string(struct exec *ex, const struct bw_value *v, size_t off, const char *fn)
{
    if (v->kind == BW_VAL_STRING)
        return 0;
    return bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_RENDER, off, "%s: expected a string, got %s", fn,
                           bw_tmpl_kind_name(v));
}

static int fn_user(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)n;
    if (need_string(ex, &a[0], off, "user") < 0)
        return -1;
    const struct bw_var *v = bw_vars_get(ex->ctx->vars, a[0].s);
    if (!v || v->builtin)
        return bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_RENDER, off,
                               "user \"%s\": no such variable in the definition's \"variables\"",
                               a[0].s);
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
    bw_tmpl_set_string(out, bw_xstrdup(v ? v : ""));
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
    bw_tmpl_set_string(out, bw_buf_detach(&b));
    return 0;
}

/* Text for XML element content or an attribute value (AutoYaST, Autounattend): the five
 * markup characters as entities; a control character XML 1.0 cannot hold is an error. */
static int fn_xml(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)n;
    if (need_string(ex, &a[0], off, "xml") < 0)
        return -1;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    for (const unsigned char *p = (const unsigned char *)a[0].s; *p; p++) {
        static const char *const ent[] = {
            ['&'] = "&amp;", ['<'] = "&lt;", ['>'] = "&gt;", ['"'] = "&quot;", ['\''] = "&apos;"};
        if (*p < sizeof(ent) / sizeof(ent[0]) && ent[*p]) {
            bw_buf_adds(&b, ent[*p]);
        } else if ((*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') || *p == 0x7f) {
            bw_buf_release(&b);
            return bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_RENDER, off,
                                   "xml: the value holds control character 0x%02x: expected "
                                   "text XML 1.0 can hold",
                                   *p);
        } else {
            bw_buf_addc(&b, (char)*p);
        }
    }
    bw_tmpl_set_string(out, bw_buf_detach(&b));
    return 0;
}

static int fn_join(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)n;
    if (need_string(ex, &a[0], off, "join") < 0)
        return -1;
    if (a[1].kind != BW_VAL_LIST)
        return bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_RENDER, off,
                               "join: expected a list as the second argument, got %s",
                               bw_tmpl_kind_name(&a[1]));
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    for (size_t i = 0; i < a[1].n; i++) {
        if (i)
            bw_buf_adds(&b, a[0].s);
        bw_buf_adds(&b, a[1].items[i]);
    }
    bw_tmpl_set_string(out, bw_buf_detach(&b));
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
    bw_tmpl_set_string(out, s);
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
    bw_tmpl_set_bool(out, values_equal(&a[0], &a[1]));
    return 0;
}

static int fn_ne(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)ex, (void)n, (void)off;
    bw_tmpl_set_bool(out, !values_equal(&a[0], &a[1]));
    return 0;
}

static int fn_not(struct exec *ex, struct bw_value *a, size_t n, size_t off, struct bw_value *out)
{
    (void)ex, (void)n, (void)off;
    bw_tmpl_set_bool(out, !bw_value_is_true(&a[0]));
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
            return bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_RENDER, off,
                                   "sha512crypt: salt \"%s\": expected 1 to 16 characters of "
                                   "[a-zA-Z0-9./]",
                                   a[0].s);
        snprintf(setting, sizeof(setting), "$6$%s$", a[0].s);
    } else if (!crypt_gensalt_rn("$6$", 0, NULL, 0, setting, sizeof(setting))) {
        return bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_RENDER, off, "sha512crypt: no salt: %s",
                               strerror(errno));
    }
    struct crypt_data *cd = bw_xcalloc(1, sizeof(*cd));
    const char *h = crypt_r(pw->s, setting, cd);
    int rc = 0;
    if (!h || h[0] == '*')
        rc = bw_tmpl_fail_at(ex->t, ex->err, BW_ERR_RENDER, off, "sha512crypt: hashing failed");
    else
        bw_tmpl_set_string(out, bw_xstrdup(h));
    explicit_bzero(cd, sizeof(*cd));
    free(cd);
    return rc;
}

static const struct func funcs[] = {
    {"user", 1, 1, fn_user},   {"env", 1, 1, fn_env},     {"default", 2, 2, fn_default},
    {"quote", 1, 1, fn_quote}, {"xml", 1, 1, fn_xml},     {"join", 2, 2, fn_join},
    {"upper", 1, 1, fn_upper}, {"lower", 1, 1, fn_lower}, {"eq", 2, 2, fn_eq},
    {"ne", 2, 2, fn_ne},       {"not", 1, 1, fn_not},     {"sha512crypt", 1, 2, fn_sha512crypt},
};

const struct func *bw_tmpl_find_func(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
        if (strlen(funcs[i].name) == len && memcmp(funcs[i].name, name, len) == 0)
            return &funcs[i];
    return NULL;
}

void bw_tmpl_func_names(struct bw_buf *out)
{
    for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++)
        bw_buf_addf(out, "%s%s", i ? ", " : "", funcs[i].name);
}
