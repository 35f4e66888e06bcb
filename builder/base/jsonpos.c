#include "jsonpos.h"
#include "buf.h"
#include "xmalloc.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* jansson refuses documents nested deeper than this, so we never need more. */
#define MAX_DEPTH 2048

struct scan {
    const char *s;
    size_t len, i;
    int line, col;
    struct bw_jsonpos *ix;
    bool failed;
};

static int peek(struct scan *sc)
{
    return sc->i < sc->len ? (unsigned char)sc->s[sc->i] : -1;
}

static void advance(struct scan *sc)
{
    if (sc->i >= sc->len)
        return;
    unsigned char c = (unsigned char)sc->s[sc->i++];
    if (c == '\n') {
        sc->line++;
        sc->col = 1;
    } else if ((c & 0xC0) != 0x80) {
        sc->col++;
    }
}

static void skip_ws(struct scan *sc)
{
    int c;
    while ((c = peek(sc)) == ' ' || c == '\t' || c == '\n' || c == '\r')
        advance(sc);
}

static void add_utf8(struct bw_buf *b, unsigned cp)
{
    if (cp < 0x80) {
        bw_buf_addc(b, (char)cp);
    } else if (cp < 0x800) {
        bw_buf_addc(b, (char)(0xC0 | (cp >> 6)));
        bw_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    } else {
        bw_buf_addc(b, (char)(0xE0 | (cp >> 12)));
        bw_buf_addc(b, (char)(0x80 | ((cp >> 6) & 0x3F)));
        bw_buf_addc(b, (char)(0x80 | (cp & 0x3F)));
    }
}

/* Reads a string literal at the cursor (which is on the quote); decodes it into out if given. */
static void scan_string(struct scan *sc, struct bw_buf *out)
{
    advance(sc); /* opening quote */
    for (;;) {
        int c = peek(sc);
        if (c < 0) {
            sc->failed = true;
            return;
        }
        advance(sc);
        if (c == '"')
            return;
        if (c != '\\') {
            if (out)
                bw_buf_addc(out, (char)c);
            continue;
        }
        int e = peek(sc);
        if (e < 0) {
            sc->failed = true;
            return;
        }
        advance(sc);
        static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
        const char *m = strchr(from, e);
        if (m && e) {
            if (out)
                bw_buf_addc(out, to[m - from]);
        } else if (e == 'u') {
            unsigned cp = 0;
            for (int k = 0; k < 4; k++) {
                int h = peek(sc);
                if (h < 0 || !isxdigit(h)) {
                    sc->failed = true;
                    return;
                }
                advance(sc);
                cp = cp * 16 + (unsigned)(isdigit(h) ? h - '0' : tolower(h) - 'a' + 10);
            }
            if (out)
                add_utf8(out, cp >= 0xD800 && cp <= 0xDFFF ? '?' : cp);
        } else {
            sc->failed = true;
            return;
        }
    }
}

static void record(struct scan *sc, const char *path, int line, int col, int kline, int kcol)
{
    struct bw_jsonpos *ix = sc->ix;
    BW_GROW(ix->v, ix->alloc, ix->n + 1);
    struct bw_jsonpos_entry *e = &ix->v[ix->n++];
    e->path = bw_xstrdup(path);
    e->line = line;
    e->col = col;
    e->kline = kline;
    e->kcol = kcol;
}

void bw_jsonpath_add_key(struct bw_buf *b, const char *key)
{
    bool ident = *key && (isalpha((unsigned char)*key) || *key == '_');
    for (const char *p = key; ident && *p; p++)
        ident = isalnum((unsigned char)*p) || *p == '_' || *p == '-';
    if (ident) {
        bw_buf_addc(b, '.');
        bw_buf_adds(b, key);
    } else {
        bw_buf_addc(b, '[');
        bw_buf_add_json_string(b, key);
        bw_buf_addc(b, ']');
    }
}

static void scan_value(struct scan *sc, struct bw_buf *path, int depth, int kline, int kcol)
{
    skip_ws(sc);
    if (sc->failed || sc->i >= sc->len || depth > MAX_DEPTH) {
        sc->failed = true;
        return;
    }
    record(sc, path->data, sc->line, sc->col, kline, kcol);
    size_t base = path->len;
    int c = peek(sc);
    if (c == '{') {
        advance(sc);
        skip_ws(sc);
        if (peek(sc) == '}') {
            advance(sc);
            return;
        }
        while (!sc->failed) {
            skip_ws(sc);
            if (peek(sc) != '"') {
                sc->failed = true;
                return;
            }
            int kl = sc->line, kc = sc->col;
            struct bw_buf key = BW_BUF_INIT;
            bw_buf_init(&key);
            scan_string(sc, &key);
            bw_jsonpath_add_key(path, key.data);
            bw_buf_release(&key);
            skip_ws(sc);
            if (peek(sc) != ':') {
                sc->failed = true;
                return;
            }
            advance(sc);
            scan_value(sc, path, depth + 1, kl, kc);
            path->len = base;
            path->data[base] = '\0';
            skip_ws(sc);
            c = peek(sc);
            advance(sc);
            if (c == '}')
                return;
            if (c != ',')
                sc->failed = true;
        }
    } else if (c == '[') {
        advance(sc);
        skip_ws(sc);
        if (peek(sc) == ']') {
            advance(sc);
            return;
        }
        for (size_t idx = 0; !sc->failed; idx++) {
            bw_buf_addf(path, "[%zu]", idx);
            scan_value(sc, path, depth + 1, 0, 0);
            path->len = base;
            path->data[base] = '\0';
            skip_ws(sc);
            c = peek(sc);
            advance(sc);
            if (c == ']')
                return;
            if (c != ',')
                sc->failed = true;
        }
    } else if (c == '"') {
        scan_string(sc, NULL);
    } else {
        size_t start = sc->i;
        while ((c = peek(sc)) >= 0 && !strchr(",}] \t\r\n", c))
            advance(sc);
        if (sc->i == start)
            sc->failed = true;
    }
}

void bw_jsonpos_index(struct bw_jsonpos *ix, const char *text, size_t len)
{
    struct scan sc = {text, len, 0, 1, 1, ix, false};
    struct bw_buf path = BW_BUF_INIT;
    bw_buf_init(&path);
    scan_value(&sc, &path, 0, 0, 0);
    bw_buf_release(&path);
}

const struct bw_jsonpos_entry *bw_jsonpos_find(const struct bw_jsonpos *ix, const char *path)
{
    for (size_t i = 0; i < ix->n; i++)
        if (strcmp(ix->v[i].path, path) == 0)
            return &ix->v[i];
    return NULL;
}

void bw_jsonpos_release(struct bw_jsonpos *ix)
{
    for (size_t i = 0; i < ix->n; i++)
        free(ix->v[i].path);
    free(ix->v);
    memset(ix, 0, sizeof(*ix));
}
