/* Checksum specs and checksum files as distros publish them. */
#include "golden.h"
#include "iso_cache.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static const char sha256_empty[] =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

START_TEST(test_specs_parse_or_say_what_was_expected)
{
    static const struct {
        const char *spec;
        int rc;
        enum bw_hash_kind kind;
        const char *needle; /* in the error message */
    } cases[] = {
        {"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855", 0,
         BW_HASH_SHA256, NULL},
        {"md5:d41d8cd98f00b204e9800998ecf8427e", 0, BW_HASH_MD5, NULL},
        {"sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709", 0, BW_HASH_SHA1, NULL},
        {"sha512:cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0"
         "ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
         0, BW_HASH_SHA512, NULL},
        {"none", 0, BW_HASH_NONE, NULL},
        {"file:https://example.invalid/SHA256SUMS", 0, BW_HASH_NONE, NULL},
        {"sha256:abc", -1, 0, "64 hexadecimal digits, got 3"},
        {"sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", -1, 0,
         "not hex"},
        {"sha384:abcd", -1, 0, "expected md5:HEX"},
        {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", -1, 0, "expected"},
        {"file:", -1, 0, "URL"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bw_checksum_spec spec;
        struct bw_error err = BW_ERROR_INIT;
        int rc = bw_checksum_spec_parse(cases[i].spec, &spec, &err);
        ck_assert_msg(rc == cases[i].rc, "%s: rc %d", cases[i].spec, rc);
        if (rc == 0) {
            ck_assert_int_eq(spec.kind, cases[i].kind);
            if (spec.kind == BW_HASH_SHA256)
                ck_assert_str_eq(spec.hex, sha256_empty);
        } else {
            ck_assert_msg(strstr(err.msg, cases[i].needle), "%s: %s", cases[i].spec, err.msg);
            ck_assert_ptr_nonnull(strstr(err.msg, cases[i].spec));
        }
        bw_checksum_spec_release(&spec);
        bw_error_release(&err);
    }
}
END_TEST

static int find(const char *file, const char *name, struct bw_checksum_spec *out,
                struct bw_error *err)
{
    size_t len;
    char *text = golden_read("checksums", file, &len);
    int rc = bw_checksum_file_find(text, len, name, file, out, err);
    free(text);
    return rc;
}

START_TEST(test_gnu_bsd_and_clearsigned_files_find_the_iso)
{
    static const struct {
        const char *file, *name;
        enum bw_hash_kind kind;
        const char *hex_prefix;
    } cases[] = {
        {"debian-SHA256SUMS", "debian-12.14.0-amd64-netinst.iso", BW_HASH_SHA256, "1111"},
        {"debian-SHA256SUMS", "debian-12.14.0-amd64-DVD-1.iso", BW_HASH_SHA256, "2222"},
        {"ubuntu-SHA256SUMS", "ubuntu-24.04.4-live-server-amd64.iso", BW_HASH_SHA256, "3333"},
        {"rocky-CHECKSUM", "Rocky-9.6-x86_64-dvd.iso", BW_HASH_SHA256, "4444"},
        {"alma-CHECKSUM.asc", "AlmaLinux-9.6-x86_64-boot.iso", BW_HASH_SHA256, "5555"},
        {"freebsd-CHECKSUM.SHA512", "FreeBSD-14.3-RELEASE-amd64-disc1.iso", BW_HASH_SHA512, "6666"},
        {"debian-SHA256SUMS", "./debian-12.14.0-amd64-netinst.iso", BW_HASH_SHA256, "1111"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bw_checksum_spec spec;
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_msg(find(cases[i].file, cases[i].name, &spec, &err) == 0, "%s in %s: %s",
                      cases[i].name, cases[i].file, err.msg);
        ck_assert_int_eq(spec.kind, cases[i].kind);
        ck_assert_uint_eq(strlen(spec.hex), bw_hash_hex_len(cases[i].kind));
        ck_assert_msg(strncmp(spec.hex, cases[i].hex_prefix, 4) == 0, "%s: %s", cases[i].name,
                      spec.hex);
        bw_checksum_spec_release(&spec);
    }
}
END_TEST

START_TEST(test_missing_name_and_bad_hex_are_errors_with_the_line)
{
    struct bw_checksum_spec spec;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(find("debian-SHA256SUMS", "debian-11.iso", &spec, &err), -1);
    ck_assert_int_eq(err.code, BW_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "debian-11.iso"));
    ck_assert_int_eq(find("bad-hex-SHA256SUMS", "broken.iso", &spec, &err), -1);
    ck_assert_int_eq(err.code, BW_ERR_SYNTAX);
    ck_assert_int_eq(err.line, 2);
    ck_assert_str_eq(err.file, "bad-hex-SHA256SUMS");
    ck_assert_int_eq(find("bad-hex-SHA256SUMS", "short.iso", &spec, &err), -1);
    ck_assert_int_eq(err.line, 3);
    bw_error_release(&err);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("checksum");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_specs_parse_or_say_what_was_expected);
    tcase_add_test(tc, test_gnu_bsd_and_clearsigned_files_find_the_iso);
    tcase_add_test(tc, test_missing_name_and_bad_hex_are_errors_with_the_line);
    suite_add_tcase(s, tc);
    return test_run(s);
}
