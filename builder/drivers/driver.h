/*
 * driver - one hypervisor behind one table of function pointers.
 *
 * The build composes drivers through struct bw_driver and never names a
 * hypervisor. A driver creates a VM from a struct bw_vm_spec, starts it,
 * types key events in its own encoding, reports power-off, takes
 * screenshots, stops and destroys it. Every member is required but the
 * ones marked "NULL:" below, which callers check before calling
 * (tests/unit/test_drivers.c walks the table for both).
 *
 * Lifetimes: create() copies what it needs from the spec; destroy() kills
 * anything still running, removes the control socket and frees the VM; it
 * accepts NULL, so it is the one cleanup a caller needs on every path.
 */
#ifndef BW_DRIVER_H
#define BW_DRIVER_H

#include "../bootcmd/bootcmd.h"
#include "../base/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bw_vm_spec {
    const char *name;       /* VM name, unique per build */
    const char *workdir;    /* control socket, serial log, driver log go here */
    const char *iso;        /* CD-ROM image, or NULL */
    const char *seed_iso;   /* a second CD-ROM (the cidata seed volume), or NULL */
    const char *answer_iso; /* answer files (Autounattend.xml) on a CD by the ISO's, or NULL */
    const char *kernel;     /* direct kernel boot: kernel and initrd files on this host ... */
    const char *initrd;
    const char *append;        /* ... and the command line; NULL for a firmware boot */
    const char *smbios_serial; /* SMBIOS system serial number (cloud-init reads ds= there) */
    const char *disk;          /* disk image, or NULL */
    const char *disk_format;   /* "qcow2" or "raw" */
    uint64_t memory;           /* bytes */
    long cpus;
    const char *firmware;   /* "bios" or "efi" */
    const char *disk_model; /* "virtio", ... */
    const char *nic_model;  /* "virtio", "e1000", ... */
    const char *accel;      /* "tcg" or "kvm" */
    bool isolated;          /* user networking with restrict=on: no route off the host. false:
                             * plain NAT. Either way the guest reaches boxwright's HTTP server
                             * through guestfwd at http_guest_ip:http_guest_port. */
    unsigned ssh_host_port; /* forwarded to the guest's ssh_guest_port; 0 for none */
    unsigned ssh_guest_port;
    /* Where the guestfwd leads: boxwright's HTTP server on a Unix socket (http_socket; one nc
     * per connection), or for drivers whose guests reach HTTP as one stream the relay on the
     * host loopback (http_port). Neither: no HTTP. */
    const char *http_socket;
    unsigned http_port;
    const char *http_guest_ip; /* where the guest reaches it, e.g. 10.0.2.100 */
    unsigned http_guest_port;  /* ... on this port */
    bool keep_disk_changes;    /* false: the disk is a throwaway (validation) */
    const char *uri;           /* hypervisor connection (libvirt URI); NULL for the default */
    const char *pool;          /* libvirt storage pool for remote hosts; NULL for "default" */
    unsigned vnc_port; /* QEMU: the screen and keyboard on VNC at 127.0.0.1:vnc_port too (5900 and
                        * up, no password: a user watches the install); 0 for none. VMware: the
                        * VNC port it types through (0: a free one) */
    void (*note)(const char *msg, void *ud); /* progress worth telling the user; may be NULL */
    void *note_ud;
};

/* Where a build's VMs run: the driver and how to reach the hypervisor. */
struct bw_hypervisor {
    const struct bw_driver *driver;
    const char *accel; /* "tcg" or "kvm" */
    const char *uri;   /* libvirt connection URI; NULL for qemu:///system */
    const char *pool;  /* libvirt storage pool for remote hosts; NULL for "default" */
};

struct bw_vm;

struct bw_driver {
    const char *name;
    /* The guest's connections to http_guest_ip arrive at http_port as one byte stream (a
     * chardev guestfwd) rather than one connection each to http_socket (a spawned nc): the
     * caller must give a port that splits the stream into requests (bw_http_stream_port()). */
    bool http_as_stream;
    /* Where the guest reaches boxwright's HTTP server ({{ .HTTPIP }}:{{ .HTTPPort }}): an
     * address and port on the guest's network that the driver forwards to the server
     * (http_socket or http_port of the spec), isolated network or not. Port 0: the guest
     * reaches the host's loopback at that address, so the port is http_port itself. */
    const char *guest_http_ip;
    unsigned guest_http_port;
    /* NULL, or: the guest reaches the HTTP server on an address of this host that the driver
     * finds (its NAT's host side, VMware's vmnet8), where the server then listens over TCP
     * (per-client limits on); guest_http_ip only describes it, and guest_http_port 0 means the
     * port the server bound there. Writes the address; 0, or -1 with err. */
    int (*http_host_address)(char *buf, size_t len, struct bw_error *err);
    /* How the guest's network is made, for inspect: on the isolated network (NULL: this
     * hypervisor cannot cut a guest's routes off the host, and create() refuses it) and on
     * plain NAT. */
    const char *isolated_network, *user_network;
    /* The box provider this hypervisor runs natively: what a build exports when neither the
     * definition nor --export names any (and the provider a box validated on it should be). */
    const char *box_provider;
    /* One line on how a build on this driver runs: where files go and how the guest's SSH and
     * HTTP travel (caller frees). uri and pool may be NULL (the defaults). */
    char *(*describe)(const char *uri, const char *pool);
    /* Chooses the accelerator for VMs on this hypervisor: requested is "auto", "kvm" or
     * "tcg"; returns "kvm" or "tcg" (static) and one line on why. uri may be NULL. */
    const char *(*choose_accel)(const char *requested, const char *uri, char *why, size_t whylen);
    struct bw_vm *(*create)(const struct bw_vm_spec *spec, struct bw_error *err);
    /* What start() runs: the command line, one argument per element, NULL-terminated, or for
     * libvirt the domain XML as the one element; borrowed. */
    char *const *(*command)(const struct bw_vm *vm);
    int (*start)(struct bw_vm *vm, struct bw_error *err);
    /* Presses keys[0..n) in order, holds them hold_ms, releases them in reverse: one atomic
     * chord (a shifted character is one). Returns once the hypervisor has taken it; the guest
     * may not have yet (builder/typing/ paces by what the guest shows). */
    int (*send_chord)(struct bw_vm *vm, const enum bw_key *keys, size_t n, unsigned hold_ms,
                      struct bw_error *err);
    /* Presses (down) or releases one key alone, for a key held across others. NULL: the
     * hypervisor cannot; the typist adds held keys to every chord instead. */
    int (*send_key)(struct bw_vm *vm, enum bw_key key, bool down, struct bw_error *err);
    /* Reads len bytes of guest-physical memory at addr into buf (the VGA text screen and the
     * BIOS data area). NULL: unsupported (the typist then cannot read the screen back). */
    int (*read_memory)(struct bw_vm *vm, uint64_t addr, size_t len, void *buf,
                       struct bw_error *err);
    /* Waits until the guest powers off: 0, or -1 with BW_ERR_INTERRUPTED on timeout. */
    int (*wait_off)(struct bw_vm *vm, uint64_t timeout_ms, struct bw_error *err);
    /* NULL: the hypervisor cannot show the screen (typing is then blind, and failures keep no
     * picture). Saves the screen as base + ".png" (or ".ppm" when that is what the hypervisor
     * gives, or when quick asks for the cheapest format: the typist compares screens many times a
     * second, and QEMU takes 33 ms for a PNG, 5 ms for a PPM); returns the path written
     * (caller frees), or NULL with err. */
    char *(*screenshot)(struct bw_vm *vm, const char *base, bool quick, struct bw_error *err);
    /* The guest's serial console so far (a local path; borrowed), or NULL when it is kept on
     * a remote host. NULL (the member): the driver never has one. */
    const char *(*serial_log)(const struct bw_vm *vm);
    /* What the hypervisor process itself printed (a local path; borrowed). NULL (the member)
     * where the driver's errors already carry it: libvirt puts QEMU's words in its own. */
    const char *(*hypervisor_log)(const struct bw_vm *vm);
    int (*stop)(struct bw_vm *vm, struct bw_error *err);
    void (*destroy)(struct bw_vm *vm);
};

/* The UEFI firmware QEMU boots "efi" guests with: Debian's ovmf package puts it at
 * /usr/share/ovmf/OVMF.fd ($BOXWRIGHT_OVMF overrides, for tests). */
const char *bw_ovmf_path(void);

extern const struct bw_driver bw_driver_qemu;
extern const struct bw_driver bw_driver_libvirt;
extern const struct bw_driver bw_driver_virtualbox; /* unproven: no VirtualBox runs here */
extern const struct bw_driver bw_driver_vmware;     /* unproven: no VMware runs here */
extern const struct bw_driver bw_driver_parallels;  /* unproven: no Parallels runs here */

/* The driver table, in order; *n is set to its length. */
const struct bw_driver *const *bw_drivers(size_t *n);

/* Finds a driver by name ("qemu", "libvirt"); NULL if there is none. */
const struct bw_driver *bw_driver_find(const char *name);

/* A TCP port on 127.0.0.1 that is free now, for a hostfwd (0 if none could be had). */
unsigned bw_free_port(void);

/* Does a libvirt URI name another host ("qemu+ssh://user@host/system")? */
bool bw_libvirt_uri_is_remote(const char *uri);

/* The names of all drivers, "qemu, libvirt", for messages (from the table). */
const char *bw_driver_names(void);

#endif
