#include "sigv4.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool unreserved(unsigned char c)
{
    return isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
}

void bw_sigv4_encode(struct bw_buf *b, const char *s, size_t len, int keep_slash)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (unreserved(c) || (keep_slash && c == '/'))
            bw_buf_addc(b, (char)c);
        else
            bw_buf_addf(b, "%%%02X", c);
    }
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* %XX decoded (a "%" not followed by two hex digits stays as it is). */
static void decode(struct bw_buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < len && (hi = hexval(s[i + 1])) >= 0 &&
            (lo = hexval(s[i + 2])) >= 0) {
            bw_buf_addc(out, (char)(hi * 16 + lo));
            i += 2;
        } else {
            bw_buf_addc(out, s[i]);
        }
    }
}

/* The path without "." and ".." segments and empty ones (repeated slashes), keeping a trailing
 * slash: what every service but S3 signs. */
static void normalize_path(struct bw_buf *out, const char *path)
{
    const char *seg[512];
    size_t len[512], n = 0;
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        size_t l = strcspn(p, "/");
        if (l == 0)
            break;
        if (l == 1 && p[0] == '.') {
            /* nothing */
        } else if (l == 2 && p[0] == '.' && p[1] == '.') {
            if (n)
                n--;
        } else if (n < 512) {
            seg[n] = p;
            len[n++] = l;
        }
        p += l;
    }
    /* a trailing slash stays when the path had one (as botocore keeps it) */
    size_t pl = strlen(path);
    bool trailing = pl > 1 && path[pl - 1] == '/';
    for (size_t i = 0; i < n; i++) {
        bw_buf_addc(out, '/');
        bw_buf_add(out, seg[i], len[i]);
    }
    if (n == 0 || trailing)
        bw_buf_addc(out, '/');
}

static void canonical_uri(struct bw_buf *out, const char *path, enum bw_sigv4_flavor flavor)
{
    if (!path || !*path)
        path = "/";
    struct bw_buf raw = BW_BUF_INIT;
    bw_buf_init(&raw);
    if (flavor == BW_SIGV4_S3) {
        /* as sent, with its encoding made canonical */
        decode(&raw, path, strlen(path));
        bw_sigv4_encode(out, raw.data, raw.len, 1);
    } else {
        /* the path as sent, normalised, encoded once more ("%" becomes "%25") */
        normalize_path(&raw, path);
        bw_sigv4_encode(out, raw.data, raw.len, 1);
    }
    bw_buf_release(&raw);
}

struct param {
    char *key, *value; /* encoded */
};

static int by_key_value(const void *a, const void *b)
{
    const struct param *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

static void canonical_query(struct bw_buf *out, const char *query)
{
    struct param *v = NULL;
    size_t n = 0, alloc = 0;
    for (const char *p = query ? query : ""; *p;) {
        size_t l = strcspn(p, "&");
        if (l) {
            const char *eq = memchr(p, '=', l);
            size_t kl = eq ? (size_t)(eq - p) : l;
            struct bw_buf k = BW_BUF_INIT, val = BW_BUF_INIT, ek = BW_BUF_INIT, ev = BW_BUF_INIT;
            bw_buf_init(&k);
            bw_buf_init(&val);
            bw_buf_init(&ek);
            bw_buf_init(&ev);
            decode(&k, p, kl);
            if (eq)
                decode(&val, eq + 1, l - kl - 1);
            bw_sigv4_encode(&ek, k.data, k.len, 0);
            bw_sigv4_encode(&ev, val.data, val.len, 0);
            BW_GROW(v, alloc, n + 1);
            v[n++] = (struct param){bw_buf_detach(&ek), bw_buf_detach(&ev)};
            bw_buf_release(&k);
            bw_buf_release(&val);
        }
        p += l + (p[l] == '&');
    }
    if (n)
        qsort(v, n, sizeof(*v), by_key_value);
    for (size_t i = 0; i < n; i++) {
        bw_buf_addf(out, "%s%s=%s", i ? "&" : "", v[i].key, v[i].value);
        free(v[i].key);
        free(v[i].value);
    }
    free(v);
}

struct hdr {
    char *name;
    const char *value;
    size_t order;
};

static int by_name(const void *a, const void *b)
{
    const struct hdr *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

/* A header value as signed: trimmed, every run of blanks one space. */
static void header_value(struct bw_buf *out, const char *v)
{
    bool space = false, any = false;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t' || *v == '\n' || *v == '\r') {
            space = any;
            continue;
        }
        if (space)
            bw_buf_addc(out, ' ');
        space = false;
        any = true;
        bw_buf_addc(out, *v);
    }
}

void bw_sigv4_sha256_hex(const void *data, size_t len, char hex[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    for (unsigned i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len);
}

int bw_sigv4_sign(const struct bw_sigv4_request *req, const struct bw_sigv4_credentials *cred,
                  const char *region, const char *service, const char *amz_date,
                  enum bw_sigv4_flavor flavor, struct bw_sigv4_signed *out, struct bw_error *err)
{
    memset(out, 0, sizeof(*out));
    if (strlen(amz_date) != 16 || amz_date[8] != 'T' || amz_date[15] != 'Z') {
        bw_error_set(err, BW_ERR_USAGE, "sigv4: date \"%s\": expected YYYYMMDDTHHMMSSZ", amz_date);
        return -1;
    }
    struct hdr *h = bw_xcalloc(req->n_headers + 1, sizeof(*h));
    bool host = false;
    for (size_t i = 0; i < req->n_headers; i++) {
        h[i].name = bw_xstrdup(req->headers[i].name);
        for (char *c = h[i].name; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        h[i].value = req->headers[i].value;
        h[i].order = i;
        host |= strcmp(h[i].name, "host") == 0;
    }
    if (!host) {
        for (size_t i = 0; i < req->n_headers; i++)
            free(h[i].name);
        free(h);
        bw_error_set(err, BW_ERR_USAGE, "sigv4: the request has no Host header to sign");
        return -1;
    }
    qsort(h, req->n_headers, sizeof(*h), by_name);
    struct bw_buf cr = BW_BUF_INIT, signed_headers = BW_BUF_INIT;
    bw_buf_init(&cr);
    bw_buf_init(&signed_headers);
    bw_buf_addf(&cr, "%s\n", req->method);
    canonical_uri(&cr, req->path, flavor);
    bw_buf_addc(&cr, '\n');
    canonical_query(&cr, req->query);
    bw_buf_addc(&cr, '\n');
    for (size_t i = 0; i < req->n_headers; i++) {
        bool first = i == 0 || strcmp(h[i].name, h[i - 1].name) != 0;
        bool last = i + 1 == req->n_headers || strcmp(h[i].name, h[i + 1].name) != 0;
        if (first) {
            bw_buf_addf(&cr, "%s:", h[i].name);
            bw_buf_addf(&signed_headers, "%s%s", signed_headers.len ? ";" : "", h[i].name);
        } else {
            bw_buf_addc(&cr, ',');
        }
        header_value(&cr, h[i].value);
        if (last)
            bw_buf_addc(&cr, '\n');
    }
    bw_buf_addf(&cr, "\n%s\n%s", signed_headers.data, req->payload_sha256);
    char cr_hash[65];
    bw_sigv4_sha256_hex(cr.data, cr.len, cr_hash);
    char day[9];
    memcpy(day, amz_date, 8);
    day[8] = '\0';
    char *scope = bw_xasprintf("%s/%s/%s/aws4_request", day, region, service);
    out->string_to_sign = bw_xasprintf("AWS4-HMAC-SHA256\n%s\n%s\n%s", amz_date, scope, cr_hash);
    /* The signing key: the secret, then the day, region, service and "aws4_request". */
    char *k0 = bw_xasprintf("AWS4%s", cred->secret_key);
    unsigned char k[32], k2[32];
    hmac(k0, strlen(k0), day, k);
    OPENSSL_cleanse(k0, strlen(k0));
    free(k0);
    hmac(k, 32, region, k2);
    hmac(k2, 32, service, k);
    hmac(k, 32, "aws4_request", k2);
    unsigned char sig[32];
    hmac(k2, 32, out->string_to_sign, sig);
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(k2, sizeof(k2));
    for (unsigned i = 0; i < 32; i++)
        snprintf(out->signature + 2 * i, 3, "%02x", sig[i]);
    out->authorization =
        bw_xasprintf("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s",
                     cred->access_key, scope, signed_headers.data, out->signature);
    out->canonical_request = bw_buf_detach(&cr);
    bw_buf_release(&signed_headers);
    free(scope);
    for (size_t i = 0; i < req->n_headers; i++)
        free(h[i].name);
    free(h);
    return 0;
}

void bw_sigv4_signed_release(struct bw_sigv4_signed *s)
{
    free(s->canonical_request);
    free(s->string_to_sign);
    free(s->authorization);
    memset(s, 0, sizeof(*s));
}

char *bw_sigv4_masked(const char *authorization)
{
    char *m = bw_xstrdup(authorization);
    char *sig = strstr(m, "Signature=");
    if (sig)
        for (char *p = sig + 10; *p; p++)
            *p = '*';
    return m;
}
