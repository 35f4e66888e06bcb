/*
 * accel - choosing KVM or TCG for QEMU.
 *
 * /dev/kvm existing is not enough: on nested-virtualisation hosts such as
 * the machines boxwright is tested on, SeaBIOS runs under KVM but isolinux
 * and the Linux kernel hang entering protected/long mode. So "auto" boots the
 * host's newest /boot/vmlinuz-* under KVM with a serial console and waits up
 * to five seconds for its "Linux version" banner: the banner means KVM works,
 * silence means it hangs. The verdict is cached per machine boot (keyed by
 * /proc/sys/kernel/random/boot_id) so only the first build pays for it.
 */
#ifndef BW_ACCEL_H
#define BW_ACCEL_H

#include <stddef.h>

/*
 * requested: "auto", "kvm" or "tcg". Returns "kvm" or "tcg" (static) and a
 * one-line reason in why.
 */
const char *bw_accel_choose(const char *requested, char *why, size_t whylen);

#endif
