/*
 * export - what every box format shares: the box archive, the disk's
 * size and format, and the manifest. The formats themselves are rows of
 * the exporter table (exporter.h), one file each.
 *
 * A Vagrant box is a tar archive, gzip (or zstd, or no) compressed, with its
 * members at the root. It is written with libarchive in the POSIX (pax)
 * format, which keeps sizes past 8 GiB exact; this machine's vagrant accepted
 * tar.gz, tar and tar.zst boxes. With $SOURCE_DATE_EPOCH set, every member
 * (and gzip's header) carries that time, so the same disk gives the same
 * bytes.
 *
 * The manifest (manifest.json) lists every artifact with its size and
 * sha256, so a pipeline can check what it publishes.
 */
#ifndef BW_EXPORT_H
#define BW_EXPORT_H

#include "../base/error.h"

#include <jansson.h>

#include <stdint.h>

/* One member of a box: the text `data`, or the contents of `file` when it is set. */
struct bw_box_member {
    const char *name;
    const char *data;
    const char *file;
};

/* Writes the members, in order, as a box at box_path (through box_path.tmp: nothing half
 * written is left). compression: "gzip", "zstd" or "none"; level -1 for its default. */
int bw_box_write(const char *box_path, const struct bw_box_member *m, size_t n,
                 const char *compression, long level, struct bw_error *err);

/* A box's Vagrantfile: a Vagrant.configure block holding the format's lines, then the
 * definition's own (either may be NULL), each line indented into it. Caller frees. */
char *bw_export_vagrantfile(const char *format_lines, const char *user_lines);

/* Extracts the disk of a box (box.img, or the .vmdk of a VirtualBox or VMware box; any
 * compression libarchive reads) to dest, whatever its format. Returns 0 or -1. */
int bw_box_extract_image(const char *box, const char *dest, struct bw_error *err);

struct bw_artifact {
    const char *path;     /* as it will be listed (relative to the manifest) */
    const char *file;     /* where it is now */
    const char *type;     /* "vagrant-box", "disk", "junit", ... */
    const char *provider; /* a box's Vagrant provider, or NULL */
};

/* Writes manifest.json listing each artifact with size and sha256, plus the members of
 * `extra` (a JSON object, borrowed; may be NULL) such as what the guest fetched. Returns 0 or
 * -1. */
int bw_write_manifest(const char *manifest_path, const char *name, const struct bw_artifact *a,
                      size_t n, json_t *extra, struct bw_error *err);

#endif
