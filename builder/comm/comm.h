/*
 * comm - the build's way into the installed system, whichever it is: SSH
 * (ssh.c) for Linux and the BSDs, WinRM (winrm.c) for Windows. The pipeline
 * connects, runs commands and scripts and closes through this one interface
 * and never asks which it has, except to say so.
 *
 * A command is a POSIX shell command line over SSH and a PowerShell command
 * over WinRM (what a template's checks and shutdown command are written in);
 * a script is uploaded and run by sh (through sudo when asked) over SSH, and
 * run by PowerShell over WinRM, where the user WinRM lets in is already an
 * administrator and `sudo` means nothing.
 */
#ifndef BW_COMM_H
#define BW_COMM_H

#include "../base/error.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum bw_comm_kind { BW_COMM_SSH, BW_COMM_WINRM };

struct bw_comm_config {
    enum bw_comm_kind kind;
    const char *host; /* "127.0.0.1" */
    unsigned port;
    const char *user;
    const char *password;       /* or NULL (SSH with a key) */
    const char *private_key;    /* SSH: a path, or NULL */
    bool https, insecure, ntlm; /* WinRM: see winrm.h */
    uint64_t timeout_ms;
    const volatile sig_atomic_t *interrupted;
};

typedef void (*bw_comm_output_fn)(const char *data, size_t len, bool is_stderr, void *ud);

struct bw_comm;

/* "SSH" or "WinRM", for messages. */
const char *bw_comm_name(enum bw_comm_kind kind);
struct bw_comm *bw_comm_connect(const struct bw_comm_config *cfg, struct bw_error *err);
enum bw_comm_kind bw_comm_kind(const struct bw_comm *c);
/* 0 with the exit status in *status, or -1 when the connection failed. */
int bw_comm_run(struct bw_comm *c, const char *command, bw_comm_output_fn out, void *ud,
                int *status, struct bw_error *err);
int bw_comm_script(struct bw_comm *c, const char *script, bool sudo, bw_comm_output_fn out,
                   void *ud, int *status, struct bw_error *err);
/* Asks the guest to power off; the connection may drop as it does, which is not an error. */
void bw_comm_power_off(struct bw_comm *c);
void bw_comm_close(struct bw_comm *c);

#endif
