/* The embedded HTTP server on libmicrohttpd; see http_server.h. */
#include "http_server.h"
#include "proxy.h"
#include "../builder/base/buf.h"
#include "../builder/base/xmalloc.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#define PATH_BYTES 4096
#define RATE_SLOTS 64

struct memfile {
    char *name;
    char *data;
    size_t len;
    char etag[48];
    char last_modified[40];
    time_t mtime;
    atomic_uint fetches;
    struct MHD_Response *full; /* built once, queued for every 200 */
};

struct counted {
    char *name;
    unsigned fetches;
};

struct rate_slot {
    char client[INET6_ADDRSTRLEN];
    time_t second;
    unsigned count;
};

struct bw_http_server {
    struct bw_http_config cfg;
    char *bind;
    char *dir_real; /* realpath of cfg.directory */
    int dir_fd;     /* that directory, for openat2(RESOLVE_BENEATH) */
    struct MHD_Daemon *daemon;
    int listen_fd;
    unsigned port;
    struct memfile *files;
    size_t n_files, alloc_files;
    pthread_mutex_t lock; /* rate[] and dir_counts */
    struct rate_slot rate[RATE_SLOTS];
    struct counted *dir_counts;
    size_t n_dir_counts;
    atomic_uint requests;        /* answered, whatever the status */
    struct bw_proxy_host *allow; /* cfg.proxy_allow, parsed */
    size_t n_allow;
    atomic_uint proxying; /* proxied transfers under way */
};

/* Per request, from the first call of the handler to the completion callback. */
struct req {
    char path[512];
    struct timespec start; /* first byte of the request seen (CLOCK_MONOTONIC) */
    const char *method;
    char client[INET6_ADDRSTRLEN];
    unsigned status;
    uint64_t bytes;
    struct memfile *mf; /* counted on completion */
    char *dir_name;     /* or this, for directory files */
};

static void http_date(time_t t, char *out, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

struct bw_http_server *bw_http_new(const struct bw_http_config *cfg)
{
    struct bw_http_server *s = bw_xcalloc(1, sizeof(*s));
    s->cfg = *cfg;
    s->bind = bw_xstrdup(cfg->bind_address ? cfg->bind_address : "127.0.0.1");
    s->cfg.bind_address = s->bind;
    s->cfg.directory = NULL;
    if (cfg->directory)
        s->dir_real = bw_xstrdup(cfg->directory); /* resolved at start */
    if (!s->cfg.max_connections)
        s->cfg.max_connections = 512;
    if (!s->cfg.per_client_connections)
        s->cfg.per_client_connections = 256;
    if (!s->cfg.idle_timeout_s)
        s->cfg.idle_timeout_s = 10;
    if (!s->cfg.header_memory)
        s->cfg.header_memory = 16 * 1024;
    if (!s->cfg.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        s->cfg.threads = n > 0 ? 2 * (unsigned)n : 2;
    }
    if (cfg->max_requests_per_s == 0)
        s->cfg.max_requests_per_s = 2000;
    if (cfg->unix_path) { /* one user's socket: its connections are all the guest's */
        s->cfg.unix_path = bw_xstrdup(cfg->unix_path);
        s->cfg.max_requests_per_s = UINT32_MAX;
        s->cfg.per_client_connections = 0;
    }
    if (!s->cfg.proxy_timeout_s)
        s->cfg.proxy_timeout_s = 30;
    s->allow = bw_xcalloc(cfg->n_proxy_allow + 1, sizeof(*s->allow));
    for (size_t i = 0; i < cfg->n_proxy_allow; i++) {
        const char *why;
        if (bw_proxy_parse_allow(cfg->proxy_allow[i], &s->allow[s->n_allow], &why) == 0)
            s->n_allow++;
    }
    s->cfg.proxy_allow = NULL;
    s->cfg.n_proxy_allow = 0;
    s->listen_fd = -1;
    s->dir_fd = -1;
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

int bw_http_add_file(struct bw_http_server *s, const char *name, const void *data, size_t len,
                     struct bw_error *err)
{
    char norm[PATH_BYTES];
    char *raw = bw_xasprintf("/%s", name);
    const char *why = NULL;
    int rc = bw_http_normalize_path(raw, norm, sizeof(norm), &why);
    free(raw);
    if (rc < 0 || !norm[0]) {
        bw_error_set(err, BW_ERR_USAGE, "cannot serve \"%s\": %s", name,
                     why ? why : "an empty name");
        return -1;
    }
    BW_GROW(s->files, s->alloc_files, s->n_files + 1);
    struct memfile *f = &s->files[s->n_files++];
    memset(f, 0, sizeof(*f));
    f->name = bw_xstrdup(norm);
    f->data = bw_xmalloc(len + 1);
    if (len)
        memcpy(f->data, data, len);
    f->len = len;
    f->mtime = time(NULL);
    /* FNV-1a of the bytes: changes when the rendered file changes. */
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)f->data[i]) * 1099511628211ULL;
    snprintf(f->etag, sizeof(f->etag), "\"%zx-%016llx\"", len, (unsigned long long)h);
    http_date(f->mtime, f->last_modified, sizeof(f->last_modified));
    return 0;
}

static struct memfile *find_memfile(struct bw_http_server *s, const char *name)
{
    for (size_t i = 0; i < s->n_files; i++)
        if (strcmp(s->files[i].name, name) == 0)
            return &s->files[i];
    return NULL;
}

static bool rate_exceeded(struct bw_http_server *s, const char *client)
{
    time_t now = time(NULL);
    bool over = false;
    pthread_mutex_lock(&s->lock);
    struct rate_slot *slot = NULL, *oldest = &s->rate[0];
    for (size_t i = 0; i < RATE_SLOTS && !slot; i++) {
        if (strcmp(s->rate[i].client, client) == 0)
            slot = &s->rate[i];
        else if (s->rate[i].second < oldest->second)
            oldest = &s->rate[i];
    }
    if (!slot) {
        slot = oldest;
        snprintf(slot->client, sizeof(slot->client), "%s", client);
        slot->count = 0;
        slot->second = now;
    }
    if (slot->second != now) {
        slot->second = now;
        slot->count = 0;
    }
    over = ++slot->count > s->cfg.max_requests_per_s;
    pthread_mutex_unlock(&s->lock);
    return over;
}

static void count_dir_fetch(struct bw_http_server *s, const char *name)
{
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n_dir_counts; i++)
        if (strcmp(s->dir_counts[i].name, name) == 0) {
            s->dir_counts[i].fetches++;
            pthread_mutex_unlock(&s->lock);
            return;
        }
    s->dir_counts = bw_xrealloc(s->dir_counts, (s->n_dir_counts + 1) * sizeof(*s->dir_counts));
    s->dir_counts[s->n_dir_counts].name = bw_xstrdup(name);
    s->dir_counts[s->n_dir_counts++].fetches = 1;
    pthread_mutex_unlock(&s->lock);
}

unsigned bw_http_requests(const struct bw_http_server *s)
{
    return s ? atomic_load(&((struct bw_http_server *)s)->requests) : 0;
}

void bw_http_each_fetched(const struct bw_http_server *s,
                          void (*fn)(const char *name, unsigned fetches, void *ud), void *ud)
{
    struct bw_http_server *m = (struct bw_http_server *)s;
    for (size_t i = 0; i < s->n_files; i++) {
        unsigned n = atomic_load(&m->files[i].fetches);
        if (n)
            fn(s->files[i].name, n, ud);
    }
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < s->n_dir_counts; i++)
        fn(s->dir_counts[i].name, s->dir_counts[i].fetches, ud);
    pthread_mutex_unlock(&m->lock);
}

unsigned bw_http_fetches(const struct bw_http_server *s, const char *name)
{
    struct bw_http_server *m = (struct bw_http_server *)s;
    for (size_t i = 0; i < s->n_files; i++)
        if (strcmp(s->files[i].name, name) == 0)
            return atomic_load(&m->files[i].fetches);
    unsigned n = 0;
    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < s->n_dir_counts; i++)
        if (strcmp(s->dir_counts[i].name, name) == 0)
            n = s->dir_counts[i].fetches;
    pthread_mutex_unlock(&m->lock);
    return n;
}

/* ---- responses ---- */

static enum MHD_Result queue_text(struct MHD_Connection *c, struct req *r, unsigned status,
                                  const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static enum MHD_Result queue_text(struct MHD_Connection *c, struct req *r, unsigned status,
                                  const char *fmt, ...)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    bw_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    size_t len = b.len;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, bw_buf_detach(&b), MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    r->status = status;
    r->bytes = strcmp(r->method, "HEAD") == 0 ? 0 : len;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * Reads a Range header for a body of `size` bytes. Returns 0 to send the
 * whole body (no header, a malformed one, or several ranges: RFC 9110 lets a
 * server ignore those), 1 for a satisfiable single range, -1 for 416.
 */
static int parse_range(const char *h, uint64_t size, uint64_t *start, uint64_t *len)
{
    if (!h || strncmp(h, "bytes=", 6) != 0 || strchr(h, ','))
        return 0;
    const char *p = h + 6;
    char *end;
    if (*p == '-') {
        errno = 0;
        unsigned long long suffix = strtoull(p + 1, &end, 10);
        if (end == p + 1 || *end || errno)
            return 0;
        if (suffix == 0)
            return -1;
        *len = suffix < size ? suffix : size;
        *start = size - *len;
        return size ? 1 : -1;
    }
    if (*p < '0' || *p > '9')
        return 0;
    errno = 0;
    unsigned long long a = strtoull(p, &end, 10);
    if (*end != '-' || errno)
        return 0;
    const char *q = end + 1;
    unsigned long long b = size ? size - 1 : 0;
    if (*q) {
        if (*q < '0' || *q > '9')
            return 0;
        b = strtoull(q, &end, 10);
        if (*end || errno || b < a)
            return 0;
        if (b >= size)
            b = size - 1;
    }
    if (a >= size)
        return -1;
    *start = a;
    *len = b - a + 1;
    return 1;
}

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), the only form we send; false if not one. */
static bool parse_http_date(const char *s, time_t *t)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    const char *end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end)
        return false;
    *t = timegm(&tm);
    return true;
}

static bool not_modified(struct MHD_Connection *c, const char *etag, time_t mtime)
{
    const char *inm =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
    if (inm)
        return strstr(inm, etag) != NULL || strcmp(inm, "*") == 0;
    const char *ims =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
    time_t t;
    return ims && parse_http_date(ims, &t) && t >= mtime;
}

/*
 * RFC 9110 13.1.5: with If-Range, a Range applies only when the client names this very
 * representation - our (strong) ETag exactly, or exactly its Last-Modified date; otherwise the
 * whole representation goes out with 200, so a resumed download never splices two versions.
 */
static bool if_range_holds(struct MHD_Connection *c, const char *etag, time_t mtime)
{
    const char *ir = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
    if (!ir)
        return true;
    while (*ir == ' ')
        ir++;
    if (*ir == '"' || strncmp(ir, "W/", 2) == 0)
        return strcmp(ir, etag) == 0; /* a weak tag never matches: comparison is strong */
    time_t t;
    return parse_http_date(ir, &t) && t == mtime;
}

static void add_file_headers(struct MHD_Response *resp, const char *name, const char *etag,
                             const char *last_modified)
{
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, bw_http_content_type(name));
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, last_modified);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
}

/* Sends a body of `size` bytes from memory (data) or from fd, honouring conditionals and Range. */
static enum MHD_Result send_body(struct MHD_Connection *c, struct req *r, const char *name,
                                 const char *data, int fd, uint64_t size, const char *etag,
                                 const char *last_modified, time_t mtime,
                                 struct MHD_Response *cached_full)
{
    bool head = strcmp(r->method, "HEAD") == 0;
    if (not_modified(c, etag, mtime)) {
        if (fd >= 0)
            close(fd);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
        r->status = MHD_HTTP_NOT_MODIFIED;
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    uint64_t start = 0, len = size;
    int range =
        if_range_holds(c, etag, mtime)
            ? parse_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE),
                          size, &start, &len)
            : 0;
    if (range < 0) {
        if (fd >= 0)
            close(fd);
        struct MHD_Response *resp =
            MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        char cr[64];
        snprintf(cr, sizeof(cr), "bytes */%llu", (unsigned long long)size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
        r->status = MHD_HTTP_RANGE_NOT_SATISFIABLE;
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    unsigned status = range ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK;
    struct MHD_Response *resp;
    if (!range && cached_full) {
        resp = cached_full; /* queued, not destroyed: the server keeps it */
        r->status = status;
        r->bytes = head ? 0 : len;
        return MHD_queue_response(c, status, resp);
    }
    if (fd >= 0)
        resp = MHD_create_response_from_fd_at_offset64(len, fd, start);
    else
        resp = MHD_create_response_from_buffer(len, (void *)(data + start), MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        if (fd >= 0)
            close(fd);
        return MHD_NO;
    }
    add_file_headers(resp, name, etag, last_modified);
    if (range) {
        char cr[96];
        snprintf(cr, sizeof(cr), "bytes %llu-%llu/%llu", (unsigned long long)start,
                 (unsigned long long)(start + len - 1), (unsigned long long)size);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    r->status = status;
    r->bytes = head ? 0 : len;
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum MHD_Result send_listing(struct MHD_Connection *c, struct req *r, int dfd,
                                    const char *rel)
{
    DIR *d = fdopendir(dfd); /* takes dfd */
    if (!d) {
        close(dfd);
        return queue_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        names = bw_xrealloc(names, (n + 1) * sizeof(char *));
        names[n++] = bw_xstrdup(de->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof(char *), by_name);
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_adds(&b, "<!DOCTYPE html>\n<html><body><h1>/");
    bw_buf_add_escaped_xml(&b, rel);
    bw_buf_adds(&b, "</h1>\n<ul>\n");
    for (size_t i = 0; i < n; i++) {
        bw_buf_adds(&b, "<li><a href=\"");
        bw_buf_add_escaped_xml(&b, names[i]);
        bw_buf_adds(&b, "\">");
        bw_buf_add_escaped_xml(&b, names[i]);
        bw_buf_adds(&b, "</a></li>\n");
        free(names[i]);
    }
    free(names);
    bw_buf_adds(&b, "</ul></body></html>\n");
    size_t len = b.len;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, bw_buf_detach(&b), MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    r->status = MHD_HTTP_OK;
    r->bytes = strcmp(r->method, "HEAD") == 0 ? 0 : len;
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return ret;
}

/*
 * Opens rel below the root. openat2(RESOLVE_BENEATH) resolves symlinks but
 * refuses (EXDEV) any path that leaves the root, in one system call; on a
 * kernel without it (ENOSYS, before Linux 5.6) realpath() and a prefix check
 * do the same job with more calls. Returns an fd, or -1 with *status set.
 */
/*
 * Opens rel below the served directory. O_NONBLOCK: a FIFO (or a device) put in the directory
 * must not hold a worker in open() for ever, which made every later request time out and a
 * stop never finish; serve_directory() then refuses whatever is not a regular file.
 */
static int open_beneath(struct bw_http_server *s, const char *rel, unsigned *status)
{
    struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
                           .resolve = RESOLVE_BENEATH};
    long fd = syscall(SYS_openat2, s->dir_fd, *rel ? rel : ".", &how, sizeof(how));
    if (fd >= 0)
        return (int)fd;
    if (errno != ENOSYS) {
        *status = errno == EXDEV ? MHD_HTTP_FORBIDDEN : MHD_HTTP_NOT_FOUND;
        return -1;
    }
    char *joined = bw_xasprintf("%s/%s", s->dir_real, rel);
    char real[PATH_MAX];
    bool found = realpath(joined, real) != NULL;
    free(joined);
    if (!found) {
        *status = MHD_HTTP_NOT_FOUND;
        return -1;
    }
    size_t rl = strlen(s->dir_real);
    if (strncmp(real, s->dir_real, rl) != 0 || (real[rl] != '/' && real[rl] != '\0')) {
        *status = MHD_HTTP_FORBIDDEN;
        return -1;
    }
    int f = open(real, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (f < 0)
        *status = MHD_HTTP_NOT_FOUND;
    return f;
}

static enum MHD_Result serve_directory(struct bw_http_server *s, struct MHD_Connection *c,
                                       struct req *r, const char *rel)
{
    unsigned status = 0;
    int fd = open_beneath(s, rel, &status);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        if (fd >= 0)
            close(fd);
        if (status == MHD_HTTP_FORBIDDEN)
            return queue_text(c, r, MHD_HTTP_FORBIDDEN,
                              "forbidden: outside the served directory\n");
        return queue_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n");
    }
    if (S_ISDIR(st.st_mode) && s->cfg.listing)
        return send_listing(c, r, fd, rel);
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return queue_text(c, r, MHD_HTTP_FORBIDDEN,
                          S_ISDIR(st.st_mode) ? "forbidden: directory listing is off\n"
                                              : "forbidden: not a regular file\n");
    }
    char etag[64], lm[40];
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtime);
    http_date(st.st_mtime, lm, sizeof(lm));
    r->dir_name = bw_xstrdup(rel);
    return send_body(c, r, rel, NULL, fd, (uint64_t)st.st_size, etag, lm, st.st_mtime, NULL);
}

/* ---- the libmicrohttpd callbacks ---- */

/* ---- proxying (proxy.h) ---- */

/* A proxied body on its way: what came with the head, then the upstream socket. */
struct upstream {
    int fd;
    char *buf; /* body bytes read with the head */
    size_t off, n;
    uint64_t left; /* of Content-Length */
    struct bw_http_server *s;
};

static void upstream_free(void *cls)
{
    struct upstream *u = cls;
    close(u->fd);
    free(u->buf);
    atomic_fetch_sub(&u->s->proxying, 1);
    free(u);
}

static ssize_t upstream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct upstream *u = cls;
    (void)pos;
    if (u->left == 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (max > u->left)
        max = (size_t)u->left;
    if (u->off < u->n) {
        size_t k = u->n - u->off < max ? u->n - u->off : max;
        memcpy(buf, u->buf + u->off, k);
        u->off += k;
        u->left -= k;
        return (ssize_t)k;
    }
    ssize_t k;
    do
        k = recv(u->fd, buf, max, 0);
    while (k < 0 && errno == EINTR);
    if (k <= 0) /* closed early, or nothing within the timeout: the client sees a cut body */
        return MHD_CONTENT_READER_END_WITH_ERROR;
    u->left -= (uint64_t)k;
    return k;
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)cls, (void)pos, (void)buf, (void)max;
    return MHD_CONTENT_READER_END_WITH_ERROR;
}

/* Connects to host:port within timeout_s; the socket then has that timeout on every read and
 * write. Returns the socket, or -1 with *why. */
static int upstream_connect(const struct bw_proxy_host *h, unsigned timeout_s, char *why,
                            size_t whylen)
{
    char port[8];
    snprintf(port, sizeof(port), "%u", h->port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(h->host, port, &hints, &res);
    if (rc != 0) {
        snprintf(why, whylen, "cannot resolve %s: %s", h->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    snprintf(why, whylen, "cannot connect to %s:%u", h->host, h->port);
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        int e = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
        if (e == EINPROGRESS) {
            struct pollfd pfd = {fd, POLLOUT, 0};
            socklen_t el = sizeof(e);
            if (poll(&pfd, 1, (int)timeout_s * 1000) != 1)
                e = ETIMEDOUT;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) < 0)
                e = errno;
        }
        if (e) {
            snprintf(why, whylen, "cannot connect to %s:%u: %s", h->host, h->port, strerror(e));
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        return -1;
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct timeval tv = {(time_t)timeout_s, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

struct arg_ctx {
    struct bw_buf *b;
    bool first;
};

static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value)
{
    struct arg_ctx *a = cls;
    (void)kind;
    bw_buf_addc(a->b, a->first ? '?' : '&');
    a->first = false;
    /* as it came (libmicrohttpd leaves it escaped: keep_escaped), but never a blank or a
     * control byte on the upstream's request line */
    for (int part = 0; part < 2; part++) {
        const char *t = part ? value : key;
        if (!t)
            break;
        if (part)
            bw_buf_addc(a->b, '=');
        for (const unsigned char *p = (const unsigned char *)t; *p; p++)
            if (*p > 0x20 && *p < 0x7f)
                bw_buf_addc(a->b, (char)*p);
            else
                bw_buf_addf(a->b, "%%%02X", *p);
    }
    return MHD_YES;
}

static enum MHD_Result proxy_request(struct bw_http_server *s, struct MHD_Connection *c,
                                     struct req *r, const char *url)
{
    struct bw_proxy_host h;
    const char *path, *why;
    if (bw_proxy_parse_target(url, &h, &path, &why) < 0)
        return queue_text(c, r, MHD_HTTP_BAD_REQUEST, "not a request this proxy takes: %s\n", why);
    if (!bw_proxy_allowed(s->allow, s->n_allow, &h))
        return queue_text(c, r, MHD_HTTP_FORBIDDEN,
                          "%s:%u is not a host this proxy goes to (http.proxy_allow)\n", h.host,
                          h.port);
    unsigned most = s->cfg.threads / 2 ? s->cfg.threads / 2 : 1;
    if (atomic_fetch_add(&s->proxying, 1) >= most) {
        atomic_fetch_sub(&s->proxying, 1);
        return queue_text(c, r, MHD_HTTP_SERVICE_UNAVAILABLE,
                          "%u proxied transfers under way already; try again\n", most);
    }
    char why_buf[512];
    int fd = upstream_connect(&h, s->cfg.proxy_timeout_s, why_buf, sizeof(why_buf));
    if (fd < 0) {
        atomic_fetch_sub(&s->proxying, 1);
        return queue_text(c, r, MHD_HTTP_BAD_GATEWAY, "%s\n", why_buf);
    }
    struct bw_buf q = BW_BUF_INIT;
    bw_buf_init(&q);
    bw_buf_addf(&q, "%s %s", r->method, *path ? path : "/");
    struct arg_ctx a = {&q, true};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, add_arg, &a);
    bw_buf_addf(&q, " HTTP/1.0\r\nHost: %s%s%s", strchr(h.host, ':') ? "[" : "", h.host,
                strchr(h.host, ':') ? "]" : "");
    if (h.port != 80)
        bw_buf_addf(&q, ":%u", h.port);
    bw_buf_adds(&q, "\r\nConnection: close\r\n");
    static const char *const pass[] = {"Range",         "If-Range",   "If-Modified-Since",
                                       "If-None-Match", "User-Agent", "Accept"};
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, pass[i]);
        if (v)
            bw_buf_addf(&q, "%s: %s\r\n", pass[i], v);
    }
    bw_buf_adds(&q, "\r\n");
    bool sent = send(fd, q.data, q.len, MSG_NOSIGNAL) == (ssize_t)q.len;
    bw_buf_release(&q);
    /* The head, up to 16 KiB, each read within the timeout. */
    enum { MAX_HEAD = 16 * 1024 };
    char *buf = bw_xmalloc(MAX_HEAD);
    size_t len = 0;
    struct bw_proxy_head ph;
    int got = sent ? 0 : -1;
    while (got == 0) {
        ssize_t k = recv(fd, buf + len, MAX_HEAD - len, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            got = -1;
            break;
        }
        len += (size_t)k;
        got = bw_proxy_parse_head(buf, len, MAX_HEAD, &ph);
    }
    const char *bad =
        got < 0                              ? "no HTTP/1.x response head from"
        : ph.status < 200 || ph.status > 599 ? "a status other than 200-599 from"
        : ph.chunked                         ? "a chunked body (not passed on) from"
        : !ph.has_length && strcmp(r->method, "HEAD") != 0 && ph.status != 304 && ph.status != 204
            ? "a body without Content-Length (not passed on) from"
            : NULL;
    if (bad) {
        close(fd);
        free(buf);
        atomic_fetch_sub(&s->proxying, 1);
        return queue_text(c, r, MHD_HTTP_BAD_GATEWAY, "%s %s:%u\n", bad, h.host, h.port);
    }
    bool empty = strcmp(r->method, "HEAD") == 0 || ph.status == 304 || ph.status == 204;
    struct MHD_Response *resp;
    if (empty) {
        close(fd);
        free(buf);
        atomic_fetch_sub(&s->proxying, 1);
        /* HEAD: the upstream's length, and no body (libmicrohttpd reads none for HEAD) */
        resp = ph.has_length && strcmp(r->method, "HEAD") == 0
                   ? MHD_create_response_from_callback(ph.length, 1024, no_body, NULL, NULL)
                   : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else {
        struct upstream *u = bw_xcalloc(1, sizeof(*u));
        u->fd = fd;
        u->buf = buf;
        u->off = ph.head_len;
        u->n = len;
        u->left = ph.length;
        u->s = s;
        resp = MHD_create_response_from_callback(ph.length, 64 * 1024, upstream_read, u,
                                                 upstream_free);
        if (!resp) {
            upstream_free(u);
            return MHD_NO;
        }
    }
    const struct {
        const char *name, *value;
    } hdr[] = {
        {MHD_HTTP_HEADER_CONTENT_TYPE, ph.content_type},
        {MHD_HTTP_HEADER_LAST_MODIFIED, ph.last_modified},
        {MHD_HTTP_HEADER_ETAG, ph.etag},
        {MHD_HTTP_HEADER_CONTENT_RANGE, ph.content_range},
        {MHD_HTTP_HEADER_ACCEPT_RANGES, ph.accept_ranges},
    };
    for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++)
        if (hdr[i].value[0])
            MHD_add_response_header(resp, hdr[i].name, hdr[i].value);
    r->status = ph.status;
    r->bytes = empty ? 0 : ph.length;
    enum MHD_Result ret = MHD_queue_response(c, ph.status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static void client_of(struct MHD_Connection *c, char *out, size_t len)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, len, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    struct bw_http_server *s = cls;
    (void)version, (void)upload_data;
    struct req *r = *con_cls;
    if (!r) {
        /*
         * Answer on the second call, not the first: libmicrohttpd 0.9.75
         * closes the connection (no keep-alive) when a response is queued
         * before it has finished reading the request.
         */
        r = bw_xcalloc(1, sizeof(*r));
        *con_cls = r;
        clock_gettime(CLOCK_MONOTONIC, &r->start);
        snprintf(r->path, sizeof(r->path), "%s", url);
        r->method = strcmp(method, "HEAD") == 0  ? "HEAD"
                    : strcmp(method, "GET") == 0 ? "GET"
                                                 : "OTHER";
        if (s->cfg.on_event || s->cfg.max_requests_per_s != UINT32_MAX)
            client_of(c, r->client, sizeof(r->client));
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* A request body nobody asked for (only GET and HEAD are served): drop it. */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(r->method, "OTHER") == 0)
        return queue_text(c, r, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are served\n");
    if (s->cfg.max_requests_per_s != UINT32_MAX && rate_exceeded(s, r->client))
        return queue_text(c, r, MHD_HTTP_TOO_MANY_REQUESTS, "too many requests\n");
    if (bw_proxy_is_target(url))
        return proxy_request(s, c, r, url);
    char rel[PATH_BYTES];
    const char *why = NULL;
    if (bw_http_normalize_path(url, rel, sizeof(rel), &why) < 0)
        return queue_text(c, r, MHD_HTTP_FORBIDDEN, "forbidden: %s\n", why);
    struct memfile *mf = find_memfile(s, rel);
    if (mf) {
        r->mf = mf;
        return send_body(c, r, mf->name, mf->data, -1, mf->len, mf->etag, mf->last_modified,
                         mf->mtime, mf->full);
    }
    if (s->dir_real)
        return serve_directory(s, c, r, rel);
    return queue_text(c, r, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    struct bw_http_server *s = cls;
    struct req *r = *con_cls;
    (void)c;
    if (!r)
        return;
    bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK;
    if (ok && (r->status == MHD_HTTP_OK || r->status == MHD_HTTP_PARTIAL_CONTENT)) {
        if (r->mf)
            atomic_fetch_add(&r->mf->fetches, 1);
        else if (r->dir_name)
            count_dir_fetch(s, r->dir_name);
    }
    if (r->status)
        atomic_fetch_add(&s->requests, 1);
    if (s->cfg.on_event && r->status) {
        struct timespec end;
        clock_gettime(CLOCK_MONOTONIC, &end);
        struct bw_http_event ev = {{0, 0},    r->client,         r->method, r->path,
                                   r->status, ok ? r->bytes : 0, ok,        0};
        ev.seconds =
            (double)(end.tv_sec - r->start.tv_sec) + (double)(end.tv_nsec - r->start.tv_nsec) / 1e9;
        clock_gettime(CLOCK_REALTIME, &ev.when);
        s->cfg.on_event(&ev, s->cfg.ud);
    }
    free(r->dir_name);
    free(r);
    *con_cls = NULL;
}

/* The request target reaches us undecoded; bw_http_normalize_path decodes it once, safely. */
static size_t keep_escaped(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    return strlen(s);
}

/* ---- start and stop ---- */

static int listen_on(struct bw_http_server *s, unsigned port, struct bw_error *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sl;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, s->bind, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        sl = sizeof(*v4);
    } else if (inet_pton(AF_INET6, s->bind, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        sl = sizeof(*v6);
    } else {
        bw_error_set(err, BW_ERR_USAGE,
                     "bind address \"%s\": expected an IPv4 or IPv6 address such as 127.0.0.1",
                     s->bind);
        return -2;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        bw_error_set(err, BW_ERR_NETWORK, "socket: %s", strerror(errno));
        return -2;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE || e == EACCES)
            return -1; /* try the next port */
        bw_error_set(err, BW_ERR_NETWORK, "cannot listen on %s:%u: %s", s->bind, port, strerror(e));
        return -2;
    }
    return fd;
}

/* A Unix socket at path, its owner's alone. */
static int listen_unix(const char *path, struct bw_error *err)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        bw_error_set(err, BW_ERR_USAGE, "socket path too long: %s", path);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    unlink(path);
    mode_t old = umask(0177);
    int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc < 0 || listen(fd, 1024) < 0) {
        bw_error_at(err, BW_ERR_NETWORK, path, NULL, 0, 0, "cannot listen: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int bw_http_bind(struct bw_http_server *s, struct bw_error *err)
{
    if (s->listen_fd >= 0)
        return 0;
    if (s->cfg.unix_path) {
        s->listen_fd = listen_unix(s->cfg.unix_path, err);
        return s->listen_fd < 0 ? -1 : 0;
    }
    unsigned lo = s->cfg.port_min, hi = s->cfg.port_max < lo ? lo : s->cfg.port_max;
    int fd = -1;
    for (unsigned p = lo; p <= hi && fd < 0; p++) {
        fd = listen_on(s, p, err);
        if (fd == -2)
            return -1;
        if (fd >= 0)
            s->port = p;
    }
    if (fd < 0) {
        bw_error_set(err, BW_ERR_NETWORK,
                     "no free port on %s in %u-%u: every one is in use (choose another range "
                     "with --port MIN-MAX)",
                     s->bind, lo, hi);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                                : ((struct sockaddr_in6 *)&ss)->sin6_port);
    s->listen_fd = fd;
    return 0;
}

int bw_http_start(struct bw_http_server *s, struct bw_error *err)
{
    if (s->dir_real) {
        char real[PATH_MAX];
        struct stat st;
        if (!realpath(s->dir_real, real) || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
            bw_error_at(err, BW_ERR_IO, s->dir_real, NULL, 0, 0, "cannot serve this directory: %s",
                        errno ? strerror(errno) : "not a directory");
            return -1;
        }
        free(s->dir_real);
        s->dir_real = bw_xstrdup(real);
        s->dir_fd = open(real, O_PATH | O_DIRECTORY | O_CLOEXEC);
    }
    if (bw_http_bind(s, err) < 0)
        return -1;
    int fd = s->listen_fd;
    for (size_t i = 0; i < s->n_files; i++) {
        struct memfile *f = &s->files[i];
        f->full = MHD_create_response_from_buffer(f->len, f->data, MHD_RESPMEM_PERSISTENT);
        add_file_headers(f->full, f->name, f->etag, f->last_modified);
    }
    s->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO, 0, NULL, NULL, on_request,
        s, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads,
        MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        s->cfg.per_client_connections, MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->cfg.header_memory, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_UNESCAPE_CALLBACK, keep_escaped, NULL, MHD_OPTION_END);
    if (!s->daemon) {
        close(fd);
        s->listen_fd = -1;
        bw_error_set(err, BW_ERR_NETWORK, "cannot start the HTTP server on %s",
                     s->cfg.unix_path ? s->cfg.unix_path : s->bind);
        return -1;
    }
    s->listen_fd = -1; /* the daemon owns it now and closes it in MHD_stop_daemon() */
    return 0;
}

unsigned bw_http_port(const struct bw_http_server *s)
{
    return s->port;
}

void bw_http_stop(struct bw_http_server *s)
{
    if (!s)
        return;
    if (s->daemon)
        MHD_stop_daemon(s->daemon);
    if (s->listen_fd >= 0)
        close(s->listen_fd);
    if (s->dir_fd >= 0)
        close(s->dir_fd);
    for (size_t i = 0; i < s->n_files; i++) {
        if (s->files[i].full)
            MHD_destroy_response(s->files[i].full);
        free(s->files[i].name);
        free(s->files[i].data);
    }
    free(s->files);
    for (size_t i = 0; i < s->n_dir_counts; i++)
        free(s->dir_counts[i].name);
    free(s->dir_counts);
    pthread_mutex_destroy(&s->lock);
    if (s->cfg.unix_path)
        unlink(s->cfg.unix_path);
    free((char *)s->cfg.unix_path);
    free(s->bind);
    free(s->dir_real);
    free(s->allow);
    free(s);
}
