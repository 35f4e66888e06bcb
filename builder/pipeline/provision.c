/* Steps ssh, provision and shutdown: the installed guest over its communicator (SSH or
 * WinRM: comm.h). */
#include "steps.h"
#include "../comm/comm.h"
#include "../base/xmalloc.h"
#include "../seed/seed.h"

#include <errno.h>
#include <string.h>

/* SSH never came to a guest configured by cloud-init: what its serial console says of
 * cloud-init goes after the reason (the console itself is kept as evidence). */
static void explain_cloud_init(struct bw_build *b, struct bw_error *err)
{
    const char *serial = b->vm && b->drv->serial_log ? b->drv->serial_log(b->vm) : NULL;
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    if (!serial || bw_buf_read_file(&text, serial) < 0) {
        bw_buf_release(&text);
        return;
    }
    int fetches = b->smbios_serial ? (int)bw_http_fetches(b->http, "user-data") : -1;
    char *why = bw_seed_diagnose(text.data, text.len, fetches);
    char *m = bw_xasprintf("%s; %s", err->msg, why);
    free(err->msg);
    err->msg = m;
    free(why);
    bw_buf_release(&text);
}

int bw_build_step_ssh(struct bw_build *b, struct bw_error *err)
{
    struct bw_comm_def c;
    bw_definition_comm(b->def, &c);
    char jp[32];
    snprintf(jp, sizeof(jp), ".%s.username", c.key);
    char *user = bw_build_render(b, jp, c.username, err);
    snprintf(jp, sizeof(jp), ".%s.password", c.key);
    char *pass = c.password ? bw_build_render(b, jp, c.password, err) : NULL;
    struct bw_error kerr = BW_ERROR_INIT;
    char *key =
        c.private_key ? bw_definition_file(b->def, ".ssh.private_key", c.private_key, &kerr) : NULL;
    int rc = -1;
    if (c.private_key && !key) {
        bw_error_move(err, &kerr);
    } else if (user && (pass || !c.password)) {
        struct bw_comm_config cfg = {c.winrm ? BW_COMM_WINRM : BW_COMM_SSH,
                                     "127.0.0.1",
                                     b->ssh_port,
                                     user,
                                     pass,
                                     key,
                                     c.https,
                                     c.insecure,
                                     c.ntlm,
                                     c.timeout_ms,
                                     b->o->interrupted};
        b->comm = bw_comm_connect(&cfg, err);
        if (!b->comm && err->code != BW_ERR_INTERRUPTED && b->def->cloud_init.seed)
            explain_cloud_init(b, err);
        if (b->comm) {
            bw_build_say(b, "info", "connected as %s (%s)", user, bw_comm_name(cfg.kind));
            rc = 0;
        }
        if (b->comm && b->smbios_serial) {
            static const char *const seed[] = {"user-data", "meta-data", "vendor-data"};
            for (size_t i = 0; i < 3; i++)
                bw_build_say(b, "info", "the guest fetched %s %u time%s", seed[i],
                             bw_http_fetches(b->http, seed[i]),
                             bw_http_fetches(b->http, seed[i]) == 1 ? "" : "s");
        }
    }
    free(user);
    free(pass);
    free(key);
    return rc;
}

void bw_build_cleanup_ssh(struct bw_build *b)
{
    bw_comm_close(b->comm);
    b->comm = NULL;
}

struct stream {
    struct bw_build *b;
    struct bw_buf line;
};

static void stream_output(const char *data, size_t len, bool is_stderr, void *ud)
{
    struct stream *s = ud;
    (void)is_stderr;
    for (size_t i = 0; i < len; i++) {
        if (data[i] == '\n') {
            bw_build_say(s->b, "output", "%s", s->line.data);
            bw_buf_reset(&s->line);
        } else {
            bw_buf_addc(&s->line, data[i]);
        }
    }
}

static int run_remote(struct bw_build *b, const char *what, const char *script, bool sudo,
                      struct bw_error *err)
{
    struct stream s = {b, BW_BUF_INIT};
    bw_buf_init(&s.line);
    int status = 0;
    int rc = bw_comm_script(b->comm, script, sudo, stream_output, &s, &status, err);
    if (s.line.len)
        bw_build_say(b, "output", "%s", s.line.data);
    if (rc == 0 && status != 0) {
        bw_error_set(err, BW_ERR_SPAWN, "%s exited with status %d", what, status);
        rc = -1;
    }
    bw_buf_release(&s.line);
    return rc;
}

int bw_build_step_provision(struct bw_build *b, struct bw_error *err)
{
    for (size_t i = 0; i < b->def->n_provision; i++) {
        if (bw_build_check_interrupt(b, err) < 0)
            return -1;
        const struct bw_provisioner *p = &b->def->provision[i];
        struct bw_buf script = BW_BUF_INIT;
        bw_buf_init(&script);
        char *what;
        if (p->script) {
            char jp[64];
            snprintf(jp, sizeof(jp), ".provision[%zu].script", i);
            char *path = bw_definition_file(b->def, jp, p->script, err);
            if (!path) {
                bw_buf_release(&script);
                return -1;
            }
            if (bw_buf_read_file(&script, path) < 0) {
                bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot read: %s", strerror(errno));
                free(path);
                bw_buf_release(&script);
                return -1;
            }
            free(path);
            what = bw_xasprintf("provisioning script %s", p->script);
        } else {
            /* The first failing line stops the provisioner, in either shell. */
            bw_buf_adds(&script, bw_comm_kind(b->comm) == BW_COMM_WINRM
                                     ? "$ErrorActionPreference = 'Stop'\n"
                                     : "set -e\n");
            for (size_t k = 0; k < p->inline_cmds.n; k++)
                bw_buf_addf(&script, "%s\n", p->inline_cmds.v[k]);
            what = bw_xasprintf("inline provisioner %zu", i + 1);
        }
        bw_build_say(b, "info", "running %s", what);
        int rc = run_remote(b, what, script.data, p->sudo, err);
        free(what);
        bw_buf_release(&script);
        if (rc < 0)
            return -1;
    }
    return 0;
}

int bw_build_step_shutdown(struct bw_build *b, struct bw_error *err)
{
    if (b->def->shutdown.command) {
        char *cmd = bw_build_render(b, ".shutdown.command", b->def->shutdown.command, err);
        if (!cmd)
            return -1;
        int status;
        struct bw_error ignored = BW_ERROR_INIT; /* the connection may drop as the guest halts */
        bw_comm_run(b->comm, cmd, NULL, NULL, &status, &ignored);
        bw_error_release(&ignored);
        free(cmd);
    } else {
        b->drv->stop(b->vm, err);
    }
    bw_build_cleanup_ssh(b);
    if (bw_build_wait_power_off(b, b->def->shutdown.timeout_ms, false, err) < 0)
        return -1;
    bw_build_say(b, "info", "powered off");
    bw_build_cleanup_vm(b);
    return 0;
}
