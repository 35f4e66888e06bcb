/*
 * The libvirt driver: the same VM as the QEMU driver, run by libvirtd through
 * the libvirt C API, on this host (qemu:///system) or another one
 * (qemu+ssh://host/system).
 *
 * - Domains are transient and started with VIR_DOMAIN_START_AUTODESTROY:
 *   libvirtd destroys them when boxwright's connection closes, so nothing
 *   stays defined or running after a failure, Ctrl-C or even SIGKILL.
 * - Keys go through virDomainSendKey with Linux input codes; it presses a
 *   chord, holds it and releases it (QMP send-key underneath). libvirt
 *   cannot press a key without releasing it, so there is no send_key: the
 *   typist adds keys held across others (<leftShiftOn>) to every chord. The
 *   screen is read back through virDomainMemoryPeek (physical memory).
 * - Power-off comes as a lifecycle event, from a thread that runs libvirt's
 *   default event loop (it also answers the connection's keepalives).
 * - Remote hosts (a URI with a host name): the ISO goes into a storage pool
 *   once per sha256 (a marker volume records a finished upload), the disk is
 *   uploaded for each VM and downloaded back when the VM powers off, and a
 *   validation disk is a flattened copy that is never downloaded. The VM's
 *   forwards (SSH in, HTTP out) are on the libvirt host's loopback; for
 *   qemu+ssh:// boxwright carries them through `ssh -L/-R` to that host.
 */
#include "driver.h"
#include "accel.h"
#include "../disk/disk.h"
#include "domxml.h"
#include "../bootcmd/encodings.h"
#include "../base/buf.h"
#include "../base/file.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"
#include "../base/digest.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct bw_vm {
    char *name, *workdir, *uri, *pool_name;
    char *open_uri;   /* uri, with a qemu+ssh:// one's ssh made deaf to Ctrl-C */
    char *ssh_script; /* the script that does that, in the work dir, or NULL */
    char *xml;
    char *argv[2];
    bool remote;
    virConnectPtr conn;
    virDomainPtr dom;
    int cb_id;
    atomic_bool stopped;
    char *serial_path; /* local only */
    char *local_disk;  /* remote: downloaded back here on power-off (if keep) */
    bool keep_disk;
    virStorageVolPtr disk_vol;
    virStorageVolPtr seed_vol; /* remote: the seed CD-ROM, uploaded for this VM */
    char *flat_disk;           /* remote: the flattened copy of the disk that was uploaded */
    bool downloaded;
    void (*note)(const char *msg, void *ud);
    void *note_ud;
    pid_t tunnel; /* ssh -L/-R to a remote host, or 0 */
};

static void note(struct bw_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void note(struct bw_vm *vm, const char *fmt, ...)
{
    if (!vm->note)
        return;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    bw_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    vm->note(b.data, vm->note_ud);
    bw_buf_release(&b);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- errors ---- */

static void quiet(void *ud, virErrorPtr e)
{
    (void)ud;
    (void)e;
}

static int lv_fail(struct bw_error *err, const char *call, const char *what)
{
    const char *m = virGetLastErrorMessage();
    bw_error_set(err, BW_ERR_SPAWN, "libvirt: %s failed%s%s: %s", call, what ? " for " : "",
                 what ? what : "", m ? m : "unknown error");
    return -1;
}

/* ---- the event loop thread, shared by every open VM ---- */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned ev_users;
static atomic_bool ev_quit;
static pthread_t ev_thread;
static bool ev_registered;

static void *event_loop(void *arg)
{
    (void)arg;
    /* Signals (Ctrl-C) belong to the thread that runs the build, whose waits they cut short. */
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    while (!atomic_load(&ev_quit))
        if (virEventRunDefaultImpl() < 0)
            break;
    return NULL;
}

static void wake_once(int timer, void *ud)
{
    (void)ud;
    virEventRemoveTimeout(timer);
}

static int events_ref(struct bw_error *err)
{
    pthread_mutex_lock(&ev_lock);
    int rc = 0;
    if (!ev_registered) {
        virSetErrorFunc(NULL, quiet);
        if (virEventRegisterDefaultImpl() < 0)
            rc = lv_fail(err, "virEventRegisterDefaultImpl", NULL);
        else
            ev_registered = true;
    }
    if (rc == 0 && ev_users++ == 0) {
        atomic_store(&ev_quit, false);
        int e = pthread_create(&ev_thread, NULL, event_loop, NULL);
        if (e) {
            ev_users = 0;
            bw_error_set(err, BW_ERR_INTERNAL, "libvirt: cannot start the event thread: %s",
                         strerror(e));
            rc = -1;
        }
    }
    pthread_mutex_unlock(&ev_lock);
    return rc;
}

static void events_unref(void)
{
    pthread_mutex_lock(&ev_lock);
    if (ev_users && --ev_users == 0) {
        atomic_store(&ev_quit, true);
        virEventAddTimeout(0, wake_once, NULL, NULL); /* wakes the loop so it sees ev_quit */
        pthread_join(ev_thread, NULL);
    }
    pthread_mutex_unlock(&ev_lock);
}

static void on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *ud)
{
    (void)conn;
    (void)dom;
    (void)detail;
    struct bw_vm *vm = ud;
    if (event == VIR_DOMAIN_EVENT_STOPPED)
        atomic_store(&vm->stopped, true);
}

/* ---- remote storage ---- */

static int send_fd(virStreamPtr st, char *data, size_t n, void *ud)
{
    (void)st;
    int fd = *(int *)ud;
    ssize_t r;
    while ((r = read(fd, data, n)) < 0 && errno == EINTR)
        ;
    return (int)r;
}

static int recv_fd(virStreamPtr st, const char *data, size_t n, void *ud)
{
    (void)st;
    int fd = *(int *)ud;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(fd, data + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        done += (size_t)w;
    }
    return (int)n;
}

static virStorageVolPtr create_volume(virStoragePoolPtr pool, const char *name,
                                      unsigned long long bytes, struct bw_error *err)
{
    struct bw_buf x = BW_BUF_INIT;
    bw_buf_init(&x);
    bw_buf_adds(&x, "<volume><name>");
    bw_buf_add_xml(&x, name);
    bw_buf_addf(&x,
                "</name><capacity unit='bytes'>%llu</capacity>"
                "<target><format type='raw'/></target></volume>",
                bytes);
    virStorageVolPtr v = virStorageVolCreateXML(pool, x.data, 0);
    bw_buf_release(&x);
    if (!v)
        lv_fail(err, "virStorageVolCreateXML", name);
    return v;
}

/* Uploads the local file into a new volume; the volume is deleted again on failure. */
static virStorageVolPtr upload(struct bw_vm *vm, virStoragePoolPtr pool, const char *name,
                               const char *path, struct bw_error *err)
{
    struct stat st;
    int fd = bw_file_open_read(path, &st, err);
    if (fd < 0)
        return NULL;
    virStorageVolPtr v = create_volume(pool, name, (unsigned long long)st.st_size, err);
    virStreamPtr s = v ? virStreamNew(vm->conn, 0) : NULL;
    int rc = -1;
    double t0 = now_s();
    if (s && virStorageVolUpload(v, s, 0, (unsigned long long)st.st_size, 0) == 0) {
        if (virStreamSendAll(s, send_fd, &fd) == 0 && virStreamFinish(s) == 0)
            rc = 0;
        else
            virStreamAbort(s);
    }
    if (rc == 0)
        note(vm, "uploaded %s to pool %s as %s (%.1f MiB in %.1f s)", path, vm->pool_name, name,
             (double)st.st_size / 1048576.0, now_s() - t0);
    if (v && rc < 0) {
        lv_fail(err, "virStorageVolUpload", name);
        virStorageVolDelete(v, 0);
        virStorageVolFree(v);
        v = NULL;
    }
    if (s)
        virStreamFree(s);
    close(fd);
    return v;
}

static int download(struct bw_vm *vm, virStorageVolPtr v, const char *path, struct bw_error *err)
{
    char *tmp = bw_xasprintf("%s.download", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        bw_error_at(err, BW_ERR_IO, tmp, NULL, 0, 0, "cannot create: %s", strerror(errno));
        free(tmp);
        return -1;
    }
    virStreamPtr s = virStreamNew(vm->conn, 0);
    int rc = -1;
    double t0 = now_s();
    if (s && virStorageVolDownload(v, s, 0, 0, 0) == 0) {
        if (virStreamRecvAll(s, recv_fd, &fd) == 0 && virStreamFinish(s) == 0)
            rc = 0;
        else
            virStreamAbort(s);
    }
    if (rc == 0) {
        struct stat st;
        fstat(fd, &st);
        note(vm, "downloaded the disk from pool %s (%.1f MiB in %.1f s)", vm->pool_name,
             (double)st.st_size / 1048576.0, now_s() - t0);
    }
    if (rc < 0)
        lv_fail(err, "virStorageVolDownload", path);
    if (s)
        virStreamFree(s);
    if (close(fd) < 0 && rc == 0)
        rc = -1;
    rc = bw_file_commit(tmp, path, rc, err);
    free(tmp);
    return rc;
}

/* The ISO in the pool, uploaded unless a finished upload of the same sha256 is there. */
static char *remote_iso(struct bw_vm *vm, virStoragePoolPtr pool, const char *iso,
                        struct bw_error *err)
{
    char hex[BW_HASH_MAX_HEX + 1];
    if (bw_hash_file(iso, BW_HASH_SHA256, hex, NULL, NULL, err) < 0)
        return NULL;
    char *name = bw_xasprintf("boxwright-%s.iso", hex);
    char *marker = bw_xasprintf("boxwright-%s.iso.done", hex);
    char *path = NULL;
    virStorageVolPtr v = virStorageVolLookupByName(pool, name);
    virStorageVolPtr m = virStorageVolLookupByName(pool, marker);
    if (!v || !m) {
        if (v) { /* an upload that did not finish */
            virStorageVolDelete(v, 0);
            virStorageVolFree(v);
        }
        v = upload(vm, pool, name, iso, err);
        if (v && !m) {
            m = create_volume(pool, marker, 0, err);
            if (!m) {
                virStorageVolFree(v);
                v = NULL;
            }
        }
    } else
        note(vm, "the ISO is already in pool %s (%s)", vm->pool_name, name);
    if (v) {
        path = virStorageVolGetPath(v);
        if (!path)
            lv_fail(err, "virStorageVolGetPath", name);
    }
    if (v)
        virStorageVolFree(v);
    if (m)
        virStorageVolFree(m);
    free(name);
    free(marker);
    return path;
}

/* ---- the tunnel to a remote host ---- */

/* The parts of qemu+ssh://[user@]host[:port]/path?keyfile=K&command=SSH&no_verify=1 the
 * tunnel needs, copied into fixed buffers; false if the URI is not qemu+ssh. */
struct ssh_target {
    char user[64], host[256], port[8], keyfile[512], command[512];
    bool no_verify;
};

static bool parse_ssh_uri(const char *uri, struct ssh_target *t)
{
    memset(t, 0, sizeof(*t));
    const char *p = strstr(uri, "://");
    if (!p || (size_t)(p - uri) < 4 || strncmp(p - 4, "+ssh", 4) != 0)
        return false;
    p += 3;
    size_t auth = strcspn(p, "/?");
    const char *at = memchr(p, '@', auth);
    if (at) {
        snprintf(t->user, sizeof(t->user), "%.*s", (int)(at - p), p);
        auth -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *colon = memchr(p, ':', auth);
    size_t hostlen = colon ? (size_t)(colon - p) : auth;
    snprintf(t->host, sizeof(t->host), "%.*s", (int)hostlen, p);
    if (colon)
        snprintf(t->port, sizeof(t->port), "%.*s", (int)(auth - hostlen - 1), colon + 1);
    const char *q = strchr(p, '?');
    while (q && *q) {
        q++;
        size_t n = strcspn(q, "&");
        if (strncmp(q, "keyfile=", 8) == 0)
            snprintf(t->keyfile, sizeof(t->keyfile), "%.*s", (int)(n - 8), q + 8);
        else if (strncmp(q, "command=", 8) == 0)
            snprintf(t->command, sizeof(t->command), "%.*s", (int)(n - 8), q + 8);
        else if (strncmp(q, "no_verify=1", n) == 0 && n == 11)
            t->no_verify = true;
        q += n;
    }
    return t->host[0] != '\0';
}

static bool port_answers(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/*
 * The VM's forwards are on the remote host's loopback. One `ssh -N` (the same
 * ssh, user, port and key that libvirt's qemu+ssh transport uses) carries
 * them: -L brings the guest's SSH port here, -R takes the guest's HTTP
 * stream back to the relay here. Remote ports are picked free on this host
 * (the only thing this host can check); ExitOnForwardFailure turns a taken
 * one into an error rather than a silent half-tunnel.
 */
static int start_tunnel(struct bw_vm *vm, const struct ssh_target *t, unsigned local_ssh,
                        unsigned remote_ssh, unsigned local_http, unsigned remote_http,
                        struct bw_error *err)
{
    char *argv[32];
    size_t n = 0;
    char lfwd[64], rfwd[64];
    argv[n++] = t->command[0] ? (char *)t->command : "ssh";
    argv[n++] = "-N";
    argv[n++] = "-o";
    argv[n++] = "ExitOnForwardFailure=yes";
    argv[n++] = "-o";
    argv[n++] = "BatchMode=yes";
    if (t->no_verify) {
        argv[n++] = "-o";
        argv[n++] = "StrictHostKeyChecking=no";
    }
    if (t->port[0]) {
        argv[n++] = "-p";
        argv[n++] = (char *)t->port;
    }
    if (t->user[0]) {
        argv[n++] = "-l";
        argv[n++] = (char *)t->user;
    }
    if (t->keyfile[0]) {
        argv[n++] = "-i";
        argv[n++] = (char *)t->keyfile;
    }
    if (local_ssh) {
        snprintf(lfwd, sizeof(lfwd), "127.0.0.1:%u:127.0.0.1:%u", local_ssh, remote_ssh);
        argv[n++] = "-L";
        argv[n++] = lfwd;
    }
    if (local_http) {
        snprintf(rfwd, sizeof(rfwd), "127.0.0.1:%u:127.0.0.1:%u", remote_http, local_http);
        argv[n++] = "-R";
        argv[n++] = rfwd;
    }
    argv[n++] = "--";
    argv[n++] = (char *)t->host;
    argv[n] = NULL;
    char *log = bw_xasprintf("%s/tunnel.log", vm->workdir);
    unlink(log);
    /* In its own process group (a Ctrl-C reaches boxwright alone, whose cleanup stops it),
     * killed when boxwright dies, so even a SIGKILLed build leaves no tunnel running. */
    vm->tunnel = bw_spawn_background(argv, log, err);
    if (vm->tunnel < 0) {
        vm->tunnel = 0;
        bw_error_prefix(err, "the tunnel to %s", t->host);
        free(log);
        return -1;
    }
    /* Up when the local end of -L answers (ssh opens it after the remote end agreed). */
    for (int i = 0; i < 300; i++) {
        int st;
        if (waitpid(vm->tunnel, &st, WNOHANG) == vm->tunnel) {
            vm->tunnel = 0;
            struct bw_buf b = BW_BUF_INIT;
            bw_buf_init(&b);
            bw_buf_read_file(&b, log);
            bw_buf_rtrim(&b);
            bw_error_set(err, BW_ERR_NETWORK, "the ssh tunnel to %s ended: %s", t->host, b.data);
            bw_buf_release(&b);
            free(log);
            return -1;
        }
        if (!local_ssh || port_answers(local_ssh)) {
            if (local_ssh)
                note(vm, "ssh tunnel to %s: the guest's SSH on 127.0.0.1:%u here", t->host,
                     local_ssh);
            if (local_http)
                note(vm, "ssh tunnel to %s: the guest's HTTP from 127.0.0.1:%u there", t->host,
                     remote_http);
            free(log);
            return 0;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    bw_error_set(err, BW_ERR_NETWORK, "the ssh tunnel to %s did not come up in 30 s (see %s)",
                 t->host, log);
    free(log);
    return -1;
}

static void stop_tunnel(struct bw_vm *vm)
{
    if (vm->tunnel > 0) {
        bw_spawn_stop(vm->tunnel, 2000);
        vm->tunnel = 0;
    }
}

/* ---- the driver ---- */

static void lv_destroy(struct bw_vm *vm);

static char *absolute(const char *path)
{
    char *r = realpath(path, NULL);
    return r ? r : bw_xstrdup(path);
}

/* ---- the connection ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/*
 * For a qemu+ssh:// URI libvirt runs ssh itself, as a child in boxwright's process group, so
 * Ctrl-C at the terminal would kill it along with boxwright, and with it the connection
 * boxwright needs to take the guest's screen and remove the domain and volumes. The URI's
 * command= (default ssh) is run instead through a script in the work dir that ignores SIGINT
 * and SIGQUIT before it execs: ssh leaves an ignored SIGINT ignored. The script's own path
 * replaces command= in the URI that is opened; vm->uri stays the user's, for messages.
 */
static int deafen_ssh(struct bw_vm *vm, struct bw_error *err)
{
    const char *uri = vm->uri;
    const char *q = strchr(uri, '?');
    const char *cmd = NULL;
    size_t cmd_len = 0;
    for (const char *p = q; p && *p;) {
        p++;
        size_t n = strcspn(p, "&");
        if (strncmp(p, "command=", 8) == 0 && n >= 8) {
            cmd = p + 8;
            cmd_len = n - 8;
        }
        p += n;
    }
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_adds(&b, "#!/bin/sh\n# boxwright: libvirt's ssh, deaf to Ctrl-C so that boxwright can "
                    "still clean up after one\ntrap '' INT QUIT\nexec '");
    if (!cmd || !cmd_len)
        bw_buf_adds(&b, "ssh");
    for (size_t i = 0; cmd && i < cmd_len; i++) {
        char c = cmd[i];
        if (c == '%' && i + 2 < cmd_len && hexval(cmd[i + 1]) >= 0 && hexval(cmd[i + 2]) >= 0) {
            c = (char)(hexval(cmd[i + 1]) * 16 + hexval(cmd[i + 2]));
            i += 2;
        }
        if (c == '\'')
            bw_buf_adds(&b, "'\\''");
        else
            bw_buf_addf(&b, "%c", c);
    }
    bw_buf_adds(&b, "' \"$@\"\n");
    char *wd = absolute(vm->workdir); /* libvirt looks a command up in PATH otherwise */
    vm->ssh_script = bw_xasprintf("%s/libvirt-ssh", wd);
    free(wd);
    int rc = bw_file_write(vm->ssh_script, b.data, b.len, 0700, err);
    bw_buf_release(&b);
    if (rc < 0) {
        free(vm->ssh_script);
        vm->ssh_script = NULL;
        return -1;
    }
    struct bw_buf u = BW_BUF_INIT;
    bw_buf_init(&u);
    if (cmd) {
        bw_buf_add(&u, uri, (size_t)(cmd - uri));
    } else {
        bw_buf_adds(&u, uri);
        bw_buf_adds(&u, q ? "&command=" : "?command=");
    }
    for (const char *c = vm->ssh_script; *c; c++) {
        if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
            strchr("/-._~", *c))
            bw_buf_addf(&u, "%c", *c);
        else
            bw_buf_addf(&u, "%%%02X", (unsigned char)*c);
    }
    if (cmd)
        bw_buf_adds(&u, cmd + cmd_len);
    vm->open_uri = bw_buf_detach(&u);
    return 0;
}

static struct bw_vm *lv_create(const struct bw_vm_spec *s, struct bw_error *err)
{
    if (events_ref(err) < 0) /* before anything lv_destroy() (which unrefs) would free */
        return NULL;
    struct bw_vm *vm = bw_xcalloc(1, sizeof(*vm));
    vm->cb_id = -1;
    vm->name = bw_xstrdup(s->name);
    vm->workdir = bw_xstrdup(s->workdir);
    vm->uri = bw_xstrdup(s->uri ? s->uri : "qemu:///system");
    vm->pool_name = bw_xstrdup(s->pool ? s->pool : "default");
    vm->remote = bw_libvirt_uri_is_remote(vm->uri);
    vm->keep_disk = s->keep_disk_changes;
    vm->note = s->note;
    vm->note_ud = s->note_ud;
    if (vm->remote && strstr(vm->uri, "+ssh://") && deafen_ssh(vm, err) < 0) {
        lv_destroy(vm);
        return NULL;
    }
    vm->conn = virConnectOpen(vm->open_uri ? vm->open_uri : vm->uri);
    if (!vm->conn) {
        lv_fail(err, "virConnectOpen", vm->uri);
        lv_destroy(vm);
        return NULL;
    }
    /* A host that stops answering is noticed in 30 s rather than never. */
    virConnectSetKeepAlive(vm->conn, 5, 6);
    struct bw_domxml_paths p = {NULL, NULL, NULL, NULL};
    char *iso = NULL, *disk = NULL, *seed = NULL;
    int rc = 0;
    if (vm->remote && s->kernel) {
        bw_error_set(err, BW_ERR_UNSUPPORTED,
                     "libvirt: boot method \"kernel\" on a remote host is not supported (the "
                     "kernel and initrd would have to be uploaded); use method \"keys\", or "
                     "a local URI");
        lv_destroy(vm);
        return NULL;
    }
    if (!vm->remote) {
        iso = s->iso ? absolute(s->iso) : NULL;
        seed = s->seed_iso ? absolute(s->seed_iso) : NULL;
        disk = s->disk ? absolute(s->disk) : NULL;
        char *wd = absolute(s->workdir);
        vm->serial_path = bw_xasprintf("%s/serial.log", wd);
        free(wd);
        p.serial = vm->serial_path;
    } else {
        virStoragePoolPtr pool = virStoragePoolLookupByName(vm->conn, vm->pool_name);
        if (!pool) {
            lv_fail(err, "virStoragePoolLookupByName", vm->pool_name);
            bw_error_prefix(err, "remote builds keep the ISO and disks in a storage pool "
                                 "(--libvirt-pool)");
            rc = -1;
        }
        if (rc == 0 && s->iso && !(iso = remote_iso(vm, pool, s->iso, err)))
            rc = -1;
        if (rc == 0 && s->seed_iso) {
            char *vname = bw_xasprintf("%s-seed.iso", s->name);
            vm->seed_vol = upload(vm, pool, vname, s->seed_iso, err);
            if (!vm->seed_vol)
                rc = -1;
            else if (!(seed = virStorageVolGetPath(vm->seed_vol)))
                rc = lv_fail(err, "virStorageVolGetPath", vname);
            free(vname);
        }
        if (rc == 0 && s->disk) {
            /* The disk may be an overlay on a local file (a cached base image, or the box
             * under validation): upload a flat copy. */
            vm->flat_disk = bw_xasprintf("%s/flat-disk.qcow2", s->workdir);
            rc = bw_disk_convert(s->disk, vm->flat_disk, "qcow2", NULL, err);
            const char *src = vm->flat_disk;
            char *vname = bw_xasprintf("%s.qcow2", s->name);
            if (rc == 0) {
                vm->disk_vol = upload(vm, pool, vname, src, err);
                if (!vm->disk_vol)
                    rc = -1;
                else if (!(disk = virStorageVolGetPath(vm->disk_vol)))
                    rc = lv_fail(err, "virStorageVolGetPath", vname);
            }
            free(vname);
            vm->local_disk = bw_xstrdup(s->disk);
        }
        if (pool)
            virStoragePoolFree(pool);
    }
    p.iso = iso;
    p.disk = disk;
    p.seed = seed;
    struct bw_vm_spec there = *s; /* the ports as the libvirt host sees them */
    if (rc == 0 && vm->remote && (s->ssh_host_port || s->http_port)) {
        struct ssh_target t;
        if (!parse_ssh_uri(vm->uri, &t)) {
            bw_error_set(err, BW_ERR_UNSUPPORTED,
                         "libvirt: %s: a remote host needs a qemu+ssh:// URI (boxwright carries "
                         "the guest's SSH and HTTP through ssh to it)",
                         vm->uri);
            rc = -1;
        } else {
            /* Distinct from this host's ends, which matters when "remote" is this host. */
            while (s->ssh_host_port &&
                   (there.ssh_host_port == s->ssh_host_port || there.ssh_host_port == 0))
                there.ssh_host_port = bw_free_port();
            while (s->http_port && (there.http_port == s->http_port || there.http_port == 0))
                there.http_port = bw_free_port();
            rc = start_tunnel(vm, &t, s->ssh_host_port, there.ssh_host_port, s->http_port,
                              there.http_port, err);
        }
    }
    if (rc == 0 && !(vm->xml = bw_domain_xml(&there, &p, err)))
        rc = -1;
    free(iso);
    free(disk);
    free(seed);
    if (rc < 0) {
        lv_destroy(vm);
        return NULL;
    }
    vm->argv[0] = vm->xml;
    return vm;
}

static char *const *lv_command(const struct bw_vm *vm)
{
    return vm->argv;
}

static int lv_start(struct bw_vm *vm, struct bw_error *err)
{
    vm->dom = virDomainCreateXML(vm->conn, vm->xml, VIR_DOMAIN_START_AUTODESTROY);
    if (!vm->dom)
        return lv_fail(err, "virDomainCreateXML", vm->name);
    vm->cb_id = virConnectDomainEventRegisterAny(vm->conn, vm->dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                 VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), vm, NULL);
    if (vm->cb_id < 0)
        return lv_fail(err, "virConnectDomainEventRegisterAny", vm->name);
    /* It may have stopped before the callback was in place. */
    if (virDomainIsActive(vm->dom) != 1)
        atomic_store(&vm->stopped, true);
    return 0;
}

static int lv_send_chord(struct bw_vm *vm, const enum bw_key *keys, size_t n, unsigned hold_ms,
                         struct bw_error *err)
{
    if (!vm->dom) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "libvirt: the VM is not running");
        return -1;
    }
    unsigned codes[VIR_DOMAIN_SEND_KEY_MAX_KEYS];
    int m = 0;
    for (size_t t = 0; t < n && m < VIR_DOMAIN_SEND_KEY_MAX_KEYS; t++)
        codes[m++] = bw_key_linux(keys[t]);
    if (virDomainSendKey(vm->dom, VIR_KEYCODE_SET_LINUX, hold_ms, codes, m, 0) < 0)
        return lv_fail(err, "virDomainSendKey", vm->name);
    return 0;
}

/* libvirt reads physical memory through QEMU (pmemsave to a file of its own, then over its
 * connection), at most 64 KiB a call: enough for the text screen and the BIOS data area. */
static int lv_read_memory(struct bw_vm *vm, uint64_t addr, size_t len, void *buf,
                          struct bw_error *err)
{
    if (!vm->dom || atomic_load(&vm->stopped)) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "libvirt: the VM is not running");
        return -1;
    }
    if (virDomainMemoryPeek(vm->dom, addr, len, buf, VIR_MEMORY_PHYSICAL) < 0)
        return lv_fail(err, "virDomainMemoryPeek", vm->name);
    return 0;
}

static int lv_wait_off(struct bw_vm *vm, uint64_t timeout_ms, struct bw_error *err)
{
    if (!vm->dom)
        return 0;
    for (uint64_t waited = 0; !atomic_load(&vm->stopped); waited += 50) {
        if (waited >= timeout_ms) {
            bw_error_set(err, BW_ERR_INTERRUPTED, "the guest did not power off within %llu s",
                         (unsigned long long)(timeout_ms / 1000));
            return -1;
        }
        struct timespec t = {0, 50 * 1000000L};
        nanosleep(&t, NULL);
    }
    if (vm->remote && vm->keep_disk && vm->disk_vol && !vm->downloaded) {
        if (download(vm, vm->disk_vol, vm->local_disk, err) < 0)
            return -1;
        vm->downloaded = true;
    }
    return 0;
}

/* libvirt gives the format it chooses (PNG from libvirt 9.0), quick or not. */
static char *lv_screenshot(struct bw_vm *vm, const char *base, bool quick, struct bw_error *err)
{
    (void)quick;
    if (!vm->dom || atomic_load(&vm->stopped)) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "no screenshot: the VM is not running");
        return NULL;
    }
    virStreamPtr s = virStreamNew(vm->conn, 0);
    char *mime = s ? virDomainScreenshot(vm->dom, s, 0, 0) : NULL;
    if (!mime) {
        lv_fail(err, "virDomainScreenshot", vm->name);
        if (s)
            virStreamFree(s);
        return NULL;
    }
    char *path = bw_xasprintf("%s.%s", base, strcmp(mime, "image/png") == 0 ? "png" : "ppm");
    free(mime);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = -1;
    if (fd >= 0 && virStreamRecvAll(s, recv_fd, &fd) == 0 && virStreamFinish(s) == 0)
        rc = 0;
    else
        virStreamAbort(s);
    if (fd >= 0)
        close(fd);
    virStreamFree(s);
    if (rc < 0) {
        lv_fail(err, "virDomainScreenshot", vm->name);
        unlink(path);
        free(path);
        return NULL;
    }
    return path;
}

static const char *lv_serial_log(const struct bw_vm *vm)
{
    return vm->serial_path;
}

static int lv_stop(struct bw_vm *vm, struct bw_error *err)
{
    if (!vm->dom || atomic_load(&vm->stopped))
        return 0;
    if (virDomainDestroy(vm->dom) < 0 && virDomainIsActive(vm->dom) == 1)
        return lv_fail(err, "virDomainDestroy", vm->name);
    atomic_store(&vm->stopped, true);
    return 0;
}

/*
 * The connection can be gone by cleanup time: Ctrl-C reaches the ssh that libvirt runs for a
 * qemu+ssh:// URI (it is in boxwright's process group), and a host can drop off the network.
 * A new connection then removes what the old one could not: the domain (libvirtd destroys an
 * autodestroy domain when it notices the old connection closed, but maybe not yet) and the
 * volumes uploaded for this VM, which nothing else would ever remove.
 */
static void clean_up_again(struct bw_vm *vm, bool dom_left, char **vols, size_t n)
{
    virConnectPtr c = virConnectOpen(vm->open_uri ? vm->open_uri : vm->uri);
    if (c && dom_left) {
        virDomainPtr d = virDomainLookupByName(c, vm->name);
        if (d) {
            if (virDomainIsActive(d) == 1)
                virDomainDestroy(d);
            virDomainFree(d);
        }
    }
    virStoragePoolPtr pool = c && n ? virStoragePoolLookupByName(c, vm->pool_name) : NULL;
    for (size_t i = 0; i < n; i++) {
        virStorageVolPtr v = pool ? virStorageVolLookupByName(pool, vols[i]) : NULL;
        if (!v && pool && virGetLastErrorCode() == VIR_ERR_NO_STORAGE_VOL)
            continue; /* gone already */
        if (!v || virStorageVolDelete(v, 0) < 0)
            note(vm,
                 "could not remove volume %s from pool %s at %s (%s): remove it with "
                 "virsh vol-delete",
                 vols[i], vm->pool_name, vm->uri, virGetLastErrorMessage());
        if (v)
            virStorageVolFree(v);
    }
    if (pool)
        virStoragePoolFree(pool);
    if (c)
        virConnectClose(c);
}

static void lv_destroy(struct bw_vm *vm)
{
    if (!vm)
        return;
    if (vm->conn) {
        if (vm->cb_id >= 0)
            virConnectDomainEventDeregisterAny(vm->conn, vm->cb_id);
        bool dom_left = false;
        if (vm->dom) {
            int active = virDomainIsActive(vm->dom);
            dom_left = active < 0 || (active == 1 && virDomainDestroy(vm->dom) < 0);
            virDomainFree(vm->dom);
        }
        char *vols_left[2];
        size_t n_left = 0;
        virStorageVolPtr *vols[] = {&vm->seed_vol, &vm->disk_vol};
        for (size_t i = 0; i < 2; i++) {
            if (!*vols[i])
                continue;
            if (virStorageVolDelete(*vols[i], 0) < 0)
                vols_left[n_left++] = bw_xstrdup(virStorageVolGetName(*vols[i]));
            virStorageVolFree(*vols[i]);
        }
        virConnectClose(vm->conn);
        if (dom_left || n_left)
            clean_up_again(vm, dom_left, vols_left, n_left);
        for (size_t i = 0; i < n_left; i++)
            free(vols_left[i]);
    }
    stop_tunnel(vm);
    if (vm->flat_disk)
        unlink(vm->flat_disk);
    events_unref();
    free(vm->flat_disk);
    free(vm->local_disk);
    free(vm->serial_path);
    free(vm->xml);
    free(vm->name);
    free(vm->workdir);
    free(vm->uri);
    free(vm->open_uri);
    if (vm->ssh_script)
        unlink(vm->ssh_script);
    free(vm->ssh_script);
    free(vm->pool_name);
    free(vm);
}

static char *lv_describe(const char *uri, const char *pool)
{
    const char *u = uri ? uri : "qemu:///system";
    if (!bw_libvirt_uri_is_remote(u))
        return bw_xasprintf("libvirt at %s (this host): transient domains; the ISO and disk used "
                            "in place; the guest's HTTP as one stream (chardev guestfwd) relayed "
                            "to the server, its SSH through hostfwd on 127.0.0.1",
                            u);
    return bw_xasprintf("libvirt at %s (remote): transient domains; the ISO uploaded to pool %s "
                        "once per sha256, the disk uploaded for each VM and downloaded when it "
                        "powers off; the guest's SSH and HTTP through an ssh tunnel to the host%s",
                        u, pool ? pool : "default",
                        strstr(u, "+ssh://") ? "" : " (needs a qemu+ssh:// URI: this one fails)");
}

/*
 * A local libvirtd runs QEMU on this machine: the probe of this machine's KVM decides. A
 * remote host's KVM cannot be probed from here (a hypervisor that offers KVM may still hang
 * its guests, as nested KVM does), so "auto" means TCG there, and says how to ask for KVM.
 */
static const char *lv_choose_accel(const char *requested, const char *uri, char *why, size_t whylen)
{
    if (!uri || !bw_libvirt_uri_is_remote(uri))
        return bw_accel_choose(requested, why, whylen);
    if (strcmp(requested, "auto") != 0) {
        snprintf(why, whylen, "%s on %s, as asked (--accel)", requested, uri);
        return strcmp(requested, "kvm") == 0 ? "kvm" : "tcg";
    }
    snprintf(why, whylen,
             "TCG: KVM on the remote host %s is not probed from here (nested KVM can hang "
             "guests); --accel kvm uses it",
             uri);
    return "tcg";
}

const struct bw_driver bw_driver_libvirt = {
    .name = "libvirt",
    .http_as_stream = true,
    /* guestfwd on QEMU's user network (10.0.2.2 is slirp's own address, refused under
     * restrict=on) */
    .guest_http_ip = "10.0.2.100",
    .guest_http_port = 8100,
    .describe = lv_describe,
    .choose_accel = lv_choose_accel,
    .create = lv_create,
    .command = lv_command,
    .start = lv_start,
    .send_chord = lv_send_chord,
    .read_memory = lv_read_memory,
    .wait_off = lv_wait_off,
    .screenshot = lv_screenshot,
    .serial_log = lv_serial_log,
    .stop = lv_stop,
    .destroy = lv_destroy,
};
