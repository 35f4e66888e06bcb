#include "standins.h"
#include "golden.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"
#include "../../builder/drivers/driver.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

const char *standin_s3rver_bin(void)
{
    const char *e = getenv("BW_S3RVER");
    return e && *e ? e : "/opt/boxwright-test/s3rver/node_modules/.bin/s3rver";
}

static pid_t start(char *const argv[], const char *log, unsigned port)
{
    struct bw_error err = BW_ERROR_INIT;
    pid_t pid = bw_spawn_background(argv, log, &err);
    ck_assert_msg(pid > 0, "%s: %s", argv[0], err.msg);
    test_wait_port(port);
    return pid;
}

pid_t standin_s3rver(const char *dir, unsigned *port)
{
    char *data = bw_xasprintf("%s/s3rver", dir);
    char *log = bw_xasprintf("%s/s3rver.log", dir);
    mkdir(data, 0700);
    *port = bw_free_port();
    char p[16];
    snprintf(p, sizeof(p), "%u", *port);
    char *argv[] = {(char *)standin_s3rver_bin(), "-d",     data,       "-a", "127.0.0.1", "-p", p,
                    "--configure-bucket",         "images", "--silent", NULL};
    pid_t pid = start(argv, log, *port);
    free(data);
    free(log);
    return pid;
}

pid_t standin_s3_front(unsigned *port, unsigned s3_port, const char *cut, const char *log)
{
    if (!*port)
        *port = bw_free_port();
    char p[16], b[16];
    snprintf(p, sizeof(p), "%u", *port);
    snprintf(b, sizeof(b), "%u", s3_port);
    char *argv[] = {BW_TEST_DATA "/../oracles/s3-front",
                    p,
                    b,
                    STANDIN_KEY,
                    STANDIN_KEY,
                    (char *)log,
                    (char *)cut,
                    NULL};
    return start(argv, NULL, *port);
}

pid_t standin_ec2(unsigned *port, const char *answers, const char *log)
{
    *port = bw_free_port();
    char p[16];
    snprintf(p, sizeof(p), "%u", *port);
    char *path = bw_xasprintf(BW_TEST_DATA "/ec2/%s", answers);
    char *argv[] = {
        BW_TEST_DATA "/../oracles/ec2-fake", p, STANDIN_KEY, STANDIN_KEY, path, (char *)log, NULL};
    pid_t pid = start(argv, NULL, *port);
    free(path);
    return pid;
}

pid_t standin_mirror(const char *dir, unsigned *port, const char *log)
{
    *port = bw_free_port();
    char p[16];
    snprintf(p, sizeof(p), "%u", *port);
    char *argv[] = {"python3",   "-m", "http.server", "--bind", "127.0.0.1", "--directory",
                    (char *)dir, p,    NULL};
    return start(argv, log, *port);
}
