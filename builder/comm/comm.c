#include "comm.h"
#include "ssh.h"
#include "winrm.h"
#include "../base/xmalloc.h"

#include <stdlib.h>
#include <string.h>

struct bw_comm {
    enum bw_comm_kind kind;
    struct bw_ssh *ssh;
    struct bw_winrm *winrm;
};

const char *bw_comm_name(enum bw_comm_kind kind)
{
    return kind == BW_COMM_WINRM ? "WinRM" : "SSH";
}

struct bw_comm *bw_comm_connect(const struct bw_comm_config *cfg, struct bw_error *err)
{
    struct bw_comm *c = bw_xcalloc(1, sizeof(*c));
    c->kind = cfg->kind;
    if (cfg->kind == BW_COMM_WINRM) {
        struct bw_winrm_config w = {cfg->host,     cfg->port,       cfg->https,
                                    cfg->insecure, cfg->user,       cfg->password,
                                    cfg->ntlm,     cfg->timeout_ms, cfg->interrupted};
        c->winrm = bw_winrm_connect(&w, err);
    } else {
        struct bw_ssh_config s = {cfg->host,        cfg->port,       cfg->user,       cfg->password,
                                  cfg->private_key, cfg->timeout_ms, cfg->interrupted};
        c->ssh = bw_ssh_connect(&s, err);
    }
    if (!c->ssh && !c->winrm) {
        free(c);
        return NULL;
    }
    return c;
}

enum bw_comm_kind bw_comm_kind(const struct bw_comm *c)
{
    return c->kind;
}

int bw_comm_run(struct bw_comm *c, const char *command, bw_comm_output_fn out, void *ud,
                int *status, struct bw_error *err)
{
    if (c->winrm)
        return bw_winrm_powershell(c->winrm, command, out, ud, status, err);
    return bw_ssh_run(c->ssh, command, NULL, 0, out, ud, status, err);
}

int bw_comm_script(struct bw_comm *c, const char *script, bool sudo, bw_comm_output_fn out,
                   void *ud, int *status, struct bw_error *err)
{
    if (c->winrm)
        return bw_winrm_powershell(c->winrm, script, out, ud, status, err);
    char *remote = bw_xasprintf("/tmp/boxwright-%ld.sh", (long)random());
    int rc = bw_ssh_upload(c->ssh, remote, script, strlen(script), 0700, err);
    if (rc == 0) {
        char *cmd =
            bw_xasprintf("%ssh %s; s=$?; rm -f %s; exit $s", sudo ? "sudo " : "", remote, remote);
        rc = bw_ssh_run(c->ssh, cmd, NULL, 0, out, ud, status, err);
        free(cmd);
    }
    free(remote);
    return rc;
}

void bw_comm_power_off(struct bw_comm *c)
{
    int status;
    struct bw_error dropped = BW_ERROR_INIT;
    if (c->winrm)
        bw_winrm_powershell(c->winrm, "shutdown.exe /s /t 0 /f", NULL, NULL, &status, &dropped);
    else
        bw_ssh_run(c->ssh, "sudo poweroff || poweroff", NULL, 0, NULL, NULL, &status, &dropped);
    bw_error_release(&dropped);
}

void bw_comm_close(struct bw_comm *c)
{
    if (!c)
        return;
    bw_ssh_close(c->ssh);
    bw_winrm_close(c->winrm);
    free(c);
}
