/*
 * stream - the HTTP server for guests whose connections arrive as one byte
 * stream.
 *
 * Under libvirt, QEMU runs with seccomp's spawn=deny, so a guestfwd cannot
 * start `nc` for each connection; it forwards to a socket chardev instead,
 * and every connection the guest makes to the forwarded address becomes
 * part of one TCP stream from QEMU. This relay listens on the host loopback
 * for that stream, cuts it into HTTP requests, sends each to the embedded
 * server as a connection of its own (with "Connection: close") and writes
 * the response back into the stream. The server's responses always carry a
 * Content-Length, which is how the guest's client knows where each ends.
 *
 * Limits: request heads up to 16 KiB; bodies by Content-Length only
 * (chunked requests get 501). A guest client that gives up halfway through
 * a response leaves the rest of it to its next connection.
 *
 * QEMU must reach the relay over TCP (libvirt runs it as a user of its own),
 * so other local processes could connect too and crowd the guest out: the
 * relay serves only peers whose user is one of those it is given (root, the
 * libvirt QEMU user, boxwright's own for its ssh tunnel), read from the
 * socket (SO_PEERCRED), and closes every other connection at once. The
 * server behind it is reached over its Unix socket.
 */
#ifndef BW_HTTP_STREAM_H
#define BW_HTTP_STREAM_H

#include "../builder/base/buf.h"
#include "../builder/base/error.h"

#include <stddef.h>

struct bw_http_stream;

#include <sys/types.h>

/* Listens on 127.0.0.1 (a free port) and relays to the server on the Unix socket backend, for
 * peers whose user is one of uids[0..n). */
struct bw_http_stream *bw_http_stream_start(const char *backend, const uid_t *uids, size_t n,
                                            struct bw_error *err);
unsigned bw_http_stream_port(const struct bw_http_stream *s);
/* Stops the relay, closing its streams. Accepts NULL. */
void bw_http_stream_stop(struct bw_http_stream *s);
/* Requests relayed so far. */
unsigned long bw_http_stream_requests(const struct bw_http_stream *s);

/*
 * Finds the first request in buf[0..len): 1 with *head_len (through the
 * blank line) and *body_len set, 0 when more bytes are needed, -1 when it
 * can never be one (head over max_head bytes, a bad Content-Length, a
 * chunked body) with *why set.
 */
int bw_http_request_split(const char *buf, size_t len, size_t max_head, size_t *head_len,
                          size_t *body_len, const char **why);

/* Appends the head without its Connection, Keep-Alive and Proxy-Connection headers, with
 * "Connection: close" added. head must be a whole head as bw_http_request_split() found it. */
void bw_http_request_rewrite(const char *head, size_t head_len, struct bw_buf *out);

#endif
