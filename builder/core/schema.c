/* The walker that applies a schema table to a JSON object, and the errors it reports with
 * line and column; see schema.h. */
#include "schema.h"
#include "../base/buf.h"
#include "../base/units.h"
#include "../base/xmalloc.h"

#include <string.h>

static void value_text(struct bw_buf *b, json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!s) {
        bw_buf_adds(b, "?");
        return;
    }
    if (strlen(s) > 60) {
        bw_buf_add(b, s, 57);
        bw_buf_adds(b, "...");
    } else {
        bw_buf_adds(b, s);
    }
    free(s);
}

void bw_schema_report(struct loader *ld, const char *path, bool at_key, const char *fmt, ...)
{
    const struct bw_jsonpos_entry *e = bw_jsonpos_find(&ld->pos, path);
    int line = 0, col = 0;
    if (e) {
        line = at_key && e->kline ? e->kline : e->line;
        col = at_key && e->kline ? e->kcol : e->col;
    }
    struct bw_error err = BW_ERROR_INIT;
    va_list ap;
    va_start(ap, fmt);
    bw_error_vat(&err, BW_ERR_SCHEMA, ld->file, path, line, col, fmt, ap);
    va_end(ap);
    bw_errors_take(ld->errs, &err);
}

void bw_schema_bad_value(struct loader *ld, const char *path, json_t *v, const char *expected)
{
    struct bw_buf b = BW_BUF_INIT;
    value_text(&b, v);
    bw_schema_report(ld, path, false, "got %s, expected %s", b.data, expected);
    bw_buf_release(&b);
}

size_t bw_edit_distance(const char *a, const char *b, size_t cap)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return cap + 1;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t prev = row[0];
        row[0] = i;
        size_t best = row[0];
        for (size_t j = 1; j <= lb; j++) {
            size_t cur = row[j];
            size_t cost = (a[i - 1] | 0x20) == (b[j - 1] | 0x20) ? 0 : 1;
            size_t v = prev + cost;
            if (row[j] + 1 < v)
                v = row[j] + 1;
            if (row[j - 1] + 1 < v)
                v = row[j - 1] + 1;
            row[j] = v;
            prev = cur;
            if (v < best)
                best = v;
        }
        if (best > cap)
            return cap + 1;
    }
    return row[lb];
}

static void unknown_key(struct loader *ld, const char *path, const char *key,
                        const struct schema *sc)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < sc->n; i++) {
        size_t d = bw_edit_distance(key, sc->fields[i].key, 2);
        if (d < best_d) {
            best_d = d;
            best = sc->fields[i].key;
        }
    }
    struct bw_buf known = BW_BUF_INIT;
    for (size_t i = 0; i < sc->n; i++)
        bw_buf_addf(&known, "%s%s", i ? ", " : "", sc->fields[i].key);
    if (best)
        bw_schema_report(ld, path, true, "unknown key \"%s\"; did you mean \"%s\"?", key, best);
    else
        bw_schema_report(ld, path, true, "unknown key \"%s\"; expected one of: %s", key,
                         known.data);
    bw_buf_release(&known);
}

static void set_strlist(struct bw_strlist *l, json_t *arr)
{
    size_t i;
    json_t *item;
    l->v = bw_xcalloc(json_array_size(arr) + 1, sizeof(char *));
    json_array_foreach(arr, i, item) l->v[l->n++] = bw_xstrdup(json_string_value(item));
}

static void load_vars(struct loader *ld, json_t *obj, const char *path)
{
    const char *key;
    json_t *val;
    struct bw_buf p = BW_BUF_INIT;
    json_object_foreach(obj, key, val)
    {
        bw_buf_reset(&p);
        bw_buf_adds(&p, path);
        bw_jsonpath_add_key(&p, key);
        struct bw_value v = {BW_VAL_STRING, NULL, false, NULL, 0, false};
        if (json_is_string(val)) {
            v.s = bw_xstrdup(json_string_value(val));
        } else if (json_is_integer(val)) {
            v.s = bw_xasprintf("%lld", (long long)json_integer_value(val));
        } else if (json_is_boolean(val)) {
            v.kind = BW_VAL_BOOL;
            v.b = json_is_true(val);
        } else if (json_is_array(val)) {
            size_t i;
            json_t *item;
            bool ok = true;
            json_array_foreach(val, i, item) ok = ok && json_is_string(item);
            if (!ok) {
                bw_schema_bad_value(ld, p.data, val, "a list of strings");
                continue;
            }
            v.kind = BW_VAL_LIST;
            struct bw_strlist l = {NULL, 0};
            set_strlist(&l, val);
            v.items = l.v;
            v.n = l.n;
        } else {
            bw_schema_bad_value(ld, p.data, val, "a string, a boolean or a list of strings");
            continue;
        }
        bw_vars_set(&ld->def->vars, key, &v, "default");
        bw_value_release(&v);
    }
    bw_buf_release(&p);
}

static void load_field(struct loader *ld, const struct field *f, json_t *v, const char *path,
                       void *base)
{
    void *target = (char *)base + f->offset;
    switch (f->kind) {
    case K_STRING:
        if (!json_is_string(v))
            return bw_schema_bad_value(ld, path, v, f->help ? f->help : "a string");
        *(char **)target = bw_xstrdup(json_string_value(v));
        return;
    case K_ENUM: {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_adds(&b, "one of");
        for (const char *const *c = f->choices; *c; c++)
            bw_buf_addf(&b, "%s \"%s\"", c == f->choices ? "" : ",", *c);
        bool ok = false;
        if (json_is_string(v))
            for (const char *const *c = f->choices; *c; c++)
                ok = ok || strcmp(*c, json_string_value(v)) == 0;
        if (ok)
            *(char **)target = bw_xstrdup(json_string_value(v));
        else
            bw_schema_bad_value(ld, path, v, b.data);
        bw_buf_release(&b);
        return;
    }
    case K_INT: {
        char expect[96];
        snprintf(expect, sizeof(expect), "an integer from %ld to %ld", f->min, f->max);
        if (!json_is_integer(v) || json_integer_value(v) < f->min || json_integer_value(v) > f->max)
            return bw_schema_bad_value(ld, path, v, expect);
        *(long *)target = (long)json_integer_value(v);
        return;
    }
    case K_BOOL:
        if (!json_is_boolean(v))
            return bw_schema_bad_value(ld, path, v, "true or false");
        *(bool *)target = json_is_true(v);
        return;
    case K_DURATION:
        if (!json_is_string(v) || bw_parse_duration(json_string_value(v), false, target) < 0)
            return bw_schema_bad_value(ld, path, v,
                                       "a duration such as \"10s\", \"1m30s\" or \"250ms\"");
        return;
    case K_SIZE: {
        uint64_t bytes;
        if (!json_is_string(v) || bw_parse_size(json_string_value(v), &bytes) < 0)
            return bw_schema_bad_value(ld, path, v, "a size such as \"512M\" or \"20G\"");
        if (bytes < (uint64_t)f->min || (f->max && bytes > (uint64_t)f->max)) {
            char min[32], max[32], expect[96];
            bw_format_size((uint64_t)f->min, min, sizeof(min));
            bw_format_size((uint64_t)f->max, max, sizeof(max));
            if (f->max)
                snprintf(expect, sizeof(expect), "from %s to %s", min, max);
            else
                snprintf(expect, sizeof(expect), "at least %s", min);
            return bw_schema_bad_value(ld, path, v, expect);
        }
        *(uint64_t *)target = bytes;
        return;
    }
    case K_STRLIST: {
        bool ok = json_is_array(v) && (f->min == 0 || json_array_size(v) > 0);
        size_t i;
        json_t *item;
        if (ok)
            json_array_foreach(v, i, item) ok = ok && json_is_string(item);
        if (!ok)
            return bw_schema_bad_value(
                ld, path, v, f->min ? "a non-empty list of strings" : "a list of strings");
        set_strlist(target, v);
        return;
    }
    case K_OBJECT:
        if (!json_is_object(v))
            return bw_schema_bad_value(ld, path, v, "an object");
        bw_schema_walk(ld, v, path, f->sub, target);
        return;
    case K_LIST:
        if (!json_is_array(v))
            return bw_schema_bad_value(ld, path, v, "a list of objects");
        f->list(ld, v, path, base);
        return;
    case K_LATER:
        return;
    case K_VARS:
        if (!json_is_object(v))
            return bw_schema_bad_value(ld, path, v,
                                       "an object of variable names to default values");
        load_vars(ld, v, path);
        return;
    }
}

void bw_schema_walk(struct loader *ld, json_t *obj, const char *path, const struct schema *sc,
                    void *base)
{
    struct bw_buf p = BW_BUF_INIT;
    const char *key;
    json_t *val;
    json_object_foreach(obj, key, val)
    {
        bw_buf_reset(&p);
        bw_buf_adds(&p, path);
        bw_jsonpath_add_key(&p, key);
        const struct field *f = NULL;
        for (size_t i = 0; i < sc->n && !f; i++)
            if (strcmp(sc->fields[i].key, key) == 0)
                f = &sc->fields[i];
        if (!f)
            unknown_key(ld, p.data, key, sc);
        else
            load_field(ld, f, val, p.data, base);
    }
    for (size_t i = 0; i < sc->n; i++) {
        if (sc->fields[i].required && !json_object_get(obj, sc->fields[i].key)) {
            const char *help = sc->fields[i].help;
            bw_schema_report(ld, path, true, "missing required key \"%s\"%s%s%s", sc->fields[i].key,
                             help ? " (" : "", help ? help : "", help ? ")" : "");
        }
    }
    bw_buf_release(&p);
}

/* Walks each element of arr with sc into a fresh array of elem-sized structs. */
void *bw_schema_walk_array(struct loader *ld, json_t *arr, const char *path,
                           const struct schema *sc, size_t elem, size_t *count,
                           void (*init)(void *))
{
    size_t n = json_array_size(arr);
    char *items = bw_xcalloc(n + 1, elem);
    struct bw_buf p = BW_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        bw_buf_reset(&p);
        bw_buf_addf(&p, "%s[%zu]", path, i);
        init(items + i * elem);
        if (!json_is_object(v))
            bw_schema_bad_value(ld, p.data, v, "an object");
        else
            bw_schema_walk(ld, v, p.data, sc, items + i * elem);
    }
    bw_buf_release(&p);
    *count = n;
    return items;
}
