#include "accel.h"
#include "../base/buf.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_SECONDS 5

static const char *kvm_device(void)
{
    const char *d = getenv("BOXWRIGHT_KVM_DEVICE"); /* tests point this elsewhere */
    return d && *d ? d : "/dev/kvm";
}

/* The newest /boot/vmlinuz-*; caller frees; NULL if there is none. */
static char *host_kernel(void)
{
    DIR *d = opendir("/boot");
    if (!d)
        return NULL;
    char *best = NULL;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strncmp(de->d_name, "vmlinuz-", 8) == 0 &&
            (!best || strverscmp(de->d_name, best) > 0)) {
            free(best);
            best = bw_xstrdup(de->d_name);
        }
    closedir(d);
    char *path = best ? bw_xasprintf("/boot/%s", best) : NULL;
    free(best);
    return path;
}

static char *cache_path(void)
{
    struct bw_buf id = BW_BUF_INIT;
    bw_buf_init(&id);
    if (bw_buf_read_file(&id, "/proc/sys/kernel/random/boot_id") < 0) {
        bw_buf_release(&id);
        return NULL;
    }
    bw_buf_rtrim(&id);
    const char *dir = getenv("XDG_RUNTIME_DIR");
    char *p = bw_xasprintf("%s/boxwright-kvm-probe-%s", dir && *dir ? dir : "/tmp", id.data);
    bw_buf_release(&id);
    return p;
}

/* Boots kernel under KVM; true if its banner reaches the serial console in time. */
static bool kernel_boots_under_kvm(const char *kernel, double *seconds)
{
    char logt[] = "/tmp/boxwright-kvm-probe-XXXXXX";
    int lfd = mkstemp(logt);
    if (lfd < 0)
        return false;
    close(lfd);
    char *serial = bw_xasprintf("file:%s", logt);
    char *argv[] = {"qemu-system-x86_64",
                    "-accel",
                    "kvm",
                    "-nodefaults",
                    "-no-user-config",
                    "-display",
                    "none",
                    "-m",
                    "128",
                    "-kernel",
                    (char *)kernel,
                    "-append",
                    "console=ttyS0 panic=-1",
                    "-serial",
                    serial,
                    "-no-reboot",
                    NULL};
    bool booted = false;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    struct bw_error ignored = BW_ERROR_INIT;
    pid_t pid = bw_spawn_background(argv, NULL, &ignored);
    bw_error_release(&ignored);
    if (pid > 0) {
        for (int i = 0; i < PROBE_SECONDS * 10 && !booted; i++) {
            struct timespec nap = {0, 100 * 1000000L};
            nanosleep(&nap, NULL);
            struct bw_buf log = BW_BUF_INIT;
            bw_buf_init(&log);
            if (bw_buf_read_file(&log, logt) == 0)
                booted = memmem(log.data, log.len, "Linux version", 13) != NULL;
            bw_buf_release(&log);
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                pid = -1;
                break;
            }
        }
        bw_spawn_stop(pid, 0);
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    *seconds = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
    unlink(logt);
    free(serial);
    return booted;
}

const char *bw_accel_choose(const char *requested, char *why, size_t whylen)
{
    if (requested && strcmp(requested, "tcg") == 0) {
        snprintf(why, whylen, "TCG, as asked");
        return "tcg";
    }
    if (requested && strcmp(requested, "kvm") == 0) {
        snprintf(why, whylen, "KVM, as asked");
        return "kvm";
    }
    int fd = open(kvm_device(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, whylen, "TCG: %s: %s", kvm_device(), strerror(errno));
        return "tcg";
    }
    close(fd);
    char *cache = cache_path();
    struct bw_buf cached = BW_BUF_INIT;
    bw_buf_init(&cached);
    if (cache && bw_buf_read_file(&cached, cache) == 0 && cached.len > 4) {
        bw_buf_rtrim(&cached);
        const char *choice = strncmp(cached.data, "kvm ", 4) == 0 ? "kvm" : "tcg";
        snprintf(why, whylen, "%s (probed earlier since this boot)", cached.data + 4);
        bw_buf_release(&cached);
        free(cache);
        return choice;
    }
    bw_buf_release(&cached);
    const char *choice = "tcg";
    char *kernel = host_kernel();
    if (!kernel) {
        snprintf(why, whylen, "TCG: %s opens, but there is no /boot/vmlinuz-* to test it with",
                 kvm_device());
    } else {
        double s = 0;
        if (kernel_boots_under_kvm(kernel, &s)) {
            choice = "kvm";
            snprintf(why, whylen, "KVM: a test kernel (%s) booted under it in %.1f s", kernel, s);
        } else {
            snprintf(why, whylen,
                     "TCG: %s opens, but a test kernel (%s) printed nothing under KVM in %d s "
                     "(nested KVM that hangs guests)",
                     kvm_device(), kernel, PROBE_SECONDS);
        }
        free(kernel);
        if (cache) {
            FILE *f = fopen(cache, "w");
            if (f) {
                fprintf(f, "%s %s\n", choice, why);
                fclose(f);
            }
        }
    }
    free(cache);
    return choice;
}
