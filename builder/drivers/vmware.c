/*
 * The VMware driver: Workstation (Linux) and Fusion (macOS) through vmrun,
 * keys and screen over VNC, as Packer's vmware-iso drives them.
 *
 * Unproven on a real VMware: it cannot run on the machines this project is
 * built on. tests/unit/test_hvcli.c holds the vmrun commands and the .vmx to
 * golden files (a stand-in vmrun on PATH); the VNC client (rfb.c) is proven
 * against QEMU's own VNC server, typing into a real guest; the DHCP leases
 * reading and the SSH forwarding are tested on their own.
 *
 * The VM is a .vmx in the build's work directory: the disk (VMware reads no
 * qcow2: the build's disk is converted to a monolithicSparse VMDK next to it
 * and back once the VM is off), ISOs on IDE, NAT (vmnet8) with a MAC of
 * VMware's static range, the serial port to a file, and VNC on 127.0.0.1
 * (RemoteDisplay.vnc: VMware's only way in for keys before the guest has
 * tools). VMware's NAT forwards no port per VM, so SSH comes through a
 * forwarder on 127.0.0.1 to the address vmnet8's DHCP server gave the MAC,
 * and the guest reaches the HTTP server on vmnet8's host address, where the
 * server listens. VMware's NAT has no restrict: the isolated network is
 * refused. VMware has no virtio: the "virtio" models become LSI Logic SCSI
 * and e1000, what Packer's vmware-iso defaults to.
 */
#include "driver.h"
#include "forward.h"
#include "hvcli.h"
#include "leases.h"
#include "rfb.h"
#include "../bootcmd/encodings.h"
#include "../disk/disk.h"
#include "../base/buf.h"
#include "../base/file.h"
#include "../base/xmalloc.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOOL "vmrun"
#define INSTALL                                                                                    \
    "the vmware driver needs VMware Workstation (Linux) or Fusion (macOS): its vmrun on PATH"
#ifdef __APPLE__
#define HOST_TYPE "fusion"
#define LEASES    "/var/db/vmware/vmnet-dhcpd-vmnet8.leases"
#else
#define HOST_TYPE "ws"
#define LEASES    "/etc/vmware/vmnet8/dhcpd/dhcpd.leases"
#endif

struct bw_vm {
    struct bw_hvcli_vm v;
    char *vmx_path, *vmx, *vmdk, *disk;
    unsigned vnc_port;
    char mac[18];
    struct bw_rfb *rfb;
    struct bw_forward *ssh;
};

static const struct {
    const char *model, *prefix, *dev; /* the disk: controller keys, its virtualDev */
} controllers[] = {
    {"virtio", "scsi0", "lsilogic"}, {"scsi", "scsi0", "lsilogic"}, {"sata", "sata0", NULL},
    {"nvme", "nvme0", NULL},         {"ide", "ide0", NULL},
};

static const char *const nics[][2] = {{"virtio", "e1000"}, {"e1000", "e1000"}};

static void vmx_value(struct bw_buf *b, const char *key, const char *value)
{
    bw_buf_add_vmx(b, key, value);
}

static void vmware_destroy(struct bw_vm *vm);

static struct bw_vm *fail(struct bw_vm *vm, struct bw_error *err, const char *why,
                          const char *value)
{
    vmware_destroy(vm);
    return bw_hvcli_refuse(err, "vmware", why, value);
}

/* A MAC of VMware's static range (00:50:56:00:00:00 to 00:50:56:3F:FF:FF) from the VM's name:
 * the same name, the same MAC, so its DHCP lease is found again. */
static void mac_of(const char *name, char mac[18])
{
    uint32_t h = bw_hvcli_name_hash(name);
    snprintf(mac, 18, "00:50:56:%02x:%02x:%02x", (h >> 16) & 0x3f, (h >> 8) & 0xff, h & 0xff);
}

static struct bw_vm *vmware_create(const struct bw_vm_spec *s, struct bw_error *err)
{
    struct bw_vm *vm = bw_xcalloc(1, sizeof(*vm));
    bw_hvcli_vm_init(&vm->v, TOOL, INSTALL, "vmrun.log", s);
    vm->vmx_path = bw_xasprintf("%s/%s.vmx", s->workdir, s->name);
    if (bw_hvcli_vm_check(s, "vmware", "VMware", err) < 0) {
        vmware_destroy(vm);
        return NULL;
    }
    const char *dm = s->disk_model ? s->disk_model : "virtio";
    size_t d = 0;
    while (d < sizeof(controllers) / sizeof(controllers[0]) && strcmp(controllers[d].model, dm))
        d++;
    if (d == sizeof(controllers) / sizeof(controllers[0]))
        return fail(vm, err, "this disk model is not supported", dm);
    const char *nm = s->nic_model ? s->nic_model : "virtio";
    const char *nic = bw_hvcli_lookup(nics, sizeof(nics) / sizeof(nics[0]), nm);
    if (!nic)
        return fail(vm, err, "this NIC model is not supported", nm);
    mac_of(s->name, vm->mac);
    vm->vnc_port = s->vnc_port; /* or, when 0, a free one at start */
    char num[32], key[64];
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    vmx_value(&b, ".encoding", "UTF-8");
    vmx_value(&b, "config.version", "8");
    vmx_value(&b, "virtualHW.version", "14");
    vmx_value(&b, "displayName", s->name);
    vmx_value(&b, "guestOS", "other5xlinux-64");
    snprintf(num, sizeof(num), "%llu", (unsigned long long)(s->memory >> 20));
    vmx_value(&b, "memsize", num);
    snprintf(num, sizeof(num), "%ld", s->cpus > 0 ? s->cpus : 1);
    vmx_value(&b, "numvcpus", num);
    if (s->firmware && strcmp(s->firmware, "efi") == 0)
        vmx_value(&b, "firmware", "efi");
    vmx_value(&b, "pciBridge0.present", "TRUE");
    if (s->disk) {
        vm->disk = bw_xstrdup(s->disk);
        vm->vmdk = bw_xasprintf("%s/disk.vmdk", s->workdir);
        const char *p = controllers[d].prefix;
        snprintf(key, sizeof(key), "%s.present", p);
        vmx_value(&b, key, "TRUE");
        if (controllers[d].dev) {
            snprintf(key, sizeof(key), "%s.virtualDev", p);
            vmx_value(&b, key, controllers[d].dev);
        }
        snprintf(key, sizeof(key), "%s:0.present", p);
        vmx_value(&b, key, "TRUE");
        snprintf(key, sizeof(key), "%s:0.fileName", p);
        vmx_value(&b, key, vm->vmdk);
    }
    /* The ISO and the seed on the secondary IDE channel, answer files on the primary's
     * slave (the master is a system disk on IDE). */
    const char *cds[3] = {s->iso, s->seed_iso, s->answer_iso};
    static const char *const slots[3] = {"ide1:0", "ide1:1", "ide0:1"};
    for (int i = 0; i < 3; i++)
        if (cds[i]) {
            snprintf(key, sizeof(key), "%s.present", slots[i]);
            vmx_value(&b, key, "TRUE");
            snprintf(key, sizeof(key), "%s.deviceType", slots[i]);
            vmx_value(&b, key, "cdrom-image");
            snprintf(key, sizeof(key), "%s.fileName", slots[i]);
            vmx_value(&b, key, cds[i]);
        }
    vmx_value(&b, "ethernet0.present", "TRUE");
    vmx_value(&b, "ethernet0.connectionType", "nat");
    vmx_value(&b, "ethernet0.virtualDev", nic);
    vmx_value(&b, "ethernet0.addressType", "static");
    vmx_value(&b, "ethernet0.address", vm->mac);
    vmx_value(&b, "serial0.present", "TRUE");
    vmx_value(&b, "serial0.fileType", "file");
    vmx_value(&b, "serial0.fileName", vm->v.serial);
    if (s->smbios_serial) {
        /* cloud-init's ds= in the SMBIOS serial: unverified on VMware. */
        vmx_value(&b, "serialNumber.reflectHost", "FALSE");
        vmx_value(&b, "serialNumber", s->smbios_serial);
    }
    vmx_value(&b, "RemoteDisplay.vnc.enabled", "TRUE");
    vmx_value(&b, "RemoteDisplay.vnc.ip", "127.0.0.1");
    vm->vmx = bw_buf_detach(&b);
    bw_hvcli_plan(&vm->v.cli, 0, "-T", HOST_TYPE, "start", vm->vmx_path, "nogui", NULL);
    return vm;
}

static char *const *vmware_command(const struct bw_vm *vm)
{
    struct bw_vm *m = (struct bw_vm *)vm;
    char *const *plan = bw_hvcli_command(&m->v.cli);
    char *both = bw_xasprintf("# %s\n%s%s", m->vmx_path, m->vmx, plan[0]);
    free(m->v.cli.text[0]);
    m->v.cli.text[0] = both;
    return m->v.cli.text;
}

/* Is the VM's .vmx among those vmrun lists as running? */
static int is_running(struct bw_vm *vm, bool *running, struct bw_error *err)
{
    struct bw_spawn_result r;
    int rc = bw_hvcli_run(&vm->v.cli, &r, err, "-T", HOST_TYPE, "list", NULL);
    *running = false;
    for (char *l = strtok(r.out.data, "\n"); rc == 0 && l; l = strtok(NULL, "\n"))
        *running |= strcmp(l, vm->vmx_path) == 0;
    bw_spawn_result_release(&r);
    return rc;
}

static int guest_address(void *ud, char *host, size_t hostlen)
{
    struct bw_vm *vm = ud;
    const char *path = getenv("BOXWRIGHT_VMWARE_LEASES");
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    int rc = bw_buf_read_file(&text, path && *path ? path : LEASES);
    if (rc == 0)
        rc = bw_dhcp_lease_find(text.data, text.len, vm->mac, host, hostlen);
    bw_buf_release(&text);
    return rc;
}

/* The .vmx is virtual hardware version 14: Workstation 14 or later. (Fusion's version is not
 * asked: its app bundle has no command that prints it.) */
static int check_version(struct bw_vm *vm, struct bw_error *err)
{
#ifdef __APPLE__
    (void)vm;
    (void)err;
    return 0;
#else
    struct bw_hvcli ws;
    bw_hvcli_init(&ws, "vmware", INSTALL, vm->v.cli.log_path);
    struct bw_spawn_result r;
    int rc = bw_hvcli_run(&ws, &r, err, "-v", NULL);
    unsigned version = rc == 0 ? bw_hvcli_version(r.out.data) : 0;
    bw_buf_rtrim(&r.out);
    if (rc == 0 && version < 1400) {
        bw_error_set(err, BW_ERR_UNSUPPORTED,
                     "vmware -v says \"%s\": expected VMware Workstation 14 or later (the VM is "
                     "virtual hardware version 14)",
                     r.out.data);
        rc = -1;
    }
    bw_spawn_result_release(&r);
    bw_hvcli_release(&ws);
    return rc;
#endif
}

static int vmware_start(struct bw_vm *vm, struct bw_error *err)
{
    bool running;
    if (check_version(vm, err) < 0 || is_running(vm, &running, err) < 0)
        return -1;
    if (running) {
        bw_error_set(err, BW_ERR_UNSUPPORTED,
                     "VMware is already running %s (a build that was killed?): stop it with "
                     "`vmrun -T %s stop %s hard` and build again",
                     vm->vmx_path, HOST_TYPE, vm->vmx_path);
        return -1;
    }
    if (vm->vmdk &&
        bw_disk_convert(vm->disk, vm->vmdk, "vmdk", "subformat=monolithicSparse", err) < 0)
        return -1;
    /* The VNC port is chosen now, free on this host: it goes into the .vmx. */
    if (!vm->vnc_port)
        vm->vnc_port = bw_free_port();
    char *vmx = bw_xasprintf("%sRemoteDisplay.vnc.port = \"%u\"\n", vm->vmx, vm->vnc_port);
    int wrote = bw_file_write(vm->vmx_path, vmx, strlen(vmx), 0600, err);
    free(vmx);
    if (wrote < 0)
        return -1;
    if (bw_hvcli_run_plan(&vm->v.cli, 0, err) < 0)
        return -1;
    vm->v.ran = vm->v.running = true;
    if (!(vm->rfb = bw_rfb_connect("127.0.0.1", vm->vnc_port, 30000, err)))
        return -1;
    if (vm->v.ssh_host_port &&
        !(vm->ssh =
              bw_forward_start(vm->v.ssh_host_port, vm->v.ssh_guest_port, guest_address, vm, err)))
        return -1;
    return 0;
}

static int vmware_send_chord(struct bw_vm *vm, const enum bw_key *keys, size_t n, unsigned hold_ms,
                             struct bw_error *err)
{
    if (!vm->rfb) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "vmware: the VM is not running");
        return -1;
    }
    return bw_rfb_chord(vm->rfb, keys, n, hold_ms, err);
}

static int sync_disk(struct bw_vm *vm, struct bw_error *err)
{
    if (!vm->v.keep || !vm->vmdk || !vm->v.ran || vm->v.synced)
        return 0;
    vm->v.synced = true;
    return bw_disk_convert(vm->vmdk, vm->disk, "qcow2", NULL, err);
}

static void went_off(struct bw_vm *vm)
{
    vm->v.running = false;
    bw_rfb_close(vm->rfb);
    vm->rfb = NULL;
    bw_forward_stop(vm->ssh);
    vm->ssh = NULL;
}

static int vmware_is_off(void *ud, bool *off, struct bw_error *err)
{
    bool running;
    int rc = is_running(ud, &running, err);
    *off = !running;
    return rc;
}

static int vmware_wait_off(struct bw_vm *vm, uint64_t timeout_ms, struct bw_error *err)
{
    if (vm->v.running && bw_hvcli_wait_off(vmware_is_off, vm, timeout_ms, vm->v.serial, err) < 0)
        return -1;
    went_off(vm);
    return sync_disk(vm, err);
}

static char *vmware_screenshot(struct bw_vm *vm, const char *base, bool quick, struct bw_error *err)
{
    (void)quick; /* the VNC framebuffer, as a PPM */
    if (!vm->rfb) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "no screenshot: the VM is not running");
        return NULL;
    }
    char *ppm = bw_xasprintf("%s.ppm", base);
    if (bw_rfb_screenshot(vm->rfb, ppm, err) < 0) {
        free(ppm);
        return NULL;
    }
    return ppm;
}

static const char *vmware_serial_log(const struct bw_vm *vm)
{
    return vm->v.serial;
}

static const char *vmware_hypervisor_log(const struct bw_vm *vm)
{
    return vm->v.cli.log_path;
}

static int vmware_stop(struct bw_vm *vm, struct bw_error *err)
{
    if (!vm->v.running)
        return sync_disk(vm, err);
    struct bw_error ignored = BW_ERROR_INIT;
    bw_hvcli_run(&vm->v.cli, NULL, &ignored, "-T", HOST_TYPE, "stop", vm->vmx_path, "hard", NULL);
    bw_error_release(&ignored);
    int rc = vmware_wait_off(vm, 10000, &ignored);
    bw_error_release(&ignored);
    if (rc < 0) {
        went_off(vm);
        vm->v.ran = false; /* a VM that would not stop: its disk cannot be trusted */
    }
    return 0;
}

static void vmware_destroy(struct bw_vm *vm)
{
    if (!vm)
        return;
    struct bw_error ignored = BW_ERROR_INIT;
    bw_spawn_hold_interrupt(true);
    vmware_stop(vm, &ignored);
    bw_spawn_hold_interrupt(false);
    bw_error_release(&ignored);
    went_off(vm);
    if (vm->vmdk)
        remove(vm->vmdk);
    bw_hvcli_vm_release(&vm->v);
    free(vm->vmx_path);
    free(vm->vmx);
    free(vm->vmdk);
    free(vm->disk);
    free(vm);
}

/* vmnet8's address on this host: where the guest reaches the HTTP server. */
static int vmware_http_host_address(char *buf, size_t len, struct bw_error *err)
{
    const char *set = getenv("BOXWRIGHT_VMWARE_HOST_IP");
    if (set && *set) {
        snprintf(buf, len, "%s", set);
        return 0;
    }
    struct ifaddrs *ifs = NULL, *i;
    int rc = -1;
    if (getifaddrs(&ifs) == 0)
        for (i = ifs; i && rc < 0; i = i->ifa_next)
            if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
                strcmp(i->ifa_name, "vmnet8") == 0 &&
                inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf,
                          (socklen_t)len))
                rc = 0;
    freeifaddrs(ifs);
    if (rc < 0)
        bw_error_set(err, BW_ERR_NOT_FOUND,
                     "vmware: this host has no vmnet8 interface with an IPv4 address (VMware's "
                     "NAT network), where the guest would reach the HTTP server; "
                     "BOXWRIGHT_VMWARE_HOST_IP names another");
    return rc;
}

static char *vmware_describe(const char *uri, const char *pool)
{
    (void)uri;
    (void)pool;
    return bw_xstrdup("vmware (unproven on a real VMware): vmrun -T " HOST_TYPE
                      ", keys and screen over VNC on 127.0.0.1; the disk as a VMDK next to the "
                      ".vmx, converted back when it is off; the guest's HTTP on vmnet8's host "
                      "address, its SSH through a forwarder on 127.0.0.1 to its DHCP address");
}

static const char *vmware_choose_accel(const char *requested, const char *uri, char *why,
                                       size_t whylen)
{
    (void)uri;
    return bw_hvcli_choose_accel("vmware", requested, why, whylen);
}

const struct bw_driver bw_driver_vmware = {
    .name = "vmware",
    .guest_http_ip = "(vmnet8's address)",
    .guest_http_port = 0, /* the port the server bound on vmnet8's address */
    .http_host_address = vmware_http_host_address,
    .isolated_network = NULL,
    .user_network = "VMware's NAT (vmnet8), the guest reaches what this host reaches; HTTP on "
                    "vmnet8's host address, SSH through a forwarder on 127.0.0.1",
    .box_provider = "vmware_desktop",
    .describe = vmware_describe,
    .choose_accel = vmware_choose_accel,
    .create = vmware_create,
    .command = vmware_command,
    .start = vmware_start,
    .send_chord = vmware_send_chord,
    .send_key = NULL,
    .read_memory = NULL,
    .wait_off = vmware_wait_off,
    .screenshot = vmware_screenshot,
    .serial_log = vmware_serial_log,
    .hypervisor_log = vmware_hypervisor_log,
    .stop = vmware_stop,
    .destroy = vmware_destroy,
};
