#include "golden.h"
#include <unistd.h>
#include <time.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *golden_data_dir(void)
{
    return BW_TEST_DATA;
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **golden_list(const char *sub, const char *suffix)
{
    char *dir = bw_xasprintf("%s/%s", BW_TEST_DATA, sub);
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "cannot open %s", dir);
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    size_t sl = strlen(suffix);
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l <= sl || strcmp(de->d_name + l - sl, suffix) != 0)
            continue;
        names = bw_xrealloc(names, (n + 2) * sizeof(char *));
        names[n++] = bw_xstrdup(de->d_name);
    }
    closedir(d);
    free(dir);
    if (!names)
        names = bw_xcalloc(1, sizeof(char *));
    names[n] = NULL;
    qsort(names, n, sizeof(char *), cmp);
    return names;
}

void golden_list_free(char **names)
{
    for (char **p = names; p && *p; p++)
        free(*p);
    free(names);
}

char *golden_read(const char *sub, const char *name, size_t *len)
{
    char *path = bw_xasprintf("%s/%s/%s", BW_TEST_DATA, sub, name);
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    int rc = bw_buf_read_file(&b, path);
    ck_assert_msg(rc == 0, "cannot read %s", path);
    free(path);
    if (len)
        *len = b.len;
    return bw_buf_detach(&b);
}

char *golden_check(const char *sub, const char *name, const char *actual, size_t len)
{
    char *path = bw_xasprintf("%s/%s/%s", BW_TEST_DATA, sub, name);
    const char *regen = getenv("BW_REGENERATE");
    if (regen && strcmp(regen, "1") == 0) {
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f != NULL, "cannot write %s", path);
        fwrite(actual, 1, len, f);
        fclose(f);
        free(path);
        return NULL;
    }
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    if (bw_buf_read_file(&b, path) < 0) {
        char *m = bw_xasprintf("%s is missing (run with BW_REGENERATE=1 to create it)", path);
        free(path);
        bw_buf_release(&b);
        return m;
    }
    char *msg = NULL;
    if (b.len != len || memcmp(b.data, actual, len) != 0) {
        size_t i = 0, line = 1;
        while (i < len && i < b.len && b.data[i] == actual[i]) {
            if (actual[i] == '\n')
                line++;
            i++;
        }
        size_t ls = i;
        while (ls && actual[ls - 1] != '\n')
            ls--;
        const char *ae = memchr(actual + ls, '\n', len - ls);
        const char *ee = ls <= b.len ? memchr(b.data + ls, '\n', b.len - ls) : NULL;
        int alen = (int)(ae ? ae - (actual + ls) : (long)(len - ls));
        int elen = ls <= b.len ? (int)(ee ? ee - (b.data + ls) : (long)(b.len - ls)) : 0;
        msg = bw_xasprintf("%s differs at line %zu:\n  expected: %.*s\n  actual:   %.*s\n"
                           "(BW_REGENERATE=1 rewrites expected files after a deliberate change)",
                           path, line, elen, ls <= b.len ? b.data + ls : "", alen, actual + ls);
    }
    bw_buf_release(&b);
    free(path);
    return msg;
}

char *golden_swap_suffix(const char *name, const char *from, const char *to)
{
    size_t l = strlen(name), fl = strlen(from);
    ck_assert(l >= fl && strcmp(name + l - fl, from) == 0);
    return bw_xasprintf("%.*s%s", (int)(l - fl), name, to);
}

void test_rm_rf(const char *path)
{
    char *argv[] = {"rm", "-rf", (char *)path, NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
    bw_spawn_result_release(&res);
    bw_error_release(&err);
}

int test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

void test_wait_port(unsigned port)
{
    for (int i = 0; i < 300; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
        close(fd);
        if (ok)
            return;
        nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
    }
    ck_abort_msg("nothing listens on 127.0.0.1:%u", port);
}
