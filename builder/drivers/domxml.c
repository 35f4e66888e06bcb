/* A VM spec as libvirt domain XML; see domxml.h. */
#include "domxml.h"
#include "qemu_args.h"
#include "../base/buf.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Disk models as libvirt buses. q35 has no IDE: its IDE ports are AHCI, as in the QEMU driver.
 * The cloud-init seed volume goes on the system disk's bus, whose driver the guest surely has
 * (see qemu.c): a read-only disk on virtio, else a CD-ROM. */
static const struct {
    const char *model, *bus, *dev, *controller, *seed_dev;
} disks[] = {
    {"virtio", "virtio", "vda", NULL, "vdb"},
    {"sata", "sata", "sdb", NULL, "sdc"},
    {"ide", "sata", "sdb", NULL, "sdc"},
    {"scsi", "scsi", "sdb", "<controller type='scsi' index='0' model='virtio-scsi'/>", "sdc"},
};

/* Appends <qemu:arg value='...'/>. */
static void qarg(struct bw_buf *b, const char *v)
{
    bw_buf_adds(b, "    <qemu:arg value='");
    bw_buf_add_xml(b, v);
    bw_buf_adds(b, "'/>\n");
}

/* A read-only raw volume: a CD-ROM, or a disk on virtio (which has no CD-ROM). */
static void volume(struct bw_buf *b, const char *path, const char *dev, const char *bus)
{
    bool disk = strcmp(bus, "virtio") == 0;
    bw_buf_addf(b,
                "    <disk type='file' device='%s'>\n"
                "      <driver name='qemu' type='raw'/>\n"
                "      <source file='",
                disk ? "disk" : "cdrom");
    bw_buf_add_xml(b, path);
    bw_buf_addf(b, "'/>\n      <target dev='%s' bus='%s'/>\n      <readonly/>\n    </disk>\n", dev,
                bus);
}

char *bw_domain_xml(const struct bw_vm_spec *s, const struct bw_domxml_paths *p,
                    struct bw_error *err)
{
    const char *dmodel = s->disk_model ? s->disk_model : "virtio";
    size_t di = 0;
    while (di < sizeof(disks) / sizeof(disks[0]) && strcmp(disks[di].model, dmodel) != 0)
        di++;
    if (p->disk && di == sizeof(disks) / sizeof(disks[0])) {
        bw_error_set(err, BW_ERR_UNSUPPORTED,
                     "libvirt: disk model \"%s\" is not supported (libvirt 9.0 has no NVMe disk "
                     "bus); use virtio, scsi or sata, or --driver qemu",
                     dmodel);
        return NULL;
    }
    const char *nmodel = s->nic_model ? s->nic_model : "virtio";
    const char *nic = bw_nic_device(nmodel);
    if (!nic) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "libvirt: NIC model \"%s\" is not supported", nmodel);
        return NULL;
    }
    bool kvm = s->accel && strcmp(s->accel, "kvm") == 0;
    bool efi = s->firmware && strcmp(s->firmware, "efi") == 0;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_addf(&b, "<domain type='%s' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>\n",
                kvm ? "kvm" : "qemu");
    bw_buf_adds(&b, "  <name>");
    bw_buf_add_xml(&b, s->name);
    bw_buf_adds(&b, "</name>\n");
    bw_buf_addf(&b, "  <memory unit='KiB'>%llu</memory>\n", (unsigned long long)(s->memory >> 10));
    bw_buf_addf(&b, "  <vcpu>%ld</vcpu>\n", s->cpus > 0 ? s->cpus : 1);
    bw_buf_addf(&b, "  <os%s>\n", efi ? " firmware='efi'" : "");
    bw_buf_adds(&b, "    <type arch='x86_64' machine='q35'>hvm</type>\n");
    /* libvirt's first choice is OVMF with Secure Boot and Microsoft's keys enrolled, which
     * refuses an unsigned loader ("Security Violation"): the QEMU driver's plain OVMF.fd. */
    if (efi)
        bw_buf_adds(&b, "    <firmware>\n      <feature enabled='no' name='secure-boot'/>\n"
                        "      <feature enabled='no' name='enrolled-keys'/>\n    </firmware>\n");
    if (efi && p->nvram) { /* made from the firmware's template; goes with the work directory */
        bw_buf_adds(&b, "    <nvram>");
        bw_buf_add_xml(&b, p->nvram);
        bw_buf_adds(&b, "</nvram>\n");
    }
    if (s->kernel) {
        bw_buf_adds(&b, "    <kernel>");
        bw_buf_add_xml(&b, s->kernel);
        bw_buf_adds(&b, "</kernel>\n    <initrd>");
        bw_buf_add_xml(&b, s->initrd);
        bw_buf_adds(&b, "</initrd>\n    <cmdline>");
        bw_buf_add_xml(&b, s->append ? s->append : "");
        bw_buf_adds(&b, "</cmdline>\n");
    }
    if (s->smbios_serial)
        bw_buf_adds(&b, "    <smbios mode='sysinfo'/>\n");
    if (p->iso && !s->kernel)
        bw_buf_adds(&b, "    <boot dev='cdrom'/>\n");
    if (p->disk)
        bw_buf_adds(&b, "    <boot dev='hd'/>\n");
    bw_buf_adds(&b, "  </os>\n");
    if (s->smbios_serial) {
        bw_buf_adds(&b, "  <sysinfo type='smbios'>\n    <system>\n      <entry name='serial'>");
        bw_buf_add_xml(&b, s->smbios_serial);
        bw_buf_adds(&b, "</entry>\n    </system>\n  </sysinfo>\n");
    }
    bw_buf_adds(&b, "  <features><acpi/><apic/></features>\n");
    if (kvm)
        bw_buf_adds(&b, "  <cpu mode='host-passthrough'/>\n");
    bw_buf_adds(&b, "  <clock offset='utc'/>\n");
    bw_buf_adds(&b, "  <on_poweroff>destroy</on_poweroff>\n");
    bw_buf_adds(&b, "  <on_reboot>restart</on_reboot>\n");
    bw_buf_adds(&b, "  <on_crash>destroy</on_crash>\n");
    bw_buf_adds(&b, "  <devices>\n");
    if (p->iso)
        volume(&b, p->iso, "sda", "sata");
    if (p->answer)
        volume(&b, p->answer, "sdd", "sata");
    if (p->disk) {
        if (disks[di].controller)
            bw_buf_addf(&b, "    %s\n", disks[di].controller);
        bw_buf_addf(&b,
                    "    <disk type='file' device='disk'>\n"
                    "      <driver name='qemu' type='%s' discard='unmap'/>\n"
                    "      <source file='",
                    s->disk_format ? s->disk_format : "qcow2");
        bw_buf_add_xml(&b, p->disk);
        bw_buf_addf(&b, "'/>\n      <target dev='%s' bus='%s'/>\n    </disk>\n", disks[di].dev,
                    disks[di].bus);
        if (p->seed)
            volume(&b, p->seed, disks[di].seed_dev, disks[di].bus);
    }
    if (p->serial) {
        bw_buf_adds(&b, "    <serial type='file'>\n      <source path='");
        bw_buf_add_xml(&b, p->serial);
        bw_buf_adds(&b, "'/>\n      <target port='0'/>\n    </serial>\n");
    }
    /* For screenshots (virDomainScreenshot); VNC on the host's loopback only. */
    bw_buf_adds(&b, "    <graphics type='vnc' autoport='yes' listen='127.0.0.1'/>\n");
    bw_buf_adds(&b, "    <video><model type='vga'/></video>\n");
    bw_buf_adds(&b, "    <memballoon model='none'/>\n");
    bw_buf_adds(&b, "  </devices>\n");
    /* The NIC: see domxml.h for why it is given to QEMU directly. */
    struct bw_buf net = BW_BUF_INIT;
    bw_buf_init(&net);
    bw_user_netdev(&net, s, "bwnet0", s->http_port ? "chardev:bwhttp0" : NULL);
    bw_buf_adds(&b, "  <qemu:commandline>\n");
    if (s->http_port) {
        /* reconnect: the stream comes back if boxwright's end ever closes it. */
        char chardev[96];
        snprintf(chardev, sizeof(chardev), "socket,id=bwhttp0,host=127.0.0.1,port=%u,reconnect=1",
                 s->http_port);
        qarg(&b, "-chardev");
        qarg(&b, chardev);
    }
    qarg(&b, "-netdev");
    qarg(&b, net.data);
    /* Slot 0x10 of the root bus: libvirt fills slots from 1 up and never reaches it here. */
    char dev[96];
    snprintf(dev, sizeof(dev), "%s,netdev=bwnet0,bus=pcie.0,addr=0x10", nic);
    qarg(&b, "-device");
    qarg(&b, dev);
    bw_buf_adds(&b, "  </qemu:commandline>\n");
    bw_buf_adds(&b, "</domain>\n");
    bw_buf_release(&net);
    return bw_buf_detach(&b);
}
