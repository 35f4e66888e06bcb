/*
 * The VirtualBox box: Vagrant imports exactly box.ovf and the disk it names.
 *   metadata.json      {"provider":"virtualbox","architecture":"amd64"}
 *   Vagrantfile        config.vm.base_mac: adapter 1's MAC in box.ovf
 *   box.ovf            OVF 1.0 with VirtualBox's own <vbox:Machine> section
 *   box-disk001.vmdk   the disk as a streamOptimized VMDK (the format VirtualBox's
 *                      own exports and Packer's boxes carry)
 * What VirtualBox checks on import, and this file keeps: the OVF's file size
 * is the VMDK's, its disk capacity the disk's, and the disk's vbox:uuid is
 * the <Image uuid> attached in <vbox:Machine>. Adapter 1 is NAT (Vagrant's
 * rule) with a MAC in VirtualBox's range 08:00:27; Packer reads it back with
 * the pattern <Adapter slot="0" ... MACAddress="...">.
 *
 * Not proven on VirtualBox: it cannot run on the machines this is tested on.
 */
#include "exporter.h"
#include "export.h"
#include "../base/buf.h"
#include "../base/digest.h"
#include "../base/xmalloc.h"
#include "../disk/disk.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define VMDK_NAME "box-disk001.vmdk"

/* VirtualBox's guest OS type and the CIM OperatingSystem id the OVF gives with it. */
static void os_type(const struct bw_export_input *in, const char **vbox, int *cim)
{
    static const struct {
        const char *distro, *vbox;
        int cim;
    } linux_types[] = {
        {"debian", "Debian_64", 96},
        {"ubuntu", "Ubuntu_64", 94},
        {"rhel", "RedHat_64", 80},
        {"rocky", "RedHat_64", 80},
        {"almalinux", "RedHat_64", 80},
        {"centos", "RedHat_64", 80},
        {"fedora", "Fedora_64", 101},
        {"opensuse", "OpenSUSE_64", 101},
        {"opensuse-leap", "OpenSUSE_64", 101},
    };
    const char *family = in->os_family ? in->os_family : "linux";
    *vbox = "Linux26_64";
    *cim = 101; /* Linux 2.6.x 64-bit */
    if (strcmp(family, "bsd") == 0) {
        *vbox = "FreeBSD_64";
        *cim = 78;
    } else if (strcmp(family, "windows") == 0) {
        *vbox = "Windows2019_64";
        *cim = 1; /* Other */
    } else if (in->os_distro) {
        for (size_t i = 0; i < sizeof(linux_types) / sizeof(linux_types[0]); i++)
            if (strcmp(linux_types[i].distro, in->os_distro) == 0) {
                *vbox = linux_types[i].vbox;
                *cim = linux_types[i].cim;
            }
    }
}

/*
 * 32 bytes for the UUIDs, the MAC and the VMDK's content id: from $SOURCE_DATE_EPOCH and the
 * box's name when the build is to be reproducible (true), else random.
 */
static bool identity(const char *name, unsigned char out[32])
{
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    FILE *f;
    if (epoch && *epoch) {
        char *seed = bw_xasprintf("boxwright virtualbox %s %s", name, epoch);
        struct bw_hash *h = bw_hash_new(BW_HASH_SHA256);
        char hex[BW_HASH_MAX_HEX + 1];
        bw_hash_update(h, seed, strlen(seed));
        bw_hash_final(h, hex);
        bw_hash_free(h);
        for (size_t i = 0; i < 32; i++) {
            unsigned v;
            sscanf(hex + 2 * i, "%2x", &v);
            out[i] = (unsigned char)v;
        }
        free(seed);
        return true;
    }
    if ((f = fopen("/dev/urandom", "rb"))) {
        if (fread(out, 1, 32, f) != 32)
            memset(out, 0x5a, 32);
        fclose(f);
    } else {
        memset(out, 0x5a, 32);
    }
    return false;
}

static void uuid_of(const unsigned char *b, char out[37])
{
    unsigned char u[16];
    memcpy(u, b, 16);
    u[6] = (unsigned char)((u[6] & 0x0f) | 0x40); /* version 4 */
    u[8] = (unsigned char)((u[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0],
             u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13],
             u[14], u[15]);
}

static char *ovf(const struct bw_export_input *in, uint64_t capacity, long long vmdk_size,
                 const char *disk_uuid, const char *vm_uuid, const char *mac)
{
    const char *vbox_os;
    int cim;
    os_type(in, &vbox_os, &cim);
    unsigned long long mib = (unsigned long long)(in->memory >> 20);
    long cpus = in->cpus > 0 ? in->cpus : 1;
    struct bw_buf name = BW_BUF_INIT;
    bw_buf_init(&name);
    bw_buf_add_escaped_xml(&name, in->name);
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_addf(
        &b,
        "<?xml version=\"1.0\"?>\n"
        "<Envelope ovf:version=\"1.0\" xml:lang=\"en-US\""
        " xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\""
        " xmlns:ovf=\"http://schemas.dmtf.org/ovf/envelope/1\""
        " xmlns:rasd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
        "CIM_ResourceAllocationSettingData\""
        " xmlns:vssd=\"http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/"
        "CIM_VirtualSystemSettingData\""
        " xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\""
        " xmlns:vbox=\"http://www.virtualbox.org/ovf/machine\">\n"
        "  <References>\n"
        "    <File ovf:id=\"file1\" ovf:href=\"" VMDK_NAME "\" ovf:size=\"%lld\"/>\n"
        "  </References>\n"
        "  <DiskSection>\n"
        "    <Info>List of the virtual disks used in the package</Info>\n"
        "    <Disk ovf:capacity=\"%llu\" ovf:diskId=\"vmdisk1\" ovf:fileRef=\"file1\""
        " ovf:format=\"http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized\""
        " vbox:uuid=\"%s\"/>\n"
        "  </DiskSection>\n"
        "  <NetworkSection>\n"
        "    <Info>Logical networks used in the package</Info>\n"
        "    <Network ovf:name=\"NAT\">\n"
        "      <Description>Logical network used by this appliance.</Description>\n"
        "    </Network>\n"
        "  </NetworkSection>\n"
        "  <VirtualSystem ovf:id=\"%s\">\n"
        "    <Info>A virtual machine</Info>\n"
        "    <OperatingSystemSection ovf:id=\"%d\">\n"
        "      <Info>The kind of installed guest operating system</Info>\n"
        "      <Description>%s</Description>\n"
        "      <vbox:OSType ovf:required=\"false\">%s</vbox:OSType>\n"
        "    </OperatingSystemSection>\n"
        "    <VirtualHardwareSection>\n"
        "      <Info>Virtual hardware requirements for a virtual machine</Info>\n"
        "      <System>\n"
        "        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>\n"
        "        <vssd:InstanceID>0</vssd:InstanceID>\n"
        "        <vssd:VirtualSystemIdentifier>%s</vssd:VirtualSystemIdentifier>\n"
        "        <vssd:VirtualSystemType>virtualbox-2.2</vssd:VirtualSystemType>\n"
        "      </System>\n"
        "      <Item>\n"
        "        <rasd:Caption>%ld virtual CPU</rasd:Caption>\n"
        "        <rasd:Description>Number of virtual CPUs</rasd:Description>\n"
        "        <rasd:ElementName>%ld virtual CPU</rasd:ElementName>\n"
        "        <rasd:InstanceID>1</rasd:InstanceID>\n"
        "        <rasd:ResourceType>3</rasd:ResourceType>\n"
        "        <rasd:VirtualQuantity>%ld</rasd:VirtualQuantity>\n"
        "      </Item>\n"
        "      <Item>\n"
        "        <rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits>\n"
        "        <rasd:Caption>%llu MB of memory</rasd:Caption>\n"
        "        <rasd:Description>Memory Size</rasd:Description>\n"
        "        <rasd:ElementName>%llu MB of memory</rasd:ElementName>\n"
        "        <rasd:InstanceID>2</rasd:InstanceID>\n"
        "        <rasd:ResourceType>4</rasd:ResourceType>\n"
        "        <rasd:VirtualQuantity>%llu</rasd:VirtualQuantity>\n"
        "      </Item>\n"
        "      <Item>\n"
        "        <rasd:Address>0</rasd:Address>\n"
        "        <rasd:Caption>sataController0</rasd:Caption>\n"
        "        <rasd:Description>SATA Controller</rasd:Description>\n"
        "        <rasd:ElementName>sataController0</rasd:ElementName>\n"
        "        <rasd:InstanceID>3</rasd:InstanceID>\n"
        "        <rasd:ResourceSubType>AHCI</rasd:ResourceSubType>\n"
        "        <rasd:ResourceType>20</rasd:ResourceType>\n"
        "      </Item>\n"
        "      <Item>\n"
        "        <rasd:AutomaticAllocation>true</rasd:AutomaticAllocation>\n"
        "        <rasd:Caption>Ethernet adapter on 'NAT'</rasd:Caption>\n"
        "        <rasd:Connection>NAT</rasd:Connection>\n"
        "        <rasd:ElementName>Ethernet adapter on 'NAT'</rasd:ElementName>\n"
        "        <rasd:InstanceID>4</rasd:InstanceID>\n"
        "        <rasd:ResourceSubType>E1000</rasd:ResourceSubType>\n"
        "        <rasd:ResourceType>10</rasd:ResourceType>\n"
        "      </Item>\n"
        "      <Item>\n"
        "        <rasd:AddressOnParent>0</rasd:AddressOnParent>\n"
        "        <rasd:Caption>disk1</rasd:Caption>\n"
        "        <rasd:Description>Disk Image</rasd:Description>\n"
        "        <rasd:ElementName>disk1</rasd:ElementName>\n"
        "        <rasd:HostResource>/disk/vmdisk1</rasd:HostResource>\n"
        "        <rasd:InstanceID>5</rasd:InstanceID>\n"
        "        <rasd:Parent>3</rasd:Parent>\n"
        "        <rasd:ResourceType>17</rasd:ResourceType>\n"
        "      </Item>\n"
        "    </VirtualHardwareSection>\n"
        "    <vbox:Machine ovf:required=\"false\" version=\"1.16-linux\" uuid=\"{%s}\""
        " name=\"%s\" OSType=\"%s\" snapshotFolder=\"Snapshots\">\n"
        "      <ovf:Info>Complete VirtualBox machine configuration in VirtualBox "
        "format</ovf:Info>\n"
        "      <Hardware>\n"
        "        <CPU count=\"%ld\"/>\n"
        "        <Memory RAMSize=\"%llu\"/>\n"
        "%s"
        "        <Boot>\n"
        "          <Order position=\"1\" device=\"HardDisk\"/>\n"
        "          <Order position=\"2\" device=\"DVD\"/>\n"
        "          <Order position=\"3\" device=\"None\"/>\n"
        "          <Order position=\"4\" device=\"None\"/>\n"
        "        </Boot>\n"
        "        <Network>\n"
        "          <Adapter slot=\"0\" enabled=\"true\" MACAddress=\"%s\" type=\"82540EM\">\n"
        "            <NAT/>\n"
        "          </Adapter>\n"
        "        </Network>\n"
        "        <StorageControllers>\n"
        "          <StorageController name=\"SATA\" type=\"AHCI\" PortCount=\"1\""
        " useHostIOCache=\"false\" Bootable=\"true\" IDE0MasterEmulationPort=\"0\""
        " IDE0SlaveEmulationPort=\"1\" IDE1MasterEmulationPort=\"2\""
        " IDE1SlaveEmulationPort=\"3\">\n"
        "            <AttachedDevice type=\"HardDisk\" hotpluggable=\"false\" port=\"0\""
        " device=\"0\">\n"
        "              <Image uuid=\"{%s}\"/>\n"
        "            </AttachedDevice>\n"
        "          </StorageController>\n"
        "        </StorageControllers>\n"
        "      </Hardware>\n"
        "    </vbox:Machine>\n"
        "  </VirtualSystem>\n"
        "</Envelope>\n",
        vmdk_size, (unsigned long long)capacity, disk_uuid, name.data, cim, vbox_os, vbox_os,
        name.data, cpus, cpus, cpus, mib, mib, mib, vm_uuid, name.data, vbox_os, cpus, mib,
        in->efi ? "        <Firmware type=\"EFI\"/>\n" : "", mac, disk_uuid);
    bw_buf_release(&name);
    return bw_buf_detach(&b);
}

static int virtualbox_write_box(const struct bw_export_input *in, const char *box_path,
                                struct bw_error *err)
{
    uint64_t capacity;
    char format[16];
    if (bw_disk_info(in->disk, &capacity, format, err) < 0)
        return -1;
    char *vmdk = bw_xasprintf("%s/" VMDK_NAME, in->workdir);
    if (bw_disk_convert(in->disk, vmdk, "vmdk", "subformat=streamOptimized", err) < 0) {
        free(vmdk);
        return -1;
    }
    unsigned char id[32];
    bool fixed = identity(in->name, id);
    struct stat st;
    int rc = fixed ? bw_disk_set_vmdk_cid(vmdk,
                                          (uint32_t)id[8] << 24 | (uint32_t)id[9] << 16 |
                                              (uint32_t)id[10] << 8 | id[11],
                                          err)
                   : 0;
    if (rc == 0 && stat(vmdk, &st) < 0) {
        bw_error_at(err, BW_ERR_IO, vmdk, NULL, 0, 0, "qemu-img wrote no VMDK");
        rc = -1;
    }
    char disk_uuid[37], vm_uuid[37], mac[13];
    uuid_of(id, disk_uuid);
    uuid_of(id + 16, vm_uuid);
    /* VirtualBox's own range, 08:00:27, and a unicast address */
    snprintf(mac, sizeof(mac), "080027%02X%02X%02X", id[29], id[30], id[31]);
    char *desc = ovf(in, capacity, (long long)st.st_size, disk_uuid, vm_uuid, mac);
    char *base_mac = bw_xasprintf("config.vm.base_mac = \"%s\"\n", mac);
    char *vagrantfile = bw_export_vagrantfile(base_mac, in->vagrantfile);
    free(base_mac);
    const struct bw_box_member members[] = {
        {"metadata.json", "{\"provider\":\"virtualbox\",\"architecture\":\"amd64\"}\n", NULL},
        {"Vagrantfile", vagrantfile, NULL},
        {"box.ovf", desc, NULL},
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

const struct bw_exporter bw_exporter_virtualbox = {
    .provider = "virtualbox",
    .summary = "box.ovf (OVF 1.0 with VirtualBox's machine section), a streamOptimized VMDK, "
               "base_mac",
    .write_box = virtualbox_write_box,
};
