#include "faultserver.h"
#include "../../builder/base/xmalloc.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_PATHS 16
#define MAX_STEPS 64
#define MAX_SEEN  256

struct route {
    char path[128];
    char *body;
    size_t len;
    char etag[64];
    struct fs_step steps[MAX_STEPS];
    unsigned n_steps, next_step;
    unsigned requests;
    long long range_start[MAX_SEEN];
};

struct faultserver {
    int lfd;
    unsigned port;
    pthread_t thread;
    pthread_mutex_t lock;
    struct route routes[MAX_PATHS];
    unsigned n_routes;
    uint64_t throttle;
    volatile bool stop;
};

static struct route *route_of(struct faultserver *fs, const char *path)
{
    for (unsigned i = 0; i < fs->n_routes; i++)
        if (strcmp(fs->routes[i].path, path) == 0)
            return &fs->routes[i];
    return NULL;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

static bool send_body(struct faultserver *fs, int fd, const char *p, size_t n)
{
    if (!fs->throttle)
        return send_all(fd, p, n);
    size_t slice = fs->throttle / 20 ? fs->throttle / 20 : 1;
    while (n) {
        size_t k = n < slice ? n : slice;
        if (!send_all(fd, p, k))
            return false;
        p += k;
        n -= k;
        usleep(50 * 1000);
    }
    return true;
}

static const char *header_value(const char *req, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    for (const char *p = strstr(req, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *h = p + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            const char *v = h + nl + 1;
            while (*v == ' ')
                v++;
            const char *e = strstr(v, "\r\n");
            snprintf(out, len, "%.*s", (int)(e ? e - v : (long)strlen(v)), v);
            return out;
        }
    }
    return NULL;
}

static void handle(struct faultserver *fs, int fd)
{
    char req[8192];
    size_t got = 0;
    while (got < sizeof(req) - 1) {
        ssize_t r = recv(fd, req + got, sizeof(req) - 1 - got, 0);
        if (r <= 0)
            return;
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    char method[16], path[256];
    if (sscanf(req, "%15s %255s", method, path) != 2)
        return;
    pthread_mutex_lock(&fs->lock);
    struct route *r = route_of(fs, path);
    struct fs_step step = {FAULT_NONE, 0};
    char etag[64] = "";
    char *body = NULL;
    size_t len = 0;
    char range[128], ifrange[128];
    long long start = -1;
    if (header_value(req, "Range", range, sizeof(range)) && strncmp(range, "bytes=", 6) == 0)
        start = atoll(range + 6);
    if (r) {
        if (r->next_step < r->n_steps)
            step = r->steps[r->next_step++];
        if (r->requests < MAX_SEEN)
            r->range_start[r->requests] = start;
        r->requests++;
        snprintf(etag, sizeof(etag), "%s", r->etag);
        body = bw_xmalloc(r->len + 1);
        memcpy(body, r->body, r->len);
        len = r->len;
    }
    pthread_mutex_unlock(&fs->lock);
    char head[512];
    if (step.fault == FAULT_REDIRECT) {
        snprintf(head, sizeof(head),
                 "HTTP/1.1 302 Found\r\nLocation: %s\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n",
                 path);
        send_all(fd, head, strlen(head));
        free(body);
        return;
    }
    if (!r || step.fault == FAULT_STATUS) {
        unsigned code = r ? (unsigned)step.arg : 404;
        snprintf(head, sizeof(head),
                 "HTTP/1.1 %u Fault\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", code);
        send_all(fd, head, strlen(head));
        free(body);
        return;
    }
    bool partial = start >= 0 && (size_t)start < len && step.fault != FAULT_IGNORE_RANGE;
    if (partial && header_value(req, "If-Range", ifrange, sizeof(ifrange)) &&
        strcmp(ifrange, etag) != 0)
        partial = false; /* the client's copy is of another version: send it all */
    size_t from = partial ? (size_t)start : 0;
    char etag_line[96] = "";
    if (*etag)
        snprintf(etag_line, sizeof(etag_line), "ETag: %s\r\n", etag);
    if (partial)
        snprintf(head, sizeof(head),
                 "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\nContent-Range: bytes "
                 "%zu-%zu/%zu\r\n%sConnection: close\r\n\r\n",
                 len - from, from, len - 1, len, etag_line);
    else
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n%sAccept-Ranges: bytes\r\n"
                 "Connection: close\r\n\r\n",
                 len, etag_line);
    if (!send_all(fd, head, strlen(head)) || strcmp(method, "HEAD") == 0) {
        free(body);
        return;
    }
    size_t n = len - from;
    if ((step.fault == FAULT_CUT || step.fault == FAULT_STALL) && step.arg < n)
        n = (size_t)step.arg;
    send_body(fs, fd, body + from, n);
    if (step.fault == FAULT_STALL) {
        struct pollfd p = {fd, POLLIN, 0};
        while (!fs->stop && poll(&p, 1, 100) == 0)
            ;
    }
    free(body);
}

static void *serve(void *arg)
{
    struct faultserver *fs = arg;
    while (!fs->stop) {
        struct pollfd p = {fs->lfd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        int fd = accept(fs->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        handle(fs, fd);
        shutdown(fd, SHUT_RDWR);
        close(fd);
    }
    return NULL;
}

struct faultserver *fs_start(void)
{
    struct faultserver *fs = bw_xcalloc(1, sizeof(*fs));
    fs->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(fs->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fs->lfd, (struct sockaddr *)&sa, sizeof(sa));
    listen(fs->lfd, 64);
    socklen_t sl = sizeof(sa);
    getsockname(fs->lfd, (struct sockaddr *)&sa, &sl);
    fs->port = ntohs(sa.sin_port);
    pthread_mutex_init(&fs->lock, NULL);
    pthread_create(&fs->thread, NULL, serve, fs);
    return fs;
}

unsigned fs_port(const struct faultserver *fs)
{
    return fs->port;
}

void fs_set(struct faultserver *fs, const char *path, const void *body, size_t len,
            const char *etag)
{
    pthread_mutex_lock(&fs->lock);
    struct route *r = route_of(fs, path);
    if (!r) {
        r = &fs->routes[fs->n_routes++];
        snprintf(r->path, sizeof(r->path), "%s", path);
    }
    free(r->body);
    r->body = bw_xmalloc(len + 1);
    memcpy(r->body, body, len);
    r->len = len;
    snprintf(r->etag, sizeof(r->etag), "%s", etag);
    pthread_mutex_unlock(&fs->lock);
}

void fs_push(struct faultserver *fs, const char *path, enum fault f, uint64_t arg)
{
    pthread_mutex_lock(&fs->lock);
    struct route *r = route_of(fs, path);
    if (r && r->n_steps < MAX_STEPS)
        r->steps[r->n_steps++] = (struct fs_step){f, arg};
    pthread_mutex_unlock(&fs->lock);
}

void fs_throttle(struct faultserver *fs, uint64_t bytes_per_s)
{
    fs->throttle = bytes_per_s;
}

unsigned fs_requests(struct faultserver *fs, const char *path)
{
    pthread_mutex_lock(&fs->lock);
    struct route *r = route_of(fs, path);
    unsigned n = r ? r->requests : 0;
    pthread_mutex_unlock(&fs->lock);
    return n;
}

long long fs_range_start(struct faultserver *fs, const char *path, unsigned i)
{
    pthread_mutex_lock(&fs->lock);
    struct route *r = route_of(fs, path);
    long long v = r && i < r->requests && i < MAX_SEEN ? r->range_start[i] : -2;
    pthread_mutex_unlock(&fs->lock);
    return v;
}

void fs_stop(struct faultserver *fs)
{
    fs->stop = true;
    pthread_join(fs->thread, NULL);
    close(fs->lfd);
    for (unsigned i = 0; i < fs->n_routes; i++)
        free(fs->routes[i].body);
    pthread_mutex_destroy(&fs->lock);
    free(fs);
}
