/*
 * export - what a build hands to its users: Vagrant boxes and a manifest.
 *
 * A libvirt box (vagrant-libvirt's v1 format) is a tar archive, gzip (or
 * zstd, or no) compressed, with three members at its root:
 *   metadata.json  {"provider":"libvirt","format":"qcow2","virtual_size":N}
 *                  N in GiB, rounded up (vagrant-libvirt reads it as GiB and
 *                  its own tools round up; rounding down makes a smaller disk)
 *   Vagrantfile    libvirt.driver "kvm", or "qemu" when built without KVM
 *   box.img        the qcow2 disk
 * The archive is written with libarchive in the POSIX (pax) format, which
 * keeps sizes past 8 GiB exact; this machine's vagrant accepted tar.gz, tar
 * and tar.zst boxes.
 *
 * The manifest (manifest.json) lists every artifact with its size and
 * sha256, so a pipeline can check what it publishes.
 */
#ifndef BW_EXPORT_H
#define BW_EXPORT_H

#include "../base/error.h"

#include <jansson.h>

#include <stdint.h>

struct bw_box_options {
    const char *compression; /* "gzip", "zstd" or "none" */
    long level;              /* -1 for the format's default */
    const char *driver;      /* "kvm" or "qemu", for the box's Vagrantfile */
    const char *vagrantfile; /* extra lines inside its configure block, or NULL */
};

/* The virtual size (bytes) and format of a disk image, from `qemu-img info`. */
int bw_disk_info(const char *image, uint64_t *virtual_size, char format[16], struct bw_error *err);

/* Writes a libvirt box for disk (a qcow2) to box_path. Returns 0 or -1. */
int bw_export_libvirt_box(const char *disk, const char *box_path, const struct bw_box_options *o,
                          struct bw_error *err);

/* Extracts box.img from a box (any compression libarchive reads) to dest. Returns 0 or -1. */
int bw_box_extract_image(const char *box, const char *dest, struct bw_error *err);

struct bw_artifact {
    const char *path; /* as it will be listed (relative to the manifest) */
    const char *file; /* where it is now */
    const char *type; /* "vagrant-box", "disk", "junit", ... */
};

/* Writes manifest.json listing each artifact with size and sha256, plus the members of
 * `extra` (a JSON object, borrowed; may be NULL) such as what the guest fetched. Returns 0 or
 * -1. */
int bw_write_manifest(const char *manifest_path, const char *name, const struct bw_artifact *a,
                      size_t n, json_t *extra, struct bw_error *err);

#endif
