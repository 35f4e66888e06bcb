#include "hvcli.h"
#include "../base/xmalloc.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void bw_hvcli_init(struct bw_hvcli *c, const char *tool, const char *install, const char *log_path)
{
    memset(c, 0, sizeof(*c));
    c->tool = tool;
    c->install = install;
    c->log_path = bw_xstrdup(log_path);
}

void bw_hvcli_release(struct bw_hvcli *c)
{
    for (size_t i = 0; i < c->n; i++) {
        for (char **a = c->steps[i].argv; *a; a++)
            free(*a);
        free(c->steps[i].argv);
    }
    free(c->steps);
    free(c->log_path);
    free(c->text[0]);
    memset(c, 0, sizeof(*c));
}

void bw_hvcli_plan(struct bw_hvcli *c, unsigned min_version, ...)
{
    char **argv = NULL;
    size_t n = 0, alloc = 0;
    va_list ap;
    va_start(ap, min_version);
    for (const char *a; (a = va_arg(ap, const char *));) {
        BW_GROW(argv, alloc, n + 2);
        argv[n++] = bw_xstrdup(a);
    }
    va_end(ap);
    BW_GROW(argv, alloc, n + 1);
    argv[n] = NULL;
    BW_GROW(c->steps, c->alloc, c->n + 1);
    c->steps[c->n++] = (struct bw_hvcli_step){argv, min_version};
}

static void add_line(struct bw_buf *b, const char *tool, char *const *args)
{
    bw_buf_adds(b, tool);
    for (; *args; args++) {
        bw_buf_addc(b, ' ');
        bw_buf_add_shell_word(b, *args);
    }
}

char *const *bw_hvcli_command(struct bw_hvcli *c)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    for (size_t i = 0; i < c->n; i++) {
        add_line(&b, c->tool, c->steps[i].argv);
        if (c->steps[i].min_version)
            bw_buf_addf(&b, "  # on %u.%u and later", c->steps[i].min_version / 100,
                        c->steps[i].min_version % 100);
        bw_buf_addc(&b, '\n');
    }
    free(c->text[0]);
    c->text[0] = bw_buf_detach(&b);
    c->text[1] = NULL;
    return c->text;
}

static void log_run(struct bw_hvcli *c, char *const *args, const char *input, size_t len,
                    const struct bw_spawn_result *res)
{
    int fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_adds(&b, "$ ");
    add_line(&b, c->tool, args);
    bw_buf_addc(&b, '\n');
    if (input && len) {
        bw_buf_add(&b, input, len);
        if (input[len - 1] != '\n')
            bw_buf_addc(&b, '\n');
    }
    if (res) {
        bw_buf_add(&b, res->out.data, res->out.len);
        bw_buf_add(&b, res->err.data, res->err.len);
        if (res->status)
            bw_buf_addf(&b, "(exit status %d)\n", res->status);
    }
    if (write(fd, b.data, b.len) < 0) {
        /* the log is a help, not a result */
    }
    close(fd);
    bw_buf_release(&b);
}

/* What a command does, for messages: its first word, after vmrun's "-T HOSTTYPE". */
static const char *subcommand(char *const *args)
{
    if (args[0] && strcmp(args[0], "-T") == 0 && args[1] && args[2])
        return args[2];
    return args[0] ? args[0] : "";
}

int bw_hvcli_runv(struct bw_hvcli *c, char *const *args, struct bw_spawn_result *res,
                  struct bw_error *err)
{
    return bw_hvcli_runv_input(c, args, NULL, 0, res, err);
}

int bw_hvcli_runv_input(struct bw_hvcli *c, char *const *args, const char *input, size_t len,
                        struct bw_spawn_result *res, struct bw_error *err)
{
    size_t n = 0;
    while (args[n])
        n++;
    char **argv = bw_xcalloc(n + 2, sizeof(*argv));
    argv[0] = (char *)c->tool;
    memcpy(argv + 1, args, n * sizeof(*argv));
    struct bw_spawn_result mine = {0};
    struct bw_spawn_result *r = res ? res : &mine;
    memset(r, 0, sizeof(*r));
    int rc = bw_spawn_run(argv, NULL, input, len, r, err);
    bool ran = rc == 0 || r->status != 0; /* a tool that never started has no status */
    log_run(c, args, input, len, ran ? r : NULL);
    if (rc < 0 && !ran) {
        char *m = bw_xasprintf("%s (%s)", err->msg, c->install);
        bw_error_set(err, BW_ERR_SPAWN, "%s", m);
        free(m);
    } else if (rc < 0 && r->status != 0 && err) {
        /* These tools say what went wrong first, then details and context: quote the first. */
        const char *e = r->err.data ? r->err.data : "";
        while (*e == '\n')
            e++;
        int first = (int)strcspn(e, "\n");
        bw_error_set(err, BW_ERR_SPAWN, "%s %s failed (exit status %d)%s%.*s", c->tool,
                     subcommand(args), r->status, first ? ": " : "", first, e);
    } else if (rc < 0) {
        bw_error_prefix(err, "%s %s", c->tool, subcommand(args));
    }
    if (!res)
        bw_spawn_result_release(&mine);
    free(argv);
    return rc;
}

int bw_hvcli_run(struct bw_hvcli *c, struct bw_spawn_result *res, struct bw_error *err, ...)
{
    char *args[64];
    size_t n = 0;
    va_list ap;
    va_start(ap, err);
    for (char *a; n + 1 < sizeof(args) / sizeof(args[0]) && (a = va_arg(ap, char *));)
        args[n++] = a;
    va_end(ap);
    args[n] = NULL;
    return bw_hvcli_runv(c, args, res, err);
}

int bw_hvcli_run_plan(struct bw_hvcli *c, unsigned version, struct bw_error *err)
{
    for (c->done = 0; c->done < c->n; c->done++)
        if (c->steps[c->done].min_version <= version &&
            bw_hvcli_runv(c, c->steps[c->done].argv, NULL, err) < 0)
            return -1;
    return 0;
}

unsigned bw_hvcli_version(const char *text)
{
    for (const char *p = text; *p; p++) {
        unsigned major, minor;
        int used = 0;
        if (*p >= '0' && *p <= '9' && (p == text || !(p[-1] >= '0' && p[-1] <= '9')) &&
            sscanf(p, "%3u.%3u%n", &major, &minor, &used) == 2 && used > 2 && minor < 100)
            return major * 100 + minor;
    }
    return 0;
}

int bw_hvcli_value(const char *text, const char *key, char *out, size_t outlen)
{
    size_t kl = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (strncmp(line, key, kl) != 0 || line[kl] != '=')
            continue;
        const char *v = line + kl + 1;
        bool quoted = *v == '"';
        v += quoted;
        size_t n = strcspn(v, quoted ? "\"\n" : "\n");
        if (n >= outlen)
            n = outlen - 1;
        memcpy(out, v, n);
        out[n] = '\0';
        return 0;
    }
    return -1;
}

int bw_hvcli_wait_off(int (*is_off)(void *ud, bool *off, struct bw_error *err), void *ud,
                      uint64_t timeout_ms, const char *serial, struct bw_error *err)
{
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        bool off = false;
        if (is_off(ud, &off, err) < 0)
            return -1;
        if (off)
            return 0;
        clock_gettime(CLOCK_MONOTONIC, &now);
        uint64_t ms = (uint64_t)(now.tv_sec - t0.tv_sec) * 1000 +
                      (uint64_t)((now.tv_nsec - t0.tv_nsec) / 1000000);
        if (ms >= timeout_ms) {
            bw_error_set(err, BW_ERR_INTERRUPTED,
                         "the guest did not power off within %llu s (serial console: %s)",
                         (unsigned long long)(timeout_ms / 1000), serial);
            return -1;
        }
        nanosleep(&(struct timespec){0, 500 * 1000 * 1000}, NULL);
    }
}

void bw_hvcli_vm_init(struct bw_hvcli_vm *v, const char *tool, const char *install,
                      const char *log_name, const struct bw_vm_spec *s)
{
    char *log = bw_xasprintf("%s/%s", s->workdir, log_name);
    bw_hvcli_init(&v->cli, tool, install, log);
    free(log);
    v->name = bw_xstrdup(s->name);
    v->workdir = bw_xstrdup(s->workdir);
    v->serial = bw_xasprintf("%s/serial.log", s->workdir);
    v->ssh_host_port = s->ssh_host_port;
    v->ssh_guest_port = s->ssh_guest_port ? s->ssh_guest_port : 22;
    v->keep = s->keep_disk_changes;
}

void bw_hvcli_vm_release(struct bw_hvcli_vm *v)
{
    bw_hvcli_release(&v->cli);
    free(v->name);
    free(v->workdir);
    free(v->serial);
}

struct bw_vm *bw_hvcli_refuse(struct bw_error *err, const char *hypervisor, const char *why,
                              const char *value)
{
    bw_error_set(err, BW_ERR_UNSUPPORTED, "%s: %s (%s)", hypervisor, why, value);
    return NULL;
}

const char *bw_hvcli_lookup(const char *const (*table)[2], size_t n, const char *key)
{
    for (size_t i = 0; key && i < n; i++)
        if (strcmp(table[i][0], key) == 0)
            return table[i][1];
    return NULL;
}

uint32_t bw_hvcli_name_hash(const char *name)
{
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h;
}

const char *bw_hvcli_choose_accel(const char *hypervisor, const char *requested, char *why,
                                  size_t whylen)
{
    snprintf(why, whylen, "%s runs guests on the host's hardware virtualization (VT-x, AMD-V)%s",
             hypervisor,
             strcmp(requested, "tcg") == 0 ? "; it has no TCG: --accel tcg does not apply" : "");
    return "kvm";
}

char *bw_hvcli_capture(struct bw_hvcli *c, const char *base, struct bw_error *err, ...)
{
    char *args[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, err);
    for (char *a; n + 2 < sizeof(args) / sizeof(args[0]) && (a = va_arg(ap, char *));)
        args[n++] = a;
    va_end(ap);
    char *png = bw_xasprintf("%s.png", base);
    args[n++] = png;
    args[n] = NULL;
    if (bw_hvcli_runv(c, args, NULL, err) < 0) {
        free(png);
        return NULL;
    }
    return png;
}

int bw_hvcli_vm_check(const struct bw_vm_spec *s, const char *hypervisor, const char *display,
                      struct bw_error *err)
{
    if (s->isolated) {
        bw_error_set(err, BW_ERR_UNSUPPORTED,
                     "%s: %s's NAT cannot cut the guest's routes off the host (QEMU's restrict=on "
                     "has no equal there): set vm.network to \"user\" to build on %s "
                     "(vm.network \"isolated\")",
                     hypervisor, display, display);
        return -1;
    }
    if (s->kernel) {
        bw_error_set(err, BW_ERR_UNSUPPORTED,
                     "%s: %s cannot boot a kernel directly: boot.method \"kernel\" needs the qemu "
                     "or libvirt driver (%s)",
                     hypervisor, display, s->kernel);
        return -1;
    }
    return 0;
}
