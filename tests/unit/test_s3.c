/*
 * Multipart uploads to a real S3-protocol server (s3rver, from npm: scripts/setup installs it)
 * behind tests/oracles/s3-front, which checks every request's signature with botocore and can
 * cut a part's connection halfway: uploads in parts, a wrong secret refused, a cut part sent
 * again, and an upload stopped halfway that a rerun finishes without sending again what S3
 * holds. The object is then read back and compared with the file.
 */
#include "golden.h"
#include "standins.h"
#include "../../builder/aws/s3.h"
#include "../../builder/aws/xml.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/digest.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/drivers/driver.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static char dir[64];
static pid_t s3rver = -1;
static unsigned s3_port;

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/bw-s3-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    s3rver = standin_s3rver(dir, &s3_port);
}

static void teardown(void)
{
    bw_spawn_stop(s3rver, 2000);
    test_rm_rf(dir);
}

/* The front, checking signatures, cutting the N-th part at BYTES when cut is "N:BYTES". */
static pid_t front(unsigned *port, const char *cut, const char *log)
{
    return standin_s3_front(port, s3_port, cut, log);
}

static char *random_file(const char *name, size_t size)
{
    char *path = bw_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    srand((unsigned)time(NULL));
    for (size_t i = 0; i < size; i++)
        fputc(rand() & 0xff, f);
    fclose(f);
    return path;
}

/* The object as s3rver keeps it, read back without the front: its SHA-256. */
static void object_sha256(const char *key, char hex[BW_HASH_MAX_HEX + 1])
{
    char *url = bw_xasprintf("http://127.0.0.1:%u/images/%s", s3_port, key);
    char *out = bw_xasprintf("%s/readback", dir);
    char *argv[] = {"curl", "-sf", "-o", out, url, NULL};
    struct bw_spawn_result r;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_spawn_run(argv, NULL, NULL, 0, &r, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&r);
    ck_assert_int_eq(bw_hash_file(out, BW_HASH_SHA256, hex, NULL, NULL, &err), 0);
    free(url);
    free(out);
}

static unsigned count_lines(const char *log, const char *what)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_read_file(&b, log);
    unsigned n = 0;
    for (const char *p = b.data; (p = strstr(p, what)); p++)
        n++;
    bw_buf_release(&b);
    return n;
}

struct seen {
    unsigned calls, kept;
};

static void on_progress(const struct bw_s3_progress *p, void *ud)
{
    struct seen *s = ud;
    s->calls++;
    s->kept += p->kept;
    ck_assert_uint_le(p->sent, p->total);
}

START_TEST(test_a_file_goes_up_in_parts_signed)
{
    char *file = random_file("disk.raw", 12 * MIB + 12345);
    char *log = bw_xasprintf("%s/front.log", dir), *state = bw_xasprintf("%s/upload.json", dir);
    unsigned port = 0;
    pid_t f = front(&port, NULL, log);
    char *endpoint = bw_xasprintf("http://127.0.0.1:%u", port);
    struct bw_aws_target t = {
        "us-east-1", "images", "boxes/tiny 1.raw", endpoint, {"S3RVER", "S3RVER", NULL}};
    struct seen seen = {0};
    struct bw_s3_options o = {0, 0, state, on_progress, &seen};
    struct bw_s3_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_s3_upload(&t, file, &o, &res, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(res.parts, 3);
    ck_assert_uint_eq(res.kept, 0);
    ck_assert_uint_eq(seen.calls, 3);
    ck_assert_msg(res.etag[0] == '"', "%s", res.etag);
    ck_assert_int_ne(access(state, F_OK), 0); /* done: nothing to resume */
    ck_assert_uint_eq(count_lines(log, "?uploads 200"), 1);
    ck_assert_uint_eq(count_lines(log, "partNumber="), 3);
    ck_assert_uint_eq(count_lines(log, " 403"), 0);
    char want[BW_HASH_MAX_HEX + 1], got[BW_HASH_MAX_HEX + 1];
    ck_assert_int_eq(bw_hash_file(file, BW_HASH_SHA256, want, NULL, NULL, &err), 0);
    object_sha256("boxes/tiny%201.raw", got);
    ck_assert_str_eq(got, want);

    /* A wrong secret: refused at the first request, in S3's words, the secret in none. */
    t.cred.secret_key = "not-the-secret";
    ck_assert_int_eq(bw_s3_upload(&t, file, &o, &res, &err), -1);
    ck_assert_msg(strstr(err.msg, "HTTP 403 SignatureDoesNotMatch"), "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, "not-the-secret"));
    bw_error_release(&err);
    bw_spawn_stop(f, 1000);
    free(endpoint);
    free(state);
    free(log);
    free(file);
}
END_TEST

/* A part whose connection is cut halfway is sent again, and the object is whole. */
START_TEST(test_a_cut_part_is_sent_again)
{
    char *file = random_file("disk.raw", 11 * MIB);
    char *log = bw_xasprintf("%s/front.log", dir), *state = bw_xasprintf("%s/upload.json", dir);
    unsigned port = 0;
    pid_t f = front(&port, "2:1000000", log);
    char *endpoint = bw_xasprintf("http://127.0.0.1:%u", port);
    struct bw_aws_target t = {
        "us-east-1", "images", "cut.raw", endpoint, {"S3RVER", "S3RVER", NULL}};
    struct bw_s3_options o = {0, 3, state, NULL, NULL};
    struct bw_s3_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_s3_upload(&t, file, &o, &res, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(res.retries, 1);
    ck_assert_uint_eq(count_lines(log, "partNumber=2&"), 2); /* cut, then whole */
    ck_assert_uint_eq(count_lines(log, "partNumber=2&uploadId="), 2);
    ck_assert_uint_eq(count_lines(log, " 0\n"), 1);
    char want[BW_HASH_MAX_HEX + 1], got[BW_HASH_MAX_HEX + 1];
    ck_assert_int_eq(bw_hash_file(file, BW_HASH_SHA256, want, NULL, NULL, &err), 0);
    object_sha256("cut.raw", got);
    ck_assert_str_eq(got, want);
    bw_spawn_stop(f, 1000);
    free(endpoint);
    free(state);
    free(log);
    free(file);
}
END_TEST

/* Stopped at part 2 (one attempt, its connection cut): the state file says where; the rerun
 * asks S3, keeps part 1 (its ETag is the local part's MD5) and sends 2 and 3 only. */
START_TEST(test_a_stopped_upload_is_resumed)
{
    char *file = random_file("disk.raw", 14 * MIB);
    char *log1 = bw_xasprintf("%s/front1.log", dir), *log2 = bw_xasprintf("%s/front2.log", dir);
    char *state = bw_xasprintf("%s/upload.json", dir);
    unsigned port = 0;
    pid_t f = front(&port, "2:300000", log1);
    char *endpoint = bw_xasprintf("http://127.0.0.1:%u", port);
    struct bw_aws_target t = {
        "us-east-1", "images", "resumed.raw", endpoint, {"S3RVER", "S3RVER", NULL}};
    struct bw_s3_options o = {0, 1, state, NULL, NULL};
    struct bw_s3_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_s3_upload(&t, file, &o, &res, &err), -1);
    ck_assert_msg(strstr(err.msg, "part 2 of 3"), "%s", err.msg);
    bw_error_release(&err);
    struct stat st;
    ck_assert_int_eq(stat(state, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0600);
    bw_spawn_stop(f, 1000);

    f = front(&port, NULL, log2);
    struct bw_s3_result again;
    ck_assert_msg(bw_s3_upload(&t, file, &o, &again, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(again.parts, 3);
    ck_assert_uint_eq(again.kept, 1);
    ck_assert_uint_eq(count_lines(log2, "?uploads"), 0);
    ck_assert_uint_eq(count_lines(log2, "GET /images/resumed.raw?max-parts=10000&uploadId="), 1);
    ck_assert_uint_eq(count_lines(log2, "partNumber=1&"), 0);
    ck_assert_uint_eq(count_lines(log2, "partNumber=2&"), 1);
    ck_assert_uint_eq(count_lines(log2, "partNumber=3&"), 1);
    ck_assert_int_ne(access(state, F_OK), 0);
    char want[BW_HASH_MAX_HEX + 1], got[BW_HASH_MAX_HEX + 1];
    ck_assert_int_eq(bw_hash_file(file, BW_HASH_SHA256, want, NULL, NULL, &err), 0);
    object_sha256("resumed.raw", got);
    ck_assert_str_eq(got, want);
    bw_spawn_stop(f, 1000);
    free(endpoint);
    free(log2);
    free(log1);
    free(state);
    free(file);
}
END_TEST

/* An empty qcow2 disk of `size` in the test's directory: box.img, as a build leaves it. */
static char *new_disk(const char *size)
{
    char *disk = bw_xasprintf("%s/box.img", dir);
    char *mk[] = {"qemu-img", "create", "-q", "-f", "qcow2", disk, (char *)size, NULL};
    struct bw_spawn_result r;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_spawn_run(mk, NULL, NULL, 0, &r, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&r);
    return disk;
}

/* `boxwright ami` as a user runs it, against the stand-ins: the disk converted and uploaded
 * (S3's copy is the disk: qemu-img compare), the snapshot imported (its progress told), the
 * UEFI image registered with the disk's size in GiB and tagged; the requests EC2 got, golden. */
START_TEST(test_boxwright_ami_end_to_end)
{
    char *disk = new_disk("64M");
    struct bw_spawn_result r;
    struct bw_error err = BW_ERROR_INIT;
    char *io[] = {"qemu-io", "-f", "qcow2", "-c", "write -P 0x42 5M 3M", disk, NULL};
    ck_assert_int_eq(bw_spawn_run(io, NULL, NULL, 0, &r, &err), 0);
    bw_spawn_result_release(&r);
    char *log = bw_xasprintf("%s/front.log", dir), *ec2log = bw_xasprintf("%s/ec2.log", dir);
    unsigned port = 0;
    pid_t f = front(&port, NULL, log);
    unsigned eport;
    pid_t e = standin_ec2(&eport, "ami.answers", ec2log);
    char *s3 = bw_xasprintf("http://127.0.0.1:%u", port);
    char *ec2 = bw_xasprintf("http://127.0.0.1:%u", eport);
    char *argv[] = {BW_BINARY,
                    "ami",
                    disk,
                    "--region",
                    "eu-west-1",
                    "--bucket",
                    "images",
                    "--key",
                    "boxes/t.vmdk",
                    "--name",
                    "tiny-1.0.0",
                    "--uefi",
                    "--tag",
                    "built-by=boxwright",
                    "--s3-endpoint",
                    s3,
                    "--ec2-endpoint",
                    ec2,
                    "--poll-interval",
                    "1",
                    "--json",
                    NULL};
    char *envp[] = {"AWS_ACCESS_KEY_ID=S3RVER", "AWS_SECRET_ACCESS_KEY=S3RVER",
                    "PATH=/usr/bin:/bin", NULL};
    int rc = bw_spawn_run(argv, envp, NULL, 0, &r, &err);
    ck_assert_msg(rc == 0, "%s\n%s", err.msg, r.err.data);
    ck_assert_ptr_nonnull(strstr(r.out.data, "\"image\":\"ami-0fedcba9876543210\""));
    ck_assert_ptr_nonnull(strstr(r.out.data, "\"snapshot\":\"snap-0123456789abcdef0\""));
    ck_assert_msg(strstr(r.err.data, "snapshot import import-snap-0a1b2c3d4e5f67890: "
                                     "downloading/converting, 42%"),
                  "%s", r.err.data);
    ck_assert_ptr_null(strstr(r.err.data, "S3RVER\n")); /* the secret: never */
    bw_spawn_result_release(&r);
    /* S3 holds the disk, as a streamOptimized VMDK; nothing of the upload is left behind */
    char *url = bw_xasprintf("http://127.0.0.1:%u/images/boxes/t.vmdk", s3_port);
    char *back = bw_xasprintf("%s/back.vmdk", dir);
    char *get[] = {"curl", "-sf", "-o", back, url, NULL};
    ck_assert_int_eq(bw_spawn_run(get, NULL, NULL, 0, &r, &err), 0);
    bw_spawn_result_release(&r);
    char *cmp[] = {"qemu-img", "compare", "-q", disk, back, NULL};
    ck_assert_msg(bw_spawn_run(cmp, NULL, NULL, 0, &r, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&r);
    char *vmdk = bw_xasprintf("%s.ami.vmdk", disk),
         *state = bw_xasprintf("%s.ami-upload.json", disk);
    ck_assert_int_ne(access(vmdk, F_OK), 0);
    ck_assert_int_ne(access(state, F_OK), 0);
    bw_spawn_stop(e, 1000);
    bw_spawn_stop(f, 1000);
    struct bw_buf got = BW_BUF_INIT;
    bw_buf_init(&got);
    ck_assert_int_eq(bw_buf_read_file(&got, ec2log), 0);
    char *msg = golden_check("ec2", "ami.requests", got.data, got.len);
    ck_assert_msg(msg == NULL, "%s", msg);
    bw_buf_release(&got);
    free(vmdk);
    free(state);
    free(back);
    free(url);
    free(s3);
    free(ec2);
    free(ec2log);
    free(log);
    free(disk);
}
END_TEST

/* Ctrl-C while EC2 imports the snapshot: boxwright stops at once (it would wait an hour
 * between looks), exits 130 and says the import goes on in EC2 and how to stop it. */
START_TEST(test_ctrl_c_while_the_import_runs_stops_at_once)
{
    char *disk = new_disk("16M");
    struct bw_error err = BW_ERROR_INIT;
    char *flog = bw_xasprintf("%s/front.log", dir), *ec2log = bw_xasprintf("%s/ec2.log", dir);
    char *out = bw_xasprintf("%s/ami.out", dir);
    unsigned port = 0, eport;
    pid_t f = front(&port, NULL, flog);
    pid_t e = standin_ec2(&eport, "ami.answers", ec2log);
    /* the endpoints as the AWS tools take them, from the environment */
    char *s3 = bw_xasprintf("http://127.0.0.1:%u", port);
    char *ec2 = bw_xasprintf("http://127.0.0.1:%u", eport);
    setenv("AWS_ENDPOINT_URL_S3", s3, 1);
    setenv("AWS_ENDPOINT_URL_EC2", ec2, 1);
    setenv("AWS_ACCESS_KEY_ID", STANDIN_KEY, 1);
    setenv("AWS_SECRET_ACCESS_KEY", STANDIN_KEY, 1);
    char *argv[] = {BW_BINARY, "ami",    disk,         "--region",        "eu-west-1", "--bucket",
                    "images",  "--name", "tiny-1.0.0", "--poll-interval", "3600",      NULL};
    pid_t pid = bw_spawn_background(argv, out, &err);
    ck_assert_msg(pid > 0, "%s", err.msg);
    struct bw_buf log = BW_BUF_INIT;
    bw_buf_init(&log);
    for (int i = 0; i < 1200 && !strstr(log.data, "42%"); i++) {
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
        bw_buf_reset(&log);
        bw_buf_read_file(&log, out);
    }
    ck_assert_msg(strstr(log.data, "42%"), "the import never showed its progress:\n%s", log.data);
    kill(-pid, SIGINT);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    bw_buf_reset(&log);
    bw_buf_read_file(&log, out);
    ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 130, "status %d:\n%s", st, log.data);
    ck_assert_msg(strstr(log.data, "interrupted: the snapshot import import-snap-0a1b2c3d4e5f67890 "
                                   "goes on in EC2"),
                  "%s", log.data);
    bw_buf_release(&log);
    bw_spawn_stop(e, 1000);
    bw_spawn_stop(f, 1000);
    free(s3);
    free(ec2);
    free(out);
    free(ec2log);
    free(flog);
    free(disk);
}
END_TEST

START_TEST(test_part_sizes_and_answers)
{
    ck_assert_uint_eq(bw_s3_part_size(0), 5 * MIB);
    ck_assert_uint_eq(bw_s3_part_size(50000ULL * MIB), 5 * MIB);
    ck_assert_uint_eq(bw_s3_part_size(50000ULL * MIB + 1), 6 * MIB);
    ck_assert_uint_eq(bw_s3_part_size(10000ULL * 5 * 1024 * MIB), 5ULL * 1024 * MIB);
    ck_assert_uint_eq(bw_s3_part_size(10000ULL * 5 * 1024 * MIB + 1), 0);
    const char *x = "<?xml version=\"1.0\"?><ListPartsResult><Part><PartNumber>1</PartNumber>"
                    "<ETag>&quot;abc&quot;</ETag></Part><Part><PartNumber>2</PartNumber>"
                    "<ETag>\"d&amp;e&#x41;&#65;\"</ETag></Part><Empty/></ListPartsResult>";
    struct bw_buf part = BW_BUF_INIT;
    bw_buf_init(&part);
    size_t pos = 0;
    ck_assert(bw_xml_next(x, strlen(x), "Part", &pos, &part));
    char *etag = bw_xml_first(part.data, part.len, "ETag");
    ck_assert_str_eq(etag, "\"abc\"");
    free(etag);
    ck_assert(bw_xml_next(x, strlen(x), "Part", &pos, &part));
    etag = bw_xml_first(part.data, part.len, "ETag");
    ck_assert_str_eq(etag, "\"d&eAA\"");
    free(etag);
    ck_assert(!bw_xml_next(x, strlen(x), "Part", &pos, &part));
    char *empty = bw_xml_first(x, strlen(x), "Empty");
    ck_assert_str_eq(empty, "");
    free(empty);
    ck_assert_ptr_null(bw_xml_first(x, strlen(x), "PartNumberMarker"));
    bw_buf_release(&part);
}
END_TEST

int main(void)
{
    if (access(standin_s3rver_bin(), X_OK) != 0) {
        fprintf(stderr, "%s: not installed (scripts/setup installs s3rver from npm)\n",
                standin_s3rver_bin());
        return 1;
    }
    Suite *s = suite_create("s3");
    TCase *tc = tcase_create("s3rver");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 180);
    tcase_add_test(tc, test_a_file_goes_up_in_parts_signed);
    tcase_add_test(tc, test_a_cut_part_is_sent_again);
    tcase_add_test(tc, test_a_stopped_upload_is_resumed);
    tcase_add_test(tc, test_boxwright_ami_end_to_end);
    tcase_add_test(tc, test_ctrl_c_while_the_import_runs_stops_at_once);
    tcase_add_test(tc, test_part_sizes_and_answers);
    suite_add_tcase(s, tc);
    return test_run(s);
}
