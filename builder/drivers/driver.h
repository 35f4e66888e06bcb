/*
 * driver - one hypervisor behind one table of function pointers.
 *
 * The build composes drivers through struct bw_driver and never names a
 * hypervisor. A driver creates a VM from a struct bw_vm_spec, starts it,
 * types key events in its own encoding, reports power-off, takes
 * screenshots, stops and destroys it. An entry left NULL means the driver
 * does not support that operation; callers report it as unsupported.
 *
 * Lifetimes: create() copies what it needs from the spec; destroy() kills
 * anything still running, removes the control socket and frees the VM; it
 * accepts NULL, so it is the one cleanup a caller needs on every path.
 */
#ifndef BW_DRIVER_H
#define BW_DRIVER_H

#include "../bootcmd/bootcmd.h"
#include "../core/error.h"

#include <stdbool.h>
#include <stdint.h>

struct bw_vm_spec {
    const char *name;        /* VM name, unique per build */
    const char *workdir;     /* control socket, serial log, driver log go here */
    const char *iso;         /* CD-ROM image, or NULL */
    const char *disk;        /* disk image, or NULL */
    const char *disk_format; /* "qcow2" or "raw" */
    uint64_t memory;         /* bytes */
    long cpus;
    const char *firmware;   /* "bios" or "efi" */
    const char *disk_model; /* "virtio", ... */
    const char *nic_model;  /* "virtio", "e1000", ... */
    const char *accel;      /* "tcg" or "kvm" */
    bool isolated;          /* user networking with restrict=on: no route off the host */
    unsigned ssh_host_port; /* forwarded to the guest's ssh_guest_port; 0 for none */
    unsigned ssh_guest_port;
    unsigned http_port;        /* boxwright's HTTP server on the host loopback; 0 for none */
    const char *http_guest_ip; /* where the guest reaches it (guestfwd), e.g. 10.0.2.100 */
};

/* How keys are typed: each key held for hold_ms, a new key every interval_ms. */
struct bw_key_timing {
    uint64_t hold_ms;
    uint64_t interval_ms;
};

struct bw_vm;

struct bw_driver {
    const char *name;
    struct bw_vm *(*create)(const struct bw_vm_spec *spec, struct bw_error *err);
    /* The command line start() runs, one argument per element, NULL-terminated; borrowed. */
    char *const *(*command)(const struct bw_vm *vm);
    int (*start)(struct bw_vm *vm, struct bw_error *err);
    int (*send_keys)(struct bw_vm *vm, const struct bw_key_events *ev,
                     const struct bw_key_timing *timing, struct bw_error *err);
    /* Waits until the guest powers off: 0, or -1 with BW_ERR_INTERRUPTED on timeout. */
    int (*wait_off)(struct bw_vm *vm, uint64_t timeout_ms, struct bw_error *err);
    int (*screenshot)(struct bw_vm *vm, const char *png_path, struct bw_error *err);
    /* The guest's serial console so far (a path; borrowed). */
    const char *(*serial_log)(const struct bw_vm *vm);
    int (*stop)(struct bw_vm *vm, struct bw_error *err);
    void (*destroy)(struct bw_vm *vm);
};

extern const struct bw_driver bw_driver_qemu;

/* Finds a driver by name ("qemu"); NULL if there is none. */
const struct bw_driver *bw_driver_find(const char *name);

#endif
