#include "fixture.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <jansson.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* dir/name, built by script when missing or older than the script. */
static char *fixture(const char *name, const char *script_path)
{
    char *path = bw_xasprintf("%s/%s", BW_FIXTURE_DIR, name);
    struct stat st, script;
    ck_assert_int_eq(stat(script_path, &script), 0);
    if (stat(path, &st) != 0 || st.st_mtime < script.st_mtime) {
        mkdir(BW_FIXTURE_DIR, 0755);
        char *argv[] = {(char *)script_path, path, NULL};
        struct bw_spawn_result res;
        struct bw_error err = BW_ERROR_INIT;
        int rc = bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
        ck_assert_msg(rc == 0, "building the fixture %s: %s\n%s", name, err.msg, res.err.data);
        bw_spawn_result_release(&res);
    }
    return path;
}

char *e2e_fixture_iso(void)
{
    return fixture("tiny-installer.iso", BW_FIXTURE_SCRIPT);
}

char *e2e_fixture_debian_netinst(void)
{
    return fixture("debian-12-netinst.iso", BW_DEBIAN_ISO_SCRIPT);
}

char *e2e_fixture_debian_mirror(void)
{
    return fixture("debian-mirror", BW_DEBIAN_MIRROR_SCRIPT);
}

char *e2e_fixture_grub_replicas(void)
{
    free(e2e_fixture_iso()); /* the replicas boot its kernel and initrd */
    return fixture("grub-replicas", BW_GRUB_REPLICAS_SCRIPT);
}

char *e2e_fixture_cloud_disk(void)
{
    return fixture("debian-12-cloud.qcow2", BW_CLOUD_FIXTURE_SCRIPT);
}

char *e2e_fixture_cloud_stand_in(const char *layout, const char *image, const char *sums)
{
    char *base = e2e_fixture_cloud_disk();
    char *dir = bw_xasprintf("%s/cloud-%s", BW_FIXTURE_DIR, layout);
    char *sums_path = bw_xasprintf("%s/%s", dir, sums);
    char *image_path = bw_xasprintf("%s/%s", dir, image);
    struct stat st, script, from;
    ck_assert_int_eq(stat(BW_CLOUD_STAND_IN_SCRIPT, &script), 0);
    ck_assert_int_eq(stat(base, &from), 0);
    /* The checksum file is written last: when it is there and new enough, so is the image. */
    if (stat(sums_path, &st) != 0 || st.st_mtime < script.st_mtime || st.st_mtime < from.st_mtime ||
        access(image_path, R_OK) != 0) {
        char *argv[] = {(char *)BW_CLOUD_STAND_IN_SCRIPT, base, (char *)layout, dir, NULL};
        struct bw_spawn_result res;
        struct bw_error err = BW_ERROR_INIT;
        int rc = bw_spawn_run(argv, NULL, NULL, 0, &res, &err);
        ck_assert_msg(rc == 0, "building the %s stand-in: %s\n%s", layout, err.msg, res.err.data);
        bw_spawn_result_release(&res);
    }
    free(image_path);
    free(sums_path);
    free(base);
    return dir;
}

int e2e_processes_with(const char *needle, const char *and)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] < '0' || de->d_name[0] > '9' || atoi(de->d_name) == getpid())
            continue;
        char *p = bw_xasprintf("/proc/%s/cmdline", de->d_name);
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_init(&b);
        if (bw_buf_read_file(&b, p) == 0) {
            for (size_t i = 0; i < b.len; i++)
                if (!b.data[i])
                    b.data[i] = ' ';
            if (strstr(b.data, needle) && (!and || strstr(b.data, and)))
                n++;
        }
        bw_buf_release(&b);
        free(p);
    }
    closedir(d);
    return n;
}

void e2e_push(struct e2e_args *a, const char *s)
{
    ck_assert_uint_lt(a->n + 1, sizeof(a->v) / sizeof(a->v[0]));
    a->v[a->n++] = (char *)s;
    a->v[a->n] = NULL;
}

#define E2E_PATH "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"

int e2e_run(char *const argv[], const char *cache_env, struct bw_spawn_result *res)
{
    char *envp[] = {(char *)cache_env, E2E_PATH, NULL};
    struct bw_error err = BW_ERROR_INIT;
    bw_spawn_run(argv, envp, NULL, 0, res, &err);
    bw_error_release(&err);
    return res->status;
}

int e2e_signal_when(char *const argv[], const char *cache_env, bool (*ready)(const char *, void *),
                    void *ud, const char *what, struct bw_buf *log, int sig)
{
    char *envp[] = {(char *)cache_env, E2E_PATH, NULL};
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 1);
    posix_spawn_file_actions_adddup2(&fa, pipefd[1], 2); /* a failure says why in the log */
    posix_spawn_file_actions_addclose(&fa, pipefd[0]);
    /* A process group of its own, signalled as a whole: what a terminal does on Ctrl-C. */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid;
    ck_assert_int_eq(posix_spawn(&pid, argv[0], &fa, &attr, argv, envp), 0);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    close(pipefd[1]);
    FILE *f = fdopen(pipefd[0], "r");
    char line[4096];
    bool seen = false;
    while (!seen && fgets(line, sizeof(line), f)) {
        seen = ready(line, ud);
        bw_buf_adds(log, line);
    }
    if (!seen) { /* it ended first: say how, with what it printed on both streams */
        int st;
        fclose(f);
        ck_assert_int_eq(waitpid(pid, &st, 0), pid);
        ck_abort_msg("the build never reached %s (%s %d):\n%s", what,
                     WIFEXITED(st) ? "exit" : "signal",
                     WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st), log->data);
    }
    usleep(300 * 1000); /* inside the step, not at its edge */
    kill(-pid, sig);
    while (fgets(line, sizeof(line), f))
        bw_buf_adds(log, line);
    fclose(f);
    int st;
    ck_assert_int_eq(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static bool step_begun(const char *line, void *want)
{
    return strstr(line, want) != NULL;
}

int e2e_signal_at(char *const argv[], const char *cache_env, const char *step, struct bw_buf *log,
                  int sig)
{
    char *want = bw_xasprintf("\"step\":\"%s\",\"event\":\"step\"", step);
    char *what = bw_xasprintf("step %s", step);
    int rc = e2e_signal_when(argv, cache_env, step_begun, want, what, log, sig);
    free(want);
    free(what);
    return rc;
}

json_t *e2e_copy_template(const char *work, const char *name, char **def_path)
{
    char *dst = bw_xasprintf("%s/%s", work, name);
    char *src = bw_xasprintf("%s/%s", BW_TEMPLATES, name);
    char *argv[] = {"cp", "-r", src, dst, NULL};
    struct bw_spawn_result res;
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_msg(bw_spawn_run(argv, NULL, NULL, 0, &res, &err) == 0, "%s", err.msg);
    bw_spawn_result_release(&res);
    *def_path = bw_xasprintf("%s/definition.json", dst);
    json_error_t jerr;
    json_t *def = json_load_file(*def_path, 0, &jerr);
    ck_assert_msg(def != NULL, "%s", jerr.text);
    free(src);
    free(dst);
    return def;
}

void e2e_save_json(json_t *def, const char *path)
{
    ck_assert_int_eq(json_dump_file(def, path, JSON_INDENT(2)), 0);
    json_decref(def);
}

int e2e_environment(bool *libvirt, const char **lv_uri)
{
    if (getenv("BW_SKIP_VM_TESTS")) {
        printf("BW_SKIP_VM_TESTS is set; skipping\n");
        return 77;
    }
    const char *drv = getenv("BW_E2E_DRIVER");
    *libvirt = drv && strcmp(drv, "libvirt") == 0;
    *lv_uri = getenv("BW_LIBVIRT_URI");
    if (*libvirt && !*lv_uri) {
        printf("BW_E2E_DRIVER=libvirt needs tests/e2e/with-libvirtd around it; skipping\n");
        return 77;
    }
    return 0;
}
