/* Watching a guest for progress; see watch.h. */
#include "watch.h"
#include "../base/file.h"
#include "../base/xmalloc.h"
#include "../../http-server/http_server.h"

#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static off_t size_of(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? st.st_size : 0;
}

void bw_watch_start(struct bw_watch *w, const struct bw_driver *drv, struct bw_vm *vm,
                    const char *workdir, const char *disk, const struct bw_http_server *http,
                    uint64_t stall_ms)
{
    memset(w, 0, sizeof(*w));
    w->drv = drv;
    w->vm = vm;
    w->disk = disk;
    w->http = http;
    w->stall_ms = stall_ms;
    w->shot_base = bw_xasprintf("%s/watch", workdir);
    w->moved = now_s();
    w->requests = bw_http_requests(http);
    w->disk_size = size_of(disk);
}

void bw_watch_questions(struct bw_watch *w, const struct bw_strlist *questions,
                        uint64_t question_ms)
{
    w->questions = questions;
    w->question_ms = question_ms;
}

bool bw_watch_question_row(const struct bw_screen *s, const struct bw_strlist *questions,
                           struct bw_buf *row)
{
    if (!s->text || !questions)
        return false;
    for (size_t q = 0; q < questions->n; q++) {
        regex_t re;
        if (regcomp(&re, questions->v[q], REG_EXTENDED | REG_NOSUB) != 0)
            continue;
        for (unsigned r = 0; r < s->rows; r++) {
            bw_buf_reset(row);
            bw_buf_add(row, s->cells + (size_t)r * s->cols, s->cols);
            bw_buf_rtrim(row);
            if (regexec(&re, row->data, 0, NULL, 0) == 0) {
                regfree(&re);
                return true;
            }
        }
        regfree(&re);
    }
    return false;
}

/* The last line of console output a question pattern matches, and the lines after it. */
#define TAIL_LINES 16
struct console_question {
    regex_t *re;
    size_t n_re;
    char tail[TAIL_LINES][160];
    size_t n_lines;
    struct bw_buf *row;
    bool found;
};

/* A line of box drawing (DEC line-drawing letters: a dialog's frame) or of a character or
 * two: no words of the question. */
static bool noise(const char *line)
{
    const char *p = line + strspn(line, " ");
    return strlen(p) < 3 || p[strspn(p, "lqkjmxtuvwn ")] == '\0';
}

static bool console_line(const char *line, void *ud)
{
    struct console_question *c = ud;
    if (noise(line))
        return false;
    for (size_t i = 0; i < c->n_re; i++)
        if (regexec(&c->re[i], line, 0, NULL, 0) == 0) {
            /* a later question replaces an earlier one */
            bw_buf_reset(c->row);
            bw_buf_adds(c->row, line);
            c->found = true;
            c->n_lines = 0;
            return false;
        }
    /* what follows the question's title is its text */
    if (c->found && c->n_lines < TAIL_LINES)
        snprintf(c->tail[c->n_lines++], sizeof(c->tail[0]), "%s", line);
    return false;
}

/*
 * In a graphics mode an installer may draw its dialogs on the serial console (d-i does with
 * console=ttyS0): the last question the last 8 KiB of it show, into row, and the lines from it
 * on into shown.
 */
bool bw_watch_console_question(const char *out, size_t len, const struct bw_strlist *questions,
                               struct bw_buf *row, struct bw_buf *shown)
{
    if (!questions || !questions->n)
        return false;
    struct console_question *c = bw_xcalloc(1, sizeof(*c));
    c->re = bw_xcalloc(questions->n, sizeof(*c->re));
    for (size_t q = 0; q < questions->n; q++)
        if (regcomp(&c->re[c->n_re], questions->v[q], REG_EXTENDED | REG_NOSUB) == 0)
            c->n_re++;
    c->row = row;
    size_t from = len > 8192 ? len - 8192 : 0;
    bw_console_lines(out + from, len - from, console_line, c);
    bool found = c->found;
    if (found) {
        bw_buf_addf(shown, "  | %s\n", row->data);
        for (size_t i = 0; i < c->n_lines; i++)
            bw_buf_addf(shown, "  | %s\n", c->tail[i]);
    }
    for (size_t i = 0; i < c->n_re; i++)
        regfree(&c->re[i]);
    free(c->re);
    free(c);
    return found;
}

/* A question the serial console shows now (its tail), or false. Nothing is read when the
 * definition names no question. */
static bool serial_question(const char *serial, const struct bw_strlist *questions,
                            struct bw_buf *row, struct bw_buf *shown)
{
    if (!questions || !questions->n)
        return false;
    struct bw_buf tail = BW_BUF_INIT;
    bw_buf_init(&tail);
    size_t n = bw_file_read_tail(serial, 8192, &tail);
    bool found = n && bw_watch_console_question(tail.data, n, questions, row, shown);
    bw_buf_release(&tail);
    return found;
}

/* The error of a question left open: its title row, how long, and the screen (or the serial
 * console, where the installer drew it). */
static void asked(struct bw_watch *w, const struct bw_buf *row, const struct bw_buf *console,
                  double still, struct bw_error *err)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    const char *r = row->data;
    while (*r == ' ')
        r++;
    bw_buf_addf(&b,
                "the installer asks \"%s\" and has waited %.0f s, fetching and writing "
                "nothing: a question the answer file leaves open (boot.questions)",
                r, still);
    if (console && console->len)
        bw_buf_addf(&b, "; the serial console shows:\n%s", console->data);
    else
        bw_watch_last_screen(w, &b, "  | ");
    bw_buf_rtrim(&b);
    bw_error_set(err, BW_ERR_SPAWN, "%s", b.data);
    bw_buf_release(&b);
}

int bw_watch_poll(struct bw_watch *w, struct bw_error *err)
{
    bool moved = false;
    if (w->drv->screenshot) {
        if (!w->last)
            w->last = bw_xcalloc(1, sizeof(*w->last));
        struct bw_error e = BW_ERROR_INIT;
        /* A guest that is on its way out may not answer: that is not news. */
        if (bw_screen_probe(w->drv, w->vm, w->shot_base, w->last, &e) == 0) {
            moved = !w->looked || w->last->hash != w->screen_hash;
            w->screen_hash = w->last->hash;
            w->looked = true;
        }
        bw_error_release(&e);
    }
    const char *serial = w->drv->serial_log ? w->drv->serial_log(w->vm) : NULL;
    off_t s = size_of(serial), d = size_of(w->disk);
    unsigned r = bw_http_requests(w->http);
    moved = moved || s != w->serial_size || d > w->disk_size || r != w->requests;
    w->serial_size = s;
    w->disk_size = d > w->disk_size ? d : w->disk_size;
    w->requests = r;
    double now = now_s();
    if (moved)
        w->moved = now;
    if (w->question_ms) {
        struct bw_buf row = BW_BUF_INIT, console = BW_BUF_INIT;
        bw_buf_init(&row);
        bw_buf_init(&console);
        bool q = (w->looked && bw_watch_question_row(w->last, w->questions, &row)) ||
                 serial_question(serial, w->questions, &row, &console);
        bool busy = r != w->q_requests || d > w->q_disk;
        w->q_requests = r;
        w->q_disk = d > w->q_disk ? d : w->q_disk;
        if (!q) {
            free(w->question);
            w->question = NULL;
        } else if (busy || !w->question || strcmp(w->question, row.data) != 0) {
            free(w->question);
            w->question = bw_xstrdup(row.data);
            w->question_since = now;
        } else if ((now - w->question_since) * 1000.0 >= (double)w->question_ms) {
            asked(w, &row, &console, now - w->question_since, err);
            bw_buf_release(&row);
            bw_buf_release(&console);
            return -1;
        }
        bw_buf_release(&row);
        bw_buf_release(&console);
    }
    if (!w->stall_ms || (now - w->moved) * 1000.0 < (double)w->stall_ms)
        return 0;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_addf(&b,
                "nothing has moved for %.0f s (no change on the screen%s, no request to the HTTP "
                "server%s): the guest is waiting for something (boot.stall_timeout)",
                now - w->moved, serial ? " or the serial console" : "",
                w->disk ? ", the disk not growing" : "");
    if (bw_watch_last_screen(w, &b, "  | ")) {
        bw_buf_rtrim(&b);
    }
    bw_error_set(err, BW_ERR_SPAWN, "%s", b.data);
    bw_buf_release(&b);
    return -1;
}

bool bw_watch_last_screen(const struct bw_watch *w, struct bw_buf *out, const char *indent)
{
    if (!w->looked)
        return false;
    if (out->len && out->data[out->len - 1] != '\n')
        bw_buf_adds(out, "; the screen shows:\n");
    bw_screen_format(w->last, out, indent, 12);
    return true;
}

void bw_watch_stop(struct bw_watch *w)
{
    free(w->question);
    free(w->shot_base);
    free(w->last);
    memset(w, 0, sizeof(*w));
}
