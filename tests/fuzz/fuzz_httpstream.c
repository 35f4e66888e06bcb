/*
 * libFuzzer target: the stream relay's request splitter and header rewrite.
 * Beyond "does not crash" it checks what the relay relies on: a found
 * request lies inside the input and its head ends with the blank line, and
 * the rewritten head ends with exactly one "Connection: close" line and
 * carries no other Connection, Keep-Alive or Proxy-Connection header.
 */
#include "stream.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t head = 0, body = 0;
    const char *why = NULL;
    int rc = bw_http_request_split(buf, size, 4096, &head, &body, &why);
    if (rc < 0 && !why)
        abort();
    if (rc == 1) {
        if (head < 4 || head > size || head > 4096 || memcmp(buf + head - 4, "\r\n\r\n", 4) != 0)
            abort();
        struct bw_buf out = BW_BUF_INIT;
        bw_buf_init(&out);
        bw_http_request_rewrite(buf, head, &out);
        static const char tail[] = "\nConnection: close\r\n\r\n";
        if (out.len < sizeof(tail) - 1 ||
            memcmp(out.data + out.len - (sizeof(tail) - 1), tail, sizeof(tail) - 1) != 0)
            abort();
        /* Every line but the last header: none of the dropped names. */
        for (size_t i = 0; i + sizeof(tail) - 1 < out.len; i++)
            if (i > 0 && out.data[i - 1] == '\n' &&
                (strncasecmp(out.data + i, "Connection:", 11) == 0 ||
                 strncasecmp(out.data + i, "Keep-Alive:", 11) == 0 ||
                 strncasecmp(out.data + i, "Proxy-Connection:", 17) == 0))
                abort();
        bw_buf_release(&out);
    }
    return 0;
}
