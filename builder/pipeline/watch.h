/*
 * watch - what a build watches while a guest works on its own (an installer
 * installing, a first boot running cloud-init): has anything moved?
 *
 * Progress is any of: the screen changed (its text in a text mode, its image
 * in a graphics mode), the serial console grew, the guest asked the HTTP
 * server for something, the disk grew. An installer that does none of these
 * for the stall timeout is waiting for an answer nobody will give (a question
 * the answer file left open, a prompt that never got its command): the build
 * stops then, with the screen, instead of at the end of a long timeout.
 *
 * A question is judged sooner: when a row of a text screen, or a line of
 * the serial console where an installer draws its dialogs, matches one of
 * the definition's boot.questions (d-i's dialogs carry "[!!]" in their
 * title), and the same question stays there for boot.question_timeout with
 * no request to the HTTP server and no growth of the disk, the build stops
 * with that line and what follows it (the question's text). A screen or a
 * console that changes meanwhile does not reset it: a dialog blinks its
 * cursor, and d-i on a serial console redraws a clock every minute.
 *
 * The last screen seen is kept, so a guest that powers off can still be
 * described by what it showed last.
 */
#ifndef BW_WATCH_H
#define BW_WATCH_H

#include "../base/buf.h"
#include "../base/error.h"
#include "../core/definition.h"
#include "../drivers/driver.h"
#include "../typing/screen.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bw_http_server;

struct bw_watch {
    const struct bw_driver *drv;
    struct bw_vm *vm;
    const char *disk;                   /* a local disk file that grows, or NULL */
    const struct bw_http_server *http;  /* or NULL */
    char *shot_base;                    /* screenshots for comparison go here (+ .ppm) */
    uint64_t stall_ms;                  /* 0: never judged stalled */
    const struct bw_strlist *questions; /* POSIX EREs, or NULL */
    uint64_t question_ms;
    char *question;        /* the question on display, or NULL */
    double question_since; /* ... since, with no request and no disk growth */
    unsigned q_requests;
    off_t q_disk;
    double moved; /* when something last moved (monotonic seconds) */
    uint64_t screen_hash;
    off_t serial_size, disk_size;
    unsigned requests;
    struct bw_screen *last; /* the last screen read, or NULL before the first */
    bool looked;
};

/* Starts watching vm; workdir holds its screenshots. Borrows everything. */
void bw_watch_start(struct bw_watch *w, const struct bw_driver *drv, struct bw_vm *vm,
                    const char *workdir, const char *disk, const struct bw_http_server *http,
                    uint64_t stall_ms);
/* Also judges questions: rows matching one of questions, still for question_ms. Borrowed. */
void bw_watch_questions(struct bw_watch *w, const struct bw_strlist *questions,
                        uint64_t question_ms);
/* The last question console output (a serial log) shows: its line into row, the lines from it
 * on (indented "  | ") into shown; false when none does. */
bool bw_watch_console_question(const char *out, size_t len, const struct bw_strlist *questions,
                               struct bw_buf *row, struct bw_buf *shown);
/* The first row of screen s that matches one of questions, into row; false when none does. */
bool bw_watch_question_row(const struct bw_screen *s, const struct bw_strlist *questions,
                           struct bw_buf *row);
/*
 * Looks again (a screenshot, the text when there is text, file sizes, the request count).
 * Returns 0; -1 with err when nothing has moved for the stall timeout (the message says so
 * and ends with the screen).
 */
int bw_watch_poll(struct bw_watch *w, struct bw_error *err);
/* Appends the last screen seen (its text rows, or its size in a graphics mode) after indent;
 * false when none was seen. */
bool bw_watch_last_screen(const struct bw_watch *w, struct bw_buf *out, const char *indent);
void bw_watch_stop(struct bw_watch *w);

#endif
