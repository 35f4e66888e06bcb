/* The build: steps with cleanups; see build.h. */
#include "build.h"
#include "vmspec.h"
#include "watch.h"
#include "../comm/ssh.h"
#include "../base/buf.h"
#include "../base/file.h"
#include "../core/prepare.h"
#include "../base/spawn.h"
#include "../base/units.h"
#include "../base/xmalloc.h"
#include "../drivers/driver.h"
#include "../disk/disk.h"
#include "../export/export.h"
#include "../export/exporter.h"
#include "../seed/seed.h"
#include "../typing/typist.h"
#include "../../http-server/http_server.h"
#include "../../http-server/stream.h"
#include "../../iso-cache/iso_cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct pending_request {
    char *vm, *method, *path;
    unsigned status;
    uint64_t bytes;
    double seconds;
};

struct build {
    struct bw_definition *def;
    const struct bw_build_options *o;
    char *out, *work;
    char *iso;
    struct bw_http_server *http;
    struct bw_http_stream *relay; /* for drivers whose guests reach HTTP as one stream */
    char *disk;
    char *seed_iso;           /* the cidata volume, when the seed goes on a CD */
    char *kernel, *initrd;    /* direct kernel boot: copied out of the ISO */
    char *append;             /* ... and the rendered command line */
    char *smbios_serial;      /* "ds=nocloud-net;s=URL" when the seed goes over HTTP */
    const char *http_ip;      /* where the guest reaches the HTTP server ... */
    unsigned http_guest_port; /* ... and on which port (the driver's) */
    char *http_socket;        /* where the server listens (a Unix socket in the work directory) */
    const struct bw_driver *drv;
    struct bw_hypervisor hv;
    struct bw_vm *vm; /* the VM running now, if any */
    struct bw_ssh *ssh;
    unsigned ssh_port;
    const char *vm_role;   /* the VM running now, for request events ("installer", ...) */
    char *typed;           /* the rendered boot command, or NULL */
    struct bw_watch watch; /* the installer, while it installs */
    /* Requests the HTTP server's threads report, until the main thread reports them. */
    pthread_mutex_t req_lock;
    struct pending_request *reqs;
    size_t n_reqs, alloc_reqs;
    const char *step;
    struct bw_artifact *arts; /* the manifest's list; each name and path owned here */
    size_t n_arts, alloc_arts;
};

static bool from_image(const struct build *b)
{
    return b->def->image.urls.n > 0;
}

static void say(struct build *b, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void emit(struct build *b, const char *kind, const char *msg,
                 const struct bw_build_request *req)
{
    char *masked = bw_vars_mask(&b->def->vars, msg);
    struct bw_build_event ev = {b->step, kind, masked, req};
    b->o->on_event(&ev, b->o->ud);
    free(masked);
}

static void say(struct build *b, const char *kind, const char *fmt, ...)
{
    if (!b->o->on_event)
        return;
    struct bw_buf m = BW_BUF_INIT;
    bw_buf_init(&m);
    va_list ap;
    va_start(ap, fmt);
    bw_buf_vaddf(&m, fmt, ap);
    va_end(ap);
    emit(b, kind, m.data, NULL);
    bw_buf_release(&m);
}

static bool interrupted(const struct build *b)
{
    return b->o->interrupted && *b->o->interrupted;
}

static int check_interrupt(struct build *b, struct bw_error *err)
{
    if (!interrupted(b))
        return 0;
    bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted during %s", b->step);
    return -1;
}

/* Sleeps ms, waking early on interruption. */
static int pause_ms(struct build *b, uint64_t ms, struct bw_error *err)
{
    for (uint64_t slept = 0; slept < ms; slept += 100) {
        if (check_interrupt(b, err) < 0)
            return -1;
        struct timespec t = {0, 100 * 1000000L};
        nanosleep(&t, NULL);
    }
    return check_interrupt(b, err);
}

static int run_tool(char *const argv[], struct bw_error *err)
{
    struct bw_spawn_result res;
    int rc = bw_spawn_run(argv, NULL, NULL, 0, &res, err);
    bw_spawn_result_release(&res);
    return rc;
}

static char *render(struct build *b, const char *jpath, const char *raw, struct bw_error *err)
{
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_buf out = BW_BUF_INIT;
    if (bw_prepare_string(b->def, jpath, raw, &out, &errs) < 0) {
        bw_error_move(err, &errs.v[0]);
        bw_errors_release(&errs);
        bw_buf_release(&out);
        return NULL;
    }
    return bw_buf_detach(&out);
}

char *bw_vm_name(const char *build, const char *role)
{
    unsigned char r[4] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(r, 1, sizeof(r), f) != sizeof(r))
            memset(r, 0, sizeof(r));
        fclose(f);
    }
    return bw_xasprintf("boxwright-%s-%ld-%02x%02x%02x%02x-%s", build, (long)getpid(), r[0], r[1],
                        r[2], r[3], role);
}

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

static int step_output(struct build *b, struct bw_error *err)
{
    struct stat st;
    if (stat(b->out, &st) == 0) {
        if (!b->o->force) {
            bw_error_at(err, BW_ERR_USAGE, b->out, NULL, 0, 0,
                        "the output directory exists; remove it or pass --force");
            return -1;
        }
        char *argv[] = {"rm", "-rf", b->out, NULL};
        if (run_tool(argv, err) < 0)
            return -1;
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
    struct build *b = ud;
    if (ev->kind == BW_ISO_HIT)
        say(b, "info", "in the ISO cache");
    else if (ev->kind == BW_ISO_VERIFIED)
        say(b, "info", "checksum verified");
    else if (ev->kind == BW_ISO_RETRY || ev->kind == BW_ISO_FAILED)
        say(b, "info", "%s: %s", ev->url, ev->detail);
}

static int step_iso(struct build *b, struct bw_error *err)
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
            (const char *const *)urls.v, urls.n, sum.data, false, 0, 0, 0, iso_event, b};
        char *dir = bw_iso_cache_dir();
        b->iso = bw_iso_fetch(dir, &req, err);
        free(dir);
        if (b->iso) {
            say(b, "info", "%s", b->iso);
            rc = 0;
        }
    }
    bw_errors_release(&errs);
    bw_strlist_release(&urls);
    bw_buf_release(&sum);
    return rc;
}

/* From a server thread: queue the request for the main thread, which reports it. */
static void on_http_request(const struct bw_http_event *ev, void *ud)
{
    struct build *b = ud;
    struct bw_buf path = BW_BUF_INIT;
    bw_buf_init(&path);
    /* Bytes from the guest: nothing a terminal would act on, valid UTF-8 for --json. */
    for (const unsigned char *p = (const unsigned char *)ev->path; *p; p++) {
        if (*p > 0x20 && *p < 0x7f)
            bw_buf_addc(&path, (char)*p);
        else
            bw_buf_addf(&path, "%%%02X", *p);
    }
    pthread_mutex_lock(&b->req_lock);
    BW_GROW(b->reqs, b->alloc_reqs, b->n_reqs + 1);
    b->reqs[b->n_reqs++] = (struct pending_request){bw_xstrdup(b->vm_role ? b->vm_role : "none"),
                                                    bw_xstrdup(ev->method),
                                                    bw_buf_detach(&path),
                                                    ev->status,
                                                    ev->bytes,
                                                    ev->seconds};
    pthread_mutex_unlock(&b->req_lock);
}

/* The entry of dir whose name is closest to name (directories only if want_dir), with its
 * distance; NULL if dir has none. Caller frees. */
static char *closest_entry(const char *dir, const char *name, bool want_dir, size_t *dist)
{
    char *best = NULL;
    *dist = (size_t)-1;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char *p = bw_xasprintf("%s/%s", dir, e->d_name);
        struct stat st;
        bool ok = lstat(p, &st) == 0 && (want_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode));
        free(p);
        size_t n = ok ? bw_edit_distance(name, e->d_name, 64) : (size_t)-1;
        if (n < *dist) {
            *dist = n;
            free(best);
            best = bw_xstrdup(e->d_name);
        }
    }
    if (d)
        closedir(d);
    return best;
}

/*
 * The served file whose path is closest to rel (a path the server refused or lacked): a
 * rendered file, or a file under http.directory found component by component (a directory
 * that is not there is taken as the nearest one that is: /debian/dists/testing/Release
 * gives debian/dists/bookworm/Release). Caller frees; NULL if none.
 */
static char *nearest_file(struct build *b, const char *raw)
{
    char rel[1024];
    const char *why;
    if (bw_http_normalize_path(raw, rel, sizeof(rel), &why) < 0)
        return NULL;
    char *best = NULL;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < b->def->http.render.n; i++) {
        size_t d = bw_edit_distance(rel, b->def->http.render.v[i], 64);
        if (d < best_d) {
            best_d = d;
            free(best);
            best = bw_xstrdup(b->def->http.render.v[i]);
        }
    }
    if (!b->def->http.directory)
        return best;
    struct bw_error ignored = BW_ERROR_INIT;
    char *root = bw_definition_file(b->def, ".http.directory", b->def->http.directory, &ignored);
    bw_error_release(&ignored);
    if (!root)
        return best;
    /* rel is normalised (no "..", no empty parts): every step stays below the root */
    struct bw_buf dir = BW_BUF_INIT, found = BW_BUF_INIT;
    bw_buf_init(&dir);
    bw_buf_init(&found);
    bw_buf_adds(&dir, root);
    size_t total = 0;
    bool lost = false;
    for (char *save = NULL, *part = strtok_r(rel, "/", &save); part && !lost;) {
        char *next = strtok_r(NULL, "/", &save);
        size_t d;
        char *name = closest_entry(dir.data, part, next != NULL, &d);
        if (!name) {
            lost = true;
            break;
        }
        total += d;
        bw_buf_addf(&dir, "/%s", name);
        bw_buf_addf(&found, "%s%s", found.len ? "/" : "", name);
        free(name);
        part = next;
    }
    if (!lost && found.len && total < best_d) {
        free(best);
        best = bw_buf_detach(&found);
    }
    bw_buf_release(&found);
    bw_buf_release(&dir);
    free(root);
    return best;
}

/* Reports the requests queued since the last call, from the main thread. */
static void report_requests(struct build *b)
{
    pthread_mutex_lock(&b->req_lock);
    struct pending_request *v = b->reqs;
    size_t n = b->n_reqs;
    b->reqs = NULL;
    b->n_reqs = b->alloc_reqs = 0;
    pthread_mutex_unlock(&b->req_lock);
    for (size_t i = 0; i < n; i++) {
        char *masked = bw_vars_mask(&b->def->vars, v[i].path);
        char *near = v[i].status == 404 || v[i].status == 403 ? nearest_file(b, v[i].path) : NULL;
        struct bw_build_request r = {v[i].vm,    v[i].method,  masked, v[i].status,
                                     v[i].bytes, v[i].seconds, near};
        char *line = bw_xasprintf("%s %s %s %u %llu bytes %.3f s", v[i].vm, v[i].method, masked,
                                  v[i].status, (unsigned long long)v[i].bytes, v[i].seconds);
        if (b->o->on_event)
            emit(b, "request", line, &r);
        if (v[i].status >= 400)
            say(b, "warning", "the %s asked for %s and got %u%s%s%s", v[i].vm, masked, v[i].status,
                near ? " (the nearest file served: " : "", near ? near : "", near ? ")" : "");
        free(line);
        free(near);
        free(masked);
        free(v[i].vm);
        free(v[i].method);
        free(v[i].path);
    }
    free(v);
}

/* The port the guest's HTTP goes to ({{ .HTTPPort }}). Any number would do: guestfwd catches
 * it inside the guest's own network, so it takes no port on this host. */

/* Who may feed the stream relay: QEMU under libvirt (root, or libvirt's own QEMU user) and
 * boxwright's user (its ssh tunnel); no other local process. */
static size_t relay_users(uid_t *uids)
{
    size_t n = 0;
    uids[n++] = getuid();
    if (getuid() != 0)
        uids[n++] = 0;
    struct passwd *pw = getpwnam("libvirt-qemu");
    if (pw)
        uids[n++] = pw->pw_uid;
    return n;
}

static int step_http(struct build *b, struct bw_error *err)
{
    struct bw_http_config cfg = {0};
    /* A Unix socket only this user reaches: no other local process can crowd the guest out
     * (on 127.0.0.1, 256 slow connections from anyone kept it refused). */
    b->http_socket = bw_xasprintf("%s/http.sock", b->work);
    cfg.unix_path = b->http_socket;
    cfg.on_event = on_http_request;
    cfg.ud = b;
    char *dir = NULL;
    if (b->def->http.directory &&
        !(dir = bw_definition_file(b->def, ".http.directory", b->def->http.directory, err)))
        return -1;
    cfg.directory = dir;
    b->http = bw_http_new(&cfg);
    free(dir);
    if (bw_http_bind(b->http, err) < 0)
        return -1;
    /* Where the guest reaches the server is the driver's to say. */
    b->http_ip = b->hv.driver->guest_http_ip;
    b->http_guest_port = b->hv.driver->guest_http_port;
    char port[16];
    snprintf(port, sizeof(port), "%u", b->http_guest_port);
    bw_vars_set_string(&b->def->vars, "HTTPIP", b->http_ip, "build")->builtin = true;
    bw_vars_set_string(&b->def->vars, "HTTPPort", port, "build")->builtin = true;
    struct bw_rendered files = BW_RENDERED_INIT;
    struct bw_errors errs = BW_ERRORS_INIT;
    int rc = 0;
    if (bw_prepare_answer_files(b->def, &files, &errs) > 0) {
        bw_error_move(err, &errs.v[0]);
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < files.n; i++)
        rc = bw_http_add_file(b->http, files.v[i].name, files.v[i].data.data, files.v[i].data.len,
                              err);
    bw_rendered_release(&files);
    bw_errors_release(&errs);
    if (rc == 0 && bw_http_start(b->http, err) == 0)
        say(b, "info", "serving answer files on %s (%s:%s in the guest, %s network)",
            b->http_socket, b->http_ip, port, b->def->vm.network);
    else
        rc = -1;
    if (rc == 0 && b->drv->http_as_stream) {
        uid_t uids[3];
        b->relay = bw_http_stream_start(b->http_socket, uids, relay_users(uids), err);
        if (!b->relay)
            rc = -1;
        else
            say(b, "info", "the guest's connections arrive as one stream on 127.0.0.1:%u",
                bw_http_stream_port(b->relay));
    }
    return rc;
}

static void cleanup_http(struct build *b)
{
    bw_http_stream_stop(b->relay);
    b->relay = NULL;
    bw_http_stop(b->http);
    b->http = NULL;
    report_requests(b);
}

/* The cloud-init seed: files on the HTTP server, or a cidata volume. */
static int step_seed(struct build *b, struct bw_error *err)
{
    const struct bw_cloud_init *ci = &b->def->cloud_init;
    /* A new instance-id per build, so cloud-init runs as on a first boot. */
    char *iid =
        bw_xasprintf("iid-boxwright-%s-%ld-%ld", b->def->name, (long)time(NULL), (long)getpid());
    struct bw_rendered files = BW_RENDERED_INIT;
    struct bw_errors errs = BW_ERRORS_INIT;
    int rc = 0;
    if (bw_prepare_seed(b->def, iid, &files, &errs) > 0) {
        bw_error_move(err, &errs.v[0]);
        rc = -1;
    }
    struct bw_buf names = BW_BUF_INIT;
    bw_buf_init(&names);
    for (size_t i = 0; i < files.n; i++)
        bw_buf_addf(&names, "%s%s (%zu bytes)", i ? ", " : "", files.v[i].name,
                    files.v[i].data.len);
    if (rc == 0 && strcmp(ci->seed, "http") == 0) {
        for (size_t i = 0; rc == 0 && i < files.n; i++)
            rc = bw_http_add_file(b->http, files.v[i].name, files.v[i].data.data,
                                  files.v[i].data.len, err);
        b->smbios_serial =
            bw_xasprintf("ds=nocloud-net;s=http://%s:%u/", b->http_ip, b->http_guest_port);
        if (rc == 0)
            say(b, "info", "NoCloud seed over HTTP: %s; the guest is told %s (SMBIOS serial)",
                names.data, b->smbios_serial);
    } else if (rc == 0) {
        b->seed_iso = bw_xasprintf("%s/seed.iso", b->work);
        rc = bw_seed_volume_write(b->seed_iso, ci->label, &files, err);
        if (rc == 0)
            say(b, "info", "NoCloud seed on a volume labelled %s: %s", ci->label, names.data);
    }
    if (rc == 0)
        say(b, "info", "instance-id %s", iid);
    bw_buf_release(&names);
    bw_rendered_release(&files);
    bw_errors_release(&errs);
    free(iid);
    return rc;
}

/*
 * The image's virtual size, once qemu-img's own probe agrees that the image is in the format
 * the definition gives. QEMU is always told the format, never left to guess; without this
 * check a raw declaration on a qcow2 file would hand the guest qcow2's metadata as its disk,
 * and qemu-img would "read" any file as raw.
 */
static int image_size(struct build *b, uint64_t *size, struct bw_error *err)
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

static int step_disk(struct build *b, struct bw_error *err)
{
    b->disk = bw_xasprintf("%s/disk.qcow2", b->work);
    if (!from_image(b))
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
    say(b, "info", "a qcow2 overlay on the cached %s image (%s), grown to %s", fmt, have_s, want_s);
    return 0;
}

static void driver_note(const char *msg, void *ud)
{
    say(ud, "info", "%s", msg);
}

/* The VMs of a build: the installer (ISO, HTTP), the installed system (disk, SSH) and, from
 * a disk image, the first boot that is both (disk, seed, HTTP, SSH). */
enum { VM_MEDIA = 1, VM_HTTP = 2, VM_SSH = 4 };

static int start_vm(struct build *b, const char *name, unsigned what, struct bw_error *err)
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
        spec.iso = from_image(b) ? NULL : b->iso;
        spec.seed_iso = b->seed_iso;
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
        say(b, "info", "%s started (driver %s, %s, %s network%s%s)", vm_name, b->drv->name,
            spec.accel, b->def->vm.network, spec.kernel ? ", direct kernel boot" : "",
            spec.seed_iso ? ", seed volume attached" : "");
    free(vm_name);
    return rc;
}

static void cleanup_vm(struct build *b)
{
    if (b->vm && b->drv)
        b->drv->destroy(b->vm);
    b->vm = NULL;
}

static int step_installer(struct build *b, struct bw_error *err)
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
        say(b, "info", "direct kernel boot: %s and %s from the ISO, command line: %s",
            b->def->boot.kernel, b->def->boot.initrd, shown.data);
        bw_buf_release(&shown);
    }
    return start_vm(b, "installer", VM_MEDIA | VM_HTTP, err);
}

static void typing_note(const char *kind, const char *msg, void *ud)
{
    say(ud, kind, "%s", msg);
}

static int step_type(struct build *b, struct bw_error *err)
{
    const struct bw_definition *d = b->def;
    if (d->boot.wait_ms) {
        char wait[32];
        bw_format_duration(d->boot.wait_ms, wait, sizeof(wait));
        say(b, "info", "waiting %s for the boot menu", wait);
        if (pause_ms(b, d->boot.wait_ms, err) < 0)
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
            say(b, "info",
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
static int wait_power_off(struct build *b, uint64_t timeout_ms, bool watch, struct bw_error *err)
{
    double start = now_s(), next_look = start;
    if (watch)
        bw_watch_start(&b->watch, b->drv, b->vm, b->work, b->disk, b->http,
                       b->def->boot.stall_timeout_ms);
    for (;;) {
        report_requests(b);
        struct bw_error e = BW_ERROR_INIT;
        bool off = b->drv->wait_off(b->vm, 200, &e) == 0;
        bw_error_release(&e);
        if (check_interrupt(b, err) < 0)
            return -1;
        if (off) {
            report_requests(b);
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
static void pointed_at(struct build *b, const char *text, struct bw_strlist *out)
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

static int step_install(struct build *b, struct bw_error *err)
{
    if (wait_power_off(b, b->def->ssh.timeout_ms, true, err) < 0)
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
    say(b, "info", "the installer powered off");
    cleanup_vm(b);
    return 0;
}

static int step_installed(struct build *b, struct bw_error *err)
{
    /* From an image, this is the first boot: the seed is read now. */
    if (from_image(b))
        return start_vm(b, "first-boot", VM_MEDIA | VM_HTTP | VM_SSH, err);
    return start_vm(b, "installed", VM_SSH, err);
}

static int step_ssh(struct build *b, struct bw_error *err)
{
    char *user = render(b, ".ssh.username", b->def->ssh.username, err);
    char *pass =
        b->def->ssh.password ? render(b, ".ssh.password", b->def->ssh.password, err) : NULL;
    struct bw_error kerr = BW_ERROR_INIT;
    char *key = b->def->ssh.private_key
                    ? bw_definition_file(b->def, ".ssh.private_key", b->def->ssh.private_key, &kerr)
                    : NULL;
    int rc = -1;
    if (b->def->ssh.private_key && !key) {
        bw_error_move(err, &kerr);
    } else if (user && (pass || !b->def->ssh.password)) {
        struct bw_ssh_config cfg = {
            "127.0.0.1", b->ssh_port, user, pass, key, b->def->ssh.timeout_ms, b->o->interrupted};
        b->ssh = bw_ssh_connect(&cfg, err);
        if (b->ssh) {
            say(b, "info", "connected as %s", user);
            rc = 0;
        }
        if (b->ssh && b->smbios_serial) {
            static const char *const seed[] = {"user-data", "meta-data", "vendor-data"};
            for (size_t i = 0; i < 3; i++)
                say(b, "info", "the guest fetched %s %u time%s", seed[i],
                    bw_http_fetches(b->http, seed[i]),
                    bw_http_fetches(b->http, seed[i]) == 1 ? "" : "s");
        }
    }
    free(user);
    free(pass);
    free(key);
    return rc;
}

static void cleanup_ssh(struct build *b)
{
    bw_ssh_close(b->ssh);
    b->ssh = NULL;
}

struct stream {
    struct build *b;
    struct bw_buf line;
};

static void stream_output(const char *data, size_t len, bool is_stderr, void *ud)
{
    struct stream *s = ud;
    (void)is_stderr;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            say(s->b, "output", "%s", s->line.data);
            bw_buf_reset(&s->line);
        } else {
            bw_buf_addc(&s->line, data[i]);
        }
    }
}

static int run_remote(struct build *b, const char *what, const char *script, bool sudo,
                      struct bw_error *err)
{
    char *remote = bw_xasprintf("/tmp/boxwright-%ld.sh", (long)random());
    int rc = bw_ssh_upload(b->ssh, remote, script, strlen(script), 0700, err);
    if (rc == 0) {
        char *cmd =
            bw_xasprintf("%ssh %s; s=$?; rm -f %s; exit $s", sudo ? "sudo " : "", remote, remote);
        struct stream s = {b, BW_BUF_INIT};
        bw_buf_init(&s.line);
        int status = 0;
        rc = bw_ssh_run(b->ssh, cmd, NULL, 0, stream_output, &s, &status, err);
        if (s.line.len)
            say(b, "output", "%s", s.line.data);
        if (rc == 0 && status != 0) {
            bw_error_set(err, BW_ERR_SPAWN, "%s exited with status %d", what, status);
            rc = -1;
        }
        bw_buf_release(&s.line);
        free(cmd);
    }
    free(remote);
    return rc;
}

static int step_provision(struct build *b, struct bw_error *err)
{
    for (size_t i = 0; i < b->def->n_provision; i++) {
        if (check_interrupt(b, err) < 0)
            return -1;
        const struct bw_provisioner *p = &b->def->provision[i];
        struct bw_buf script = BW_BUF_INIT;
        bw_buf_init(&script);
        char *what;
        if (p->script) {
            char jp[64];
            snprintf(jp, sizeof(jp), ".provision[%zu].script", i);
            char *path = bw_definition_file(b->def, jp, p->script, err);
            if (!path) {
                bw_buf_release(&script);
                return -1;
            }
            if (bw_buf_read_file(&script, path) < 0) {
                bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot read: %s", strerror(errno));
                free(path);
                bw_buf_release(&script);
                return -1;
            }
            free(path);
            what = bw_xasprintf("provisioning script %s", p->script);
        } else {
            bw_buf_adds(&script, "set -e\n");
            for (size_t k = 0; k < p->inline_cmds.n; k++)
                bw_buf_addf(&script, "%s\n", p->inline_cmds.v[k]);
            what = bw_xasprintf("inline provisioner %zu", i + 1);
        }
        say(b, "info", "running %s", what);
        int rc = run_remote(b, what, script.data, p->sudo, err);
        free(what);
        bw_buf_release(&script);
        if (rc < 0)
            return -1;
    }
    return 0;
}

static int step_shutdown(struct build *b, struct bw_error *err)
{
    if (b->def->shutdown.command) {
        char *cmd = render(b, ".shutdown.command", b->def->shutdown.command, err);
        if (!cmd)
            return -1;
        int status;
        struct bw_error ignored = BW_ERROR_INIT; /* the connection may drop as the guest halts */
        bw_ssh_run(b->ssh, cmd, NULL, 0, NULL, NULL, &status, &ignored);
        bw_error_release(&ignored);
        free(cmd);
    } else {
        b->drv->stop(b->vm, err);
    }
    cleanup_ssh(b);
    if (wait_power_off(b, b->def->shutdown.timeout_ms, false, err) < 0)
        return -1;
    say(b, "info", "powered off");
    cleanup_vm(b);
    return 0;
}

static void add_artifact(struct build *b, const char *name, const char *type)
{
    BW_GROW(b->arts, b->alloc_arts, b->n_arts + 1);
    b->arts[b->n_arts++] =
        (struct bw_artifact){bw_xstrdup(name), bw_xasprintf("%s/%s", b->out, name), type};
}

static int step_export(struct build *b, struct bw_error *err)
{
    /* only the clusters in use: the compacted disk */
    char *img = bw_xasprintf("%s/box.img", b->out);
    int rc = bw_disk_convert(b->disk, img, "qcow2", NULL, err);
    for (size_t i = 0; rc == 0 && i < b->def->n_exports; i++) {
        const struct bw_export *e = &b->def->exports[i];
        const struct bw_exporter *x = bw_exporter_find(e->provider); /* the definition checked */
        char *name = bw_xasprintf("%s-%s.box", b->def->name, e->provider);
        char *path = bw_xasprintf("%s/%s", b->out, name);
        struct bw_export_input in = {
            .disk = img,
            .kvm = b->o->accel && strcmp(b->o->accel, "kvm") == 0,
            .compression = e->compression,
            .level = e->level,
            .vagrantfile = e->vagrantfile,
        };
        rc = x->write_box(&in, path, err);
        if (rc == 0) {
            struct stat st;
            stat(path, &st);
            say(b, "info", "%s (%.1f MiB)", path, (double)st.st_size / 1048576.0);
            add_artifact(b, name, "vagrant-box");
        }
        free(path);
        free(name);
    }
    free(img);
    return rc;
}

static int step_validate(struct build *b, struct bw_error *err)
{
    if (b->o->skip_validate) {
        say(b, "info", "skipped (--skip-validate)");
        return 0;
    }
    char *img = bw_xasprintf("%s/box.img", b->out);
    char *dir = bw_xasprintf("%s/validate", b->work);
    char *junit = bw_xasprintf("%s-validation.xml", b->def->name);
    char *junit_path = bw_xasprintf("%s/%s", b->out, junit);
    struct bw_check_result *r;
    size_t n;
    int failed =
        bw_validate_image(b->def, img, dir, &b->hv, junit_path, &r, &n, b->o->interrupted, err);
    for (size_t i = 0; i < n; i++)
        say(b, "info", "%-4s %s%s%s", r[i].passed ? "PASS" : "FAIL", r[i].name,
            r[i].problem ? ": " : "", r[i].problem ? r[i].problem : "");
    if (failed >= 0)
        add_artifact(b, junit, "junit");
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

static int step_manifest(struct build *b, struct bw_error *err)
{
    char *m = bw_xasprintf("%s/manifest.json", b->out);
    /* What the guest took from the HTTP server: a record of what the install really used. */
    json_t *fetched = json_array();
    if (b->http)
        bw_http_each_fetched(b->http, add_fetched, fetched);
    json_t *extra = json_pack("{s:o}", "guest_fetched", fetched);
    int rc = bw_write_manifest(m, b->def->name, b->arts, b->n_arts, extra, err);
    json_decref(extra);
    if (rc == 0)
        say(b, "info", "%s", m);
    free(m);
    return rc;
}

static bool always(const struct build *b)
{
    (void)b;
    return true;
}

static bool installs(const struct build *b)
{
    return !from_image(b);
}

static bool types(const struct build *b)
{
    return strcmp(b->def->boot.method, "keys") == 0;
}

static bool seeds(const struct build *b)
{
    return b->def->cloud_init.seed != NULL;
}

struct step {
    const char *name;
    int (*run)(struct build *b, struct bw_error *err);
    void (*cleanup)(struct build *b);
    bool (*applies)(const struct build *b); /* a step that does not apply is not announced */
};

static const struct step steps[] = {
    {"output", step_output, NULL, always},
    {"iso", step_iso, NULL, always},
    {"http", step_http, cleanup_http, always},
    {"seed", step_seed, NULL, seeds},
    {"disk", step_disk, NULL, always},
    {"installer", step_installer, cleanup_vm, installs},
    {"type", step_type, NULL, types},
    {"install", step_install, NULL, installs},
    {"boot", step_installed, cleanup_vm, always},
    {"ssh", step_ssh, cleanup_ssh, always},
    {"provision", step_provision, NULL, always},
    {"shutdown", step_shutdown, NULL, always},
    {"export", step_export, NULL, always},
    {"validate", step_validate, NULL, always},
    {"manifest", step_manifest, NULL, always},
};

/* Keeps the last 16 KiB of a log the work directory would take with it; false if there is
 * none (or, with skip_empty, nothing in it). */
static bool keep_log_tail(const char *from, const char *to, bool skip_empty)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bool ok = from && bw_buf_read_file(&b, from) == 0 && (b.len || !skip_empty);
    if (ok) {
        size_t start = b.len > 16384 ? b.len - 16384 : 0;
        struct bw_error ignored = BW_ERROR_INIT;
        ok = bw_file_write(to, b.data + start, b.len - start, 0600, &ignored) == 0; /* secrets? */
        bw_error_release(&ignored);
    }
    bw_buf_release(&b);
    return ok;
}

/* The screen's text for a failure report: the running VM's screen now, or the last one the
 * install watch saw (an installer that powered off). Written to path; appended to `text`. */
static bool keep_screen_text(struct build *b, const char *path, struct bw_buf *text)
{
    struct bw_buf rows = BW_BUF_INIT;
    bw_buf_init(&rows);
    bool have = false;
    if (b->vm && b->drv->read_memory) {
        struct bw_screen *s = bw_xcalloc(1, sizeof(*s));
        char *base = bw_xasprintf("%s/failure-probe", b->work);
        struct bw_error ignored = BW_ERROR_INIT;
        if (bw_screen_probe(b->drv, b->vm, base, s, &ignored) == 0 && s->text) {
            bw_screen_format(s, &rows, "  | ", 25);
            have = true;
        }
        if (s->shot[0])
            unlink(s->shot);
        bw_error_release(&ignored);
        free(base);
        free(s);
    }
    if (!have && b->watch.looked && b->watch.last->text) {
        bw_buf_adds(&rows, "  (the last screen seen before the guest stopped)\n");
        bw_screen_format(b->watch.last, &rows, "  | ", 25);
        have = true;
    }
    if (have) {
        struct bw_error ignored = BW_ERROR_INIT;
        bw_file_write(path, rows.data, rows.len, 0600, &ignored); /* secrets? */
        bw_error_release(&ignored);
        bw_buf_rtrim(&rows);
        bw_buf_adds(text, rows.data);
    }
    bw_buf_release(&rows);
    return have;
}

/* What a failure leaves for the user: the screen (as a picture and, where it is text, as
 * text), the end of the serial console and what the hypervisor itself printed (QEMU's reason
 * when it would not start). */
static void save_failure_evidence(struct build *b, struct bw_error *err)
{
    char *base = bw_xasprintf("%s/failure-screen", b->out);
    char *txt = bw_xasprintf("%s/failure-screen.txt", b->out);
    char *serial = bw_xasprintf("%s/failure-serial.log", b->out);
    char *hv = bw_xasprintf("%s/failure-%s.log", b->out, b->drv->name);
    struct bw_error ignored = BW_ERROR_INIT;
    char *png =
        b->vm && b->drv->screenshot ? b->drv->screenshot(b->vm, base, false, &ignored) : NULL;
    struct bw_buf where = BW_BUF_INIT, screen = BW_BUF_INIT;
    bw_buf_init(&where);
    bw_buf_init(&screen);
    if (png) {
        chmod(png, 0600); /* the hypervisor wrote it; the screen may show what was typed */
        bw_buf_addf(&where, "screen: %s", png);
    }
    if (!strstr(err->msg, "the screen shows:") && keep_screen_text(b, txt, &screen))
        bw_buf_addf(&where, "%sscreen text: %s", where.len ? "; " : "", txt);
    const char *serial_log = b->vm && b->drv->serial_log ? b->drv->serial_log(b->vm) : NULL;
    if (keep_log_tail(serial_log, serial, false))
        bw_buf_addf(&where, "%sserial console: %s", where.len ? "; " : "", serial);
    const char *hv_log = b->vm && b->drv->hypervisor_log ? b->drv->hypervisor_log(b->vm) : NULL;
    if (keep_log_tail(hv_log, hv, true))
        bw_buf_addf(&where, "%s%s log: %s", where.len ? "; " : "", b->drv->name, hv);
    if (where.len || screen.len) { /* after the reason: what failed first, then where to look */
        char *m = bw_xasprintf("%s%s%s%s%s%s", err->msg, where.len ? " (kept: " : "", where.data,
                               where.len ? ")" : "", screen.len ? "; the screen shows:\n" : "",
                               screen.data);
        free(err->msg);
        err->msg = m;
    }
    bw_buf_release(&where);
    bw_buf_release(&screen);
    bw_error_release(&ignored);
    free(base);
    free(png);
    free(txt);
    free(serial);
    free(hv);
}

int bw_build_run(struct bw_definition *def, const struct bw_build_options *o, struct bw_error *err)
{
    struct build b;
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
        say(&b, "step", "%s", steps[done].name);
        if (check_interrupt(&b, err) < 0 || steps[done].run(&b, err) < 0) {
            rc = -1;
            done++; /* its cleanup runs too: it may have half-started something */
            break;
        }
    }
    bool abort_keep = rc < 0 && o->on_error == BW_ON_ERROR_ABORT;
    if (rc < 0 && interrupted(&b)) /* whatever the step was doing when it noticed */
        bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted during %s", b.step);
    if (rc < 0) { /* a guest's screen or a tool's words in it may show a secret */
        char *m = bw_vars_mask(&def->vars, err->msg);
        free(err->msg);
        err->msg = m;
    }
    if (rc < 0) {
        bw_error_prefix(err, "step %s", b.step);
        if (done > 1) /* the output directory exists */
            save_failure_evidence(&b, err);
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
        cleanup_http(&b);
        bw_ssh_close(b.ssh);
    } else {
        b.step = "cleanup";
        while (done-- > 0)
            if (steps[done].cleanup)
                steps[done].cleanup(&b);
        if (o->keep) {
            say(&b, "info", "work directory kept (--keep): %s", b.work);
        } else {
            char *argv[] = {"rm", "-rf", b.work, NULL};
            struct bw_error ignored = BW_ERROR_INIT;
            run_tool(argv, &ignored);
            bw_error_release(&ignored);
        }
    }
    free(b.iso);
    free(b.disk);
    free(b.seed_iso);
    free(b.kernel);
    free(b.initrd);
    free(b.append);
    free(b.smbios_serial);
    free(b.typed);
    free(b.http_socket);
    bw_watch_stop(&b.watch);
    report_requests(&b);
    pthread_mutex_destroy(&b.req_lock);
    for (size_t i = 0; i < b.n_arts; i++) {
        free((char *)b.arts[i].path);
        free((char *)b.arts[i].file);
    }
    free(b.arts);
    free(b.out);
    free(b.work);
    return rc;
}
