/*
 * bw_buf - a growable byte buffer, the way boxwright builds strings.
 *
 * Invariants: `data` is never NULL after bw_buf_init() and is always
 * NUL-terminated at data[len], so it can be handed to anything that wants a
 * C string; it may also hold NUL bytes inside (len says how much is valid).
 * The buffer owns `data`; bw_buf_release() frees it and leaves an empty
 * buffer; bw_buf_detach() hands ownership to the caller.
 */
#ifndef BW_BUF_H
#define BW_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct bw_buf {
    char *data;
    size_t len;
    size_t alloc;
};

#define BW_BUF_INIT                                                                                \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void bw_buf_init(struct bw_buf *b);
void bw_buf_release(struct bw_buf *b);
/* Returns the contents as a new string the caller frees; the buffer is empty after. */
char *bw_buf_detach(struct bw_buf *b);
void bw_buf_reset(struct bw_buf *b);
void bw_buf_add(struct bw_buf *b, const void *data, size_t len);
void bw_buf_adds(struct bw_buf *b, const char *s);
void bw_buf_addc(struct bw_buf *b, char c);
/* Appends s with &, <, > and " as entities: text safe in XML and HTML, in an element or a
 * quoted attribute. */
void bw_buf_add_escaped_xml(struct bw_buf *b, const char *s);
/* Appends a line of VMware's .vmx format, key = "value", with | and " and control characters
 * escaped as VMware does (|22 for "). */
void bw_buf_add_vmx(struct bw_buf *b, const char *key, const char *value);
/* Appends s as one word for a POSIX shell: as it is when it is made of letters, digits and
 * @%+=:,./_- only, otherwise in single quotes (a quote inside as '\''). For showing commands. */
void bw_buf_add_shell_word(struct bw_buf *b, const char *s);
void bw_buf_addf(struct bw_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bw_buf_vaddf(struct bw_buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* Appends s as a JSON string literal, quotes included. */
void bw_buf_add_json_string(struct bw_buf *b, const char *s);
/* Drops trailing bytes for which isspace() is true. */
void bw_buf_rtrim(struct bw_buf *b);
/* Appends s escaped for XML text and attribute values; control characters become '?'. */
void bw_buf_add_xml(struct bw_buf *b, const char *s);
/* Reads a whole file; returns 0, or -1 with errno set. */
int bw_buf_read_file(struct bw_buf *b, const char *path);

#endif
