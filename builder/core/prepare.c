#include "prepare.h"
#include "../base/xmalloc.h"
#include "../render/template.h"
#include "../../iso-cache/iso_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Renders the file at path into a new entry of out named name; `what` says what it is in errors. */
static void render_file(const struct bw_definition *def, const char *path, const char *name,
                        const char *what, struct bw_rendered *out, struct bw_errors *errs)
{
    struct bw_render_ctx ctx = {&def->vars, NULL, NULL};
    struct bw_buf src = BW_BUF_INIT;
    struct bw_error err = BW_ERROR_INIT;
    if (bw_buf_read_file(&src, path) < 0) {
        bw_error_at(&err, BW_ERR_IO, path, NULL, 0, 0, "cannot read the %s: %s", what,
                    strerror(errno));
        bw_errors_take(errs, &err);
    } else {
        BW_GROW(out->v, out->alloc, out->n + 1);
        struct bw_rendered_file *f = &out->v[out->n];
        memset(f, 0, sizeof(*f));
        bw_buf_init(&f->data);
        bw_buf_init(&f->shown);
        ctx.shown = &f->shown;
        if (bw_render(path, src.data, src.len, &ctx, &f->data, &err) < 0) {
            bw_errors_take(errs, &err);
            bw_buf_release(&f->data);
            bw_buf_release(&f->shown);
        } else {
            f->name = bw_xstrdup(name);
            out->n++;
        }
    }
    bw_buf_release(&src);
}

size_t bw_prepare_answer_files(const struct bw_definition *def, struct bw_rendered *out,
                               struct bw_errors *errs)
{
    size_t before = errs->n;
    for (size_t i = 0; i < def->http.render.n; i++) {
        const char *name = def->http.render.v[i];
        char *rel = bw_xasprintf("%s/%s", def->http.directory ? def->http.directory : ".", name);
        char jp[64];
        snprintf(jp, sizeof(jp), ".http.render[%zu]", i);
        struct bw_error err = BW_ERROR_INIT;
        char *path = bw_definition_file(def, jp, rel, &err);
        free(rel);
        if (path)
            render_file(def, path, name, "answer file", out, errs);
        else
            bw_errors_take(errs, &err);
        free(path);
    }
    return errs->n - before;
}

size_t bw_prepare_cd_files(const struct bw_definition *def, struct bw_rendered *out,
                           struct bw_errors *errs)
{
    size_t before = errs->n;
    for (size_t i = 0; i < def->cd.files.n; i++) {
        const char *rel = def->cd.files.v[i];
        char jp[64];
        snprintf(jp, sizeof(jp), ".cd.files[%zu]", i);
        struct bw_error err = BW_ERROR_INIT;
        char *path = bw_definition_file(def, jp, rel, &err);
        const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
        if (path)
            render_file(def, path, base, "CD file", out, errs);
        else
            bw_errors_take(errs, &err);
        free(path);
    }
    return errs->n - before;
}

bool bw_rendered_is_sensitive(const struct bw_rendered_file *f)
{
    return f->data.len != f->shown.len || memcmp(f->data.data, f->shown.data, f->data.len) != 0;
}

void bw_rendered_release(struct bw_rendered *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].name);
        bw_buf_release(&r->v[i].data);
        bw_buf_release(&r->v[i].shown);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

size_t bw_prepare_boot_command(const struct bw_definition *def, struct bw_buf *text,
                               struct bw_buf *shown, struct bw_key_events *events,
                               struct bw_errors *errs)
{
    size_t before = errs->n;
    struct bw_buf all = BW_BUF_INIT, all_shown = BW_BUF_INIT;
    bw_buf_init(&all);
    bw_buf_init(&all_shown);
    bool secret = false;
    for (size_t i = 0; i < def->boot.command.n; i++) {
        char *name = bw_xasprintf("%s .boot.command[%zu]", def->file, i);
        const char *src = def->boot.command.v[i];
        struct bw_buf one = BW_BUF_INIT, one_shown = BW_BUF_INIT;
        bw_buf_init(&one);
        bw_buf_init(&one_shown);
        struct bw_render_ctx ctx = {&def->vars, NULL, &one_shown};
        struct bw_error err = BW_ERROR_INIT;
        if (bw_render(name, src, strlen(src), &ctx, &one, &err) < 0) {
            bw_errors_take(errs, &err);
        } else {
            /* Compile each element alone first so an error points into it. */
            bool has_secret =
                one.len != one_shown.len || memcmp(one.data, one_shown.data, one.len) != 0;
            secret = secret || has_secret;
            struct bw_key_events scratch = BW_KEY_EVENTS_INIT;
            if (bw_bootcmd_compile(one.data, one.len, name, &scratch, &err) < 0) {
                if (has_secret) /* the message would quote what the secret made of it */
                    bw_error_at(&err, BW_ERR_SYNTAX, name, NULL, err.line, err.col,
                                "cannot be typed as it renders, and a sensitive value is in it "
                                "(so it is not shown): expected keys, waits and printable "
                                "characters");
                bw_errors_take(errs, &err);
            }
            bw_key_events_release(&scratch);
            bw_buf_add(&all, one.data, one.len);
            bw_buf_add(&all_shown, one_shown.data, one_shown.len);
        }
        bw_buf_release(&one);
        bw_buf_release(&one_shown);
        free(name);
    }
    if (errs->n == before && events) {
        struct bw_error err = BW_ERROR_INIT;
        if (bw_bootcmd_compile(all.data, all.len, def->file, events, &err) < 0) {
            if (secret)
                bw_error_at(&err, BW_ERR_SYNTAX, def->file, ".boot.command", err.line, err.col,
                            "cannot be typed as it renders, and a sensitive value is in it (so "
                            "it is not shown)");
            bw_errors_take(errs, &err);
        }
    }
    if (text)
        bw_buf_add(text, all.data, all.len);
    if (shown)
        bw_buf_add(shown, all_shown.data, all_shown.len);
    bw_buf_release(&all);
    bw_buf_release(&all_shown);
    return errs->n - before;
}

int bw_prepare_shown(const struct bw_definition *def, const char *jpath, const char *raw,
                     struct bw_buf *out, struct bw_buf *shown, struct bw_errors *errs)
{
    struct bw_render_ctx ctx = {&def->vars, NULL, shown};
    char *name = bw_xasprintf("%s %s", def->file, jpath);
    struct bw_error err = BW_ERROR_INIT;
    if (!out->data)
        bw_buf_init(out);
    int rc = bw_render(name, raw, strlen(raw), &ctx, out, &err);
    if (rc < 0)
        bw_errors_take(errs, &err);
    free(name);
    return rc;
}

int bw_prepare_string(const struct bw_definition *def, const char *jpath, const char *raw,
                      struct bw_buf *out, struct bw_errors *errs)
{
    return bw_prepare_shown(def, jpath, raw, out, NULL, errs);
}

void bw_strlist_release(struct bw_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    memset(l, 0, sizeof(*l));
}

static size_t prepare_source(const struct bw_definition *def, struct bw_strlist *urls,
                             struct bw_buf *checksum, bool want_shown, struct bw_errors *errs);

size_t bw_prepare_source(const struct bw_definition *def, struct bw_strlist *urls,
                         struct bw_buf *checksum, struct bw_errors *errs)
{
    return prepare_source(def, urls, checksum, false, errs);
}

size_t bw_prepare_source_shown(const struct bw_definition *def, struct bw_strlist *urls,
                               struct bw_buf *checksum, struct bw_errors *errs)
{
    return prepare_source(def, urls, checksum, true, errs);
}

static size_t prepare_source(const struct bw_definition *def, struct bw_strlist *urls,
                             struct bw_buf *checksum, bool want_shown, struct bw_errors *errs)
{
    size_t before = errs->n;
    const struct bw_source *src = bw_definition_source(def);
    const char *key = bw_definition_source_key(def);
    for (size_t i = 0; i < src->urls.n; i++) {
        char jp[48];
        snprintf(jp, sizeof(jp), "%s.urls[%zu]", key, i);
        struct bw_buf u = BW_BUF_INIT, us = BW_BUF_INIT;
        if (bw_prepare_shown(def, jp, src->urls.v[i], &u, want_shown ? &us : NULL, errs) == 0 &&
            urls) {
            urls->v = bw_xrealloc(urls->v, (urls->n + 1) * sizeof(char *));
            urls->v[urls->n++] = bw_buf_detach(want_shown ? &us : &u);
        }
        bw_buf_release(&u);
        bw_buf_release(&us);
    }
    struct bw_buf c = BW_BUF_INIT, cs = BW_BUF_INIT;
    char jp[48];
    snprintf(jp, sizeof(jp), "%s.checksum", key);
    if (src->checksum &&
        bw_prepare_shown(def, jp, src->checksum, &c, want_shown ? &cs : NULL, errs) == 0) {
        struct bw_checksum_spec spec;
        struct bw_error err = BW_ERROR_INIT;
        if (bw_checksum_spec_parse(c.data, &spec, &err) < 0) {
            bw_error_at(&err, BW_ERR_SCHEMA, def->file, jp, 0, 0, "%s", err.msg);
            bw_errors_take(errs, &err);
        }
        bw_checksum_spec_release(&spec);
        if (checksum)
            bw_buf_add(checksum, want_shown ? cs.data : c.data, want_shown ? cs.len : c.len);
    }
    bw_buf_release(&c);
    bw_buf_release(&cs);
    return errs->n - before;
}

/* Renders the seed file at rel (relative to the definition) into a new entry of out. */
static void render_seed(const struct bw_definition *def, const char *name, const char *rel,
                        struct bw_rendered *out, struct bw_errors *errs)
{
    char jp[64];
    snprintf(jp, sizeof(jp), ".cloud_init.%s", name);
    for (char *p = jp; *p; p++)
        if (*p == '-')
            *p = '_'; /* user-data is at .cloud_init.user_data */
    struct bw_error err = BW_ERROR_INIT;
    char *path = bw_definition_file(def, jp, rel, &err);
    if (!path) {
        bw_errors_take(errs, &err);
        return;
    }
    char *what = bw_xasprintf("%s file", name);
    render_file(def, path, name, what, out, errs);
    free(what);
    free(path);
}

static void add_generated(struct bw_rendered *out, const char *name, const char *text)
{
    BW_GROW(out->v, out->alloc, out->n + 1);
    struct bw_rendered_file *f = &out->v[out->n++];
    memset(f, 0, sizeof(*f));
    f->name = bw_xstrdup(name);
    bw_buf_init(&f->data);
    bw_buf_adds(&f->data, text);
}

size_t bw_prepare_seed(const struct bw_definition *def, const char *instance_id,
                       struct bw_rendered *out, struct bw_errors *errs)
{
    size_t before = errs->n;
    const struct bw_cloud_init *ci = &def->cloud_init;
    if (!ci->seed)
        return 0;
    render_seed(def, "user-data", ci->user_data, out, errs);
    if (ci->meta_data) {
        render_seed(def, "meta-data", ci->meta_data, out, errs);
    } else {
        const struct bw_var *name = bw_vars_get(&def->vars, "Name");
        char *md = bw_xasprintf("instance-id: %s\nlocal-hostname: %s\n", instance_id,
                                name && name->value.s ? name->value.s : "localhost");
        add_generated(out, "meta-data", md);
        free(md);
    }
    /* Served empty when there is none: cloud-init 22.4 retries a 404 vendor-data ten times,
     * a second apart (measured on this project's test guests). */
    if (ci->vendor_data)
        render_seed(def, "vendor-data", ci->vendor_data, out, errs);
    else
        add_generated(out, "vendor-data", "");
    if (ci->network_config)
        render_seed(def, "network-config", ci->network_config, out, errs);
    return errs->n - before;
}
