#include "variables.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

void bw_value_release(struct bw_value *v)
{
    free(v->s);
    for (size_t i = 0; i < v->n; i++)
        free(v->items[i]);
    free(v->items);
    memset(v, 0, sizeof(*v));
}

void bw_value_copy(struct bw_value *dst, const struct bw_value *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->kind = src->kind;
    dst->s = bw_xstrdup(src->s);
    dst->b = src->b;
    dst->n = src->n;
    dst->sensitive = src->sensitive;
    if (src->n) {
        dst->items = bw_xcalloc(src->n, sizeof(char *));
        for (size_t i = 0; i < src->n; i++)
            dst->items[i] = bw_xstrdup(src->items[i]);
    }
}

bool bw_value_is_true(const struct bw_value *v)
{
    switch (v->kind) {
    case BW_VAL_STRING:
        return v->s && *v->s;
    case BW_VAL_BOOL:
        return v->b;
    case BW_VAL_LIST:
        return v->n > 0;
    }
    return false;
}

void bw_value_format(struct bw_buf *b, const struct bw_value *v)
{
    switch (v->kind) {
    case BW_VAL_STRING:
        bw_buf_adds(b, v->s ? v->s : "");
        break;
    case BW_VAL_BOOL:
        bw_buf_adds(b, v->b ? "true" : "false");
        break;
    case BW_VAL_LIST:
        bw_buf_addc(b, '[');
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                bw_buf_addc(b, ' ');
            bw_buf_adds(b, v->items[i]);
        }
        bw_buf_addc(b, ']');
        break;
    }
}

static struct bw_var *find(const struct bw_vars *vars, const char *name)
{
    for (size_t i = 0; i < vars->n; i++)
        if (strcmp(vars->v[i].name, name) == 0)
            return &vars->v[i];
    return NULL;
}

struct bw_var *bw_vars_set(struct bw_vars *vars, const char *name, const struct bw_value *value,
                           const char *origin)
{
    struct bw_var *var = find(vars, name);
    if (!var) {
        BW_GROW(vars->v, vars->alloc, vars->n + 1);
        var = &vars->v[vars->n++];
        memset(var, 0, sizeof(*var));
        var->name = bw_xstrdup(name);
    } else {
        bw_value_release(&var->value);
        free(var->origin);
    }
    bw_value_copy(&var->value, value);
    var->origin = bw_xstrdup(origin);
    return var;
}

struct bw_var *bw_vars_set_string(struct bw_vars *vars, const char *name, const char *s,
                                  const char *origin)
{
    struct bw_value v = {BW_VAL_STRING, (char *)s, false, NULL, 0, false};
    return bw_vars_set(vars, name, &v, origin);
}

const struct bw_var *bw_vars_get(const struct bw_vars *vars, const char *name)
{
    return find(vars, name);
}

void bw_vars_release(struct bw_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++) {
        free(vars->v[i].name);
        free(vars->v[i].origin);
        bw_value_release(&vars->v[i].value);
    }
    free(vars->v);
    memset(vars, 0, sizeof(*vars));
}

static void list_names(struct bw_buf *b, const struct bw_vars *vars)
{
    for (size_t i = 0; i < vars->n; i++) {
        if (i)
            bw_buf_adds(b, ", ");
        bw_buf_adds(b, vars->v[i].name);
    }
}

static int unknown_name(const struct bw_vars *vars, const char *name, const char *where,
                        struct bw_error *err)
{
    struct bw_buf known = BW_BUF_INIT;
    list_names(&known, vars);
    bw_error_set(err, BW_ERR_USAGE, "%s: unknown variable \"%s\"; the definition declares: %s",
                 where, name, known.len ? known.data : "(none)");
    bw_buf_release(&known);
    return -1;
}

int bw_vars_apply_assignment(struct bw_vars *vars, const char *assignment, struct bw_error *err)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        bw_error_set(err, BW_ERR_USAGE, "--var \"%s\": expected NAME=VALUE", assignment);
        return -1;
    }
    char *name = bw_xstrndup(assignment, (size_t)(eq - assignment));
    int rc = 0;
    struct bw_var *var = find(vars, name);
    if (!var) {
        rc = unknown_name(vars, name, "--var", err);
    } else if (var->value.kind == BW_VAL_LIST) {
        /* A list variable takes comma-separated items on the command line. */
        struct bw_value v = {BW_VAL_LIST, NULL, false, NULL, 0, false};
        const char *p = eq + 1;
        while (*p) {
            const char *c = strchr(p, ',');
            size_t len = c ? (size_t)(c - p) : strlen(p);
            v.items = bw_xrealloc(v.items, (v.n + 1) * sizeof(char *));
            v.items[v.n++] = bw_xstrndup(p, len);
            p += len + (c ? 1 : 0);
        }
        bw_vars_set(vars, name, &v, "--var");
        bw_value_release(&v);
    } else if (var->value.kind == BW_VAL_BOOL) {
        if (strcmp(eq + 1, "true") && strcmp(eq + 1, "false")) {
            bw_error_set(err, BW_ERR_USAGE, "--var %s: got \"%s\", expected true or false", name,
                         eq + 1);
            rc = -1;
        } else {
            struct bw_value v = {BW_VAL_BOOL, NULL, strcmp(eq + 1, "true") == 0, NULL, 0, false};
            bw_vars_set(vars, name, &v, "--var");
        }
    } else {
        bw_vars_set_string(vars, name, eq + 1, "--var");
    }
    free(name);
    return rc;
}

int bw_vars_apply_file(struct bw_vars *vars, const char *path, struct bw_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        /* jansson quotes the text near the error ("near '\"Sup3rS3cret'"): a var-file holds
         * secrets, so only the reason and the position. */
        char *near = strstr(jerr.text, " near '");
        if (near)
            *near = '\0';
        bw_error_at(err, BW_ERR_SYNTAX, path, NULL, jerr.line, jerr.column, "invalid JSON: %s",
                    jerr.text);
        return -1;
    }
    int rc = 0;
    char *origin = bw_xasprintf("var-file %s", path);
    if (!json_is_object(root)) {
        bw_error_at(err, BW_ERR_SCHEMA, path, NULL, 1, 1,
                    "expected a JSON object of variable names to values");
        rc = -1;
        goto cleanup;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val)
    {
        struct bw_var *var = find(vars, key);
        if (!var) {
            rc = unknown_name(vars, key, path, err);
            goto cleanup;
        }
        struct bw_value v = {BW_VAL_STRING, NULL, false, NULL, 0, false};
        static const char *const kinds[] = {"a string", "a boolean", "a list of strings"};
        enum bw_value_kind got = json_is_string(val)    ? BW_VAL_STRING
                                 : json_is_boolean(val) ? BW_VAL_BOOL
                                                        : BW_VAL_LIST;
        if ((json_is_string(val) || json_is_boolean(val) || json_is_array(val)) &&
            got != var->value.kind) {
            /* password=[...] would render as "[...]": a value of the declared kind only. */
            bw_error_set(err, BW_ERR_SCHEMA,
                         "%s: %s: got %s, expected %s (as the definition "
                         "declares it)",
                         path, key, kinds[got], kinds[var->value.kind]);
            rc = -1;
            goto cleanup;
        }
        if (json_is_string(val)) {
            v.s = (char *)json_string_value(val);
            bw_vars_set(vars, key, &v, origin);
        } else if (json_is_boolean(val)) {
            v.kind = BW_VAL_BOOL;
            v.b = json_is_true(val);
            bw_vars_set(vars, key, &v, origin);
        } else if (json_is_array(val)) {
            size_t i;
            json_t *item;
            v.kind = BW_VAL_LIST;
            v.items = bw_xcalloc(json_array_size(val) + 1, sizeof(char *));
            json_array_foreach(val, i, item)
            {
                if (!json_is_string(item)) {
                    bw_error_set(err, BW_ERR_SCHEMA, "%s: %s[%zu]: expected a string", path, key,
                                 i);
                    bw_value_release(&v);
                    rc = -1;
                    goto cleanup;
                }
                v.items[v.n++] = bw_xstrdup(json_string_value(item));
            }
            bw_vars_set(vars, key, &v, origin);
            bw_value_release(&v);
        } else {
            bw_error_set(err, BW_ERR_SCHEMA,
                         "%s: %s: expected a string, a boolean or a list of strings", path, key);
            rc = -1;
            goto cleanup;
        }
    }
cleanup:
    free(origin);
    json_decref(root);
    return rc;
}

/* Is s also the value of a variable that is not sensitive (and so shown anyway)? */
static bool is_public(const struct bw_vars *vars, const char *s)
{
    for (size_t i = 0; i < vars->n; i++) {
        const struct bw_var *v = &vars->v[i];
        if (v->sensitive)
            continue;
        if (v->value.kind == BW_VAL_STRING && v->value.s && strcmp(v->value.s, s) == 0)
            return true;
        for (size_t k = 0; v->value.kind == BW_VAL_LIST && k < v->value.n; k++)
            if (strcmp(v->value.items[k], s) == 0)
                return true;
    }
    return false;
}

/* Does the line [p, p+n) contain a secret of vars that is not shown anyway? */
static bool shows_secret(const struct bw_vars *vars, const char *p, size_t n)
{
    for (size_t i = 0; i < vars->n; i++) {
        const struct bw_var *v = &vars->v[i];
        if (!v->sensitive)
            continue;
        for (size_t k = 0; k < (v->value.kind == BW_VAL_LIST ? v->value.n : 1); k++) {
            const char *secret = v->value.kind == BW_VAL_LIST ? v->value.items[k] : v->value.s;
            /* A secret equal to a value shown anyway (vagrant/vagrant) would withhold that
             * value everywhere and hide nothing. */
            if (secret && *secret && !is_public(vars, secret) &&
                memmem(p, n, secret, strlen(secret)))
                return true;
        }
    }
    return false;
}

char *bw_vars_mask(const struct bw_vars *vars, const char *text)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    for (const char *p = text; *p;) {
        size_t n = strcspn(p, "\n");
        if (shows_secret(vars, p, n))
            bw_buf_adds(&b, BW_WITHHELD);
        else
            bw_buf_add(&b, p, n);
        p += n;
        if (*p == '\n')
            bw_buf_addc(&b, *p++);
    }
    return bw_buf_detach(&b);
}
