/*
 * definition - how to build one box, loaded from JSON and validated.
 *
 * bw_definition_load() reads a definition file, checks it against the schema
 * (see docs/definition.md) and returns the typed result. Every problem found
 * is reported, not only the first: each error names the file, the JSON path,
 * the line and column of the offending value, the value itself and what was
 * expected. Unknown keys are errors, with a "did you mean" when a known key is
 * close.
 *
 * Strings in the definition may hold template expressions ({{ user `x` }});
 * they are kept raw here and rendered by the stage that uses them.
 * Paths (http.directory, scripts, keys, seeds) are relative to the directory
 * of the definition file and stay inside it; bw_definition_file() resolves
 * them.
 *
 * The definition owns every string in it; bw_definition_free() frees all.
 */
#ifndef BW_DEFINITION_H
#define BW_DEFINITION_H

#include "../base/error.h"
#include "../render/variables.h"

#include <stdbool.h>
#include <stdint.h>

struct bw_strlist {
    char **v;
    size_t n;
};

struct bw_source {
    struct bw_strlist urls;
    char *checksum;
    char *format;    /* disk images only */
    char *volume_id; /* ISOs only: a POSIX ERE for the volume ID (`detect`), or NULL */
};

/* NoCloud seed files (paths relative to the definition), and how they reach the guest. */
struct bw_cloud_init {
    char *seed;  /* "http" or "cd", or NULL when there is no cloud_init section */
    char *label; /* volume label of the cd seed: "cidata" or "CIDATA" */
    char *user_data, *meta_data, *vendor_data, *network_config;
};

struct bw_provisioner {
    char *script;                  /* path of a script to upload and run, or NULL */
    struct bw_strlist inline_cmds; /* commands to run, when no script */
    bool sudo;                     /* run with sudo (default true) */
};

struct bw_export {
    char *type; /* "vagrant" or "ami" */
    /* vagrant */
    char *provider;    /* "libvirt" */
    char *compression; /* "gzip", "zstd", "none" */
    long level;        /* compression level, -1 for the format's default */
    char *vagrantfile; /* extra lines for the box's Vagrantfile, or NULL */
    /* ami: templates, rendered when the export runs */
    char *region, *bucket, *key, *name, *description; /* key, description may be NULL */
    struct bw_strlist tags;                           /* "KEY=VALUE" */
    uint64_t poll_interval_ms;                        /* between looks at the import; 0: 15 s */
};

struct bw_check {
    char *name;
    char *command; /* run over SSH */
    long expect_status;
    char *expect_output; /* substring that must appear in stdout, or NULL */
};

struct bw_definition {
    char *file; /* the definition file as given */
    char *dir;  /* its directory */

    char *name;
    char *description;
    struct bw_strlist notes; /* what a user should know: what is unverified, and why */
    char *driver;            /* "qemu" or "libvirt", or NULL (qemu unless the command line says) */
    struct {
        char *family, *distro, *version;
    } os;

    /* Where the build starts: an installer ISO, or a disk image (exactly one has urls). */
    struct bw_source iso;   /* "iso" */
    struct bw_source image; /* "image"; format "qcow2", "raw" or "vmdk" */

    struct {
        long cpus;
        uint64_t memory;    /* bytes */
        uint64_t disk_size; /* bytes */
        char *firmware;     /* "bios" or "efi" */
        char *disk_model, *nic_model;
        char *network;        /* "isolated" (restrict=on, HTTP via guestfwd) or "user" (NAT) */
        char *network_reason; /* why the template needs that network, or NULL */
    } vm;

    struct {
        char *method; /* "keys" (type), "kernel" (direct kernel boot) or "none" (boot the disk) */
        uint64_t wait_ms;
        struct bw_strlist command; /* joined without separator, as Packer does */
        char *kernel, *initrd;     /* method "kernel": paths inside the ISO */
        char *append;              /* method "kernel": the kernel command line (a template) */
        uint64_t key_interval_ms;
        uint64_t key_hold_ms;
        long keys_in_flight; /* keys sent and not yet seen on the screen, at most */
        bool read_back;      /* compare the screen with what was typed, and retype */
        struct {
            char *text, *regex;  /* what must be on the screen before typing (one of them) */
            uint64_t timeout_ms; /* ... within this long */
        } wait_for;
        uint64_t accept_timeout_ms;   /* the screen must change this soon after the last key */
        uint64_t stall_timeout_ms;    /* an installer that shows, fetches and writes nothing for
                                       * this long has stopped */
        struct bw_strlist questions;  /* POSIX EREs: a screen row the installer asks with */
        uint64_t question_timeout_ms; /* ... a question still on the screen this long, nothing
                                       * else moving, fails the build */
    } boot;

    struct bw_cloud_init cloud_init;

    /* Answer files on a CD of their own (Windows Setup finds Autounattend.xml at the root of
     * any CD): each file rendered, at the volume's root under its base name. */
    struct {
        struct bw_strlist files;
        char *label; /* the volume ID; "ANSWERS" */
    } cd;

    struct {
        char *directory;               /* served as-is, or NULL */
        struct bw_strlist render;      /* files in directory rendered by the template engine */
        struct bw_strlist proxy_allow; /* hosts proxied to, {{ .HTTPProxy }} */
    } http;

    struct {
        char *username, *password, *private_key;
        long port;
        uint64_t timeout_ms;
    } ssh;

    /* Set instead of ssh: the build reaches the guest over WinRM (Windows). */
    struct {
        bool set;
        char *username, *password;
        long port;
        uint64_t timeout_ms;
        bool use_ssl, insecure;
        char *transport; /* "basic" or "ntlm" */
    } winrm;

    struct bw_provisioner *provision;
    size_t n_provision;

    struct {
        char *command;
        uint64_t timeout_ms;
    } shutdown;

    struct bw_export *exports;
    size_t n_exports;

    struct bw_check *checks;
    size_t n_checks;

    /* Declared variables with their defaults, then the built-ins. */
    struct bw_vars vars;
};

/* The communicator a definition names, whichever it is: "ssh" or "winrm" (key), with the values
 * of that object (templates, not rendered) and its defaults. */
struct bw_comm_def {
    const char *key;
    bool winrm;
    const char *username, *password, *private_key;
    long port;
    uint64_t timeout_ms;
    bool https, insecure, ntlm;
};
void bw_definition_comm(const struct bw_definition *d, struct bw_comm_def *c);

/*
 * Loads and validates path. On success returns a new definition (caller frees
 * with bw_definition_free) and leaves errs empty. On failure returns NULL and
 * appends every problem to errs.
 */
struct bw_definition *bw_definition_load(const char *path, struct bw_errors *errs);
/* Same from memory; `name` is what errors call the file. Used by tests and fuzzing. */
struct bw_definition *bw_definition_load_buffer(const char *name, const char *dir, const char *text,
                                                size_t len, struct bw_errors *errs);
void bw_definition_free(struct bw_definition *def);

/*
 * An error about the value at `path` (".vm.disk_size") found after loading, when the build
 * meets what the definition says: located at the value's line and column in the file as it
 * is now (0 and 0 when the value is a default, or the file changed), code BW_ERR_SCHEMA.
 */
void bw_definition_error(const struct bw_definition *def, struct bw_error *err, const char *path,
                         const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Sets {{ .HTTPProxy }} from {{ .HTTPIP }} and {{ .HTTPPort }} as they are now:
 * "http://IP:PORT/" (the server, as the guest's HTTP proxy) when http.proxy_allow names a host,
 * else "" (an answer file then configures no proxy); unless it was set with --var. */
void bw_definition_set_proxy_var(struct bw_definition *d, const char *origin);

/*
 * The file the definition names at jpath (".provision[0].script"), rel to its directory. Every
 * path a template names stays inside the template: an absolute path, "..", or a symbolic link
 * that leads out is refused (err at the value's line and column). Returns dir/rel (caller
 * frees; it may not exist), or NULL with err.
 */
char *bw_definition_file(const struct bw_definition *def, const char *jpath, const char *rel,
                         struct bw_error *err);

/*
 * Checks what the schema cannot: referenced files exist (http directory and
 * rendered files, scripts, key). Appends problems to errs; returns their count.
 */
size_t bw_definition_check_files(const struct bw_definition *def, struct bw_errors *errs);

/* Makes def build from the installer ISO at path (--iso): its only URL, taken without a
 * checksum. 0, or -1 with err when def builds from a disk image or path cannot be read. */
int bw_definition_use_iso(struct bw_definition *def, const char *path, struct bw_error *err);

/* The source the build starts from: def->image when it has URLs, else def->iso. */
const struct bw_source *bw_definition_source(const struct bw_definition *def);
/* ".image" or ".iso": the JSON path of that source, for errors. */
const char *bw_definition_source_key(const struct bw_definition *def);

/* The boot command as one string (the list joined), before rendering; caller frees. */
char *bw_definition_boot_command(const struct bw_definition *def);

/* Levenshtein distance capped at cap+1; used for "did you mean". */
size_t bw_edit_distance(const char *a, const char *b, size_t cap);

#endif
