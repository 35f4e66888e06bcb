#include "ssh.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"

#include <libssh/libssh.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bw_ssh {
    ssh_session session;
};

static uint64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* One attempt: connect and authenticate. Returns a session or NULL with why filled. */
static ssh_session attempt(const struct bw_ssh_config *cfg, ssh_key key, char *why, size_t whylen,
                           bool *auth_failed)
{
    ssh_session s = ssh_new();
    long timeout_s = 5; /* per attempt: Ctrl-C waits for at most one */
    int port = (int)cfg->port;
    int no = 0;
    ssh_options_set(s, SSH_OPTIONS_HOST, cfg->host);
    ssh_options_set(s, SSH_OPTIONS_PORT, &port);
    ssh_options_set(s, SSH_OPTIONS_USER, cfg->user);
    ssh_options_set(s, SSH_OPTIONS_TIMEOUT, &timeout_s);
    ssh_options_set(s, SSH_OPTIONS_PROCESS_CONFIG, &no); /* ~/.ssh/config is not ours to read */
    ssh_options_set(s, SSH_OPTIONS_KNOWNHOSTS, "/dev/null");
    ssh_options_set(s, SSH_OPTIONS_STRICTHOSTKEYCHECK, &no);
    *auth_failed = false;
    if (ssh_connect(s) != SSH_OK) {
        snprintf(why, whylen, "cannot connect to %s:%u: %s", cfg->host, cfg->port,
                 ssh_get_error(s));
        ssh_free(s);
        return NULL;
    }
    int rc = SSH_AUTH_DENIED;
    if (key)
        rc = ssh_userauth_publickey(s, NULL, key);
    if (rc != SSH_AUTH_SUCCESS && cfg->password)
        rc = ssh_userauth_password(s, NULL, cfg->password);
    if (rc != SSH_AUTH_SUCCESS) {
        /* ssh_get_error() names the methods tried, never the password. */
        snprintf(why, whylen, "%s@%s:%u refused the %s: %s", cfg->user, cfg->host, cfg->port,
                 key && cfg->password ? "key and the password"
                 : key                ? "key"
                                      : "password",
                 ssh_get_error(s));
        *auth_failed = true;
        ssh_disconnect(s);
        ssh_free(s);
        return NULL;
    }
    return s;
}

struct bw_ssh *bw_ssh_connect(const struct bw_ssh_config *cfg, struct bw_error *err)
{
    ssh_key key = NULL;
    if (cfg->private_key &&
        ssh_pki_import_privkey_file(cfg->private_key, NULL, NULL, NULL, &key) != SSH_OK) {
        bw_error_at(err, BW_ERR_IO, cfg->private_key, NULL, 0, 0,
                    "cannot read the private key (expected an unencrypted OpenSSH or PEM key)");
        return NULL;
    }
    if (!key && !cfg->password) {
        bw_error_set(err, BW_ERR_USAGE, "ssh: neither a password nor a private key was given");
        return NULL;
    }
    uint64_t deadline = now_ms() + cfg->timeout_ms;
    char why[512] = "";
    ssh_session s = NULL;
    bool auth_failed = false;
    unsigned tries = 0;
    for (;;) {
        tries++;
        s = attempt(cfg, key, why, sizeof(why), &auth_failed);
        if (s || now_ms() >= deadline || (cfg->interrupted && *cfg->interrupted))
            break;
        struct timespec t = {1, 0};
        nanosleep(&t, NULL);
    }
    ssh_key_free(key);
    if (!s && cfg->interrupted && *cfg->interrupted) {
        bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted while waiting for SSH");
        return NULL;
    }
    if (!s) {
        bw_error_set(err, auth_failed ? BW_ERR_USAGE : BW_ERR_NETWORK,
                     "SSH did not become available within %llu s (%u attempts); last: %s",
                     (unsigned long long)(cfg->timeout_ms / 1000), tries, why);
        return NULL;
    }
    struct bw_ssh *ssh = bw_xcalloc(1, sizeof(*ssh));
    ssh->session = s;
    return ssh;
}

int bw_ssh_run(struct bw_ssh *s, const char *command, const void *stdin_data, size_t len,
               bw_ssh_output_fn out, void *ud, int *status, struct bw_error *err)
{
    ssh_channel ch = ssh_channel_new(s->session);
    if (!ch || ssh_channel_open_session(ch) != SSH_OK ||
        ssh_channel_request_exec(ch, command) != SSH_OK) {
        bw_error_set(err, BW_ERR_NETWORK, "ssh: cannot start a command: %s",
                     ssh_get_error(s->session));
        if (ch)
            ssh_channel_free(ch);
        return -1;
    }
    const char *p = stdin_data;
    while (len) {
        int w = ssh_channel_write(ch, p, (uint32_t)(len > 65536 ? 65536 : len));
        if (w <= 0) {
            bw_error_set(err, BW_ERR_NETWORK, "ssh: writing the command's input failed: %s",
                         ssh_get_error(s->session));
            ssh_channel_free(ch);
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    ssh_channel_send_eof(ch);
    char buf[16384];
    bool open[2] = {true, true};
    while (open[0] || open[1]) {
        for (int e = 0; e < 2; e++) {
            if (!open[e])
                continue;
            int n = ssh_channel_read_timeout(ch, buf, sizeof(buf), e, 50);
            if (n > 0 && out)
                out(buf, (size_t)n, e == 1, ud);
            else if (n < 0 || (n == 0 && ssh_channel_is_eof(ch)))
                open[e] = false;
        }
    }
    ssh_channel_close(ch);
    *status = ssh_channel_get_exit_status(ch);
    if (*status < 0)
        *status = 255;
    ssh_channel_free(ch);
    return 0;
}

struct collect {
    struct bw_buf err;
};

static void collect_stderr(const char *data, size_t len, bool is_stderr, void *ud)
{
    if (is_stderr)
        bw_buf_add(&((struct collect *)ud)->err, data, len);
}

int bw_ssh_upload(struct bw_ssh *s, const char *remote_path, const void *data, size_t len,
                  unsigned mode, struct bw_error *err)
{
    /* Single-quote the path for the remote shell ('\'' for a quote inside). */
    struct bw_buf cmd = BW_BUF_INIT;
    bw_buf_adds(&cmd, "cat > '");
    for (const char *p = remote_path; *p; p++)
        bw_buf_adds(&cmd, *p == '\'' ? "'\\''" : (char[]){*p, 0});
    bw_buf_addf(&cmd, "' && chmod %o '", mode);
    for (const char *p = remote_path; *p; p++)
        bw_buf_adds(&cmd, *p == '\'' ? "'\\''" : (char[]){*p, 0});
    bw_buf_adds(&cmd, "'");
    struct collect c;
    bw_buf_init(&c.err);
    int status = 0;
    int rc = bw_ssh_run(s, cmd.data, data, len, collect_stderr, &c, &status, err);
    if (rc == 0 && status != 0) {
        bw_buf_rtrim(&c.err);
        bw_error_set(err, BW_ERR_IO, "uploading %s failed (exit %d): %s", remote_path, status,
                     c.err.data);
        rc = -1;
    }
    bw_buf_release(&c.err);
    bw_buf_release(&cmd);
    return rc;
}

void bw_ssh_close(struct bw_ssh *s)
{
    if (!s)
        return;
    ssh_disconnect(s->session);
    ssh_free(s->session);
    free(s);
}
