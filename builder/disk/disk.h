/*
 * disk - disk images, through qemu-img.
 *
 * One install becomes every format a box needs (qcow2, raw, VMDK, VHDX), so
 * the disk is not a hypervisor's business: qemu-img reads and writes them
 * all. The build, validation, the exporters and the libvirt driver's
 * uploads use these calls and never spawn qemu-img themselves. Each
 * call logs nothing and returns 0, or -1 with err naming the image and
 * what qemu-img said.
 */
#ifndef BW_DISK_H
#define BW_DISK_H

#include "../base/error.h"

#include <stdint.h>

/* What qemu-img's own probe makes of an image: its format ("qcow2", "raw", "vmdk", ...) and
 * virtual size in bytes. */
int bw_disk_info(const char *image, uint64_t *virtual_size, char format[16], struct bw_error *err);

/* Creates an empty qcow2 of size bytes. */
int bw_disk_create(const char *path, uint64_t size, struct bw_error *err);

/* Creates a qcow2 at path that writes its changes to itself and reads the rest from backing
 * (in backing_format, given so that qemu never guesses it); size 0 keeps backing's size.
 * backing is never written. */
int bw_disk_overlay(const char *path, const char *backing, const char *backing_format,
                    uint64_t size, struct bw_error *err);

/* Writes image (and whatever it is backed by) as one file in format ("qcow2", "raw",
 * "vmdk", "vhdx"); options, if not NULL, are qemu-img's -o (e.g. "subformat=streamOptimized").
 * Only the clusters in use are written: the compacted disk. */
int bw_disk_convert(const char *image, const char *path, const char *format, const char *options,
                    struct bw_error *err);

/* Refuses an image that would make QEMU open other files of this host: a backing file, an
 * external data file, or a VMDK whose extents are other files (a text descriptor can name any
 * path). A box from elsewhere is checked before it is booted. */
int bw_disk_check_self_contained(const char *image, struct bw_error *err);

/* Sets a VMDK's content id (CID= in its descriptor, which qemu-img makes random) so that the
 * same disk converts to the same bytes; for the sparse subformats, whose descriptor is text in
 * the file's first sectors. */
int bw_disk_set_vmdk_cid(const char *vmdk, uint32_t cid, struct bw_error *err);

/* Sets the identifiers qemu-img makes random in a VHDX (the headers' write GUIDs and sequence
 * numbers, the stale log entry's GUID, the disk's Page 83 id) from seed, checksums recomputed,
 * so that the same disk converts to the same bytes. */
int bw_disk_set_vhdx_ids(const char *vhdx, uint64_t seed, struct bw_error *err);

#endif
