#include "buf.h"
#include "xmalloc.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void ensure(struct bw_buf *b, size_t extra)
{
    if (!b->data)
        bw_buf_init(b);
    if (b->len + extra + 1 > b->alloc) {
        size_t n = b->alloc ? b->alloc : 64;
        while (n < b->len + extra + 1)
            n *= 2;
        b->data = bw_xrealloc(b->data, n);
        b->alloc = n;
    }
}

void bw_buf_init(struct bw_buf *b)
{
    b->alloc = 64;
    b->len = 0;
    b->data = bw_xmalloc(b->alloc);
    b->data[0] = '\0';
}

void bw_buf_release(struct bw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

char *bw_buf_detach(struct bw_buf *b)
{
    ensure(b, 0);
    char *s = b->data;
    b->data = NULL;
    b->len = b->alloc = 0;
    return s;
}

void bw_buf_reset(struct bw_buf *b)
{
    ensure(b, 0);
    b->len = 0;
    b->data[0] = '\0';
}

void bw_buf_add(struct bw_buf *b, const void *data, size_t len)
{
    ensure(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void bw_buf_adds(struct bw_buf *b, const char *s)
{
    bw_buf_add(b, s, strlen(s));
}

void bw_buf_addc(struct bw_buf *b, char c)
{
    bw_buf_add(b, &c, 1);
}

void bw_buf_vaddf(struct bw_buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n <= 0)
        return;
    ensure(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void bw_buf_addf(struct bw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bw_buf_vaddf(b, fmt, ap);
    va_end(ap);
}

void bw_buf_add_json_string(struct bw_buf *b, const char *s)
{
    bw_buf_addc(b, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"':
            bw_buf_adds(b, "\\\"");
            break;
        case '\\':
            bw_buf_adds(b, "\\\\");
            break;
        case '\n':
            bw_buf_adds(b, "\\n");
            break;
        case '\r':
            bw_buf_adds(b, "\\r");
            break;
        case '\t':
            bw_buf_adds(b, "\\t");
            break;
        default:
            if (*p < 0x20)
                bw_buf_addf(b, "\\u%04x", *p);
            else
                bw_buf_addc(b, (char)*p);
        }
    }
    bw_buf_addc(b, '"');
}

void bw_buf_rtrim(struct bw_buf *b)
{
    ensure(b, 0);
    while (b->len && isspace((unsigned char)b->data[b->len - 1]))
        b->len--;
    b->data[b->len] = '\0';
}

int bw_buf_read_file(struct bw_buf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        bw_buf_add(b, chunk, n);
    int err = ferror(f);
    fclose(f);
    if (err) {
        errno = EIO;
        return -1;
    }
    ensure(b, 0);
    return 0;
}

void bw_buf_add_xml(struct bw_buf *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '<')
            bw_buf_adds(b, "&lt;");
        else if (c == '>')
            bw_buf_adds(b, "&gt;");
        else if (c == '&')
            bw_buf_adds(b, "&amp;");
        else if (c == '"')
            bw_buf_adds(b, "&quot;");
        else if (c == '\'')
            bw_buf_adds(b, "&apos;");
        else if (c < 0x20 && c != '\n' && c != '\t')
            bw_buf_addc(b, '?');
        else
            bw_buf_addc(b, (char)c);
    }
}

void bw_buf_add_escaped_xml(struct bw_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            bw_buf_adds(b, "&amp;");
            break;
        case '<':
            bw_buf_adds(b, "&lt;");
            break;
        case '>':
            bw_buf_adds(b, "&gt;");
            break;
        case '"':
            bw_buf_adds(b, "&quot;");
            break;
        default:
            bw_buf_addc(b, *s);
        }
    }
}

void bw_buf_add_shell_word(struct bw_buf *b, const char *s)
{
    bool plain = *s != '\0';
    for (const char *p = s; *p && plain; p++)
        plain = isalnum((unsigned char)*p) || strchr("@%+=:,./_-", *p);
    if (plain) {
        bw_buf_adds(b, s);
        return;
    }
    bw_buf_addc(b, '\'');
    for (; *s; s++)
        if (*s == '\'')
            bw_buf_adds(b, "'\\''");
        else
            bw_buf_addc(b, *s);
    bw_buf_addc(b, '\'');
}

void bw_buf_add_vmx(struct bw_buf *b, const char *key, const char *value)
{
    bw_buf_addf(b, "%s = \"", key);
    for (const char *p = value; *p; p++) {
        if (*p == '"' || *p == '|' || (unsigned char)*p < 0x20)
            bw_buf_addf(b, "|%02X", (unsigned char)*p);
        else
            bw_buf_addc(b, *p);
    }
    bw_buf_adds(b, "\"\n");
}
