/* Closed-loop typing; see typist.h. */
#include "typist.h"
#include "readback.h"
#include "../base/buf.h"
#include "../base/file.h"
#include "../base/xmalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* How long the screen must stay the same before keys not seen on it count as lost, at first;
 * it doubles each time that guess proves early, up to SETTLE_MAX. */
#define SETTLE_START 0.25
#define SETTLE_MAX   4.0
/* Erasing and typing again, at most this often per run of characters (plus one per 50). */
#define REPAIRS_BASE 12
/* Keys sent again with nothing new on the screen, before the guest is judged not to take them. */
#define LOST_ROUNDS 6
/* A key that is not a character: how long to wait for the screen to react before going on. */
#define SPECIAL_WAIT 0.5

struct chord {
    enum bw_key keys[8];
    size_t n;
};

struct typist {
    const struct bw_driver *drv;
    struct bw_vm *vm;
    const struct bw_typing_options *o;
    struct bw_typing_report *r;
    struct bw_screen *scr;  /* the latest read */
    struct bw_screen *prev; /* the one before */
    unsigned window;     /* keys in flight now: halved on every loss, grown back as they arrive */
    unsigned max_window; /* ... up to this (the options') */
    size_t good;         /* characters seen right since the window last changed */
    enum bw_key held[8]; /* keys held across others (<leftShiftOn>), in press order */
    size_t n_held;
    double last_send;  /* when the last chord went out */
    double busy_until; /* when the hypervisor will have handed everything sent to the guest */
    char *shot_base;
    unsigned stage;
    bool warned_blind;
};

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static bool interrupted(const struct typist *t)
{
    return t->o->interrupted && *t->o->interrupted;
}

static int check_interrupt(const struct typist *t, struct bw_error *err)
{
    if (!interrupted(t))
        return 0;
    bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted while typing");
    return -1;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* Sleeps up to s seconds in slices, returning early (-1) on interruption. */
static int pause_s(const struct typist *t, double s, struct bw_error *err)
{
    double end = now_s() + s;
    for (double left = s; left > 0; left = end - now_s()) {
        if (check_interrupt(t, err) < 0)
            return -1;
        sleep_s(left > 0.1 ? 0.1 : left);
    }
    return check_interrupt(t, err);
}

static void note(const struct typist *t, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(const struct typist *t, const char *kind, const char *fmt, ...)
{
    if (!t->o->note)
        return;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    bw_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    t->o->note(kind, b.data, t->o->ud);
    bw_buf_release(&b);
}

/* Appends "; the screen shows:" and the screen (read now if possible) to err's message. */
static void add_screen(struct typist *t, struct bw_error *err)
{
    struct bw_screen *s = t->scr;
    struct bw_error ignored = BW_ERROR_INIT;
    bool have = bw_screen_probe(t->drv, t->vm, t->shot_base, s, &ignored) == 0;
    bw_error_release(&ignored);
    if (!have)
        return;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_addf(&b, "%s; the screen shows:\n", err->msg);
    bw_screen_format(s, &b, "  | ", 12);
    bw_buf_rtrim(&b);
    free(err->msg);
    err->msg = bw_buf_detach(&b);
}

static void printable(struct bw_buf *b, const char *s, size_t n, size_t max)
{
    bw_buf_addc(b, '"');
    for (size_t i = 0; i < n && i < max; i++)
        bw_buf_addc(b, s[i]);
    if (n > max)
        bw_buf_adds(b, "...");
    bw_buf_addc(b, '"');
}

static int send_chord(struct typist *t, const struct chord *c, struct bw_error *err)
{
    enum bw_key keys[16];
    size_t n = 0;
    for (size_t i = 0; i < t->n_held; i++) /* the hypervisor cannot hold them for us */
        keys[n++] = t->held[i];
    for (size_t i = 0; i < c->n && n < 16; i++)
        keys[n++] = c->keys[i];
    double gap = t->o->interval_us / 1e6;
    sleep_s(t->last_send + gap - now_s());
    if (t->drv->send_chord(t->vm, keys, n, t->o->hold_ms, err) < 0)
        return -1;
    double now = now_s();
    t->last_send = now;
    /* The hypervisor holds each press and release hold_ms before the next (QMP send-key). */
    t->busy_until =
        (t->busy_until > now ? t->busy_until : now) + 2.0 * (double)n * t->o->hold_ms / 1000.0;
    t->r->keys++;
    return 0;
}

static int send_one(struct typist *t, enum bw_key key, struct bw_error *err)
{
    struct chord c = {{key}, 1};
    return send_chord(t, &c, err);
}

static int read_text(struct typist *t, struct bw_error *err)
{
    struct bw_screen *tmp = t->prev;
    t->prev = t->scr;
    t->scr = tmp;
    t->r->reads++;
    return bw_screen_read_text(t->drv, t->vm, t->scr, err);
}

/* The screen as it is now: text read from memory in a text mode, else the image's hash. */
static int observe(struct typist *t, struct bw_error *err)
{
    struct bw_screen *tmp = t->prev;
    t->prev = t->scr;
    t->scr = tmp;
    return bw_screen_probe(t->drv, t->vm, t->shot_base, t->scr, err);
}

struct run;
static bool at_prompt(const struct typist *t, const struct run *u);

/*
 * Waits until the screen has stayed the same for `quiet` seconds (at most `max`); with a run
 * `u`, stops early once its prompt is at the cursor, and says in *there whether it is.
 */
static int wait_screen(struct typist *t, double quiet, double max, const struct run *u, bool *there,
                       struct bw_error *err)
{
    double start = now_s(), changed = start;
    uint64_t last = t->scr->hash;
    bool at = u && at_prompt(t, u);
    while (!at && now_s() - changed < quiet && now_s() - start < max) {
        if (check_interrupt(t, err) < 0)
            return -1;
        sleep_s(0.005);
        if (read_text(t, err) < 0)
            return -1;
        if (t->scr->hash != last) {
            last = t->scr->hash;
            changed = now_s();
        }
        at = u && at_prompt(t, u);
    }
    if (there)
        *there = at;
    return 0;
}

static int wait_quiet(struct typist *t, double quiet, double max, struct bw_error *err)
{
    return wait_screen(t, quiet, max, NULL, NULL, err);
}

/* ---- a run of characters, read back ---- */

struct run {
    const char *want; /* the characters meant */
    const struct chord *chords;
    size_t n;
    size_t anchor; /* the cell where want[j0] is (or will be) shown */
    size_t j0;
    size_t sent;     /* want[0..sent) have been sent (since the last repair) */
    size_t verified; /* want[0..verified) seen right on the screen */
    double settle;
    double changed; /* when the screen last changed */
    uint64_t first_hash;
    unsigned repairs, lost_rounds;
    size_t retyped0;                     /* the report's retyped count when the run began */
    char prompt[BW_SCREEN_MAX_COLS + 1]; /* the cells before the line on its first row */
};

/* Keys went missing or wrong: fewer in flight (down to one). */
static void back_off(struct typist *t)
{
    t->window = t->window > 1 ? t->window / 2 : 1;
    t->good = 0;
}

/* n more characters arrived right: after twice a window's worth, one more in flight. */
static void went_well(struct typist *t, size_t n)
{
    t->good += n;
    if (t->good >= 2 * (size_t)t->window && t->window < t->max_window) {
        t->window++;
        t->good = 0;
    }
}

static bool quiet(const struct typist *t, const struct run *u, double now)
{
    return now > t->busy_until + 0.05 && now - u->changed > u->settle;
}

static int fail_run(struct typist *t, const struct run *u, struct bw_error *err, const char *what)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_adds(&b, what);
    bw_buf_addf(&b, " (at character %zu of ", u->verified + 1);
    printable(&b, u->want, u->n, 80);
    bw_buf_addc(&b, ')');
    bw_error_set(err, BW_ERR_SPAWN, "%s", b.data);
    bw_buf_release(&b);
    add_screen(t, err);
    return -1;
}

static int send_run_keys(struct typist *t, struct run *u, struct bw_error *err)
{
    while (u->sent < u->n && u->sent - u->verified < t->window) {
        if (send_chord(t, &u->chords[u->sent], err) < 0)
            return -1;
        u->sent++;
    }
    return 0;
}

/*
 * After an erase, or a screen that no longer follows from the last read: what line does the
 * guest hold? The largest m in [lo, hi] for which the screen ends with want[0..m) becomes the
 * new starting point. Returns 1 when found, 0 when not.
 */
static int resync(struct typist *t, struct run *u, size_t lo, size_t hi)
{
    const struct bw_screen *s = t->scr;
    /* An empty beginning matches any screen: it counts only when nothing else is possible. */
    if (lo == 0 && hi > 0)
        lo = 1;
    for (size_t m = hi + 1; m-- > lo;) {
        size_t min_seen = m < 16 ? m : 16;
        if (bw_readback_tail(s->cells, s->cols, s->cursor, u->want, m, min_seen) == m) {
            u->anchor = s->cursor;
            u->j0 = u->verified = u->sent = m;
            return 1;
        }
    }
    return 0;
}

/* Erases `count` characters before the cursor, a window at a time (each may make the guest
 * redraw its line), after releasing every modifier a lost release may have left down. */
static int erase(struct typist *t, struct run *u, size_t count, struct bw_error *err)
{
    if (send_one(t, BW_KEY_SHIFT_L, err) < 0)
        return -1;
    for (size_t done = 0; done < count;) {
        for (size_t k = 0; k < t->window && done < count; k++, done++)
            if (send_one(t, BW_KEY_BACKSPACE, err) < 0)
                return -1;
        sleep_s(t->busy_until - now_s());
        if (wait_quiet(t, u->settle < 0.1 ? u->settle : 0.1, 5.0, err) < 0)
            return -1;
    }
    return wait_quiet(t, u->settle, 10.0, err);
}

/* Does the screen end, at the cursor, with the prompt the line began after (nothing typed)? */
static bool at_prompt(const struct typist *t, const struct run *u)
{
    const struct bw_screen *s = t->scr;
    size_t n = strlen(u->prompt);
    return n && s->cursor >= n && memcmp(s->cells + s->cursor - n, u->prompt, n) == 0;
}

/*
 * The last resort when the line on the screen cannot be made out: empty it (Ctrl-U, which
 * isolinux, GRUB and a Linux terminal take as "kill the line"; else backspaces past anything
 * that can be there) and type it from the start. The line is empty when the prompt it began
 * after is again at the cursor. A guest starved of CPU can take many seconds to act on keys
 * already queued (isolinux redraws a wrapped line on every backspace), so the prompt is waited
 * for while the screen keeps changing.
 */
static int restart_line(struct typist *t, struct run *u, struct bw_error *err)
{
    note(t, "info", "cannot make out the line on the screen: emptying it and typing it again");
    struct chord kill = {{BW_KEY_CTRL_L, BW_KEY_U}, 2};
    bool there;
    if (send_one(t, BW_KEY_SHIFT_L, err) < 0 || send_chord(t, &kill, err) < 0 ||
        wait_quiet(t, u->settle, 10.0, err) < 0 || wait_screen(t, 2.0, 10.0, u, &there, err) < 0)
        return -1;
    if (!there && (erase(t, u, u->sent + 2 * t->max_window + 16, err) < 0 ||
                   wait_screen(t, 5.0, 60.0, u, &there, err) < 0))
        return -1;
    if (!there)
        return fail_run(t, u, err, "cannot make out the line on the screen, nor empty it");
    t->r->retyped += u->sent;
    u->anchor = t->scr->cursor;
    u->j0 = u->verified = u->sent = 0;
    return 0;
}

/*
 * The screen shows something else than want: erase back to the last right character and let
 * the caller type the rest again. `agree`/`shown` from the forward read, or (shown 0) unknown:
 * then the cells at the end of the line are searched for the longest right beginning.
 */
static int repair(struct typist *t, struct run *u, size_t agree, size_t shown, struct bw_error *err)
{
    size_t limit = REPAIRS_BASE + u->n / 50;
    for (;;) {
        if (++u->repairs > limit)
            return fail_run(t, u, err, "the screen kept showing other characters than meant");
        t->r->repairs++;
        back_off(t);
        size_t keep = u->j0 + agree, count = shown - agree;
        if (count) { /* (none: the line is searched below for where it went wrong) */
            struct bw_buf b = BW_BUF_INIT;
            bw_buf_init(&b);
            size_t end = t->scr->cursor;
            size_t from = end > count + 8 ? end - count - 8 : 0;
            printable(&b, t->scr->cells + from, end - from, 40);
            note(t, "info", "retyping from character %zu: the line ended in %s (erasing %zu)",
                 keep + 1, b.data, count);
            bw_buf_release(&b);
        }
        t->r->retyped += u->sent > keep ? u->sent - keep : 0;
        if (erase(t, u, count, err) < 0)
            return -1;
        size_t lo = keep > 2 * t->window ? keep - 2 * t->window : 0;
        if (resync(t, u, lo, keep))
            return 0;
        /* Not what the erasing should have left: the longest right beginning that the line's
         * last cells leave when cut off, and how many characters the cut removes. */
        const struct bw_screen *s = t->scr;
        size_t cut = 0, have = 0;
        size_t end2 = s->cursor;
        while (end2 && s->cells[end2 - 1] == ' ')
            end2--;
        /* Of the cuts that work, the one that erases and retypes least: erasing further back
         * could land on an older copy of the line that a loader's redraw left above. */
        size_t most = 4 * (size_t)t->max_window + 16, cost = (size_t)-1;
        for (size_t m = keep + 1; m-- > (lo ? lo : 1);)
            for (size_t g = 1; g <= most && g <= end2 && g + (keep - m) < cost; g++) {
                size_t min_seen = m < 16 ? m : 16;
                if (bw_readback_tail(s->cells, s->cols, end2 - g, u->want, m, min_seen) == m) {
                    cut = g;
                    have = m;
                    cost = g + (keep - m);
                }
            }
        if (!cut)
            return restart_line(t, u, err);
        struct bw_readback rb = bw_readback_forward(s->cells, s->cols, end2 - cut, end2, "", 0);
        u->j0 = 0;
        agree = have;
        shown = have + rb.shown;
    }
}

/*
 * Reads what the guest shows since the anchor. The screen may have scrolled since the anchor
 * was set (a loader that breaks lines itself scrolls more than once per row): of the shifts
 * 0..3 rows, the one that explains the cells (nothing wrong, else the most right) wins, the
 * one the cells above say first. Moves the anchor by it; *known is false when no shift gives
 * even one right character and the rows above do not tell either.
 */
static struct bw_readback follow(struct typist *t, struct run *u, bool *known)
{
    const struct bw_screen *s = t->scr;
    int said = bw_readback_scrolled(t->prev->cells, s->cells, s->cols, u->anchor, 3);
    struct bw_readback best = {0, 0, true};
    int best_k = -1;
    for (int k = 0; k <= 3; k++) {
        size_t shift = (size_t)k * s->cols;
        if (shift > u->anchor || u->anchor - shift > s->cursor)
            continue;
        struct bw_readback rb = bw_readback_forward(s->cells, s->cols, u->anchor - shift, s->cursor,
                                                    u->want + u->j0, u->sent - u->j0);
        bool better;
        if (best_k < 0 || rb.wrong != best.wrong)
            better = best_k < 0 || !rb.wrong;
        else if (k == said || best_k == said)
            better = k == said;
        else
            better = rb.agree > best.agree;
        if (better) {
            best = rb;
            best_k = k;
        }
    }
    *known = best_k >= 0 && (!best.wrong || best.agree > 0 || said >= 0);
    if (best_k > 0)
        u->anchor -= (size_t)best_k * s->cols;
    return best;
}

/*
 * Every character has shown where it was meant to, one read at a time: does the line as a
 * whole say so too, once the guest is done? Keys sent twice (taken for lost, then arriving
 * after all) can still be on their way, and a read taken while the guest drew can have
 * placed a character where it is not. So: wait until everything sent twice has been handed
 * over and the screen has stayed the same for the settle time, then read the line back from its
 * end, its characters but not its blanks (where a loader breaks a line it may draw a blank in the
 * middle of a row: bw_readback_tail_text).
 * Returns 1 when it is exact, 0 when it is not (u->j0 and u->verified then say nothing
 * of it: the caller repairs from what the screen shows), -1 with err.
 */
static int line_holds(struct typist *t, struct run *u, struct bw_error *err)
{
    /* Only keys sent twice can still arrive: the hypervisor's queue is waited out only then
     * (every key sent once has shown already; libvirt holds each key long, and waiting out its
     * queue for every line cost seconds a line). */
    if (t->r->retyped > u->retyped0)
        sleep_s(t->busy_until + 0.05 - now_s());
    if (wait_quiet(t, u->settle, 10.0 + u->settle, err) < 0)
        return -1;
    const struct bw_screen *s = t->scr;
    size_t min_seen = u->n < 16 ? u->n : 16;
    if (bw_readback_tail_text(s->cells, s->cursor, u->want, u->n, min_seen) == u->n)
        return 1;
    note(t, "info", "the line read back whole is not the one meant: repairing it");
    return 0;
}

static int type_run_read_back(struct typist *t, struct run *u, struct bw_error *err)
{
    if (wait_quiet(t, 0.1, 2.0, err) < 0)
        return -1;
    u->anchor = t->scr->cursor;
    u->first_hash = t->scr->hash;
    {
        const struct bw_screen *s = t->scr;
        size_t from = s->cursor - s->cursor % s->cols;
        snprintf(u->prompt, sizeof(u->prompt), "%.*s", (int)(s->cursor - from), s->cells + from);
    }
    u->changed = now_s();
    u->settle = SETTLE_START;
    u->retyped0 = t->r->retyped;
    for (;;) {
        if (check_interrupt(t, err) < 0 || send_run_keys(t, u, err) < 0)
            return -1;
        if (read_text(t, err) < 0)
            return -1;
        double now = now_s();
        if (t->scr->hash != t->prev->hash)
            u->changed = now;
        const struct bw_screen *s = t->scr;
        bool followed;
        struct bw_readback rb = follow(t, u, &followed);
        if (followed && !rb.wrong) {
            if (rb.shown) {
                u->verified = u->j0 + rb.shown;
                u->anchor = s->cursor;
                u->j0 = u->verified;
                u->lost_rounds = 0;
                went_well(t, rb.shown);
            }
            if (u->verified == u->n) {
                int whole = line_holds(t, u, err);
                if (whole != 0)
                    return whole > 0 ? 0 : -1;
                if (repair(t, u, 0, 0, err) < 0)
                    return -1;
                continue;
            }
            if (u->verified < u->sent && quiet(t, u, now)) {
                /* Sent, and not on the screen however long we wait: lost on the way. */
                if (u->lost_rounds >= LOST_ROUNDS ||
                    (u->lost_rounds >= 3 && t->scr->hash == u->first_hash))
                    return fail_run(t, u, err,
                                    t->scr->hash == u->first_hash
                                        ? "nothing typed appeared on the screen"
                                        : "the guest stopped taking keys");
                u->lost_rounds++;
                back_off(t);
                note(t, "info",
                     "%zu key%s sent did not show on the screen within %.2f s: "
                     "sending from character %zu again",
                     u->sent - u->verified, u->sent - u->verified == 1 ? "" : "s", u->settle,
                     u->verified + 1);
                t->r->retyped += u->sent - u->verified;
                u->sent = u->verified;
                u->settle = u->settle * 2 > SETTLE_MAX ? SETTLE_MAX : u->settle * 2;
                u->changed = now;
            } else if (u->sent == u->n || u->sent - u->verified >= t->window) {
                sleep_s(0.001);
            }
            continue;
        }
        if (!quiet(t, u, now)) {
            sleep_s(0.002);
            continue;
        }
        /* Redrawn, scrolled past recognition, or not what was meant: when the line still ends
         * with a right beginning, go on from there; else erase back to the last right
         * character. */
        size_t sent = u->sent;
        if (resync(t, u, u->verified, u->sent)) {
            t->r->retyped += sent - u->sent;
            continue;
        }
        if (repair(t, u, followed ? rb.agree : 0, followed ? rb.shown : 0, err) < 0)
            return -1;
    }
}

/*
 * A graphics screen: no text to compare, so one key at a time, each once the screen has shown
 * that the guest took the last (or a second has passed). A window of keys is not safe here:
 * the first key's echo would release the next window while the rest still queue, and GRUB
 * under OVMF, redrawing its editor in a framebuffer, fell behind and lost keys that way. With
 * no screen to look at, the clock alone paces a window of keys. A screenshot of each run is
 * kept.
 */
static int type_run_blind(struct typist *t, struct run *u, bool can_look, struct bw_error *err)
{
    t->r->blind_runs++;
    uint64_t last = t->scr->hash;
    size_t window = can_look ? 1 : t->window;
    for (size_t i = 0; i < u->n;) {
        for (size_t k = 0; k < window && i < u->n; k++, i++)
            if (check_interrupt(t, err) < 0 || send_chord(t, &u->chords[i], err) < 0)
                return -1;
        sleep_s(t->busy_until - now_s());
        for (double start = now_s(); can_look && now_s() - start < 1.0;) {
            if (check_interrupt(t, err) < 0 || observe(t, err) < 0)
                return -1;
            if (t->scr->hash != last) {
                last = t->scr->hash;
                break;
            }
            sleep_s(0.01);
        }
    }
    if (can_look && t->o->workdir) {
        char *base = bw_xasprintf("%s/stage-%u", t->o->workdir, ++t->stage);
        struct bw_error ignored = BW_ERROR_INIT;
        sleep_s(0.2);
        char *shot = t->drv->screenshot(t->vm, base, false, &ignored);
        if (shot)
            note(t, "info",
                 "typed %zu characters without reading them back; the screen after "
                 "them: %s",
                 u->n, shot);
        free(shot);
        free(base);
        bw_error_release(&ignored);
    }
    return 0;
}

static int type_run_timed(struct typist *t, struct run *u, struct bw_error *err);

static int type_run(struct typist *t, struct run *u, struct bw_error *err)
{
    double start = now_s();
    int rc = type_run_timed(t, u, err);
    t->r->typing += now_s() - start;
    return rc;
}

static int type_run_timed(struct typist *t, struct run *u, struct bw_error *err)
{
    t->r->chars += u->n;
    bool can_look = t->drv->screenshot != NULL;
    if (can_look && observe(t, err) < 0)
        return -1;
    if (!t->o->blind && can_look && t->scr->text) {
        int rc = type_run_read_back(t, u, err);
        t->r->verified += rc == 0 ? u->n : 0;
        return rc;
    }
    if (!t->warned_blind) {
        t->warned_blind = true;
        if (t->o->blind)
            note(t, "info", "typing without reading the screen back (asked for)");
        else if (!can_look || !t->drv->read_memory)
            note(t, "warning",
                 "%s cannot read the guest's screen: typing without reading it "
                 "back",
                 t->drv->name);
        else
            note(t, "warning",
                 "the screen is in graphics mode (%ux%u): no text to read back; "
                 "typing paced by screen changes, a screenshot kept of each part",
                 t->scr->width, t->scr->height);
    }
    return type_run_blind(t, u, can_look, err);
}

/* ---- keys, waits and expectations ---- */

static int type_special(struct typist *t, const struct chord *c, uint64_t *before,
                        struct bw_error *err)
{
    bool can_look = t->drv->screenshot != NULL;
    if (can_look && observe(t, err) < 0)
        return -1;
    *before = t->scr->hash;
    if (send_chord(t, c, err) < 0)
        return -1;
    sleep_s(t->busy_until - now_s());
    for (double start = now_s(); can_look && now_s() - start < SPECIAL_WAIT;) {
        if (check_interrupt(t, err) < 0 || observe(t, err) < 0)
            return -1;
        if (t->scr->hash != *before)
            break;
        sleep_s(0.01);
    }
    return 0;
}

/* The last 64 KiB the guest wrote to its serial port, where a firmware in a graphics mode may
 * mirror its console (OVMF does): does it show what e waits for? */
static bool serial_shows(struct typist *t, const struct bw_key_event *e)
{
    struct bw_buf tail = BW_BUF_INIT;
    bw_buf_init(&tail);
    size_t n =
        bw_file_read_tail(t->drv->serial_log ? t->drv->serial_log(t->vm) : NULL, 65536, &tail);
    bool found = n && bw_console_shows(tail.data, n, e->text, e->regex);
    bw_buf_release(&tail);
    return found;
}

static int expect(struct typist *t, const struct bw_key_event *e, struct bw_error *err)
{
    double start = now_s();
    for (;;) {
        if (observe(t, err) < 0)
            return -1;
        if (bw_screen_shows(t->scr, e->text, e->regex)) {
            note(t, "info", "the screen shows %s%s%s after %.1f s", e->regex ? "/" : "\"", e->text,
                 e->regex ? "/" : "\"", now_s() - start);
            return 0;
        }
        if (!t->scr->text && serial_shows(t, e)) {
            note(t, "info",
                 "the serial console shows %s%s%s after %.1f s (the screen is in "
                 "graphics mode)",
                 e->regex ? "/" : "\"", e->text, e->regex ? "/" : "\"", now_s() - start);
            return 0;
        }
        if (now_s() - start >= (double)e->wait_ms / 1000.0) {
            bw_error_set(err, BW_ERR_SPAWN, "<expect %s%s%s> did not appear within %.0f s%s",
                         e->regex ? "/" : "\"", e->text, e->regex ? "/" : "\"",
                         (double)e->wait_ms / 1000.0,
                         t->scr->text ? ""
                                      : " (the screen is in graphics mode: no text to read, and "
                                        "the serial console did not show it either)");
            add_screen(t, err);
            return -1;
        }
        if (pause_s(t, 0.25, err) < 0)
            return -1;
    }
}

/* After the key that ends the command: the guest must act on it. */
static int accepted(struct typist *t, uint64_t before, struct bw_error *err)
{
    double start = now_s();
    for (;;) {
        if (observe(t, err) < 0)
            return -1;
        if (t->scr->hash != before)
            return 0;
        if (now_s() - start >= t->o->accept_ms / 1000.0) {
            bw_error_set(err, BW_ERR_SPAWN,
                         "the guest did not react to the boot command's last key within %.0f s",
                         t->o->accept_ms / 1000.0);
            add_screen(t, err);
            return -1;
        }
        if (pause_s(t, 0.25, err) < 0)
            return -1;
    }
}

static bool modifier(enum bw_key k)
{
    return k == BW_KEY_SHIFT_L || k == BW_KEY_SHIFT_R || k == BW_KEY_CTRL_L || k == BW_KEY_CTRL_R ||
           k == BW_KEY_ALT_L || k == BW_KEY_ALT_R || k == BW_KEY_SUPER_L || k == BW_KEY_SUPER_R;
}

static int hold(struct typist *t, const struct bw_key_event *e, struct bw_error *err)
{
    bool down = e->action == BW_KEY_PRESS;
    if (t->drv->send_key) {
        sleep_s(t->busy_until - now_s());
        if (t->drv->send_key(t->vm, e->key, down, err) < 0)
            return -1;
    }
    if (down && t->n_held < sizeof(t->held) / sizeof(t->held[0])) {
        t->held[t->n_held++] = e->key;
    } else if (!down) {
        for (size_t k = 0; k < t->n_held; k++)
            if (t->held[k] == e->key) {
                memmove(t->held + k, t->held + k + 1, (t->n_held - k - 1) * sizeof(t->held[0]));
                t->n_held--;
                break;
            }
    }
    return 0;
}

/* A chord at ev->v[i] of m keys. */
static void chord_at(const struct bw_key_events *ev, size_t i, size_t m, struct chord *c)
{
    c->n = 0;
    for (size_t k = 0; k < m && c->n < sizeof(c->keys) / sizeof(c->keys[0]); k++)
        c->keys[c->n++] = ev->v[i + k].key;
}

int bw_type(const struct bw_driver *drv, struct bw_vm *vm, const struct bw_key_events *ev,
            const struct bw_typing_options *o, struct bw_typing_report *r, struct bw_error *err)
{
    memset(r, 0, sizeof(*r));
    struct typist t;
    memset(&t, 0, sizeof(t));
    t.drv = drv;
    t.vm = vm;
    t.o = o;
    t.r = r;
    t.max_window = t.window = o->window ? o->window : 4;
    t.scr = bw_xcalloc(1, sizeof(*t.scr));
    t.prev = bw_xcalloc(1, sizeof(*t.prev));
    t.shot_base = bw_xasprintf("%s/screen", o->workdir ? o->workdir : "/tmp");
    char *want = bw_xmalloc(ev->n + 1);
    struct chord *chords = bw_xcalloc(ev->n + 1, sizeof(*chords));
    double start = now_s();
    int rc = 0;
    bool ends_with_key = false;
    uint64_t before_last = 0;
    for (size_t i = 0; rc == 0 && i < ev->n;) {
        const struct bw_key_event *e = &ev->v[i];
        if (e->action == BW_KEY_WAIT) { /* a wait after the last key: the check comes after it */
            rc = pause_s(&t, (double)e->wait_ms / 1000.0, err);
            i++;
            continue;
        }
        ends_with_key = false;
        if (e->action == BW_KEY_EXPECT) {
            rc = expect(&t, e, err);
            i++;
            continue;
        }
        size_t m = bw_key_chord_at(ev, i);
        if (m == 0) {
            rc = hold(&t, e, err);
            i++;
            continue;
        }
        bool plain = true; /* no modifier held: characters show as themselves */
        for (size_t k = 0; k < t.n_held; k++)
            plain = plain && !modifier(t.held[k]);
        if (!e->ch || !plain) {
            struct chord c;
            chord_at(ev, i, m, &c);
            rc = type_special(&t, &c, &before_last, err);
            ends_with_key = true;
            i += 2 * m;
            continue;
        }
        size_t n = 0;
        while (i < ev->n && ev->v[i].ch && (m = bw_key_chord_at(ev, i)) > 0) {
            want[n] = ev->v[i].ch;
            chord_at(ev, i, m, &chords[n]);
            n++;
            i += 2 * m;
        }
        struct run u;
        memset(&u, 0, sizeof(u));
        u.want = want;
        u.chords = chords;
        u.n = n;
        rc = type_run(&t, &u, err);
    }
    if (rc == 0 && ends_with_key && o->accept_ms && drv->screenshot)
        rc = accepted(&t, before_last, err);
    r->seconds = now_s() - start;
    free(want);
    free(chords);
    free(t.shot_base);
    free(t.scr);
    free(t.prev);
    return rc;
}
