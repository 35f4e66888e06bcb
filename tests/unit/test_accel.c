/* Choosing the accelerator: asked for, no device, and the real probe with its cache. */
#include "golden.h"
#include "../../builder/drivers/accel.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

START_TEST(test_asked_for_is_taken_as_is)
{
    char why[256];
    ck_assert_str_eq(bw_accel_choose("tcg", why, sizeof(why)), "tcg");
    ck_assert_str_eq(bw_accel_choose("kvm", why, sizeof(why)), "kvm");
    ck_assert_ptr_nonnull(strstr(why, "as asked"));
}
END_TEST

START_TEST(test_no_usable_device_means_tcg_and_says_why)
{
    setenv("BOXWRIGHT_KVM_DEVICE", "/nonexistent/kvm", 1);
    char why[256];
    ck_assert_str_eq(bw_accel_choose("auto", why, sizeof(why)), "tcg");
    ck_assert_ptr_nonnull(strstr(why, "/nonexistent/kvm"));
    ck_assert_ptr_nonnull(strstr(why, "No such file"));
    unsetenv("BOXWRIGHT_KVM_DEVICE");
}
END_TEST

/*
 * With a /dev/kvm, the verdict comes from booting a kernel: on a host where
 * KVM hangs guests (as on the machines this project runs on) it must be TCG
 * with that reason, where KVM works it must be KVM; either way the second
 * call takes the cached verdict at once.
 */
START_TEST(test_probe_decides_by_booting_and_caches_the_verdict)
{
    if (access("/dev/kvm", R_OK | W_OK) != 0 || access("/usr/bin/qemu-system-x86_64", X_OK) != 0)
        return; /* nothing to probe: covered by the test above */
    char dir[] = "/tmp/bw-accel-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    setenv("XDG_RUNTIME_DIR", dir, 1); /* a fresh cache */
    char why[512];
    const char *first = bw_accel_choose("auto", why, sizeof(why));
    ck_assert_msg(strcmp(first, "kvm") == 0 ? strstr(why, "booted under it") != NULL
                                            : strstr(why, "printed nothing under KVM") != NULL,
                  "%s: %s", first, why);
    time_t t0 = time(NULL);
    const char *second = bw_accel_choose("auto", why, sizeof(why));
    ck_assert_str_eq(second, first);
    ck_assert_ptr_nonnull(strstr(why, "probed earlier"));
    ck_assert_int_le(time(NULL) - t0, 1);
    test_rm_rf(dir);
    unsetenv("XDG_RUNTIME_DIR");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("accel");
    TCase *tc = tcase_create("choose");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_asked_for_is_taken_as_is);
    tcase_add_test(tc, test_no_usable_device_means_tcg_and_says_why);
    tcase_add_test(tc, test_probe_decides_by_booting_and_caches_the_verdict);
    suite_add_tcase(s, tc);
    return test_run(s);
}
