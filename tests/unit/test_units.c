/* Durations and sizes as users write them in definitions. */
#include "../../builder/base/units.h"

#include "golden.h"
#include <check.h>
#include <stdlib.h>

START_TEST(test_durations_parse_like_go)
{
    static const struct {
        const char *s;
        bool bare;
        int rc;
        uint64_t ms;
    } cases[] = {
        {"10s", false, 0, 10000},
        {"1m30s", false, 0, 90000},
        {"250ms", false, 0, 250},
        {"1.5s", false, 0, 1500},
        {"2h", false, 0, 7200000},
        {"1h1m1s", false, 0, 3661000},
        {"0s", false, 0, 0},
        {"5", true, 0, 5000},
        {"5", false, -1, 0},
        {"", false, -1, 0},
        {"s", false, -1, 0},
        {"10x", false, -1, 0},
        {"1m30", true, -1, 0},
        {"-1s", false, -1, 0},
        {"99999999999999999999h", false, -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t ms = 0;
        int rc = bw_parse_duration(cases[i].s, cases[i].bare, &ms);
        ck_assert_msg(rc == cases[i].rc, "\"%s\": rc %d", cases[i].s, rc);
        if (rc == 0)
            ck_assert_msg(ms == cases[i].ms, "\"%s\": %llu ms", cases[i].s, (unsigned long long)ms);
    }
}
END_TEST

START_TEST(test_sizes_parse_with_binary_units)
{
    static const struct {
        const char *s;
        int rc;
        uint64_t bytes;
    } cases[] = {
        {"512M", 0, 512ULL << 20},
        {"20G", 0, 20ULL << 30},
        {"1T", 0, 1ULL << 40},
        {"64K", 0, 64ULL << 10},
        {"2GiB", 0, 2ULL << 30},
        {"1.5G", 0, 3ULL << 29},
        {"20g", 0, 20ULL << 30},
        {"512", -1, 0},
        {"M", -1, 0},
        {"1 G", -1, 0},
        {"20GB", 0, 20ULL << 30},
        {"99999999999999T", -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        uint64_t b = 0;
        int rc = bw_parse_size(cases[i].s, &b);
        ck_assert_msg(rc == cases[i].rc, "\"%s\": rc %d", cases[i].s, rc);
        if (rc == 0)
            ck_assert_msg(b == cases[i].bytes, "\"%s\": %llu", cases[i].s, (unsigned long long)b);
    }
}
END_TEST

START_TEST(test_formatting_round_trips)
{
    char out[32];
    bw_format_duration(90000, out, sizeof(out));
    ck_assert_str_eq(out, "1m30s");
    bw_format_duration(250, out, sizeof(out));
    ck_assert_str_eq(out, "250ms");
    bw_format_duration(3661500, out, sizeof(out));
    ck_assert_str_eq(out, "1h1m1.500s");
    bw_format_duration(0, out, sizeof(out));
    ck_assert_str_eq(out, "0s");
    bw_format_size(20ULL << 30, out, sizeof(out));
    ck_assert_str_eq(out, "20G");
    bw_format_size(1536ULL << 20, out, sizeof(out));
    ck_assert_str_eq(out, "1536M");
    bw_format_size(1000, out, sizeof(out));
    ck_assert_str_eq(out, "1000");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("units");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_durations_parse_like_go);
    tcase_add_test(tc, test_sizes_parse_with_binary_units);
    tcase_add_test(tc, test_formatting_round_trips);
    suite_add_tcase(s, tc);
    return test_run(s);
}
