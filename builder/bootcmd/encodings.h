/*
 * encodings - how each hypervisor names the keys of keys.h.
 *
 * One small table per encoding, each in its own file, each tested against
 * the same event list:
 *   qmp       QEMU QKeyCode names, for QMP send-key / input-send-event
 *   linux     Linux input event codes (linux/input-event-codes.h), for
 *             libvirt's virDomainSendKey with VIR_KEYCODE_SET_LINUX
 *   scancode  PC/XT scan code set 1 make/break bytes, for VirtualBox's
 *             keyboardputscancode (break = make | 0x80, E0 prefix kept)
 *   keysym    X11 keysyms, for RFB/VNC KeyEvent; a character key sends the
 *             keysym of the character the current shift state produces,
 *             as the RFB protocol asks
 */
#ifndef BW_ENCODINGS_H
#define BW_ENCODINGS_H

#include "bootcmd.h"
#include "../base/buf.h"

#include <stdint.h>

enum bw_key_encoding { BW_ENC_EVENTS, BW_ENC_QMP, BW_ENC_LINUX, BW_ENC_SCANCODE, BW_ENC_KEYSYM };

/* Parses an encoding name; returns 0 or -1. */
int bw_key_encoding_parse(const char *name, enum bw_key_encoding *out);
/* "events|qmp|linux|scancode|keysym" for help and errors. */
const char *bw_key_encoding_names(void);

/* QKeyCode name, or NULL if the key has none. */
const char *bw_key_qcode(enum bw_key key);
/* Linux input code, or 0 if none. */
unsigned bw_key_linux(enum bw_key key);
/* Set-1 bytes for a press (make) or release (break) into out[4]; returns how many (0 if none). */
size_t bw_key_scancode(enum bw_key key, bool release, uint8_t out[4]);
/* X11 keysym for the key under the given shift state, or 0 if none. */
uint32_t bw_key_keysym(enum bw_key key, bool shifted);

/* Writes one line per event in the encoding ("press ret", "release 9c", "wait 1000ms"). */
void bw_key_events_format(const struct bw_key_events *ev, enum bw_key_encoding enc,
                          struct bw_buf *out);

#endif
