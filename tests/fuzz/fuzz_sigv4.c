/*
 * libFuzzer target: SigV4's canonical forms (paths normalised, queries decoded, encoded and
 * sorted, header values folded) on any bytes. Whatever they hold, the canonical request
 * is printable ASCII but for its newlines, and the signature 64 hex digits.
 */
#include "../../builder/aws/sigv4.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* three NUL-separated parts: path, query, a header value */
    char *buf = malloc(size + 3);
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = '\0';
    const char *path = buf;
    const char *query = path + strlen(path) + 1;
    if (query > buf + size)
        query = buf + size;
    const char *value = query + strlen(query) + 1;
    if (value > buf + size)
        value = buf + size;
    struct bw_sigv4_header h[2] = {{"Host", "example.amazonaws.com"}, {"X-Fuzz", value}};
    struct bw_sigv4_request req = {"GET", path, query, h, 2, "UNSIGNED-PAYLOAD"};
    struct bw_sigv4_credentials c = {"AKID", "secret", NULL};
    for (int flavor = 0; flavor < 2; flavor++) {
        struct bw_sigv4_signed s;
        struct bw_error err = BW_ERROR_INIT;
        if (bw_sigv4_sign(&req, &c, "us-east-1", "ec2", "20150830T123600Z",
                          flavor ? BW_SIGV4_S3 : BW_SIGV4_AWS, &s, &err) != 0)
            abort();
        /* the path and query lines are encoded: nothing but unreserved, "%", "/", "=", "&" */
        const char *line2 = strchr(s.canonical_request, '\n') + 1;
        const char *end = strchr(strchr(line2, '\n') + 1, '\n');
        for (const char *p = line2; p < end; p++)
            if (*p != '\n' && !strchr("-_.~%/=&", *p) &&
                !((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
                abort();
        if (strlen(s.signature) != 64)
            abort();
        bw_sigv4_signed_release(&s);
    }
    free(buf);
    return 0;
}
