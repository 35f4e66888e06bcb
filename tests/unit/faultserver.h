/*
 * faultserver - a deliberately unreliable HTTP/1.1 server for the ISO cache
 * tests (test code: the product's server is libmicrohttpd). One thread,
 * one connection at a time, loopback only. Each path has a body, an ETag and
 * a script of faults consumed one request at a time.
 */
#ifndef BW_FAULTSERVER_H
#define BW_FAULTSERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum fault {
    FAULT_NONE,         /* serve normally (Range and If-Range honoured) */
    FAULT_CUT,          /* send `arg` body bytes, then close */
    FAULT_STALL,        /* send `arg` body bytes, then send nothing until the client leaves */
    FAULT_STATUS,       /* answer with status `arg` and no body */
    FAULT_IGNORE_RANGE, /* answer 200 with the whole body whatever the Range */
    FAULT_REDIRECT,     /* answer 302 to the same path: a redirect loop */
};

struct fs_step {
    enum fault fault;
    uint64_t arg;
};

struct faultserver;

struct faultserver *fs_start(void);
unsigned fs_port(const struct faultserver *fs);
/* Serves body (copied) at path with the given ETag ("" for none). */
void fs_set(struct faultserver *fs, const char *path, const void *body, size_t len,
            const char *etag);
/* Appends a fault for the next request to path (FIFO; an empty script means FAULT_NONE). */
void fs_push(struct faultserver *fs, const char *path, enum fault f, uint64_t arg);
/* Sends bodies at most this many bytes per second (0 = unlimited). */
void fs_throttle(struct faultserver *fs, uint64_t bytes_per_s);
/* Requests seen for path, and the Range start of request i (-1 when it had none). */
unsigned fs_requests(struct faultserver *fs, const char *path);
long long fs_range_start(struct faultserver *fs, const char *path, unsigned i);
void fs_stop(struct faultserver *fs);

#endif
