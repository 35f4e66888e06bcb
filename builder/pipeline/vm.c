/* Steps disk, installer, type, install and boot: the disk, the VMs of a build, the boot
 * command typed, the installer watched until it powers off. */
#include "steps.h"
#include "vmspec.h"
#include "../base/units.h"
#include "../base/xmalloc.h"
#include "../disk/disk.h"
#include "../disk/iso.h"
#include "../seed/seed.h"
#include "../typing/typist.h"

#include <string.h>
#include <sys/stat.h>

/*
 * The image's virtual size, once qemu-img's own probe agrees that the image is in the format
 * the definition gives. QEMU is always told the format, never left to guess; without this
 * check a raw declaration on a qcow2 file would hand the guest qcow2's metadata as its disk,
 * and qemu-img would "read" any file as raw.
 */
static int image_size(struct bw_build *b, uint64_t *size, struct bw_error *err)
{
    const char *want = b->def->image.format;
    char found[16];
    if (bw_disk_info(b->iso, size, found, err) < 0) {
        bw_error_prefix(err, "expected a %s image", want);
        return -1;
    }
    if (strcmp(found, want) != 0) {
        bw_definition_error(b->def, err, ".image.format",
                            "\"%s\", but the image (%s) is %s: expected \"%s\"", want, b->iso,
                            found, found);
        return -1;
    }
    return 0;
}

int bw_build_step_disk(struct bw_build *b, struct bw_error *err)
{
    b->disk = bw_xasprintf("%s/disk.qcow2", b->work);
    if (!bw_build_from_image(b))
        return bw_disk_create(b->disk, b->def->vm.disk_size, err);
    /* An overlay on the cached image, which is never written. */
    const char *fmt = b->def->image.format;
    uint64_t have;
    if (image_size(b, &have, err) < 0)
        return -1;
    char want_s[32], have_s[32];
    bw_format_size(b->def->vm.disk_size, want_s, sizeof(want_s));
    bw_format_size(have, have_s, sizeof(have_s));
    if (have > b->def->vm.disk_size) {
        bw_definition_error(
            b->def, err, ".vm.disk_size",
            "\"%s\" is smaller than the image (%s, %llu bytes): expected at least %s", want_s,
            have_s, (unsigned long long)have, have_s);
        return -1;
    }
    if (bw_disk_overlay(b->disk, b->iso, fmt, b->def->vm.disk_size, err) < 0)
        return -1;
    bw_build_say(b, "info", "a qcow2 overlay on the cached %s image (%s), grown to %s", fmt, have_s,
                 want_s);
    return 0;
}

static void driver_note(const char *msg, void *ud)
{
    bw_build_say(ud, "info", "%s", msg);
}

/* The VMs of a build: the installer (ISO, HTTP), the installed system (disk, SSH) and, from
 * a disk image, the first boot that is both (disk, seed, HTTP, SSH). */
enum { VM_MEDIA = 1, VM_HTTP = 2, VM_SSH = 4 };

static int start_vm(struct bw_build *b, const char *name, unsigned what, struct bw_error *err)
{
    struct bw_vm_spec spec = {0};
    char *dir = bw_xasprintf("%s/%s", b->work, name);
    mkdir(dir, 0755);
    char *vm_name = bw_vm_name(b->def->name, name);
    bw_vm_spec_of(b->def, &b->hv, &spec);
    spec.name = vm_name;
    spec.workdir = dir;
    spec.disk = b->disk;
    spec.keep_disk_changes = true;
    spec.note = driver_note;
    spec.note_ud = b;
    if (what & VM_MEDIA) {
        spec.iso = bw_build_from_image(b) ? NULL : b->iso;
        spec.seed_iso = b->seed_iso;
        spec.answer_iso = b->answer_iso;
        spec.smbios_serial = b->smbios_serial;
        spec.kernel = b->kernel;
        spec.initrd = b->initrd;
        spec.append = b->append;
    }
    if (what & VM_HTTP) {
        if (b->relay)
            spec.http_port = bw_http_stream_port(b->relay);
        else
            spec.http_socket = b->http_socket;
    }
    if (what & VM_SSH) {
        b->ssh_port = bw_free_port();
        spec.ssh_host_port = b->ssh_port;
    }
    b->vm = b->drv->create(&spec, err);
    free(dir);
    int rc = b->vm ? b->drv->start(b->vm, err) : -1;
    b->vm_role = name;
    if (rc == 0)
        bw_build_say(b, "info", "%s started (driver %s, %s, %s network%s%s%s)", vm_name,
                     b->drv->name, spec.accel, b->def->vm.network,
                     spec.kernel ? ", direct kernel boot" : "",
                     spec.seed_iso ? ", seed volume attached" : "",
                     spec.answer_iso ? ", answer CD attached" : "");
    free(vm_name);
    return rc;
}

void bw_build_cleanup_vm(struct bw_build *b)
{
    if (b->vm && b->drv)
        b->drv->destroy(b->vm);
    b->vm = NULL;
}

int bw_build_step_installer(struct bw_build *b, struct bw_error *err)
{
    if (strcmp(b->def->boot.method, "kernel") == 0) {
        b->kernel = bw_xasprintf("%s/kernel", b->work);
        b->initrd = bw_xasprintf("%s/initrd", b->work);
        const char *inside[] = {b->def->boot.kernel, b->def->boot.initrd};
        const char *out[] = {b->kernel, b->initrd};
        if (bw_iso_extract(b->iso, inside, out, 2, err) < 0)
            return -1;
        struct bw_errors errs = BW_ERRORS_INIT;
        struct bw_buf append = BW_BUF_INIT, shown = BW_BUF_INIT;
        if (bw_prepare_shown(b->def, ".boot.append", b->def->boot.append, &append, &shown, &errs) <
            0) {
            bw_error_move(err, &errs.v[0]);
            bw_errors_release(&errs);
            bw_buf_release(&append);
            bw_buf_release(&shown);
            return -1;
        }
        b->append = bw_buf_detach(&append);
        bw_build_say(b, "info", "direct kernel boot: %s and %s from the ISO, command line: %s",
                     b->def->boot.kernel, b->def->boot.initrd, shown.data);
        bw_buf_release(&shown);
    }
    return start_vm(b, "installer", VM_MEDIA | VM_HTTP, err);
}

static void typing_note(const char *kind, const char *msg, void *ud)
{
    bw_build_say(ud, kind, "%s", msg);
}

int bw_build_step_type(struct bw_build *b, struct bw_error *err)
{
    const struct bw_definition *d = b->def;
    if (d->boot.wait_ms) {
        char wait[32];
        bw_format_duration(d->boot.wait_ms, wait, sizeof(wait));
        bw_build_say(b, "info", "waiting %s for the boot menu", wait);
        if (bw_build_pause_ms(b, d->boot.wait_ms, err) < 0)
            return -1;
    }
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_buf text = BW_BUF_INIT, shown = BW_BUF_INIT;
    bw_buf_init(&text);
    bw_buf_init(&shown);
    if (d->boot.wait_for.text || d->boot.wait_for.regex) {
        /* The screen before the clock: an <expect> in front of the command. */
        bool re = d->boot.wait_for.regex != NULL;
        ev.v = bw_xcalloc(1, sizeof(*ev.v));
        ev.alloc = ev.n = 1;
        ev.v[0] =
            (struct bw_key_event){BW_KEY_EXPECT,
                                  BW_KEY_NONE,
                                  d->boot.wait_for.timeout_ms,
                                  0,
                                  0,
                                  re,
                                  bw_xstrdup(re ? d->boot.wait_for.regex : d->boot.wait_for.text)};
    }
    int rc = -1;
    if (bw_prepare_boot_command(b->def, &text, &shown, &ev, &errs) > 0) {
        bw_error_move(err, &errs.v[0]);
    } else {
        free(b->typed);
        b->typed = bw_xstrdup(text.data);
        char *dir = bw_xasprintf("%s/typing", b->work);
        mkdir(dir, 0700);
        struct bw_typing_options o = {(unsigned)d->boot.key_hold_ms,
                                      (unsigned)d->boot.key_interval_ms * 1000,
                                      (unsigned)d->boot.keys_in_flight,
                                      !d->boot.read_back,
                                      (unsigned)d->boot.accept_timeout_ms,
                                      dir,
                                      b->o->interrupted,
                                      typing_note,
                                      b};
        struct bw_typing_report r;
        rc = bw_type(b->drv, b->vm, &ev, &o, &r, err);
        if (rc == 0)
            bw_build_say(
                b, "info",
                "typed %zu characters (%zu keys) in %.2f s, %.2f s of it typing: %zu retyped, "
                "%zu read back on the screen (%zu reads)%s: %s",
                r.chars, r.keys, r.seconds, r.typing, r.retyped, r.verified, r.reads,
                r.blind_runs ? ", some typed without reading back" : "", shown.data);
        else if (err->code == BW_ERR_INTERRUPTED)
            bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted during %s", b->step);
        free(dir);
    }
    bw_buf_release(&text);
    bw_buf_release(&shown);
    bw_key_events_release(&ev);
    bw_errors_release(&errs);
    return rc;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * Waits for the VM to power off, reporting what the guest asks the HTTP server for; with
 * `watch`, stops when nothing moves for the stall timeout. An interruption is an
 * interruption even when the VM has stopped as well.
 */
int bw_build_wait_power_off(struct bw_build *b, uint64_t timeout_ms, bool watch,
                            struct bw_error *err)
{
    double start = now_s(), next_look = start;
    if (watch) {
        bw_watch_start(&b->watch, b->drv, b->vm, b->work, b->disk, b->http,
                       b->def->boot.stall_timeout_ms);
        bw_watch_questions(&b->watch, &b->def->boot.questions, b->def->boot.question_timeout_ms);
    }
    for (;;) {
        bw_build_report_requests(b);
        struct bw_error e = BW_ERROR_INIT;
        bool off = b->drv->wait_off(b->vm, 200, &e) == 0;
        bw_error_release(&e);
        if (bw_build_check_interrupt(b, err) < 0)
            return -1;
        if (off) {
            bw_build_report_requests(b);
            return 0;
        }
        double now = now_s();
        if (watch && now >= next_look) {
            next_look = now + 2.0;
            if (bw_watch_poll(&b->watch, err) < 0)
                return -1;
        }
        if ((now - start) * 1000.0 >= (double)timeout_ms) {
            bw_error_set(err, BW_ERR_INTERRUPTED, "the guest did not power off within %llu s",
                         (unsigned long long)(timeout_ms / 1000));
            return -1;
        }
    }
}

/*
 * The paths below the HTTP server that text points the guest at
 * (http://HTTPIP:HTTPPort/PATH), each once.
 */
static void pointed_at(struct bw_build *b, const char *text, struct bw_strlist *out)
{
    if (!text || !b->http)
        return;
    char *prefix = bw_xasprintf("http://%s:%u/", b->http_ip, b->http_guest_port);
    for (const char *p = strstr(text, prefix); p; p = strstr(p, prefix)) {
        p += strlen(prefix);
        size_t n = strcspn(p, " \t\n\"'<>?#");
        if (n == 0 || p[n - 1] == '/')
            continue;
        char *path = bw_xstrndup(p, n);
        bool seen = false;
        for (size_t i = 0; i < out->n && !seen; i++)
            seen = strcmp(out->v[i], path) == 0;
        if (seen) {
            free(path);
            continue;
        }
        out->v = bw_xrealloc(out->v, (out->n + 1) * sizeof(*out->v));
        out->v[out->n++] = path;
    }
    free(prefix);
}

int bw_build_step_install(struct bw_build *b, struct bw_error *err)
{
    if (bw_build_wait_power_off(
            b, b->def->winrm.set ? b->def->winrm.timeout_ms : b->def->ssh.timeout_ms, true, err) <
        0)
        return -1;
    /* An installer that stops without the answer file it was pointed at did not install. */
    struct bw_strlist wanted = {NULL, 0};
    pointed_at(b, b->typed, &wanted);
    pointed_at(b, b->append, &wanted);
    struct bw_buf missing = BW_BUF_INIT;
    bw_buf_init(&missing);
    for (size_t i = 0; i < wanted.n; i++)
        if (bw_http_fetches(b->http, wanted.v[i]) == 0)
            bw_buf_addf(&missing, "%s%s", missing.len ? ", " : "", wanted.v[i]);
    bw_strlist_release(&wanted);
    if (missing.len) {
        bw_error_set(err, BW_ERR_SPAWN,
                     "the installer powered off without fetching %s, which the boot command "
                     "points it at: it did not install",
                     missing.data);
        bw_buf_release(&missing);
        return -1;
    }
    bw_buf_release(&missing);
    bw_build_say(b, "info", "the installer powered off");
    bw_build_cleanup_vm(b);
    return 0;
}

int bw_build_step_installed(struct bw_build *b, struct bw_error *err)
{
    /* From an image, this is the first boot: the seed is read now. */
    if (bw_build_from_image(b))
        return start_vm(b, "first-boot", VM_MEDIA | VM_HTTP | VM_SSH, err);
    return start_vm(b, "installed", VM_SSH, err);
}
