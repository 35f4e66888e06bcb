/*
 * agama - boxwright's checks of an Agama profile (openSUSE Leap 16 and later,
 * `inst.auto=`), for `boxwright validate`. Agama's own validator
 * (`agama config validate`) needs a running Agama, and its JSON Schema is not
 * packaged for Debian. Checked:
 *   - the profile is JSON (jansson, duplicate keys refused) whose root is an
 *     object;
 *   - what an unattended build needs: `product.id` (else Agama asks which
 *     product to install) and a login, `user` with `userName` and `password`
 *     or `root` with `password` or `sshPublicKey`;
 *   - the types Agama's schema gives these members, and `scripts`: each of
 *     pre, postPartitioning, post and init a list of scripts with a `name` and
 *     exactly one of `body` and `url` (`chroot`, on post, a boolean).
 * How the install ends is not in the profile: the boot line's
 * `inst.finish=poweroff` (Agama reboots by default) is what a build needs.
 *
 * Errors carry file:line:col; they never quote a value (passwords are values).
 */
#ifndef BW_AGAMA_H
#define BW_AGAMA_H

#include "../base/error.h"

#include <stddef.h>

/* Checks the profile text[0..len) named file; appends errors to errs and returns their count. */
size_t bw_agama_check(const char *file, const char *text, size_t len, struct bw_errors *errs);

#endif
