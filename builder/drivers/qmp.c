#include "qmp.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

struct bw_qmp {
    int fd;
    struct bw_buf in; /* bytes read and not yet consumed */
    bool shutdown;
};

static void sleep_ms(unsigned ms)
{
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Reads one JSON line; returns a new value or NULL on error/EOF. */
static json_t *read_message(struct bw_qmp *q, struct bw_error *err)
{
    for (;;) {
        char *nl = q->in.len ? memchr(q->in.data, '\n', q->in.len) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - q->in.data) + 1;
            json_error_t jerr;
            json_t *v = json_loadb(q->in.data, n, 0, &jerr);
            memmove(q->in.data, q->in.data + n, q->in.len - n);
            q->in.len -= n;
            q->in.data[q->in.len] = '\0';
            if (!v) {
                bw_error_set(err, BW_ERR_SPAWN, "QMP sent a line that is not JSON: %s", jerr.text);
                return NULL;
            }
            return v;
        }
        struct pollfd p = {q->fd, POLLIN, 0};
        int r = poll(&p, 1, 30000);
        if (r == 0) {
            bw_error_set(err, BW_ERR_SPAWN, "QMP: no answer from QEMU for 30 s");
            return NULL;
        }
        char chunk[4096];
        ssize_t n = r > 0 ? read(q->fd, chunk, sizeof(chunk)) : -1;
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            bw_error_set(err, BW_ERR_SPAWN, "QMP: QEMU closed the connection%s%s",
                         n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
            return NULL;
        }
        bw_buf_add(&q->in, chunk, (size_t)n);
    }
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

int bw_qmp_execute(struct bw_qmp *q, const char *command, json_t *args, json_t **ret,
                   struct bw_error *err)
{
    json_t *msg = json_pack("{s:s}", "execute", command);
    if (args)
        json_object_set_new(msg, "arguments", args);
    char *text = json_dumps(msg, JSON_COMPACT);
    json_decref(msg);
    struct bw_buf line = BW_BUF_INIT;
    bw_buf_adds(&line, text);
    bw_buf_addc(&line, '\n');
    free(text);
    bool sent = send_all(q->fd, line.data, line.len);
    bw_buf_release(&line);
    if (!sent) {
        bw_error_set(err, BW_ERR_SPAWN, "QMP %s: cannot send: %s", command, strerror(errno));
        return -1;
    }
    for (;;) {
        json_t *m = read_message(q, err);
        if (!m) {
            bw_error_prefix(err, "QMP %s", command);
            return -1;
        }
        const char *event = json_string_value(json_object_get(m, "event"));
        if (event) {
            if (strcmp(event, "SHUTDOWN") == 0)
                q->shutdown = true;
            json_decref(m);
            continue;
        }
        json_t *e = json_object_get(m, "error");
        if (e) {
            bw_error_set(err, BW_ERR_SPAWN, "QMP %s failed: %s: %s", command,
                         json_string_value(json_object_get(e, "class")),
                         json_string_value(json_object_get(e, "desc")));
            json_decref(m);
            return -1;
        }
        if (ret)
            *ret = json_incref(json_object_get(m, "return"));
        json_decref(m);
        return 0;
    }
}

struct bw_qmp *bw_qmp_connect(const char *path, unsigned timeout_ms, struct bw_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        bw_error_set(err, BW_ERR_USAGE, "QMP socket path too long: %s", path);
        return NULL;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = -1;
    for (unsigned waited = 0;; waited += 20) {
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        int e = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
        if (waited >= timeout_ms) {
            bw_error_set(err, BW_ERR_SPAWN, "cannot connect to QMP at %s: %s", path, strerror(e));
            return NULL;
        }
        sleep_ms(20);
    }
    struct bw_qmp *q = bw_xcalloc(1, sizeof(*q));
    q->fd = fd;
    bw_buf_init(&q->in);
    json_t *greeting = read_message(q, err);
    if (!greeting || !json_object_get(greeting, "QMP")) {
        json_decref(greeting);
        if (!err || !err->msg)
            bw_error_set(err, BW_ERR_SPAWN, "QMP at %s did not greet", path);
        bw_qmp_close(q);
        return NULL;
    }
    json_decref(greeting);
    if (bw_qmp_execute(q, "qmp_capabilities", NULL, NULL, err) < 0) {
        bw_qmp_close(q);
        return NULL;
    }
    return q;
}

bool bw_qmp_saw_shutdown(const struct bw_qmp *q)
{
    return q->shutdown;
}

void bw_qmp_close(struct bw_qmp *q)
{
    if (!q)
        return;
    close(q->fd);
    bw_buf_release(&q->in);
    free(q);
}
