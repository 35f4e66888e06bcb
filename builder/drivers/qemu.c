/*
 * The QEMU driver: qemu-system-x86_64 started directly (no daemon), driven
 * over QMP. Keys go in as QMP send-key chords: QEMU presses the keys of a
 * chord in order, holds them for hold-time, and releases them in reverse, so
 * a shifted character is one atomic command. QEMU queues each chord's events
 * behind the previous chord's hold (ui/input.c, at most 50 queued: more are
 * dropped, which is how a fast sender loses keys and leaves shift stuck), and
 * the emulated PS/2 keyboard holds 16 bytes until the guest reads them; the
 * typist (builder/typing/) keeps fewer keys than that in flight. The screen
 * is read back with QMP pmemsave (the VGA text buffer is guest memory).
 */
#include "driver.h"
#include "accel.h"
#include "qmp.h"
#include "qemu_args.h"
#include "../bootcmd/encodings.h"
#include "../base/buf.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct bw_vm {
    char **argv;
    size_t argc, alloc;
    char *workdir, *qmp_path, *serial_path, *log_path, *mem_path;
    pid_t pid;
    struct bw_qmp *qmp;
};

static void arg(struct bw_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void arg(struct bw_vm *vm, const char *fmt, ...)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    bw_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    BW_GROW(vm->argv, vm->alloc, vm->argc + 2);
    vm->argv[vm->argc++] = bw_buf_detach(&b);
    vm->argv[vm->argc] = NULL;
}

/* Disk models, as QEMU devices; and where the cloud-init seed volume goes with each: on the
 * system disk's own bus, whose driver the guest's kernel surely has (a distro's cloud kernel
 * may lack AHCI: Debian's has no CONFIG_SATA_AHCI, so a seed on q35's SATA CD-ROM is never
 * seen). On virtio it is a second if=virtio drive, given after the system disk: SeaBIOS boots
 * the first virtio disk, and a seed made a -device came first. NVMe gets the seed on virtio
 * too (unproven: no test boots an NVMe disk with a seed). */
static const struct {
    const char *model, *drive_if, *controller, *device, *seed_device; /* NULL: if=virtio */
} disks[] = {
    {"virtio", "virtio", NULL, NULL, NULL},
    {"ide", "ide", NULL, NULL, "ide-cd,bus=ide.3,drive=seed0"},
    {"sata", "none", "ahci,id=ahci0", "ide-hd,bus=ahci0.0,drive=disk0",
     "ide-cd,bus=ahci0.1,drive=seed0"},
    {"scsi", "none", "virtio-scsi-pci,id=scsi0", "scsi-hd,bus=scsi0.0,drive=disk0",
     "scsi-cd,bus=scsi0.0,drive=seed0"},
    {"nvme", "none", NULL, "nvme,serial=boxwright0,drive=disk0", NULL},
};

/* -drive's value: file=PATH (its commas doubled, as QEMU's options need) and opts. */
static void drive(struct bw_vm *vm, const char *path, const char *opts)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_adds(&b, "file=");
    bw_qemu_opt_escape(&b, path);
    arg(vm, "%s,%s", b.data, opts);
    bw_buf_release(&b);
}

static struct bw_vm *qemu_create(const struct bw_vm_spec *s, struct bw_error *err)
{
    struct bw_vm *vm = bw_xcalloc(1, sizeof(*vm));
    vm->pid = -1;
    vm->workdir = bw_xstrdup(s->workdir);
    vm->qmp_path = bw_xasprintf("%s/qmp.sock", s->workdir);
    vm->serial_path = bw_xasprintf("%s/serial.log", s->workdir);
    vm->log_path = bw_xasprintf("%s/qemu.log", s->workdir);
    vm->mem_path = bw_xasprintf("%s/memory.bin", s->workdir);
    arg(vm, "qemu-system-x86_64");
    arg(vm, "-name");
    arg(vm, "%s", s->name);
    arg(vm, "-machine");
    arg(vm, "q35");
    arg(vm, "-accel");
    arg(vm, "%s", s->accel ? s->accel : "tcg");
    arg(vm, "-m");
    arg(vm, "%lluM", (unsigned long long)(s->memory >> 20));
    arg(vm, "-smp");
    arg(vm, "%ld", s->cpus > 0 ? s->cpus : 1);
    arg(vm, "-nodefaults");
    arg(vm, "-no-user-config");
    arg(vm, "-display");
    arg(vm, "none");
    arg(vm, "-vga");
    arg(vm, "std");
    if (s->vnc_port >= 5900) {
        arg(vm, "-vnc");
        arg(vm, "127.0.0.1:%u", s->vnc_port - 5900);
    }
    arg(vm, "-serial");
    arg(vm, "file:%s", vm->serial_path);
    arg(vm, "-qmp");
    arg(vm, "unix:%s,server=on,wait=off", vm->qmp_path);
    if (s->firmware && strcmp(s->firmware, "efi") == 0) {
        /* Without it QEMU says only "could not load PC BIOS", and only once it starts. */
        if (access(bw_ovmf_path(), R_OK) != 0) {
            bw_error_set(err, BW_ERR_UNSUPPORTED,
                         "qemu: firmware \"efi\" needs OVMF at %s: apt-get install ovmf",
                         bw_ovmf_path());
            bw_driver_qemu.destroy(vm);
            return NULL;
        }
        arg(vm, "-bios");
        arg(vm, "%s", bw_ovmf_path());
    }
    if (s->iso) {
        arg(vm, "-drive");
        drive(vm, s->iso, "media=cdrom,readonly=on,if=ide,index=2");
    }
    if (s->answer_iso) {
        arg(vm, "-drive");
        drive(vm, s->answer_iso, "media=cdrom,readonly=on,if=ide,index=3");
    }
    if (s->kernel) {
        arg(vm, "-kernel");
        arg(vm, "%s", s->kernel);
        arg(vm, "-initrd");
        arg(vm, "%s", s->initrd);
        arg(vm, "-append");
        arg(vm, "%s", s->append ? s->append : "");
    }
    if (s->smbios_serial) {
        struct bw_buf sm = BW_BUF_INIT;
        bw_buf_init(&sm);
        bw_buf_adds(&sm, "type=1,serial=");
        bw_qemu_opt_escape(&sm, s->smbios_serial);
        arg(vm, "-smbios");
        arg(vm, "%s", sm.data);
        bw_buf_release(&sm);
    }
    if (s->disk) {
        const char *model = s->disk_model ? s->disk_model : "virtio";
        size_t i = 0;
        while (i < sizeof(disks) / sizeof(disks[0]) && strcmp(disks[i].model, model) != 0)
            i++;
        if (i == sizeof(disks) / sizeof(disks[0])) {
            bw_error_set(err, BW_ERR_UNSUPPORTED, "qemu: disk model \"%s\" is not supported",
                         model);
            bw_driver_qemu.destroy(vm);
            return NULL;
        }
        if (disks[i].controller) {
            arg(vm, "-device");
            arg(vm, "%s", disks[i].controller);
        }
        char opts[96];
        snprintf(opts, sizeof(opts), "format=%s,if=%s,id=disk0,discard=unmap",
                 s->disk_format ? s->disk_format : "qcow2", disks[i].drive_if);
        arg(vm, "-drive");
        drive(vm, s->disk, opts);
        if (disks[i].device) {
            arg(vm, "-device");
            arg(vm, "%s", disks[i].device);
        }
        if (s->seed_iso && !disks[i].seed_device) {
            arg(vm, "-drive");
            drive(vm, s->seed_iso, "format=raw,if=virtio,id=seed0,readonly=on");
        } else if (s->seed_iso) {
            arg(vm, "-drive");
            drive(vm, s->seed_iso, "format=raw,if=none,id=seed0,readonly=on");
            arg(vm, "-device");
            arg(vm, "%s", disks[i].seed_device);
        }
    }
    arg(vm, "-boot");
    arg(vm, s->iso && s->disk && !s->kernel ? "order=c,once=d"
            : s->iso && !s->kernel          ? "order=d"
                                            : "order=c");
    /* User networking. Isolated: restrict=on cuts every route off the host. Either way the
     * guest reaches boxwright's HTTP server only through guestfwd, which runs nc for each of
     * its connections to the server's Unix socket (no other local process can reach it), and
     * SSH comes in through hostfwd on 127.0.0.1. */
    struct bw_buf net = BW_BUF_INIT, dest = BW_BUF_INIT;
    bw_buf_init(&net);
    bw_buf_init(&dest);
    /* guestfwd's cmd: runs through /bin/sh: the socket's path single-quoted for it. */
    bw_buf_adds(&dest, "cmd:nc -U '");
    for (const char *p = s->http_socket ? s->http_socket : ""; *p; p++)
        bw_buf_adds(&dest, *p == '\'' ? "'\\''" : (char[]){*p, 0});
    bw_buf_addc(&dest, '\'');
    struct bw_buf esc = BW_BUF_INIT;
    bw_buf_init(&esc);
    bw_qemu_opt_escape(&esc, dest.data); /* and its commas doubled for QEMU */
    bw_user_netdev(&net, s, "net0", s->http_socket ? esc.data : NULL);
    bw_buf_release(&esc);
    bw_buf_release(&dest);
    arg(vm, "-netdev");
    arg(vm, "%s", net.data);
    bw_buf_release(&net);
    const char *nic = s->nic_model ? s->nic_model : "virtio";
    const char *device = bw_nic_device(nic);
    if (!device) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "qemu: NIC model \"%s\" is not supported", nic);
        bw_driver_qemu.destroy(vm);
        return NULL;
    }
    arg(vm, "-device");
    arg(vm, "%s,netdev=net0", device);
    return vm;
}

static char *const *qemu_command(const struct bw_vm *vm)
{
    return vm->argv;
}

static void last_log_line(const struct bw_vm *vm, struct bw_buf *out)
{
    struct bw_buf log = BW_BUF_INIT;
    bw_buf_init(&log);
    if (bw_buf_read_file(&log, vm->log_path) == 0) {
        bw_buf_rtrim(&log);
        const char *nl = strrchr(log.data, '\n');
        bw_buf_adds(out, nl ? nl + 1 : log.data);
    }
    bw_buf_release(&log);
}

static int qemu_start(struct bw_vm *vm, struct bw_error *err)
{
    unlink(vm->qmp_path);
    unlink(vm->log_path);
    vm->pid = bw_spawn_background(vm->argv, vm->log_path, err);
    if (vm->pid < 0) {
        char *m = bw_xasprintf("%s (apt-get install qemu-system-x86)", err->msg);
        bw_error_set(err, BW_ERR_SPAWN, "%s", m);
        free(m);
        return -1;
    }
    /* QEMU opens its QMP socket within a second; one that cannot start exits at once. Try in
     * short slices and watch the process between them, so a QEMU that died is reported with
     * its own words straight away, and a slow one still has 30 s. */
    int st = 0;
    pid_t w = 0;
    for (unsigned waited = 0; !vm->qmp; waited += 100) {
        bw_error_release(err);
        vm->qmp = bw_qmp_connect(vm->qmp_path, 100, err);
        if (vm->qmp || (w = waitpid(vm->pid, &st, WNOHANG)) == vm->pid || waited >= 30000)
            break;
    }
    if (vm->qmp)
        return 0;
    struct bw_buf line = BW_BUF_INIT;
    bw_buf_init(&line);
    if (w != vm->pid) /* it may be on its way out: its reason is worth 200 ms */
        for (int i = 0; i < 10 && (w = waitpid(vm->pid, &st, WNOHANG)) == 0; i++)
            nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    last_log_line(vm, &line);
    if (w == vm->pid) {
        vm->pid = -1;
        bw_error_release(err);
        if (WIFSIGNALED(st))
            bw_error_set(err, BW_ERR_SPAWN, "QEMU was killed by signal %d while starting%s%s",
                         WTERMSIG(st), line.len ? ": " : "", line.data);
        else
            bw_error_set(err, BW_ERR_SPAWN, "QEMU exited (status %d) while starting%s%s",
                         WEXITSTATUS(st), line.len ? ": " : "", line.data);
    } else if (line.len) {
        bw_error_prefix(err, "QEMU said \"%s\"", line.data);
    }
    bw_buf_release(&line);
    return -1;
}

static json_t *qcode(enum bw_key key)
{
    return json_pack("{s:s,s:s}", "type", "qcode", "data", bw_key_qcode(key));
}

static int qemu_send_chord(struct bw_vm *vm, const enum bw_key *keys, size_t n, unsigned hold_ms,
                           struct bw_error *err)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, qcode(keys[i]));
    return bw_qmp_execute(vm->qmp, "send-key",
                          json_pack("{s:o,s:I}", "keys", arr, "hold-time", (json_int_t)hold_ms),
                          NULL, err);
}

static int qemu_send_key(struct bw_vm *vm, enum bw_key key, bool down, struct bw_error *err)
{
    json_t *evs =
        json_pack("[{s:s,s:{s:b,s:o}}]", "type", "key", "data", "down", down, "key", qcode(key));
    return bw_qmp_execute(vm->qmp, "input-send-event", json_pack("{s:o}", "events", evs), NULL,
                          err);
}

static int qemu_read_memory(struct bw_vm *vm, uint64_t addr, size_t len, void *buf,
                            struct bw_error *err)
{
    if (!vm->qmp || vm->pid < 0) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "qemu: the VM is not running");
        return -1;
    }
    if (bw_qmp_execute(vm->qmp, "pmemsave",
                       json_pack("{s:I,s:I,s:s}", "val", (json_int_t)addr, "size", (json_int_t)len,
                                 "filename", vm->mem_path),
                       NULL, err) < 0)
        return -1;
    int fd = open(vm->mem_path, O_RDONLY | O_CLOEXEC);
    ssize_t got = fd < 0 ? -1 : pread(fd, buf, len, 0);
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (got != (ssize_t)len) {
        bw_error_at(err, BW_ERR_IO, vm->mem_path, NULL, 0, 0, "cannot read guest memory: %s",
                    got < 0 ? strerror(e) : "short file");
        return -1;
    }
    return 0;
}

static int qemu_wait_off(struct bw_vm *vm, uint64_t timeout_ms, struct bw_error *err)
{
    for (uint64_t waited = 0; vm->pid > 0; waited += 50) {
        int st;
        pid_t r = waitpid(vm->pid, &st, WNOHANG);
        if (r == vm->pid) {
            vm->pid = -1;
            return 0;
        }
        if (waited >= timeout_ms) {
            bw_error_set(err, BW_ERR_INTERRUPTED,
                         "the guest did not power off within %llu s (serial console: %s)",
                         (unsigned long long)(timeout_ms / 1000), vm->serial_path);
            return -1;
        }
        struct timespec t = {0, 50 * 1000000L};
        nanosleep(&t, NULL);
    }
    return 0;
}

static char *qemu_screenshot(struct bw_vm *vm, const char *base, bool quick, struct bw_error *err)
{
    if (!vm->qmp || vm->pid < 0) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "no screenshot: the VM is not running");
        return NULL;
    }
    const char *format = quick ? "ppm" : "png";
    char *png = bw_xasprintf("%s.%s", base, format);
    if (bw_qmp_execute(vm->qmp, "screendump",
                       json_pack("{s:s,s:s}", "filename", png, "format", format), NULL, err) < 0) {
        free(png);
        return NULL;
    }
    return png;
}

static const char *qemu_serial_log(const struct bw_vm *vm)
{
    return vm->serial_path;
}

static const char *qemu_hypervisor_log(const struct bw_vm *vm)
{
    return vm->log_path;
}

static int qemu_stop(struct bw_vm *vm, struct bw_error *err)
{
    if (vm->pid < 0)
        return 0;
    if (vm->qmp)
        bw_qmp_execute(vm->qmp, "quit", NULL, NULL, NULL);
    struct bw_error ignored = BW_ERROR_INIT;
    if (qemu_wait_off(vm, 5000, &ignored) < 0) {
        bw_spawn_stop(vm->pid, 0);
        vm->pid = -1;
    }
    bw_error_release(&ignored);
    (void)err;
    return 0;
}

static void qemu_destroy(struct bw_vm *vm)
{
    if (!vm)
        return;
    if (vm->pid > 0)
        bw_spawn_stop(vm->pid, 0);
    bw_qmp_close(vm->qmp);
    if (vm->qmp_path)
        unlink(vm->qmp_path);
    if (vm->mem_path)
        unlink(vm->mem_path);
    for (size_t i = 0; i < vm->argc; i++)
        free(vm->argv[i]);
    free(vm->argv);
    free(vm->workdir);
    free(vm->qmp_path);
    free(vm->serial_path);
    free(vm->log_path);
    free(vm->mem_path);
    free(vm);
}

static char *qemu_describe(const char *uri, const char *pool)
{
    (void)uri;
    (void)pool;
    return bw_xstrdup("qemu: qemu-system-x86_64 run directly; the ISO and disk used in place; "
                      "the guest's HTTP through guestfwd (one nc per connection), its SSH through "
                      "hostfwd on 127.0.0.1");
}

/* QEMU runs here: the probe of this machine's KVM decides. */
static const char *qemu_choose_accel(const char *requested, const char *uri, char *why,
                                     size_t whylen)
{
    (void)uri;
    return bw_accel_choose(requested, why, whylen);
}

const struct bw_driver bw_driver_qemu = {
    .name = "qemu",
    .http_as_stream = false,
    .guest_http_ip = BW_QEMU_GUEST_HTTP_IP,
    .guest_http_port = BW_QEMU_GUEST_HTTP_PORT,
    .isolated_network = BW_QEMU_ISOLATED_NETWORK,
    .user_network = BW_QEMU_USER_NETWORK,
    .box_provider = "libvirt",
    .describe = qemu_describe,
    .choose_accel = qemu_choose_accel,
    .create = qemu_create,
    .command = qemu_command,
    .start = qemu_start,
    .send_chord = qemu_send_chord,
    .send_key = qemu_send_key,
    .read_memory = qemu_read_memory,
    .wait_off = qemu_wait_off,
    .screenshot = qemu_screenshot,
    .serial_log = qemu_serial_log,
    .hypervisor_log = qemu_hypervisor_log,
    .stop = qemu_stop,
    .destroy = qemu_destroy,
};
