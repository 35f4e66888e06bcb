/*
 * ssh - the communicator: how a build reaches the installed system (libssh).
 *
 * bw_ssh_connect() waits for SSH to come up: it retries the connection and
 * the authentication (a key, a password, or a key then a password) until the
 * timeout, because sshd starts late in a booting guest and an installer's own
 * sshd may answer before the installed system's does. Host keys are not
 * checked: the guest is a fresh VM made by this build, reached over a port
 * forwarded on 127.0.0.1 (the same choice Packer makes).
 *
 * bw_ssh_run() runs one command, feeds it stdin, streams stdout and stderr
 * to a callback as they arrive, and returns the exit status; bw_ssh_upload()
 * writes a file through `cat`, so any POSIX shell on the guest will do (no
 * SFTP subsystem needed: dropbear and busybox guests have none).
 *
 * Passwords never appear in errors or events.
 */
#ifndef BW_SSH_H
#define BW_SSH_H

#include "../base/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>

struct bw_ssh_config {
    const char *host; /* "127.0.0.1" */
    unsigned port;
    const char *user;
    const char *password;                     /* or NULL */
    const char *private_key;                  /* path, or NULL */
    uint64_t timeout_ms;                      /* how long to keep trying to connect and log in */
    const volatile sig_atomic_t *interrupted; /* stop trying when set; may be NULL */
};

/* Receives command output as it arrives. */
typedef void (*bw_ssh_output_fn)(const char *data, size_t len, bool is_stderr, void *ud);

struct bw_ssh;

struct bw_ssh *bw_ssh_connect(const struct bw_ssh_config *cfg, struct bw_error *err);
/*
 * Runs command; stdin_data (len bytes, may be NULL) is its standard input.
 * Returns 0 and the command's exit status in *status (128+N if it died of a
 * signal N), or -1 when the session failed.
 */
int bw_ssh_run(struct bw_ssh *s, const char *command, const void *stdin_data, size_t len,
               bw_ssh_output_fn out, void *ud, int *status, struct bw_error *err);
/* Writes data to remote_path with the given mode. Returns 0 or -1. */
int bw_ssh_upload(struct bw_ssh *s, const char *remote_path, const void *data, size_t len,
                  unsigned mode, struct bw_error *err);
void bw_ssh_close(struct bw_ssh *s);

#endif
