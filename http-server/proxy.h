/*
 * proxy - the answer-file server as an HTTP proxy to the hosts a definition
 * allows (http.proxy_allow), for guests on the isolated network.
 *
 * An isolated guest has no route off the host; it reaches boxwright's server
 * through guestfwd and nothing else. An installer told to use that server as
 * its HTTP proxy (d-i's mirror/http/proxy, Anaconda's --proxy) sends it
 * requests in absolute form ("GET http://mirror.internal/debian/... HTTP/1.1");
 * the server fetches the ones whose host and port the definition names and
 * refuses the rest (403), so a pipeline installs from an internal mirror and
 * reaches nothing else. Plain HTTP only: CONNECT (https://) is refused, as
 * every method but GET and HEAD is. Through either driver: the proxy is the
 * same server at the same guest address.
 *
 * These are the pure parts (request target, allow-list entries, the
 * upstream's response head), kept apart so that they can be fuzzed.
 */
#ifndef BW_HTTP_PROXY_H
#define BW_HTTP_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BW_PROXY_HOST_MAX 254

/* An allow-list entry, "host", "host:port", "*.domain" or "*.domain:port" (port 80 when none
 * is given; an IPv6 address in brackets), or a request's authority. */
struct bw_proxy_host {
    char host[BW_PROXY_HOST_MAX]; /* lower case; an IPv6 address without its brackets */
    unsigned port;
    bool wildcard; /* "*.domain": any name that ends in ".domain" */
};

/* Is a request target in absolute form ("http://host/..."), one for the proxy rather than a
 * path below the server's root? */
bool bw_proxy_is_target(const char *url);

/* Parses an allow-list entry. Returns 0, or -1 with *why (static). */
int bw_proxy_parse_allow(const char *entry, struct bw_proxy_host *out, const char **why);

/* Parses an absolute-form request target "http://host[:port]/path": the host and port, and
 * *path pointing at the path in url ("" when there is none: ask for "/"). Returns 0, or -1
 * with *why (static): another scheme, user info, a bad host or port, control bytes. */
int bw_proxy_parse_target(const char *url, struct bw_proxy_host *out, const char **path,
                          const char **why);

/* Does an entry of allow[0..n) (parsed) admit host:port? */
bool bw_proxy_allowed(const struct bw_proxy_host *allow, size_t n, const struct bw_proxy_host *h);

/* The head of the upstream's response. */
struct bw_proxy_head {
    size_t head_len; /* bytes through the blank line */
    unsigned status;
    bool has_length;
    uint64_t length; /* Content-Length */
    bool chunked;    /* a Transfer-Encoding was given (not passed on) */
    char content_type[128], last_modified[64], etag[128], content_range[96], accept_ranges[32];
};

/* Parses the head at the start of buf[0..len). Returns 1 when it is complete, 0 when more bytes
 * are needed (and fewer than max_head have come), -1 when it is not an HTTP/1.x response head
 * or is longer than max_head. */
int bw_proxy_parse_head(const char *buf, size_t len, size_t max_head, struct bw_proxy_head *h);

#endif
