/* Request paths: from the raw request target to a safe relative path. */
#include "http_server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int bw_http_normalize_path(const char *raw, char *out, size_t outlen, const char **reason)
{
    const char *why = NULL;
    size_t n = 0;
    if (outlen == 0)
        return -1;
    if (*raw != '/' && *raw != '\0') {
        why = "the path must start with /";
        goto fail;
    }
    /* Decode first, segment after: "%2e%2e" must be as refused as "..". */
    for (const char *p = raw; *p && *p != '?' && *p != '#'; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '%') {
            int hi = hexval(p[1]), lo = hi >= 0 ? hexval(p[2]) : -1;
            if (hi < 0 || lo < 0) {
                why = "a bad %-escape";
                goto fail;
            }
            c = (unsigned char)(hi * 16 + lo);
            p += 2;
            if (c == 0) {
                why = "an encoded NUL byte";
                goto fail;
            }
        }
        if (c == '\\') {
            why = "a backslash";
            goto fail;
        }
        if (c < 0x20 || c == 0x7f) {
            why = "a control character";
            goto fail;
        }
        if (n + 1 >= outlen) {
            why = "the path is too long";
            goto fail;
        }
        out[n++] = (char)c;
    }
    out[n] = '\0';
    /* Rebuild segment by segment into the front of out. */
    size_t w = 0, r = 0;
    while (r < n) {
        while (r < n && out[r] == '/')
            r++;
        size_t start = r;
        while (r < n && out[r] != '/')
            r++;
        size_t len = r - start;
        if (len == 0 || (len == 1 && out[start] == '.'))
            continue;
        if (len == 2 && out[start] == '.' && out[start + 1] == '.') {
            why = "a \"..\" segment";
            goto fail;
        }
        if (w)
            out[w++] = '/';
        memmove(out + w, out + start, len);
        w += len;
    }
    out[w] = '\0';
    return 0;
fail:
    out[0] = '\0';
    if (reason)
        *reason = why;
    return -1;
}

static const struct {
    const char *ext;
    const char *type;
} types[] = {
    {".json", "application/json"},
    {".cfg", "text/plain; charset=utf-8"},
    {".txt", "text/plain; charset=utf-8"},
    {".ks", "text/plain; charset=utf-8"},
    {".seed", "text/plain; charset=utf-8"},
    {".sh", "text/x-shellscript; charset=utf-8"},
    {".xml", "application/xml"},
    {".yaml", "application/yaml"},
    {".yml", "application/yaml"},
    {".html", "text/html; charset=utf-8"},
    {".iso", "application/x-iso9660-image"},
    {".gz", "application/gzip"},
    {".tar", "application/x-tar"},
    {".img", "application/octet-stream"},
    {".qcow2", "application/octet-stream"},
};

/* cloud-init's NoCloud seed files have no extension but are text. */
static const char *const text_names[] = {"user-data",      "meta-data",  "vendor-data",
                                         "network-config", "SHA256SUMS", "SHA512SUMS"};

const char *bw_http_content_type(const char *name)
{
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    for (size_t i = 0; i < sizeof(text_names) / sizeof(text_names[0]); i++)
        if (strcmp(base, text_names[i]) == 0)
            return "text/plain; charset=utf-8";
    const char *dot = strrchr(base, '.');
    if (dot)
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot, types[i].ext) == 0)
                return types[i].type;
    return "application/octet-stream";
}

void bw_http_printable(const char *raw, char *out, size_t outlen)
{
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)raw; *p && outlen; p++) {
        bool plain = *p > 0x20 && *p < 0x7f;
        size_t need = plain ? 1 : 3;
        if (o + need + 4 > outlen) { /* room for "..." and the NUL */
            if (o + 4 <= outlen)
                memcpy(out + o, "...", 3), o += 3;
            break;
        }
        if (plain)
            out[o++] = (char)*p;
        else
            o += (size_t)snprintf(out + o, outlen - o, "%%%02X", *p);
    }
    if (outlen)
        out[o < outlen ? o : outlen - 1] = '\0';
}
