/*
 * hvcli - what the drivers that work through a hypervisor's own command-line
 * tool share (VBoxManage, prlctl, vmrun).
 *
 * Such a driver plans the commands that make and start its VM when it is
 * created (so that `command()` shows them before anything runs), and runs
 * them in order when it is started. Every command it runs, planned or not,
 * goes through here: it is appended with what it printed to the driver's log
 * (the hypervisor_log), and a tool that is missing is named with how to get
 * it. The tool is looked up in PATH, which is how tests put a stand-in that
 * records and replies in its place.
 */
#ifndef BW_HVCLI_H
#define BW_HVCLI_H

#include "../base/buf.h"
#include "../base/error.h"
#include "../base/spawn.h"
#include "driver.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bw_hvcli_step {
    char **argv;          /* the tool's arguments (not the tool), NULL-terminated */
    unsigned min_version; /* major * 100 + minor it needs, or 0 */
};

struct bw_hvcli {
    const char *tool;    /* "VBoxManage" */
    const char *install; /* how to get it, for the error when it is missing */
    char *log_path;      /* where each command and its output go (0600) */
    struct bw_hvcli_step *steps;
    size_t n, alloc;
    size_t done;   /* steps of the plan that ran and succeeded */
    char *text[2]; /* the plan as shell lines: command()'s one element */
};

void bw_hvcli_init(struct bw_hvcli *c, const char *tool, const char *install, const char *log_path);
void bw_hvcli_release(struct bw_hvcli *c);

/* Adds a step: the tool's arguments, NULL-terminated (each copied). */
void bw_hvcli_plan(struct bw_hvcli *c, unsigned min_version, ...);

/* The plan as text, one shell line per step (a step that needs a version says so). */
char *const *bw_hvcli_command(struct bw_hvcli *c);

/* Runs the tool with args (NULL-terminated); res (may be NULL) gets what it printed. */
int bw_hvcli_runv(struct bw_hvcli *c, char *const *args, struct bw_spawn_result *res,
                  struct bw_error *err);
/* The same with input[0..len) on its standard input (logged after the command). */
int bw_hvcli_runv_input(struct bw_hvcli *c, char *const *args, const char *input, size_t len,
                        struct bw_spawn_result *res, struct bw_error *err);
int bw_hvcli_run(struct bw_hvcli *c, struct bw_spawn_result *res, struct bw_error *err, ...);

/* Runs the plan's steps in order, skipping those that need a newer version than version. */
int bw_hvcli_run_plan(struct bw_hvcli *c, unsigned version, struct bw_error *err);

/* What every VM of a tool-driven driver keeps: its tool, names and paths, the SSH port it is
 * reached on, and where it is in its life (its disk goes back into the build's once, after it
 * ran and is off, when the build keeps its changes). */
struct bw_hvcli_vm {
    struct bw_hvcli cli;
    char *name, *workdir, *serial; /* serial: the serial console's file in workdir */
    unsigned ssh_host_port, ssh_guest_port;
    bool keep, ran, running, synced;
};

/* Fills v from the spec; the tool's log is workdir/log_name. */
void bw_hvcli_vm_init(struct bw_hvcli_vm *v, const char *tool, const char *install,
                      const char *log_name, const struct bw_vm_spec *s);
void bw_hvcli_vm_release(struct bw_hvcli_vm *v);

/* What none of these hypervisors can do, refused before anything runs (the isolated network: their
 * NAT has no restrict; direct kernel boot): 0, or -1 with err naming the hypervisor (shown as
 * display, "VirtualBox"). */
int bw_hvcli_vm_check(const struct bw_vm_spec *s, const char *hypervisor, const char *display,
                      struct bw_error *err);

/* The error for what a hypervisor cannot do: "<hypervisor>: <why> (<value>)". NULL. */
struct bw_vm *bw_hvcli_refuse(struct bw_error *err, const char *hypervisor, const char *why,
                              const char *value);

/* table[i][0] is a key, table[i][1] its value: the value for key, or NULL. */
const char *bw_hvcli_lookup(const char *const (*table)[2], size_t n, const char *key);

/* A number from a VM's name (FNV-1a), for MACs that stay the same for the same name. */
uint32_t bw_hvcli_name_hash(const char *name);

/* These hypervisors run guests on the host's hardware virtualization: "kvm", and why. */
const char *bw_hvcli_choose_accel(const char *hypervisor, const char *requested, char *why,
                                  size_t whylen);

/* Runs the tool with args (NULL-terminated) and base + ".png" as the last: the screenshot's
 * path (caller frees), or NULL with err. */
char *bw_hvcli_capture(struct bw_hvcli *c, const char *base, struct bw_error *err, ...);

/* Polls is_off (each look runs the tool: every half second) until the VM is off, or fails with
 * BW_ERR_INTERRUPTED after timeout_ms, naming the serial console. 0 once off; -1 with err. */
int bw_hvcli_wait_off(int (*is_off)(void *ud, bool *off, struct bw_error *err), void *ud,
                      uint64_t timeout_ms, const char *serial, struct bw_error *err);

/* The first "major.minor" in text (as major * 100 + minor), or 0 when there is none. */
unsigned bw_hvcli_version(const char *text);

/* The value of key="value" (or key=value) in a tool's machine-readable output, copied into
 * out; 0, or -1 when the key is not there. */
int bw_hvcli_value(const char *text, const char *key, char *out, size_t outlen);

#endif
