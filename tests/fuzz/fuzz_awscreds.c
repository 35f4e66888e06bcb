/*
 * libFuzzer target: the shared credentials file (INI). Whatever it holds, a profile found has
 * both keys, and what is kept came from the text.
 */
#include "../../builder/aws/credentials.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bw_aws_keys k;
    struct bw_error err = BW_ERROR_INIT;
    int rc = bw_aws_parse_keys((const char *)data, size, "fuzz", "default", &k, &err);
    if (rc == 0 &&
        (!k.access_key || !k.secret_key || !memmem(data, size, k.access_key, strlen(k.access_key))))
        abort();
    if (rc != 0 && (k.access_key || k.secret_key))
        abort(); /* nothing half-kept */
    bw_aws_keys_release(&k);
    bw_error_release(&err);
    return 0;
}
