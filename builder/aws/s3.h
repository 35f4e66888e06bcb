/*
 * s3 - a file to S3 in parts (multipart upload), resumable, through libcurl,
 * every request signed by sigv4.c.
 *
 * Parts are 5 MiB to 5 GiB, at most 10,000 (bw_s3_part_size()). Each part is
 * read once, hashed as it is read (SHA-256 for the signature, MD5 for
 * Content-MD5, which S3 checks against what arrived), and sent; a part whose
 * connection breaks or that gets a 5xx is sent again (max_attempts in all).
 * What has been sent is kept in a state file (0600) next to the caller's
 * work: a rerun for the same file, bucket and key asks S3 which parts it
 * holds (ListParts), keeps those whose ETag is the MD5 of the local part and
 * sends the rest. The upload is completed with the parts' ETags, and the state
 * file removed. Every request has connection and low-speed timeouts: a server
 * that stops answering fails the upload, it does not hang it.
 */
#ifndef BW_S3_H
#define BW_S3_H

#include "sigv4.h"
#include "../base/error.h"

#include <stdbool.h>
#include <stdint.h>

struct bw_aws_target {
    const char *region;
    const char *bucket, *key;
    /* NULL: AWS itself (https://BUCKET.s3.REGION.amazonaws.com/KEY); or an S3-compatible
     * endpoint such as "http://127.0.0.1:9000", addressed path-style (ENDPOINT/BUCKET/KEY). */
    const char *endpoint;
    struct bw_sigv4_credentials cred;
};

struct bw_s3_progress {
    uint64_t sent, total; /* bytes of the file in S3 so far, of all */
    unsigned part, parts; /* the part just done */
    bool kept;            /* it was already there (a resumed upload) */
};
typedef void (*bw_s3_progress_fn)(const struct bw_s3_progress *p, void *ud);

struct bw_s3_options {
    uint64_t part_size;    /* 0: bw_s3_part_size() of the file */
    unsigned max_attempts; /* per part; 0: 3 */
    const char *state;     /* the state file (resuming); required */
    bw_s3_progress_fn progress;
    void *ud;
};

struct bw_s3_result {
    char etag[128];       /* the object's ETag ("...-N" for N parts) */
    unsigned parts, kept; /* parts in all; those a rerun found already there */
    unsigned retries;     /* parts sent again after a broken connection or a 5xx */
};

/* The part size for a file of size bytes: 5 MiB or more, in whole MiB, so that there are at
 * most 10,000 parts; 0 when the file is larger than 10,000 parts of 5 GiB. */
uint64_t bw_s3_part_size(uint64_t size);

int bw_s3_upload(const struct bw_aws_target *t, const char *file, const struct bw_s3_options *o,
                 struct bw_s3_result *res, struct bw_error *err);

#endif
