/* The proxy's pure parts; see proxy.h. */
#include "proxy.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* host[:port] in s[0..n): a DNS name or IPv4 address (letters, digits, '-', '.'), or an IPv6
 * address in brackets; the port 1..65535, 80 when absent. */
static int parse_authority(const char *s, size_t n, struct bw_proxy_host *out, const char **why)
{
    const char *end = s + n, *colon = NULL;
    const char *h = s, *he;
    if (n && *s == '[') {
        const char *close = memchr(s, ']', n);
        if (!close) {
            *why = "an IPv6 address without its closing ']'";
            return -1;
        }
        h = s + 1;
        he = close;
        for (const char *p = h; p < he; p++)
            if (!isxdigit((unsigned char)*p) && *p != ':' && *p != '.') {
                *why = "an IPv6 address holds hex digits, ':' and '.' only";
                return -1;
            }
        if (close + 1 < end) {
            if (close[1] != ':') {
                *why = "something after the IPv6 address other than \":port\"";
                return -1;
            }
            colon = close + 1;
        }
    } else {
        colon = memchr(s, ':', n);
        he = colon ? colon : end;
        for (const char *p = h; p < he; p++)
            if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.') {
                *why = "a host name holds letters, digits, '-' and '.' only";
                return -1;
            }
        if (he > h && (*h == '.' || he[-1] == '.' || *h == '-')) {
            *why = "a host name that begins or ends with '.', or begins with '-'";
            return -1;
        }
    }
    size_t hn = (size_t)(he - h);
    if (hn == 0) {
        *why = "no host";
        return -1;
    }
    if (hn >= sizeof(out->host)) {
        *why = "a host name longer than 253 characters";
        return -1;
    }
    for (size_t i = 0; i < hn; i++)
        out->host[i] = (char)tolower((unsigned char)h[i]);
    out->host[hn] = '\0';
    out->port = 80;
    if (colon) {
        const char *p = colon + 1;
        unsigned long port = 0;
        if (p == end || end - p > 5) {
            *why = "a port of 1 to 65535 after ':'";
            return -1;
        }
        for (; p < end; p++) {
            if (!isdigit((unsigned char)*p)) {
                *why = "a port of 1 to 65535 after ':'";
                return -1;
            }
            port = port * 10 + (unsigned long)(*p - '0');
        }
        if (port == 0 || port > 65535) {
            *why = "a port of 1 to 65535 after ':'";
            return -1;
        }
        out->port = (unsigned)port;
    }
    return 0;
}

bool bw_proxy_is_target(const char *url)
{
    return url[0] != '/' && strstr(url, "://") != NULL;
}

int bw_proxy_parse_allow(const char *entry, struct bw_proxy_host *out, const char **why)
{
    memset(out, 0, sizeof(*out));
    if (strstr(entry, "://")) {
        *why = "a host or host:port, not a URL";
        return -1;
    }
    const char *s = entry;
    if (strncmp(s, "*.", 2) == 0) {
        out->wildcard = true;
        s += 2;
    }
    if (strchr(s, '/')) {
        *why = "a host or host:port, without a path";
        return -1;
    }
    if (out->wildcard && *s == '[') {
        *why = "\"*.\" before a domain name, not an address";
        return -1;
    }
    bool wildcard = out->wildcard;
    if (parse_authority(s, strlen(s), out, why) < 0)
        return -1;
    out->wildcard = wildcard;
    return 0;
}

int bw_proxy_parse_target(const char *url, struct bw_proxy_host *out, const char **path,
                          const char **why)
{
    memset(out, 0, sizeof(*out));
    if (strncasecmp(url, "http://", 7) != 0) {
        *why = strncasecmp(url, "https://", 8) == 0
                   ? "https:// does not go through this proxy (plain HTTP only)"
                   : "a request for http://host/path";
        return -1;
    }
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= 0x20 || *p >= 0x7f) {
            *why = "control bytes, blanks or bytes above ASCII in the request target";
            return -1;
        }
    const char *a = url + 7;
    size_t n = strcspn(a, "/?#");
    if (memchr(a, '@', n)) {
        *why = "user information (user@host) in the request target";
        return -1;
    }
    if (parse_authority(a, n, out, why) < 0)
        return -1;
    *path = a + n;
    return 0;
}

static bool ends_with_label(const char *name, const char *domain)
{
    size_t n = strlen(name), d = strlen(domain);
    return n > d + 1 && name[n - d - 1] == '.' && strcmp(name + n - d, domain) == 0;
}

bool bw_proxy_allowed(const struct bw_proxy_host *allow, size_t n, const struct bw_proxy_host *h)
{
    for (size_t i = 0; i < n; i++)
        if (allow[i].port == h->port && (allow[i].wildcard ? ends_with_label(h->host, allow[i].host)
                                                           : strcmp(allow[i].host, h->host) == 0))
            return true;
    return false;
}

/* Copies a header's value (blanks trimmed) into out[0..len), cut to fit. */
static void copy_value(const char *v, size_t vn, char *out, size_t len)
{
    while (vn && (*v == ' ' || *v == '\t'))
        v++, vn--;
    while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
        vn--;
    if (vn >= len)
        vn = len - 1;
    for (size_t i = 0; i < vn; i++) /* nothing that could end or split a header line */
        out[i] = (unsigned char)v[i] < 0x20 || v[i] == 0x7f ? '?' : v[i];
    out[vn] = '\0';
}

int bw_proxy_parse_head(const char *buf, size_t len, size_t max_head, struct bw_proxy_head *h)
{
    memset(h, 0, sizeof(*h));
    size_t end = 0;
    for (size_t i = 0; i + 3 < len && i + 4 <= max_head; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = i + 4;
            break;
        }
    if (!end)
        return len >= max_head ? -1 : 0;
    /* "HTTP/1.x NNN reason" */
    if (end < 14 || memcmp(buf, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)buf[7]) ||
        buf[8] != ' ' || !isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11]) || (buf[12] != ' ' && buf[12] != '\r'))
        return -1;
    h->status = (unsigned)((buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0'));
    if (h->status < 100)
        return -1;
    const char *p = memchr(buf, '\n', end) + 1;
    while (p < buf + end - 2) {
        const char *eol = memchr(p, '\n', (size_t)(buf + end - p));
        size_t ln = (size_t)(eol - p);
        if (ln && p[ln - 1] == '\r')
            ln--;
        const char *colon = memchr(p, ':', ln);
        if (!colon || colon == p)
            return -1;
        size_t kn = (size_t)(colon - p);
        const char *v = colon + 1;
        size_t vn = ln - kn - 1;
        for (const char *q = p; q < colon; q++)
            if (*q <= 0x20 || *q >= 0x7f)
                return -1;
        if (kn == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            char num[24];
            copy_value(v, vn, num, sizeof(num));
            if (!num[0] || strlen(num) > 19 || strspn(num, "0123456789") != strlen(num))
                return -1;
            uint64_t l = strtoull(num, NULL, 10);
            if (h->has_length && l != h->length)
                return -1;
            h->has_length = true;
            h->length = l;
        } else if (kn == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
            h->chunked = true;
        } else if (kn == 12 && strncasecmp(p, "Content-Type", 12) == 0) {
            copy_value(v, vn, h->content_type, sizeof(h->content_type));
        } else if (kn == 13 && strncasecmp(p, "Last-Modified", 13) == 0) {
            copy_value(v, vn, h->last_modified, sizeof(h->last_modified));
        } else if (kn == 4 && strncasecmp(p, "ETag", 4) == 0) {
            copy_value(v, vn, h->etag, sizeof(h->etag));
        } else if (kn == 13 && strncasecmp(p, "Content-Range", 13) == 0) {
            copy_value(v, vn, h->content_range, sizeof(h->content_range));
        } else if (kn == 13 && strncasecmp(p, "Accept-Ranges", 13) == 0) {
            copy_value(v, vn, h->accept_ranges, sizeof(h->accept_ranges));
        }
        p = eol + 1;
    }
    h->head_len = end;
    return 1;
}
