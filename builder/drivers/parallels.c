/*
 * The Parallels driver: Parallels Desktop (macOS) through prlctl, as the
 * Parallels Packer plugin drives it.
 *
 * Unproven on a real Parallels Desktop: it cannot run on the machines this
 * project is built on. tests/unit/test_hvcli.c holds it to golden
 * transcripts of the exact commands (stand-ins for prlctl and prlsrvctl on
 * PATH), and its leases reading and forwarding are tested on their own.
 *
 * The VM: `prlctl create` in the build's work directory, CPUs, memory,
 * firmware, headless, a disk Parallels makes itself (its own format; qemu-img
 * reads it back into the build's qcow2 once the VM is off: unverified on
 * disks of a real Parallels Desktop), the ISOs, the Shared network with a
 * MAC of Parallels' range, the serial port to a file. Keys go as scan codes
 * through `prlctl send-key-event -j` (Parallels Desktop 19 and later; older
 * ones need Parallels' Python SDK, which boxwright does not use), one call a
 * chord. Parallels forwards no port per VM: SSH goes through a forwarder on
 * 127.0.0.1 to the address Parallels' DHCP server gave the MAC, and the guest
 * reaches the HTTP server on the Shared network's host address, where the
 * server listens. Refused: the isolated network, direct kernel boot, a disk
 * image source (Parallels attaches only disks it made) and a cloud-init seed
 * in the SMBIOS serial (use "seed": "cd").
 */
#include "driver.h"
#include "forward.h"
#include "hvcli.h"
#include "leases.h"
#include "../bootcmd/encodings.h"
#include "../disk/disk.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL        "prlctl"
#define INSTALL     "the parallels driver needs Parallels Desktop 19 or later: its prlctl on PATH"
#define MIN_VERSION 1900 /* prlctl send-key-event */
#define LEASES      "/Library/Preferences/Parallels/parallels_dhcp_leases"

struct bw_vm {
    struct bw_hvcli_vm v;
    char *disk;
    char mac[13];
    struct bw_forward *ssh;
};

static const char *const disks[][2] = {
    {"virtio", "sata"}, {"sata", "sata"}, {"scsi", "scsi"}, {"nvme", "nvme"}, {"ide", "ide"}};

static const char *const nics[][2] = {{"virtio", "virtio"}, {"e1000", "e1000"}};

static void prl_destroy(struct bw_vm *vm);

static struct bw_vm *fail(struct bw_vm *vm, struct bw_error *err, const char *why,
                          const char *value)
{
    prl_destroy(vm);
    return bw_hvcli_refuse(err, "parallels", why, value);
}

/* A MAC of Parallels' range (00:1C:42) from the VM's name, as prlctl writes it: 12 digits. */
static void mac_of(const char *name, char mac[13])
{
    uint32_t h = bw_hvcli_name_hash(name);
    snprintf(mac, 13, "001C42%02X%02X%02X", (h >> 16) & 0xff, (h >> 8) & 0xff, h & 0xff);
}

static struct bw_vm *prl_create(const struct bw_vm_spec *s, struct bw_error *err)
{
    struct bw_vm *vm = bw_xcalloc(1, sizeof(*vm));
    bw_hvcli_vm_init(&vm->v, TOOL, INSTALL, "prlctl.log", s);
    if (bw_hvcli_vm_check(s, "parallels", "Parallels", err) < 0) {
        prl_destroy(vm);
        return NULL;
    }
    if (s->smbios_serial)
        return fail(vm, err,
                    "prlctl cannot set the SMBIOS serial that tells cloud-init where its seed is: "
                    "set cloud_init.seed to \"cd\" to build on Parallels",
                    "cloud_init.seed \"http\"");
    if (s->disk && !s->iso)
        return fail(vm, err,
                    "Parallels attaches only disks it made itself: a disk image source needs the "
                    "qemu, libvirt, virtualbox or vmware driver",
                    s->disk);
    const char *dm = s->disk_model ? s->disk_model : "virtio";
    const char *iface = bw_hvcli_lookup(disks, sizeof(disks) / sizeof(disks[0]), dm);
    if (!iface)
        return fail(vm, err, "this disk model is not supported", dm);
    const char *nm = s->nic_model ? s->nic_model : "virtio";
    const char *adapter = bw_hvcli_lookup(nics, sizeof(nics) / sizeof(nics[0]), nm);
    if (!adapter)
        return fail(vm, err, "this NIC model is not supported", nm);
    mac_of(s->name, vm->mac);
    char mem[32], cpus[32], size[32] = "";
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)(s->memory >> 20));
    snprintf(cpus, sizeof(cpus), "%ld", s->cpus > 0 ? s->cpus : 1);
    if (s->disk) {
        uint64_t bytes;
        char format[16];
        if (bw_disk_info(s->disk, &bytes, format, err) < 0) {
            prl_destroy(vm);
            return NULL;
        }
        snprintf(size, sizeof(size), "%llu", (unsigned long long)(bytes >> 20));
        vm->disk = bw_xstrdup(s->disk);
    }
    bool efi = s->firmware && strcmp(s->firmware, "efi") == 0;
    const char *n = s->name;
    bw_hvcli_plan(&vm->v.cli, 0, "create", n, "--distribution", "linux", "--dst", s->workdir,
                  "--no-hdd", NULL);
    bw_hvcli_plan(&vm->v.cli, 0, "set", n, "--cpus", cpus, "--memsize", mem, NULL);
    bw_hvcli_plan(&vm->v.cli, 0, "set", n, "--startup-view", "headless", "--on-shutdown", "close",
                  "--efi-boot", efi ? "on" : "off", NULL);
    if (s->disk)
        bw_hvcli_plan(&vm->v.cli, 0, "set", n, "--device-add", "hdd", "--type", "expand", "--size",
                      size, "--iface", iface, NULL);
    if (s->iso)
        bw_hvcli_plan(&vm->v.cli, 0, "set", n, "--device-add", "cdrom", "--image", s->iso,
                      "--enable", "--connect", NULL);
    if (s->seed_iso)
        bw_hvcli_plan(&vm->v.cli, 0, "set", n, "--device-add", "cdrom", "--image", s->seed_iso,
                      "--enable", "--connect", NULL);
    if (s->answer_iso)
        bw_hvcli_plan(&vm->v.cli, 0, "set", n, "--device-add", "cdrom", "--image", s->answer_iso,
                      "--enable", "--connect", NULL);
    bw_hvcli_plan(&vm->v.cli, 0, "set", n, "--device-set", "net0", "--type", "shared", "--mac",
                  vm->mac, "--adapter-type", adapter, NULL);
    bw_hvcli_plan(&vm->v.cli, 0, "set", n, "--device-add", "serial", "--output", vm->v.serial,
                  NULL);
    bw_hvcli_plan(&vm->v.cli, 0, "set", n, "--device-bootorder", s->iso ? "hdd0 cdrom0" : "hdd0",
                  NULL);
    bw_hvcli_plan(&vm->v.cli, 0, "start", n, NULL);
    return vm;
}

static char *const *prl_command(const struct bw_vm *vm)
{
    return bw_hvcli_command(&((struct bw_vm *)vm)->v.cli);
}

static int guest_address(void *ud, char *host, size_t hostlen)
{
    struct bw_vm *vm = ud;
    const char *path = getenv("BOXWRIGHT_PARALLELS_LEASES");
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    int rc = bw_buf_read_file(&text, path && *path ? path : LEASES);
    if (rc == 0)
        rc = bw_parallels_lease_find(text.data, text.len, vm->mac, host, hostlen);
    bw_buf_release(&text);
    return rc;
}

static int prl_start(struct bw_vm *vm, struct bw_error *err)
{
    struct bw_spawn_result r;
    if (bw_hvcli_run(&vm->v.cli, &r, err, "--version", NULL) < 0) {
        bw_spawn_result_release(&r);
        return -1;
    }
    unsigned version = bw_hvcli_version(r.out.data);
    bw_buf_rtrim(&r.out);
    if (version < MIN_VERSION) {
        bw_error_set(err, BW_ERR_UNSUPPORTED,
                     "prlctl --version says \"%s\": expected Parallels Desktop %u or later (older "
                     "ones send keys only through Parallels' Python SDK)",
                     r.out.data, MIN_VERSION / 100);
        bw_spawn_result_release(&r);
        return -1;
    }
    bw_spawn_result_release(&r);
    struct bw_error none = BW_ERROR_INIT;
    int exists = bw_hvcli_run(&vm->v.cli, NULL, &none, "list", vm->v.name, "--no-header",
                              "--output", "status", NULL) == 0;
    bw_error_release(&none);
    if (exists) {
        bw_error_set(err, BW_ERR_UNSUPPORTED,
                     "Parallels already has a VM named \"%s\" (a build that was killed?): remove "
                     "it with `prlctl delete %s` and build again",
                     vm->v.name, vm->v.name);
        return -1;
    }
    if (bw_hvcli_run_plan(&vm->v.cli, version, err) < 0)
        return -1;
    vm->v.ran = vm->v.running = true;
    if (vm->v.ssh_host_port &&
        !(vm->ssh =
              bw_forward_start(vm->v.ssh_host_port, vm->v.ssh_guest_port, guest_address, vm, err)))
        return -1;
    return 0;
}

/* One scan code event of send-key-event's JSON; an E0 key is two, as Parallels takes them. */
static void add_event(struct bw_buf *b, enum bw_key key, bool release, unsigned delay)
{
    uint8_t bytes[4];
    size_t m = bw_key_scancode(key, release, bytes);
    for (size_t j = 0; j < m; j++)
        bw_buf_addf(b, "%s{\"scancode\": %u, \"event\": \"%s\", \"delay\": %u}",
                    b->len > 1 ? ", " : "", bytes[j] == 0xe0 ? 0xe0 : bytes[j] & 0x7f,
                    release ? "release" : "press", j + 1 == m ? delay : 0);
}

static int prl_send_chord(struct bw_vm *vm, const enum bw_key *keys, size_t n, unsigned hold_ms,
                          struct bw_error *err)
{
    struct bw_buf json = BW_BUF_INIT;
    bw_buf_init(&json);
    bw_buf_addc(&json, '[');
    for (size_t i = 0; i < n; i++)
        add_event(&json, keys[i], false, i + 1 == n ? hold_ms : 0);
    for (size_t i = n; i-- > 0;)
        add_event(&json, keys[i], true, 0);
    bw_buf_adds(&json, "]\n");
    char *args[] = {"send-key-event", vm->v.name, "-j", NULL};
    int rc = bw_hvcli_runv_input(&vm->v.cli, args, json.data, json.len, NULL, err);
    bw_buf_release(&json);
    return rc;
}

static int prl_is_off(void *ud, bool *off, struct bw_error *err)
{
    struct bw_vm *vm = ud;
    struct bw_spawn_result r;
    int rc = bw_hvcli_run(&vm->v.cli, &r, err, "list", vm->v.name, "--no-header", "--output",
                          "status", NULL);
    bw_buf_rtrim(&r.out);
    *off = rc == 0 && strcmp(r.out.data, "stopped") == 0;
    bw_spawn_result_release(&r);
    return rc;
}

/* The disk Parallels made, back into the build's qcow2: the image file in its bundle. */
static int sync_disk(struct bw_vm *vm, struct bw_error *err)
{
    if (!vm->v.keep || !vm->disk || !vm->v.ran || vm->v.synced)
        return 0;
    vm->v.synced = true;
    char *pvm = bw_xasprintf("%s/%s.pvm", vm->v.workdir, vm->v.name);
    char *found = NULL;
    DIR *d = opendir(pvm);
    for (struct dirent *e; d && !found && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l > 4 && strcmp(e->d_name + l - 4, ".hdd") == 0) {
            char *bundle = bw_xasprintf("%s/%s", pvm, e->d_name);
            DIR *h = opendir(bundle);
            for (struct dirent *f; h && !found && (f = readdir(h));) {
                size_t fl = strlen(f->d_name);
                if (fl > 4 && strcmp(f->d_name + fl - 4, ".hds") == 0)
                    found = bw_xasprintf("%s/%s", bundle, f->d_name);
            }
            if (h)
                closedir(h);
            free(bundle);
        }
    }
    if (d)
        closedir(d);
    int rc = -1;
    if (!found)
        bw_error_at(err, BW_ERR_NOT_FOUND, pvm, NULL, 0, 0,
                    "no disk image (*.hdd/*.hds) in the VM's bundle");
    else
        rc = bw_disk_convert(found, vm->disk, "qcow2", NULL, err);
    free(found);
    free(pvm);
    return rc;
}

static int prl_wait_off(struct bw_vm *vm, uint64_t timeout_ms, struct bw_error *err)
{
    if (vm->v.running && bw_hvcli_wait_off(prl_is_off, vm, timeout_ms, vm->v.serial, err) < 0)
        return -1;
    vm->v.running = false;
    bw_forward_stop(vm->ssh);
    vm->ssh = NULL;
    return sync_disk(vm, err);
}

static char *prl_screenshot(struct bw_vm *vm, const char *base, bool quick, struct bw_error *err)
{
    (void)quick; /* PNG is what prlctl capture writes */
    return bw_hvcli_capture(&vm->v.cli, base, err, "capture", vm->v.name, "--file", NULL);
}

static const char *prl_serial_log(const struct bw_vm *vm)
{
    return vm->v.serial;
}

static const char *prl_hypervisor_log(const struct bw_vm *vm)
{
    return vm->v.cli.log_path;
}

static int prl_stop(struct bw_vm *vm, struct bw_error *err)
{
    if (!vm->v.running)
        return sync_disk(vm, err);
    struct bw_error ignored = BW_ERROR_INIT;
    bw_hvcli_run(&vm->v.cli, NULL, &ignored, "stop", vm->v.name, "--kill", NULL);
    bw_error_release(&ignored);
    if (prl_wait_off(vm, 10000, &ignored) < 0) {
        vm->v.running = false;
        vm->v.ran = false; /* a VM that would not stop: its disk cannot be trusted */
    }
    bw_error_release(&ignored);
    return 0;
}

static void prl_destroy(struct bw_vm *vm)
{
    if (!vm)
        return;
    struct bw_error ignored = BW_ERROR_INIT;
    bw_spawn_hold_interrupt(true);
    prl_stop(vm, &ignored);
    bw_error_release(&ignored);
    if (vm->v.cli.done > 0) /* create ran */
        bw_hvcli_run(&vm->v.cli, NULL, &ignored, "unregister", vm->v.name, NULL);
    bw_error_release(&ignored);
    bw_spawn_hold_interrupt(false);
    bw_forward_stop(vm->ssh);
    bw_hvcli_vm_release(&vm->v);
    free(vm->disk);
    free(vm);
}

/* The Shared network's host address, from `prlsrvctl net info Shared`. */
static int prl_http_host_address(char *buf, size_t len, struct bw_error *err)
{
    const char *set = getenv("BOXWRIGHT_PARALLELS_HOST_IP");
    if (set && *set) {
        snprintf(buf, len, "%s", set);
        return 0;
    }
    char *argv[] = {"prlsrvctl", "net", "info", "Shared", NULL};
    struct bw_spawn_result r;
    int rc = bw_spawn_run(argv, NULL, NULL, 0, &r, err);
    const char *p = rc == 0 ? strstr(r.out.data, "IPv4 address: ") : NULL;
    if (rc == 0 && !p) {
        bw_error_set(err, BW_ERR_NOT_FOUND,
                     "prlsrvctl net info Shared names no IPv4 address: the guest would not reach "
                     "the HTTP server; BOXWRIGHT_PARALLELS_HOST_IP names one");
        rc = -1;
    }
    if (p) {
        p += strlen("IPv4 address: ");
        size_t n = strspn(p, "0123456789.");
        snprintf(buf, len, "%.*s", (int)n, p);
    }
    bw_spawn_result_release(&r);
    return rc;
}

static char *prl_describe(const char *uri, const char *pool)
{
    (void)uri;
    (void)pool;
    return bw_xstrdup("parallels (unproven on a real Parallels Desktop): prlctl, keys as scan "
                      "codes through send-key-event; a disk Parallels makes, read back into the "
                      "build's qcow2 when it is off; the guest's HTTP on the Shared network's "
                      "host address, its SSH through a forwarder on 127.0.0.1 to its DHCP "
                      "address");
}

static const char *prl_choose_accel(const char *requested, const char *uri, char *why,
                                    size_t whylen)
{
    (void)uri;
    return bw_hvcli_choose_accel("parallels", requested, why, whylen);
}

const struct bw_driver bw_driver_parallels = {
    .name = "parallels",
    .guest_http_ip = "(the Shared network's address)",
    .guest_http_port = 0,
    .http_host_address = prl_http_host_address,
    .isolated_network = NULL,
    .user_network = "Parallels' Shared network, the guest reaches what this host reaches; HTTP "
                    "on its host address, SSH through a forwarder on 127.0.0.1",
    .box_provider = "libvirt",
    .describe = prl_describe,
    .choose_accel = prl_choose_accel,
    .create = prl_create,
    .command = prl_command,
    .start = prl_start,
    .send_chord = prl_send_chord,
    .send_key = NULL,
    .read_memory = NULL,
    .wait_off = prl_wait_off,
    .screenshot = prl_screenshot,
    .serial_log = prl_serial_log,
    .hypervisor_log = prl_hypervisor_log,
    .stop = prl_stop,
    .destroy = prl_destroy,
};
