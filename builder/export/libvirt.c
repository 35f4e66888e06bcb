/*
 * The libvirt box (vagrant-libvirt's v1 format): three members at the root,
 *   metadata.json  {"provider":"libvirt","format":"qcow2","virtual_size":N}
 *                  N in GiB, rounded up (vagrant-libvirt reads it as GiB and
 *                  its own tools round up; rounding down makes a smaller disk)
 *   Vagrantfile    libvirt.driver "kvm", or "qemu" when built without KVM,
 *                  and the definition's own lines
 *   box.img        the qcow2 disk
 */
#include "exporter.h"
#include "export.h"
#include "../base/buf.h"
#include "../disk/disk.h"
#include "../base/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int libvirt_write_box(const struct bw_export_input *in, const char *box_path,
                             struct bw_error *err)
{
    uint64_t vsize;
    char format[16];
    if (bw_disk_info(in->disk, &vsize, format, err) < 0)
        return -1;
    if (strcmp(format, "qcow2") != 0) {
        bw_error_at(err, BW_ERR_UNSUPPORTED, in->disk, NULL, 0, 0,
                    "a libvirt box needs a qcow2 disk, this one is %s", format);
        return -1;
    }
    uint64_t gib = (vsize + (1ULL << 30) - 1) >> 30;
    char *meta =
        bw_xasprintf("{\"provider\":\"libvirt\",\"format\":\"qcow2\",\"virtual_size\":%llu}\n",
                     (unsigned long long)gib);
    char *provider = bw_xasprintf("config.vm.provider :libvirt do |libvirt|\n"
                                  "  libvirt.driver = \"%s\"\n"
                                  "end\n",
                                  in->kvm ? "kvm" : "qemu");
    char *vagrantfile = bw_export_vagrantfile(provider, in->vagrantfile);
    free(provider);
    const struct bw_box_member members[] = {
        {"metadata.json", meta, NULL},
        {"Vagrantfile", vagrantfile, NULL},
        {"box.img", NULL, in->disk},
    };
    int rc = bw_box_write(box_path, members, 3, in->compression, in->level, err);
    free(meta);
    free(vagrantfile);
    return rc;
}

const struct bw_exporter bw_exporter_libvirt = {
    .provider = "libvirt",
    .summary = "metadata.json, Vagrantfile and the qcow2 disk as box.img",
    .write_box = libvirt_write_box,
};
