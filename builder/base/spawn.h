/*
 * spawn - runs a child process from an argv array, never through a shell.
 *
 * The child gets /dev/null (or the given bytes) as stdin; its stdout and
 * stderr are captured into buffers. A child that cannot be started, or that
 * exits non-zero or on a signal, is an error (BW_ERR_SPAWN) that quotes the
 * last line of its stderr, so the tool's own message reaches the user.
 *
 * Every child runs in a process group of its own. A terminal's Ctrl-C goes to
 * the foreground process group: it must reach boxwright alone, whose cleanup
 * then stops the children in order (a QEMU that died with the Ctrl-C looked
 * like an installer that had powered off). Background children (QEMU, ssh
 * tunnels) also get SIGKILL when boxwright dies, so not even a SIGKILLed build
 * leaves them running.
 */
#ifndef BW_SPAWN_H
#define BW_SPAWN_H

#include "buf.h"
#include "error.h"

#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

struct bw_spawn_result {
    struct bw_buf out;
    struct bw_buf err;
    int status; /* exit status, or 128+signal */
};

/*
 * Runs argv[0] (looked up in PATH) with argv, stdin from `input` (len bytes,
 * may be NULL for /dev/null), env from `envp` (NULL: inherit). Fills res
 * (caller releases with bw_spawn_result_release). Returns 0 if the child ran
 * and exited 0; -1 otherwise (res still filled when it ran).
 */
int bw_spawn_run(char *const argv[], char *const envp[], const char *input, size_t len,
                 struct bw_spawn_result *res, struct bw_error *err);
void bw_spawn_result_release(struct bw_spawn_result *res);

/*
 * Where bw_spawn_run() looks for an interruption (a flag a signal handler sets): while it is
 * set, the running child's process group gets SIGTERM (SIGKILL 5 s later) and the call fails
 * with BW_ERR_INTERRUPTED. NULL (the default): children run to their end.
 */
void bw_spawn_set_interrupt(const volatile sig_atomic_t *flag);

/* Between bw_spawn_hold_interrupt(true) and (false), children run to their end even when
 * interrupted: the cleanup after a Ctrl-C (a VM to unregister) must not be cut short by it. */
void bw_spawn_hold_interrupt(bool hold);

/*
 * Starts argv[0] (looked up in PATH) in the background: stdin /dev/null, stdout and stderr
 * appended to log_path (NULL: /dev/null), its own process group, killed when boxwright dies.
 * Returns its pid, or -1 with err (a program that cannot be executed is reported here, with
 * why).
 */
pid_t bw_spawn_background(char *const argv[], const char *log_path, struct bw_error *err);

/* Stops a background child: SIGTERM to its group, SIGKILL after grace_ms, and reaps it. */
void bw_spawn_stop(pid_t pid, unsigned grace_ms);

#endif
