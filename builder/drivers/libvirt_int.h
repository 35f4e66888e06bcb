/*
 * libvirt_int - what the files of the libvirt driver share (private to it).
 *
 * libvirt.c is the driver (struct bw_driver's members); libvirt_events.c
 * runs the event loop thread, libvirt_storage.c moves volumes to and from a
 * remote host, libvirt_tunnel.c carries a remote VM's forwards over ssh;
 * libvirt_common.c holds what they all use.
 */
#ifndef BW_LIBVIRT_INT_H
#define BW_LIBVIRT_INT_H

#include "driver.h"
#include "../base/error.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

struct bw_vm {
    char *name, *workdir, *uri, *pool_name;
    char *open_uri;   /* uri, with a qemu+ssh:// one's ssh made deaf to Ctrl-C */
    char *ssh_script; /* the script that does that, in the work dir, or NULL */
    char *xml;
    char *argv[2];
    bool remote;
    virConnectPtr conn;
    virDomainPtr dom;
    int cb_id;
    atomic_bool stopped;
    char *serial_path; /* local only */
    char *nvram_path;  /* local EFI domains only: the variables, in the work directory */
    char *local_disk;  /* remote: downloaded back here on power-off (if keep) */
    bool keep_disk;
    virStorageVolPtr disk_vol;
    virStorageVolPtr seed_vol;   /* remote: the seed CD-ROM, uploaded for this VM */
    virStorageVolPtr answer_vol; /* remote: the answer-file CD-ROM, uploaded for this VM */
    char *flat_disk;             /* remote: the flattened copy of the disk that was uploaded */
    bool downloaded;
    void (*note)(const char *msg, void *ud);
    void *note_ud;
    pid_t tunnel; /* ssh -L/-R to a remote host, or 0 */
};

/* The parts of qemu+ssh://[user@]host[:port]/path?keyfile=K&command=SSH&no_verify=1 the
 * tunnel needs, copied into fixed buffers; false if the URI is not qemu+ssh. */
struct ssh_target {
    char user[64], host[256], port[8], keyfile[512], command[512];
    bool no_verify;
};

/* libvirt_common.c */
void bw_lv_note(struct bw_vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double bw_lv_now_s(void);
void bw_lv_quiet(void *ud, virErrorPtr e);
int bw_lv_fail(struct bw_error *err, const char *call, const char *what);

/* libvirt_events.c */
int bw_lv_events_ref(struct bw_error *err);
void bw_lv_events_unref(void);
void bw_lv_on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *ud);

/* libvirt_storage.c */
int bw_lv_recv_fd(virStreamPtr st, const char *data, size_t n, void *ud);
virStorageVolPtr bw_lv_upload(struct bw_vm *vm, virStoragePoolPtr pool, const char *name,
                              const char *path, struct bw_error *err);
int bw_lv_download(struct bw_vm *vm, virStorageVolPtr v, const char *path, struct bw_error *err);
char *bw_lv_remote_iso(struct bw_vm *vm, virStoragePoolPtr pool, const char *iso,
                       struct bw_error *err);

/* libvirt_tunnel.c */
bool bw_lv_parse_ssh_uri(const char *uri, struct ssh_target *t);
int bw_lv_start_tunnel(struct bw_vm *vm, const struct ssh_target *t, unsigned local_ssh,
                       unsigned remote_ssh, unsigned local_http, unsigned remote_http,
                       struct bw_error *err);
void bw_lv_stop_tunnel(struct bw_vm *vm);

#endif
