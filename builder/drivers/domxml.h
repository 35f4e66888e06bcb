/*
 * domxml - a VM spec as libvirt domain XML.
 *
 * Pure: no connection, no files; the libvirt driver passes the paths as the
 * libvirt host sees them (the spec's own for a local daemon, the storage
 * volumes' for a remote one). The golden files under tests/data/libvirt/
 * are this function's output for every template.
 *
 * Networking: libvirt's own <interface type='user'> has neither restrict=on
 * nor port forwards (those need the passt backend, which cannot cut the
 * guest off from the host's routes), so the NIC is the QEMU driver's exact
 * user-mode netdev, given through <qemu:commandline>. libvirt runs QEMU
 * under seccomp with spawn=deny, which kills QEMU when a guestfwd runs `nc`,
 * so the guest's HTTP connections go to a socket chardev instead: one byte
 * stream to http_port that boxwright splits into requests
 * (bw_http_stream_port()).
 */
#ifndef BW_DOMXML_H
#define BW_DOMXML_H

#include "driver.h"

struct bw_domxml_paths {
    const char *iso;    /* CD-ROM as the libvirt host sees it, or NULL */
    const char *seed;   /* the seed CD-ROM as the libvirt host sees it, or NULL */
    const char *disk;   /* disk as the libvirt host sees it, or NULL */
    const char *serial; /* serial console log on the libvirt host, or NULL for none */
    const char *nvram;  /* EFI variables on the libvirt host, or NULL for libvirt's place */
    const char *answer; /* the answer-file CD-ROM as the libvirt host sees it, or NULL */
};

/* Returns the domain XML (caller frees), or NULL with err for a model libvirt cannot express. */
char *bw_domain_xml(const struct bw_vm_spec *spec, const struct bw_domxml_paths *paths,
                    struct bw_error *err);

#endif
