/* Steps export, validate and manifest: what a build hands to its users. */
#include "steps.h"
#include "../base/xmalloc.h"
#include "../disk/disk.h"
#include "../export/exporter.h"

#include <string.h>
#include <sys/stat.h>

/* provider: a box's, from the exporter table (static), or NULL */
static void add_artifact(struct bw_build *b, const char *name, const char *type,
                         const char *provider)
{
    BW_GROW(b->arts, b->alloc_arts, b->n_arts + 1);
    b->arts[b->n_arts++] =
        (struct bw_artifact){bw_xstrdup(name), bw_xasprintf("%s/%s", b->out, name), type, provider};
}

/* The providers of an --export list, each a new string; *n set. NULL items are never made. */
static char **split_list(const char *list, size_t *n)
{
    char **v = bw_xcalloc(strlen(list) + 2, sizeof(char *));
    *n = 0;
    for (const char *p = list;;) {
        size_t len = strcspn(p, ",");
        v[(*n)++] = bw_xstrndup(p, len);
        if (!p[len])
            break;
        p += len + 1;
    }
    return v;
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int bw_build_check_exports(const char *list, struct bw_error *err)
{
    size_t n;
    char **v = split_list(list, &n);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        bool twice = false;
        for (size_t k = 0; k < i; k++)
            twice = twice || strcmp(v[k], v[i]) == 0;
        if ((!bw_exporter_find(v[i]) && strcmp(v[i], "ami") != 0) || twice) {
            struct bw_buf names = BW_BUF_INIT;
            bw_buf_init(&names);
            for (const char *const *p = bw_exporter_providers(); *p; p++)
                bw_buf_addf(&names, "%s%s", p == bw_exporter_providers() ? "" : ", ", *p);
            bw_error_set(err, BW_ERR_USAGE,
                         "--export \"%s\": %s \"%s\"; expected providers, each once, "
                         "separated by commas: %s (or ami: the definition's AMIs)",
                         list, twice ? "twice" : "no such provider", v[i], names.data);
            bw_buf_release(&names);
            rc = -1;
        }
    }
    free_list(v, n);
    return rc;
}

static bool is_box(const struct bw_export *e)
{
    return strcmp(e->type, "vagrant") == 0;
}

bool bw_build_export_listed(const char *list, const char *name)
{
    if (!list)
        return false;
    size_t n;
    char **v = split_list(list, &n);
    bool found = false;
    for (size_t i = 0; i < n; i++)
        found = found || strcmp(v[i], name) == 0;
    free_list(v, n);
    return found;
}

/* The boxes of this build: --export's providers, with the definition's settings for those
 * it lists, or the definition's boxes, or without either (no exports at all) the box the
 * driver runs natively. Pointers into the definition and into providers. */
static size_t exports_of(const struct bw_build *b, char **providers, size_t n_providers,
                         struct bw_export *out)
{
    if (!b->o->exports && b->def->n_exports == 0) { /* the driver's own kind of box */
        out[0] = (struct bw_export){.type = (char *)"vagrant",
                                    .provider = (char *)b->drv->box_provider,
                                    .compression = (char *)"gzip",
                                    .level = -1};
        return 1;
    }
    size_t n = 0;
    if (!b->o->exports) {
        for (size_t i = 0; i < b->def->n_exports; i++)
            if (is_box(&b->def->exports[i]))
                out[n++] = b->def->exports[i];
        return n;
    }
    for (size_t i = 0; i < n_providers; i++) {
        if (strcmp(providers[i], "ami") == 0)
            continue;
        out[n] = (struct bw_export){.type = (char *)"vagrant",
                                    .provider = providers[i],
                                    .compression = (char *)"gzip",
                                    .level = -1};
        for (size_t k = 0; k < b->def->n_exports; k++)
            if (is_box(&b->def->exports[k]) &&
                strcmp(b->def->exports[k].provider, providers[i]) == 0)
                out[n] = b->def->exports[k];
        n++;
    }
    return n;
}

int bw_build_step_export(struct bw_build *b, struct bw_error *err)
{
    size_t n_providers = 0;
    char **providers = b->o->exports ? split_list(b->o->exports, &n_providers) : NULL;
    struct bw_export *exports =
        bw_xcalloc(b->def->n_exports + n_providers + 1, sizeof(struct bw_export));
    size_t n = exports_of(b, providers, n_providers, exports);
    /* only the clusters in use: the compacted disk */
    char *img = bw_xasprintf("%s/box.img", b->out);
    int rc = bw_disk_convert(b->disk, img, "qcow2", NULL, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const struct bw_export *e = &exports[i];
        const struct bw_exporter *x = bw_exporter_find(e->provider); /* the definition checked */
        char *name = bw_xasprintf("%s-%s.box", b->def->name, e->provider);
        char *path = bw_xasprintf("%s/%s", b->out, name);
        struct bw_export_input in = {
            .name = b->def->name,
            .workdir = b->work,
            .disk = img,
            .memory = b->def->vm.memory,
            .cpus = b->def->vm.cpus,
            .efi = strcmp(b->def->vm.firmware, "efi") == 0,
            .os_family = b->def->os.family,
            .os_distro = b->def->os.distro,
            .kvm = b->o->accel && strcmp(b->o->accel, "kvm") == 0,
            .compression = e->compression,
            .level = e->level,
            .vagrantfile = e->vagrantfile,
        };
        rc = x->write_box(&in, path, err);
        if (rc == 0) {
            struct stat st;
            stat(path, &st);
            bw_build_say(b, "info", "%s (%.1f MiB)", path, (double)st.st_size / 1048576.0);
            add_artifact(b, name, "vagrant-box", x->provider);
        }
        free(path);
        free(name);
    }
    free(img);
    free(exports);
    if (providers)
        free_list(providers, n_providers);
    return rc;
}

static void validate_say(void *ud, const char *msg)
{
    bw_build_say(ud, "info", "%s", msg);
}

int bw_build_step_validate(struct bw_build *b, struct bw_error *err)
{
    if (b->o->skip_validate) {
        bw_build_say(b, "info", "skipped (--skip-validate)");
        return 0;
    }
    char *img = bw_xasprintf("%s/box.img", b->out);
    char *dir = bw_xasprintf("%s/validate", b->work);
    char *junit = bw_xasprintf("%s-validation.xml", b->def->name);
    char *junit_path = bw_xasprintf("%s/%s", b->out, junit);
    struct bw_check_result *r;
    size_t n;
    struct bw_validate_opts vo = {junit_path, b->o->interrupted, validate_say, b};
    int failed = bw_validate_image(b->def, img, dir, &b->hv, &vo, &r, &n, err);
    for (size_t i = 0; i < n; i++)
        bw_build_say(b, "info", "%-4s %s%s%s", r[i].passed ? "PASS" : "FAIL", r[i].name,
                     r[i].problem ? ": " : "", r[i].problem ? r[i].problem : "");
    if (failed >= 0)
        add_artifact(b, junit, "junit", NULL);
    if (failed > 0)
        bw_error_set(err, BW_ERR_SPAWN, "%d of %zu checks failed (report: %s)", failed, n,
                     junit_path);
    bw_check_results_free(r, n);
    free(img);
    free(dir);
    free(junit);
    free(junit_path);
    return failed == 0 ? 0 : -1;
}

static void add_fetched(const char *name, unsigned fetches, void *ud)
{
    json_array_append_new(ud, json_pack("{s:s,s:i}", "path", name, "fetches", (int)fetches));
}

int bw_build_step_manifest(struct bw_build *b, struct bw_error *err)
{
    char *m = bw_xasprintf("%s/manifest.json", b->out);
    /* What the guest took from the HTTP server: a record of what the install really used. */
    json_t *fetched = json_array();
    if (b->http)
        bw_http_each_fetched(b->http, add_fetched, fetched);
    json_t *extra = json_pack("{s:o}", "guest_fetched", fetched);
    if (b->amis) /* the images, per region */
        json_object_set(extra, "amis", b->amis);
    int rc = bw_write_manifest(m, b->def->name, b->arts, b->n_arts, extra, err);
    json_decref(extra);
    if (rc == 0)
        bw_build_say(b, "info", "%s", m);
    free(m);
    return rc;
}
