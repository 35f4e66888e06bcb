/*
 * exporter - the box formats, one row each.
 *
 * A build installs once and exports the installed disk (compacted, qcow2) to
 * each provider its definition lists. Each format is one file holding one
 * `struct bw_exporter`, and one row in exporter.c; the definition's
 * `exports[].provider` accepts exactly the names in that table.
 */
#ifndef BW_EXPORTER_H
#define BW_EXPORTER_H

#include "../base/error.h"

#include <stdbool.h>
#include <stdint.h>

/* What an exporter is given. */
struct bw_export_input {
    const char *name;    /* the box's name (the definition's) */
    const char *workdir; /* scratch space for converted disks, removed by the caller */
    const char *disk;    /* the installed disk, compacted: a qcow2 */
    uint64_t memory;     /* bytes, for formats that carry the VM's hardware */
    long cpus;
    bool efi;                /* the guest boots through UEFI */
    const char *os_family;   /* "linux", "bsd", "windows" */
    const char *os_distro;   /* "debian", "ubuntu", ... or NULL */
    bool kvm;                /* the build ran with KVM (a box may say which accelerator) */
    const char *compression; /* "gzip", "zstd" or "none" */
    long level;              /* -1 for the compression's default */
    const char *vagrantfile; /* the definition's extra Vagrantfile lines, or NULL */
};

struct bw_exporter {
    const char *provider; /* Vagrant's provider name: the box is <name>-<provider>.box */
    const char *summary;  /* what the box holds, in a few words (inspect, --help) */
    /* Writes the box to box_path. Returns 0 or -1 with err; nothing is left on failure. */
    int (*write_box)(const struct bw_export_input *in, const char *box_path, struct bw_error *err);
};

extern const struct bw_exporter bw_exporter_libvirt;
extern const struct bw_exporter bw_exporter_virtualbox;
extern const struct bw_exporter bw_exporter_vmware;
extern const struct bw_exporter bw_exporter_hyperv; /* unproven: no Hyper-V runs here */

/* The exporter for a provider; NULL if there is none. */
const struct bw_exporter *bw_exporter_find(const char *provider);

/* Every provider name, NULL-terminated, in the table's order. */
const char *const *bw_exporter_providers(void);

#endif
