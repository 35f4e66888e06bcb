/*
 * The VirtualBox driver: VBoxManage, as Packer's virtualbox-iso drives it.
 *
 * Unproven on a real VirtualBox: it cannot run on the machines this project
 * is built on. tests/unit/test_hvcli.c holds it to golden transcripts of the
 * exact commands it issues, replied to by a stand-in on PATH.
 *
 * The VM: createvm in the build's work directory, NAT on adapter 1 (SSH
 * through a port forward on 127.0.0.1), the serial port to a file, the
 * disk on the controller the definition's disk model names, the ISOs on
 * IDE. VirtualBox reads no qcow2, so the build's disk is converted to a VDI
 * next to the VM before it starts, and back into the build's disk once the
 * VM is off (keep_disk_changes): every box is still exported from the one
 * installed disk.
 *
 * The guest reaches boxwright's HTTP server at 10.0.2.2, which VirtualBox's
 * NAT maps to the host's loopback: the server's relay listens there (the
 * port is the relay's, so guest_http_port is 0). VirtualBox 7.0 turned that
 * mapping off by default (--nat-localhostreachable1, packer-plugin-virtualbox
 * #104): on 7.0 and later it is turned back on. VirtualBox's NAT has no
 * `restrict`: a guest on it can reach whatever the host can, so the isolated
 * network is refused rather than quietly given up.
 *
 * Keys: one `controlvm keyboardputscancode` per chord, every press then
 * every release in reverse, so a chord is one call (packer#2855: a release
 * sent late in a second call made doubled characters). VirtualBox cannot hold
 * a key for a time nor read guest memory: typing is guest-paced but blind.
 */
#include "driver.h"
#include "hvcli.h"
#include "../bootcmd/encodings.h"
#include "../disk/disk.h"
#include "../base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL        "VBoxManage"
#define INSTALL     "the virtualbox driver needs VirtualBox 6.1 or later: its VBoxManage on PATH"
#define MIN_VERSION 601 /* 6.1: virtio-scsi, and the oldest release with updates */

struct bw_vm {
    struct bw_hvcli_vm v;
    char *disk, *vdi;
};

static const struct {
    const char *model, *bus, *controller;
} controllers[] = {
    {"virtio", "virtio", "VirtIO"}, {"sata", "sata", "IntelAhci"}, {"ide", "ide", "PIIX4"},
    {"scsi", "scsi", "LsiLogic"},   {"nvme", "pcie", "NVMe"},
};

static const char *const nics[][2] = {{"virtio", "virtio"}, {"e1000", "82540EM"}};

static void vbox_destroy(struct bw_vm *vm);

static struct bw_vm *fail(struct bw_vm *vm, struct bw_error *err, const char *why,
                          const char *value)
{
    vbox_destroy(vm);
    return bw_hvcli_refuse(err, "virtualbox", why, value);
}

static struct bw_vm *vbox_create(const struct bw_vm_spec *s, struct bw_error *err)
{
    struct bw_vm *vm = bw_xcalloc(1, sizeof(*vm));
    bw_hvcli_vm_init(&vm->v, TOOL, INSTALL, "virtualbox.log", s);
    if (bw_hvcli_vm_check(s, "virtualbox", "VirtualBox", err) < 0) {
        vbox_destroy(vm);
        return NULL;
    }
    const char *dm = s->disk_model ? s->disk_model : "virtio";
    size_t d = 0;
    while (d < sizeof(controllers) / sizeof(controllers[0]) && strcmp(controllers[d].model, dm))
        d++;
    if (d == sizeof(controllers) / sizeof(controllers[0]))
        return fail(vm, err, "this disk model is not supported", dm);
    const char *nm = s->nic_model ? s->nic_model : "virtio";
    const char *nictype = bw_hvcli_lookup(nics, sizeof(nics) / sizeof(nics[0]), nm);
    if (!nictype)
        return fail(vm, err, "this NIC model is not supported", nm);
    bool efi = s->firmware && strcmp(s->firmware, "efi") == 0;
    char mem[32], cpus[32], pf[96], uart[16] = "0x3F8";
    snprintf(mem, sizeof(mem), "%llu", (unsigned long long)(s->memory >> 20));
    snprintf(cpus, sizeof(cpus), "%ld", s->cpus > 0 ? s->cpus : 1);
    bw_hvcli_plan(&vm->v.cli, 0, "createvm", "--name", s->name, "--ostype", "Linux_64",
                  "--basefolder", s->workdir, "--register", NULL);
    bw_hvcli_plan(&vm->v.cli, 0, "modifyvm", s->name, "--memory", mem, "--cpus", cpus, "--firmware",
                  efi ? "efi" : "bios", "--ioapic", "on", "--rtcuseutc", "on", "--boot1", "disk",
                  "--boot2", "dvd", "--boot3", "none", "--boot4", "none", "--uart1", uart, "4",
                  "--uartmode1", "file", vm->v.serial, "--nic1", "nat", "--nictype1", nictype,
                  NULL);
    if (s->ssh_host_port) {
        snprintf(pf, sizeof(pf), "ssh,tcp,127.0.0.1,%u,,%u", s->ssh_host_port,
                 vm->v.ssh_guest_port);
        bw_hvcli_plan(&vm->v.cli, 0, "modifyvm", s->name, "--natpf1", pf, NULL);
    }
    if (s->http_port)
        bw_hvcli_plan(&vm->v.cli, 700, "modifyvm", s->name, "--nat-localhostreachable1", "on",
                      NULL);
    if (s->disk) {
        vm->disk = bw_xstrdup(s->disk);
        vm->vdi = bw_xasprintf("%s/disk.vdi", s->workdir);
        bw_hvcli_plan(&vm->v.cli, 0, "storagectl", s->name, "--name", "Disk", "--add",
                      controllers[d].bus, "--controller", controllers[d].controller, "--bootable",
                      "on", NULL);
        bw_hvcli_plan(&vm->v.cli, 0, "storageattach", s->name, "--storagectl", "Disk", "--port",
                      "0", "--device", "0", "--type", "hdd", "--medium", vm->vdi, NULL);
    }
    if (s->iso || s->seed_iso || s->answer_iso)
        bw_hvcli_plan(&vm->v.cli, 0, "storagectl", s->name, "--name", "CD", "--add", "ide",
                      "--controller", "PIIX4", NULL);
    if (s->iso)
        bw_hvcli_plan(&vm->v.cli, 0, "storageattach", s->name, "--storagectl", "CD", "--port", "0",
                      "--device", "0", "--type", "dvddrive", "--medium", s->iso, NULL);
    if (s->seed_iso)
        bw_hvcli_plan(&vm->v.cli, 0, "storageattach", s->name, "--storagectl", "CD", "--port", "1",
                      "--device", "0", "--type", "dvddrive", "--medium", s->seed_iso, NULL);
    if (s->answer_iso)
        bw_hvcli_plan(&vm->v.cli, 0, "storageattach", s->name, "--storagectl", "CD", "--port", "1",
                      "--device", "1", "--type", "dvddrive", "--medium", s->answer_iso, NULL);
    if (s->smbios_serial) {
        /* "string:" keeps a value that looks like a number a string. */
        char *key = bw_xasprintf("VBoxInternal/Devices/%s/0/Config/DmiSystemSerial",
                                 efi ? "efi" : "pcbios");
        char *val = bw_xasprintf("string:%s", s->smbios_serial);
        bw_hvcli_plan(&vm->v.cli, 0, "setextradata", s->name, key, val, NULL);
        free(key);
        free(val);
    }
    bw_hvcli_plan(&vm->v.cli, 0, "startvm", s->name, "--type", "headless", NULL);
    return vm;
}

static char *const *vbox_command(const struct bw_vm *vm)
{
    return bw_hvcli_command(&((struct bw_vm *)vm)->v.cli);
}

static int vbox_start(struct bw_vm *vm, struct bw_error *err)
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
                     "VBoxManage --version says \"%s\": expected VirtualBox %u.%u or later",
                     r.out.data, MIN_VERSION / 100, MIN_VERSION % 100);
        bw_spawn_result_release(&r);
        return -1;
    }
    bw_spawn_result_release(&r);
    /* A VM of that name left by a build that was killed: never take it over. */
    struct bw_error none = BW_ERROR_INIT;
    int exists = bw_hvcli_run(&vm->v.cli, NULL, &none, "showvminfo", vm->v.name,
                              "--machinereadable", NULL) == 0;
    bw_error_release(&none);
    if (exists) {
        bw_error_set(err, BW_ERR_UNSUPPORTED,
                     "VirtualBox already has a VM named \"%s\" (a build that was killed?): "
                     "remove it with `VBoxManage unregistervm %s --delete` and build again",
                     vm->v.name, vm->v.name);
        return -1;
    }
    if (vm->vdi && bw_disk_convert(vm->disk, vm->vdi, "vdi", NULL, err) < 0)
        return -1;
    /* Once createvm has run, destroy() unregisters the VM whatever fails next. */
    if (bw_hvcli_run_plan(&vm->v.cli, version, err) < 0)
        return -1;
    vm->v.ran = vm->v.running = true;
    return 0;
}

static int vbox_send_chord(struct bw_vm *vm, const enum bw_key *keys, size_t n, unsigned hold_ms,
                           struct bw_error *err)
{
    (void)hold_ms; /* VBoxManage presses and releases at once: a chord is one call */
    if (n > 4) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "virtualbox: a chord of %zu keys (at most 4)", n);
        return -1;
    }
    char *args[3 + 8 * 4 + 1] = {"controlvm", vm->v.name, "keyboardputscancode"};
    char hex[8 * 4][3];
    size_t a = 3, h = 0;
    for (size_t pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < n; i++) {
            uint8_t bytes[4];
            size_t m = bw_key_scancode(keys[pass ? n - 1 - i : i], pass == 1, bytes);
            for (size_t j = 0; j < m && h < sizeof(hex) / sizeof(hex[0]); j++, h++) {
                snprintf(hex[h], sizeof(hex[h]), "%02x", bytes[j]);
                args[a++] = hex[h];
            }
        }
    args[a] = NULL;
    return bw_hvcli_runv(&vm->v.cli, args, NULL, err);
}

/* VMState from showvminfo: "running", "poweroff", "aborted", ... */
static int vm_state(struct bw_vm *vm, char *state, size_t len, struct bw_error *err)
{
    struct bw_spawn_result r;
    int rc = bw_hvcli_run(&vm->v.cli, &r, err, "showvminfo", vm->v.name, "--machinereadable", NULL);
    if (rc == 0 && bw_hvcli_value(r.out.data, "VMState", state, len) < 0) {
        bw_error_set(err, BW_ERR_SPAWN, "VBoxManage showvminfo %s: no VMState in what it said",
                     vm->v.name);
        rc = -1;
    }
    bw_spawn_result_release(&r);
    return rc;
}

/* Once the VM is off, what the guest wrote goes back into the build's disk. */
static int sync_disk(struct bw_vm *vm, struct bw_error *err)
{
    if (!vm->v.keep || !vm->vdi || !vm->v.ran || vm->v.synced)
        return 0;
    vm->v.synced = true;
    return bw_disk_convert(vm->vdi, vm->disk, "qcow2", NULL, err);
}

/* Off, or a state that will not come back: the VM died under the guest. */
static int vbox_is_off(void *ud, bool *off, struct bw_error *err)
{
    struct bw_vm *vm = ud;
    char state[64];
    if (vm_state(vm, state, sizeof(state), err) < 0)
        return -1;
    if (strcmp(state, "aborted") == 0 || strcmp(state, "gurumeditation") == 0) {
        bw_error_set(err, BW_ERR_SPAWN,
                     "the VM stopped in state \"%s\" (VirtualBox's log: %s/%s/Logs/VBox.log)",
                     state, vm->v.workdir, vm->v.name);
        vm->v.running = false;
        vm->v.ran = false; /* its disk cannot be trusted */
        return -1;
    }
    *off = strcmp(state, "poweroff") == 0;
    return 0;
}

static int vbox_wait_off(struct bw_vm *vm, uint64_t timeout_ms, struct bw_error *err)
{
    if (vm->v.running && bw_hvcli_wait_off(vbox_is_off, vm, timeout_ms, vm->v.serial, err) < 0)
        return -1;
    vm->v.running = false;
    return sync_disk(vm, err);
}

static char *vbox_screenshot(struct bw_vm *vm, const char *base, bool quick, struct bw_error *err)
{
    (void)quick; /* PNG is all VirtualBox writes */
    return bw_hvcli_capture(&vm->v.cli, base, err, "controlvm", vm->v.name, "screenshotpng", NULL);
}

static const char *vbox_serial_log(const struct bw_vm *vm)
{
    return vm->v.serial;
}

static const char *vbox_hypervisor_log(const struct bw_vm *vm)
{
    return vm->v.cli.log_path;
}

static int vbox_stop(struct bw_vm *vm, struct bw_error *err)
{
    if (!vm->v.running)
        return sync_disk(vm, err);
    struct bw_error ignored = BW_ERROR_INIT;
    bw_hvcli_run(&vm->v.cli, NULL, &ignored, "controlvm", vm->v.name, "poweroff", NULL);
    bw_error_release(&ignored);
    int rc = vbox_wait_off(vm, 10000, &ignored);
    bw_error_release(&ignored);
    if (rc < 0) {
        vm->v.running = false;
        vm->v.ran = false; /* a VM that would not stop: its disk cannot be trusted */
        return 0;
    }
    return 0;
}

static void vbox_destroy(struct bw_vm *vm)
{
    if (!vm)
        return;
    struct bw_error ignored = BW_ERROR_INIT;
    bw_spawn_hold_interrupt(true);
    vbox_stop(vm, &ignored);
    bw_error_release(&ignored);
    /* The ISOs that were attached first: --delete removes the media attached to the VM. */
    for (size_t i = 0; i < vm->v.cli.done && i < vm->v.cli.n; i++) {
        char **a = vm->v.cli.steps[i].argv;
        if (strcmp(a[0], "storageattach") == 0 && strcmp(a[9], "dvddrive") == 0)
            bw_hvcli_run(&vm->v.cli, NULL, &ignored, "storageattach", vm->v.name, "--storagectl",
                         "CD", "--port", a[5], "--device", a[7], "--medium", "none", NULL);
        bw_error_release(&ignored);
    }
    if (vm->v.cli.done > 0) /* createvm ran */
        bw_hvcli_run(&vm->v.cli, NULL, &ignored, "unregistervm", vm->v.name, "--delete", NULL);
    bw_error_release(&ignored);
    bw_spawn_hold_interrupt(false);
    if (vm->vdi)
        remove(vm->vdi);
    bw_hvcli_vm_release(&vm->v);
    free(vm->disk);
    free(vm->vdi);
    free(vm);
}

static char *vbox_describe(const char *uri, const char *pool)
{
    (void)uri;
    (void)pool;
    return bw_xstrdup("virtualbox (unproven on a real VirtualBox): VBoxManage; the disk as a VDI "
                      "next to the VM, converted back when it is off; the guest's HTTP at "
                      "10.0.2.2 (the host's loopback through NAT), its SSH through a NAT port "
                      "forward on 127.0.0.1");
}

static const char *vbox_choose_accel(const char *requested, const char *uri, char *why,
                                     size_t whylen)
{
    (void)uri;
    return bw_hvcli_choose_accel("virtualbox", requested, why, whylen);
}

const struct bw_driver bw_driver_virtualbox = {
    .name = "virtualbox",
    .http_as_stream = true,
    .guest_http_ip = "10.0.2.2",
    .guest_http_port = 0, /* the relay's own port: 10.0.2.2 is the host's loopback */
    .isolated_network = NULL,
    .user_network =
        "VirtualBox's NAT, the guest reaches what this host reaches; HTTP at the host's "
        "loopback, SSH through a NAT port forward on 127.0.0.1",
    .box_provider = "virtualbox",
    .describe = vbox_describe,
    .choose_accel = vbox_choose_accel,
    .create = vbox_create,
    .command = vbox_command,
    .start = vbox_start,
    .send_chord = vbox_send_chord,
    .send_key = NULL,
    .read_memory = NULL,
    .wait_off = vbox_wait_off,
    .screenshot = vbox_screenshot,
    .serial_log = vbox_serial_log,
    .hypervisor_log = vbox_hypervisor_log,
    .stop = vbox_stop,
    .destroy = vbox_destroy,
};
