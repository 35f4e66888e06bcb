#include "forward.h"
#include "../base/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_PAIRS 16

struct bw_forward {
    int listener, stop[2];
    unsigned dest_port;
    bw_forward_target_fn target;
    void *ud;
    pthread_t thread;
    bool started;
    int pairs[MAX_PAIRS][2]; /* client, guest; -1 when free */
    unsigned carried, refused;
    pthread_mutex_t lock;
};

static void timeouts(int fd)
{
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/* A connection to host:port within 3 s, or -1. */
static int dial(const char *host, unsigned port)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST},
                    *ai = NULL;
    char service[16];
    snprintf(service, sizeof(service), "%u", port);
    if (getaddrinfo(host, service, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int ok = fd >= 0 && (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 || errno == EINPROGRESS);
    freeaddrinfo(ai);
    if (ok) {
        struct pollfd p = {fd, POLLOUT, 0};
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        ok = poll(&p, 1, 3000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 &&
             soerr == 0;
    }
    if (!ok) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    timeouts(fd);
    return fd;
}

static void close_pair(struct bw_forward *f, int i)
{
    for (int k = 0; k < 2; k++) {
        if (f->pairs[i][k] >= 0)
            close(f->pairs[i][k]);
        f->pairs[i][k] = -1;
    }
}

static void accept_one(struct bw_forward *f)
{
    int c = accept4(f->listener, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    int slot = -1;
    for (int i = 0; i < MAX_PAIRS && slot < 0; i++)
        if (f->pairs[i][0] < 0)
            slot = i;
    char host[64];
    int g = slot >= 0 && f->target(f->ud, host, sizeof(host)) == 0 ? dial(host, f->dest_port) : -1;
    pthread_mutex_lock(&f->lock);
    if (g < 0)
        f->refused++;
    else
        f->carried++;
    pthread_mutex_unlock(&f->lock);
    if (g < 0) {
        close(c);
        return;
    }
    timeouts(c);
    f->pairs[slot][0] = c;
    f->pairs[slot][1] = g;
}

static void *run(void *arg)
{
    struct bw_forward *f = arg;
    for (;;) {
        struct pollfd p[2 + 2 * MAX_PAIRS];
        int where[2 + 2 * MAX_PAIRS];
        nfds_t n = 0;
        p[n++] = (struct pollfd){f->stop[0], POLLIN, 0};
        p[n++] = (struct pollfd){f->listener, POLLIN, 0};
        for (int i = 0; i < MAX_PAIRS; i++)
            for (int k = 0; k < 2 && f->pairs[i][0] >= 0; k++) {
                where[n] = i * 2 + k;
                p[n++] = (struct pollfd){f->pairs[i][k], POLLIN, 0};
            }
        if (poll(p, n, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        if (p[1].revents & POLLIN)
            accept_one(f);
        for (nfds_t j = 2; j < n; j++) {
            int i = where[j] / 2, k = where[j] % 2;
            if (!p[j].revents || f->pairs[i][0] < 0)
                continue;
            char buf[16384];
            ssize_t got = recv(f->pairs[i][k], buf, sizeof(buf), 0);
            bool ok = got > 0;
            for (ssize_t sent = 0, w; ok && sent < got; sent += w)
                ok =
                    (w = send(f->pairs[i][!k], buf + sent, (size_t)(got - sent), MSG_NOSIGNAL)) > 0;
            if (!ok)
                close_pair(f, i);
        }
    }
    return NULL;
}

struct bw_forward *bw_forward_start(unsigned listen_port, unsigned dest_port,
                                    bw_forward_target_fn target, void *ud, struct bw_error *err)
{
    struct bw_forward *f = bw_xcalloc(1, sizeof(*f));
    f->dest_port = dest_port;
    f->target = target;
    f->ud = ud;
    f->stop[0] = f->stop[1] = -1;
    for (int i = 0; i < MAX_PAIRS; i++)
        f->pairs[i][0] = f->pairs[i][1] = -1;
    pthread_mutex_init(&f->lock, NULL);
    f->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (f->listener < 0 ||
        setsockopt(f->listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(f->listener, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(f->listener, 16) < 0 ||
        pipe2(f->stop, O_CLOEXEC) < 0) {
        bw_error_set(err, BW_ERR_NETWORK, "cannot listen on 127.0.0.1:%u: %s", listen_port,
                     strerror(errno));
        bw_forward_stop(f);
        return NULL;
    }
    if ((f->started = pthread_create(&f->thread, NULL, run, f) == 0) == false) {
        bw_error_set(err, BW_ERR_INTERNAL, "cannot start the forwarding thread");
        bw_forward_stop(f);
        return NULL;
    }
    return f;
}

unsigned bw_forward_count(const struct bw_forward *f, unsigned *refused)
{
    pthread_mutex_lock((pthread_mutex_t *)&f->lock);
    unsigned c = f->carried;
    if (refused)
        *refused = f->refused;
    pthread_mutex_unlock((pthread_mutex_t *)&f->lock);
    return c;
}

void bw_forward_stop(struct bw_forward *f)
{
    if (!f)
        return;
    if (f->started) {
        if (write(f->stop[1], "x", 1) < 0) {
            /* the pipe is ours and empty: cannot fail */
        }
        pthread_join(f->thread, NULL);
    }
    for (int i = 0; i < MAX_PAIRS; i++)
        close_pair(f, i);
    if (f->listener >= 0)
        close(f->listener);
    for (int k = 0; k < 2; k++)
        if (f->stop[k] >= 0)
            close(f->stop[k]);
    pthread_mutex_destroy(&f->lock);
    free(f);
}
