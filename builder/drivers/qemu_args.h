/*
 * qemu_args - pieces of a QEMU command line that both QEMU-based drivers
 * write: qemu.c on its own command line, domxml.c in the domain XML's
 * <qemu:commandline> (libvirt has no element for restrict=on or guestfwd).
 */
#ifndef BW_QEMU_ARGS_H
#define BW_QEMU_ARGS_H

#include "driver.h"
#include "../base/buf.h"

/* Where a guest on QEMU's user network reaches boxwright's HTTP server: a guestfwd address
 * (10.0.2.2 is slirp's own address, refused under restrict=on) and port. */
#define BW_QEMU_GUEST_HTTP_IP   "10.0.2.100"
#define BW_QEMU_GUEST_HTTP_PORT 8100
/* The two networks both QEMU-based drivers give a guest, for inspect. */
#define BW_QEMU_ISOLATED_NETWORK                                                                   \
    "user networking with restrict=on, no route off this host; HTTP through guestfwd, SSH "        \
    "through hostfwd on 127.0.0.1"
#define BW_QEMU_USER_NETWORK                                                                       \
    "NAT, the guest reaches what this host reaches; HTTP through guestfwd, SSH through hostfwd "   \
    "on 127.0.0.1"

/* Appends QEMU's user-mode netdev for s: "user,id=ID", restrict=on when isolated, the SSH
 * hostfwd on 127.0.0.1, and the guestfwd of http_guest_ip:http_guest_port to http_dest
 * ("cmd:nc -U SOCKET", "chardev:ID") when that is not NULL. */
void bw_user_netdev(struct bw_buf *b, const struct bw_vm_spec *s, const char *id,
                    const char *http_dest);

/* Appends s to b with every "," doubled, as QEMU option values need. */
void bw_qemu_opt_escape(struct bw_buf *b, const char *s);

/* The QEMU device of a NIC model ("virtio" -> "virtio-net-pci"), or NULL for none. */
const char *bw_nic_device(const char *model);

#endif
