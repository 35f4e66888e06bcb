#include "iso_cache.h"
#include "../builder/base/buf.h"
#include "../builder/base/xmalloc.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

struct hash_info {
    enum bw_hash_kind kind;
    const char *name;    /* in specs */
    const char *bsd_tag; /* in BSD-style checksum files */
    size_t hex_len;
};

static const struct hash_info hashes[] = {
    {BW_HASH_MD5, "md5", "MD5", 32},
    {BW_HASH_SHA1, "sha1", "SHA1", 40},
    {BW_HASH_SHA256, "sha256", "SHA256", 64},
    {BW_HASH_SHA512, "sha512", "SHA512", 128},
};
#define N_HASHES (sizeof(hashes) / sizeof(hashes[0]))

static const struct hash_info *by_kind(enum bw_hash_kind kind)
{
    for (size_t i = 0; i < N_HASHES; i++)
        if (hashes[i].kind == kind)
            return &hashes[i];
    return NULL;
}

const char *bw_hash_name(enum bw_hash_kind kind)
{
    const struct hash_info *h = by_kind(kind);
    return h ? h->name : "none";
}

size_t bw_hash_hex_len(enum bw_hash_kind kind)
{
    const struct hash_info *h = by_kind(kind);
    return h ? h->hex_len : 0;
}

void bw_checksum_spec_release(struct bw_checksum_spec *spec)
{
    free(spec->file_url);
    memset(spec, 0, sizeof(*spec));
}

/* Copies n hex digits lower-cased into out; returns false on a non-hex digit. */
static bool copy_hex(char *out, const char *hex, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit((unsigned char)hex[i]))
            return false;
        out[i] = (char)tolower((unsigned char)hex[i]);
    }
    out[n] = '\0';
    return true;
}

static void expected_kinds(struct bw_buf *b)
{
    for (size_t i = 0; i < N_HASHES; i++)
        bw_buf_addf(b, "%s:HEX (%zu digits), ", hashes[i].name, hashes[i].hex_len);
    bw_buf_adds(b, "file:URL or none");
}

int bw_checksum_spec_parse(const char *spec, struct bw_checksum_spec *out, struct bw_error *err)
{
    memset(out, 0, sizeof(*out));
    if (strcmp(spec, "none") == 0) {
        out->is_none = true;
        return 0;
    }
    if (strncmp(spec, "file:", 5) == 0) {
        if (!spec[5]) {
            bw_error_set(err, BW_ERR_SCHEMA,
                         "checksum \"file:\": expected the URL of a checksum file after file:");
            return -1;
        }
        out->file_url = bw_xstrdup(spec + 5);
        return 0;
    }
    const char *colon = strchr(spec, ':');
    for (size_t i = 0; colon && i < N_HASHES; i++) {
        const struct hash_info *h = &hashes[i];
        if (strlen(h->name) != (size_t)(colon - spec) ||
            strncasecmp(spec, h->name, strlen(h->name)) != 0)
            continue;
        const char *hex = colon + 1;
        size_t n = strlen(hex);
        if (n != h->hex_len || !copy_hex(out->hex, hex, n)) {
            bw_error_set(err, BW_ERR_SCHEMA,
                         "checksum \"%s\": a %s digest is %zu hexadecimal digits, got %zu%s", spec,
                         h->name, h->hex_len, n,
                         n == h->hex_len ? " with a character that is not hex" : "");
            return -1;
        }
        out->kind = h->kind;
        return 0;
    }
    struct bw_buf b = BW_BUF_INIT;
    expected_kinds(&b);
    bw_error_set(err, BW_ERR_SCHEMA, "checksum \"%s\": expected %s", spec, b.data);
    bw_buf_release(&b);
    return -1;
}

static const struct hash_info *by_hex_len(size_t n)
{
    for (size_t i = 0; i < N_HASHES; i++)
        if (hashes[i].hex_len == n)
            return &hashes[i];
    return NULL;
}

static bool same_name(const char *a, size_t alen, const char *name)
{
    if (alen >= 2 && a[0] == '.' && a[1] == '/') {
        a += 2;
        alen -= 2;
    }
    if (name[0] == '.' && name[1] == '/')
        name += 2;
    return strlen(name) == alen && memcmp(a, name, alen) == 0;
}

/* Result of looking at one line. */
enum line_result { LINE_OTHER, LINE_MATCH, LINE_BAD };

/* "SHA256 (name) = HEX" */
static enum line_result bsd_line(const char *l, size_t n, const char *name,
                                 struct bw_checksum_spec *out)
{
    const char *open = memchr(l, '(', n);
    if (!open)
        return LINE_OTHER;
    const struct hash_info *h = NULL;
    size_t taglen = (size_t)(open - l);
    while (taglen && l[taglen - 1] == ' ')
        taglen--;
    for (size_t i = 0; i < N_HASHES; i++)
        if (strlen(hashes[i].bsd_tag) == taglen && strncasecmp(l, hashes[i].bsd_tag, taglen) == 0)
            h = &hashes[i];
    if (!h)
        return LINE_OTHER;
    const char *end = l + n;
    const char *close = NULL;
    for (const char *p = end - 1; p > open; p--)
        if (*p == ')') {
            close = p;
            break;
        }
    if (!close)
        return LINE_OTHER;
    if (!same_name(open + 1, (size_t)(close - open - 1), name))
        return LINE_OTHER;
    const char *p = close + 1;
    while (p < end && *p == ' ')
        p++;
    if (p >= end || *p != '=')
        return LINE_BAD;
    p++;
    while (p < end && *p == ' ')
        p++;
    size_t hexlen = (size_t)(end - p);
    while (hexlen && isspace((unsigned char)p[hexlen - 1]))
        hexlen--;
    if (hexlen != h->hex_len || !copy_hex(out->hex, p, hexlen))
        return LINE_BAD;
    out->kind = h->kind;
    return LINE_MATCH;
}

/* "HEX  name" or "HEX *name" */
static enum line_result gnu_line(const char *l, size_t n, const char *name,
                                 struct bw_checksum_spec *out)
{
    size_t hexlen = 0;
    while (hexlen < n && l[hexlen] != ' ' && l[hexlen] != '\t')
        hexlen++;
    if (hexlen == n)
        return LINE_OTHER;
    const char *p = l + hexlen;
    const char *end = l + n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p < end && *p == '*')
        p++;
    size_t namelen = (size_t)(end - p);
    while (namelen && isspace((unsigned char)p[namelen - 1]))
        namelen--;
    if (!same_name(p, namelen, name))
        return LINE_OTHER;
    const struct hash_info *h = by_hex_len(hexlen);
    if (!h || !copy_hex(out->hex, l, hexlen))
        return LINE_BAD;
    out->kind = h->kind;
    return LINE_MATCH;
}

int bw_checksum_file_find(const char *text, size_t len, const char *name, const char *source,
                          struct bw_checksum_spec *out, struct bw_error *err)
{
    memset(out, 0, sizeof(*out));
    const char *p = text, *end = text + len;
    int lineno = 0;
    bool in_signature = false;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *l = p;
        p += n + (nl ? 1 : 0);
        lineno++;
        if (n && l[n - 1] == '\r')
            n--;
        while (n && (*l == ' ' || *l == '\t')) {
            l++;
            n--;
        }
        if (n == 0 || l[0] == '#')
            continue;
        /* OpenPGP clear-signed wrapper: skip the armour and the signature. */
        if (n >= 5 && memcmp(l, "-----", 5) == 0) {
            if (n >= 29 && memcmp(l, "-----BEGIN PGP SIGNATURE-----", 29) == 0)
                in_signature = true;
            else if (n >= 27 && memcmp(l, "-----END PGP SIGNATURE-----", 27) == 0)
                in_signature = false;
            continue;
        }
        if (in_signature || (n >= 5 && strncmp(l, "Hash:", 5) == 0))
            continue;
        enum line_result r = bsd_line(l, n, name, out);
        if (r == LINE_OTHER)
            r = gnu_line(l, n, name, out);
        if (r == LINE_MATCH)
            return 0;
        if (r == LINE_BAD) {
            bw_error_at(err, BW_ERR_SYNTAX, source, NULL, lineno, 1,
                        "the line for \"%s\" has no valid md5, sha1, sha256 or sha512 digest: "
                        "\"%.*s\"",
                        name, (int)(n > 200 ? 200 : n), l);
            memset(out, 0, sizeof(*out));
            return -1;
        }
    }
    bw_error_at(err, BW_ERR_NOT_FOUND, source, NULL, 0, 0,
                "no line for \"%s\" (expected \"HEX  %s\" or \"SHA256 (%s) = HEX\")", name, name,
                name);
    return -1;
}
