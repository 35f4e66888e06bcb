#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void bw_spawn_result_release(struct bw_spawn_result *res)
{
    bw_buf_release(&res->out);
    bw_buf_release(&res->err);
}

static void last_line(const struct bw_buf *b, struct bw_buf *out)
{
    size_t end = b->len;
    while (end && (b->data[end - 1] == '\n' || b->data[end - 1] == '\r'))
        end--;
    size_t start = end;
    while (start && b->data[start - 1] != '\n')
        start--;
    bw_buf_add(out, b->data + start, end - start);
}

int bw_spawn_run(char *const argv[], char *const envp[], const char *input, size_t len,
                 struct bw_spawn_result *res, struct bw_error *err)
{
    memset(res, 0, sizeof(*res));
    bw_buf_init(&res->out);
    bw_buf_init(&res->err);
    int in[2] = {-1, -1}, out[2] = {-1, -1}, er[2] = {-1, -1};
    int rc = -1;
    pid_t pid = -1;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(er, O_CLOEXEC) < 0) {
        bw_error_set(err, BW_ERR_SPAWN, "%s: cannot make pipes: %s", argv[0], strerror(errno));
        goto cleanup;
    }
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, er[1], 2);
    int e = posix_spawnp(&pid, argv[0], &fa, NULL, argv, envp ? envp : environ);
    if (e) {
        bw_error_set(err, BW_ERR_SPAWN, "%s: cannot run: %s", argv[0], strerror(e));
        pid = -1;
        goto cleanup;
    }
    close(in[0]);
    close(out[1]);
    close(er[1]);
    in[0] = out[1] = er[1] = -1;
    size_t written = 0;
    if (!input || !len) {
        close(in[1]);
        in[1] = -1;
    }
    /* Feed stdin and drain both outputs together so no pipe fills up and blocks. */
    struct sigaction ign = {.sa_handler = SIG_IGN}, old;
    sigaction(SIGPIPE, &ign, &old);
    while (out[0] >= 0 || er[0] >= 0) {
        struct pollfd p[3] = {{out[0], POLLIN, 0}, {er[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            int *fd = i ? &er[0] : &out[0];
            if (*fd >= 0 && (p[i].revents & (POLLIN | POLLHUP | POLLERR))) {
                char chunk[16384];
                ssize_t n = read(*fd, chunk, sizeof(chunk));
                if (n > 0) {
                    bw_buf_add(i ? &res->err : &res->out, chunk, (size_t)n);
                } else if (n == 0 || errno != EINTR) {
                    close(*fd);
                    *fd = -1;
                }
            }
        }
        if (in[1] >= 0 && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = write(in[1], input + written, len - written);
            if (n > 0)
                written += (size_t)n;
            if (n < 0 || written == len) {
                close(in[1]);
                in[1] = -1;
            }
        }
    }
    sigaction(SIGPIPE, &old, NULL);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (res->status == 0) {
        rc = 0;
    } else {
        struct bw_buf line = BW_BUF_INIT;
        bw_buf_init(&line);
        last_line(&res->err, &line);
        if (WIFEXITED(st))
            bw_error_set(err, BW_ERR_SPAWN, "%s exited with status %d%s%s", argv[0], res->status,
                         line.len ? ": " : "", line.data);
        else
            bw_error_set(err, BW_ERR_SPAWN, "%s was killed by signal %d%s%s", argv[0], WTERMSIG(st),
                         line.len ? ": " : "", line.data);
        bw_buf_release(&line);
    }
cleanup:
    posix_spawn_file_actions_destroy(&fa);
    for (int i = 0; i < 2; i++) {
        if (in[i] >= 0)
            close(in[i]);
        if (out[i] >= 0)
            close(out[i]);
        if (er[i] >= 0)
            close(er[i]);
    }
    return rc;
}
