/* Box validation: boot the exported image, log in, run the template's checks, report. */
#include "build.h"
#include "vmspec.h"
#include "../comm/comm.h"
#include "../base/buf.h"
#include "../core/prepare.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"
#include "../disk/disk.h"
#include "../drivers/driver.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void collect_both(const char *data, size_t len, bool is_stderr, void *ud)
{
    (void)is_stderr;
    bw_buf_add(ud, data, len);
}

static int write_junit(const char *path, const char *name, const struct bw_check_result *r,
                       size_t n, struct bw_error *err)
{
    size_t failures = 0;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        failures += !r[i].passed;
        total += r[i].seconds;
    }
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_adds(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"");
    bw_buf_add_xml(&b, name);
    bw_buf_addf(&b, "\" tests=\"%zu\" failures=\"%zu\" time=\"%.3f\">\n", n, failures, total);
    for (size_t i = 0; i < n; i++) {
        bw_buf_adds(&b, "  <testcase classname=\"boxwright.validate\" name=\"");
        bw_buf_add_xml(&b, r[i].name);
        bw_buf_addf(&b, "\" time=\"%.3f\">", r[i].seconds);
        if (!r[i].passed) {
            bw_buf_adds(&b, "\n    <failure message=\"");
            bw_buf_add_xml(&b, r[i].problem ? r[i].problem : "failed");
            bw_buf_adds(&b, "\">");
            bw_buf_add_xml(&b, r[i].output ? r[i].output : "");
            bw_buf_adds(&b, "</failure>\n  ");
        }
        bw_buf_adds(&b, "</testcase>\n");
    }
    bw_buf_adds(&b, "</testsuite>\n");
    FILE *f = fopen(path, "w");
    int rc = -1;
    if (f && fwrite(b.data, 1, b.len, f) == b.len)
        rc = 0;
    if (f && fclose(f) != 0)
        rc = -1;
    if (rc < 0)
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write the JUnit report");
    bw_buf_release(&b);
    return rc;
}

void bw_check_results_free(struct bw_check_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].name);
        free(r[i].output);
        free(r[i].problem);
    }
    free(r);
}

static void say(const struct bw_validate_opts *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void say(const struct bw_validate_opts *o, const char *fmt, ...)
{
    if (!o->say)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    o->say(o->ud, msg);
}

int bw_validate_image(const struct bw_definition *def, const char *image, const char *workdir,
                      const struct bw_hypervisor *hv, const struct bw_validate_opts *o,
                      struct bw_check_result **results, size_t *n, struct bw_error *err)
{
    const volatile sig_atomic_t *interrupted = o->interrupted;
    *results = NULL;
    *n = 0;
    int failed = -1;
    struct bw_vm *vm = NULL;
    struct bw_comm *comm = NULL;
    const struct bw_driver *d = hv->driver;
    struct bw_buf user = BW_BUF_INIT, pass = BW_BUF_INIT;
    struct bw_errors errs = BW_ERRORS_INIT;
    char *overlay = bw_xasprintf("%s/validate-overlay.qcow2", workdir);
    mkdir(workdir, 0755);
    /* The image stays untouched: the VM writes to an overlay that is thrown away. */
    uint64_t size;
    char format[16];
    if (bw_disk_check_self_contained(image, err) < 0 ||
        bw_disk_info(image, &size, format, err) < 0 ||
        bw_disk_overlay(overlay, image, format, 0, err) < 0)
        goto out;
    struct bw_comm_def cd;
    bw_definition_comm(def, &cd);
    char upath[32], ppath[32];
    snprintf(upath, sizeof(upath), ".%s.username", cd.key);
    snprintf(ppath, sizeof(ppath), ".%s.password", cd.key);
    if (bw_prepare_string(def, upath, cd.username, &user, &errs) < 0 ||
        (cd.password && bw_prepare_string(def, ppath, cd.password, &pass, &errs) < 0)) {
        bw_error_move(err, &errs.v[0]);
        goto out;
    }
    struct bw_vm_spec spec = {0};
    char *name = bw_vm_name(def->name, "validate");
    bw_vm_spec_of(def, hv, &spec);
    spec.name = name;
    spec.workdir = workdir;
    spec.disk = overlay;
    spec.keep_disk_changes = false;
    spec.isolated = true; /* a box is checked with no route off this host, whatever it built on */
    spec.ssh_host_port = bw_free_port();
    vm = d->create(&spec, err);
    free(name);
    if (!vm || d->start(vm, err) < 0)
        goto out;
    enum bw_comm_kind kind = cd.winrm ? BW_COMM_WINRM : BW_COMM_SSH;
    say(o, "the box is booting (driver %s); waiting for %s on 127.0.0.1:%u", d->name,
        bw_comm_name(kind), spec.ssh_host_port);
    char *key = NULL;
    if (cd.private_key && !(key = bw_definition_file(def, ".ssh.private_key", cd.private_key, err)))
        goto out;
    struct bw_comm_config cfg = {
        kind,       "127.0.0.1", spec.ssh_host_port, user.data, cd.password ? pass.data : NULL,
        key,        cd.https,    cd.insecure,        cd.ntlm,   cd.timeout_ms,
        interrupted};
    comm = bw_comm_connect(&cfg, err);
    free(key);
    if (!comm) {
        bw_error_prefix(err, "validate: the box booted but could not be reached");
        goto out;
    }
    say(o, "logged in as %s; running %zu checks", user.data, def->n_checks);
    *results = bw_xcalloc(def->n_checks + 1, sizeof(**results));
    failed = 0;
    for (size_t i = 0; i < def->n_checks && !(interrupted && *interrupted); i++) {
        const struct bw_check *c = &def->checks[i];
        struct bw_check_result *r = &(*results)[(*n)++];
        r->name = bw_xstrdup(c->name);
        struct bw_buf out = BW_BUF_INIT;
        bw_buf_init(&out);
        int status = -1;
        double t0 = now_s();
        struct bw_error cerr = BW_ERROR_INIT;
        char jpath[48];
        snprintf(jpath, sizeof(jpath), ".checks[%zu].command", i);
        struct bw_buf cmd = BW_BUF_INIT, expect = BW_BUF_INIT;
        struct bw_errors rerrs = BW_ERRORS_INIT;
        char epath[56];
        snprintf(epath, sizeof(epath), ".checks[%zu].expect_output", i);
        if (bw_prepare_string(def, jpath, c->command, &cmd, &rerrs) < 0 ||
            (c->expect_output &&
             bw_prepare_string(def, epath, c->expect_output, &expect, &rerrs) < 0))
            r->problem = bw_error_format(&rerrs.v[0]);
        else if (bw_comm_run(comm, cmd.data, collect_both, &out, &status, &cerr) < 0)
            r->problem = bw_xasprintf("could not run: %s", cerr.msg);
        else if (status != c->expect_status)
            r->problem = bw_xasprintf("exit status %d, expected %ld", status, c->expect_status);
        else if (c->expect_output && !strstr(out.data, expect.data))
            r->problem = bw_xasprintf("output lacks \"%s\"", expect.data);
        r->seconds = now_s() - t0;
        r->passed = r->problem == NULL;
        failed += !r->passed;
        r->output = bw_buf_detach(&out);
        bw_error_release(&cerr);
        bw_errors_release(&rerrs);
        bw_buf_release(&cmd);
        bw_buf_release(&expect);
    }
    if (interrupted && *interrupted) {
        bw_error_set(err, BW_ERR_INTERRUPTED, "validate: interrupted after %zu of %zu checks", *n,
                     def->n_checks);
        failed = -1;
        goto out;
    }
    if (o->junit_path && write_junit(o->junit_path, def->name, *results, *n, err) < 0)
        failed = -1;
    bw_comm_power_off(comm);
out:
    bw_comm_close(comm);
    if (vm) {
        struct bw_error ignored = BW_ERROR_INIT;
        /* Interrupted, the VM is stopped at once; otherwise it gets its time to halt. */
        if ((interrupted && *interrupted) || d->wait_off(vm, 30000, &ignored) < 0)
            d->stop(vm, &ignored);
        bw_error_release(&ignored);
        d->destroy(vm);
    }
    unlink(overlay);
    free(overlay);
    bw_buf_release(&user);
    bw_buf_release(&pass);
    bw_errors_release(&errs);
    return failed;
}
