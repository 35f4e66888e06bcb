/*
 * bw_error - failures as values.
 *
 * Library code never prints and never exits: it fills a struct bw_error and
 * returns -1 (or NULL). The error carries a code (which kind of failure, so
 * callers can choose an exit status or a retry) and the context a user needs
 * to act on it: the file, the JSON path or template position, line and column
 * (1-based; 0 when unknown), and a message that quotes the offending value and
 * says what was expected. Only main() turns errors into text on stderr.
 *
 * A struct bw_error owns its strings. bw_error_release() frees them and leaves
 * the struct reusable; it accepts a zeroed struct. A struct bw_errors collects
 * many errors when a check should report all problems at once (validate).
 */
#ifndef BW_ERROR_H
#define BW_ERROR_H

#include <stdarg.h>
#include <stddef.h>

enum bw_errcode {
    BW_OK = 0,
    BW_ERR_USAGE,       /* bad command line */
    BW_ERR_IO,          /* a file could not be read or written */
    BW_ERR_SYNTAX,      /* JSON, template or boot command does not parse */
    BW_ERR_SCHEMA,      /* parses, but a value is wrong for its place */
    BW_ERR_RENDER,      /* template execution failed (undefined variable, ...) */
    BW_ERR_NOT_FOUND,   /* a template, file or URL that does not exist */
    BW_ERR_NETWORK,     /* transfer failed */
    BW_ERR_CHECKSUM,    /* content does not match its declared digest */
    BW_ERR_SPAWN,       /* a child process could not run or failed */
    BW_ERR_UNSUPPORTED, /* the request is valid but not supported here */
    BW_ERR_INTERRUPTED, /* the user asked us to stop */
    BW_ERR_INTERNAL,
};

struct bw_error {
    enum bw_errcode code;
    char *file; /* file the error is about, or NULL */
    char *path; /* location inside it: a JSON path such as ".vm.memory", or NULL */
    int line;   /* 1-based, 0 if unknown */
    int col;    /* 1-based, 0 if unknown */
    char *msg;  /* what is wrong, with the value and what was expected */
};

#define BW_ERROR_INIT                                                                              \
    {                                                                                              \
        BW_OK, NULL, NULL, 0, 0, NULL                                                              \
    }

/* Replaces whatever e held. e may be NULL, then the call does nothing. */
void bw_error_set(struct bw_error *e, enum bw_errcode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like bw_error_set(), with a position. file and path may be NULL. */
void bw_error_at(struct bw_error *e, enum bw_errcode code, const char *file, const char *path,
                 int line, int col, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/* bw_error_at() for a function that takes its own format and arguments. */
void bw_error_vat(struct bw_error *e, enum bw_errcode code, const char *file, const char *path,
                  int line, int col, const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));
/* Prefixes the message with "prefix: ". */
void bw_error_prefix(struct bw_error *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void bw_error_release(struct bw_error *e);
/* Moves src into dst (dst is released first); src ends up empty. */
void bw_error_move(struct bw_error *dst, struct bw_error *src);
/* Returns "file:line:col: path: msg" (parts that are unknown left out); caller frees. */
char *bw_error_format(const struct bw_error *e);

struct bw_errors {
    struct bw_error *v;
    size_t n;
    size_t alloc;
};

#define BW_ERRORS_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* Takes the contents of e (e ends up empty). */
void bw_errors_take(struct bw_errors *list, struct bw_error *e);
void bw_errors_release(struct bw_errors *list);

#endif
