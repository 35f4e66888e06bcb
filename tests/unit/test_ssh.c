/* The SSH communicator against a real OpenSSH sshd started on 127.0.0.1 by the test. */
#include "golden.h"
#include "../../builder/comm/ssh.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/drivers/driver.h"

#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static unsigned port;
static pid_t sshd = -1;
static char *key, *wrong_key, *user;

static void keygen(const char *path)
{
    char *argv[] = {"ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", (char *)path, NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_spawn_run(argv, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&res);
}

/* Starts sshd after delay_s seconds (the pid is sshd's own: the shell execs it). */
static void start_sshd_after(unsigned delay_s)
{
    char *conf = bw_xasprintf("%s/sshd_config", dir);
    FILE *f = fopen(conf, "w");
    fprintf(
        f,
        "Port %u\nListenAddress 127.0.0.1\nHostKey %s/host\nAuthorizedKeysFile %s/authorized\n"
        "StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "PermitRootLogin prohibit-password\nPidFile %s/sshd.pid\nLogLevel ERROR\n",
        port, dir, dir, dir);
    fclose(f);
    mkdir("/run/sshd", 0755); /* privilege separation directory sshd insists on */
    char *script = bw_xasprintf("sleep %u; exec /usr/sbin/sshd -D -e -f '%s'", delay_s, conf);
    char *argv[] = {"/bin/sh", "-c", script, NULL};
    ck_assert_int_eq(posix_spawn(&sshd, argv[0], NULL, NULL, argv, NULL), 0);
    free(script);
    free(conf);
}

/* Does something listen on 127.0.0.1:p? */
static bool listening(unsigned p)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)p)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/*
 * Starts sshd now and waits until it listens. A free port can be taken by another process
 * between our choosing it and sshd binding it (CI's machine is busy: "Address already in
 * use"), so an sshd that exits at once is started again on another port.
 */
static void start_sshd(void)
{
    for (int attempt = 0; attempt < 5; attempt++, port = bw_free_port()) {
        if (listening(port)) /* somebody else's */
            continue;
        start_sshd_after(0);
        for (int i = 0; i < 100; i++) {
            if (waitpid(sshd, NULL, WNOHANG) == sshd) {
                sshd = -1; /* it could not bind */
                break;
            }
            if (listening(port)) {
                usleep(100 * 1000);
                if (waitpid(sshd, NULL, WNOHANG) != sshd)
                    return;
                sshd = -1;
                break;
            }
            usleep(100 * 1000);
        }
        ck_assert_msg(sshd < 0, "sshd neither listens on %u nor exits after 10 s", port);
    }
    ck_abort_msg("sshd could not bind a port in 5 tries");
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/bw-ssh-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char *host = bw_xasprintf("%s/host", dir);
    key = bw_xasprintf("%s/client", dir);
    wrong_key = bw_xasprintf("%s/other", dir);
    keygen(host);
    keygen(key);
    keygen(wrong_key);
    char *pub = bw_xasprintf("%s.pub", key), *auth = bw_xasprintf("%s/authorized", dir);
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    ck_assert_int_eq(bw_buf_read_file(&b, pub), 0);
    FILE *f = fopen(auth, "w");
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    bw_buf_release(&b);
    struct passwd *pw = getpwuid(getuid());
    user = bw_xstrdup(pw->pw_name);
    port = bw_free_port();
    while (listening(port))
        port = bw_free_port();
    free(host);
    free(pub);
    free(auth);
}

static void teardown(void)
{
    if (sshd > 0) {
        kill(sshd, SIGTERM);
        waitpid(sshd, NULL, 0);
        sshd = -1;
    }
    test_rm_rf(dir);
    free(key);
    free(wrong_key);
    free(user);
}

static void collect(const char *data, size_t len, bool is_stderr, void *ud)
{
    struct bw_buf *bufs = ud;
    bw_buf_add(&bufs[is_stderr ? 1 : 0], data, len);
}

START_TEST(test_waits_for_sshd_then_runs_commands_with_status_and_both_streams)
{
    /* sshd comes up two seconds after we start trying, like a booting guest's. */
    struct bw_ssh_config cfg = {"127.0.0.1", port, user, NULL, key, 20000, NULL};
    struct bw_error err = BW_ERROR_INIT;
    start_sshd_after(2);
    time_t t0 = time(NULL);
    struct bw_ssh *s = bw_ssh_connect(&cfg, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    ck_assert_int_ge(time(NULL) - t0, 1);
    struct bw_buf bufs[2];
    bw_buf_init(&bufs[0]);
    bw_buf_init(&bufs[1]);
    int status = -1;
    ck_assert_int_eq(bw_ssh_run(s, "echo hello; echo oops >&2; cat; exit 3", "from stdin\n", 11,
                                collect, bufs, &status, &err),
                     0);
    ck_assert_int_eq(status, 3);
    ck_assert_str_eq(bufs[0].data, "hello\nfrom stdin\n");
    ck_assert_str_eq(bufs[1].data, "oops\n");
    bw_buf_release(&bufs[0]);
    bw_buf_release(&bufs[1]);
    bw_ssh_close(s);
}
END_TEST

START_TEST(test_upload_writes_exact_bytes_and_mode)
{
    start_sshd();
    struct bw_ssh_config cfg = {"127.0.0.1", port, user, NULL, key, 20000, NULL};
    struct bw_error err = BW_ERROR_INIT;
    struct bw_ssh *s = bw_ssh_connect(&cfg, &err);
    ck_assert_msg(s != NULL, "%s", err.msg);
    size_t len = 3u << 20;
    char *data = bw_xmalloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (char)(i * 31 + 7);
    char *remote = bw_xasprintf("%s/it's uploaded.sh", dir); /* a quote in the name, on purpose */
    ck_assert_msg(bw_ssh_upload(s, remote, data, len, 0750, &err) == 0, "%s", err.msg);
    struct bw_buf got = BW_BUF_INIT;
    bw_buf_init(&got);
    ck_assert_int_eq(bw_buf_read_file(&got, remote), 0);
    ck_assert_uint_eq(got.len, len);
    ck_assert_int_eq(memcmp(got.data, data, len), 0);
    struct stat st;
    ck_assert_int_eq(stat(remote, &st), 0);
    ck_assert_uint_eq(st.st_mode & 0777, 0750);
    char *bad = bw_xasprintf("%s/no/such/dir/x", dir);
    ck_assert_int_eq(bw_ssh_upload(s, bad, "x", 1, 0644, &err), -1);
    ck_assert_ptr_nonnull(strstr(err.msg, "No such file"));
    bw_error_release(&err);
    bw_buf_release(&got);
    free(bad);
    free(remote);
    free(data);
    bw_ssh_close(s);
}
END_TEST

START_TEST(test_refused_login_and_no_server_are_clear_errors_without_the_password)
{
    start_sshd();
    struct bw_ssh_config cfg = {"127.0.0.1", port, user, "s3cret-pw", wrong_key, 2500, NULL};
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_ptr_null(bw_ssh_connect(&cfg, &err));
    ck_assert_ptr_nonnull(strstr(err.msg, "refused the key and the password"));
    ck_assert_ptr_null(strstr(err.msg, "s3cret-pw"));
    /* a port nothing listens on: one just found free */
    struct bw_ssh_config none = {"127.0.0.1", bw_free_port(), user, NULL, key, 1500, NULL};
    ck_assert_ptr_null(bw_ssh_connect(&none, &err));
    ck_assert_int_eq(err.code, BW_ERR_NETWORK);
    ck_assert_ptr_nonnull(strstr(err.msg, "did not become available within 1 s"));
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot connect"));
    struct bw_ssh_config nokey = {"127.0.0.1", port, user, NULL, "/nonexistent/key", 1000, NULL};
    ck_assert_ptr_null(bw_ssh_connect(&nokey, &err));
    ck_assert_str_eq(err.file, "/nonexistent/key");
    bw_error_release(&err);
}
END_TEST

int main(void)
{
    if (access("/usr/sbin/sshd", X_OK) != 0 && !getenv("CI")) {
        printf("sshd is missing (scripts/setup installs openssh-server); skipping\n");
        return 77;
    }
    Suite *s = suite_create("ssh");
    TCase *tc = tcase_create("communicator");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_waits_for_sshd_then_runs_commands_with_status_and_both_streams);
    tcase_add_test(tc, test_upload_writes_exact_bytes_and_mode);
    tcase_add_test(tc, test_refused_login_and_no_server_are_clear_errors_without_the_password);
    suite_add_tcase(s, tc);
    return test_run(s);
}
