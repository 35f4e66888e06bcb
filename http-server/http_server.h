/*
 * http_server - the embedded HTTP server that hands answer files to an
 * installing guest (libmicrohttpd underneath).
 *
 * It serves two things, GET and HEAD only:
 *   - an in-memory set of files (rendered answer files), added before start;
 *   - optionally one directory, read-only, nothing outside it reachable.
 * In-memory files win over the directory for the same path.
 *
 * Responses carry Content-Length, Content-Type (from the extension),
 * Last-Modified and ETag, honour If-None-Match/If-Modified-Since (304), and a
 * single byte range (206, or 416 when unsatisfiable). Directory files go out
 * with sendfile (no copy through user space). Path handling is strict (see
 * bw_http_normalize_path): `..`, encoded traversal, NUL, backslashes and
 * symlinks that leave the directory are refused; directories are listed only
 * when asked.
 *
 * Limits keep a stuck or hostile client from blocking the guest: request
 * header memory, connections in all and per client address, an idle timeout,
 * and a per-client request rate. A build's server listens on a Unix socket
 * that only its own user reaches (unix_path), which QEMU's guestfwd feeds:
 * no other local process can connect, so none can crowd the guest out, and
 * the per-client limits (which would count every connection as one client)
 * are off there. Every finished request becomes a struct
 * bw_http_event handed to the caller's callback (from a server thread; the
 * callback must be thread-safe and quick).
 *
 * With proxy_allow, the server is also the guest's HTTP proxy to those hosts
 * (proxy.h): a request in absolute form for one of them is fetched from it
 * and passed on with its status, length and caching headers; one for any
 * other host gets 403. A proxied transfer holds one of the server's threads
 * while it waits on the upstream (proxy_timeout_s at most per wait), and at
 * most half the threads proxy at once (503 beyond): the rest serve the
 * answer files.
 *
 * The server owns copies of everything it is given. bw_http_stop() stops the
 * threads, closes the socket and frees all; it accepts NULL.
 */
#ifndef BW_HTTP_SERVER_H
#define BW_HTTP_SERVER_H

#include "../builder/base/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct bw_http_event {
    struct timespec when; /* request finished (CLOCK_REALTIME) */
    const char *client;   /* "127.0.0.1" */
    const char *method;   /* "GET" */
    const char *path;     /* as requested (raw, truncated to 512 bytes) */
    unsigned status;      /* 200, 206, 304, 404, ... */
    uint64_t bytes;       /* body bytes the response carried */
    bool completed;       /* false if the client went away before the end */
    double seconds;       /* from the request's first byte to the response's last */
};

typedef void (*bw_http_event_fn)(const struct bw_http_event *ev, void *ud);

struct bw_http_config {
    const char *bind_address;        /* default "127.0.0.1" */
    const char *unix_path;           /* listen on this Unix socket instead (mode 0600), or NULL */
    unsigned port_min;               /* first port to try; 0 = let the kernel pick */
    unsigned port_max;               /* last port to try (>= port_min) */
    const char *directory;           /* served read-only, or NULL */
    bool listing;                    /* list directories (off by default) */
    unsigned threads;                /* 0 = two per CPU (faster in bench/) */
    unsigned max_connections;        /* 0 = 512 */
    unsigned per_client_connections; /* 0 = 64 */
    unsigned idle_timeout_s;         /* 0 = 10 */
    unsigned max_requests_per_s;     /* per client address; 0 = 2000 */
    size_t header_memory;            /* per connection; 0 = 16 KiB */
    /* Proxying (proxy.h): the hosts a request in absolute form may go to, as allow-list
     * entries ("host", "host:port", "*.domain"; entries that do not parse are skipped). None:
     * every such request gets 403. */
    const char *const *proxy_allow;
    size_t n_proxy_allow;
    unsigned proxy_timeout_s;  /* connecting to, and each wait on, an allowed host; 0 = 30 */
    bw_http_event_fn on_event; /* may be NULL */
    void *ud;
};

struct bw_http_server;

/* Creates a server with no files; nothing listens until bw_http_start(). */
struct bw_http_server *bw_http_new(const struct bw_http_config *cfg);
/* Adds (copies) a file served at /name. Returns 0, or -1 for a name the path rules refuse. */
int bw_http_add_file(struct bw_http_server *s, const char *name, const void *data, size_t len,
                     struct bw_error *err);
/*
 * Binds the first free port in [port_min, port_max] without serving yet, so
 * the port can go into rendered files before they are added. Returns 0 or -1
 * (see bw_http_start). Optional: bw_http_start() binds if this was not called.
 */
int bw_http_bind(struct bw_http_server *s, struct bw_error *err);
/*
 * Binds (unless bound) the first free port in [port_min, port_max] and starts serving.
 * Returns 0, or -1 with BW_ERR_NETWORK (every port taken, bad address) or
 * BW_ERR_IO (directory unusable).
 */
int bw_http_start(struct bw_http_server *s, struct bw_error *err);
/* The bound port (after start); 0 on a Unix socket. */
unsigned bw_http_port(const struct bw_http_server *s);
/* How many times /name was served completely with 200 or 206. */
unsigned bw_http_fetches(const struct bw_http_server *s, const char *name);
/* Requests answered so far, whatever their status (0 for NULL). */
unsigned bw_http_requests(const struct bw_http_server *s);
/* Calls fn for every file served completely at least once (in-memory files first, then
 * directory files in the order first fetched), with how often. fn must not call back into s. */
void bw_http_each_fetched(const struct bw_http_server *s,
                          void (*fn)(const char *name, unsigned fetches, void *ud), void *ud);
void bw_http_stop(struct bw_http_server *s);

/*
 * Turns the raw request target into a relative path below the served root:
 * strips the query, decodes %XX, collapses "//" and "/./", and refuses
 * (returns -1 with a reason) "..", NUL, backslashes, control bytes and bad
 * escapes. "/" and "" give "". `out` gets at most outlen-1 bytes.
 */
int bw_http_normalize_path(const char *raw, char *out, size_t outlen, const char **reason);

/*
 * A request target as it may be shown: bytes outside printable ASCII (control bytes a
 * terminal would act on, invalid UTF-8 that breaks a JSON line) as %XX. At most outlen-1
 * bytes; an ellipsis marks a cut.
 */
void bw_http_printable(const char *raw, char *out, size_t outlen);

/* The Content-Type for a file name, from a table of extensions. */
const char *bw_http_content_type(const char *name);

#endif
