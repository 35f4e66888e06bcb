/*
 * credentials - AWS credentials from where the AWS tools look: the
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN),
 * then the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or
 * ~/.aws/credentials) under the profile asked for (AWS_PROFILE, else
 * "default"), then the instance role through the metadata service, IMDSv2
 * only (a token first; AWS_EC2_METADATA_SERVICE_ENDPOINT moves it,
 * AWS_EC2_METADATA_DISABLED=true turns it off; 1 s to connect, 3 s in all,
 * so a machine that is no EC2 instance waits a second at most). The secret
 * is never printed: `source` says where they came
 * from, and errors name the file, line and key, never a value.
 */
#ifndef BW_AWS_CREDENTIALS_H
#define BW_AWS_CREDENTIALS_H

#include "../base/error.h"

#include <stddef.h>

struct bw_aws_keys {
    char *access_key, *secret_key, *session_token; /* session_token may be NULL */
    char source[512];                              /* "the environment", "FILE [profile]" */
};

/* Finds credentials; profile NULL for AWS_PROFILE or "default". 0, or -1 with err. */
int bw_aws_find_keys(const char *profile, struct bw_aws_keys *k, struct bw_error *err);

/* The profile's keys from a shared credentials file's text (INI: [profile], key = value, # and
 * ; comments); path names it in errors. 0; 1 when the profile is not there; -1 with err for a
 * line that is none of those, or a profile without both keys. */
int bw_aws_parse_keys(const char *text, size_t len, const char *path, const char *profile,
                      struct bw_aws_keys *k, struct bw_error *err);

/* Frees and wipes. */
void bw_aws_keys_release(struct bw_aws_keys *k);

#endif
