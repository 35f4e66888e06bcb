/* The tests' installer ISO, built once per build tree and again when its script changes. */
#ifndef BW_E2E_FIXTURE_H
#define BW_E2E_FIXTURE_H

#include <stdbool.h>
#include <jansson.h>
#include <stddef.h>

/* Returns the ISO's path (caller frees); aborts the test if it cannot be built. */
char *e2e_fixture_iso(void);

/* The tests' stand-in for a Debian 12 cloud image (qcow2, with SHA512SUMS beside it), built by
 * tests/fixtures/build-debian-cloud-disk once and again when the script changes (about 2
 * minutes). Returns its path (caller frees); aborts the test if it cannot be built. */
char *e2e_fixture_cloud_disk(void);

/* A stand-in for a distro's cloud image in the distro's layout (tests/fixtures/build-cloud-stand-in
 * LAYOUT: ubuntu-24.04, rocky-9, almalinux-9, fedora), laid out from the Debian disk above: the
 * image file `image` and the checksum file `sums` in the directory returned (caller frees). Built
 * when missing, and again when the script or the Debian disk changes (about a minute). */
char *e2e_fixture_cloud_stand_in(const char *layout, const char *image, const char *sums);

/* An ISO laid out like Debian 12's netinst, from Debian's real installer
 * (tests/fixtures/build-debian-netinst), with OUT.iso.sha256 beside it; and a small mirror of
 * the installer components the apt mirror serves (tests/fixtures/build-debian-mirror). Each is
 * built once and again when its script changes. Return paths (caller frees). */
char *e2e_fixture_debian_netinst(void);
char *e2e_fixture_debian_mirror(void);

/* A directory of ISOs that boot Debian's GRUB under OVMF with menus shaped like distros'
 * (tests/fixtures/build-grub-replicas: rhel-9.iso, fedora.iso, ubuntu.iso), whose entries boot the
 * tests' installer kernel. Built once, again when its script changes. Returns its path (caller
 * frees). */
char *e2e_fixture_grub_replicas(void);

/* Processes (other than this one) whose command line mentions needle and, if not NULL, also
 * `and`. */
int e2e_processes_with(const char *needle, const char *and);

/* An argument list built up one argument at a time, always NULL-terminated. */
struct e2e_args {
    char *v[40];
    size_t n;
};
void e2e_push(struct e2e_args *a, const char *s);

/* Runs argv (boxwright) with only cache_env ("BOXWRIGHT_CACHE_DIR=...") and a standard PATH in
 * its environment; returns its exit status, with its output in res. */
struct bw_spawn_result;
int e2e_run(char *const argv[], const char *cache_env, struct bw_spawn_result *res);

/* Starts argv (a build with --json) as e2e_run() would, in a process group of its own, and
 * sends sig to that group, as a terminal sends Ctrl-C to its foreground group, once the event of
 * `step` has begun; returns its exit status and appends its events to log. */
struct bw_buf;
int e2e_signal_at(char *const argv[], const char *cache_env, const char *step, struct bw_buf *log,
                  int sig);

/* The same, sending sig once ready(line, ud) is true of a line of its output; `what` says in a
 * failure what was waited for. */
int e2e_signal_when(char *const argv[], const char *cache_env, bool (*ready)(const char *, void *),
                    void *ud, const char *what, struct bw_buf *log, int sig);

/* Copies templates/NAME to WORK/NAME and returns its definition, for the test to change, with
 * its path in *def_path (caller frees); e2e_save_json() writes it back and releases it. */

json_t *e2e_copy_template(const char *work, const char *name, char **def_path);
void e2e_save_json(json_t *def, const char *path);

/* The tests' environment: 77 (after saying why) when VM tests are skipped (BW_SKIP_VM_TESTS)
 * or BW_E2E_DRIVER=libvirt lacks tests/e2e/with-libvirtd around it; else 0, with *libvirt and
 * *lv_uri (BW_LIBVIRT_URI) set. */
int e2e_environment(bool *libvirt, const char **lv_uri);

#endif
