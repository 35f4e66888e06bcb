/*
 * The drivers that run a hypervisor's own tool (VBoxManage), against golden transcripts: a
 * stand-in on PATH (tests/fakes/transcript) answers each command from the transcript and fails
 * any command the transcript does not expect next; every case then checks that the driver
 * issued exactly the transcript's commands, no more, no fewer. VirtualBox and VMware cannot run
 * here: these prove what boxwright asks of them, not that they do it. (The VMware driver's VNC
 * client is proven against QEMU's VNC server in tests/e2e/test_typing.c.)
 */
#include "golden.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/disk/disk.h"
#include "../../builder/drivers/driver.h"
#include "../../builder/drivers/forward.h"
#include "../../builder/drivers/hvcli.h"
#include "../../builder/drivers/leases.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
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
    if (strcmp(tool, "vmrun") == 0) { /* Workstation's version comes from `vmware -v` */
        link = bw_xasprintf("%s/vmware", fakebin);
        ck_assert_int_eq(symlink(BW_TEST_DATA "/../fakes/transcript", link), 0);
        free(link);
    }
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

/* A Windows installer (EFI, SATA, e1000, WinRM's port forwarded): the installer ISO and the
 * answer files' CD on the IDE controller, both detached before the VM is unregistered. */
START_TEST(test_virtualbox_answer_cd)
{
    begin("virtualbox", "VBoxManage", "answer-cd-6.1");
    struct bw_vm_spec s = installer_spec();
    s.firmware = "efi";
    s.disk_model = "sata";
    s.nic_model = "e1000";
    s.ssh_guest_port = 5985;
    s.answer_iso = "/work/out/.work/answers.iso";
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

/* A VNC server as VMware's answers (RFB 3.8, no password, a 720x400 screen) that records what
 * the client sends after the handshake: the key events. */
struct fake_vnc {
    int listener;
    unsigned port;
    pthread_t thread;
    struct bw_buf got;
};

static int read_n(int fd, void *buf, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t k = read(fd, (char *)buf + got, n - got);
        if (k <= 0)
            return -1;
        got += (size_t)k;
    }
    return 0;
}

static void *fake_vnc_run(void *arg)
{
    struct fake_vnc *v = arg;
    int c = accept(v->listener, NULL, NULL);
    if (c < 0)
        return NULL;
    uint8_t buf[64];
    static const uint8_t init[] = {0x02, 0xd0, 0x01, 0x90, 32,  24,  0,   1,  0, 255,
                                   0,    255,  0,    255,  16,  8,   0,   0,  0, 0,
                                   0,    0,    0,    4,    'f', 'a', 'k', 'e'};
    if (write(c, "RFB 003.008\n", 12) != 12 || read_n(c, buf, 12) < 0 ||
        write(c, "\x01\x01", 2) != 2 || read_n(c, buf, 1) < 0 || write(c, "\0\0\0\0", 4) != 4 ||
        read_n(c, buf, 1) < 0 || write(c, init, sizeof(init)) != (ssize_t)sizeof(init)) {
        close(c);
        return NULL;
    }
    ssize_t k;
    while ((k = read(c, buf, sizeof(buf))) > 0)
        bw_buf_add(&v->got, buf, (size_t)k);
    close(c);
    return NULL;
}

static void fake_vnc_start(struct fake_vnc *v)
{
    bw_buf_init(&v->got);
    v->listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    ck_assert_int_eq(bind(v->listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(v->listener, 1), 0);
    getsockname(v->listener, (struct sockaddr *)&sa, &sl);
    v->port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(&v->thread, NULL, fake_vnc_run, v), 0);
}

/* A guest's SSH port: answers each line with the same line. */
struct echo {
    int listener;
    unsigned port;
    pthread_t thread;
};

static void *echo_run(void *arg)
{
    struct echo *e = arg;
    int c = accept(e->listener, NULL, NULL);
    char buf[256];
    ssize_t k;
    while (c >= 0 && (k = read(c, buf, sizeof(buf))) > 0)
        if (write(c, buf, (size_t)k) != k)
            break;
    if (c >= 0)
        close(c);
    return NULL;
}

/* The VMX that start() writes, with the test's paths and ports as @WORK@, @VNC@. */
static char *vmx_written(const char *path, unsigned vnc)
{
    struct bw_buf in = BW_BUF_INIT, out = BW_BUF_INIT;
    bw_buf_init(&in);
    bw_buf_init(&out);
    ck_assert_int_eq(bw_buf_read_file(&in, path), 0);
    char port[32];
    snprintf(port, sizeof(port), "\"%u\"", vnc);
    for (const char *p = in.data; *p;) {
        if (strncmp(p, work, strlen(work)) == 0) {
            bw_buf_adds(&out, "@WORK@");
            p += strlen(work);
        } else if (strncmp(p, port, strlen(port)) == 0) {
            bw_buf_adds(&out, "\"@VNC@\"");
            p += strlen(port);
        } else {
            bw_buf_addc(&out, *p++);
        }
    }
    bw_buf_release(&in);
    return bw_buf_detach(&out);
}

/* An installer VM on VMware Workstation: the .vmx (golden), vmrun's commands (transcript),
 * keys over VNC as RFB key events (Shift+A: Shift down, "A" down, "A" up, Shift up), SSH
 * through the forwarder to the address vmnet8's DHCP server gave the VM's MAC, the power-off
 * seen in vmrun list, and the guest's writes back in the build's disk. */
START_TEST(test_vmware_installer_life)
{
    begin("vmware", "vmrun", "installer-ws");
    struct fake_vnc vnc;
    fake_vnc_start(&vnc);
    struct echo echo = {.listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    ck_assert_int_eq(bind(echo.listener, (struct sockaddr *)&sa, sizeof(sa)), 0);
    ck_assert_int_eq(listen(echo.listener, 1), 0);
    getsockname(echo.listener, (struct sockaddr *)&sa, &sl);
    echo.port = ntohs(sa.sin_port);
    ck_assert_int_eq(pthread_create(&echo.thread, NULL, echo_run, &echo), 0);
    /* vmnet8's DHCP server gave the VM's MAC 127.0.0.1 (an older lease says otherwise) */
    char *leases = bw_xasprintf("%s/dhcpd.leases", work);
    FILE *f = fopen(leases, "w");
    fprintf(f, "lease 172.16.84.128 {\n\thardware ethernet 00:50:56:1d:13:b2;\n}\n"
               "lease 127.0.0.1 {\n\tstarts 2 2026/12/01 20:00:02;\n"
               "\thardware ethernet 00:50:56:1D:13:B2;\n}\n");
    fclose(f);
    setenv("BOXWRIGHT_VMWARE_LEASES", leases, 1);

    struct bw_vm_spec s = installer_spec();
    s.answer_iso = "/work/out/.work/answers.iso"; /* a second CD, as a Windows build has */
    s.vnc_port = vnc.port;
    s.ssh_host_port = bw_free_port();
    s.ssh_guest_port = echo.port;
    const struct bw_driver *d = bw_driver_find("vmware");
    ck_assert_ptr_eq(d, &bw_driver_vmware);
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = d->create(&s, &err);
    ck_assert_msg(vm != NULL, "%s", err.msg);
    ck_assert_msg(d->start(vm, &err) == 0, "%s", err.msg);
    char *vmx_path = bw_xasprintf("%s/boxwright-tiny-4242-installer.vmx", work);
    char *vmx = vmx_written(vmx_path, vnc.port);
    char *msg = golden_check("vmware", "installer-ws.vmx", vmx, strlen(vmx));
    ck_assert_msg(msg == NULL, "%s", msg);
    struct stat st;
    ck_assert_int_eq(stat(vmx_path, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    char *vmdk = bw_xasprintf("%s/disk.vmdk", work);
    ck_assert_int_eq(qemu_io("vmdk", vmdk, "write -P 0x6b 2M 64k"), 0);
    enum bw_key shift_a[] = {BW_KEY_SHIFT_L, BW_KEY_A};
    ck_assert_msg(d->send_chord(vm, shift_a, 2, 10, &err) == 0, "%s", err.msg);
    /* SSH through the forwarder */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in fw = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s.ssh_host_port)};
    fw.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ck_assert_int_eq(connect(c, (struct sockaddr *)&fw, sizeof(fw)), 0);
    ck_assert_int_eq(write(c, "SSH-2.0-test\r\n", 14), 14);
    char back[32] = "";
    ck_assert_int_eq(read_n(c, back, 14), 0);
    ck_assert_int_eq(memcmp(back, "SSH-2.0-test\r\n", 14), 0);
    close(c);
    ck_assert_msg(d->wait_off(vm, 60000, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(qemu_io("qcow2", s.disk, "read -P 0x6b 2M 64k"), 0);
    d->destroy(vm);
    ck_assert_int_ne(access(vmdk, F_OK), 0);
    /* What went over VNC after the handshake: SetPixelFormat (20 bytes), SetEncodings (12:
     * raw, DesktopSize), then the chord as four key events. */
    pthread_join(vnc.thread, NULL);
    static const uint8_t keys[] = {4, 1, 0, 0, 0, 0, 0xff, 0xe1, 4, 1, 0, 0, 0, 0, 0,    'A',
                                   4, 0, 0, 0, 0, 0, 0,    'A',  4, 0, 0, 0, 0, 0, 0xff, 0xe1};
    ck_assert_uint_eq(vnc.got.len, 20 + 12 + sizeof(keys));
    ck_assert_int_eq(vnc.got.data[0], 0);
    ck_assert_int_eq(vnc.got.data[20], 2);
    ck_assert_int_eq(memcmp(vnc.got.data + 32, keys, sizeof(keys)), 0);
    close(vnc.listener);
    bw_buf_release(&vnc.got);
    pthread_join(echo.thread, NULL);
    close(echo.listener);
    unsetenv("BOXWRIGHT_VMWARE_LEASES");
    free(leases);
    free(vmdk);
    free(msg);
    free(vmx);
    free(vmx_path);
    end();
}
END_TEST

START_TEST(test_vmware_refusals)
{
    begin("vmware", "vmrun", "old");
    struct bw_vm_spec o = installer_spec();
    struct bw_error e = BW_ERROR_INIT;
    struct bw_vm *old = bw_driver_vmware.create(&o, &e);
    ck_assert_int_eq(bw_driver_vmware.start(old, &e), -1);
    ck_assert_msg(strstr(e.msg, "\"VMware Workstation 12.5.9 build-7535481\": expected VMware "
                                "Workstation 14 or later"),
                  "%s", e.msg);
    bw_error_release(&e);
    bw_driver_vmware.destroy(old);
    end();
    begin("vmware", "vmrun", "running");
    struct bw_vm_spec s = installer_spec();
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = bw_driver_vmware.create(&s, &err);
    ck_assert_int_eq(bw_driver_vmware.start(vm, &err), -1);
    ck_assert_msg(strstr(err.msg, "VMware is already running ") &&
                      strstr(err.msg, "vmrun -T ws stop "),
                  "%s", err.msg);
    bw_error_release(&err);
    bw_driver_vmware.destroy(vm);
    end();
    /* No vmrun at all. */
    begin("vmware", "vmrun", "none");
    setenv("PATH", "/nonexistent", 1);
    vm = bw_driver_vmware.create(&s, &err);
    ck_assert_int_eq(bw_driver_vmware.start(vm, &err), -1);
    ck_assert_msg(strstr(err.msg, "vmrun") && strstr(err.msg, "VMware Workstation"), "%s", err.msg);
    bw_error_release(&err);
    bw_driver_vmware.destroy(vm);
    end();
    s.isolated = true;
    ck_assert_ptr_null(bw_driver_vmware.create(&s, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "vm.network \"isolated\""));
    s.isolated = false;
    s.nic_model = "rtl8139";
    ck_assert_ptr_null(bw_driver_vmware.create(&s, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "(rtl8139)"));
    bw_error_release(&err);
    /* Where the guest reaches HTTP: vmnet8's address, or the one named. */
    char ip[64];
    setenv("BOXWRIGHT_VMWARE_HOST_IP", "172.16.84.1", 1);
    ck_assert_int_eq(bw_driver_vmware.http_host_address(ip, sizeof(ip), &err), 0);
    ck_assert_str_eq(ip, "172.16.84.1");
    unsetenv("BOXWRIGHT_VMWARE_HOST_IP");
    ck_assert_int_eq(bw_driver_vmware.http_host_address(ip, sizeof(ip), &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "no vmnet8 interface"));
    bw_error_release(&err);
}
END_TEST

static int lease(const char *text, const char *mac, char *ip)
{
    return bw_dhcp_lease_find(text, strlen(text), mac, ip, 16);
}

/* The newest lease of the MAC (dhcpd appends), any case; nothing from a block that is not a
 * lease, an address too long for the buffer, or another MAC. */
START_TEST(test_dhcp_leases)
{
    struct bw_buf f = BW_BUF_INIT;
    bw_buf_init(&f);
    ck_assert_int_eq(bw_buf_read_file(&f, BW_TEST_DATA "/../fuzz/corpus/leases/vmnet8"), 0);
    char ip[16];
    ck_assert_int_eq(lease(f.data, "00:50:56:2a:0b:0c", ip), 0);
    ck_assert_str_eq(ip, "172.16.84.130");
    ck_assert_int_eq(lease(f.data, "00:0C:29:AA:BB:CC", ip), 0);
    ck_assert_str_eq(ip, "172.16.84.129");
    ck_assert_int_eq(lease(f.data, "00:50:56:2a:0b:0d", ip), -1);
    ck_assert_int_eq(lease(f.data, "00:50:56:2a:0b", ip), -1); /* a prefix is not the MAC */
    ck_assert_int_eq(
        lease("host x {\n hardware ethernet 00:50:56:01:02:03;\n}\n", "00:50:56:01:02:03", ip), -1);
    ck_assert_int_eq(lease("lease fe80:0000:0000:0000:1111:2222 {\n hardware ethernet "
                           "00:50:56:01:02:03;\n}\n",
                           "00:50:56:01:02:03", ip),
                     -1);
    bw_buf_release(&f);
}
END_TEST

/* An installer VM on Parallels Desktop 19: the plan and keys (scan codes as send-key-event's
 * JSON on its standard input) as transcripts, the disk Parallels made (written here as the
 * Parallels-format image qemu-img reads) back in the build's qcow2 once the VM stops. */
START_TEST(test_parallels_installer_life)
{
    begin("parallels", "prlctl", "installer-19");
    struct bw_vm_spec s = installer_spec();
    s.nic_model = "virtio";
    s.answer_iso = "/work/out/.work/answers.iso"; /* a second CD, as a Windows build has */
    const struct bw_driver *d = bw_driver_find("parallels");
    ck_assert_ptr_eq(d, &bw_driver_parallels);
    struct bw_error err = BW_ERROR_INIT;
    struct bw_vm *vm = d->create(&s, &err);
    ck_assert_msg(vm != NULL, "%s", err.msg);
    ck_assert_msg(d->start(vm, &err) == 0, "%s", err.msg);
    /* What Parallels made and the guest wrote to. */
    char *bundle = bw_xasprintf("%s/boxwright-tiny-4242-installer.pvm/harddisk.hdd", work);
    char *mk = bw_xasprintf("mkdir -p '%s'", bundle);
    ck_assert_int_eq(system(mk), 0);
    char *hds =
        bw_xasprintf("%s/harddisk.hdd.0.{5fbaabe3-6958-40ff-92a7-860e329aab41}.hds", bundle);
    char *argv[] = {"qemu-img", "create", "-q", "-f", "parallels", hds, "16M", NULL};
    struct bw_spawn_result r;
    ck_assert_msg(bw_spawn_run(argv, NULL, NULL, 0, &r, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&r);
    ck_assert_int_eq(qemu_io("parallels", hds, "write -P 0x3c 3M 64k"), 0);
    enum bw_key shift_a[] = {BW_KEY_SHIFT_L, BW_KEY_A}, up[] = {BW_KEY_UP};
    ck_assert_msg(d->send_chord(vm, shift_a, 2, 100, &err) == 0, "%s", err.msg);
    ck_assert_msg(d->send_chord(vm, up, 1, 100, &err) == 0, "%s", err.msg);
    char *base = bw_xasprintf("%s/screen", work);
    char *png = d->screenshot(vm, base, false, &err);
    ck_assert_msg(png != NULL, "%s", err.msg);
    ck_assert_msg(d->wait_off(vm, 60000, &err) == 0, "%s", err.msg);
    ck_assert_int_eq(qemu_io("qcow2", s.disk, "read -P 0x3c 3M 64k"), 0);
    d->destroy(vm);
    free(png);
    free(base);
    free(hds);
    free(mk);
    free(bundle);
    end();
}
END_TEST

START_TEST(test_parallels_refusals)
{
    struct bw_error err = BW_ERROR_INIT;
    begin("parallels", "prlctl", "old");
    struct bw_vm_spec s = installer_spec();
    struct bw_vm *vm = bw_driver_parallels.create(&s, &err);
    ck_assert_int_eq(bw_driver_parallels.start(vm, &err), -1);
    ck_assert_msg(strstr(err.msg, "\"prlctl version 18.3.2 (53621)\": expected Parallels Desktop "
                                  "19 or later"),
                  "%s", err.msg);
    bw_error_release(&err);
    bw_driver_parallels.destroy(vm);
    end();
    begin("parallels", "prlctl", "exists");
    s = installer_spec();
    vm = bw_driver_parallels.create(&s, &err);
    ck_assert_int_eq(bw_driver_parallels.start(vm, &err), -1);
    ck_assert_msg(strstr(err.msg, "Parallels already has a VM named"), "%s", err.msg);
    bw_error_release(&err);
    bw_driver_parallels.destroy(vm);
    end();
    /* What Parallels cannot do is refused before anything runs. */
    s.smbios_serial = "ds=nocloud-net;s=http://10.211.55.2:8100/";
    ck_assert_ptr_null(bw_driver_parallels.create(&s, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "cloud_init.seed \"http\""));
    s.smbios_serial = NULL;
    s.iso = NULL; /* a disk image source */
    ck_assert_ptr_null(bw_driver_parallels.create(&s, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "attaches only disks it made"));
    s.isolated = true;
    ck_assert_ptr_null(bw_driver_parallels.create(&s, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "vm.network \"isolated\""));
    bw_error_release(&err);
    /* Parallels' own leases: the lease that began last wins, whatever the case. */
    struct bw_buf f = BW_BUF_INIT;
    bw_buf_init(&f);
    ck_assert_int_eq(bw_buf_read_file(&f, BW_TEST_DATA "/../fuzz/corpus/leases/parallels"), 0);
    char ip[16];
    ck_assert_int_eq(bw_parallels_lease_find(f.data, f.len, "00:1c:42:f5:93:fb", ip, sizeof(ip)),
                     0);
    ck_assert_str_eq(ip, "10.211.55.183");
    ck_assert_int_eq(bw_parallels_lease_find(f.data, f.len, "001C42AABBCC", ip, sizeof(ip)), 0);
    ck_assert_str_eq(ip, "10.211.55.182");
    ck_assert_int_eq(bw_parallels_lease_find(f.data, f.len, "001C42AABBCD", ip, sizeof(ip)), -1);
    bw_buf_release(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hvcli");
    TCase *tc = tcase_create("hypervisor-tools");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_virtualbox_installer_life);
    tcase_add_test(tc, test_virtualbox_61_stopped);
    tcase_add_test(tc, test_virtualbox_answer_cd);
    tcase_add_test(tc, test_virtualbox_failures);
    tcase_add_test(tc, test_virtualbox_missing_and_refused);
    tcase_add_test(tc, test_versions_and_values);
    tcase_add_test(tc, test_vmware_installer_life);
    tcase_add_test(tc, test_vmware_refusals);
    tcase_add_test(tc, test_dhcp_leases);
    tcase_add_test(tc, test_parallels_installer_life);
    tcase_add_test(tc, test_parallels_refusals);
    suite_add_tcase(s, tc);
    return test_run(s);
}
