/*
 * http - one signed request to an AWS service through libcurl, for s3.c and
 * ec2.c: the headers SigV4 needs (Host, X-Amz-Date, X-Amz-Content-SHA256, a
 * session token), the caller's own, the Authorization; connection and
 * low-speed timeouts, so a service that stops answering fails the request
 * rather than hanging it; answers up to 16 MiB. With dry_run nothing is
 * sent: the request is shown (its signature masked) and answered 200, empty.
 */
#ifndef BW_AWS_HTTP_H
#define BW_AWS_HTTP_H

#include "sigv4.h"
#include "../base/buf.h"
#include "../base/error.h"

#include <signal.h>
#include <stdbool.h>

struct bw_aws_call {
    const char *method;
    const char *base;  /* "https://host[:port]" (or an endpoint's) */
    const char *host;  /* the Host header */
    const char *path;  /* as sent */
    const char *query; /* as sent, or NULL */
    const char *service, *region;
    const struct bw_sigv4_credentials *cred;
    enum bw_sigv4_flavor flavor;
    const void *body;
    size_t len;
    const struct bw_sigv4_header *extra; /* more headers to send and sign */
    size_t n_extra;
    bool dry_run;
    void (*show)(const char *request, void *ud);
    void *ud;
};

struct bw_aws_answer {
    long status; /* 0 until an answer came */
    struct bw_buf body;
    char etag[128];
};

/* 0 with r filled (whatever the HTTP status), or -1 with err when no answer came. */
int bw_aws_send(const struct bw_aws_call *c, struct bw_aws_answer *r, struct bw_error *err);

/* A flag set by the caller's signal handler (or NULL): once set, a transfer under way stops
 * and bw_aws_send() fails with BW_ERR_INTERRUPTED, as do the waits of s3.c and the AMI export. */
void bw_aws_set_interrupt(const volatile sig_atomic_t *flag);
bool bw_aws_interrupted(void);

/* The endpoint the AWS tools would use for service ("S3", "EC2") from the environment:
 * AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL; NULL for AWS's own. */
const char *bw_aws_endpoint(const char *service);

/* A service's error answer in its own words: "<what>: HTTP 403 Code (Message)". */
void bw_aws_error(const struct bw_aws_answer *r, const char *what, struct bw_error *err);

#endif
