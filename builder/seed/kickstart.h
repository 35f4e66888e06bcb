/*
 * kickstart - boxwright's own checks of an Anaconda kickstart file, for
 * `boxwright validate` (pykickstart's ksvalidator is not packaged for Debian).
 *
 * Lines are split as Anaconda splits them (shell words: quotes, backslashes,
 * a '#' that starts a word starts a comment). Checked:
 *   - every command is one RHEL 9 or current Fedora knows; a removed one
 *     (auth, authconfig, install, ...) says what replaced it;
 *   - sections (%packages, %pre, %pre-install, %post, %onerror, %traceback,
 *     %addon NAME, %anaconda) open at the top level and close with %end;
 *   - a command given twice that may be given once, and commands that
 *     exclude each other (autopart with part/logvol/raid/volgroup/reqpart,
 *     text/graphical/cmdline, two completion commands);
 *   - what an unattended install needs, so that Anaconda asks nothing: a disk
 *     layout, a root password or a user, lang, keyboard, timezone, a user's
 *     --name; and the end boxwright waits for: `poweroff` (or `shutdown`).
 *     A build's install step waits for the installer to power off, so
 *     `reboot` would boot the installed system and `halt` (Anaconda's default)
 *     stop without powering off: both wait out the build's timeout.
 * With a top-level %include or %ksappend the file is only part of the
 * kickstart, and the "needs" checks are left out.
 *
 * Errors carry file:line:col. A line that may not be shown (it holds a
 * secret) is never quoted: showable(line) decides.
 */
#ifndef BW_KICKSTART_H
#define BW_KICKSTART_H

#include "../base/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Checks the kickstart text[0..len) named file; appends errors to errs and returns their
 * count. showable(line, ud) says whether line may be quoted; NULL: every line may. */
size_t bw_kickstart_check(const char *file, const char *text, size_t len,
                          bool (*showable)(long line, void *ud), void *ud, struct bw_errors *errs);

#endif
