/* The stream relay; see stream.h. */
#include "stream.h"
#include "../builder/base/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_HEAD    16384
#define MAX_STREAMS 8

struct conn {
    int fd;
    struct bw_buf in;
};

struct bw_http_stream {
    int listen_fd;
    int wake[2];
    unsigned port;
    char *backend; /* the server's Unix socket */
    uid_t uids[8]; /* peers served */
    size_t n_uids;
    pthread_t thread;
    struct conn conns[MAX_STREAMS];
    atomic_ulong requests;
};

/* The header line at p (up to the CRLF at end) named `name`? */
static bool header_is(const char *p, const char *end, const char *name)
{
    size_t n = strlen(name);
    return (size_t)(end - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':';
}

int bw_http_request_split(const char *buf, size_t len, size_t max_head, size_t *head_len,
                          size_t *body_len, const char **why)
{
    const char *end = NULL;
    for (size_t i = 0; i + 3 < len && i + 4 <= max_head; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            end = buf + i + 4;
            break;
        }
    if (!end) {
        if (len >= max_head) {
            *why = "request head too large";
            return -1;
        }
        return 0;
    }
    *head_len = (size_t)(end - buf);
    *body_len = 0;
    /* Header lines: after the request line, up to the blank line. */
    const char *p = memchr(buf, '\n', *head_len);
    for (p = p + 1; p < end - 2;) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (header_is(p, eol, "Transfer-Encoding")) {
            *why = "chunked request bodies are not supported";
            return -1;
        }
        if (header_is(p, eol, "Content-Length")) {
            const char *v = p + strlen("Content-Length") + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            uint64_t n = 0;
            const char *d = v;
            for (; d < eol && *d >= '0' && *d <= '9'; d++) {
                n = n * 10 + (uint64_t)(*d - '0');
                if (n > (1u << 24)) {
                    *why = "request body too large";
                    return -1;
                }
            }
            bool digits = d > v;
            while (d < eol && (*d == ' ' || *d == '\t' || *d == '\r'))
                d++;
            if (!digits || d != eol) {
                *why = "bad Content-Length";
                return -1;
            }
            *body_len = (size_t)n;
        }
        p = eol + 1;
    }
    return 1;
}

void bw_http_request_rewrite(const char *head, size_t head_len, struct bw_buf *out)
{
    const char *end = head + head_len - 2; /* the blank line's CRLF */
    const char *p = memchr(head, '\n', head_len) + 1;
    bw_buf_add(out, head, (size_t)(p - head));
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p + 2));
        if (!header_is(p, eol, "Connection") && !header_is(p, eol, "Keep-Alive") &&
            !header_is(p, eol, "Proxy-Connection"))
            bw_buf_add(out, p, (size_t)(eol + 1 - p));
        p = eol + 1;
    }
    bw_buf_adds(out, "Connection: close\r\n\r\n");
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void reply_error(int fd, const char *why)
{
    char msg[256];
    int n = snprintf(msg, sizeof(msg),
                     "HTTP/1.1 501 Not Implemented\r\nContent-Type: text/plain\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s\n",
                     strlen(why) + 1, why);
    write_all(fd, msg, (size_t)n);
}

/* One request to the server on its own connection; its whole response back into the stream. */
static int relay_one(struct bw_http_stream *s, int stream_fd, const char *req, size_t head_len,
                     size_t body_len)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", s->backend);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        if (fd >= 0)
            close(fd);
        reply_error(stream_fd, "the answer-file server is not reachable");
        return 0;
    }
    struct bw_buf out = BW_BUF_INIT;
    bw_buf_init(&out);
    bw_http_request_rewrite(req, head_len, &out);
    bw_buf_add(&out, req + head_len, body_len);
    int rc = write_all(fd, out.data, out.len);
    bw_buf_release(&out);
    /* Counted before the response goes back: a client that has its response sees the count. */
    if (rc == 0)
        atomic_fetch_add(&s->requests, 1);
    char chunk[65536];
    for (ssize_t n; rc == 0 && (n = recv(fd, chunk, sizeof(chunk), 0)) != 0;) {
        if (n < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (write_all(stream_fd, chunk, (size_t)n) < 0)
            rc = -1;
    }
    close(fd);
    return rc;
}

static void drop(struct conn *c)
{
    close(c->fd);
    c->fd = -1;
    bw_buf_release(&c->in);
}

/* Reads what the stream has and relays every whole request in it; -1 when it is done. */
static int serve(struct bw_http_stream *s, struct conn *c)
{
    char chunk[16384];
    ssize_t n = recv(c->fd, chunk, sizeof(chunk), 0);
    if (n < 0 && errno == EINTR)
        return 0;
    if (n <= 0)
        return -1;
    bw_buf_add(&c->in, chunk, (size_t)n);
    for (;;) {
        size_t head, body;
        const char *why = NULL;
        int r = bw_http_request_split(c->in.data, c->in.len, MAX_HEAD, &head, &body, &why);
        if (r < 0) {
            reply_error(c->fd, why);
            return -1;
        }
        if (r == 0 || c->in.len < head + body)
            return 0;
        if (relay_one(s, c->fd, c->in.data, head, body) < 0)
            return -1;
        size_t used = head + body;
        memmove(c->in.data, c->in.data + used, c->in.len - used);
        c->in.len -= used;
        c->in.data[c->in.len] = '\0';
    }
}

/*
 * The user whose socket is the other end of the loopback connection fd: the kernel says who
 * owns each TCP socket in /proc/net/tcp (SO_PEERCRED knows only Unix sockets). -1 if unknown.
 */
static long tcp_peer_uid(int fd)
{
    struct sockaddr_in me, peer;
    socklen_t ml = sizeof(me), pl = sizeof(peer);
    if (getsockname(fd, (struct sockaddr *)&me, &ml) < 0 ||
        getpeername(fd, (struct sockaddr *)&peer, &pl) < 0 || peer.sin_family != AF_INET)
        return -1;
    FILE *f = fopen("/proc/net/tcp", "r");
    if (!f)
        return -1;
    char line[512];
    long uid = -1;
    /* The peer's socket: its local end is the peer's address, its remote end ours. */
    while (uid < 0 && fgets(line, sizeof(line), f)) {
        unsigned la, lp, ra, rp;
        long u;
        if (sscanf(line, " %*u: %8x:%4x %8x:%4x %*x %*x:%*x %*x:%*x %*x %ld", &la, &lp, &ra, &rp,
                   &u) == 5 &&
            la == peer.sin_addr.s_addr && lp == ntohs(peer.sin_port) && ra == me.sin_addr.s_addr &&
            rp == ntohs(me.sin_port))
            uid = u;
    }
    fclose(f);
    return uid;
}

/* Is the process at the other end of fd run by one of the users we serve? */
static bool peer_allowed(const struct bw_http_stream *s, int fd)
{
    long uid = tcp_peer_uid(fd);
    for (size_t i = 0; uid >= 0 && i < s->n_uids; i++)
        if ((uid_t)uid == s->uids[i])
            return true;
    return false;
}

static void *loop(void *arg)
{
    struct bw_http_stream *s = arg;
    for (;;) {
        struct pollfd p[MAX_STREAMS + 2];
        size_t map[MAX_STREAMS + 2];
        nfds_t n = 0;
        p[n++] = (struct pollfd){s->wake[0], POLLIN, 0};
        p[n++] = (struct pollfd){s->listen_fd, POLLIN, 0};
        for (size_t i = 0; i < MAX_STREAMS; i++)
            if (s->conns[i].fd >= 0) {
                map[n] = i;
                p[n++] = (struct pollfd){s->conns[i].fd, POLLIN, 0};
            }
        if (poll(p, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[0].revents)
            break;
        if (p[1].revents & POLLIN) {
            int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);
            if (fd >= 0 && !peer_allowed(s, fd)) {
                close(fd);
                fd = -1;
            }
            size_t i = 0;
            while (fd >= 0 && i < MAX_STREAMS && s->conns[i].fd >= 0)
                i++;
            if (fd >= 0 && i == MAX_STREAMS) {
                close(fd);
            } else if (fd >= 0) {
                /* A guest that stops reading must not stall the relay for ever. */
                struct timeval tv = {30, 0};
                setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
                s->conns[i].fd = fd;
                bw_buf_init(&s->conns[i].in);
            }
        }
        for (nfds_t k = 2; k < n; k++)
            if (p[k].revents && serve(s, &s->conns[map[k]]) < 0)
                drop(&s->conns[map[k]]);
    }
    return NULL;
}

struct bw_http_stream *bw_http_stream_start(const char *backend, const uid_t *uids, size_t n,
                                            struct bw_error *err)
{
    struct bw_http_stream *s = bw_xcalloc(1, sizeof(*s));
    s->backend = bw_xstrdup(backend);
    for (size_t i = 0; i < n && i < sizeof(s->uids) / sizeof(s->uids[0]); i++)
        s->uids[s->n_uids++] = uids[i];
    for (size_t i = 0; i < MAX_STREAMS; i++)
        s->conns[i].fd = -1;
    s->wake[0] = s->wake[1] = -1;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        listen(s->listen_fd, MAX_STREAMS) < 0 ||
        getsockname(s->listen_fd, (struct sockaddr *)&sa, &sl) < 0 ||
        pipe2(s->wake, O_CLOEXEC) < 0) {
        bw_error_set(err, BW_ERR_IO, "HTTP stream relay: cannot listen on 127.0.0.1: %s",
                     strerror(errno));
        bw_http_stream_stop(s);
        return NULL;
    }
    s->port = ntohs(sa.sin_port);
    int e = pthread_create(&s->thread, NULL, loop, s);
    if (e) {
        bw_error_set(err, BW_ERR_INTERNAL, "HTTP stream relay: cannot start a thread: %s",
                     strerror(e));
        s->port = 0;
        bw_http_stream_stop(s);
        return NULL;
    }
    return s;
}

unsigned bw_http_stream_port(const struct bw_http_stream *s)
{
    return s->port;
}

unsigned long bw_http_stream_requests(const struct bw_http_stream *s)
{
    return atomic_load(&s->requests);
}

void bw_http_stream_stop(struct bw_http_stream *s)
{
    if (!s)
        return;
    if (s->port) {
        char c = 'q';
        if (write(s->wake[1], &c, 1) == 1)
            pthread_join(s->thread, NULL);
    }
    for (size_t i = 0; i < MAX_STREAMS; i++)
        if (s->conns[i].fd >= 0)
            drop(&s->conns[i]);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->wake[0] >= 0) {
        close(s->wake[0]);
        close(s->wake[1]);
    }
    free(s->backend);
    free(s);
}
