/*
 * The EC2 calls of the AMI export against tests/oracles/ec2-fake, which checks each request's
 * signature with botocore and answers with the shapes EC2 answers with
 * (tests/data/ec2/import.answers): the request bodies are golden (tests/data/ec2/), the answers
 * read back (task id, progress, snapshot, image id), EC2's errors and a failed import said in
 * EC2's words, and --dry-run's requests shown with their signatures masked and nothing sent.
 * Against real AWS this is unproven here.
 */
#include "golden.h"
#include "../../builder/aws/credentials.h"
#include "../../builder/aws/ec2.h"
#include "../../builder/base/buf.h"
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
#include <time.h>
#include <unistd.h>

static char dir[64];

START_TEST(test_an_import_from_snapshot_to_tagged_image)
{
    snprintf(dir, sizeof(dir), "/tmp/bw-ec2-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *log = bw_xasprintf("%s/requests", dir);
    unsigned port = bw_free_port();
    char ports[16];
    snprintf(ports, sizeof(ports), "%u", port);
    char *argv[] = {BW_TEST_DATA "/../oracles/ec2-fake", ports, "AKIDEXAMPLE", "secret-key",
                    BW_TEST_DATA "/ec2/import.answers",  log,   NULL};
    struct bw_error err = BW_ERROR_INIT;
    pid_t fake = bw_spawn_background(argv, NULL, &err);
    ck_assert_msg(fake > 0, "%s", err.msg);
    test_wait_port(port);
    char *endpoint = bw_xasprintf("http://127.0.0.1:%u", port);
    struct bw_ec2 c = {"eu-west-1", endpoint, {"AKIDEXAMPLE", "secret-key", NULL},
                       false,       NULL,     NULL};
    char task[64], image[64];
    ck_assert_msg(bw_ec2_import_snapshot(&c, "images", "boxes/tiny.raw", "RAW",
                                         "tiny 1.0.0 by boxwright", task, &err) == 0,
                  "%s", err.msg);
    ck_assert_str_eq(task, "import-snap-0a1b2c3d4e5f67890");
    struct bw_ec2_import st;
    ck_assert_msg(bw_ec2_import_status(&c, task, &st, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(st.status, "active");
    ck_assert_int_eq(st.progress, 42);
    ck_assert_str_eq(st.message, "downloading/converting");
    ck_assert_msg(bw_ec2_import_status(&c, task, &st, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(st.status, "completed");
    ck_assert_int_eq(st.progress, -1);
    ck_assert_str_eq(st.snapshot, "snap-0123456789abcdef0");
    struct bw_ec2_image img = {
        "tiny-1.0.0", "tiny 1.0.0 by boxwright", st.snapshot, true, "/dev/xvda", 2};
    ck_assert_msg(bw_ec2_register_image(&c, &img, image, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(image, "ami-0fedcba9876543210");
    const char *tags[] = {"Name", "tiny 1.0.0", "built-by", "boxwright", NULL};
    ck_assert_msg(bw_ec2_create_tags(&c, image, tags, &err) == 0, "%s", err.msg);
    /* EC2's error, in its words */
    ck_assert_int_eq(
        bw_ec2_import_snapshot(&c, "images", "boxes/tiny.raw", "RAW", "again", task, &err), -1);
    ck_assert_msg(strstr(err.msg, "EC2 ImportSnapshot: HTTP 400 InvalidParameter (The service "
                                  "role vmimport provided does not exist"),
                  "%s", err.msg);
    bw_error_release(&err);
    /* an import that failed: its status and EC2's reason */
    ck_assert_int_eq(bw_ec2_import_status(&c, "import-snap-0a1b2c3d4e5f67891", &st, &err), 0);
    ck_assert_str_eq(st.status, "deleted");
    ck_assert_str_eq(st.message, "ClientError: No valid partitions. Not a valid volume.");
    /* a wrong secret: refused by the signature check */
    c.cred.secret_key = "wrong";
    ck_assert_int_eq(bw_ec2_create_tags(&c, image, tags, &err), -1);
    ck_assert_msg(strstr(err.msg, "HTTP 401 AuthFailure"), "%s", err.msg);
    ck_assert_ptr_null(strstr(err.msg, "wrong"));
    bw_error_release(&err);
    bw_spawn_stop(fake, 1000);
    /* what went, byte for byte (the refused one is not there) */
    struct bw_buf got = BW_BUF_INIT;
    bw_buf_init(&got);
    ck_assert_int_eq(bw_buf_read_file(&got, log), 0);
    char *msg = golden_check("ec2", "import.requests", got.data, got.len);
    ck_assert_msg(msg == NULL, "%s", msg);
    bw_buf_release(&got);
    free(endpoint);
    free(log);
    test_rm_rf(dir);
}
END_TEST

static void collect(const char *request, void *ud)
{
    bw_buf_addf(ud, "%s\n", request);
}

/* --dry-run: every request shown as it would go, the signature and token masked, nothing
 * sent (the endpoint is one nothing listens on), made-up ids so that the next steps show too. */
START_TEST(test_a_dry_run_shows_and_sends_nothing)
{
    struct bw_buf shown = BW_BUF_INIT;
    bw_buf_init(&shown);
    struct bw_ec2 c = {
        "eu-west-1", "http://127.0.0.1:9", {"AKIDEXAMPLE", "secret-key", "tok3n"}, true, collect,
        &shown};
    char task[64], image[64];
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_int_eq(bw_ec2_import_snapshot(&c, "images", "k.raw", "RAW", "d", task, &err), 0);
    struct bw_ec2_import st;
    ck_assert_int_eq(bw_ec2_import_status(&c, task, &st, &err), 0);
    ck_assert_str_eq(st.status, "completed");
    struct bw_ec2_image img = {"n", "d", st.snapshot, false, NULL, 1};
    ck_assert_int_eq(bw_ec2_register_image(&c, &img, image, &err), 0);
    ck_assert_ptr_nonnull(strstr(shown.data, "POST http://127.0.0.1:9/\n"));
    ck_assert_ptr_nonnull(strstr(shown.data, "Action=ImportSnapshot&Description=d&"));
    ck_assert_ptr_nonnull(strstr(shown.data, "Action=RegisterImage&Architecture=x86_64&"));
    ck_assert_ptr_nonnull(strstr(shown.data, "BootMode=legacy-bios"));
    ck_assert_ptr_nonnull(strstr(shown.data, "Signature=****"));
    ck_assert_ptr_nonnull(strstr(shown.data, "X-Amz-Security-Token: ****"));
    ck_assert_ptr_null(strstr(shown.data, "secret-key"));
    ck_assert_ptr_null(strstr(shown.data, "tok3n"));
    bw_buf_release(&shown);
}
END_TEST

/* Credentials where the AWS tools look: the environment first, then the shared file's profile;
 * a broken file named at its line; the secret in no message. */
START_TEST(test_credentials_from_the_usual_places)
{
    char path[] = "/tmp/bw-creds-XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    const char *text = "# the shared credentials file\n[default]\naws_access_key_id = AKIDDEFAULT\n"
                       "aws_secret_access_key = s3cr3t-default\n\n[ci]\n"
                       "aws_access_key_id=AKIDCI\naws_secret_access_key =s3cr3t-ci  \n"
                       "aws_session_token = t0ken\n; a comment\n[half]\naws_access_key_id = X\n";
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_PROFILE");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    struct bw_aws_keys k;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_aws_find_keys(NULL, &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(k.access_key, "AKIDDEFAULT");
    ck_assert_str_eq(k.secret_key, "s3cr3t-default");
    ck_assert_ptr_null(k.session_token);
    ck_assert_ptr_nonnull(strstr(k.source, "[default]"));
    bw_aws_keys_release(&k);
    setenv("AWS_PROFILE", "ci", 1);
    ck_assert_int_eq(bw_aws_find_keys(NULL, &k, &err), 0);
    ck_assert_str_eq(k.secret_key, "s3cr3t-ci");
    ck_assert_str_eq(k.session_token, "t0ken");
    bw_aws_keys_release(&k);
    ck_assert_int_eq(bw_aws_find_keys("half", &k, &err), -1);
    ck_assert_msg(strstr(err.msg, "[half] has no aws_secret_access_key"), "%s", err.msg);
    bw_error_release(&err);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    ck_assert_int_eq(bw_aws_find_keys("nobody", &k, &err), -1);
    ck_assert_msg(strstr(err.msg, "no AWS credentials") && strstr(err.msg, "[nobody]"), "%s",
                  err.msg);
    ck_assert_ptr_null(strstr(err.msg, "s3cr3t"));
    bw_error_release(&err);
    /* the environment wins over the file */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t-env", 1);
    ck_assert_int_eq(bw_aws_find_keys(NULL, &k, &err), 0);
    ck_assert_str_eq(k.access_key, "AKIDENV");
    ck_assert_ptr_nonnull(strstr(k.source, "environment"));
    bw_aws_keys_release(&k);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_PROFILE");
    /* a line that is nothing: its file and line */
    const char *bad = "[default]\naws_access_key_id = A\nthis is not a setting\n";
    ck_assert_int_eq(bw_aws_parse_keys(bad, strlen(bad), "creds", "default", &k, &err), -1);
    ck_assert_str_eq(err.file, "creds");
    ck_assert_int_eq(err.line, 3);
    bw_error_release(&err);
    /* nothing in the environment nor the file: the instance role, through IMDSv2 only (the
     * stand-in refuses any GET without the token) */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials", 1);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    unsigned port = bw_free_port();
    char ports[16];
    snprintf(ports, sizeof(ports), "%u", port);
    char *argv[] = {BW_TEST_DATA "/../oracles/imds-fake",
                    ports,
                    "boxwright-builder",
                    "ASIAROLE",
                    "r0le-secret",
                    "r0le-token",
                    NULL};
    pid_t imds = bw_spawn_background(argv, NULL, &err);
    ck_assert_msg(imds > 0, "%s", err.msg);
    test_wait_port(port);
    char *endpoint = bw_xasprintf("http://127.0.0.1:%u/", port);
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", endpoint, 1);
    ck_assert_msg(bw_aws_find_keys(NULL, &k, &err) == 0, "%s", err.msg);
    ck_assert_str_eq(k.access_key, "ASIAROLE");
    ck_assert_str_eq(k.secret_key, "r0le-secret");
    ck_assert_str_eq(k.session_token, "r0le-token");
    ck_assert_str_eq(k.source, "the instance role boxwright-builder (IMDSv2)");
    bw_aws_keys_release(&k);
    /* turned off, or a profile named: no metadata service */
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    ck_assert_int_eq(bw_aws_find_keys(NULL, &k, &err), -1);
    bw_error_release(&err);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    ck_assert_int_eq(bw_aws_find_keys("default", &k, &err), -1);
    bw_error_release(&err);
    bw_spawn_stop(imds, 1000);
    unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    free(endpoint);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unlink(path);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("ec2");
    TCase *tc = tcase_create("ec2");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_an_import_from_snapshot_to_tagged_image);
    tcase_add_test(tc, test_a_dry_run_shows_and_sends_nothing);
    tcase_add_test(tc, test_credentials_from_the_usual_places);
    suite_add_tcase(s, tc);
    return test_run(s);
}
