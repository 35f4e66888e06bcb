/*
 * End to end, with a real QEMU (TCG) and the tests' own installer ISO
 * (tests/fixtures/build-installer-iso): boot it, wait for its menu, type the
 * boot command through QMP, let it fetch the answer file from boxwright's
 * HTTP server over an isolated network, and compare what the guest reports
 * byte for byte with what boxwright meant to type and serve.
 */
#include "http_server.h"
#include "../unit/golden.h"
#include "../../builder/core/definition.h"
#include "../../builder/core/prepare.h"
#include "../../builder/core/spawn.h"
#include "../../builder/core/xmalloc.h"
#include "../../builder/drivers/driver.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char work[64];
static char *iso;

/* Builds the fixture ISO once per build tree (the script is quick; the ISO is never committed). */
static void setup(void)
{
    snprintf(work, sizeof(work), "/tmp/bw-e2e-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(work));
    iso = bw_xasprintf("%s/tiny-installer.iso", BW_FIXTURE_DIR);
    struct stat st;
    if (stat(iso, &st) != 0) {
        mkdir(BW_FIXTURE_DIR, 0755);
        char *argv[] = {BW_FIXTURE_SCRIPT, iso, NULL};
        struct bw_spawn_result res;
        struct bw_error err = BW_ERROR_INIT;
        int rc = bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
        ck_assert_msg(rc == 0, "building the fixture ISO: %s", err.msg);
        bw_spawn_result_release(&res);
    }
}

static void teardown(void)
{
    test_rm_rf(work);
    free(iso);
}

/* Text of the serial log between two marker lines (CRs dropped); caller frees, NULL if absent. */
static char *between(const char *log, const char *begin, const char *end)
{
    const char *b = strstr(log, begin);
    if (!b)
        return NULL;
    b = strchr(b, '\n');
    const char *e = b ? strstr(b, end) : NULL;
    if (!e)
        return NULL;
    struct bw_buf out = BW_BUF_INIT;
    bw_buf_init(&out);
    for (const char *p = b + 1; p < e; p++)
        if (*p != '\r')
            bw_buf_addc(&out, *p);
    return bw_buf_detach(&out);
}

static char *read_serial(const struct bw_driver *d, struct bw_vm *vm)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_read_file(&b, d->serial_log(vm));
    return bw_buf_detach(&b);
}

/* Waits until the installer's menu is on the serial console (isolinux mirrors it there). */
static void wait_for_menu(const struct bw_driver *d, struct bw_vm *vm)
{
    for (int i = 0; i < 1200; i++) {
        char *s = read_serial(d, vm);
        bool up = strstr(s, "Automated install") != NULL;
        free(s);
        if (up)
            return;
        usleep(100 * 1000);
    }
    ck_abort_msg("the installer menu did not appear within 120 s");
}

struct run {
    char *serial;
    double typing_s;
    size_t presses;
};

static void boot_and_type(const struct bw_key_events *ev, unsigned http_port, struct run *out)
{
    const struct bw_driver *d = bw_driver_find("qemu");
    ck_assert_ptr_nonnull(d);
    struct bw_vm_spec spec = {0};
    spec.name = "bw-e2e";
    spec.workdir = work;
    spec.iso = iso;
    spec.memory = 256ULL << 20;
    spec.cpus = 1;
    spec.accel = "tcg"; /* nested KVM hangs guests on these machines */
    spec.isolated = true;
    spec.http_port = http_port;
    spec.http_guest_ip = "10.0.2.100";
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = d->create(&spec, &err);
    ck_assert_msg(vm != NULL, "%s", err.msg);
    ck_assert_msg(d->start(vm, &err) == 0, "%s", err.msg);
    wait_for_menu(d, vm);
    struct bw_key_timing timing = {1, 2};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_msg(d->send_keys(vm, ev, &timing, &err) == 0, "%s", err.msg);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->typing_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    out->presses = bw_key_events_presses(ev);
    char *png = bw_xasprintf("%s/after-typing.png", work);
    ck_assert_msg(d->screenshot(vm, png, &err) == 0, "%s", err.msg);
    struct stat st;
    ck_assert_int_eq(stat(png, &st), 0);
    ck_assert_int_gt(st.st_size, 100);
    free(png);
    ck_assert_msg(d->wait_off(vm, 180000, &err) == 0, "%s", err.msg);
    out->serial = read_serial(d, vm);
    d->destroy(vm);
}

START_TEST(test_tiny_boot_command_and_answer_file_reach_the_installer)
{
    char *path = bw_xasprintf("%s/tiny/definition.json", BW_TEMPLATES);
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load(path, &errs);
    ck_assert_ptr_nonnull(def);
    struct bw_http_config cfg = {0};
    struct bw_http_server *srv = bw_http_new(&cfg);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_http_bind(srv, &err), 0);
    char port[16];
    snprintf(port, sizeof(port), "%u", bw_http_port(srv));
    bw_vars_set_string(&def->vars, "HTTPPort", port, "test");
    struct bw_rendered files = BW_RENDERED_INIT;
    ck_assert_uint_eq(bw_prepare_answer_files(def, &files, &errs), 0);
    ck_assert_int_eq(
        bw_http_add_file(srv, files.v[0].name, files.v[0].data.data, files.v[0].data.len, &err), 0);
    ck_assert_int_eq(bw_http_start(srv, &err), 0);
    struct bw_buf typed = BW_BUF_INIT;
    bw_buf_init(&typed);
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    ck_assert_uint_eq(bw_prepare_boot_command(def, &typed, &ev, &errs), 0);

    struct run run;
    boot_and_type(&ev, bw_http_port(srv), &run);

    char *cmdline = between(run.serial, "BW-CMDLINE-BEGIN", "BW-CMDLINE-END");
    ck_assert_msg(cmdline != NULL, "no command line on the serial console:\n%s", run.serial);
    /* isolinux turns "auto ARGS" into the label's APPEND line followed by ARGS. */
    char *want = bw_xasprintf("BOOT_IMAGE=/vmlinuz initrd=/initrd.gz console=ttyS0 quiet "
                              "url=http://10.0.2.100:%s/answer.cfg hostname=tiny\n",
                              port);
    ck_assert_str_eq(cmdline, want);
    char *answer = between(run.serial, "BW-ANSWER-BEGIN", "BW-ANSWER-END");
    ck_assert_msg(answer != NULL, "the guest did not get the answer file:\n%s", run.serial);
    ck_assert_str_eq(answer, files.v[0].data.data);
    ck_assert_uint_eq(bw_http_fetches(srv, "answer.cfg"), 1);

    free(answer);
    free(want);
    free(cmdline);
    free(run.serial);
    bw_key_events_release(&ev);
    bw_buf_release(&typed);
    bw_rendered_release(&files);
    bw_http_stop(srv);
    bw_definition_free(def);
    free(path);
}
END_TEST

/* Every printable ASCII character, typed through QMP, arrives in the kernel command line intact. */
START_TEST(test_every_printable_character_arrives_intact)
{
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    bw_buf_adds(&text, "bw=");
    for (int c = 0x21; c <= 0x7e; c++)
        bw_buf_addc(&text, (char)c);
    bw_buf_adds(&text, " x y  z ~end");
    char *cmd = bw_xasprintf("<esc><wait>auto %s<enter>", text.data);
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_bootcmd_compile(cmd, strlen(cmd), "test", &ev, &err) == 0, "%s", err.msg);
    struct run run;
    boot_and_type(&ev, 0, &run);
    char *cmdline = between(run.serial, "BW-CMDLINE-BEGIN", "BW-CMDLINE-END");
    ck_assert_msg(cmdline != NULL, "no command line on the serial console:\n%s", run.serial);
    char *want =
        bw_xasprintf("BOOT_IMAGE=/vmlinuz initrd=/initrd.gz console=ttyS0 quiet %s\n", text.data);
    ck_assert_str_eq(cmdline, want);
    size_t chars = strlen(text.data) + 5; /* "auto " */
    printf("typed %zu characters (%zu key presses) in %.2f s incl. a 1 s <wait>: %.0f chars/s "
           "excluding the wait\n",
           chars, run.presses, run.typing_s, (double)chars / (run.typing_s - 1.0));
    free(want);
    free(cmdline);
    free(run.serial);
    free(cmd);
    bw_key_events_release(&ev);
    bw_buf_release(&text);
}
END_TEST

int main(void)
{
    if (access("/usr/bin/qemu-system-x86_64", X_OK) != 0 && !getenv("CI")) {
        printf("qemu-system-x86_64 is missing (scripts/setup installs it); skipping\n");
        return 77;
    }
    Suite *s = suite_create("e2e-boot-type");
    TCase *tc = tcase_create("qemu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, test_tiny_boot_command_and_answer_file_reach_the_installer);
    tcase_add_test(tc, test_every_printable_character_arrives_intact);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
