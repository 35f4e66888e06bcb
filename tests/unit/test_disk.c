/* Disk images through qemu-img: what a build, validation and the exporters rely on. */
#include "golden.h"
#include "../../builder/base/digest.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/disk/disk.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/bw-disk-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    test_rm_rf(dir);
}

static char *at(const char *name)
{
    return bw_xasprintf("%s/%s", dir, name);
}

static void info(const char *image, uint64_t *size, char fmt[16])
{
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_disk_info(image, size, fmt, &err) == 0, "%s", err.msg);
}

START_TEST(test_an_overlay_grows_the_disk_and_never_writes_its_base)
{
    char *base = at("base.qcow2"), *top = at("top.qcow2");
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_disk_create(base, 64ULL << 20, &err) == 0, "%s", err.msg);
    char before[BW_HASH_MAX_HEX + 1], after[BW_HASH_MAX_HEX + 1];
    ck_assert_int_eq(bw_hash_file(base, BW_HASH_SHA256, before, NULL, NULL, &err), 0);
    /* a relative base works from any directory: the overlay records where it really is */
    char *cwd = getcwd(NULL, 0);
    ck_assert_int_eq(chdir(dir), 0);
    ck_assert_msg(bw_disk_overlay(top, "base.qcow2", "qcow2", 1ULL << 30, &err) == 0, "%s",
                  err.msg);
    ck_assert_int_eq(chdir(cwd), 0);
    uint64_t size;
    char fmt[16];
    info(top, &size, fmt);
    ck_assert_str_eq(fmt, "qcow2");
    ck_assert_uint_eq(size, 1ULL << 30);
    /* size 0: the base's size */
    char *same = at("same.qcow2");
    ck_assert_msg(bw_disk_overlay(same, base, "qcow2", 0, &err) == 0, "%s", err.msg);
    info(same, &size, fmt);
    ck_assert_uint_eq(size, 64ULL << 20);
    ck_assert_int_eq(bw_hash_file(base, BW_HASH_SHA256, after, NULL, NULL, &err), 0);
    ck_assert_str_eq(before, after);
    free(same);
    free(cwd);
    free(top);
    free(base);
}
END_TEST

START_TEST(test_a_disk_converts_to_each_format_a_box_needs)
{
    char *src = at("src.qcow2");
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_disk_create(src, 32ULL << 20, &err), 0);
    static const struct {
        const char *format, *options, *probed;
    } cases[] = {
        {"qcow2", NULL, "qcow2"},
        {"raw", NULL, "raw"},
        {"vmdk", "subformat=streamOptimized", "vmdk"},
        {"vhdx", NULL, "vhdx"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *name = bw_xasprintf("out-%zu.%s", i, cases[i].format);
        char *out = at(name);
        ck_assert_msg(bw_disk_convert(src, out, cases[i].format, cases[i].options, &err) == 0,
                      "%s: %s", cases[i].format, err.msg);
        uint64_t size;
        char fmt[16];
        info(out, &size, fmt);
        ck_assert_str_eq(fmt, cases[i].probed);
        ck_assert_uint_eq(size, 32ULL << 20);
        free(out);
        free(name);
    }
    free(src);
}
END_TEST

START_TEST(test_errors_name_the_image_and_what_qemu_img_said)
{
    char *missing = at("no-such.qcow2");
    uint64_t size;
    char fmt[16];
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_disk_info(missing, &size, fmt, &err), -1);
    ck_assert_msg(strstr(err.msg, missing) && strstr(err.msg, "qemu-img info"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "No such file"), "%s", err.msg);
    bw_error_release(&err);
    char *out = at("out.qcow2");
    ck_assert_int_eq(bw_disk_convert(missing, out, "qcow2", NULL, &err), -1);
    ck_assert_msg(strstr(err.msg, missing), "%s", err.msg);
    ck_assert_int_ne(access(out, F_OK), 0);
    bw_error_release(&err);
    free(out);
    free(missing);
}
END_TEST

/* A box from elsewhere is not booted when its disk would make QEMU open other host files. */
START_TEST(test_only_self_contained_disks_are_booted)
{
    struct bw_error err = BW_ERROR_INIT;
    char *base = at("base.qcow2"), *top = at("top.qcow2"), *sv = at("s.vmdk"), *flat = at("f.vmdk");
    ck_assert_int_eq(bw_disk_create(base, 32ULL << 20, &err), 0);
    ck_assert_int_eq(bw_disk_check_self_contained(base, &err), 0);
    ck_assert_int_eq(bw_disk_convert(base, sv, "vmdk", "subformat=streamOptimized", &err), 0);
    ck_assert_int_eq(bw_disk_check_self_contained(sv, &err), 0);
    char *vhdx = at("h.vhdx"), *vpc = at("h.vhd");
    ck_assert_int_eq(bw_disk_convert(base, vhdx, "vhdx", "subformat=dynamic", &err), 0);
    ck_assert_int_eq(bw_disk_check_self_contained(vhdx, &err), 0);
    ck_assert_int_eq(bw_disk_convert(base, vpc, "vpc", NULL, &err), 0);
    ck_assert_int_eq(bw_disk_check_self_contained(vpc, &err), -1);
    ck_assert_msg(strstr(err.msg, "none of qcow2, raw, VMDK and VHDX"), "%s", err.msg);
    bw_error_release(&err);
    free(vhdx);
    free(vpc);
    ck_assert_int_eq(bw_disk_overlay(top, base, "qcow2", 0, &err), 0);
    ck_assert_int_eq(bw_disk_check_self_contained(top, &err), -1);
    ck_assert_msg(strstr(err.msg, "backing file"), "%s", err.msg);
    ck_assert_str_eq(err.file, top);
    bw_error_release(&err);
    ck_assert_int_eq(bw_disk_convert(base, flat, "vmdk", "subformat=monolithicFlat", &err), 0);
    ck_assert_int_eq(bw_disk_check_self_contained(flat, &err), -1);
    ck_assert_msg(strstr(err.msg, "extents could be any files"), "%s", err.msg);
    bw_error_release(&err);
    /* a hand-written descriptor naming a file of this host as its data */
    char *evil = at("evil.vmdk");
    FILE *f = fopen(evil, "w");
    ck_assert_ptr_nonnull(f);
    fputs("# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n"
          "createType=\"monolithicFlat\"\nRW 8 FLAT \"/etc/hostname\" 0\n",
          f);
    fclose(f);
    ck_assert_int_eq(bw_disk_check_self_contained(evil, &err), -1);
    bw_error_release(&err);
    free(evil);
    free(flat);
    free(sv);
    free(top);
    free(base);
}
END_TEST

/* The CID is set to the 8 digits asked for whatever qemu-img wrote (it does not pad: a CID
 * below 0x10000000 has fewer digits), and the disk stays what it was. */
START_TEST(test_a_vmdk_content_id_can_be_fixed_whatever_its_length)
{
    struct bw_error err = BW_ERROR_INIT;
    char *src = at("src.qcow2"), *vmdk = at("d.vmdk");
    ck_assert_int_eq(bw_disk_create(src, 32ULL << 20, &err), 0);
    static const char *const subformats[] = {"subformat=monolithicSparse",
                                             "subformat=streamOptimized"};
    for (size_t f = 0; f < 2; f++) {
        ck_assert_int_eq(bw_disk_convert(src, vmdk, "vmdk", subformats[f], &err), 0);
        /* as qemu-img writes a small CID: "CID=abc" */
        FILE *fp = fopen(vmdk, "r+b");
        ck_assert_ptr_nonnull(fp);
        char head[65536];
        size_t n = fread(head, 1, sizeof(head), fp);
        char *cid = memmem(head, n, "\nCID=", 5) + 5;
        size_t digits = strspn(cid, "0123456789abcdef");
        char *end = memchr(cid, '\0', (size_t)(head + n - cid));
        memmove(cid + 3, cid + digits, (size_t)(end - (cid + digits)));
        memset(end - (digits - 3), 0, digits - 3);
        memcpy(cid, "abc", 3);
        fseek(fp, 0, SEEK_SET);
        ck_assert_uint_eq(fwrite(head, 1, n, fp), n);
        fclose(fp);
        char *argv[] = {"qemu-img", "info", "--output=json", vmdk, NULL};
        struct bw_spawn_result res;
        ck_assert_int_eq(bw_spawn_run(argv, NULL, NULL, 0, &res, &err), 0);
        ck_assert_ptr_nonnull(strstr(res.out.data, "\"cid\": 2748,")); /* 0xabc */
        bw_spawn_result_release(&res);

        ck_assert_msg(bw_disk_set_vmdk_cid(vmdk, 0x1234abcd, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(bw_spawn_run(argv, NULL, NULL, 0, &res, &err), 0);
        ck_assert_msg(strstr(res.out.data, "\"cid\": 305441741,"), "%s", res.out.data);
        ck_assert_ptr_nonnull(strstr(res.out.data, "\"virtual-size\": 33554432"));
        bw_spawn_result_release(&res);
        char *check[] = {"qemu-img", "check", vmdk, NULL};
        ck_assert_msg(bw_spawn_run(check, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
        bw_spawn_result_release(&res);
        unlink(vmdk);
    }
    free(vmdk);
    free(src);
}
END_TEST

/* The same disk converts to the same VHDX once its identifiers are set from one seed; qemu-img
 * still reads it (checksums right: it refuses a header whose CRC-32C is wrong), and the data is
 * the disk's. A file that is no VHDX is refused. */
START_TEST(test_a_vhdx_is_made_reproducible)
{
    struct bw_error err = BW_ERROR_INIT;
    char *src = at("src.qcow2"), *a = at("a.vhdx"), *b = at("b.vhdx");
    ck_assert_int_eq(bw_disk_create(src, 64ULL << 20, &err), 0);
    char *io[] = {"qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 1M", src, NULL};
    struct bw_spawn_result res;
    ck_assert_int_eq(bw_spawn_run(io, NULL, NULL, 0, &res, &err), 0);
    bw_spawn_result_release(&res);
    char hex[2][BW_HASH_MAX_HEX + 1];
    char *paths[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(bw_disk_convert(src, paths[i], "vhdx", "subformat=dynamic", &err), 0);
        ck_assert_int_eq(bw_hash_file(paths[i], BW_HASH_SHA256, hex[i], NULL, NULL, &err), 0);
    }
    ck_assert_str_ne(hex[0], hex[1]); /* qemu-img makes them random */
    for (int i = 0; i < 2; i++) {
        ck_assert_msg(bw_disk_set_vhdx_ids(paths[i], 1700000000, &err) == 0, "%s", err.msg);
        ck_assert_int_eq(bw_hash_file(paths[i], BW_HASH_SHA256, hex[i], NULL, NULL, &err), 0);
    }
    ck_assert_str_eq(hex[0], hex[1]);
    char *check[] = {"qemu-img", "check", "-f", "vhdx", a, NULL};
    ck_assert_msg(bw_spawn_run(check, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&res);
    char *read[] = {"qemu-io", "-f", "vhdx", "-c", "read -P 0x5a 1M 1M", a, NULL};
    ck_assert_int_eq(bw_spawn_run(read, NULL, NULL, 0, &res, &err), 0);
    ck_assert_msg(!strstr(res.out.data, "failed"), "%s", res.out.data);
    bw_spawn_result_release(&res);
    /* A broken header checksum is what qemu-img would refuse: prove the check can fail. */
    FILE *fp = fopen(a, "r+b");
    fseek(fp, 0x10000 + 100, SEEK_SET);
    fputc(0x42, fp);
    fseek(fp, 0x20000 + 100, SEEK_SET);
    fputc(0x42, fp);
    fclose(fp);
    char *info_argv[] = {"qemu-img", "info", "-f", "vhdx", a, NULL};
    ck_assert_int_ne(bw_spawn_run(info_argv, NULL, NULL, 0, &res, &err), 0);
    bw_spawn_result_release(&res);
    bw_error_release(&err);
    ck_assert_int_eq(bw_disk_set_vhdx_ids(src, 1, &err), -1);
    ck_assert_msg(strstr(err.file, "src.qcow2") && strstr(err.msg, "expected two headers"), "%s",
                  err.msg);
    bw_error_release(&err);
    free(a);
    free(b);
    free(src);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("disk");
    TCase *tc = tcase_create("qemu-img");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_an_overlay_grows_the_disk_and_never_writes_its_base);
    tcase_add_test(tc, test_a_disk_converts_to_each_format_a_box_needs);
    tcase_add_test(tc, test_errors_name_the_image_and_what_qemu_img_said);
    tcase_add_test(tc, test_only_self_contained_disks_are_booted);
    tcase_add_test(tc, test_a_vmdk_content_id_can_be_fixed_whatever_its_length);
    tcase_add_test(tc, test_a_vhdx_is_made_reproducible);
    suite_add_tcase(s, tc);
    return test_run(s);
}
