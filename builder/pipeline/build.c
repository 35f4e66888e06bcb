/* The build: the steps table and the runner; see build.h. */
#include "steps.h"
#include "../comm/comm.h"
#include "../base/file.h"
#include "../base/xmalloc.h"
#include "../seed/seed.h"
#include "../../iso-cache/iso_cache.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

const struct bw_driver *bw_build_driver(const struct bw_definition *def, const char *name,
                                        struct bw_error *err)
{
    const char *n = name ? name : def->driver ? def->driver : "qemu";
    const struct bw_driver *d = bw_driver_find(n);
    if (!d)
        bw_error_set(err, BW_ERR_USAGE, "driver \"%s\": expected one of %s", n, bw_driver_names());
    return d;
}

/* ---- steps ---- */

static int step_output(struct bw_build *b, struct bw_error *err)
{
    struct stat st;
    if (stat(b->out, &st) == 0) {
        if (!b->o->force) {
            bw_error_at(err, BW_ERR_USAGE, b->out, NULL, 0, 0,
                        "the output directory exists; remove it or pass --force");
            return -1;
        }
        if (bw_file_remove_tree(b->out) < 0) {
            bw_error_at(err, BW_ERR_IO, b->out, NULL, 0, 0, "cannot remove (--force): %s",
                        strerror(errno));
            return -1;
        }
    }
    /* The work directory holds the rendered seed, logs and the guest's screen: its owner's. */
    if (mkdir(b->out, 0755) < 0 || mkdir(b->work, 0700) < 0) {
        bw_error_at(err, BW_ERR_IO, b->out, NULL, 0, 0, "cannot create: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static void iso_event(const struct bw_iso_event *ev, void *ud)
{
    struct bw_build *b = ud;
    if (ev->kind == BW_ISO_HIT)
        bw_build_say(b, "info", "in the ISO cache");
    else if (ev->kind == BW_ISO_VERIFIED)
        bw_build_say(b, "info", "checksum verified");
    else if (ev->kind == BW_ISO_RETRY || ev->kind == BW_ISO_FAILED)
        bw_build_say(b, "info", "%s: %s", ev->url, ev->detail);
}

static int step_iso(struct bw_build *b, struct bw_error *err)
{
    struct bw_strlist urls = {NULL, 0};
    struct bw_buf sum = BW_BUF_INIT;
    bw_buf_init(&sum);
    struct bw_errors errs = BW_ERRORS_INIT;
    int rc = -1;
    if (bw_prepare_source(b->def, &urls, &sum, &errs) > 0) {
        bw_error_move(err, &errs.v[0]);
    } else {
        struct bw_iso_request req = {
            (const char *const *)urls.v, urls.n, sum.data, b->o->own_iso, 0, 0, 0, iso_event, b};
        char *dir = bw_iso_cache_dir();
        b->iso = bw_iso_fetch(dir, &req, err);
        free(dir);
        if (b->iso) {
            bw_build_say(b, "info", "%s", b->iso);
            rc = 0;
        }
    }
    bw_errors_release(&errs);
    bw_strlist_release(&urls);
    bw_buf_release(&sum);
    return rc;
}

static bool always(const struct bw_build *b)
{
    (void)b;
    return true;
}

static bool installs(const struct bw_build *b)
{
    return !bw_build_from_image(b);
}

static bool types(const struct bw_build *b)
{
    return strcmp(b->def->boot.method, "keys") == 0;
}

static bool seeds(const struct bw_build *b)
{
    return b->def->cloud_init.seed != NULL;
}

static bool has_cd(const struct bw_build *b)
{
    return b->def->cd.files.n > 0;
}

struct step {
    const char *name;
    int (*run)(struct bw_build *b, struct bw_error *err);
    void (*cleanup)(struct bw_build *b);
    bool (*applies)(const struct bw_build *b); /* a step that does not apply is not announced */
};

static const struct step steps[] = {
    {"output", step_output, NULL, always},
    {"iso", step_iso, NULL, always},
    {"http", bw_build_step_http, bw_build_cleanup_http, always},
    {"seed", bw_build_step_seed, NULL, seeds},
    {"cd", bw_build_step_cd, NULL, has_cd},
    {"disk", bw_build_step_disk, NULL, always},
    {"installer", bw_build_step_installer, bw_build_cleanup_vm, installs},
    {"type", bw_build_step_type, NULL, types},
    {"install", bw_build_step_install, NULL, installs},
    {"boot", bw_build_step_installed, bw_build_cleanup_vm, always},
    {"ssh", bw_build_step_ssh, bw_build_cleanup_ssh, always},
    {"provision", bw_build_step_provision, NULL, always},
    {"shutdown", bw_build_step_shutdown, NULL, always},
    {"export", bw_build_step_export, NULL, always},
    {"validate", bw_build_step_validate, NULL, always},
    {"ami", bw_build_step_ami, NULL, bw_build_makes_amis},
    {"manifest", bw_build_step_manifest, NULL, always},
};

int bw_build_run(struct bw_definition *def, const struct bw_build_options *o, struct bw_error *err)
{
    struct bw_build b;
    memset(&b, 0, sizeof(b));
    b.def = def;
    b.o = o;
    b.out = o->output_dir ? bw_xstrdup(o->output_dir) : bw_xasprintf("output-%s", def->name);
    b.work = bw_xasprintf("%s/.work", b.out);
    b.drv = bw_build_driver(def, o->driver, err);
    if (!b.drv) {
        free(b.out);
        free(b.work);
        return -1;
    }
    b.hv =
        (struct bw_hypervisor){b.drv, o->accel ? o->accel : "tcg", o->libvirt_uri, o->libvirt_pool};
    pthread_mutex_init(&b.req_lock, NULL);
    size_t done = 0;
    int rc = 0;
    for (; done < sizeof(steps) / sizeof(steps[0]); done++) {
        b.step = steps[done].name;
        if (!steps[done].applies(&b))
            continue;
        bw_build_say(&b, "step", "%s", steps[done].name);
        if (bw_build_check_interrupt(&b, err) < 0 || steps[done].run(&b, err) < 0) {
            rc = -1;
            done++; /* its cleanup runs too: it may have half-started something */
            break;
        }
    }
    bool abort_keep = rc < 0 && o->on_error == BW_ON_ERROR_ABORT;
    if (rc < 0 && bw_build_interrupted(&b)) /* whatever the step was doing when it noticed */
        bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted during %s", b.step);
    if (rc < 0) { /* a guest's screen or a tool's words in it may show a secret */
        char *m = bw_vars_mask(&def->vars, err->msg);
        free(err->msg);
        err->msg = m;
    }
    if (rc < 0) {
        bw_error_prefix(err, "step %s", b.step);
        if (done > 1) /* the output directory exists */
            bw_build_save_failure_evidence(&b, err);
    }
    if (abort_keep) {
        char *where =
            bw_xasprintf("; kept for debugging (--on-error=abort): work directory %s%s", b.work,
                         b.vm ? ", VM still running (QMP socket in its work "
                                "directory)"
                              : "");
        char *m = bw_xasprintf("%s%s", err->msg, where);
        free(err->msg);
        err->msg = m;
        free(where);
        /* Only the HTTP server stops: the VM and disk stay for inspection. */
        bw_build_cleanup_http(&b);
        bw_comm_close(b.comm);
    } else {
        b.step = "cleanup";
        while (done-- > 0)
            if (steps[done].cleanup)
                steps[done].cleanup(&b);
        if (o->keep) {
            bw_build_say(&b, "info", "work directory kept (--keep): %s", b.work);
        } else if (bw_file_remove_tree(b.work) < 0) {
            /* Not a child process: after Ctrl-C one would be stopped as it starts. */
            bw_build_say(&b, "warning", "cannot remove the work directory %s: %s", b.work,
                         strerror(errno));
        }
    }
    free(b.iso);
    free(b.disk);
    free(b.seed_iso);
    free(b.answer_iso);
    free(b.kernel);
    free(b.initrd);
    free(b.append);
    free(b.smbios_serial);
    free(b.typed);
    free(b.http_socket);
    bw_watch_stop(&b.watch);
    bw_build_report_requests(&b);
    pthread_mutex_destroy(&b.req_lock);
    for (size_t i = 0; i < b.n_arts; i++) {
        free((char *)b.arts[i].path);
        free((char *)b.arts[i].file);
    }
    free(b.arts);
    json_decref(b.amis);
    free(b.out);
    free(b.work);
    return rc;
}
