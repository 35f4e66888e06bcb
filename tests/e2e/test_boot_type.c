/*
 * End to end, with a real QEMU (TCG) and the tests' own installer ISO
 * (tests/fixtures/build-installer-iso): boot it, wait for its menu, type the
 * boot command through QMP, let it fetch the answer file from boxwright's
 * HTTP server over an isolated network, and compare what the guest reports
 * byte for byte with what boxwright meant to type and serve.
 */
#include "fixture.h"
#include "http_server.h"
#include "../unit/golden.h"
#include "../../builder/core/definition.h"
#include "../../builder/core/prepare.h"
#include "../../builder/core/spawn.h"
#include "../../builder/core/xmalloc.h"
#include "../../builder/build/build.h"
#include "../../builder/comm/ssh.h"
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
    iso = e2e_fixture_iso();
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

static void boot_and_type(const struct bw_key_events *ev, unsigned http_port, const char *disk,
                          struct run *out)
{
    const struct bw_driver *d = bw_driver_find("qemu");
    ck_assert_ptr_nonnull(d);
    struct bw_vm_spec spec = {0};
    spec.name = "bw-e2e";
    spec.workdir = work;
    spec.iso = iso;
    spec.disk = disk;
    spec.disk_format = "qcow2";
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
    char *base = bw_xasprintf("%s/after-typing", work);
    char *png = d->screenshot(vm, base, &err);
    ck_assert_msg(png != NULL, "%s", err.msg);
    free(base);
    struct stat st;
    ck_assert_int_eq(stat(png, &st), 0);
    ck_assert_int_gt(st.st_size, 100);
    free(png);
    ck_assert_msg(d->wait_off(vm, 180000, &err) == 0, "%s", err.msg);
    out->serial = read_serial(d, vm);
    d->destroy(vm);
}

static void collect(const char *data, size_t len, bool is_stderr, void *ud)
{
    if (!is_stderr)
        bw_buf_add(ud, data, len);
}

/* Runs cmd over SSH; returns its stdout (caller frees) and checks the exit status. */
static char *ssh_out(struct bw_ssh *s, const char *cmd, int want_status)
{
    struct bw_buf out = BW_BUF_INIT;
    bw_buf_init(&out);
    int status = -1;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_ssh_run(s, cmd, NULL, 0, collect, &out, &status, &err) == 0, "%s: %s", cmd,
                  err.msg);
    ck_assert_msg(status == want_status, "%s: exit %d, expected %d", cmd, status, want_status);
    return bw_buf_detach(&out);
}

static void check_installed_system(const struct bw_definition *def, const char *disk,
                                   const char *typed_cmdline, const char *answer)
{
    const struct bw_driver *d = bw_driver_find("qemu");
    char *dir = bw_xasprintf("%s/installed", work);
    mkdir(dir, 0755);
    struct bw_vm_spec spec = {0};
    spec.name = "bw-e2e-installed";
    spec.workdir = dir;
    spec.disk = disk;
    spec.disk_format = "qcow2";
    spec.memory = 256ULL << 20;
    spec.cpus = 1;
    spec.accel = "tcg";
    spec.isolated = true;
    spec.ssh_host_port = bw_free_port();
    spec.ssh_guest_port = 22;
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = d->create(&spec, &err);
    ck_assert_msg(vm && d->start(vm, &err) == 0, "%s", err.msg);
    struct bw_buf user = BW_BUF_INIT, pass = BW_BUF_INIT;
    struct bw_errors errs = BW_ERRORS_INIT;
    ck_assert_int_eq(bw_prepare_string(def, ".ssh.username", def->ssh.username, &user, &errs), 0);
    ck_assert_int_eq(bw_prepare_string(def, ".ssh.password", def->ssh.password, &pass, &errs), 0);
    struct bw_ssh_config cfg = {"127.0.0.1", spec.ssh_host_port, user.data, pass.data, NULL, 180000,
                                NULL};
    struct bw_ssh *s = bw_ssh_connect(&cfg, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    /* The template's own checks, as box validation will run them. */
    for (size_t i = 0; i < def->n_checks; i++) {
        struct bw_buf cmd = BW_BUF_INIT;
        ck_assert_int_eq(bw_prepare_string(def, ".checks", def->checks[i].command, &cmd, &errs), 0);
        char *out = ssh_out(s, cmd.data, (int)def->checks[i].expect_status);
        bw_buf_release(&cmd);
        if (def->checks[i].expect_output)
            ck_assert_msg(strstr(out, def->checks[i].expect_output), "check \"%s\": got %s",
                          def->checks[i].name, out);
        free(out);
    }
    /* What the installer recorded is what boxwright typed and served, byte for byte. */
    char *rec = ssh_out(s, "cat /var/lib/boxwright/cmdline", 0);
    ck_assert_str_eq(rec, typed_cmdline);
    free(rec);
    rec = ssh_out(s, "cat /var/lib/boxwright/answer.cfg", 0);
    ck_assert_str_eq(rec, answer);
    free(rec);
    int status;
    bw_ssh_run(s, "sudo poweroff", NULL, 0, NULL, NULL, &status, &err);
    bw_ssh_close(s);
    ck_assert_msg(d->wait_off(vm, 120000, &err) == 0, "%s", err.msg);
    d->destroy(vm);
    bw_error_release(&err);
    bw_buf_release(&user);
    bw_buf_release(&pass);
    free(dir);
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

    char *disk = bw_xasprintf("%s/disk.qcow2", work);
    char *qargv[] = {"qemu-img", "create", "-q", "-f", "qcow2", disk, "1G", NULL};
    struct bw_spawn_result qres;
    ck_assert_msg(bw_spawn_run(qargv, NULL, NULL, 0, &qres, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&qres);
    struct run run;
    boot_and_type(&ev, bw_http_port(srv), disk, &run);
    ck_assert_msg(strstr(run.serial, "BW-INSTALL-DONE"), "the install failed:\n%s", run.serial);

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

    /* The installed system: boot the disk alone, log in as the template says, run its checks. */
    check_installed_system(def, disk, want, files.v[0].data.data);

    free(disk);
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
    boot_and_type(&ev, 0, NULL, &run);
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
    if (getenv("BW_SKIP_VM_TESTS")) {
        printf("BW_SKIP_VM_TESTS is set; skipping\n");
        return 77;
    }
    Suite *s = suite_create("e2e-boot-type");
    TCase *tc = tcase_create("qemu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 400);
    tcase_add_test(tc, test_tiny_boot_command_and_answer_file_reach_the_installer);
    tcase_add_test(tc, test_every_printable_character_arrives_intact);
    suite_add_tcase(s, tc);
    return test_run(s);
}
