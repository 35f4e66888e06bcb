/* The embedded HTTP server against real clients: libcurl, raw sockets and the curl program. */
#include "golden.h"
#include "http_server.h"
#include "proxy.h"
#include "stream.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"

#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char root[96], top[64];
static struct bw_http_server *srv;
static unsigned port;
static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned ev_count, ev_last_status;
static char ev_last_path[256];
static uint64_t ev_last_bytes;

static const char answer[] = "d-i passwd/username string vagrant\n";
#define BIG_SIZE (4u << 20)

static void on_event(const struct bw_http_event *ev, void *ud)
{
    (void)ud;
    pthread_mutex_lock(&ev_lock);
    ev_count++;
    ev_last_status = ev->status;
    ev_last_bytes = ev->bytes;
    snprintf(ev_last_path, sizeof(ev_last_path), "%s", ev->path);
    pthread_mutex_unlock(&ev_lock);
}

static void write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

/*
 * top/
 *   secret/flag.txt          outside the root: must never be served
 *   www/                     the served root
 *     a.txt big.bin sub/x.json
 *     secret-link -> ../secret, flag-link -> ../secret/flag.txt, abs-link -> top/secret/flag.txt
 *     etc-link -> /etc, sub/up-link -> ../../secret, inside-link -> a.txt (allowed)
 */
static void setup(void)
{
    snprintf(top, sizeof(top), "/tmp/bw-http-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(top));
    char *p = bw_xasprintf("%s/secret", top);
    mkdir(p, 0755);
    free(p);
    p = bw_xasprintf("%s/secret/flag.txt", top);
    write_file(p, "TOPSECRET\n", 10);
    char *abs_flag = p;
    snprintf(root, sizeof(root), "%s/www", top);
    mkdir(root, 0755);
    p = bw_xasprintf("%s/sub", root);
    mkdir(p, 0755);
    free(p);
    p = bw_xasprintf("%s/a.txt", root);
    write_file(p, "hello\n", 6);
    free(p);
    p = bw_xasprintf("%s/sub/x.json", root);
    write_file(p, "{\"a\":1}\n", 8);
    free(p);
    char *big = bw_xmalloc(BIG_SIZE);
    for (size_t i = 0; i < BIG_SIZE; i++)
        big[i] = (char)(i * 7 + (i >> 12));
    p = bw_xasprintf("%s/big.bin", root);
    write_file(p, big, BIG_SIZE);
    free(p);
    free(big);
    static const struct {
        const char *target, *name;
    } links[] = {{"../secret", "secret-link"},
                 {"../secret/flag.txt", "flag-link"},
                 {"/etc", "etc-link"},
                 {"../../secret", "sub/up-link"},
                 {"a.txt", "inside-link"}};
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
        p = bw_xasprintf("%s/%s", root, links[i].name);
        ck_assert_int_eq(symlink(links[i].target, p), 0);
        free(p);
    }
    p = bw_xasprintf("%s/abs-link", root);
    ck_assert_int_eq(symlink(abs_flag, p), 0);
    free(p);
    free(abs_flag);

    struct bw_http_config cfg = {0};
    cfg.port_min = 0; /* the kernel picks */
    cfg.directory = root;
    cfg.on_event = on_event;
    cfg.max_requests_per_s = 100000;
    srv = bw_http_new(&cfg);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_http_add_file(srv, "preseed.cfg", answer, strlen(answer), &err), 0);
    ck_assert_int_eq(bw_http_add_file(srv, "debian/meta.json", "{}", 2, &err), 0);
    ck_assert_int_eq(bw_http_start(srv, &err), 0);
    port = bw_http_port(srv);
    ck_assert_uint_gt(port, 0);
    ev_count = 0;
}

static void teardown(void)
{
    bw_http_stop(srv);
    srv = NULL;
    test_rm_rf(top);
}

struct reply {
    long status;
    struct bw_buf body;
    struct bw_buf headers;
};

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
    bw_buf_add(ud, p, size * n);
    return size * n;
}

/* method on url (through proxy, unless NULL) with the headers hdrs (freed here). Caller
 * releases r. */
static CURLcode perform(const char *method, const char *url, const char *proxy,
                        struct curl_slist *hdrs, struct reply *r)
{
    memset(r, 0, sizeof(*r));
    bw_buf_init(&r->body);
    bw_buf_init(&r->headers);
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
    if (proxy)
        curl_easy_setopt(c, CURLOPT_PROXY, proxy);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &r->body);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &r->headers);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 20L);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return rc;
}

/* GET (or HEAD) path with extra headers (NULL-terminated). Caller releases r. */
static void fetch(const char *method, const char *path, struct reply *r, ...)
{
    char *url = bw_xasprintf("http://127.0.0.1:%u%s", port, path);
    struct curl_slist *hdrs = NULL;
    va_list ap;
    va_start(ap, r);
    for (const char *h = va_arg(ap, const char *); h; h = va_arg(ap, const char *))
        hdrs = curl_slist_append(hdrs, h);
    va_end(ap);
    CURLcode rc = perform(method, url, NULL, hdrs, r);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, path, curl_easy_strerror(rc));
    free(url);
}

static void reply_release(struct reply *r)
{
    bw_buf_release(&r->body);
    bw_buf_release(&r->headers);
}

/* Value of header `name` (case-insensitive) or "" ; static buffer. */
static const char *header(const struct reply *r, const char *name)
{
    static char val[256];
    val[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = r->headers.data; p && *p;) {
        const char *e = strstr(p, "\r\n");
        if (!e)
            break;
        if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            snprintf(val, sizeof(val), "%.*s", (int)(e - v), v);
        }
        p = e + 2;
    }
    return val;
}

START_TEST(test_answer_file_served_with_length_type_etag_and_date)
{
    struct reply r;
    fetch("GET", "/preseed.cfg", &r, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, answer);
    char len[32];
    snprintf(len, sizeof(len), "%zu", strlen(answer));
    ck_assert_str_eq(header(&r, "Content-Length"), len);
    ck_assert_str_eq(header(&r, "Content-Type"), "text/plain; charset=utf-8");
    ck_assert_int_eq(header(&r, "ETag")[0], '"');
    ck_assert_ptr_nonnull(strstr(header(&r, "Last-Modified"), " GMT"));
    ck_assert_str_eq(header(&r, "Accept-Ranges"), "bytes");
    reply_release(&r);
    fetch("GET", "/debian/meta.json", &r, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
    reply_release(&r);
    fetch("GET", "/sub/x.json", &r, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "application/json");
    ck_assert_str_eq(r.body.data, "{\"a\":1}\n");
    reply_release(&r);
}
END_TEST

/* An installer fetching several files (and wrk) reuses one connection. */
START_TEST(test_connections_are_kept_alive_between_requests)
{
    CURL *c = curl_easy_init();
    struct bw_buf body = BW_BUF_INIT;
    bw_buf_init(&body);
    char *url = bw_xasprintf("http://127.0.0.1:%u/preseed.cfg", port);
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &body);
    long connects = -1;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
        curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
        ck_assert_int_eq(connects, i == 0 ? 1 : 0);
    }
    curl_easy_cleanup(c);
    bw_buf_release(&body);
    free(url);
}
END_TEST

START_TEST(test_head_has_headers_and_no_body)
{
    struct reply r;
    fetch("HEAD", "/big.bin", &r, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, 0);
    char len[32];
    snprintf(len, sizeof(len), "%u", BIG_SIZE);
    ck_assert_str_eq(header(&r, "Content-Length"), len);
    reply_release(&r);
}
END_TEST

START_TEST(test_conditional_requests_get_304)
{
    struct reply r;
    fetch("GET", "/preseed.cfg", &r, NULL);
    char *inm = bw_xasprintf("If-None-Match: %s", header(&r, "ETag"));
    char *ims = bw_xasprintf("If-Modified-Since: %s", header(&r, "Last-Modified"));
    reply_release(&r);
    fetch("GET", "/preseed.cfg", &r, inm, NULL);
    ck_assert_int_eq(r.status, 304);
    ck_assert_uint_eq(r.body.len, 0);
    reply_release(&r);
    fetch("GET", "/preseed.cfg", &r, ims, NULL);
    ck_assert_int_eq(r.status, 304);
    reply_release(&r);
    fetch("GET", "/preseed.cfg", &r, "If-None-Match: \"other\"", NULL);
    ck_assert_int_eq(r.status, 200);
    reply_release(&r);
    free(inm);
    free(ims);
}
END_TEST

START_TEST(test_single_ranges_give_206_and_bad_ones_416)
{
    struct reply r;
    fetch("GET", "/big.bin", &r, "Range: bytes=1000-1999", NULL);
    ck_assert_int_eq(r.status, 206);
    ck_assert_uint_eq(r.body.len, 1000);
    char cr[64];
    snprintf(cr, sizeof(cr), "bytes 1000-1999/%u", BIG_SIZE);
    ck_assert_str_eq(header(&r, "Content-Range"), cr);
    for (size_t i = 0; i < 1000; i++)
        ck_assert_int_eq(r.body.data[i], (char)((i + 1000) * 7 + ((i + 1000) >> 12)));
    reply_release(&r);
    fetch("GET", "/big.bin", &r, "Range: bytes=-10", NULL);
    ck_assert_int_eq(r.status, 206);
    ck_assert_uint_eq(r.body.len, 10);
    reply_release(&r);
    fetch("GET", "/preseed.cfg", &r, "Range: bytes=4-", NULL);
    ck_assert_int_eq(r.status, 206);
    ck_assert_str_eq(r.body.data, answer + 4);
    reply_release(&r);
    fetch("GET", "/a.txt", &r, "Range: bytes=6-", NULL);
    ck_assert_int_eq(r.status, 416);
    ck_assert_str_eq(header(&r, "Content-Range"), "bytes */6");
    reply_release(&r);
    fetch("GET", "/a.txt", &r, "Range: bytes=0-0,2-3", NULL); /* several ranges: whole body */
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "hello\n");
    reply_release(&r);
}
END_TEST

/* RFC 9110 13.1.5: a Range counts only when If-Range names this very file; else all of it. */
START_TEST(test_if_range_that_does_not_match_gets_the_whole_file)
{
    struct reply r;
    fetch("HEAD", "/big.bin", &r, NULL);
    char *etag = bw_xasprintf("If-Range: %s", header(&r, "ETag"));
    char *date = bw_xasprintf("If-Range: %s", header(&r, "Last-Modified"));
    reply_release(&r);
    static const char *const stale[] = {
        "If-Range: \"wrong\"", "If-Range: Sun, 06 Nov 1994 08:49:37 GMT", "If-Range: not a date"};
    for (size_t i = 0; i < sizeof(stale) / sizeof(stale[0]); i++) {
        fetch("GET", "/big.bin", &r, "Range: bytes=0-9", stale[i], NULL);
        ck_assert_msg(r.status == 200, "%s: %ld", stale[i], r.status);
        ck_assert_uint_eq(r.body.len, BIG_SIZE);
        reply_release(&r);
    }
    /* The same tag, weak: a weak comparison is not enough for a range. */
    char *weak = bw_xasprintf("If-Range: W/%s", etag + strlen("If-Range: "));
    fetch("GET", "/big.bin", &r, "Range: bytes=0-9", weak, NULL);
    ck_assert_int_eq(r.status, 200);
    reply_release(&r);
    const char *fresh[] = {etag, date};
    for (size_t i = 0; i < 2; i++) {
        fetch("GET", "/big.bin", &r, "Range: bytes=0-9", fresh[i], NULL);
        ck_assert_msg(r.status == 206, "%s: %ld", fresh[i], r.status);
        ck_assert_uint_eq(r.body.len, 10);
        reply_release(&r);
    }
    free(weak);
    free(etag);
    free(date);
}
END_TEST

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A FIFO in the served directory used to hold every worker in open() for good: requests timed
 * out and the server could not stop. Only regular files are served; nothing waits. */
START_TEST(test_a_fifo_in_the_directory_is_refused_and_nothing_hangs)
{
    char *fifo = bw_xasprintf("%s/fifo", root);
    ck_assert_int_eq(mkfifo(fifo, 0644), 0);
    double t0 = now_s();
    for (int i = 0; i < 16; i++) {
        struct reply r;
        fetch("GET", "/fifo", &r, NULL);
        ck_assert_int_eq(r.status, 403);
        ck_assert_ptr_nonnull(strstr(r.body.data, "not a regular file"));
        reply_release(&r);
    }
    struct reply r;
    fetch("GET", "/a.txt", &r, NULL);
    ck_assert_int_eq(r.status, 200);
    reply_release(&r);
    ck_assert_double_lt(now_s() - t0, 5);
    t0 = now_s();
    bw_http_stop(srv);
    srv = NULL;
    ck_assert_double_lt(now_s() - t0, 2);
    free(fifo);
}
END_TEST

START_TEST(test_missing_files_404_and_other_methods_405)
{
    struct reply r;
    fetch("GET", "/nope.cfg", &r, NULL);
    ck_assert_int_eq(r.status, 404);
    reply_release(&r);
    fetch("POST", "/preseed.cfg", &r, NULL);
    ck_assert_int_eq(r.status, 405);
    ck_assert_str_eq(header(&r, "Allow"), "GET, HEAD");
    reply_release(&r);
    fetch("GET", "/inside-link", &r, NULL); /* a symlink that stays inside is fine */
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, "hello\n");
    reply_release(&r);
}
END_TEST

/* Sends one raw request; returns the status code and fills body (headers stripped). */
static int raw_request(const char *target, struct bw_buf *body)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    char *req = bw_xasprintf("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", target);
    ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    free(req);
    struct bw_buf all = BW_BUF_INIT;
    bw_buf_init(&all);
    char chunk[4096];
    ssize_t n;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    while ((n = read(fd, chunk, sizeof(chunk))) > 0)
        bw_buf_add(&all, chunk, (size_t)n);
    close(fd);
    int status = 0;
    if (all.len > 12)
        status = atoi(all.data + 9);
    const char *b = strstr(all.data, "\r\n\r\n");
    bw_buf_adds(body, b ? b + 4 : "");
    bw_buf_release(&all);
    return status;
}

START_TEST(test_traversal_corpus_is_refused)
{
    size_t len;
    char *text = golden_read("http", "traversal.txt", &len);
    size_t tried = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (!*line || line[0] == '#')
            continue;
        struct bw_buf body = BW_BUF_INIT;
        bw_buf_init(&body);
        int status = raw_request(line, &body);
        ck_assert_msg(status >= 400 && status < 500, "%s: status %d", line, status);
        ck_assert_msg(!strstr(body.data, "TOPSECRET") && !strstr(body.data, "root:"),
                      "%s leaked a file outside the root", line);
        bw_buf_release(&body);
        tried++;
    }
    ck_assert_uint_ge(tried, 50);
    free(text);
}
END_TEST

START_TEST(test_normal_request_succeeds_during_a_flood_of_idle_and_slow_connections)
{
    enum { FLOOD = 200 };
    int fds[FLOOD];
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < FLOOD; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        ck_assert_int_eq(connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
        if (i % 2) /* half send a request line and never finish the headers */
            ck_assert_int_gt(write(fds[i], "GET /big.bin HTTP/1.1\r\nHost: x\r\n", 32), 0);
    }
    usleep(100 * 1000);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct reply r;
    fetch("GET", "/preseed.cfg", &r, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body.data, answer);
    ck_assert_msg(secs < 1.0, "took %.3f s", secs);
    reply_release(&r);
    for (int i = 0; i < FLOOD; i++)
        close(fds[i]);
}
END_TEST

START_TEST(test_busy_port_range_is_an_error_that_names_it)
{
    struct bw_http_config cfg = {0};
    cfg.port_min = port;
    cfg.port_max = port; /* the fixture's server holds it */
    struct bw_http_server *other = bw_http_new(&cfg);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_http_start(other, &err), -1);
    ck_assert_int_eq(err.code, BW_ERR_NETWORK);
    char range[32];
    snprintf(range, sizeof(range), "%u-%u", port, port);
    ck_assert_msg(strstr(err.msg, range) && strstr(err.msg, "no free port"), "%s", err.msg);
    bw_http_stop(other);
    /* A range with a free port after the busy one works. */
    cfg.port_max = port + 50 > 65535 ? 65535 : port + 50;
    other = bw_http_new(&cfg);
    ck_assert_int_eq(bw_http_start(other, &err), 0);
    ck_assert_uint_gt(bw_http_port(other), port);
    bw_http_stop(other);
    cfg.bind_address = "not-an-address";
    other = bw_http_new(&cfg);
    ck_assert_int_eq(bw_http_start(other, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "not-an-address"));
    bw_http_stop(other);
    bw_error_release(&err);
}
END_TEST

START_TEST(test_each_request_is_an_event_and_fetches_are_counted)
{
    struct reply r;
    ck_assert_uint_eq(bw_http_fetches(srv, "preseed.cfg"), 0);
    fetch("GET", "/preseed.cfg", &r, NULL);
    reply_release(&r);
    fetch("GET", "/sub/x.json", &r, NULL);
    reply_release(&r);
    fetch("GET", "/nope", &r, NULL);
    reply_release(&r);
    usleep(50 * 1000); /* completion runs after the last byte is handed to the kernel */
    ck_assert_uint_eq(bw_http_fetches(srv, "preseed.cfg"), 1);
    ck_assert_uint_eq(bw_http_fetches(srv, "sub/x.json"), 1);
    ck_assert_uint_eq(bw_http_fetches(srv, "nope"), 0);
    pthread_mutex_lock(&ev_lock);
    ck_assert_uint_eq(ev_count, 3);
    ck_assert_uint_eq(ev_last_status, 404);
    ck_assert_str_eq(ev_last_path, "/nope");
    pthread_mutex_unlock(&ev_lock);
}
END_TEST

START_TEST(test_directories_are_listed_only_when_asked)
{
    struct reply r;
    fetch("GET", "/sub/", &r, NULL);
    ck_assert_int_eq(r.status, 403);
    ck_assert_ptr_null(strstr(r.body.data, "x.json"));
    reply_release(&r);
    struct bw_http_config cfg = {0};
    cfg.directory = root;
    cfg.listing = true;
    struct bw_http_server *s = bw_http_new(&cfg);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_http_start(s, &err), 0);
    unsigned saved = port;
    port = bw_http_port(s);
    fetch("GET", "/sub/", &r, NULL);
    port = saved;
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Type"), "text/html; charset=utf-8");
    ck_assert_ptr_nonnull(strstr(r.body.data, "<a href=\"x.json\">x.json</a>"));
    reply_release(&r);
    bw_http_stop(s);
}
END_TEST

START_TEST(test_rate_limit_answers_429)
{
    struct bw_http_config cfg = {0};
    cfg.max_requests_per_s = 3;
    struct bw_http_server *s = bw_http_new(&cfg);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_http_add_file(s, "a", "x", 1, &err), 0);
    ck_assert_int_eq(bw_http_start(s, &err), 0);
    unsigned saved = port;
    port = bw_http_port(s);
    int ok = 0, limited = 0;
    for (int i = 0; i < 10; i++) {
        struct reply r;
        fetch("GET", "/a", &r, NULL);
        ok += r.status == 200;
        limited += r.status == 429;
        reply_release(&r);
    }
    port = saved;
    ck_assert_int_ge(limited, 1);
    ck_assert_int_ge(ok, 3);
    bw_http_stop(s);
}
END_TEST

START_TEST(test_paths_normalise_or_are_refused)
{
    static const struct {
        const char *raw, *want; /* want NULL: refused */
    } cases[] = {
        {"/", ""},          {"/a.txt", "a.txt"},   {"/a%20b.txt", "a b.txt"},
        {"//a//b/", "a/b"}, {"/./a/./b", "a/b"},   {"/a?x=1", "a"},
        {"/a#frag", "a"},   {"/%7euser", "~user"}, {"/..", NULL},
        {"/a/../b", NULL},  {"/%2e%2e/x", NULL},   {"/a%00b", NULL},
        {"/a\\b", NULL},    {"/a%5cb", NULL},      {"/%zz", NULL},
        {"/%4", NULL},      {"a.txt", NULL},       {"/a%0ab", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[256];
        const char *why = NULL;
        int rc = bw_http_normalize_path(cases[i].raw, out, sizeof(out), &why);
        if (cases[i].want) {
            ck_assert_msg(rc == 0, "%s refused: %s", cases[i].raw, why);
            ck_assert_str_eq(out, cases[i].want);
        } else {
            ck_assert_msg(rc == -1, "%s accepted as %s", cases[i].raw, out);
            ck_assert_ptr_nonnull(why);
        }
    }
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_http_add_file(srv, "../x", "y", 1, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, ".."));
    bw_error_release(&err);
}
END_TEST

START_TEST(test_curl_program_downloads_the_big_file_intact)
{
    char *out = bw_xasprintf("%s/dl.bin", top);
    char *url = bw_xasprintf("http://127.0.0.1:%u/big.bin", port);
    char *argv[] = {"curl", "-sS", "-f", "-o", out, url, NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_spawn_run(argv, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
    struct bw_buf a = BW_BUF_INIT, b = BW_BUF_INIT;
    bw_buf_init(&a);
    bw_buf_init(&b);
    char *orig = bw_xasprintf("%s/big.bin", root);
    ck_assert_int_eq(bw_buf_read_file(&a, out), 0);
    ck_assert_int_eq(bw_buf_read_file(&b, orig), 0);
    ck_assert_uint_eq(a.len, BIG_SIZE);
    ck_assert_int_eq(memcmp(a.data, b.data, BIG_SIZE), 0);
    bw_buf_release(&a);
    bw_buf_release(&b);
    bw_spawn_result_release(&res);
    free(orig);
    free(out);
    free(url);
}
END_TEST

/* `boxwright serve TEMPLATE` renders with its own port and stops cleanly on SIGINT. */

/* ---- the stream relay (guests under libvirt) ---- */

static int connect_to(unsigned p)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    return fd;
}

struct parsed {
    int status;
    char body[256];
};

/* Reads n whole responses, each delimited by its Content-Length, from one stream. */
static size_t read_responses(int fd, struct parsed *out, size_t n)
{
    struct bw_buf in = BW_BUF_INIT;
    bw_buf_init(&in);
    size_t got = 0, pos = 0;
    char chunk[4096];
    while (got < n) {
        const char *end = strstr(in.data + pos, "\r\n\r\n");
        if (end) {
            const char *cl = strcasestr(in.data + pos, "\r\nContent-Length:");
            size_t len = cl && cl < end ? (size_t)atol(cl + 17) : 0;
            size_t body = (size_t)(end + 4 - in.data);
            if (in.len >= body + len) {
                out[got].status = atoi(in.data + pos + 9);
                snprintf(out[got].body, sizeof(out[got].body), "%.*s", (int)len, in.data + body);
                got++;
                pos = body + len;
                continue;
            }
        }
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r <= 0)
            break;
        bw_buf_add(&in, chunk, (size_t)r);
    }
    bw_buf_release(&in);
    return got;
}

/* A build's server: the same files on a Unix socket in top/ (what the relay feeds). */
static struct bw_http_server *unix_srv;
static char *unix_path;
static const char *const *unix_allow; /* http.proxy_allow for it, or NULL */
static size_t n_unix_allow;

static void start_unix_server(void)
{
    unix_path = bw_xasprintf("%s/http.sock", top);
    struct bw_http_config cfg = {0};
    cfg.unix_path = unix_path;
    cfg.directory = root;
    cfg.proxy_allow = unix_allow;
    cfg.n_proxy_allow = n_unix_allow;
    unix_srv = bw_http_new(&cfg);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_http_add_file(unix_srv, "preseed.cfg", answer, strlen(answer), &err), 0);
    ck_assert_msg(bw_http_start(unix_srv, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(bw_http_port(unix_srv), 0); /* no TCP port at all */
}

static void stop_unix_server(void)
{
    bw_http_stop(unix_srv);
    free(unix_path);
}

static struct bw_http_stream *start_relay(void)
{
    start_unix_server();
    uid_t me = getuid();
    struct bw_error err = BW_ERROR_INIT;
    struct bw_http_stream *rs = bw_http_stream_start(unix_path, &me, 1, &err);
    ck_assert_msg(rs != NULL, "%s", err.msg);
    return rs;
}

START_TEST(test_stream_relay_splits_one_connection_into_requests)
{
    struct bw_http_stream *rs = start_relay();
    int fd = connect_to(bw_http_stream_port(rs));
    /* What QEMU's guestfwd chardev delivers: the guest's connections back to back, in pieces. */
    const char *reqs = "GET /preseed.cfg HTTP/1.1\r\nHost: 10.0.2.100\r\nConnection: close\r\n\r\n"
                       "GET /sub/x.json HTTP/1.1\r\nHost: 10.0.2.100\r\nConnection: keep-alive\r\n"
                       "Keep-Alive: 300\r\n\r\n"
                       "GET /nope HTTP/1.0\r\n\r\n";
    size_t len = strlen(reqs);
    ck_assert_int_eq(write(fd, reqs, 30), 30);
    usleep(20 * 1000);
    ck_assert_int_eq(write(fd, reqs + 30, len - 30), (ssize_t)(len - 30));
    struct parsed r[3];
    ck_assert_uint_eq(read_responses(fd, r, 3), 3);
    ck_assert_int_eq(r[0].status, 200);
    ck_assert_str_eq(r[0].body, answer);
    ck_assert_int_eq(r[1].status, 200);
    ck_assert_str_eq(r[1].body, "{\"a\":1}\n");
    ck_assert_int_eq(r[2].status, 404);
    /* The stream stays open for the guest's next connection. */
    const char *again = "GET /a.txt HTTP/1.1\r\nHost: 10.0.2.100\r\n\r\n";
    ck_assert_int_eq(write(fd, again, strlen(again)), (ssize_t)strlen(again));
    ck_assert_uint_eq(read_responses(fd, r, 1), 1);
    ck_assert_str_eq(r[0].body, "hello\n");
    close(fd);
    ck_assert_uint_eq(bw_http_stream_requests(rs), 4);
    usleep(50 * 1000);
    ck_assert_uint_eq(bw_http_fetches(unix_srv, "preseed.cfg"), 1);
    bw_http_stream_stop(rs);
    stop_unix_server();
}
END_TEST

/* Under libvirt the guest's proxied requests arrive in the one stream too: the relay passes
 * them to the server as it does the rest, and the server proxies them (or refuses them). */
START_TEST(test_the_stream_relay_carries_proxied_requests_too)
{
    char *allow0 = bw_xasprintf("127.0.0.1:%u", port);
    const char *allow[] = {allow0};
    unix_allow = allow;
    n_unix_allow = 1;
    struct bw_http_stream *rs = start_relay();
    unix_allow = NULL;
    n_unix_allow = 0;
    int fd = connect_to(bw_http_stream_port(rs));
    char *reqs = bw_xasprintf("GET http://127.0.0.1:%u/a.txt HTTP/1.1\r\nHost: 127.0.0.1:%u\r\n"
                              "\r\nGET http://127.0.0.1:%u/a.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /preseed.cfg HTTP/1.1\r\nHost: 10.0.2.100\r\n\r\n",
                              port, port, port == 65535 ? 1 : port + 1);
    ck_assert_int_eq(write(fd, reqs, strlen(reqs)), (ssize_t)strlen(reqs));
    struct parsed r[3];
    ck_assert_uint_eq(read_responses(fd, r, 3), 3);
    ck_assert_int_eq(r[0].status, 200);
    ck_assert_str_eq(r[0].body, "hello\n");
    ck_assert_int_eq(r[1].status, 403);
    ck_assert_int_eq(r[2].status, 200);
    ck_assert_str_eq(r[2].body, answer);
    close(fd);
    bw_http_stream_stop(rs);
    stop_unix_server();
    free(reqs);
    free(allow0);
}
END_TEST

/*
 * Another local user can neither reach a build's server (a Unix socket only its user can open)
 * nor feed the relay in front of it (closed at once), however many connections it opens: the
 * guest is never crowded out. Its own user is served all the while.
 */
START_TEST(test_other_local_users_cannot_reach_or_crowd_out_the_guest)
{
    if (getuid() != 0) {
        printf("not root: cannot be another user; skipped\n");
        return;
    }
    struct bw_http_stream *rs = start_relay();
    unsigned rport = bw_http_stream_port(rs);
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    if (pid == 0) { /* nobody: 64 connections to the relay, then the socket */
        char verdict[8] = "ok";
        if (setgid(65534) < 0 || setuid(65534) < 0)
            _exit(3);
        int fds[64];
        for (int i = 0; i < 64; i++) {
            fds[i] = connect_to(rport);
            const char *req = "GET /preseed.cfg HTTP/1.1\r\n\r\n";
            if (write(fds[i], req, strlen(req)) < 0) {
            }
            char c;
            struct timeval tv = {2, 0};
            setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
            if (read(fds[i], &c, 1) > 0)
                snprintf(verdict, sizeof(verdict), "served");
        }
        int u = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", unix_path);
        if (connect(u, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            snprintf(verdict, sizeof(verdict), "socket");
        if (write(pipefd[1], verdict, sizeof(verdict)) < 0)
            _exit(4);
        pause(); /* hold every connection while the guest's goes through */
        _exit(0);
    }
    char verdict[8] = "";
    ck_assert_int_eq(read(pipefd[0], verdict, sizeof(verdict)), (ssize_t)sizeof(verdict));
    ck_assert_str_eq(verdict, "ok");
    int fd = connect_to(rport);
    const char *req = "GET /preseed.cfg HTTP/1.1\r\nHost: 10.0.2.100\r\n\r\n";
    ck_assert_int_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
    struct parsed r[1];
    ck_assert_uint_eq(read_responses(fd, r, 1), 1);
    ck_assert_int_eq(r[0].status, 200);
    ck_assert_str_eq(r[0].body, answer);
    close(fd);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    bw_http_stream_stop(rs);
    stop_unix_server();
}
END_TEST

START_TEST(test_stream_relay_refuses_chunked_bodies_and_endless_heads)
{
    struct bw_http_stream *rs = start_relay();
    int fd = connect_to(bw_http_stream_port(rs));
    const char *chunked =
        "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    ck_assert_int_eq(write(fd, chunked, strlen(chunked)), (ssize_t)strlen(chunked));
    struct parsed r[1];
    ck_assert_uint_eq(read_responses(fd, r, 1), 1);
    ck_assert_int_eq(r[0].status, 501);
    ck_assert_ptr_nonnull(strstr(r[0].body, "chunked"));
    close(fd);
    fd = connect_to(bw_http_stream_port(rs));
    char junk[20000];
    memset(junk, 'a', sizeof(junk));
    memcpy(junk, "GET / HTTP/1.1\r\nX: ", 19);
    ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    ck_assert_uint_eq(read_responses(fd, r, 1), 1);
    ck_assert_int_eq(r[0].status, 501);
    ck_assert_ptr_nonnull(strstr(r[0].body, "too large"));
    close(fd);
    ck_assert_uint_eq(bw_http_stream_requests(rs), 0);
    bw_http_stream_stop(rs);
    stop_unix_server();
}
END_TEST

START_TEST(test_request_split_and_rewrite)
{
    static const struct {
        const char *in;
        int rc;
        size_t head, body;
        const char *why;
    } cases[] = {
        {"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1, 27, 0, NULL},
        {"GET / HTTP/1.1\r\nHost: x\r\n\r", 0, 0, 0, NULL},
        {"POST / HTTP/1.1\r\ncontent-length:  5 \r\n\r\nhelloGET", 1, 40, 5, NULL},
        {"POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n", -1, 0, 0, "bad Content-Length"},
        {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", -1, 0, 0, "bad Content-Length"},
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", -1, 0, 0,
         "request body too large"},
        {"POST / HTTP/1.1\r\nTRANSFER-ENCODING: chunked\r\n\r\n", -1, 0, 0,
         "chunked request bodies are not supported"},
        {"\r\n\r\n", 1, 4, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t head = 0, body = 0;
        const char *why = NULL;
        int rc = bw_http_request_split(cases[i].in, strlen(cases[i].in), 16384, &head, &body, &why);
        ck_assert_msg(rc == cases[i].rc, "case %zu: %d", i, rc);
        if (rc == 1) {
            ck_assert_uint_eq(head, cases[i].head);
            ck_assert_uint_eq(body, cases[i].body);
        }
        if (cases[i].why)
            ck_assert_str_eq(why, cases[i].why);
    }
    const char *h = "GET /a HTTP/1.1\r\nHost: x\r\nconnection: keep-alive\r\nKeep-Alive: 5\r\n"
                    "Accept: */*\r\nProxy-Connection: x\r\n\r\n";
    struct bw_buf out = BW_BUF_INIT;
    bw_buf_init(&out);
    bw_http_request_rewrite(h, strlen(h), &out);
    ck_assert_str_eq(out.data,
                     "GET /a HTTP/1.1\r\nHost: x\r\nAccept: */*\r\nConnection: close\r\n\r\n");
    bw_buf_release(&out);
}
END_TEST

START_TEST(test_serve_command_renders_with_the_bound_port_and_stops_on_sigint)
{
    char ports[32];
    unsigned p = 20000 + (unsigned)(getpid() % 20000);
    snprintf(ports, sizeof(ports), "%u-%u", p, p + 50);
    char *argv[] = {BW_BINARY, "serve", "tiny", "--port", ports, NULL};
    int devnull = open("/dev/null", O_WRONLY);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, devnull, 1);
    posix_spawn_file_actions_adddup2(&fa, devnull, 2);
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, BW_BINARY, &fa, NULL, argv, NULL), 0);
    posix_spawn_file_actions_destroy(&fa);
    close(devnull);
    unsigned saved = port;
    long status = 0;
    struct reply r;
    memset(&r, 0, sizeof(r));
    for (int tries = 0; tries < 50 && status != 200; tries++) {
        usleep(100 * 1000);
        for (port = p; port <= p + 50 && status != 200; port++) {
            CURL *c = curl_easy_init();
            char *url = bw_xasprintf("http://127.0.0.1:%u/answer.cfg", port);
            bw_buf_release(&r.body);
            bw_buf_init(&r.body);
            curl_easy_setopt(c, CURLOPT_URL, url);
            curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
            curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
            if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
            curl_easy_cleanup(c);
            free(url);
        }
    }
    port--;
    ck_assert_int_eq(status, 200);
    char *want = bw_xasprintf("http://127.0.0.1:%u/answer.cfg", port);
    ck_assert_msg(strstr(r.body.data, want), "answer.cfg does not name %s", want);
    ck_assert_ptr_nonnull(strstr(r.body.data, "hostname=tiny\n"));
    free(want);
    bw_buf_release(&r.body);
    port = saved;
    kill(pid, SIGINT);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    ck_assert(WIFEXITED(st));
    ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

/* ---- the proxy (proxy.h) ---- */

/* method on url through the server proxy. Returns the curl code. */
static CURLcode via_proxy(struct bw_http_server *proxy, const char *method, const char *url,
                          const char *extra_header, struct reply *r)
{
    char *px = bw_xasprintf("http://127.0.0.1:%u", bw_http_port(proxy));
    CURLcode rc =
        perform(method, url, px, extra_header ? curl_slist_append(NULL, extra_header) : NULL, r);
    free(px);
    return rc;
}

static struct bw_http_server *start_proxy(const char *const *allow, size_t n)
{
    struct bw_http_config cfg = {0};
    cfg.on_event = on_event;
    cfg.proxy_allow = allow;
    cfg.n_proxy_allow = n;
    cfg.proxy_timeout_s = 2;
    cfg.threads = 4;
    struct bw_http_server *p = bw_http_new(&cfg);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_http_start(p, &err) == 0, "%s", err.msg);
    return p;
}

/* The fixture's server is the mirror; a second server proxies to it and to nothing else. */
START_TEST(test_the_proxy_goes_to_allowed_hosts_only_and_passes_their_answers_on)
{
    char *allow0 = bw_xasprintf("127.0.0.1:%u", port);
    const char *allow[] = {allow0, "*.example.org"};
    struct bw_http_server *proxy = start_proxy(allow, 2);
    struct reply r;
    /* the big file, intact, with its length, and an event that names the whole URL */
    char *url = bw_xasprintf("http://127.0.0.1:%u/big.bin", port);
    ck_assert_int_eq(via_proxy(proxy, "GET", url, NULL, &r), CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.body.len, BIG_SIZE);
    for (size_t i = 0; i < BIG_SIZE; i += 4093)
        ck_assert_int_eq(r.body.data[i], (char)(i * 7 + (i >> 12)));
    ck_assert_str_eq(header(&r, "Content-Type"), "application/octet-stream");
    ck_assert_str_ne(header(&r, "ETag"), "");
    usleep(100 * 1000);
    pthread_mutex_lock(&ev_lock);
    ck_assert_str_eq(ev_last_path, url);
    ck_assert_uint_eq(ev_last_status, 200);
    ck_assert_uint_eq(ev_last_bytes, BIG_SIZE);
    pthread_mutex_unlock(&ev_lock);
    reply_release(&r);
    /* a range, HEAD, the upstream's 404 */
    ck_assert_int_eq(via_proxy(proxy, "GET", url, "Range: bytes=10-19", &r), CURLE_OK);
    ck_assert_int_eq(r.status, 206);
    ck_assert_uint_eq(r.body.len, 10);
    ck_assert_str_eq(header(&r, "Content-Range"), "bytes 10-19/4194304");
    reply_release(&r);
    ck_assert_int_eq(via_proxy(proxy, "HEAD", url, NULL, &r), CURLE_OK);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(header(&r, "Content-Length"), "4194304");
    reply_release(&r);
    char *missing = bw_xasprintf("http://127.0.0.1:%u/nothing-here", port);
    ck_assert_int_eq(via_proxy(proxy, "GET", missing, NULL, &r), CURLE_OK);
    ck_assert_int_eq(r.status, 404);
    reply_release(&r);
    /* another port, the same host by another name, a host the wildcard does not cover */
    char *other = bw_xasprintf("http://127.0.0.1:%u/a.txt", port == 65535 ? 1 : port + 1);
    char *byname = bw_xasprintf("http://localhost:%u/a.txt", port);
    const char *refused[] = {other, byname, "http://example.org/", "http://evil-example.org/"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        ck_assert_int_eq(via_proxy(proxy, "GET", refused[i], NULL, &r), CURLE_OK);
        ck_assert_msg(r.status == 403, "%s: %ld", refused[i], r.status);
        ck_assert_msg(strstr(r.body.data, "is not a host this proxy goes to (http.proxy_allow)"),
                      "%s", r.body.data);
        reply_release(&r);
    }
    /* an allowed name that does not resolve: 502, in the proxy's words */
    ck_assert_int_eq(via_proxy(proxy, "GET", "http://no-such-host.example.org/", NULL, &r),
                     CURLE_OK);
    ck_assert_int_eq(r.status, 502);
    ck_assert_msg(strstr(r.body.data, "cannot resolve no-such-host.example.org"), "%s",
                  r.body.data);
    reply_release(&r);
    bw_http_stop(proxy);
    free(other);
    free(byname);
    free(missing);
    free(url);
    free(allow0);
}
END_TEST

/* A server with no allow-list proxies nothing; https:// (CONNECT) never goes through. */
START_TEST(test_no_allow_list_no_proxy_and_no_https)
{
    struct reply r;
    char *url = bw_xasprintf("http://127.0.0.1:%u/a.txt", port);
    ck_assert_int_eq(via_proxy(srv, "GET", url, NULL, &r), CURLE_OK);
    ck_assert_int_eq(r.status, 403);
    reply_release(&r);
    struct bw_buf body = BW_BUF_INIT;
    bw_buf_init(&body);
    ck_assert_int_eq(raw_request("https://127.0.0.1/a.txt", &body), 400);
    ck_assert_msg(strstr(body.data, "https:// does not go through this proxy"), "%s", body.data);
    bw_buf_release(&body);
    free(url);
}
END_TEST

/* An upstream that answers as given and records what it was asked. */
struct fake_upstream {
    int lfd;
    unsigned port;
    const char *answer;
    size_t answer_len;
    double stall_s; /* then wait this long before closing */
    char request[2048];
    pthread_t th;
};

static void *fake_upstream_run(void *arg)
{
    struct fake_upstream *f = arg;
    int fd = accept(f->lfd, NULL, NULL);
    if (fd < 0)
        return NULL;
    size_t n = 0;
    while (n < sizeof(f->request) - 1 && !strstr(f->request, "\r\n\r\n")) {
        ssize_t k = read(fd, f->request + n, sizeof(f->request) - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
        f->request[n] = '\0';
    }
    if (write(fd, f->answer, f->answer_len) < 0)
        f->request[0] = '!';
    usleep((useconds_t)(f->stall_s * 1e6));
    close(fd);
    return NULL;
}

static void fake_upstream_start(struct fake_upstream *f)
{
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    ck_assert_int_eq(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(f->lfd, 4), 0);
    getsockname(f->lfd, (struct sockaddr *)&sa, &sl);
    f->port = ntohs(sa.sin_port);
    pthread_create(&f->th, NULL, fake_upstream_run, f);
}

static void fake_upstream_stop(struct fake_upstream *f)
{
    pthread_join(f->th, NULL);
    close(f->lfd);
}

/* What goes upstream: the path with its query, HTTP/1.0, the Host, "Connection: close". A
 * chunked answer is not passed on (502); a body that stops coming is cut after the proxy's
 * timeout, and the client sees a short body, not a hang. */
START_TEST(test_the_proxy_asks_plainly_and_passes_no_chunked_or_stalled_body)
{
    static const char chunked[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                  "5\r\nhello\r\n0\r\n\r\n";
    struct fake_upstream f = {0};
    f.answer = chunked;
    f.answer_len = sizeof(chunked) - 1;
    fake_upstream_start(&f);
    char *allow0 = bw_xasprintf("127.0.0.1:%u", f.port);
    const char *allow[] = {allow0};
    struct bw_http_server *proxy = start_proxy(allow, 1);
    char *url = bw_xasprintf("http://127.0.0.1:%u/dists/Release?a=1&b", f.port);
    struct reply r;
    ck_assert_int_eq(via_proxy(proxy, "GET", url, "Range: bytes=0-", &r), CURLE_OK);
    fake_upstream_stop(&f);
    ck_assert_int_eq(r.status, 502);
    ck_assert_msg(strstr(r.body.data, "a chunked body (not passed on)"), "%s", r.body.data);
    char *host = bw_xasprintf("Host: 127.0.0.1:%u\r\n", f.port);
    ck_assert_msg(strncmp(f.request, "GET /dists/Release?a=1&b HTTP/1.0\r\n", 35) == 0 &&
                      strstr(f.request, host) && strstr(f.request, "Connection: close\r\n") &&
                      strstr(f.request, "Range: bytes=0-\r\n"),
                  "%s", f.request);
    reply_release(&r);
    free(host);
    free(url);
    bw_http_stop(proxy);
    free(allow0);

    static const char partial[] = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten..";
    struct fake_upstream g = {0};
    g.answer = partial;
    g.answer_len = sizeof(partial) - 1;
    g.stall_s = 5;
    fake_upstream_start(&g);
    allow0 = bw_xasprintf("127.0.0.1:%u", g.port);
    allow[0] = allow0;
    proxy = start_proxy(allow, 1);
    url = bw_xasprintf("http://127.0.0.1:%u/pool/x.udeb", g.port);
    double t0 = now_s();
    CURLcode rc = via_proxy(proxy, "GET", url, NULL, &r);
    double took = now_s() - t0;
    ck_assert_msg(rc != CURLE_OK && r.body.len == 10, "%s, %zu bytes", curl_easy_strerror(rc),
                  r.body.len);
    ck_assert_msg(took < 4.5, "took %.1f s", took); /* the proxy's 2 s, not the upstream's 5 */
    reply_release(&r);
    bw_http_stop(proxy);
    fake_upstream_stop(&g);
    free(url);
    free(allow0);
}
END_TEST

START_TEST(test_allow_entries_and_targets_parse_or_say_why)
{
    struct bw_proxy_host h, a[3];
    const char *why, *path;
    ck_assert_int_eq(bw_proxy_parse_allow("Mirror.Internal", &a[0], &why), 0);
    ck_assert_str_eq(a[0].host, "mirror.internal");
    ck_assert_uint_eq(a[0].port, 80);
    ck_assert_int_eq(bw_proxy_parse_allow("*.debian.org:8080", &a[1], &why), 0);
    ck_assert(a[1].wildcard);
    ck_assert_uint_eq(a[1].port, 8080);
    ck_assert_int_eq(bw_proxy_parse_allow("[fd00::1]:3142", &a[2], &why), 0);
    ck_assert_str_eq(a[2].host, "fd00::1");
    static const struct {
        const char *entry, *why;
    } bad[] = {
        {"http://mirror", "a host or host:port, not a URL"},
        {"mirror/debian", "a host or host:port, without a path"},
        {"mirror:0", "a port of 1 to 65535 after ':'"},
        {"mirror:65536", "a port of 1 to 65535 after ':'"},
        {"mirror:", "a port of 1 to 65535 after ':'"},
        {"", "no host"},
        {"mir ror", "a host name holds letters, digits, '-' and '.' only"},
        {".mirror", "a host name that begins or ends with '.', or begins with '-'"},
        {"*.[fd00::1]", "\"*.\" before a domain name, not an address"},
        {"[fd00::1", "an IPv6 address without its closing ']'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(bw_proxy_parse_allow(bad[i].entry, &h, &why) == -1, "%s", bad[i].entry);
        ck_assert_str_eq(why, bad[i].why);
    }
    ck_assert_int_eq(bw_proxy_parse_target("http://ftp.debian.org/debian/x", &h, &path, &why), 0);
    ck_assert_str_eq(path, "/debian/x");
    ck_assert(!bw_proxy_allowed(a, 3, &h)); /* *.debian.org allows port 8080 only */
    ck_assert_int_eq(bw_proxy_parse_target("http://deb.debian.org:8080", &h, &path, &why), 0);
    ck_assert_str_eq(path, "");
    ck_assert(bw_proxy_allowed(a, 3, &h));
    ck_assert_int_eq(bw_proxy_parse_target("http://debian.org:8080/", &h, &path, &why), 0);
    ck_assert(!bw_proxy_allowed(a, 3, &h)); /* "*." wants a label before the domain */
    ck_assert_int_eq(bw_proxy_parse_target("http://[FD00::1]:3142/", &h, &path, &why), 0);
    ck_assert(bw_proxy_allowed(a, 3, &h));
    ck_assert_int_eq(bw_proxy_parse_target("http://user@mirror.internal/", &h, &path, &why), -1);
    ck_assert_int_eq(bw_proxy_parse_target("ftp://mirror.internal/", &h, &path, &why), -1);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("server");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_answer_file_served_with_length_type_etag_and_date);
    tcase_add_test(tc, test_connections_are_kept_alive_between_requests);
    tcase_add_test(tc, test_head_has_headers_and_no_body);
    tcase_add_test(tc, test_conditional_requests_get_304);
    tcase_add_test(tc, test_single_ranges_give_206_and_bad_ones_416);
    tcase_add_test(tc, test_if_range_that_does_not_match_gets_the_whole_file);
    tcase_add_test(tc, test_a_fifo_in_the_directory_is_refused_and_nothing_hangs);
    tcase_add_test(tc, test_missing_files_404_and_other_methods_405);
    tcase_add_test(tc, test_traversal_corpus_is_refused);
    tcase_add_test(tc, test_normal_request_succeeds_during_a_flood_of_idle_and_slow_connections);
    tcase_add_test(tc, test_busy_port_range_is_an_error_that_names_it);
    tcase_add_test(tc, test_each_request_is_an_event_and_fetches_are_counted);
    tcase_add_test(tc, test_directories_are_listed_only_when_asked);
    tcase_add_test(tc, test_rate_limit_answers_429);
    tcase_add_test(tc, test_paths_normalise_or_are_refused);
    tcase_add_test(tc, test_curl_program_downloads_the_big_file_intact);
    tcase_add_test(tc, test_serve_command_renders_with_the_bound_port_and_stops_on_sigint);
    tcase_add_test(tc, test_stream_relay_splits_one_connection_into_requests);
    tcase_add_test(tc, test_stream_relay_refuses_chunked_bodies_and_endless_heads);
    tcase_add_test(tc, test_other_local_users_cannot_reach_or_crowd_out_the_guest);
    tcase_add_test(tc, test_request_split_and_rewrite);
    tcase_add_test(tc, test_the_proxy_goes_to_allowed_hosts_only_and_passes_their_answers_on);
    tcase_add_test(tc, test_no_allow_list_no_proxy_and_no_https);
    tcase_add_test(tc, test_the_stream_relay_carries_proxied_requests_too);
    tcase_add_test(tc, test_the_proxy_asks_plainly_and_passes_no_chunked_or_stalled_body);
    tcase_add_test(tc, test_allow_entries_and_targets_parse_or_say_why);
    suite_add_tcase(s, tc);
    int rc = test_run(s);
    curl_global_cleanup();
    return rc;
}
