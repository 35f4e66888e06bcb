/* The boot-command compiler and its four encodings. */
#include "golden.h"
#include "../../builder/bootcmd/encodings.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *suffix;
    enum bw_key_encoding enc;
} encodings[] = {
    {".events", BW_ENC_EVENTS},     {".qmp", BW_ENC_QMP},       {".linux", BW_ENC_LINUX},
    {".scancode", BW_ENC_SCANCODE}, {".keysym", BW_ENC_KEYSYM},
};

static int compile(const char *s, struct bw_key_events *ev, struct bw_error *err)
{
    return bw_bootcmd_compile(s, strlen(s), "test", ev, err);
}

/* Each tests/data/bootcmd/NAME.txt against NAME.events, .qmp, .linux, .scancode, .keysym. */
START_TEST(test_golden_boot_commands_in_every_encoding)
{
    char **names = golden_list("bootcmd", ".txt");
    ck_assert_ptr_nonnull(names[0]);
    for (char **n = names; *n; n++) {
        size_t len;
        char *src = golden_read("bootcmd", *n, &len);
        if (len && src[len - 1] == '\n') /* the file's own newline is not typed */
            len--;
        struct bw_key_events ev = BW_KEY_EVENTS_INIT;
        struct bw_error err = BW_ERROR_INIT;
        int rc = bw_bootcmd_compile(src, len, *n, &ev, &err);
        ck_assert_msg(rc == 0, "%s: %s", *n, err.msg);
        for (size_t e = 0; e < sizeof(encodings) / sizeof(encodings[0]); e++) {
            struct bw_buf out = BW_BUF_INIT;
            bw_buf_init(&out);
            bw_key_events_format(&ev, encodings[e].enc, &out);
            char *expected = golden_swap_suffix(*n, ".txt", encodings[e].suffix);
            char *msg = golden_check("bootcmd", expected, out.data, out.len);
            ck_assert_msg(msg == NULL, "%s", msg);
            free(expected);
            bw_buf_release(&out);
        }
        bw_key_events_release(&ev);
        free(src);
    }
    golden_list_free(names);
}
END_TEST

/*
 * All 95 printable characters: each is one key, wrapped in shift exactly when
 * the US layout needs it, and every encoding has a code for it. The keysym of
 * the key under the shift state that was used must be the character itself
 * (X11 keysyms for ASCII equal the code point) - a check that the layout
 * table, the shift decision and the keysym table agree.
 */
START_TEST(test_every_printable_character_types_itself_in_every_encoding)
{
    for (int c = 0x20; c <= 0x7e; c++) {
        char s[2] = {(char)c, 0};
        struct bw_key_events ev = BW_KEY_EVENTS_INIT;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(compile(s, &ev, &err) == 0, "char 0x%02x: %s", c, err.msg);
        bool shifted = ev.n == 4;
        ck_assert_msg(ev.n == 2 || ev.n == 4, "char '%c' gave %zu events", c, ev.n);
        const struct bw_key_event *k = &ev.v[shifted ? 1 : 0];
        if (shifted) {
            ck_assert_int_eq(ev.v[0].action, BW_KEY_PRESS);
            ck_assert_int_eq(ev.v[0].key, BW_KEY_SHIFT_L);
            ck_assert_int_eq(ev.v[3].action, BW_KEY_RELEASE);
            ck_assert_int_eq(ev.v[3].key, BW_KEY_SHIFT_L);
        }
        ck_assert_int_eq(k[0].action, BW_KEY_PRESS);
        ck_assert_int_eq(k[1].action, BW_KEY_RELEASE);
        ck_assert_int_eq(k[0].key, k[1].key);
        ck_assert_msg(bw_key_keysym(k->key, shifted) == (uint32_t)c,
                      "'%c': keysym 0x%x under shift=%d", c, bw_key_keysym(k->key, shifted),
                      shifted);
        ck_assert_msg(bw_key_qcode(k->key) != NULL, "'%c' has no qcode", c);
        ck_assert_msg(bw_key_linux(k->key) != 0, "'%c' has no linux code", c);
        uint8_t b[4];
        ck_assert_msg(bw_key_scancode(k->key, false, b) == 1, "'%c' scancode", c);
        /* Set-1 make codes of the main block equal the Linux codes (both come from the XT). */
        ck_assert_msg(b[0] == bw_key_linux(k->key), "'%c': scancode %02x vs linux %u", c, b[0],
                      bw_key_linux(k->key));
        ck_assert_int_eq(bw_key_scancode(k->key, true, b), 1);
        ck_assert_uint_eq(b[0] & 0x80, 0x80);
        bw_key_events_release(&ev);
    }
}
END_TEST

/* Packer's vocabulary, each token in lower, upper and mixed case. */
START_TEST(test_every_special_token_compiles_case_insensitively)
{
    static const struct {
        const char *token;
        enum bw_key key;
    } cases[] = {
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
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int variant = 0; variant < 3; variant++) {
            char tok[64];
            snprintf(tok, sizeof(tok), "<%s>", cases[i].token);
            for (char *p = tok + 1; *p != '>'; p++)
                if (variant == 1)
                    *p = (char)toupper((unsigned char)*p);
                else if (variant == 2 && p == tok + 1)
                    *p = (char)toupper((unsigned char)*p);
            struct bw_key_events ev = BW_KEY_EVENTS_INIT;
            struct bw_error err = BW_ERROR_INIT;
            ck_assert_msg(compile(tok, &ev, &err) == 0, "%s: %s", tok, err.msg);
            ck_assert_uint_eq(ev.n, 2);
            ck_assert_int_eq(ev.v[0].action, BW_KEY_PRESS);
            ck_assert_int_eq(ev.v[1].action, BW_KEY_RELEASE);
            ck_assert_msg(ev.v[0].key == cases[i].key, "%s gave %s", tok, bw_key_name(ev.v[0].key));
            uint8_t b[4];
            ck_assert_ptr_nonnull(bw_key_qcode(cases[i].key));
            ck_assert_uint_ne(bw_key_linux(cases[i].key), 0);
            ck_assert_uint_ge(bw_key_scancode(cases[i].key, false, b), 1);
            ck_assert_uint_ne(bw_key_keysym(cases[i].key, false), 0);
            bw_key_events_release(&ev);
        }
    }
}
END_TEST

START_TEST(test_every_key_has_a_code_in_every_encoding)
{
    for (int k = BW_KEY_NONE + 1; k < BW_KEY_COUNT; k++) {
        uint8_t b[4];
        ck_assert_msg(bw_key_name(k) != NULL, "key %d has no name", k);
        ck_assert_msg(bw_key_qcode(k) != NULL, "%s has no qcode", bw_key_name(k));
        ck_assert_msg(bw_key_linux(k) != 0, "%s has no linux code", bw_key_name(k));
        ck_assert_msg(bw_key_scancode(k, false, b) >= 1, "%s has no scancode", bw_key_name(k));
        ck_assert_msg(bw_key_keysym(k, false) != 0, "%s has no keysym", bw_key_name(k));
    }
}
END_TEST

START_TEST(test_on_and_off_hold_a_modifier_across_keys)
{
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(compile("<leftShiftOn>aB<leftShiftOff>", &ev, &err), 0);
    /* B does not press shift again while <leftShiftOn> holds it. */
    static const struct {
        enum bw_key_action a;
        enum bw_key k;
    } want[] = {{BW_KEY_PRESS, BW_KEY_SHIFT_L}, {BW_KEY_PRESS, BW_KEY_A},
                {BW_KEY_RELEASE, BW_KEY_A},     {BW_KEY_PRESS, BW_KEY_B},
                {BW_KEY_RELEASE, BW_KEY_B},     {BW_KEY_RELEASE, BW_KEY_SHIFT_L}};
    ck_assert_uint_eq(ev.n, 6);
    for (size_t i = 0; i < 6; i++) {
        ck_assert_int_eq(ev.v[i].action, want[i].a);
        ck_assert_int_eq(ev.v[i].key, want[i].k);
    }
    bw_key_events_release(&ev);
}
END_TEST

START_TEST(test_waits_take_packer_durations)
{
    static const struct {
        const char *cmd;
        uint64_t ms;
    } cases[] = {{"<wait>", 1000},       {"<wait5>", 5000},    {"<wait10>", 10000},
                 {"<wait1m30s>", 90000}, {"<WAIT250ms>", 250}, {"<wait1.5s>", 1500},
                 {"<wait2h>", 7200000}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bw_key_events ev = BW_KEY_EVENTS_INIT;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(compile(cases[i].cmd, &ev, &err) == 0, "%s: %s", cases[i].cmd, err.msg);
        ck_assert_uint_eq(ev.n, 1);
        ck_assert_int_eq(ev.v[0].action, BW_KEY_WAIT);
        ck_assert_msg(ev.v[0].wait_ms == cases[i].ms, "%s: %llu ms", cases[i].cmd,
                      (unsigned long long)ev.v[0].wait_ms);
        bw_key_events_release(&ev);
    }
}
END_TEST

START_TEST(test_angle_brackets_that_are_not_tokens_are_typed)
{
    static const char *const typed[] = {"a<b", "<>", "< enter>", "x <= y", "<<esc", "a>b"};
    for (size_t i = 0; i < sizeof(typed) / sizeof(typed[0]); i++) {
        struct bw_key_events ev = BW_KEY_EVENTS_INIT;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(compile(typed[i], &ev, &err) == 0, "%s: %s", typed[i], err.msg);
        size_t chars = 0;
        for (size_t k = 0; k < ev.n; k++)
            chars += ev.v[k].action == BW_KEY_PRESS && ev.v[k].key != BW_KEY_SHIFT_L;
        ck_assert_uint_eq(chars, strlen(typed[i]));
        bw_key_events_release(&ev);
    }
}
END_TEST

/* tests/data/bootcmd-errors/NAME.txt must fail with the message in NAME.err. */
START_TEST(test_bad_boot_commands_fail_at_their_position)
{
    char **names = golden_list("bootcmd-errors", ".txt");
    ck_assert_ptr_nonnull(names[0]);
    for (char **n = names; *n; n++) {
        size_t len;
        char *src = golden_read("bootcmd-errors", *n, &len);
        if (len && src[len - 1] == '\n')
            len--;
        struct bw_key_events ev = BW_KEY_EVENTS_INIT;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(bw_bootcmd_compile(src, len, *n, &ev, &err) == -1, "%s compiled", *n);
        ck_assert_uint_eq(ev.n, 0);
        char *got = bw_error_format(&err);
        char *with_nl = bw_xasprintf("%s\n", got);
        char *expected = golden_swap_suffix(*n, ".txt", ".err");
        char *msg = golden_check("bootcmd-errors", expected, with_nl, strlen(with_nl));
        ck_assert_msg(msg == NULL, "%s", msg);
        free(expected);
        free(with_nl);
        free(got);
        bw_error_release(&err);
        bw_key_events_release(&ev);
        free(src);
    }
    golden_list_free(names);
}
END_TEST

/* The typist compares the guest's screen with the characters the keys should show. */
START_TEST(test_each_typed_key_knows_the_character_it_shows)
{
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(compile("a<leftShiftOn>b<leftShiftOff>C<enter>", &ev, &err), 0);
    /* a: press/release; shiftOn; b (shift held, no shift added); shiftOff; C: 4; enter: 2 */
    ck_assert_uint_eq(ev.n, 2 + 1 + 2 + 1 + 4 + 2);
    ck_assert_int_eq(ev.v[0].ch, 'a');
    ck_assert_int_eq(ev.v[1].ch, 'a');
    ck_assert_int_eq(ev.v[2].ch, 0); /* <leftShiftOn> is a key, not a character */
    ck_assert_int_eq(ev.v[3].ch, 'b');
    ck_assert_int_eq(ev.v[5].ch, 0);
    for (size_t i = 6; i < 10; i++)
        ck_assert_int_eq(ev.v[i].ch, 'C');
    ck_assert_int_eq(ev.v[10].ch, 0);
    ck_assert_int_eq(ev.v[11].ch, 0);
    bw_key_events_release(&ev);
}
END_TEST

/* A 50 MB boot command (a template bomb's output) is refused before anything is compiled. */
START_TEST(test_a_huge_boot_command_is_refused_with_its_size)
{
    size_t n = 50u << 20;
    char *big = bw_xmalloc(n);
    memset(big, 'x', n);
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_bootcmd_compile(big, n, "big", &ev, &err), -1);
    ck_assert_uint_eq(ev.n, 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "52428800 bytes: expected at most 65536"));
    bw_error_release(&err);
    free(big);
}
END_TEST

START_TEST(test_encoding_names_parse)
{
    enum bw_key_encoding e;
    ck_assert_int_eq(bw_key_encoding_parse("scancode", &e), 0);
    ck_assert_int_eq(e, BW_ENC_SCANCODE);
    ck_assert_int_eq(bw_key_encoding_parse("vnc", &e), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bootcmd");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_golden_boot_commands_in_every_encoding);
    tcase_add_test(tc, test_every_printable_character_types_itself_in_every_encoding);
    tcase_add_test(tc, test_every_special_token_compiles_case_insensitively);
    tcase_add_test(tc, test_every_key_has_a_code_in_every_encoding);
    tcase_add_test(tc, test_on_and_off_hold_a_modifier_across_keys);
    tcase_add_test(tc, test_waits_take_packer_durations);
    tcase_add_test(tc, test_angle_brackets_that_are_not_tokens_are_typed);
    tcase_add_test(tc, test_bad_boot_commands_fail_at_their_position);
    tcase_add_test(tc, test_encoding_names_parse);
    tcase_add_test(tc, test_each_typed_key_knows_the_character_it_shows);
    tcase_add_test(tc, test_a_huge_boot_command_is_refused_with_its_size);
    suite_add_tcase(s, tc);
    return test_run(s);
}
