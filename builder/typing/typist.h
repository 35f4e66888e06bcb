/*
 * typist - types a boot command into a guest and makes sure it arrived.
 *
 * Keys are not sent open-loop. The guest's keyboard path holds little (QEMU
 * queues 50 input events and drops the rest; its PS/2 keyboard holds 16 bytes
 * until the guest reads them; the BIOS buffer 15 keys), and a guest under
 * load, or a loader whose line editing slows as the line grows (isolinux),
 * reads them late. So:
 *
 *  - at most `window` keys are in flight: sent, and not yet seen on the
 *    screen. In a text mode "seen" means the character is in the guest's
 *    line at the cursor (read from guest memory); in a graphics mode, that
 *    the screen changed since they were sent.
 *  - in a text mode every run of characters is compared with what was meant
 *    as it arrives, and always before the key that ends it (<enter>, <tab>,
 *    ...). A wrong character is erased with backspaces back to the last
 *    correct one and the rest typed again (modifiers released first: a lost
 *    release leaves shift stuck); keys that never arrived are sent again.
 *    Both are bounded; past the bound the typing fails with the screen.
 *  - <expect "text"> waits for the screen rather than the clock.
 *  - a graphics screen cannot be read: the typist says so, paces by screen
 *    changes and keeps a screenshot of each run.
 *  - after the last key, when it ends the command, the screen must change
 *    within accept_ms: a guest still showing the prompt it was given a
 *    command at is a failure, reported with the screen, at once.
 */
#ifndef BW_TYPIST_H
#define BW_TYPIST_H

#include "screen.h"
#include "../bootcmd/bootcmd.h"
#include "../drivers/driver.h"

#include <signal.h>
#include <stdbool.h>

struct bw_typing_options {
    unsigned hold_ms;     /* each chord held this long (QMP hold-time) */
    unsigned interval_us; /* at least this long between two chords */
    unsigned window;      /* keys in flight, at most; 0: 4 */
    bool blind;           /* never read the screen back (pace by the clock alone) */
    unsigned accept_ms;   /* after the last key, the time the screen has to change; 0: none */
    const char *workdir;  /* screenshots go here (stage-N.ppm/png when typing blind) */
    const volatile sig_atomic_t *interrupted;
    /* kind "info" or "warning"; msg is one line. May be NULL. */
    void (*note)(const char *kind, const char *msg, void *ud);
    void *ud;
};

struct bw_typing_report {
    size_t chars;      /* characters meant (each once, however often retyped) */
    size_t keys;       /* chords sent, retypes and erasing included */
    size_t retyped;    /* characters sent again */
    size_t repairs;    /* times wrong characters were erased */
    size_t reads;      /* text screen reads */
    size_t verified;   /* characters seen right on the screen */
    size_t blind_runs; /* runs typed without reading back */
    double seconds;    /* the whole command, waits and expectations included */
    double typing;     /* of which typing characters */
};

/*
 * Types ev into vm through drv. Returns 0, or -1 with err (BW_ERR_INTERRUPTED when
 * interrupted; the message of any other failure ends with the screen's text). Fills r.
 */
int bw_type(const struct bw_driver *drv, struct bw_vm *vm, const struct bw_key_events *ev,
            const struct bw_typing_options *o, struct bw_typing_report *r, struct bw_error *err);

#endif
