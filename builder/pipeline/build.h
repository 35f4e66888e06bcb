/*
 * build - one run that turns a definition into a validated box, as an
 * ordered list of steps. Each step has run() and cleanup(); the runner calls
 * the cleanups of every step that ran, in reverse, on success, failure and
 * interruption alike: that one place is where "no VM left running, no
 * server left listening, no stray files" holds.
 *
 * Steps: output directory, ISO (through the cache), HTTP server with the
 * rendered answer files, disk, installer VM, boot wait and typing, install
 * (until the installer powers off), installed VM, SSH, provisioning,
 * shutdown, export (compacted qcow2, Vagrant box per export, manifest), and
 * validation of the exported image (unless skipped).
 *
 * On failure the guest's screen (PNG) and the tail of its serial console are
 * saved in the output directory and the error says where.
 */
#ifndef BW_BUILD_H
#define BW_BUILD_H

#include "../core/definition.h"
#include "../base/error.h"
#include "../drivers/driver.h"

#include <stdbool.h>
#include <signal.h>

enum bw_on_error { BW_ON_ERROR_CLEANUP, BW_ON_ERROR_ABORT };

/* One HTTP request from a guest, as a build reports it. */
struct bw_build_request {
    const char *vm;     /* the VM that asked: "installer", "installed", "first-boot" */
    const char *method; /* "GET", "HEAD", "OTHER" */
    const char *path;   /* as requested, bytes outside printable ASCII as %XX, secrets masked */
    unsigned status;
    uint64_t bytes;
    double seconds;
    const char *nearest; /* for a 403/404: the served file with the closest name, or NULL */
};

/*
 * What a build tells its caller. kind: "step" (a step begins; msg is its name), "info",
 * "warning", "output" (a line a provisioner printed), "request" (the guest asked the HTTP
 * server for something; request says what, msg sums it up in one line). Every msg is one
 * line with secrets masked.
 */
struct bw_build_event {
    const char *step;
    const char *kind;
    const char *msg;
    const struct bw_build_request *request; /* kind "request" only */
};
typedef void (*bw_build_event_fn)(const struct bw_build_event *ev, void *ud);

struct bw_build_options {
    const char *output_dir; /* default output-NAME */
    bool force;             /* replace an existing output directory */
    enum bw_on_error on_error;
    bool keep; /* keep the work directory (disk, logs) when the build ends, however it ends */
    bool skip_validate;
    const char *accel;        /* "tcg" (default) or "kvm" */
    const char *driver;       /* "qemu" or "libvirt"; NULL: the definition's */
    const char *libvirt_uri;  /* NULL: qemu:///system */
    const char *libvirt_pool; /* NULL: "default" (remote hosts only) */
    /* Providers to export, comma-separated ("libvirt,virtualbox"), instead of the definition's
     * list; each keeps the definition's settings where it lists that provider. NULL: the
     * definition's. Checked by bw_build_check_exports(). */
    const char *exports;
    bool own_iso; /* --iso: the ISO is the user's file, taken without a checksum */
    const volatile sig_atomic_t *interrupted; /* set by the caller's signal handler */
    bw_build_event_fn on_event;
    void *ud;
};

/* Checks an --export list: known providers (the exporter table), each once, none empty.
 * Returns 0, or -1 with err saying which and what is expected. */
int bw_build_check_exports(const char *list, struct bw_error *err);

/* Whether an --export list (may be NULL) names `name`. */
bool bw_build_export_listed(const char *list, const char *name);

/* Runs the build. Returns 0, or -1 with err (and the artifacts of a failure saved). */
int bw_build_run(struct bw_definition *def, const struct bw_build_options *o, struct bw_error *err);

struct bw_check_result {
    char *name;
    bool passed;
    char *output;  /* what the command printed (stdout then stderr) */
    char *problem; /* why it failed, or NULL */
    double seconds;
};

/* How a validation reports and stops: every member may be zero. */
struct bw_validate_opts {
    const char *junit_path;                   /* a JUnit XML report written here */
    const volatile sig_atomic_t *interrupted; /* set by the caller's signal handler */
    void (*say)(void *ud, const char *msg);   /* progress, one line at a time */
    void *ud;
};

/*
 * Boots image on hv (any format qemu-img reads: qcow2, VMDK, ..., through a throwaway
 * qcow2 overlay in workdir), logs in as the definition's SSH user and runs its checks.
 * Fills results (caller frees with bw_check_results_free, on every return). Returns the
 * number of failed checks, or -1 when the image could not be booted or reached, or the run
 * was interrupted (err's code BW_ERR_INTERRUPTED; the VM is stopped at once).
 */
int bw_validate_image(const struct bw_definition *def, const char *image, const char *workdir,
                      const struct bw_hypervisor *hv, const struct bw_validate_opts *o,
                      struct bw_check_result **results, size_t *n, struct bw_error *err);
void bw_check_results_free(struct bw_check_result *r, size_t n);

/* The driver a build of def uses: `name` if given, else the definition's, else qemu. NULL with
 * err when there is no such driver. */
const struct bw_driver *bw_build_driver(const struct bw_definition *def, const char *name,
                                        struct bw_error *err);

/* A VM name no other build shares, on this host or another: boxwright-BUILD-PID-RANDOM-ROLE. */
char *bw_vm_name(const char *build, const char *role);

#endif
