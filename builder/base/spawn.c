#include "spawn.h"

#include "xmalloc.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <time.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const volatile sig_atomic_t *interrupt_flag;

void bw_spawn_set_interrupt(const volatile sig_atomic_t *flag)
{
    interrupt_flag = flag;
}

static int held;

void bw_spawn_hold_interrupt(bool hold)
{
    held += hold ? 1 : -1;
}

static bool is_interrupted(void)
{
    return !held && interrupt_flag && *interrupt_flag;
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Waits for pid; SIGTERM to its group on interruption (and SIGKILL grace_ms later). */
static int wait_child(pid_t pid, int *st, unsigned grace_ms, bool *stopped)
{
    unsigned since_term = 0;
    for (;;) {
        pid_t w = waitpid(pid, st, WNOHANG);
        if (w == pid)
            return 0;
        if (w < 0 && errno != EINTR)
            return -1;
        if (is_interrupted() || *stopped) {
            if (!*stopped)
                kill(-pid, SIGTERM);
            else if (since_term >= grace_ms)
                kill(-pid, SIGKILL);
            *stopped = true;
            since_term += 20;
        }
        sleep_ms(20);
    }
}

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
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    int e = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp ? envp : environ);
    posix_spawnattr_destroy(&attr);
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
    bool stopped = false;
    while (out[0] >= 0 || er[0] >= 0) {
        struct pollfd p[3] = {{out[0], POLLIN, 0}, {er[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
        int r = poll(p, 3, 100);
        if (r < 0 && errno != EINTR)
            break;
        if (is_interrupted() && !stopped) {
            kill(-pid, SIGTERM);
            stopped = true;
        }
        if (r <= 0)
            continue;
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
    int st = 0;
    wait_child(pid, &st, 5000, &stopped);
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    if (stopped) {
        bw_error_set(err, BW_ERR_INTERRUPTED, "%s: stopped (interrupted)", argv[0]);
    } else if (res->status == 0) {
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

pid_t bw_spawn_background(char *const argv[], const char *log_path, struct bw_error *err)
{
    /* Resolved before fork: between fork and exec only async-signal-safe calls are made (other
     * threads may hold malloc's locks). */
    char *path = NULL;
    if (strchr(argv[0], '/')) {
        path = bw_xstrdup(argv[0]);
    } else {
        const char *env = getenv("PATH");
        char *dirs = bw_xstrdup(env ? env : "/usr/local/bin:/usr/bin:/bin");
        for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d && !path;
             d = strtok_r(NULL, ":", &save)) {
            char *cand = bw_xasprintf("%s/%s", *d ? d : ".", argv[0]);
            if (access(cand, X_OK) == 0)
                path = cand;
            else
                free(cand);
        }
        free(dirs);
    }
    if (!path) {
        bw_error_set(err, BW_ERR_SPAWN, "cannot run %s: not found in PATH", argv[0]);
        return -1;
    }
    int logfd = log_path ? open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600)
                         : open("/dev/null", O_WRONLY | O_CLOEXEC);
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    int report[2] = {-1, -1};
    int e = logfd < 0 || nullfd < 0 || pipe2(report, O_CLOEXEC) < 0 ? errno : 0;
    pid_t parent = getpid();
    pid_t pid = e ? -1 : fork();
    if (pid == 0) {
        /* SIGKILL when boxwright dies (it is forked from the thread that lives as long as the
         * process); out of the terminal's process group for Ctrl-C. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        setpgid(0, 0);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        execve(path, argv, environ);
        int ce = errno;
        if (write(report[1], &ce, sizeof(ce)) < 0)
            _exit(126);
        _exit(127);
    }
    if (pid < 0 && !e)
        e = errno;
    if (pid > 0)
        setpgid(pid, pid); /* also from here, so the group exists before we signal it */
    if (report[1] >= 0)
        close(report[1]);
    if (!e && read(report[0], &e, sizeof(e)) == (ssize_t)sizeof(e))
        waitpid(pid, NULL, 0); /* exec failed: e says why */
    if (report[0] >= 0)
        close(report[0]);
    if (logfd >= 0)
        close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    if (e) {
        bw_error_set(err, BW_ERR_SPAWN, "cannot run %s: %s", path, strerror(e));
        free(path);
        return -1;
    }
    free(path);
    return pid;
}

void bw_spawn_stop(pid_t pid, unsigned grace_ms)
{
    if (pid <= 0)
        return;
    kill(-pid, SIGTERM);
    kill(pid, SIGTERM);
    for (unsigned waited = 0;; waited += 20) {
        pid_t w = waitpid(pid, NULL, WNOHANG);
        if (w == pid || (w < 0 && errno != EINTR))
            return;
        if (waited >= grace_ms) {
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return;
        }
        sleep_ms(20);
    }
}
