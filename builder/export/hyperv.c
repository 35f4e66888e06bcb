/*
 * The Hyper-V box (provider hyperv, Vagrant's own Hyper-V provider):
 *   metadata.json                  {"provider":"hyperv","architecture":"amd64"}
 *   Vagrantfile                    the definition's own lines
 *   Virtual Hard Disks/disk.vhdx   the disk as a dynamic VHDX
 *   Virtual Machines/box.xml       the VM, in the XML of Hyper-V's older exports
 *
 * Vagrant's import (plugins/providers/hyperv/action/import.rb) takes the first
 * .xml file of "Virtual Machines" and the first .vhd or .vhdx of "Virtual Hard
 * Disks"; for an XML it does not hand the file to Hyper-V but builds a new VM
 * with New-VM from what scripts/import_vm_xml.ps1 reads out of it: the name,
 * properties/subtype (the generation less one: 1 for UEFI), the processor
 * count, memory/bank (size, limit, reservation in MiB, dynamic or not), the
 * boot device, secure boot, and the controllers' drives of type VHD (SCSI
 * when the controller's parent has a ChannelInstanceGuid). This file holds
 * exactly that. Hyper-V's binary .vmcx cannot be written here. Not proven on
 * Hyper-V: it cannot run on the machines this is tested on.
 */
#include "exporter.h"
#include "export.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"
#include "../disk/disk.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define VHDX_NAME "Virtual Hard Disks/disk.vhdx"

static char *vm_xml(const struct bw_export_input *in)
{
    unsigned long long mib = (unsigned long long)(in->memory >> 20);
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                    "<configuration>\n"
                    "  <properties>\n"
                    "    <name type=\"string\">");
    bw_buf_add_escaped_xml(&b, in->name);
    bw_buf_addf(&b,
                "</name>\n"
                "    <notes type=\"string\">built by boxwright</notes>\n"
                "    <subtype type=\"integer\">%d</subtype>\n"
                "  </properties>\n"
                "  <settings>\n"
                "    <processors>\n"
                "      <count type=\"integer\">%ld</count>\n"
                "    </processors>\n"
                "    <memory>\n"
                "      <bank>\n"
                "        <dynamic_memory_enabled type=\"bool\">False</dynamic_memory_enabled>\n"
                "        <limit type=\"integer\">%llu</limit>\n"
                "        <reservation type=\"integer\">%llu</reservation>\n"
                "        <size type=\"integer\">%llu</size>\n"
                "      </bank>\n"
                "    </memory>\n"
                "    <boot>\n"
                "      <device0 type=\"string\">HardDrive</device0>\n"
                "    </boot>\n"
                "    <secure_boot_enabled type=\"bool\">False</secure_boot_enabled>\n"
                "  </settings>\n",
                in->efi ? 1 : 0, in->cpus > 0 ? in->cpus : 1, mib, mib, mib);
    /* Generation 1 boots from IDE; generation 2 has SCSI only. */
    if (in->efi)
        bw_buf_adds(&b, "  <scsi>\n"
                        "    <ChannelInstanceGuid type=\"string\">"
                        "{d422512d-2bf2-4752-809d-7b82b5fcb1b4}</ChannelInstanceGuid>\n");
    else
        bw_buf_adds(&b, "  <ide>\n");
    bw_buf_adds(&b, "    <controller0>\n"
                    "      <drive0>\n"
                    "        <pathname type=\"string\">disk.vhdx</pathname>\n"
                    "        <type type=\"string\">VHD</type>\n"
                    "      </drive0>\n"
                    "    </controller0>\n");
    bw_buf_adds(&b, in->efi ? "  </scsi>\n" : "  </ide>\n");
    bw_buf_adds(&b, "</configuration>\n");
    return bw_buf_detach(&b);
}

static int hyperv_write_box(const struct bw_export_input *in, const char *box_path,
                            struct bw_error *err)
{
    char *vhdx = bw_xasprintf("%s/disk.vhdx", in->workdir);
    int rc = bw_disk_convert(in->disk, vhdx, "vhdx", "subformat=dynamic", err);
    /* the same disk, the same bytes, when the build is to be reproducible */
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    if (rc == 0 && epoch && *epoch)
        rc = bw_disk_set_vhdx_ids(vhdx, strtoull(epoch, NULL, 10), err);
    char *xml = vm_xml(in);
    char *vagrantfile = bw_export_vagrantfile(NULL, in->vagrantfile);
    const struct bw_box_member members[] = {
        {"metadata.json", "{\"provider\":\"hyperv\",\"architecture\":\"amd64\"}\n", NULL},
        {"Vagrantfile", vagrantfile, NULL},
        {"Virtual Machines/box.xml", xml, NULL},
        {VHDX_NAME, NULL, vhdx},
    };
    if (rc == 0)
        rc = bw_box_write(box_path, members, 4, in->compression, in->level, err);
    unlink(vhdx);
    free(vagrantfile);
    free(xml);
    free(vhdx);
    return rc;
}

const struct bw_exporter bw_exporter_hyperv = {
    .provider = "hyperv",
    .summary = "the VM as Vagrant's Hyper-V import reads it (XML) and the disk as a VHDX",
    .write_box = hyperv_write_box,
};
