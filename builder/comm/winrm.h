/*
 * winrm - the communicator Windows has out of the box: WS-Management
 * (WinRM) remote shells over HTTP or HTTPS (libcurl), as Packer's WinRM
 * communicator and Bento's Windows templates use it.
 *
 * bw_winrm_connect() waits for WinRM to come up: it tries to open a remote
 * shell (a WS-Transfer Create of a cmd shell) until the timeout, because the
 * service starts late in a Windows install (Bento's answer files enable it
 * in FirstLogonCommands). Authentication is HTTP Basic or NTLM, both done by
 * libcurl; neither encrypts the messages, so over HTTP the guest must allow
 * unencrypted WinRM (AllowUnencrypted, as Bento's answer files set), and
 * Basic must be enabled for Basic. Certificates are not checked with
 * `insecure` (a fresh VM's self-signed one), as Packer's winrm_insecure.
 *
 * bw_winrm_run() runs one command line in the shell (cmd.exe), streams its
 * stdout and stderr to a callback as they arrive (a Receive loop; the
 * server's OperationTimeout fault just means "nothing yet"), terminates the
 * command and returns its exit code. bw_winrm_powershell() runs a PowerShell
 * script: as one -EncodedCommand when it fits a command line, else written to
 * a file in the guest's temporary directory in chunks and run with -File.
 *
 * Passwords never appear in errors or events. Unproven against a real
 * Windows (none can run here): tested against exchanges shaped like the
 * ones Windows' WinRM service answers with (tests/unit/test_winrm.c).
 */
#ifndef BW_WINRM_H
#define BW_WINRM_H

#include "../base/buf.h"
#include "../base/error.h"

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bw_winrm_config {
    const char *host; /* "127.0.0.1" */
    unsigned port;    /* 5985 (HTTP), 5986 (HTTPS) */
    bool https;
    bool insecure; /* HTTPS without checking the certificate */
    const char *user;
    const char *password;
    bool ntlm;                                /* NTLM, else Basic */
    uint64_t timeout_ms;                      /* how long to keep trying to open a shell */
    const volatile sig_atomic_t *interrupted; /* stop when set; may be NULL */
};

/* Receives command output as it arrives. */
typedef void (*bw_winrm_output_fn)(const char *data, size_t len, bool is_stderr, void *ud);

struct bw_winrm;

struct bw_winrm *bw_winrm_connect(const struct bw_winrm_config *cfg, struct bw_error *err);
/* Runs a cmd.exe command line. Returns 0 and its exit code in *status, or -1 when the shell
 * failed. */
int bw_winrm_run(struct bw_winrm *w, const char *command, bw_winrm_output_fn out, void *ud,
                 int *status, struct bw_error *err);
/* Runs a PowerShell script (UTF-8) the same way. */
int bw_winrm_powershell(struct bw_winrm *w, const char *script, bw_winrm_output_fn out, void *ud,
                        int *status, struct bw_error *err);
/* Writes data to remote_path (a Windows path), replacing it. Returns 0 or -1. */
int bw_winrm_upload(struct bw_winrm *w, const char *remote_path, const void *data, size_t len,
                    struct bw_error *err);
void bw_winrm_close(struct bw_winrm *w);

/* One answer of the WinRM service, parsed (exposed for tests and fuzzing). */
struct bw_winrm_reply {
    char *shell_id;             /* Create: rsp:ShellId (or the ShellId selector) */
    char *command_id;           /* Command: rsp:CommandId */
    struct bw_buf out, err_out; /* Receive: the decoded stdout and stderr streams */
    bool done;                  /* Receive: CommandState Done */
    int exit_code;              /* ... and its rsp:ExitCode */
    bool timed_out;             /* a w:TimedOut fault: no output within OperationTimeout */
    char *fault;                /* a SOAP fault's reason (WSManFault Message, else Text) */
};
/* 0 with r filled, or -1 with err when the text is not a SOAP envelope (its line and column). */
int bw_winrm_parse_reply(const char *xml, size_t len, struct bw_winrm_reply *r,
                         struct bw_error *err);
void bw_winrm_reply_release(struct bw_winrm_reply *r);

/* The -EncodedCommand argument for script: base64 of its UTF-16LE text. NULL with err when the
 * script is not UTF-8. */
char *bw_winrm_encode_powershell(const char *script, struct bw_error *err);

#endif
