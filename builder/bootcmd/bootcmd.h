/*
 * bootcmd - compiles a boot command into key events.
 *
 * Input is the rendered boot command (templates already expanded). Grammar,
 * compatible with Packer's boot_command:
 *   - any printable ASCII character is typed as itself on a US layout;
 *     shifted characters are wrapped in a shift press and release;
 *   - <name> presses and releases a special key, case-insensitively:
 *     enter return esc tab bs del spacebar insert home end pageUp pageDown
 *     up down left right menu f1..f12, and the modifiers leftAlt rightAlt
 *     leftCtrl rightCtrl leftShift rightShift leftSuper rightSuper
 *     (leftMeta/rightMeta are the same keys as Super);
 *   - <nameOn> presses and holds, <nameOff> releases (<leftCtrlOn>x<leftCtrlOff>);
 *   - <wait> waits 1 s, <wait5> 5 s, <wait1m30s>/<wait250ms> any duration.
 * A "<" that does not start <letters/digits> is typed literally. A
 * well-formed <token> that is not in the list is an error with its position,
 * as are characters no US keyboard types (control characters, non-ASCII).
 *
 * The compiler knows nothing of hypervisors: encodings.h maps the events.
 */
#ifndef BW_BOOTCMD_H
#define BW_BOOTCMD_H

#include "keys.h"
#include "../core/error.h"

#include <stddef.h>
#include <stdint.h>

enum bw_key_action { BW_KEY_PRESS, BW_KEY_RELEASE, BW_KEY_WAIT };

struct bw_key_event {
    enum bw_key_action action;
    enum bw_key key;  /* PRESS/RELEASE */
    uint64_t wait_ms; /* WAIT */
    size_t offset;    /* byte offset in the boot command this event comes from */
};

struct bw_key_events {
    struct bw_key_event *v;
    size_t n, alloc;
};

#define BW_KEY_EVENTS_INIT                                                                         \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * Appends the events for cmd (len bytes) to out. `source` names the boot
 * command in errors (e.g. "definition.json .boot.command"). Returns 0 or -1
 * with BW_ERR_SYNTAX at line:col (1-based within cmd).
 */
int bw_bootcmd_compile(const char *cmd, size_t len, const char *source, struct bw_key_events *out,
                       struct bw_error *err);
void bw_key_events_release(struct bw_key_events *ev);
/* Counts keys pressed (PRESS events), for progress and typing-rate figures. */
size_t bw_key_events_presses(const struct bw_key_events *ev);

/*
 * The length m of a balanced chord starting at ev->v[i]: m presses k1..km
 * followed by the releases km..k1, which a hypervisor can send as one
 * atomic "press these, hold, release" command. 0 when ev->v[i] does not
 * start one (a key held across others, such as <leftShiftOn>).
 */
size_t bw_key_chord_at(const struct bw_key_events *ev, size_t i);

#endif
