/*
 * sigv4 - AWS Signature Version 4, computed by boxwright (OpenSSL's SHA-256
 * and HMAC), for the S3 and EC2 requests of the AMI export.
 *
 * Not libcurl's CURLOPT_AWS_SIGV4: the libcurl of Debian 12 (7.88) sorts the
 * query and encodes "?uploads" wrongly for S3 multipart uploads, fixed only
 * in later releases. Everything here is pure: a request in, the canonical
 * request, the string to sign, the signature and the Authorization header
 * out, so every step is checked against the published test suite and
 * against botocore (tests/unit/test_sigv4.c).
 */
#ifndef BW_SIGV4_H
#define BW_SIGV4_H

#include "../base/error.h"

#include <stddef.h>

struct bw_sigv4_header {
    const char *name, *value;
};

struct bw_sigv4_request {
    const char *method;
    const char *path;  /* as sent: percent-encoded where it has to be */
    const char *query; /* as sent, without the "?": "b=2&a=x%20y"; NULL or "" for none */
    const struct bw_sigv4_header *headers; /* every header to sign, Host among them */
    size_t n_headers;
    const char *payload_sha256; /* hex SHA-256 of the body, or "UNSIGNED-PAYLOAD" */
};

struct bw_sigv4_credentials {
    const char *access_key, *secret_key; /* the secret never leaves this module's hashes */
    const char *session_token;           /* or NULL; the caller sends and signs it as a header */
};

/* How the path becomes canonical: every service but S3 removes "." and ".." segments and
 * repeated slashes and encodes the path as sent once more; S3 takes it as sent. */
enum bw_sigv4_flavor { BW_SIGV4_AWS, BW_SIGV4_S3 };

struct bw_sigv4_signed {
    char *canonical_request;
    char *string_to_sign;
    char signature[65];
    char *authorization; /* the Authorization header's value */
};

/* Signs req for region and service at amz_date ("20150830T123600Z", UTC). 0, or -1 with err
 * for a date that is not one or a request without a Host header. */
int bw_sigv4_sign(const struct bw_sigv4_request *req, const struct bw_sigv4_credentials *cred,
                  const char *region, const char *service, const char *amz_date,
                  enum bw_sigv4_flavor flavor, struct bw_sigv4_signed *out, struct bw_error *err);
void bw_sigv4_signed_release(struct bw_sigv4_signed *s);

/* The hex SHA-256 of data: a payload's hash as SigV4 signs it. */
void bw_sigv4_sha256_hex(const void *data, size_t len, char hex[65]);

/* The Authorization header with its signature masked, for --dry-run and logs. */
char *bw_sigv4_masked(const char *authorization);

/* Appends s percent-encoded as SigV4 wants (RFC 3986 unreserved kept, %XX upper case); a
 * slash kept when keep_slash. For building paths and queries that are sent as signed. */
struct bw_buf;
void bw_sigv4_encode(struct bw_buf *b, const char *s, size_t len, int keep_slash);

#endif
