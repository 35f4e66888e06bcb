/*
 * Typing that reads back: the comparison rules against screens recorded from
 * a real isolinux (tests/data/screens/), and the typist's whole loop against
 * a simulated guest - a line editor behind a driver table, which can drop
 * key events (as QEMU's full input queue does, leaving shift stuck), redraw
 * its line the way isolinux 6.04 does after a backspace, ignore every key,
 * or draw in a graphics mode. The real guests are in tests/e2e/test_typing.c.
 */
#include "golden.h"
#include "../../builder/bootcmd/keys.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/typing/readback.h"
#include "../../builder/typing/typist.h"
#include "../../builder/pipeline/watch.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- recorded screens ---- */

struct recorded {
    char cells[25 * 80];
    size_t cursor;
};

static void load_screen(const char *name, struct recorded *r)
{
    size_t len;
    char *text = golden_read("screens", name, &len);
    char *p = text;
    while (*p == '#')
        p = strchr(p, '\n') + 1;
    unsigned row, col;
    ck_assert_int_eq(sscanf(p, "cursor %u %u", &row, &col), 2);
    r->cursor = row * 80 + col;
    p = strchr(p, '\n') + 1;
    for (int i = 0; i < 25; i++) {
        char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        ck_assert_int_eq(nl - p, 80);
        memcpy(r->cells + i * 80, p, 80);
        p = nl + 1;
    }
    free(text);
}

/* "auto " and 165 letters a..z, over and over: what the recorded screens were typed with. */
static char *letters(size_t n)
{
    char *s = bw_xmalloc(n + 6);
    strcpy(s, "auto ");
    for (size_t i = 0; i < n; i++)
        s[5 + i] = (char)('a' + i % 26);
    s[5 + n] = '\0';
    return s;
}

/* isolinux breaks a long line once more a few characters after the screen edge: rows that end
 * in blanks. Read as a joined line, the 170 characters are all there and right. */
START_TEST(test_a_line_isolinux_wrapped_its_own_way_reads_back_whole)
{
    struct recorded r;
    load_screen("isolinux-long-line.screen", &r);
    char *want = letters(165);
    const char *prompt = strstr(r.cells, "boot: ");
    ck_assert_ptr_nonnull(prompt);
    size_t anchor = (size_t)(prompt - r.cells) + 6;
    struct bw_readback rb = bw_readback_forward(r.cells, 80, anchor, r.cursor, want, strlen(want));
    ck_assert(!rb.wrong);
    ck_assert_uint_eq(rb.shown, 170);
    /* One character other than meant: found where it is, and everything after it counted. */
    want[100] = 'X';
    rb = bw_readback_forward(r.cells, 80, anchor, r.cursor, want, strlen(want));
    ck_assert(rb.wrong);
    ck_assert_uint_eq(rb.agree, 100);
    ck_assert_uint_eq(rb.shown, 170);
    /* Keys still in flight: the screen shows fewer than were sent, all right. */
    want[100] = (char)('a' + 95 % 26);
    char *more = bw_xasprintf("%sxyz", want);
    rb = bw_readback_forward(r.cells, 80, anchor, r.cursor, more, strlen(more));
    ck_assert(!rb.wrong);
    ck_assert_uint_eq(rb.shown, 170);
    free(more);
    free(want);
}
END_TEST

/* After a backspace isolinux redraws the line on fresh rows and leaves the cursor a cell past
 * its end; the older copies stay above. The end of the screen still says what the line is. */
START_TEST(test_after_a_redraw_the_line_is_read_from_the_end_of_the_screen)
{
    struct recorded r;
    load_screen("isolinux-after-backspace.screen", &r);
    char *want = letters(162); /* 165 letters, 3 erased */
    size_t n = strlen(want);
    ck_assert_uint_eq(bw_readback_tail(r.cells, 80, r.cursor, want, n, 16), n);
    /* One more than the line holds, or one other: not what it ends with. */
    char *longer = letters(163);
    ck_assert_uint_lt(bw_readback_tail(r.cells, 80, r.cursor, longer, n + 1, 16), n + 1);
    want[n - 5] = 'X';
    ck_assert_uint_lt(bw_readback_tail(r.cells, 80, r.cursor, want, n, 16), n);
    free(longer);
    free(want);
}
END_TEST

/* Typing on after a redraw: the new characters come after the cursor, past a blank that is not
 * in the line. Read from where the cursor was, they are right; the whole line read from the end
 * of the screen is not (the blank), which is why the typist reads from an anchor. */
START_TEST(test_typing_after_a_redraw_reads_back_from_the_anchor)
{
    struct recorded before, after;
    load_screen("isolinux-after-backspace.screen", &before);
    load_screen("isolinux-typed-after-redraw.screen", &after);
    struct bw_readback rb =
        bw_readback_forward(after.cells, 80, before.cursor, after.cursor, "0123456789", 10);
    ck_assert(!rb.wrong);
    ck_assert_uint_eq(rb.shown, 10);
    char *base = letters(162);
    char *whole = bw_xasprintf("%s0123456789", base);
    ck_assert_uint_lt(bw_readback_tail(after.cells, 80, after.cursor, whole, strlen(whole), 16),
                      strlen(whole));
    /* Its characters, blanks aside, are the whole line: the check made once the line is typed.
     * Ten characters shown twice, or one left out, are not. */
    ck_assert_uint_eq(bw_readback_tail_text(after.cells, after.cursor, whole, strlen(whole), 16),
                      strlen(whole));
    char *twice = bw_xasprintf("%s01234567890123456789", base);
    ck_assert_uint_eq(bw_readback_tail_text(after.cells, after.cursor, twice, strlen(twice), 16),
                      10);
    whole[strlen(whole) - 4] = '\0';
    char *missing = bw_xasprintf("%s789", whole); /* ...0125789 */
    ck_assert_uint_eq(
        bw_readback_tail_text(after.cells, after.cursor, missing, strlen(missing), 16), 3);
    free(missing);
    free(twice);
    free(whole);
    free(base);
}
END_TEST

/* A space that falls at the end of a row shows as nothing: it is not compared; everything else
 * is. */
START_TEST(test_spaces_at_a_wrap_are_not_compared_and_nothing_else_is_skipped)
{
    /* 10 columns: "abc" then blanks, "def" on the next row, cursor after it. */
    char cells[30];
    memset(cells, ' ', sizeof(cells));
    memcpy(cells, "abc", 3);
    memcpy(cells + 10, "def", 3);
    struct bw_readback rb = bw_readback_forward(cells, 10, 0, 13, "abc def", 7);
    ck_assert(!rb.wrong);
    ck_assert_uint_eq(rb.shown, 7);
    rb = bw_readback_forward(cells, 10, 0, 13, "abcdef", 6);
    ck_assert(!rb.wrong);
    rb = bw_readback_forward(cells, 10, 0, 13, "abcxdef", 7);
    ck_assert(rb.wrong);
    ck_assert_uint_eq(rb.agree, 3);
    /* A blank inside a row is a character like any other. */
    memcpy(cells + 10, "d f", 3);
    rb = bw_readback_forward(cells, 10, 0, 13, "abc def", 7);
    ck_assert(rb.wrong);
    ck_assert_uint_eq(bw_readback_tail(cells, 10, 13, "abc d f", 7, 1), 7);
}
END_TEST

START_TEST(test_scrolling_is_told_from_the_rows_above_the_cursor)
{
    char before[41], after[41];
    memcpy(before, "row0______row1______row2______row3      ", 41);
    memcpy(after, "row1______row2______row3      row4      ", 41);
    ck_assert_int_eq(bw_readback_scrolled(before, before, 10, 34, 3), 0);
    ck_assert_int_eq(bw_readback_scrolled(before, after, 10, 34, 3), 1);
    memcpy(after, "something else entirely, nothing alike..", 41);
    ck_assert_int_eq(bw_readback_scrolled(before, after, 10, 34, 3), -1);
}
END_TEST

/* ---- a simulated guest ---- */

enum redraw { TERMINAL, ISOLINUX };

struct pending {
    enum bw_key key;
    bool down;
    double at;
};

struct bw_vm {
    /* what the guest holds */
    char line[4096];
    size_t len;
    bool shift, ctrl, ignore_keys, graphics;
    enum redraw redraw;
    /* the screen it draws, a terminal of 80x25 */
    char cells[25 * 80];
    size_t cur;
    /* keys on the way, and how they go wrong */
    struct pending *q;
    size_t nq, aq;
    double last_at;
    double drop;  /* chance that an event is lost on the way */
    double stall; /* chance that the guest stops taking keys for stall_s (they queue) */
    int racy;     /* the guest goes on between the reads of the cursor and of the cells: 1 at
                   * times, 2 at every read */
    double stall_s;
    /* and at given events (counted from 1, a chord being a press and a release per key), a
     * stall of its own */
    size_t events, stall_at[4];
    double stall_for[4];
    unsigned rng;
    size_t dropped;
    char dir[64];
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static unsigned rnd(struct bw_vm *vm)
{
    vm->rng = vm->rng * 1103515245u + 12345u;
    return (vm->rng >> 16) & 0x7fff;
}

static void scroll(struct bw_vm *vm)
{
    memmove(vm->cells, vm->cells + 80, 24 * 80);
    memset(vm->cells + 24 * 80, ' ', 80);
    vm->cur -= 80;
}

static void put(struct bw_vm *vm, char c)
{
    if (c == '\n') {
        vm->cur = (vm->cur / 80 + 1) * 80;
    } else {
        vm->cells[vm->cur++] = c;
    }
    if (vm->cur >= 25 * 80)
        scroll(vm);
}

static void puts_(struct bw_vm *vm, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        put(vm, s[i]);
}

static char char_of(enum bw_key key, bool shift)
{
    for (int c = 0x20; c < 0x7f; c++) {
        enum bw_key k;
        bool sh;
        if (bw_key_for_char((char)c, &k, &sh) && k == key && sh == shift)
            return (char)c;
    }
    return 0;
}

static void apply(struct bw_vm *vm, const struct pending *p)
{
    if (p->key == BW_KEY_SHIFT_L || p->key == BW_KEY_SHIFT_R) {
        vm->shift = p->down;
        return;
    }
    if (p->key == BW_KEY_CTRL_L || p->key == BW_KEY_CTRL_R) {
        vm->ctrl = p->down;
        return;
    }
    if (!p->down || vm->ignore_keys)
        return;
    if (vm->ctrl) { /* Ctrl-U empties the line, as isolinux does: a fresh prompt */
        if (p->key == BW_KEY_U) {
            vm->len = 0;
            put(vm, '\n');
            puts_(vm, "boot: ", 6);
        }
        return;
    }
    if (p->key == BW_KEY_BACKSPACE) {
        if (!vm->len)
            return;
        vm->len--;
        if (vm->redraw == TERMINAL) {
            vm->cur--;
            vm->cells[vm->cur] = ' ';
        } else { /* isolinux 6.04: the whole line again on fresh rows, the cursor past it */
            put(vm, '\n');
            puts_(vm, "boot: ", 6);
            puts_(vm, vm->line, vm->len);
            if (6 + vm->len > 80)
                put(vm, ' ');
        }
        return;
    }
    char c = char_of(p->key, vm->shift);
    if (c && vm->len < sizeof(vm->line) - 1) {
        vm->line[vm->len++] = c;
        put(vm, c);
        /* isolinux 6.04 counts the prompt wrongly: a line break of its own after every 80
         * characters of the line, past the terminal's wrap (tests/data/screens). */
        if (vm->redraw == ISOLINUX && vm->len % 80 == 0)
            put(vm, '\n');
    }
}

/* The guest runs: whatever has arrived by now is applied. */
static void run_guest(struct bw_vm *vm)
{
    double now = now_s();
    size_t i = 0;
    for (; i < vm->nq && vm->q[i].at <= now; i++)
        apply(vm, &vm->q[i]);
    if (i) {
        memmove(vm->q, vm->q + i, (vm->nq - i) * sizeof(*vm->q));
        vm->nq -= i;
    }
}

static void queue(struct bw_vm *vm, enum bw_key key, bool down, unsigned hold_ms)
{
    double now = now_s();
    vm->last_at = (vm->last_at > now ? vm->last_at : now) + hold_ms / 1000.0;
    if (vm->stall > 0 && rnd(vm) % 1000 < (unsigned)(vm->stall * 1000))
        vm->last_at += vm->stall_s;
    vm->events++;
    for (size_t k = 0; k < sizeof(vm->stall_at) / sizeof(vm->stall_at[0]); k++)
        if (vm->stall_at[k] == vm->events)
            vm->last_at += vm->stall_for[k];
    if (vm->drop > 0 && rnd(vm) % 1000 < (unsigned)(vm->drop * 1000)) {
        vm->dropped++;
        return;
    }
    BW_GROW(vm->q, vm->aq, vm->nq + 1);
    vm->q[vm->nq++] = (struct pending){key, down, vm->last_at};
}

static int sim_send_chord(struct bw_vm *vm, const enum bw_key *keys, size_t n, unsigned hold_ms,
                          struct bw_error *err)
{
    (void)err;
    for (size_t i = 0; i < n; i++)
        queue(vm, keys[i], true, hold_ms);
    for (size_t i = n; i-- > 0;)
        queue(vm, keys[i], false, hold_ms);
    return 0;
}

static int sim_read_memory(struct bw_vm *vm, uint64_t addr, size_t len, void *buf,
                           struct bw_error *err)
{
    (void)err;
    run_guest(vm);
    unsigned char *out = buf;
    memset(out, 0, len);
    if (addr == 0x44A) { /* the BIOS data area: 80 columns, 25 rows, the cursor */
        out[0] = 80;
        out[0x450 - 0x44A] = (unsigned char)(vm->cur % 80);
        out[0x451 - 0x44A] = (unsigned char)(vm->cur / 80);
        out[0x484 - 0x44A] = 24;
    } else if (addr == 0xB8000) {
        /* a driver reads the cursor and the cells one after the other (two QMP or libvirt
         * calls), and the guest runs in between: it may take the next key first */
        if (vm->racy == 2 || (vm->racy == 1 && rnd(vm) % 2)) {
            double soon = now_s() + 0.03;
            size_t k = 0;
            while (k < vm->nq && k < 2 && vm->q[k].at <= soon)
                apply(vm, &vm->q[k++]);
            if (k)
                memmove(vm->q, vm->q + k, (vm->nq - k) * sizeof(*vm->q));
            vm->nq -= k;
        }
        for (size_t i = 0; i < len / 2; i++) {
            out[2 * i] = (unsigned char)vm->cells[i];
            out[2 * i + 1] = 7;
        }
    }
    return 0;
}

/* A picture of the right size (a text mode draws 720x400), with the line in it, so that it
 * changes when the line does. */
static char *sim_screenshot(struct bw_vm *vm, const char *base, bool quick, struct bw_error *err)
{
    (void)quick;
    run_guest(vm);
    char *path = bw_xasprintf("%s.ppm", base);
    FILE *f = fopen(path, "wb");
    if (!f) {
        bw_error_set(err, BW_ERR_IO, "%s", path);
        free(path);
        return NULL;
    }
    fprintf(f, "P6\n%s\n255\n", vm->graphics ? "800 600" : "720 400");
    fwrite(vm->line, 1, vm->len, f);
    fclose(f);
    return path;
}

static const struct bw_driver sim = {
    .name = "simulated",
    .send_chord = sim_send_chord,
    .read_memory = sim_read_memory,
    .screenshot = sim_screenshot,
};

static struct bw_vm *sim_new(enum redraw redraw, double drop, unsigned seed)
{
    struct bw_vm *vm = bw_xcalloc(1, sizeof(*vm));
    memset(vm->cells, ' ', sizeof(vm->cells));
    vm->redraw = redraw;
    vm->drop = drop;
    vm->rng = seed;
    vm->cur = 22 * 80;
    puts_(vm, "boot: ", 6);
    snprintf(vm->dir, sizeof(vm->dir), "/tmp/bw-sim-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(vm->dir));
    return vm;
}

static void sim_free(struct bw_vm *vm)
{
    test_rm_rf(vm->dir);
    free(vm->q);
    free(vm);
}

static void compile_literal(struct bw_key_events *ev, const char *text)
{
    for (const char *p = text; *p; p++) {
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_int_eq(bw_bootcmd_compile(p, 1, "test", ev, &err), 0);
    }
}

static char *random_text(size_t n, unsigned seed)
{
    char *s = bw_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        s[i] = (char)(0x21 + (seed >> 16) % 94); /* no blanks: the simulated wrap is plain */
    }
    s[n] = '\0';
    return s;
}

static int type_into(struct bw_vm *vm, const struct bw_key_events *ev, unsigned window,
                     struct bw_typing_report *r, struct bw_error *err)
{
    struct bw_typing_options o = {1, 0, window, false, 0, vm->dir, NULL, NULL, NULL};
    return bw_type(&sim, vm, ev, &o, r, err);
}

/* Nothing goes wrong: every character is seen once and nothing is sent twice. */
START_TEST(test_a_guest_that_takes_every_key_gets_the_line_once)
{
    struct bw_vm *vm = sim_new(TERMINAL, 0, 1);
    char *text = random_text(300, 7);
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    compile_literal(&ev, text);
    struct bw_typing_report r;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(type_into(vm, &ev, 4, &r, &err) == 0, "%s", err.msg);
    vm->line[vm->len] = '\0';
    ck_assert_str_eq(vm->line, text);
    ck_assert_uint_eq(r.chars, 300);
    ck_assert_uint_eq(r.verified, 300);
    ck_assert_uint_eq(r.retyped, 0);
    ck_assert_uint_eq(r.keys, 300);
    bw_key_events_release(&ev);
    free(text);
    sim_free(vm);
}
END_TEST

/* Events lost on the way (presses, releases, shift stuck down): the line still ends up exact,
 * with a terminal's backspace and with isolinux's redraws alike. */
START_TEST(test_lost_key_events_are_retyped_until_the_line_is_exact)
{
    for (int redraw = TERMINAL; redraw <= ISOLINUX; redraw++)
        for (unsigned seed = 1; seed <= 2; seed++) {
            struct bw_vm *vm = sim_new((enum redraw)redraw, 0.01, seed);
            char *text = random_text(200, seed * 31);
            struct bw_key_events ev = BW_KEY_EVENTS_INIT;
            compile_literal(&ev, text);
            struct bw_typing_report r;
            struct bw_error err = BW_ERROR_INIT;
            int rc = type_into(vm, &ev, 16, &r, &err);
            ck_assert_msg(rc == 0, "redraw %d seed %u: %s", redraw, seed, err.msg);
            vm->line[vm->len] = '\0';
            ck_assert_msg(strcmp(vm->line, text) == 0, "redraw %d seed %u: got\n%s\nnot\n%s",
                          redraw, seed, vm->line, text);
            ck_assert_uint_gt(vm->dropped, 0);
            ck_assert_uint_gt(r.retyped, 0);
            bw_key_events_release(&ev);
            free(text);
            sim_free(vm);
        }
}
END_TEST

static void collect(const char *kind, const char *msg, void *ud)
{
    bw_buf_addf(ud, "%s: %s\n", kind, msg);
}

/* A guest that stops taking keys for a while (a loaded host, a loader busy drawing): keys
 * taken for lost arrive after all, behind the ones sent again, and must not stay on the line
 * twice. A line editor, and isolinux with its own line break at character 80 and its
 * prompt on the last row (every wrap scrolls). */
START_TEST(test_keys_that_arrive_late_are_not_left_on_the_line_twice)
{
    for (int redraw = TERMINAL; redraw <= ISOLINUX; redraw++) {
        struct bw_vm *vm = sim_new((enum redraw)redraw, 0, 5);
        if (redraw == ISOLINUX) {
            put(vm, '\n');
            put(vm, '\n');
            puts_(vm, "boot: ", 6);
        }
        vm->stall = 0.03;
        vm->stall_s = 0.6;
        vm->racy = 1;
        char *text = random_text(120, 11);
        struct bw_key_events ev = BW_KEY_EVENTS_INIT;
        compile_literal(&ev, text);
        struct bw_typing_report r;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(type_into(vm, &ev, 4, &r, &err) == 0, "redraw %d: %s", redraw, err.msg);
        run_guest(vm);
        vm->line[vm->len] = '\0';
        ck_assert_msg(strcmp(vm->line, text) == 0, "redraw %d: got\n%s\nnot\n%s", redraw, vm->line,
                      text);
        ck_assert_uint_gt(r.retyped, 0); /* keys were taken for lost, and sent again */
        bw_key_events_release(&ev);
        free(text);
        sim_free(vm);
    }
}
END_TEST

/* The last keys of a line stall, are taken for lost and sent again, and the guest then takes
 * the first ones, which complete the line on the screen, and stalls once more before taking
 * the second: the line is not called typed while keys sent twice can still arrive. */
START_TEST(test_keys_sent_again_that_arrive_after_the_line_reads_right_are_erased)
{
    for (int redraw = TERMINAL; redraw <= ISOLINUX; redraw++) {
        struct bw_vm *vm = sim_new((enum redraw)redraw, 0, 3);
        const char *text = "abcdefghijklmnopqrstuvwxyzabcdefghijklmn"; /* 40 chords, no shift */
        /* chords 38 and 39 (events 77 to 80) wait 0.6 s; the two sent again after them
         * (chords 40 and 41: events 81 on) 0.3 s more */
        vm->stall_at[0] = 77;
        vm->stall_for[0] = 0.6;
        vm->stall_at[1] = 81;
        vm->stall_for[1] = 0.3;
        struct bw_key_events ev = BW_KEY_EVENTS_INIT;
        compile_literal(&ev, text);
        struct bw_typing_report r;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(type_into(vm, &ev, 4, &r, &err) == 0, "redraw %d: %s", redraw, err.msg);
        struct timespec later = {1, 0};
        nanosleep(&later, NULL); /* whatever was still on its way has arrived */
        run_guest(vm);
        ck_assert_uint_eq(vm->nq, 0);
        vm->line[vm->len] = '\0';
        ck_assert_msg(strcmp(vm->line, text) == 0, "redraw %d: got\n%s\nnot\n%s", redraw, vm->line,
                      text);
        ck_assert_uint_ge(r.retyped, 2); /* the two were taken for lost, and sent again */
        ck_assert_uint_ge(vm->events, 84);
        bw_key_events_release(&ev);
        sim_free(vm);
    }
}
END_TEST

/* The cursor and the cells are two reads, and the guest draws in between (here at every read):
 * the screen read is one where the cursor is the cells' own. */
START_TEST(test_the_cursor_read_belongs_to_the_cells_read)
{
    struct bw_vm *vm = sim_new(TERMINAL, 0, 1);
    vm->racy = 2;
    struct bw_error err = BW_ERROR_INIT;
    enum bw_key abc[] = {BW_KEY_A, BW_KEY_B, BW_KEY_C};
    for (size_t i = 0; i < 3; i++)
        ck_assert_int_eq(sim_send_chord(vm, &abc[i], 1, 5, &err), 0);
    struct bw_screen *scr = bw_xcalloc(1, sizeof(*scr));
    ck_assert_int_eq(bw_screen_read_text(&sim, vm, scr, &err), 0);
    /* the last key drawn is just before the cursor, and nothing after it */
    ck_assert_int_eq(scr->cells[scr->cursor - 1], vm->line[vm->len - 1]);
    ck_assert_int_eq(scr->cells[scr->cursor], ' ');
    ck_assert_uint_eq(scr->cursor, vm->cur);
    free(scr);
    sim_free(vm);
}
END_TEST

/* A guest that takes no key (its prompt never came): the typist gives up within seconds and
 * says what the screen shows. */
START_TEST(test_a_guest_that_shows_nothing_typed_fails_within_seconds)
{
    struct bw_vm *vm = sim_new(TERMINAL, 0, 1);
    vm->ignore_keys = true;
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    compile_literal(&ev, "auto");
    struct bw_typing_report r;
    struct bw_error err = BW_ERROR_INIT;
    double t0 = now_s();
    ck_assert_int_eq(type_into(vm, &ev, 4, &r, &err), -1);
    ck_assert_double_lt(now_s() - t0, 10);
    ck_assert_msg(strstr(err.msg, "nothing typed appeared on the screen (at character 1 of "
                                  "\"auto\"); the screen shows:\n  | boot:"),
                  "%s", err.msg);
    bw_error_release(&err);
    bw_key_events_release(&ev);
    sim_free(vm);
}
END_TEST

START_TEST(test_expect_waits_for_the_screen_and_fails_with_it)
{
    struct bw_vm *vm = sim_new(TERMINAL, 0, 1);
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    struct bw_error err = BW_ERROR_INIT;
    const char *ok = "<expect /^boot: *$/ 5s>";
    ck_assert_int_eq(bw_bootcmd_compile(ok, strlen(ok), "test", &ev, &err), 0);
    struct bw_typing_report r;
    ck_assert_msg(type_into(vm, &ev, 4, &r, &err) == 0, "%s", err.msg);
    bw_key_events_release(&ev);
    const char *never = "<expect \"login:\" 1s>";
    ck_assert_int_eq(bw_bootcmd_compile(never, strlen(never), "test", &ev, &err), 0);
    ck_assert_int_eq(type_into(vm, &ev, 4, &r, &err), -1);
    ck_assert_msg(strstr(err.msg, "<expect \"login:\"> did not appear within 1 s; the screen "
                                  "shows:\n  | boot:"),
                  "%s", err.msg);
    bw_error_release(&err);
    bw_key_events_release(&ev);
    sim_free(vm);
}
END_TEST

/* A graphics mode: nothing to read back; typed blind, paced by the screen, and said so. */
START_TEST(test_a_graphics_screen_is_typed_blind_with_a_warning)
{
    struct bw_vm *vm = sim_new(TERMINAL, 0, 1);
    vm->graphics = true;
    char *text = random_text(40, 3);
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    compile_literal(&ev, text);
    struct bw_buf notes = BW_BUF_INIT;
    bw_buf_init(&notes);
    struct bw_typing_options o = {1, 0, 4, false, 0, vm->dir, NULL, collect, &notes};
    struct bw_typing_report r;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_type(&sim, vm, &ev, &o, &r, &err) == 0, "%s", err.msg);
    sleep(1);
    run_guest(vm);
    vm->line[vm->len] = '\0';
    ck_assert_str_eq(vm->line, text);
    ck_assert_uint_eq(r.blind_runs, 1);
    ck_assert_uint_eq(r.verified, 0);
    ck_assert_msg(strstr(notes.data, "warning: the screen is in graphics mode (800x600)"), "%s",
                  notes.data);
    bw_buf_release(&notes);
    bw_key_events_release(&ev);
    free(text);
    sim_free(vm);
}
END_TEST

/* What OVMF and d-i's GRUB wrote to the serial port under QEMU (tests/data/serial): the menu,
 * drawn with cursor moves, reads as lines; <expect> falls back to it in a graphics mode. */
START_TEST(test_a_console_on_the_serial_port_reads_as_lines)
{
    char *path = bw_xasprintf("%s/serial/d-i-grub-ovmf.log", golden_data_dir());
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    ck_assert_int_eq(bw_buf_read_file(&b, path), 0);
    ck_assert(bw_console_shows(b.data, b.len, "GNU GRUB", false));
    ck_assert(bw_console_shows(b.data, b.len, "^GNU GRUB +version 2\\.06", true));
    ck_assert(bw_console_shows(b.data, b.len, "^BdsDxe: starting Boot0001", true));
    ck_assert(bw_console_shows(b.data, b.len, "Install", false));
    /* the submenu's entries are not drawn; escapes never join two places into one line */
    ck_assert(!bw_console_shows(b.data, b.len, "Automated install", false));
    ck_assert(!bw_console_shows(b.data, b.len, "01;01H", false));
    ck_assert(!bw_console_shows(b.data, b.len, "[", true)); /* a regex that does not compile */
    ck_assert(!bw_console_shows("", 0, "x", false));
    bw_buf_release(&b);
    free(path);
}
END_TEST

/* A question on a text screen is found by the definition's boot.questions, row by row; a
 * graphics screen has no rows to match. */
START_TEST(test_a_question_row_is_found_by_its_pattern)
{
    struct bw_screen *scr = bw_xcalloc(1, sizeof(*scr));
    scr->text = true;
    scr->cols = 80;
    scr->rows = 25;
    memset(scr->cells, ' ', 80 * 25);
    const char *title = "  ????????????? [!!] Choose a mirror of the Debian archive ????????????";
    memcpy(scr->cells + 3 * 80, title, strlen(title));
    char *patterns[] = {"^Nothing here$", "\\[!!?\\] "};
    struct bw_strlist q = {patterns, 2};
    struct bw_buf row = BW_BUF_INIT;
    bw_buf_init(&row);
    ck_assert(bw_watch_question_row(scr, &q, &row));
    ck_assert_str_eq(row.data, title);
    struct bw_strlist none = {patterns, 1};
    ck_assert(!bw_watch_question_row(scr, &none, &row));
    scr->text = false;
    ck_assert(!bw_watch_question_row(scr, &q, &row));
    ck_assert(!bw_watch_question_row(scr, NULL, &row));
    bw_buf_release(&row);
    free(scr);
}
END_TEST

/* What d-i drew on the serial console (console=ttyS0) when its preseed left the mirror open:
 * the question found by its "[!!]" title, with its text, past the dialog's frame and d-i's
 * status line that redraws a clock every minute. */
START_TEST(test_a_question_on_the_serial_console_is_found_with_its_text)
{
    char *path = bw_xasprintf("%s/serial/d-i-mirror-question.log", golden_data_dir());
    struct bw_buf b = BW_BUF_INIT, row = BW_BUF_INIT, shown = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_init(&row);
    bw_buf_init(&shown);
    ck_assert_int_eq(bw_buf_read_file(&b, path), 0);
    char *patterns[] = {"\\[!!?\\] "};
    struct bw_strlist q = {patterns, 1};
    ck_assert(bw_watch_console_question(b.data, b.len, &q, &row, &shown));
    ck_assert_str_eq(row.data, "[!!] Choose a mirror of the Debian archive");
    ck_assert_msg(strstr(shown.data, "  | Bad archive mirror\n") &&
                      strstr(shown.data, "An error has been detected while trying to use the "
                                         "specified Debian"),
                  "%s", shown.data);
    ck_assert_msg(!strstr(shown.data, "qqqq"), "%s", shown.data);
    char *other[] = {"^Nothing like it$"};
    struct bw_strlist none = {other, 1};
    bw_buf_reset(&shown);
    ck_assert(!bw_watch_console_question(b.data, b.len, &none, &row, &shown));
    bw_buf_release(&b);
    bw_buf_release(&row);
    bw_buf_release(&shown);
    free(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("typing");
    TCase *tc = tcase_create("readback");
    tcase_add_test(tc, test_a_line_isolinux_wrapped_its_own_way_reads_back_whole);
    tcase_add_test(tc, test_after_a_redraw_the_line_is_read_from_the_end_of_the_screen);
    tcase_add_test(tc, test_typing_after_a_redraw_reads_back_from_the_anchor);
    tcase_add_test(tc, test_spaces_at_a_wrap_are_not_compared_and_nothing_else_is_skipped);
    tcase_add_test(tc, test_scrolling_is_told_from_the_rows_above_the_cursor);
    tcase_add_test(tc, test_a_console_on_the_serial_port_reads_as_lines);
    tcase_add_test(tc, test_a_question_row_is_found_by_its_pattern);
    tcase_add_test(tc, test_a_question_on_the_serial_console_is_found_with_its_text);
    suite_add_tcase(s, tc);
    TCase *tt = tcase_create("typist");
    tcase_set_timeout(tt, 300);
    tcase_add_test(tt, test_a_guest_that_takes_every_key_gets_the_line_once);
    tcase_add_test(tt, test_lost_key_events_are_retyped_until_the_line_is_exact);
    tcase_add_test(tt, test_keys_that_arrive_late_are_not_left_on_the_line_twice);
    tcase_add_test(tt, test_keys_sent_again_that_arrive_after_the_line_reads_right_are_erased);
    tcase_add_test(tt, test_the_cursor_read_belongs_to_the_cells_read);
    tcase_add_test(tt, test_a_guest_that_shows_nothing_typed_fails_within_seconds);
    tcase_add_test(tt, test_expect_waits_for_the_screen_and_fails_with_it);
    tcase_add_test(tt, test_a_graphics_screen_is_typed_blind_with_a_warning);
    suite_add_tcase(s, tt);
    return test_run(s);
}
