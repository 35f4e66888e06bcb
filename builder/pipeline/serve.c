/* Steps http and seed: the answer files served to the guest, every request it makes
 * reported, a missing file explained by the nearest one there is. */
#include "steps.h"
#include "../base/xmalloc.h"
#include "../seed/seed.h"
#include "../../http-server/proxy.h"

#include <dirent.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>

/* From a server thread: queue the request for the main thread, which reports it. */
static void on_http_request(const struct bw_http_event *ev, void *ud)
{
    struct bw_build *b = ud;
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
    b->reqs[b->n_reqs++] = (struct bw_pending_request){bw_xstrdup(b->vm_role ? b->vm_role : "none"),
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
static char *nearest_file(struct bw_build *b, const char *raw)
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
void bw_build_report_requests(struct bw_build *b)
{
    pthread_mutex_lock(&b->req_lock);
    struct bw_pending_request *v = b->reqs;
    size_t n = b->n_reqs;
    b->reqs = NULL;
    b->n_reqs = b->alloc_reqs = 0;
    pthread_mutex_unlock(&b->req_lock);
    for (size_t i = 0; i < n; i++) {
        char *masked = bw_vars_mask(&b->def->vars, v[i].path);
        /* A request in absolute form went through the server as the guest's proxy. */
        bool proxied = bw_proxy_is_target(v[i].path);
        char *near = !proxied && (v[i].status == 404 || v[i].status == 403)
                         ? nearest_file(b, v[i].path)
                         : NULL;
        struct bw_build_request r = {v[i].vm,    v[i].method,  masked, v[i].status,
                                     v[i].bytes, v[i].seconds, near};
        char *line = bw_xasprintf("%s %s %s %u %llu bytes %.3f s", v[i].vm, v[i].method, masked,
                                  v[i].status, (unsigned long long)v[i].bytes, v[i].seconds);
        if (b->o->on_event)
            bw_build_emit(b, "request", line, &r);
        if (proxied && v[i].status == 403)
            bw_build_say(b, "warning",
                         "the %s asked the proxy for %s, on a host http.proxy_allow does not "
                         "name (403)",
                         v[i].vm, masked);
        else if (proxied && v[i].status >= 400)
            bw_build_say(b, "warning", "the %s asked the proxy for %s and got %u", v[i].vm, masked,
                         v[i].status);
        else if (v[i].status >= 400)
            bw_build_say(b, "warning", "the %s asked for %s and got %u%s%s%s", v[i].vm, masked,
                         v[i].status, near ? " (the nearest file served: " : "", near ? near : "",
                         near ? ")" : "");
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

int bw_build_step_http(struct bw_build *b, struct bw_error *err)
{
    struct bw_http_config cfg = {0};
    /* A Unix socket only this user reaches: no other local process can crowd the guest out
     * (on 127.0.0.1, 256 slow connections from anyone kept it refused). */
    b->http_socket = bw_xasprintf("%s/http.sock", b->work);
    cfg.unix_path = b->http_socket;
    /* Or on the host address the guest's NAT leads to, over TCP, where the per-client limits
     * keep anything else there from crowding the guest out. */
    if (b->drv->http_host_address) {
        if (b->drv->http_host_address(b->http_host_ip, sizeof(b->http_host_ip), err) < 0)
            return -1;
        cfg.unix_path = NULL;
        cfg.bind_address = b->http_host_ip;
        cfg.port_min = 8100;
        cfg.port_max = 8199;
    }
    cfg.on_event = on_http_request;
    cfg.ud = b;
    cfg.proxy_allow = (const char *const *)b->def->http.proxy_allow.v;
    cfg.n_proxy_allow = b->def->http.proxy_allow.n;
    /* A proxied transfer holds a thread while it waits on the mirror, and half the threads at
     * most proxy: room for an installer's parallel downloads (dnf's three) and the rest. */
    if (cfg.n_proxy_allow)
        cfg.threads = 8;
    char *dir = NULL;
    if (b->def->http.directory &&
        !(dir = bw_definition_file(b->def, ".http.directory", b->def->http.directory, err)))
        return -1;
    cfg.directory = dir;
    b->http = bw_http_new(&cfg);
    free(dir);
    if (bw_http_bind(b->http, err) < 0)
        return -1;
    if (b->drv->http_as_stream) {
        uid_t uids[3];
        b->relay = bw_http_stream_start(b->http_socket, uids, relay_users(uids), err);
        if (!b->relay)
            return -1;
        bw_build_say(b, "info", "the guest's connections arrive as one stream on 127.0.0.1:%u",
                     bw_http_stream_port(b->relay));
    }
    /* Where the guest reaches the server is the driver's to say (port 0: the relay's own). */
    b->http_ip = b->hv.driver->guest_http_ip;
    b->http_guest_port = b->hv.driver->guest_http_port;
    if (b->drv->http_host_address) {
        b->http_ip = b->http_host_ip;
        b->http_guest_port = bw_http_port(b->http);
    } else if (!b->http_guest_port) {
        b->http_guest_port = bw_http_stream_port(b->relay);
    }
    char port[16];
    snprintf(port, sizeof(port), "%u", b->http_guest_port);
    bw_vars_set_string(&b->def->vars, "HTTPIP", b->http_ip, "build")->builtin = true;
    bw_vars_set_string(&b->def->vars, "HTTPPort", port, "build")->builtin = true;
    bw_definition_set_proxy_var(b->def, "build");
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
        bw_build_say(b, "info", "serving answer files on %s (%s:%s in the guest, %s network)",
                     cfg.unix_path ? cfg.unix_path : "TCP", b->http_ip, port, b->def->vm.network);
    else
        rc = -1;
    return rc;
}

void bw_build_cleanup_http(struct bw_build *b)
{
    bw_http_stream_stop(b->relay);
    b->relay = NULL;
    bw_http_stop(b->http);
    b->http = NULL;
    bw_build_report_requests(b);
}

/* "user-data (12 bytes), meta-data (40 bytes)": what a volume or the server holds. */
static char *names_of(const struct bw_rendered *files)
{
    struct bw_buf names = BW_BUF_INIT;
    bw_buf_init(&names);
    for (size_t i = 0; i < files->n; i++)
        bw_buf_addf(&names, "%s%s (%zu bytes)", i ? ", " : "", files->v[i].name,
                    files->v[i].data.len);
    return bw_buf_detach(&names);
}

/* Answer files on a CD of their own, rendered now that {{ .HTTPIP }} is known. */
int bw_build_step_cd(struct bw_build *b, struct bw_error *err)
{
    struct bw_rendered files = BW_RENDERED_INIT;
    struct bw_errors errs = BW_ERRORS_INIT;
    int rc = 0;
    if (bw_prepare_cd_files(b->def, &files, &errs) > 0) {
        bw_error_move(err, &errs.v[0]);
        rc = -1;
    }
    if (rc == 0) {
        b->answer_iso = bw_xasprintf("%s/answers.iso", b->work);
        rc = bw_seed_volume_write(b->answer_iso, b->def->cd.label, &files, err);
    }
    if (rc == 0) {
        char *names = names_of(&files);
        bw_build_say(b, "info", "answer files on a CD labelled %s: %s", b->def->cd.label, names);
        free(names);
    }
    bw_rendered_release(&files);
    bw_errors_release(&errs);
    return rc;
}

/* The cloud-init seed: files on the HTTP server, or a cidata volume. */
int bw_build_step_seed(struct bw_build *b, struct bw_error *err)
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
    char *names = names_of(&files);
    if (rc == 0 && strcmp(ci->seed, "http") == 0) {
        for (size_t i = 0; rc == 0 && i < files.n; i++)
            rc = bw_http_add_file(b->http, files.v[i].name, files.v[i].data.data,
                                  files.v[i].data.len, err);
        b->smbios_serial =
            bw_xasprintf("ds=nocloud-net;s=http://%s:%u/", b->http_ip, b->http_guest_port);
        if (rc == 0)
            bw_build_say(b, "info",
                         "NoCloud seed over HTTP: %s; the guest is told %s (SMBIOS serial)", names,
                         b->smbios_serial);
    } else if (rc == 0) {
        b->seed_iso = bw_xasprintf("%s/seed.iso", b->work);
        rc = bw_seed_volume_write(b->seed_iso, ci->label, &files, err);
        if (rc == 0)
            bw_build_say(b, "info", "NoCloud seed on a volume labelled %s: %s", ci->label, names);
    }
    if (rc == 0)
        bw_build_say(b, "info", "instance-id %s", iid);
    free(names);
    bw_rendered_release(&files);
    bw_errors_release(&errs);
    free(iid);
    return rc;
}
