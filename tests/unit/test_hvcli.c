/*
 * The drivers that run a hypervisor's own tool (VBoxManage), against golden transcripts: a
 * stand-in on PATH (tests/fakes/transcript) answers each command from the transcript and fails
 * any command the transcript does not expect next; every case then checks that the driver
 * issued exactly the transcript's commands, no more, no fewer. VirtualBox itself cannot run
 * here: these prove what boxwright asks of it, not that VirtualBox does it.
 */
#include "golden.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/disk/disk.h"
#include "../../builder/drivers/driver.h"
#include "../../builder/drivers/hvcli.h"

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char work[64];
static char *fakebin, *old_path;

/* A case: a work directory with a 16 MiB disk, the tool's stand-in on PATH replying from
 * tests/data/<driver>/<name>.transcript. */
static void begin(const char *driver, const char *tool, const char *name)
{
    strcpy(work, "/tmp/bw-hvcli-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(work));
    fakebin = bw_xasprintf("%s/bin", work);
    mkdir(fakebin, 0755);
    char *link = bw_xasprintf("%s/%s", fakebin, tool);
    ck_assert_int_eq(symlink(BW_TEST_DATA "/../fakes/transcript", link), 0);
    free(link);
    char *t = bw_xasprintf("%s/%s/%s.transcript", BW_TEST_DATA, driver, name);
    char *log = bw_xasprintf("%s/calls.log", work);
    setenv("BW_FAKE_TRANSCRIPT", t, 1);
    setenv("BW_FAKE_LOG", log, 1);
    setenv("BW_FAKE_WORK", work, 1);
    free(t);
    free(log);
    old_path = bw_xstrdup(getenv("PATH"));
    char *path = bw_xasprintf("%s:/usr/bin:/bin", fakebin);
    setenv("PATH", path, 1);
    free(path);
    char *disk = bw_xasprintf("%s/disk.qcow2", work);
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_disk_create(disk, 16 << 20, &err) == 0, "%s", err.msg);
    free(disk);
}

/* The "$ " lines of a file. */
static char *commands_of(const char *path)
{
    struct bw_buf in = BW_BUF_INIT, out = BW_BUF_INIT;
    bw_buf_init(&in);
    bw_buf_init(&out);
    if (bw_buf_read_file(&in, path) == 0)
        for (char *l = strtok(in.data, "\n"); l; l = strtok(NULL, "\n"))
            if (strncmp(l, "$ ", 2) == 0)
                bw_buf_addf(&out, "%s\n", l);
    bw_buf_release(&in);
    return bw_buf_detach(&out);
}

/* Every command of the transcript was issued, in order, and nothing else. */
static void end(void)
{
    char *want = commands_of(getenv("BW_FAKE_TRANSCRIPT"));
    char *got = commands_of(getenv("BW_FAKE_LOG"));
    ck_assert_str_eq(got, want);
    free(want);
    free(got);
    setenv("PATH", old_path, 1);
    free(old_path);
    free(fakebin);
    char *argv[] = {"rm", "-rf", work, NULL};
    struct bw_spawn_result r;
    bw_spawn_run(argv, NULL, NULL, 0, &r, NULL);
    bw_spawn_result_release(&r);
}

static struct bw_vm_spec installer_spec(void)
{
    static char disk[96];
    snprintf(disk, sizeof(disk), "%s/disk.qcow2", work);
    struct bw_vm_spec s = {0};
    s.name = "boxwright-tiny-4242-installer";
    s.workdir = work;
    s.iso = "/cache/sha256-0123/tiny installer.iso";
    s.disk = disk;
    s.disk_format = "qcow2";
    s.memory = 1ULL << 30;
    s.cpus = 2;
    s.firmware = "bios";
    s.disk_model = "virtio";
    s.nic_model = "virtio";
    s.ssh_host_port = 2222;
    s.ssh_guest_port = 22;
    s.http_port = 40123;
    s.keep_disk_changes = true;
    return s;
}

static int qemu_io(const char *fmt, const char *image, const char *cmd)
{
    char *argv[] = {"qemu-io", "-f", (char *)fmt, "-c", (char *)cmd, (char *)image, NULL};
    struct bw_spawn_result r;
    struct bw_error err = BW_ERROR_INIT;
    int rc = bw_spawn_run(argv, NULL, NULL, 0, &r, &err);
    /* qemu-io says "Pattern verification failed" and still exits 0 */
    if (rc == 0 && strstr(r.out.data, "failed"))
        rc = -1;
    bw_spawn_result_release(&r);
    bw_error_release(&err);
    return rc;
}

/* A whole installer VM on VirtualBox 7: the plan, the typing, a screenshot, the wait for the
 * power-off, and what the guest wrote back in the build's disk. */
START_TEST(test_virtualbox_installer_life)
{
    begin("virtualbox", "VBoxManage", "installer-7.0");
    const struct bw_driver *d = bw_driver_find("virtualbox");
    ck_assert_ptr_eq(d, &bw_driver_virtualbox);
    struct bw_vm_spec s = installer_spec();
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = d->create(&s, &err);
    ck_assert_msg(vm != NULL, "%s", err.msg);
    /* What it will run, before it runs anything: one line per command. */
    char *const *plan = d->command(vm);
    ck_assert_ptr_nonnull(plan[0]);
    ck_assert_ptr_null(plan[1]);
    ck_assert_ptr_nonnull(strstr(plan[0], "VBoxManage startvm boxwright-tiny-4242-installer"));
    ck_assert_ptr_nonnull(strstr(plan[0], "--nat-localhostreachable1 on  # on 7.0 and later"));
    ck_assert_msg(d->start(vm, &err) == 0, "%s", err.msg);
    /* The guest writes to its disk, which is the VDI while the VM runs. */
    char *vdi = bw_xasprintf("%s/disk.vdi", work);
    ck_assert_int_eq(qemu_io("vdi", vdi, "write -P 0x5a 1M 64k"), 0);
    enum bw_key shift_a[] = {BW_KEY_SHIFT_L, BW_KEY_A}, enter[] = {BW_KEY_ENTER};
    ck_assert_msg(d->send_chord(vm, shift_a, 2, 100, &err) == 0, "%s", err.msg);
    ck_assert_msg(d->send_chord(vm, enter, 1, 100, &err) == 0, "%s", err.msg);
    char *base = bw_xasprintf("%s/screen", work);
    char *png = d->screenshot(vm, base, true, &err);
    ck_assert_msg(png != NULL, "%s", err.msg);
    ck_assert_str_eq(png + strlen(work), "/screen.png");
    ck_assert_msg(d->wait_off(vm, 60000, &err) == 0, "%s", err.msg);
    /* Back in the build's qcow2 once the VM is off. */
    ck_assert_int_eq(qemu_io("qcow2", s.disk, "read -P 0x5a 1M 64k"), 0);
    ck_assert_str_eq(d->serial_log(vm) + strlen(work), "/serial.log");
    d->destroy(vm);
    ck_assert_int_ne(access(vdi, F_OK), 0); /* the VDI is gone with the VM */
    free(vdi);
    free(base);
    free(png);
    end();
}
END_TEST

/* VirtualBox 6.1: no --nat-localhostreachable1 (it does not know it, and needs none); a VM
 * that is still running when the build gives up is powered off, and unregistered. */
START_TEST(test_virtualbox_61_stopped)
{
    begin("virtualbox", "VBoxManage", "stopped-6.1");
    struct bw_vm_spec s = installer_spec();
    s.firmware = "efi";
    s.disk_model = "sata";
    s.nic_model = "e1000";
    s.iso = NULL;
    s.seed_iso = "/work/out/.work/seed.iso";
    s.smbios_serial = "ds=nocloud-net;s=http://10.0.2.2:40123/";
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = bw_driver_virtualbox.create(&s, &err);
    ck_assert_msg(vm != NULL, "%s", err.msg);
    ck_assert_msg(bw_driver_virtualbox.start(vm, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(bw_driver_virtualbox.stop(vm, &err), 0);
    bw_driver_virtualbox.destroy(vm);
    end();
}
END_TEST

/* Each failure names what is wrong and what would do: the tool's own words, the version found,
 * the VM in the way. */
static void start_fails(const char *name, bool then_wait, const char *expect)
{
    begin("virtualbox", "VBoxManage", name);
    struct bw_vm_spec s = installer_spec();
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = bw_driver_virtualbox.create(&s, &err);
    ck_assert_ptr_nonnull(vm);
    if (then_wait)
        ck_assert_msg(bw_driver_virtualbox.start(vm, &err) == 0, "%s", err.msg);
    int rc = then_wait ? bw_driver_virtualbox.wait_off(vm, 60000, &err)
                       : bw_driver_virtualbox.start(vm, &err);
    ck_assert_int_eq(rc, -1);
    ck_assert_msg(strstr(err.msg, expect), "%s: \"%s\" has no \"%s\"", name, err.msg, expect);
    bw_error_release(&err);
    bw_driver_virtualbox.destroy(vm);
    end();
}

START_TEST(test_virtualbox_failures)
{
    start_fails("too-old", false,
                "VBoxManage --version says \"5.2.44r139111\": expected VirtualBox 6.1 "
                "or later");
    start_fails("vm-exists", false,
                "VirtualBox already has a VM named \"boxwright-tiny-4242-installer\"");
    /* A command that fails: its words reach the user, and what was made is unmade. */
    start_fails("storage-fails", false,
                "VBoxManage storageattach failed (exit status 1): VBoxManage: error: Could not "
                "find file for the medium '/cache/sha256-0123/tiny installer.iso'");
    start_fails("aborted", true, "the VM stopped in state \"aborted\" (VirtualBox's log: ");
}
END_TEST

START_TEST(test_virtualbox_missing_and_refused)
{
    /* No VBoxManage on PATH at all. */
    begin("virtualbox", "VBoxManage", "vm-exists");
    char *empty = bw_xasprintf("%s/empty", work);
    mkdir(empty, 0755);
    char *path = bw_xasprintf("%s:%s", empty, "/nonexistent");
    setenv("PATH", path, 1);
    struct bw_vm_spec s = installer_spec();
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = bw_driver_virtualbox.create(&s, &err);
    ck_assert_int_eq(bw_driver_virtualbox.start(vm, &err), -1);
    ck_assert_msg(strstr(err.msg, "VBoxManage") && strstr(err.msg, "VirtualBox 6.1 or later"), "%s",
                  err.msg);
    bw_error_release(&err);
    bw_driver_virtualbox.destroy(vm);
    free(empty);
    free(path);
    setenv("BW_FAKE_TRANSCRIPT", BW_TEST_DATA "/virtualbox/none.transcript", 1);
    end();
    /* What VirtualBox cannot do is refused before anything runs. */
    s.isolated = true;
    ck_assert_ptr_null(bw_driver_virtualbox.create(&s, &err));
    ck_assert_msg(strstr(err.msg, "vm.network \"isolated\"") && strstr(err.msg, "\"user\""), "%s",
                  err.msg);
    s.isolated = false;
    s.kernel = "/work/kernel";
    ck_assert_ptr_null(bw_driver_virtualbox.create(&s, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "boot.method \"kernel\""));
    s.kernel = NULL;
    s.disk_model = "floppy";
    ck_assert_ptr_null(bw_driver_virtualbox.create(&s, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "(floppy)"));
    bw_error_release(&err);
}
END_TEST

START_TEST(test_versions_and_values)
{
    ck_assert_uint_eq(bw_hvcli_version("7.0.14r161095\n"), 700);
    ck_assert_uint_eq(bw_hvcli_version("6.1.50_Ubuntur161033"), 601);
    ck_assert_uint_eq(bw_hvcli_version("prlctl version 19.1.0 (54729)"), 1901);
    ck_assert_uint_eq(bw_hvcli_version("no version"), 0);
    char v[32];
    ck_assert_int_eq(bw_hvcli_value("name=\"x\"\nVMState=\"poweroff\"\n", "VMState", v, sizeof(v)),
                     0);
    ck_assert_str_eq(v, "poweroff");
    ck_assert_int_eq(bw_hvcli_value("\n\nVMStateChangeTime=\"x\"\n", "VMState", v, sizeof(v)), -1);
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_add_shell_word(&b, "plain/path-1.iso");
    bw_buf_addc(&b, ' ');
    bw_buf_add_shell_word(&b, "it's here");
    bw_buf_addc(&b, ' ');
    bw_buf_add_shell_word(&b, "");
    ck_assert_str_eq(b.data, "plain/path-1.iso 'it'\\''s here' ''");
    bw_buf_release(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hvcli");
    TCase *tc = tcase_create("virtualbox");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_virtualbox_installer_life);
    tcase_add_test(tc, test_virtualbox_61_stopped);
    tcase_add_test(tc, test_virtualbox_failures);
    tcase_add_test(tc, test_virtualbox_missing_and_refused);
    tcase_add_test(tc, test_versions_and_values);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
