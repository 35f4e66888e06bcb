/*
 * libFuzzer target: the HTTP path normaliser. Beyond "does not crash" it
 * checks the promise the server relies on: an accepted path never has a ".."
 * segment, a backslash, a NUL or a leading "/".
 */
#include "http_server.h"
#include "../../builder/base/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *raw = bw_xstrndup((const char *)data, size);
    char out[512];
    const char *why;
    if (bw_http_normalize_path(raw, out, sizeof(out), &why) == 0) {
        if (out[0] == '/' || strchr(out, '\\') || strcmp(out, "..") == 0 ||
            strncmp(out, "../", 3) == 0 || strstr(out, "/../") ||
            (strlen(out) >= 3 && strcmp(out + strlen(out) - 3, "/..") == 0))
            abort();
        for (const char *p = out; *p; p++)
            if ((unsigned char)*p < 0x20)
                abort();
    }
    bw_http_content_type(raw);
    free(raw);
    return 0;
}
