/*
 * rfb - a VNC client (the RFB protocol, RFC 6143), for hypervisors whose
 * keyboard and screen are reached only over VNC (VMware's
 * RemoteDisplay.vnc).
 *
 * What a build needs and nothing more: the handshake (versions 3.3, 3.7 and
 * 3.8, security type None), key events by X11 keysym, and the screen as a
 * PPM from raw framebuffer updates in a 32-bit true-colour format the
 * client asks for (DesktopSize followed when the guest changes mode).
 * Every read waits at most the connection's timeout: a server that stops
 * talking is an error, never a hang. What the server sends is parsed with
 * bounds on every size (the framebuffer at most 8192x8192, text at most
 * 1 MiB), and tests/fuzz/fuzz_rfb.c feeds it arbitrary bytes.
 */
#ifndef BW_RFB_H
#define BW_RFB_H

#include "../bootcmd/keys.h"
#include "../base/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bw_rfb;

/* Connects to host:port (retrying refused connections until timeout_ms has passed: the
 * hypervisor opens its VNC port as the VM starts) and shakes hands. */
struct bw_rfb *bw_rfb_connect(const char *host, unsigned port, unsigned timeout_ms,
                              struct bw_error *err);

/* The client on bytes in memory as the server's side (for the fuzz target): the handshake
 * and then every server message, until the bytes run out. Returns 0 if all parsed. */
int bw_rfb_parse_bytes(const uint8_t *data, size_t len, struct bw_error *err);

/* Presses (down) or releases one key, by X11 keysym. */
int bw_rfb_key(struct bw_rfb *r, uint32_t keysym, bool down, struct bw_error *err);

/* Presses keys[0..n) in order, holds them hold_ms, releases them in reverse: the keysym of each is
 * the character it makes in the chord's shift state, as RFB asks. */
int bw_rfb_chord(struct bw_rfb *r, const enum bw_key *keys, size_t n, unsigned hold_ms,
                 struct bw_error *err);

/* Asks for the whole screen and writes it to path as a binary PPM. */
int bw_rfb_screenshot(struct bw_rfb *r, const char *path, struct bw_error *err);

/* The framebuffer's size now, and the name the server gave its desktop. */
void bw_rfb_size(const struct bw_rfb *r, unsigned *width, unsigned *height);
const char *bw_rfb_name(const struct bw_rfb *r);

void bw_rfb_close(struct bw_rfb *r);

#endif
