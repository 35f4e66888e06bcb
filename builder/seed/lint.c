/* Seed lint: YAML through libyaml, the schema through cloud-init; see lint.h. */
#include "lint.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

int bw_yaml_check(const char *file, const char *text, size_t len, struct bw_error *err)
{
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) {
        bw_error_set(err, BW_ERR_IO, "libyaml: cannot initialise a parser");
        return -1;
    }
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    int rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            const char *ctx = p.context ? p.context : NULL;
            bw_error_at(err, BW_ERR_SYNTAX, file, NULL, (int)p.problem_mark.line + 1,
                        (int)p.problem_mark.column + 1, "YAML: %s%s%s (expected valid YAML)",
                        p.problem ? p.problem : "cannot parse", ctx ? " " : "", ctx ? ctx : "");
            rc = -1;
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        if (end)
            break;
    }
    yaml_parser_delete(&p);
    return rc;
}

static const char *source_of(const struct bw_definition *def, const char *name)
{
    const struct bw_cloud_init *ci = &def->cloud_init;
    if (strcmp(name, "user-data") == 0)
        return ci->user_data;
    if (strcmp(name, "meta-data") == 0)
        return ci->meta_data;
    if (strcmp(name, "vendor-data") == 0)
        return ci->vendor_data;
    return ci->network_config;
}

static bool has_prefix(const struct bw_buf *b, const char *p)
{
    return b->len >= strlen(p) && strncmp(b->data, p, strlen(p)) == 0;
}

/* Runs cloud-init's schema check on data: 0 with *rejected (and why in msg, which the caller
 * releases), or -1 when cloud-init is missing. */
static int run_schema(const struct bw_buf *data, bool *rejected, struct bw_buf *msg)
{
    *rejected = false;
    bw_buf_init(msg);
    char tmpl[] = "/tmp/boxwright-user-data-XXXXXX";
    int fd = mkstemp(tmpl);
    if (fd < 0)
        return -1;
    bool ok = write(fd, data->data, data->len) == (ssize_t)data->len;
    close(fd);
    int rc = -1;
    if (ok) {
        char *argv[] = {"cloud-init", "schema", "--config-file", tmpl, NULL};
        struct bw_spawn_result res;
        struct bw_error e = BW_ERROR_INIT;
        /* A spawn that fails leaves status 0: cloud-init is not installed. */
        if (bw_spawn_run(argv, NULL, NULL, 0, &res, &e) == 0 || res.status != 0) {
            rc = 0;
            *rejected = res.status != 0;
            /* cloud-init names the temp file; the caller names the seed instead. */
            const struct bw_buf *parts[] = {&res.err, &res.out};
            for (size_t k = 0; *rejected && k < 2; k++)
                for (char *line = strtok(parts[k]->data ? parts[k]->data : (char *)"", "\n"); line;
                     line = strtok(NULL, "\n"))
                    if (strstr(line, "schema errors") || strstr(line, "Invalid") ||
                        strstr(line, "Error: ") == line)
                        bw_buf_addf(msg, "%s%s", msg->len ? "; " : "", line);
        }
        bw_error_release(&e);
        bw_spawn_result_release(&res);
    }
    unlink(tmpl);
    return rc;
}

/*
 * The schema check of the rendered user-data, with errors into errs; -1 when cloud-init is
 * missing. cloud-init quotes the values it rejects ("'Sup3rS3cretPW' is not of type
 * 'boolean'"): when a sensitive value went into the file, the words shown are those for the
 * file as it may be shown, and when only the real file is rejected, none.
 */
static int schema_check(const char *file, const struct bw_rendered_file *f, struct bw_errors *errs)
{
    bool rejected;
    struct bw_buf msg;
    if (run_schema(&f->data, &rejected, &msg) < 0) {
        bw_buf_release(&msg);
        return -1;
    }
    if (rejected && bw_rendered_is_sensitive(f)) {
        bool also;
        struct bw_buf shown_msg;
        run_schema(&f->shown, &also, &shown_msg);
        bw_buf_release(&msg);
        msg = shown_msg;
        if (!also) {
            bw_buf_reset(&msg);
            bw_buf_adds(&msg, "rejected where a sensitive value went in (its words would quote "
                              "it, so they are not shown)");
        }
    }
    if (rejected) {
        struct bw_error se = BW_ERROR_INIT;
        bw_error_at(&se, BW_ERR_SCHEMA, file, NULL, 0, 0,
                    "cloud-init schema (rendered user-data): %s",
                    msg.len ? msg.data : "rejected, with no message");
        bw_errors_take(errs, &se);
    }
    bw_buf_release(&msg);
    return 0;
}

size_t bw_seed_lint(const struct bw_definition *def, const struct bw_rendered *seeds,
                    bool *schema_checked, struct bw_errors *errs)
{
    size_t before = errs->n;
    *schema_checked = false;
    for (size_t i = 0; i < seeds->n; i++) {
        const struct bw_rendered_file *f = &seeds->v[i];
        const char *src = source_of(def, f->name);
        if (!src)
            continue; /* generated by boxwright */
        char *file = bw_xasprintf("%s/%s (rendered)", def->dir, src);
        bool user = strcmp(f->name, "user-data") == 0;
        bool script = user && (has_prefix(&f->data, "#!") || has_prefix(&f->data, "#include") ||
                               has_prefix(&f->data, "Content-Type:"));
        struct bw_error e = BW_ERROR_INIT;
        if (user && !script && !has_prefix(&f->data, "#cloud-config")) {
            bw_error_at(&e, BW_ERR_SCHEMA, file, NULL, 1, 1,
                        "user-data does not start with \"#cloud-config\" (cloud-init ignores it "
                        "then): expected #cloud-config on the first line, or a script (#!)");
            bw_errors_take(errs, &e);
        } else if (!script && bw_yaml_check(file, f->data.data, f->data.len, &e) < 0) {
            bw_errors_take(errs, &e);
        } else if (user && !script) {
            if (schema_check(file, f, errs) == 0)
                *schema_checked = true;
        }
        bw_error_release(&e);
        free(file);
    }
    return errs->n - before;
}
