/*
 * spawn - runs a child process from an argv array, never through a shell.
 *
 * The child gets /dev/null (or the given bytes) as stdin; its stdout and
 * stderr are captured into buffers. A child that cannot be started, or that
 * exits non-zero or on a signal, is an error (BW_ERR_SPAWN) that quotes the
 * last line of its stderr, so the tool's own message reaches the user.
 */
#ifndef BW_SPAWN_H
#define BW_SPAWN_H

#include "buf.h"
#include "error.h"

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

#endif
