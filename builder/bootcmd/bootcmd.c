#include "bootcmd.h"
#include "../base/buf.h"
#include "../base/units.h"
#include "../base/xmalloc.h"

#include <ctype.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Packer's special-key names (packer-plugin-sdk bootcommand grammar), case-insensitive. */
static const struct {
    const char *name;
    enum bw_key key;
} specials[] = {
    {"enter", BW_KEY_ENTER},
    {"return", BW_KEY_ENTER},
    {"esc", BW_KEY_ESC},
    {"tab", BW_KEY_TAB},
    {"bs", BW_KEY_BACKSPACE},
    {"del", BW_KEY_DELETE},
    {"spacebar", BW_KEY_SPACE},
    {"insert", BW_KEY_INSERT},
    {"home", BW_KEY_HOME},
    {"end", BW_KEY_END},
    {"pageUp", BW_KEY_PAGE_UP},
    {"pageDown", BW_KEY_PAGE_DOWN},
    {"up", BW_KEY_UP},
    {"down", BW_KEY_DOWN},
    {"left", BW_KEY_LEFT},
    {"right", BW_KEY_RIGHT},
    {"menu", BW_KEY_MENU},
    {"f1", BW_KEY_F1},
    {"f2", BW_KEY_F2},
    {"f3", BW_KEY_F3},
    {"f4", BW_KEY_F4},
    {"f5", BW_KEY_F5},
    {"f6", BW_KEY_F6},
    {"f7", BW_KEY_F7},
    {"f8", BW_KEY_F8},
    {"f9", BW_KEY_F9},
    {"f10", BW_KEY_F10},
    {"f11", BW_KEY_F11},
    {"f12", BW_KEY_F12},
    {"leftAlt", BW_KEY_ALT_L},
    {"rightAlt", BW_KEY_ALT_R},
    {"leftCtrl", BW_KEY_CTRL_L},
    {"rightCtrl", BW_KEY_CTRL_R},
    {"leftShift", BW_KEY_SHIFT_L},
    {"rightShift", BW_KEY_SHIFT_R},
    {"leftSuper", BW_KEY_SUPER_L},
    {"rightSuper", BW_KEY_SUPER_R},
    {"leftMeta", BW_KEY_SUPER_L},
    {"rightMeta", BW_KEY_SUPER_R},
};

static void pos_of(const char *cmd, size_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < off; i++) {
        if (cmd[i] == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)cmd[i] & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static struct bw_key_event *emit(struct bw_key_events *out, enum bw_key_action action,
                                 enum bw_key key, uint64_t wait_ms, size_t off)
{
    BW_GROW(out->v, out->alloc, out->n + 1);
    out->v[out->n] = (struct bw_key_event){action, key, wait_ms, off, 0, false, NULL};
    return &out->v[out->n++];
}

/* A boot command that waits longer than this in one token is a typo (<wait2562047h>). */
#define MAX_WAIT_MS (24ULL * 60 * 60 * 1000)

static long syntax_error(const char *cmd, size_t i, const char *source, struct bw_error *err,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static long syntax_error(const char *cmd, size_t i, const char *source, struct bw_error *err,
                         const char *fmt, ...)
{
    int line, col;
    pos_of(cmd, i, &line, &col);
    va_list ap;
    va_start(ap, fmt);
    bw_error_vat(err, BW_ERR_SYNTAX, source, NULL, line, col, fmt, ap);
    va_end(ap);
    return -1;
}

/*
 * <expect "text"> / <expect /regex/> with an optional duration, at cmd[i]. Returns the length
 * consumed, 0 when cmd[i] does not start "<expect " (typed literally), -1 on a malformed one.
 */
static long expect_token(const char *cmd, size_t len, size_t i, const char *source,
                         struct bw_key_events *out, struct bw_error *err)
{
    static const char word[] = "<expect ";
    size_t k = i + sizeof(word) - 1;
    if (len < k || strncasecmp(cmd + i, word, sizeof(word) - 1) != 0)
        return 0;
    while (k < len && cmd[k] == ' ')
        k++;
    if (k >= len || (cmd[k] != '"' && cmd[k] != '/'))
        return syntax_error(cmd, i, source, err,
                            "<expect> needs \"text\" or /regex/ (for example <expect \"boot:\"> "
                            "or <expect /login: *$/ 5m>)");
    char delim = cmd[k++];
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    for (; k < len && cmd[k] != delim; k++) {
        if (cmd[k] == '\\' && k + 1 < len)
            k++;
        bw_buf_addc(&text, cmd[k]);
    }
    if (k >= len) {
        bw_buf_release(&text);
        return syntax_error(cmd, i, source, err, "<expect> has no closing %c", delim);
    }
    if (text.len == 0) {
        bw_buf_release(&text);
        return syntax_error(cmd, i, source, err, "<expect> with nothing to wait for");
    }
    k++;
    while (k < len && cmd[k] == ' ')
        k++;
    uint64_t ms = BW_EXPECT_DEFAULT_MS;
    size_t d = k;
    while (k < len && cmd[k] != '>')
        k++;
    if (k >= len) {
        bw_buf_release(&text);
        return syntax_error(cmd, i, source, err, "<expect> has no closing >");
    }
    if (k > d) {
        char buf[32];
        size_t dlen = k - d;
        while (dlen && cmd[d + dlen - 1] == ' ')
            dlen--;
        if (dlen >= sizeof(buf) ||
            (memcpy(buf, cmd + d, dlen), buf[dlen] = '\0',
             bw_parse_duration(buf, false, &ms) < 0) ||
            ms > MAX_WAIT_MS) {
            bw_buf_release(&text);
            return syntax_error(cmd, d, source, err,
                                "<expect>: \"%.*s\" is not a duration of at most 24h (expected "
                                "for example 30s, 2m)",
                                (int)(k - d > 20 ? 20 : k - d), cmd + d);
        }
    }
    if (delim == '/') {
        regex_t re;
        int rc = regcomp(&re, text.data, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[128];
            regerror(rc, &re, why, sizeof(why));
            bw_buf_release(&text);
            return syntax_error(cmd, i, source, err, "<expect>: bad regular expression: %s", why);
        }
        regfree(&re);
    }
    struct bw_key_event *e = emit(out, BW_KEY_EXPECT, BW_KEY_NONE, ms, i);
    e->regex = delim == '/';
    e->text = bw_buf_detach(&text);
    return (long)(k - i + 1);
}

static bool has_suffix_ci(const char *s, size_t len, const char *suffix, size_t *base)
{
    size_t sl = strlen(suffix);
    if (len <= sl || strncasecmp(s + len - sl, suffix, sl) != 0)
        return false;
    *base = len - sl;
    return true;
}

static bool find_special(const char *name, size_t len, enum bw_key *key)
{
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++)
        if (strlen(specials[i].name) == len && strncasecmp(specials[i].name, name, len) == 0) {
            *key = specials[i].key;
            return true;
        }
    return false;
}

/* held[] tracks keys held with <xOn>, so shifted characters do not press shift twice. */
struct state {
    bool held[BW_KEY_COUNT];
};

/* Handles "<...>" at cmd[i]; returns the token length consumed, 0 if not a token, -1 on error. */
static long special_token(const char *cmd, size_t len, size_t i, const char *source,
                          struct state *st, struct bw_key_events *out, struct bw_error *err)
{
    size_t k = i + 1;
    if (k >= len || !isalpha((unsigned char)cmd[k]))
        return 0;
    while (k < len && (isalnum((unsigned char)cmd[k]) || cmd[k] == '.'))
        k++;
    if (k >= len || cmd[k] != '>')
        return 0;
    const char *name = cmd + i + 1;
    size_t nlen = k - i - 1;
    long consumed = (long)(k - i + 1);
    if (nlen >= 4 && strncasecmp(name, "wait", 4) == 0) {
        uint64_t ms = 1000;
        if (nlen > 4) {
            char buf[32];
            size_t dlen = nlen - 4;
            if (dlen >= sizeof(buf))
                goto unknown;
            memcpy(buf, name + 4, dlen);
            buf[dlen] = '\0';
            if (bw_parse_duration(buf, true, &ms) < 0)
                goto unknown;
            if (ms > MAX_WAIT_MS)
                return syntax_error(cmd, i, source, err,
                                    "<%.*s> waits longer than a day: expected at most <wait24h>",
                                    (int)(nlen > 40 ? 40 : nlen), name);
        }
        emit(out, BW_KEY_WAIT, BW_KEY_NONE, ms, i);
        return consumed;
    }
    enum bw_key key;
    size_t base;
    if (find_special(name, nlen, &key)) {
        emit(out, BW_KEY_PRESS, key, 0, i);
        emit(out, BW_KEY_RELEASE, key, 0, i);
        return consumed;
    }
    if (has_suffix_ci(name, nlen, "On", &base) && find_special(name, base, &key)) {
        emit(out, BW_KEY_PRESS, key, 0, i);
        st->held[key] = true;
        return consumed;
    }
    if (has_suffix_ci(name, nlen, "Off", &base) && find_special(name, base, &key)) {
        emit(out, BW_KEY_RELEASE, key, 0, i);
        st->held[key] = false;
        return consumed;
    }
unknown:
    return syntax_error(cmd, i, source, err,
                        "unknown key <%.*s> (expected a special key such as <enter>, <esc>, "
                        "<f1>, <leftCtrlOn>, a wait such as <wait>, <wait5>, <wait1m30s>, or "
                        "<expect \"text\">)",
                        (int)(nlen > 40 ? 40 : nlen), name);
}

int bw_bootcmd_compile(const char *cmd, size_t len, const char *source, struct bw_key_events *out,
                       struct bw_error *err)
{
    if (len > BW_BOOTCMD_MAX) {
        bw_error_at(err, BW_ERR_SYNTAX, source, NULL, 0, 0,
                    "the boot command is %zu bytes: expected at most %d (installers take a "
                    "few hundred)",
                    len, BW_BOOTCMD_MAX);
        return -1;
    }
    struct state *st = bw_xcalloc(1, sizeof(*st));
    size_t start = out->n;
    int rc = 0;
    for (size_t i = 0; i < len;) {
        if (cmd[i] == '<') {
            long used = expect_token(cmd, len, i, source, out, err);
            if (used == 0)
                used = special_token(cmd, len, i, source, st, out, err);
            if (used < 0) {
                rc = -1;
                break;
            }
            if (used > 0) {
                i += (size_t)used;
                continue;
            }
        }
        enum bw_key key;
        bool shift;
        if (!bw_key_for_char(cmd[i], &key, &shift)) {
            int line, col;
            pos_of(cmd, i, &line, &col);
            unsigned char c = (unsigned char)cmd[i];
            const char *hint = c == '\n'   ? "; write <enter> to press Enter"
                               : c == '\t' ? "; write <tab> to press Tab"
                                           : "; only printable ASCII is typed (US layout)";
            bw_error_at(err, BW_ERR_SYNTAX, source, NULL, line, col,
                        "byte 0x%02x cannot be typed%s", c, hint);
            rc = -1;
            break;
        }
        bool add_shift = shift && !st->held[BW_KEY_SHIFT_L] && !st->held[BW_KEY_SHIFT_R];
        if (add_shift)
            emit(out, BW_KEY_PRESS, BW_KEY_SHIFT_L, 0, i)->ch = cmd[i];
        emit(out, BW_KEY_PRESS, key, 0, i)->ch = cmd[i];
        emit(out, BW_KEY_RELEASE, key, 0, i)->ch = cmd[i];
        if (add_shift)
            emit(out, BW_KEY_RELEASE, BW_KEY_SHIFT_L, 0, i)->ch = cmd[i];
        i++;
    }
    free(st);
    if (rc < 0) {
        for (size_t k = start; k < out->n; k++)
            free(out->v[k].text);
        out->n = start;
    }
    return rc;
}

void bw_key_events_release(struct bw_key_events *ev)
{
    for (size_t i = 0; i < ev->n; i++)
        free(ev->v[i].text);
    free(ev->v);
    memset(ev, 0, sizeof(*ev));
}

size_t bw_key_events_presses(const struct bw_key_events *ev)
{
    size_t n = 0;
    for (size_t i = 0; i < ev->n; i++)
        n += ev->v[i].action == BW_KEY_PRESS;
    return n;
}

size_t bw_key_chord_at(const struct bw_key_events *ev, size_t i)
{
    size_t j = i;
    while (j < ev->n && ev->v[j].action == BW_KEY_PRESS)
        j++;
    size_t m = j - i;
    if (m == 0 || j + m > ev->n)
        return 0;
    for (size_t t = 0; t < m; t++)
        if (ev->v[j + t].action != BW_KEY_RELEASE || ev->v[j + t].key != ev->v[j - 1 - t].key)
            return 0;
    return m;
}
