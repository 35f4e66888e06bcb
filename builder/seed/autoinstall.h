/*
 * autoinstall - boxwright's checks of an Ubuntu autoinstall user-data (the
 * #cloud-config that subiquity reads through cloud-init's NoCloud), for
 * `boxwright validate`. cloud-init's own schema sees `autoinstall:` as an
 * opaque mapping; these checks look inside it, with file:line:col from
 * libyaml:
 *   - it parses as YAML and starts with #cloud-config;
 *   - autoinstall is a mapping with `version: 1` and only keys subiquity
 *     knows; subiquity keys left outside it (24.04 refuses those);
 *   - identity (or user-data, or an interactive identity section) so that
 *     nothing is asked; identity has username, hostname and password and
 *     nothing else; keyboard has a layout;
 *   - `shutdown: poweroff`: a build waits for the installer to power off,
 *     and subiquity reboots by default (into the installed system, so the
 *     build would wait out its timeout).
 * A user-data without `autoinstall:` is a plain cloud-config: YAML and the
 * header only. A value that may not be shown (showable says no for its line)
 * is never quoted.
 */
#ifndef BW_AUTOINSTALL_H
#define BW_AUTOINSTALL_H

#include "../base/error.h"

#include <stdbool.h>
#include <stddef.h>

/* Checks the user-data text[0..len) named file; appends errors to errs and returns their
 * count; *is_autoinstall says whether it holds autoinstall:. showable(line, ud) says whether
 * line may be quoted; NULL: every line may. */
size_t bw_autoinstall_check(const char *file, const char *text, size_t len,
                            bool (*showable)(long line, void *ud), void *ud, bool *is_autoinstall,
                            struct bw_errors *errs);

#endif
