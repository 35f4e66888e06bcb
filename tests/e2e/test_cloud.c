/*
 * Builds that start from a disk image with a cloud-init seed, and a direct
 * kernel boot, end to end against real guests:
 *
 *   - `boxwright build debian-12-cloud` from the tests' Debian 12 disk (the
 *     real cloud-init 22.4 from apt), once with the seed over HTTP (SMBIOS
 *     serial) to an exported box, from the disk as a streamOptimized VMDK
 *     (QEMU) or the qcow2 itself (libvirt), once on a cidata volume from the
 *     disk converted to raw, under UEFI (OVMF), to a validated box.
 *     A provisioner proves inside the building guest that the isolated
 *     network has no DNS, no outside address and no way to the host's
 *     loopback; a check proves which seed cloud-init used.
 *   - `boxwright build tiny` booted with boot method kernel (kernel and
 *     initrd read out of the ISO, nothing typed) on a NAT (user) network,
 *     where the guest reaches the HTTP server at 10.0.2.100 as well.
 *
 * With BW_E2E_DRIVER=libvirt (under tests/e2e/with-libvirtd) the same builds
 * go through libvirtd.
 */
#include "fixture.h"
#include "../../builder/base/digest.h"
#include "../unit/golden.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <dirent.h>
#include <jansson.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char work[64];
static char *cache_env;
static bool libvirt;
static const char *lv_uri;

static void setup(void)
{
    snprintf(work, sizeof(work), "/tmp/bw-cloud-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(work));
    cache_env = bw_xasprintf("BOXWRIGHT_CACHE_DIR=%s/cache", work);
}

static void teardown(void)
{
    test_rm_rf(work);
    free(cache_env);
}

static void driver_args(struct e2e_args *a)
{
    if (libvirt) {
        e2e_push(a, "--driver");
        e2e_push(a, "libvirt");
        e2e_push(a, "--libvirt-uri");
        e2e_push(a, lv_uri);
    }
}

static json_t *copy_template(const char *name, char **def_path)
{
    return e2e_copy_template(work, name, def_path);
}

static void save(json_t *def, const char *path)
{
    e2e_save_json(def, path);
}

/* Fails the provisioning if the guest reaches anything but boxwright's own HTTP server: a DNS
 * answer, an outside address, or the host's loopback through 10.0.2.2 (where a NAT guest finds
 * boxwright's server, on a port from 8100 to 8199). */
static const char *const isolation_check =
    "if timeout 10 getent hosts deb.debian.org; then echo 'DNS answered'; exit 1; fi\n"
    "if timeout 5 bash -c 'exec 3<>/dev/tcp/1.1.1.1/80'; then echo 'reached 1.1.1.1:80'; exit 1; "
    "fi\n"
    /* One process tries every port (a shell forked per port took 20 s under TCG): refused or
     * unanswered for 2 s is isolated. cloud-init brings python3. */
    "python3 -c '\n"
    "import socket, sys\n"
    "for port in range(8100, 8200):\n"
    "    s = socket.socket()\n"
    "    s.settimeout(2)\n"
    "    try:\n"
    "        s.connect((\"10.0.2.2\", port))\n"
    "    except OSError:\n"
    "        continue\n"
    "    sys.exit(\"reached the host loopback at 10.0.2.2:%d\" % port)\n"
    "' || exit 1\n"
    "echo 'isolated: no DNS, no outside address, no host loopback'";

static char *file_digest(const char *path)
{
    char hex[BW_HASH_MAX_HEX + 1];
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_hash_file(path, BW_HASH_SHA512, hex, NULL, NULL, &err), 0);
    return bw_xstrdup(hex);
}

static void junit_counts(const char *out, const char *name, int tests)
{
    char *junit = bw_xasprintf("%s/%s-validation.xml", out, name);
    struct bw_buf x = BW_BUF_INIT;
    bw_buf_init(&x);
    ck_assert_int_eq(bw_buf_read_file(&x, junit), 0);
    char want[64];
    snprintf(want, sizeof(want), "tests=\"%d\" failures=\"0\"", tests);
    ck_assert_msg(strstr(x.data, want) != NULL, "%s", x.data);
    bw_buf_release(&x);
    free(junit);
}

/* boxwright build DEF --var image_url=... --var checksum=... --output OUT [driver options]. */
static void cloud_args(struct e2e_args *a, const char *def_path, const char *url, const char *sums,
                       const char *out)
{
    a->n = 0;
    e2e_push(a, BW_BINARY);
    e2e_push(a, "build");
    e2e_push(a, def_path);
    e2e_push(a, "--var");
    e2e_push(a, url);
    e2e_push(a, "--var");
    e2e_push(a, sums);
    e2e_push(a, "--output");
    e2e_push(a, out);
    driver_args(a);
}

/* The test disk in `format` with a SHA512SUMS beside it: qcow2 is the fixture itself; raw and
 * VMDK are converted from it by qemu-img into the fixture directory once, and again when the
 * fixture changes (the streamOptimized VMDK takes about 30 s). Returns the directory. */
static char *disk_as(const char *format, char **disk)
{
    char *fixture = e2e_fixture_cloud_disk();
    if (strcmp(format, "qcow2") == 0) {
        *disk = fixture;
        return bw_xstrdup(BW_FIXTURE_DIR);
    }
    char *dir = bw_xasprintf("%s/debian-12-cloud-%s", BW_FIXTURE_DIR, format);
    *disk = bw_xasprintf("%s/debian-12-cloud.%s", dir, format);
    char *sums = bw_xasprintf("%s/SHA512SUMS", dir);
    struct stat from, to;
    ck_assert_int_eq(stat(fixture, &from), 0);
    /* SHA512SUMS is written last: when it is there and new enough, so is the image. */
    if (stat(sums, &to) != 0 || to.st_mtime < from.st_mtime || access(*disk, R_OK) != 0) {
        /* Under a lock, looked at again: e2e_cloud and e2e_cloud_libvirt run side by side, and
         * one must not remove the sums the other's build is reading. */
        char *script = bw_xasprintf(
            "set -e; mkdir -p %s; cd %s; exec 9>.lock; flock 9; "
            "if [ -r debian-12-cloud.%s ] && [ SHA512SUMS -nt %s ]; then exit 0; fi; "
            "rm -f SHA512SUMS; qemu-img convert -O %s %s %s new.%s; "
            "mv new.%s debian-12-cloud.%s; sha512sum debian-12-cloud.%s > SHA512SUMS.new; "
            "mv SHA512SUMS.new SHA512SUMS",
            dir, dir, format, fixture, format,
            strcmp(format, "vmdk") == 0 ? "-o subformat=streamOptimized" : "", fixture, format,
            format, format, format);
        char *sh[] = {"/bin/sh", "-c", script, NULL};
        struct bw_spawn_result res;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(bw_spawn_run(sh, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
        bw_spawn_result_release(&res);
        free(script);
    }
    free(sums);
    free(fixture);
    return dir;
}

/* debian-12-cloud from the test disk in `format` with the seed delivered as `seed`; returns
 * stderr. Without `validate` the exported box is not booted again. */
static char *build_cloud(const char *seed, const char *expect_seed, const char *format,
                         bool validate, bool efi)
{
    char *disk;
    char *dir = disk_as(format, &disk);
    /* The cached image is never written: same time and size (and, for the qcow2, the same
     * bytes; hashing the 2 GiB raw twice would cost 15 s). */
    bool qcow2 = strcmp(format, "qcow2") == 0;
    char *before = qcow2 ? file_digest(disk) : NULL;
    struct stat st_before, st_after;
    ck_assert_int_eq(stat(disk, &st_before), 0);
    char *def_path;
    json_t *def = copy_template("debian-12-cloud", &def_path);
    json_object_set_new(json_object_get(def, "cloud_init"), "seed", json_string(seed));
    json_object_set_new(json_object_get(def, "image"), "format", json_string(format));
    json_object_set_new(json_object_get(def, "vm"), "firmware", json_string(efi ? "efi" : "bios"));
    json_array_insert_new(json_object_get(def, "provision"), 0,
                          json_pack("{s:[s],s:b}", "inline", isolation_check, "sudo", 0));
    /* Which seed cloud-init used, proven in the building guest (after the template's script
     * recorded it), so a build that is not validated proves it too. */
    char *seed_check = bw_xasprintf("grep -F -q '%s' /var/lib/boxwright/cloud-init-datasource || "
                                    "{ echo 'cloud-init did not use the seed it was given:'; "
                                    "cat /var/lib/boxwright/cloud-init-datasource; exit 1; }\n"
                                    "echo 'cloud-init used the seed it was given'\n"
                                    "if [ -d /sys/firmware/efi ]; then echo 'booted by UEFI'; "
                                    "else echo 'booted by BIOS'; fi",
                                    expect_seed);
    json_array_append_new(json_object_get(def, "provision"),
                          json_pack("{s:[s],s:b}", "inline", seed_check, "sudo", 0));
    free(seed_check);
    save(def, def_path);

    char *out = bw_xasprintf("%s/out-%s-%s", work, seed, format);
    char *url = bw_xasprintf("image_url=file://%s", disk);
    char *sums = bw_xasprintf("checksum=file:file://%s/SHA512SUMS", dir);
    struct e2e_args a;
    cloud_args(&a, def_path, url, sums, out);
    if (!validate)
        e2e_push(&a, "--skip-validate");
    struct bw_spawn_result res;
    int status = e2e_run(a.v, cache_env, &res);
    ck_assert_msg(status == 0, "build failed (%d):\n%s", status, res.err.data);
    const char *log = res.err.data;
    char *overlay =
        bw_xasprintf("a qcow2 overlay on the cached %s image (2G), grown to 10G", format);
    ck_assert_msg(strstr(log, overlay), "%s", log);
    ck_assert_msg(strstr(log, "isolated: no DNS, no outside address, no host loopback"), "%s", log);
    ck_assert_msg(strstr(log, "cloud-init used the seed it was given"), "%s", log);
    ck_assert_msg(strstr(log, efi ? "booted by UEFI" : "booted by BIOS"), "%s", log);
    ck_assert_msg(!strstr(log, "==> installer") && !strstr(log, "==> type"), "%s", log);
    /* The template's 7 checks. */
    if (validate)
        junit_counts(out, "debian-12-cloud", 7);
    else
        ck_assert_msg(strstr(log, "skipped (--skip-validate)"), "%s", log);
    char *box = bw_xasprintf("%s/debian-12-cloud-libvirt.box", out);
    ck_assert_int_eq(access(box, R_OK), 0);
    char *wk = bw_xasprintf("%s/.work", out);
    ck_assert_int_ne(access(wk, F_OK), 0);
    ck_assert_int_eq(e2e_processes_with(out, "qemu-system"), 0);
    ck_assert_int_eq(stat(disk, &st_after), 0);
    ck_assert_int_eq(st_after.st_size, st_before.st_size);
    ck_assert(st_after.st_mtim.tv_sec == st_before.st_mtim.tv_sec &&
              st_after.st_mtim.tv_nsec == st_before.st_mtim.tv_nsec);
    char *after = qcow2 ? file_digest(disk) : NULL;
    if (qcow2)
        ck_assert_str_eq(before, after);

    char *log_copy = bw_xstrdup(log);
    bw_spawn_result_release(&res);
    free(overlay);
    free(after);
    free(wk);
    free(box);
    free(sums);
    free(url);
    free(out);
    free(def_path);
    free(before);
    free(disk);
    free(dir);
    return log_copy;
}

/* The seed over HTTP, to an exported box (validation is the cidata case's). Through QEMU
 * from a VMDK as vendors ship them (streamOptimized), through libvirt from the qcow2: the
 * image's format is the core's business (a qcow2 overlay on it, made before any driver runs;
 * a remote libvirt gets a flattened copy either way), so each format once is enough. */
START_TEST(test_cloud_image_with_the_seed_over_http)
{
    char *log = build_cloud("http", "seed=dmi,http://10.0.2.100:", libvirt ? "qcow2" : "vmdk",
                            false, false);
    ck_assert_msg(strstr(log, "(SMBIOS serial)"), "%s", log);
    ck_assert_msg(strstr(log, "the guest fetched user-data 1 time"), "%s", log);
    ck_assert_msg(strstr(log, "the guest fetched vendor-data 1 time"), "%s", log);
    free(log);
}
END_TEST

/* A raw image: the overlay names its backing format, so the guest sees the same disk. The seed
 * volume is a read-only virtio disk, on the system disk's bus (a distro's cloud kernel may have
 * no AHCI for a SATA CD-ROM). Under UEFI: OVMF boots the stand-in's GRUB (EFI/BOOT/BOOTX64.EFI),
 * the guest says it booted by UEFI. The box is validated, under OVMF too: booted again with a
 * fresh seed, every check of the template run. */
/* Files of boxwright's domains in libvirt's own NVRAM directory. */
static int nvram_files(void)
{
    DIR *d = opendir("/var/lib/libvirt/qemu/nvram");
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += strncmp(e->d_name, "boxwright-", 10) == 0;
    if (d)
        closedir(d);
    return n;
}

START_TEST(test_cloud_image_with_the_seed_on_a_cidata_volume)
{
    int nvram_before = nvram_files();
    char *log = build_cloud("cd", "seed=/dev/vd", "raw", true, true);
    /* libvirt keeps a transient EFI domain's variables: they must be in the work directory */
    ck_assert_int_eq(nvram_files(), nvram_before);
    ck_assert_msg(strstr(log, "NoCloud seed on a volume labelled cidata"), "%s", log);
    ck_assert_msg(strstr(log, "seed volume attached"), "%s", log);
    ck_assert_msg(!strstr(log, "SMBIOS"), "%s", log);
    free(log);
}
END_TEST

/* tiny, booted straight into the installer's kernel on a NAT network: nothing typed. */
START_TEST(test_direct_kernel_boot_on_a_user_network)
{
    char *iso = e2e_fixture_iso();
    char *def_path;
    json_t *def = copy_template("tiny", &def_path);
    json_object_set_new(
        def, "boot",
        json_pack("{s:s,s:s,s:s,s:s}", "method", "kernel", "kernel", "/vmlinuz", "initrd",
                  "/initrd.gz", "append",
                  "initrd=/initrd.gz console=ttyS0 quiet auto "
                  "url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/answer.cfg hostname={{ user "
                  "`hostname` }}"));
    json_object_set_new(json_object_get(def, "vm"), "network", json_string("user"));
    save(def, def_path);
    char *out = bw_xasprintf("%s/out-kernel", work);
    char *url = bw_xasprintf("iso_url=file://%s", iso);
    struct e2e_args a = {{NULL}, 0};
    e2e_push(&a, BW_BINARY);
    e2e_push(&a, "build");
    e2e_push(&a, def_path);
    e2e_push(&a, "--var");
    e2e_push(&a, url);
    e2e_push(&a, "--output");
    e2e_push(&a, out);
    driver_args(&a);
    struct bw_spawn_result res;
    int status = e2e_run(a.v, cache_env, &res);
    const char *log = res.err.data;
    ck_assert_msg(status == 0, "build failed (%d):\n%s", status, log);
    ck_assert_msg(strstr(log, "direct kernel boot: /vmlinuz and /initrd.gz from the ISO"), "%s",
                  log);
    ck_assert_msg(strstr(log, "(10.0.2.100:8100 in the guest, user network)"), "%s", log);
    ck_assert_msg(strstr(log, "guest GET /answer.cfg 200"), "%s", log);
    ck_assert_msg(!strstr(log, "==> type") && !strstr(log, "for the boot menu"), "%s", log);
    /* tiny's five checks include: the recorded kernel command line ends with hostname=tiny. */
    junit_counts(out, "tiny", 5);
    ck_assert_int_eq(e2e_processes_with(out, "qemu-system"), 0);
    bw_spawn_result_release(&res);
    free(url);
    free(out);
    free(def_path);
    free(iso);
}
END_TEST

/* Ctrl-C at each step of a cloud build (seed on a volume) leaves no QEMU and no work files. */
START_TEST(test_sigint_at_each_cloud_step_leaves_nothing_behind)
{
    char *disk = e2e_fixture_cloud_disk();
    char *def_path;
    json_t *def = copy_template("debian-12-cloud", &def_path);
    json_object_set_new(json_object_get(def, "cloud_init"), "seed", json_string("cd"));
    save(def, def_path);
    char *url = bw_xasprintf("image_url=file://%s", disk);
    char *sums = bw_xasprintf("checksum=file:file://%s/SHA512SUMS", BW_FIXTURE_DIR);
    static const char *const steps[] = {"seed", "disk", "boot", "ssh"};
    for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        char *out = bw_xasprintf("%s/out-int-%s", work, steps[i]);
        struct e2e_args a;
        cloud_args(&a, def_path, url, sums, out);
        e2e_push(&a, "--json");
        struct bw_buf log = BW_BUF_INIT;
        bw_buf_init(&log);
        int status = e2e_signal_at(a.v, cache_env, steps[i], &log, SIGINT);
        ck_assert_msg(status == 130, "interrupted at %s: exit %d\n%s", steps[i], status, log.data);
        ck_assert_msg(e2e_processes_with(out, "qemu-system") == 0, "QEMU left after %s", steps[i]);
        char *wk = bw_xasprintf("%s/.work", out);
        ck_assert_msg(access(wk, F_OK) != 0, "work files left after %s", steps[i]);
        free(wk);
        bw_buf_release(&log);
        free(out);
    }
    free(sums);
    free(url);
    free(def_path);
    free(disk);
}
END_TEST

/* The catalogue's cloud templates, each as shipped, built from a stand-in in its distro's layout
 * (tests/fixtures/build-cloud-stand-in): the image fetched under the distro's file name and
 * verified against the distro's checksum file (GNU binary, BSD tagged, clear-signed), the root
 * grown on the distro's file system at the distro's last partition, the seed consumed by the real
 * cloud-init with every datasource searched and the distro's default user configured; the box
 * validated by every check of the template. CI builds one (rocky-9-cloud: XFS, BSD CHECKSUM,
 * through libvirt); BW_CLOUD_TEMPLATES names others, separated by spaces ("all": the four). */
static const struct {
    const char *tmpl, *layout, *image, *sums;
} stand_ins[] = {
    {"rocky-9-cloud", "rocky-9", "Rocky-9-GenericCloud-Base.latest.x86_64.qcow2", "CHECKSUM"},
    {"ubuntu-24.04-cloud", "ubuntu-24.04", "noble-server-cloudimg-amd64.img", "SHA256SUMS"},
    {"almalinux-9-cloud", "almalinux-9", "AlmaLinux-9-GenericCloud-latest.x86_64.qcow2",
     "CHECKSUM"},
    {"fedora-cloud", "fedora", "Fedora-Cloud-Base-Generic-44-1.7.x86_64.qcow2",
     "Fedora-Cloud-44-1.7-x86_64-CHECKSUM"},
};

START_TEST(test_catalogue_cloud_templates_build_from_stand_ins)
{
    const char *want = getenv("BW_CLOUD_TEMPLATES");
    if (!want || !*want)
        want = "rocky-9-cloud";
    int built = 0;
    for (size_t i = 0; i < sizeof(stand_ins) / sizeof(stand_ins[0]); i++) {
        const char *name = stand_ins[i].tmpl;
        char *padded = bw_xasprintf(" %s ", want);
        char *key = bw_xasprintf(" %s ", name);
        bool chosen = strcmp(want, "all") == 0 || strstr(padded, key) != NULL;
        free(key);
        free(padded);
        if (!chosen)
            continue;
        char *dir =
            e2e_fixture_cloud_stand_in(stand_ins[i].layout, stand_ins[i].image, stand_ins[i].sums);
        char *out = bw_xasprintf("%s/out-%s", work, name);
        char *url = bw_xasprintf("image_url=file://%s/%s", dir, stand_ins[i].image);
        char *sums = bw_xasprintf("checksum=file:file://%s/%s", dir, stand_ins[i].sums);
        struct e2e_args a;
        cloud_args(&a, name, url, sums, out);
        struct bw_spawn_result res;
        int status = e2e_run(a.v, cache_env, &res);
        const char *log = res.err.data;
        ck_assert_msg(status == 0, "%s: build failed (%d):\n%s", name, status, log);
        /* A cache of its own: fetched and verified against the line naming the image. */
        ck_assert_msg(strstr(log, "checksum verified"), "%s: %s", name, log);
        ck_assert_msg(strstr(log, "the guest fetched user-data 1 time"), "%s", log);
        /* The template's checks, the image's root file system and no default user among them. */
        junit_counts(out, name, 9);
        char *box = bw_xasprintf("%s/%s-libvirt.box", out, name);
        ck_assert_int_eq(access(box, R_OK), 0);
        ck_assert_int_eq(e2e_processes_with(out, "qemu-system"), 0);
        bw_spawn_result_release(&res);
        free(box);
        free(sums);
        free(url);
        free(out);
        free(dir);
        built++;
    }
    ck_assert_msg(built > 0, "BW_CLOUD_TEMPLATES names no cloud template of the catalogue: %s",
                  want);
}
END_TEST

int main(void)
{
    int skip = e2e_environment(&libvirt, &lv_uri);
    if (skip)
        return skip;
    Suite *s = suite_create(libvirt ? "e2e-cloud-libvirt" : "e2e-cloud");
    TCase *tc = tcase_create(libvirt ? "libvirt" : "qemu");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 900);
    tcase_add_test(tc, test_direct_kernel_boot_on_a_user_network);
    tcase_add_test(tc, test_cloud_image_with_the_seed_over_http);
    tcase_add_test(tc, test_cloud_image_with_the_seed_on_a_cidata_volume);
    tcase_add_test(tc, test_sigint_at_each_cloud_step_leaves_nothing_behind);
    /* The driver's part is debian-12-cloud's, proven through both drivers: CI builds its
     * stand-in through libvirt, whose suite is the shorter of the two that run side by side;
     * BW_CLOUD_TEMPLATES builds others, through QEMU too. */
    if (libvirt || getenv("BW_CLOUD_TEMPLATES"))
        tcase_add_test(tc, test_catalogue_cloud_templates_build_from_stand_ins);
    suite_add_tcase(s, tc);
    return test_run(s);
}
