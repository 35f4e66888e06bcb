/*
 * forward - a TCP port on 127.0.0.1 whose connections go on to a guest.
 *
 * For hypervisors whose NAT forwards no ports per VM (VMware's vmnet8): the
 * build's SSH connects to 127.0.0.1 as on every driver, and each connection
 * is carried on to the guest's address, asked for when the connection
 * arrives (the guest gets its address from DHCP while it boots). A
 * connection that finds no address yet, or no guest listening, is closed at
 * once: the SSH waiter tries again. At most 16 connections at a time; every
 * socket has send and receive timeouts, so a peer that stops reading stalls
 * nothing for long.
 */
#ifndef BW_FORWARD_H
#define BW_FORWARD_H

#include "../base/error.h"

#include <stddef.h>

/* Writes where a new connection goes (a numeric address); 0, or -1 when it is not known yet. */
typedef int (*bw_forward_target_fn)(void *ud, char *host, size_t hostlen);

struct bw_forward;

/* Listens on 127.0.0.1:listen_port; each connection goes to target's address, dest_port. */
struct bw_forward *bw_forward_start(unsigned listen_port, unsigned dest_port,
                                    bw_forward_target_fn target, void *ud, struct bw_error *err);

/* How many connections were carried through, and how many found no target. */
unsigned bw_forward_count(const struct bw_forward *f, unsigned *refused);

/* Stops listening, closes every connection, frees; accepts NULL. */
void bw_forward_stop(struct bw_forward *f);

#endif
