/* The tests' installer ISO, built once per build tree and again when its script changes. */
#ifndef BW_E2E_FIXTURE_H
#define BW_E2E_FIXTURE_H

/* Returns the ISO's path (caller frees); aborts the test if it cannot be built. */
char *e2e_fixture_iso(void);

/* The tests' stand-in for a Debian 12 cloud image (qcow2, with SHA512SUMS beside it), built by
 * tests/fixtures/build-debian-cloud-disk once and again when the script changes (about 2
 * minutes). Returns its path (caller frees); aborts the test if it cannot be built. */
char *e2e_fixture_cloud_disk(void);

/* Processes (other than this one) whose command line mentions needle and, if not NULL, also
 * `and`. */
int e2e_processes_with(const char *needle, const char *and);

/* Starts argv (a build with --json) with envp and sends sig once the event of `step` has
 * begun; returns its exit status and appends its events to log. */
struct bw_buf;
int e2e_signal_at(char *const argv[], char *const envp[], const char *step, struct bw_buf *log,
                  int sig);

#endif
