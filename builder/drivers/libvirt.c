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
#include "libvirt_int.h"
#include "qemu_args.h"
#include "accel.h"
#include "../disk/disk.h"
#include "domxml.h"
#include "../bootcmd/encodings.h"
#include "../base/file.h"
#include "../base/xmalloc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void lv_destroy(struct bw_vm *vm);

static char *absolute(const char *path)
{
    char *r = realpath(path, NULL);
    return r ? r : bw_xstrdup(path);
}

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

/* A CD image for a remote host: uploaded into the pool as NAME-WHAT.iso; the volume in *vol (the
 * VM deletes it with itself) and its path there in *path. 0, or -1 with err. */
static int upload_cd(struct bw_vm *vm, virStoragePoolPtr pool, const char *name, const char *what,
                     const char *local, virStorageVolPtr *vol, char **path, struct bw_error *err)
{
    char *vname = bw_xasprintf("%s-%s.iso", name, what);
    int rc = 0;
    *vol = bw_lv_upload(vm, pool, vname, local, err);
    if (!*vol)
        rc = -1;
    else if (!(*path = virStorageVolGetPath(*vol)))
        rc = bw_lv_fail(err, "virStorageVolGetPath", vname);
    free(vname);
    return rc;
}

static struct bw_vm *lv_create(const struct bw_vm_spec *s, struct bw_error *err)
{
    if (bw_lv_events_ref(err) < 0) /* before anything lv_destroy() (which unrefs) would free */
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
        bw_lv_fail(err, "virConnectOpen", vm->uri);
        lv_destroy(vm);
        return NULL;
    }
    /* A host that stops answering is noticed in 30 s rather than never. */
    virConnectSetKeepAlive(vm->conn, 5, 6);
    struct bw_domxml_paths p = {NULL, NULL, NULL, NULL, NULL, NULL};
    char *iso = NULL, *disk = NULL, *seed = NULL, *answer = NULL;
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
        answer = s->answer_iso ? absolute(s->answer_iso) : NULL;
        disk = s->disk ? absolute(s->disk) : NULL;
        char *wd = absolute(s->workdir);
        vm->serial_path = bw_xasprintf("%s/serial.log", wd);
        /* libvirt keeps a transient domain's NVRAM file in its own directory after the domain
         * is gone: in the work directory it goes with the rest. */
        if (s->firmware && strcmp(s->firmware, "efi") == 0)
            vm->nvram_path = bw_xasprintf("%s/VARS.fd", wd);
        free(wd);
        p.serial = vm->serial_path;
        p.nvram = vm->nvram_path;
    } else {
        virStoragePoolPtr pool = virStoragePoolLookupByName(vm->conn, vm->pool_name);
        if (!pool) {
            bw_lv_fail(err, "virStoragePoolLookupByName", vm->pool_name);
            bw_error_prefix(err, "remote builds keep the ISO and disks in a storage pool "
                                 "(--libvirt-pool)");
            rc = -1;
        }
        if (rc == 0 && s->iso && !(iso = bw_lv_remote_iso(vm, pool, s->iso, err)))
            rc = -1;
        if (rc == 0 && s->seed_iso)
            rc = upload_cd(vm, pool, s->name, "seed", s->seed_iso, &vm->seed_vol, &seed, err);
        if (rc == 0 && s->answer_iso)
            rc = upload_cd(vm, pool, s->name, "answer", s->answer_iso, &vm->answer_vol, &answer,
                           err);
        if (rc == 0 && s->disk) {
            /* The disk may be an overlay on a local file (a cached base image, or the box
             * under validation): upload a flat copy. */
            vm->flat_disk = bw_xasprintf("%s/flat-disk.qcow2", s->workdir);
            rc = bw_disk_convert(s->disk, vm->flat_disk, "qcow2", NULL, err);
            const char *src = vm->flat_disk;
            char *vname = bw_xasprintf("%s.qcow2", s->name);
            if (rc == 0) {
                vm->disk_vol = bw_lv_upload(vm, pool, vname, src, err);
                if (!vm->disk_vol)
                    rc = -1;
                else if (!(disk = virStorageVolGetPath(vm->disk_vol)))
                    rc = bw_lv_fail(err, "virStorageVolGetPath", vname);
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
    p.answer = answer;
    struct bw_vm_spec there = *s; /* the ports as the libvirt host sees them */
    if (rc == 0 && vm->remote && (s->ssh_host_port || s->http_port)) {
        struct ssh_target t;
        if (!bw_lv_parse_ssh_uri(vm->uri, &t)) {
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
            rc = bw_lv_start_tunnel(vm, &t, s->ssh_host_port, there.ssh_host_port, s->http_port,
                                    there.http_port, err);
        }
    }
    if (rc == 0 && !(vm->xml = bw_domain_xml(&there, &p, err)))
        rc = -1;
    free(iso);
    free(disk);
    free(seed);
    free(answer);
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
        return bw_lv_fail(err, "virDomainCreateXML", vm->name);
    vm->cb_id =
        virConnectDomainEventRegisterAny(vm->conn, vm->dom, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                         VIR_DOMAIN_EVENT_CALLBACK(bw_lv_on_lifecycle), vm, NULL);
    if (vm->cb_id < 0)
        return bw_lv_fail(err, "virConnectDomainEventRegisterAny", vm->name);
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
        return bw_lv_fail(err, "virDomainSendKey", vm->name);
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
        return bw_lv_fail(err, "virDomainMemoryPeek", vm->name);
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
        if (bw_lv_download(vm, vm->disk_vol, vm->local_disk, err) < 0)
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
        bw_lv_fail(err, "virDomainScreenshot", vm->name);
        if (s)
            virStreamFree(s);
        return NULL;
    }
    char *path = bw_xasprintf("%s.%s", base, strcmp(mime, "image/png") == 0 ? "png" : "ppm");
    free(mime);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int rc = -1;
    if (fd >= 0 && virStreamRecvAll(s, bw_lv_recv_fd, &fd) == 0 && virStreamFinish(s) == 0)
        rc = 0;
    else
        virStreamAbort(s);
    if (fd >= 0)
        close(fd);
    virStreamFree(s);
    if (rc < 0) {
        bw_lv_fail(err, "virDomainScreenshot", vm->name);
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
        return bw_lv_fail(err, "virDomainDestroy", vm->name);
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
            bw_lv_note(vm,
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
        char *vols_left[3];
        size_t n_left = 0;
        virStorageVolPtr *vols[] = {&vm->seed_vol, &vm->answer_vol, &vm->disk_vol};
        for (size_t i = 0; i < 3; i++) {
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
    bw_lv_stop_tunnel(vm);
    if (vm->flat_disk)
        unlink(vm->flat_disk);
    bw_lv_events_unref();
    free(vm->flat_disk);
    free(vm->local_disk);
    free(vm->serial_path);
    free(vm->nvram_path);
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
    .guest_http_ip = BW_QEMU_GUEST_HTTP_IP,
    .guest_http_port = BW_QEMU_GUEST_HTTP_PORT,
    .isolated_network = BW_QEMU_ISOLATED_NETWORK,
    .user_network = BW_QEMU_USER_NETWORK,
    .box_provider = "libvirt",
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
