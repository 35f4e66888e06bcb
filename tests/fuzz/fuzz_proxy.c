/*
 * libFuzzer target: the proxy's parsers (http-server/proxy.h). The input is
 * three parts split at the first two NUL bytes: an allow-list entry, a
 * request target, an upstream response head. Beyond "does not crash": an
 * accepted host holds only the characters a name or an address may, a port
 * is 1..65535, and a parsed head never claims more bytes than it was given.
 */
#include "proxy.h"
#include "../../builder/base/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_host(const struct bw_proxy_host *h)
{
    if (!h->host[0] ||
        strspn(h->host, "abcdefghijklmnopqrstuvwxyz0123456789-.:") != strlen(h->host) ||
        h->port == 0 || h->port > 65535)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *z1 = memchr(p, '\0', size);
    const char *z2 = z1 ? memchr(z1 + 1, '\0', size - (size_t)(z1 + 1 - p)) : NULL;
    char *entry = bw_xstrndup(p, z1 ? (size_t)(z1 - p) : size);
    char *target =
        z1 ? bw_xstrndup(z1 + 1, z2 ? (size_t)(z2 - z1 - 1) : size - (size_t)(z1 + 1 - p))
           : bw_xstrdup("");
    const char *head = z2 ? z2 + 1 : "";
    size_t head_len = z2 ? size - (size_t)(z2 + 1 - p) : 0;
    struct bw_proxy_host allow, h;
    const char *why, *path;
    bool have_allow = bw_proxy_parse_allow(entry, &allow, &why) == 0;
    if (have_allow)
        check_host(&allow);
    if (bw_proxy_parse_target(target, &h, &path, &why) == 0) {
        check_host(&h);
        if (path < target || path > target + strlen(target))
            abort();
        if (have_allow)
            bw_proxy_allowed(&allow, 1, &h);
    }
    struct bw_proxy_head ph;
    if (bw_proxy_parse_head(head, head_len, 1024, &ph) == 1 &&
        (ph.head_len > head_len || ph.head_len > 1024 || ph.status < 100 || ph.status > 999))
        abort();
    free(entry);
    free(target);
    return 0;
}
