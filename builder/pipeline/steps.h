/*
 * steps - what the files of a build share (private to builder/pipeline/).
 *
 * A build is a table of steps (build.c), each a function of struct bw_build
 * with an optional cleanup that runs, in reverse, whatever happens. The
 * steps live by job: serve.c (http, seed), vm.c (disk, installer, type,
 * install, boot), provision.c (ssh, provision, shutdown), deliver.c (export,
 * validate, manifest), ami.c (ami); evidence.c keeps what a failure leaves behind, and
 * context.c holds what every step uses (events, interruption, rendering).
 */
#ifndef BW_STEPS_H
#define BW_STEPS_H

#include "build.h"
#include "watch.h"
#include "../drivers/driver.h"
#include "../export/export.h"
#include "../../http-server/http_server.h"
#include "../../http-server/stream.h"

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct bw_pending_request {
    char *vm, *method, *path;
    unsigned status;
    uint64_t bytes;
    double seconds;
};

struct bw_build {
    struct bw_definition *def;
    const struct bw_build_options *o;
    char *out, *work;
    char *iso;
    struct bw_http_server *http;
    struct bw_http_stream *relay; /* for drivers whose guests reach HTTP as one stream */
    char *disk;
    char *seed_iso;           /* the cidata volume, when the seed goes on a CD */
    char *answer_iso;         /* the answer-file CD (cd.files), or NULL */
    char *kernel, *initrd;    /* direct kernel boot: copied out of the ISO */
    char *append;             /* ... and the rendered command line */
    char *smbios_serial;      /* "ds=nocloud-net;s=URL" when the seed goes over HTTP */
    const char *http_ip;      /* where the guest reaches the HTTP server ... */
    char http_host_ip[64];    /* ... when it is an address of this host (http_host_address) */
    unsigned http_guest_port; /* ... and on which port (the driver's) */
    char *http_socket;        /* where the server listens (a Unix socket in the work directory) */
    const struct bw_driver *drv;
    struct bw_hypervisor hv;
    struct bw_vm *vm;     /* the VM running now, if any */
    struct bw_comm *comm; /* SSH or WinRM into the installed guest */
    unsigned ssh_port;
    const char *vm_role;   /* the VM running now, for request events ("installer", ...) */
    char *typed;           /* the rendered boot command, or NULL */
    struct bw_watch watch; /* the installer, while it installs */
    /* Requests the HTTP server's threads report, until the main thread reports them. */
    pthread_mutex_t req_lock;
    struct bw_pending_request *reqs;
    size_t n_reqs, alloc_reqs;
    const char *step;
    struct bw_artifact *arts; /* the manifest's list; each name and path owned here */
    size_t n_arts, alloc_arts;
    json_t *amis; /* the images made, for the manifest: {region, name, image, snapshot, ...} */
};

/* context.c: events, interruption, rendering */
void bw_build_say(struct bw_build *b, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool bw_build_from_image(const struct bw_build *b);
void bw_build_emit(struct bw_build *b, const char *kind, const char *msg,
                   const struct bw_build_request *req);
bool bw_build_interrupted(const struct bw_build *b);
int bw_build_check_interrupt(struct bw_build *b, struct bw_error *err);
int bw_build_pause_ms(struct bw_build *b, uint64_t ms, struct bw_error *err);
char *bw_build_render(struct bw_build *b, const char *jpath, const char *raw, struct bw_error *err);

/* serve.c */
void bw_build_report_requests(struct bw_build *b);
int bw_build_step_http(struct bw_build *b, struct bw_error *err);
void bw_build_cleanup_http(struct bw_build *b);
int bw_build_step_seed(struct bw_build *b, struct bw_error *err);
int bw_build_step_cd(struct bw_build *b, struct bw_error *err);

/* vm.c */
int bw_build_step_disk(struct bw_build *b, struct bw_error *err);
void bw_build_cleanup_vm(struct bw_build *b);
int bw_build_step_installer(struct bw_build *b, struct bw_error *err);
int bw_build_step_type(struct bw_build *b, struct bw_error *err);
int bw_build_wait_power_off(struct bw_build *b, uint64_t timeout_ms, bool watch,
                            struct bw_error *err);
int bw_build_step_install(struct bw_build *b, struct bw_error *err);
int bw_build_step_installed(struct bw_build *b, struct bw_error *err);

/* provision.c */
int bw_build_step_ssh(struct bw_build *b, struct bw_error *err);
void bw_build_cleanup_ssh(struct bw_build *b);
int bw_build_step_provision(struct bw_build *b, struct bw_error *err);
int bw_build_step_shutdown(struct bw_build *b, struct bw_error *err);

/* deliver.c */
int bw_build_step_export(struct bw_build *b, struct bw_error *err);
int bw_build_step_validate(struct bw_build *b, struct bw_error *err);
int bw_build_step_manifest(struct bw_build *b, struct bw_error *err);

/* ami.c: the definition's AMI exports, once the box is validated (--export may leave them out) */
bool bw_build_makes_amis(const struct bw_build *b);
int bw_build_step_ami(struct bw_build *b, struct bw_error *err);

/* evidence.c */
void bw_build_save_failure_evidence(struct bw_build *b, struct bw_error *err);

#endif
