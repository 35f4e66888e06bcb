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
 * boxwright adds one token Packer does not have (a "<" followed by a space
 * was typed literally before, so no Packer command means anything else by it):
 *   - <expect "text"> waits until the guest's screen shows text, and
 *     <expect /regex/> until a POSIX extended regular expression matches a
 *     line of it; an optional duration bounds the wait (<expect "boot:" 30s>,
 *     default 2 minutes). Inside the quotes or slashes a backslash escapes the
 *     next character (\" \/ \\).
 * A "<" that does not start <letters/digits> is typed literally. A
 * well-formed <token> that is not in the list is an error with its position,
 * as are characters no US keyboard types (control characters, non-ASCII).
 *
 * The compiler knows nothing of hypervisors: encodings.h maps the events.
 */
#ifndef BW_BOOTCMD_H
#define BW_BOOTCMD_H

#include "keys.h"
#include "../base/error.h"

#include <stddef.h>
#include <stdint.h>

enum bw_key_action { BW_KEY_PRESS, BW_KEY_RELEASE, BW_KEY_WAIT, BW_KEY_EXPECT };

struct bw_key_event {
    enum bw_key_action action;
    enum bw_key key;  /* PRESS/RELEASE */
    uint64_t wait_ms; /* WAIT: how long; EXPECT: the longest it waits */
    size_t offset;    /* byte offset in the boot command this event comes from */
    char ch;          /* PRESS/RELEASE of a typed character: the character it should show on the
                       * guest's screen (on the key itself and on a shift around it); else 0 */
    bool regex;       /* EXPECT: text is a regular expression, not plain text */
    char *text;       /* EXPECT: what the screen must show (owned by the list) */
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
/* The longest a boot command may be, in bytes, and <expect>'s default wait. */
#define BW_BOOTCMD_MAX       (64 * 1024)
#define BW_EXPECT_DEFAULT_MS (2 * 60 * 1000)

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
