/*
 * The VMware box (provider vmware_desktop: Fusion and Workstation through
 * vagrant-vmware-desktop, which imports the first *.vmx it finds):
 *   metadata.json  {"provider":"vmware_desktop","architecture":"amd64"}
 *   Vagrantfile    the definition's own lines
 *   box.vmx        the VM: memory, CPUs, firmware, guest OS, NAT e1000, the
 *                  disk on an LSI Logic SCSI controller
 *   disk.vmdk      the disk as a monolithicSparse VMDK (the sparse kind
 *                  Workstation makes itself; streamOptimized is for import)
 * Not proven on VMware: it cannot run on the machines this is tested on.
 */
#include "exporter.h"
#include "export.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"
#include "../disk/disk.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VMDK_NAME "disk.vmdk"

/* VMware's guestOS key for the definition's OS. */
static const char *guest_os(const struct bw_export_input *in)
{
    static const struct {
        const char *distro, *guest;
    } linux_guests[] = {
        {"debian", "debian10-64"}, {"ubuntu", "ubuntu-64"},     {"rhel", "rhel9-64"},
        {"rocky", "rhel9-64"},     {"almalinux", "rhel9-64"},   {"centos", "centos-64"},
        {"fedora", "fedora-64"},   {"opensuse", "opensuse-64"}, {"opensuse-leap", "opensuse-64"},
    };
    const char *family = in->os_family ? in->os_family : "linux";
    if (strcmp(family, "bsd") == 0)
        return "freebsd-64";
    if (strcmp(family, "windows") == 0)
        return "windows2019srv-64";
    for (size_t i = 0; in->os_distro && i < sizeof(linux_guests) / sizeof(linux_guests[0]); i++)
        if (strcmp(linux_guests[i].distro, in->os_distro) == 0)
            return linux_guests[i].guest;
    return "other5xlinux-64";
}

static void vmx_value(struct bw_buf *b, const char *key, const char *value)
{
    bw_buf_add_vmx(b, key, value);
}

static char *vmx(const struct bw_export_input *in)
{
    char num[32];
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    vmx_value(&b, ".encoding", "UTF-8");
    vmx_value(&b, "config.version", "8");
    vmx_value(&b, "virtualHW.version", "14");
    vmx_value(&b, "displayName", in->name);
    vmx_value(&b, "guestOS", guest_os(in));
    snprintf(num, sizeof(num), "%llu", (unsigned long long)(in->memory >> 20));
    vmx_value(&b, "memsize", num);
    snprintf(num, sizeof(num), "%ld", in->cpus > 0 ? in->cpus : 1);
    vmx_value(&b, "numvcpus", num);
    if (in->efi)
        vmx_value(&b, "firmware", "efi");
    vmx_value(&b, "pciBridge0.present", "TRUE");
    vmx_value(&b, "scsi0.present", "TRUE");
    vmx_value(&b, "scsi0.virtualDev", "lsilogic");
    vmx_value(&b, "scsi0:0.present", "TRUE");
    vmx_value(&b, "scsi0:0.fileName", VMDK_NAME);
    vmx_value(&b, "ethernet0.present", "TRUE");
    vmx_value(&b, "ethernet0.connectionType", "nat");
    vmx_value(&b, "ethernet0.virtualDev", "e1000");
    vmx_value(&b, "ethernet0.addressType", "generated");
    vmx_value(&b, "tools.syncTime", "FALSE");
    return bw_buf_detach(&b);
}

static int vmware_write_box(const struct bw_export_input *in, const char *box_path,
                            struct bw_error *err)
{
    char *vmdk = bw_xasprintf("%s/" VMDK_NAME, in->workdir);
    int rc = bw_disk_convert(in->disk, vmdk, "vmdk", "subformat=monolithicSparse", err);
    /* the same disk, the same bytes, when the build is to be reproducible */
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    if (rc == 0 && epoch && *epoch)
        rc = bw_disk_set_vmdk_cid(vmdk, (uint32_t)strtoul(epoch, NULL, 10), err);
    char *desc = vmx(in);
    char *vagrantfile = bw_export_vagrantfile(NULL, in->vagrantfile);
    const struct bw_box_member members[] = {
        {"metadata.json", "{\"provider\":\"vmware_desktop\",\"architecture\":\"amd64\"}\n", NULL},
        {"Vagrantfile", vagrantfile, NULL},
        {"box.vmx", desc, NULL},
        {VMDK_NAME, NULL, vmdk},
    };
    if (rc == 0)
        rc = bw_box_write(box_path, members, 4, in->compression, in->level, err);
    unlink(vmdk);
    free(vagrantfile);
    free(desc);
    free(vmdk);
    return rc;
}

const struct bw_exporter bw_exporter_vmware = {
    .provider = "vmware_desktop",
    .summary = "box.vmx and the disk as a monolithicSparse VMDK",
    .write_box = vmware_write_box,
};
