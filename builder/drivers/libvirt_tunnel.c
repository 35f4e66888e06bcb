/* The libvirt driver on a qemu+ssh:// host: the VM's forwards (SSH in, HTTP out) are on
 * that host's loopback, carried here by `ssh -L/-R`. */
#include "libvirt_int.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <time.h>

bool bw_lv_parse_ssh_uri(const char *uri, struct ssh_target *t)
{
    memset(t, 0, sizeof(*t));
    const char *p = strstr(uri, "://");
    if (!p || (size_t)(p - uri) < 4 || strncmp(p - 4, "+ssh", 4) != 0)
        return false;
    p += 3;
    size_t auth = strcspn(p, "/?");
    const char *at = memchr(p, '@', auth);
    if (at) {
        snprintf(t->user, sizeof(t->user), "%.*s", (int)(at - p), p);
        auth -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    const char *colon = memchr(p, ':', auth);
    size_t hostlen = colon ? (size_t)(colon - p) : auth;
    snprintf(t->host, sizeof(t->host), "%.*s", (int)hostlen, p);
    if (colon)
        snprintf(t->port, sizeof(t->port), "%.*s", (int)(auth - hostlen - 1), colon + 1);
    const char *q = strchr(p, '?');
    while (q && *q) {
        q++;
        size_t n = strcspn(q, "&");
        if (strncmp(q, "keyfile=", 8) == 0)
            snprintf(t->keyfile, sizeof(t->keyfile), "%.*s", (int)(n - 8), q + 8);
        else if (strncmp(q, "command=", 8) == 0)
            snprintf(t->command, sizeof(t->command), "%.*s", (int)(n - 8), q + 8);
        else if (strncmp(q, "no_verify=1", n) == 0 && n == 11)
            t->no_verify = true;
        q += n;
    }
    return t->host[0] != '\0';
}

static bool port_answers(unsigned port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

/*
 * The VM's forwards are on the remote host's loopback. One `ssh -N` (the same
 * ssh, user, port and key that libvirt's qemu+ssh transport uses) carries
 * them: -L brings the guest's SSH port here, -R takes the guest's HTTP
 * stream back to the relay here. Remote ports are picked free on this host
 * (the only thing this host can check); ExitOnForwardFailure turns a taken
 * one into an error rather than a silent half-tunnel.
 */
int bw_lv_start_tunnel(struct bw_vm *vm, const struct ssh_target *t, unsigned local_ssh,
                       unsigned remote_ssh, unsigned local_http, unsigned remote_http,
                       struct bw_error *err)
{
    char *argv[32];
    size_t n = 0;
    char lfwd[64], rfwd[64];
    argv[n++] = t->command[0] ? (char *)t->command : "ssh";
    argv[n++] = "-N";
    argv[n++] = "-o";
    argv[n++] = "ExitOnForwardFailure=yes";
    argv[n++] = "-o";
    argv[n++] = "BatchMode=yes";
    if (t->no_verify) {
        argv[n++] = "-o";
        argv[n++] = "StrictHostKeyChecking=no";
    }
    if (t->port[0]) {
        argv[n++] = "-p";
        argv[n++] = (char *)t->port;
    }
    if (t->user[0]) {
        argv[n++] = "-l";
        argv[n++] = (char *)t->user;
    }
    if (t->keyfile[0]) {
        argv[n++] = "-i";
        argv[n++] = (char *)t->keyfile;
    }
    if (local_ssh) {
        snprintf(lfwd, sizeof(lfwd), "127.0.0.1:%u:127.0.0.1:%u", local_ssh, remote_ssh);
        argv[n++] = "-L";
        argv[n++] = lfwd;
    }
    if (local_http) {
        snprintf(rfwd, sizeof(rfwd), "127.0.0.1:%u:127.0.0.1:%u", remote_http, local_http);
        argv[n++] = "-R";
        argv[n++] = rfwd;
    }
    argv[n++] = "--";
    argv[n++] = (char *)t->host;
    argv[n] = NULL;
    char *log = bw_xasprintf("%s/tunnel.log", vm->workdir);
    unlink(log);
    /* In its own process group (a Ctrl-C reaches boxwright alone, whose cleanup stops it),
     * killed when boxwright dies, so even a SIGKILLed build leaves no tunnel running. */
    vm->tunnel = bw_spawn_background(argv, log, err);
    if (vm->tunnel < 0) {
        vm->tunnel = 0;
        bw_error_prefix(err, "the tunnel to %s", t->host);
        free(log);
        return -1;
    }
    /* Up when the local end of -L answers (ssh opens it after the remote end agreed). */
    for (int i = 0; i < 300; i++) {
        int st;
        if (waitpid(vm->tunnel, &st, WNOHANG) == vm->tunnel) {
            vm->tunnel = 0;
            struct bw_buf b = BW_BUF_INIT;
            bw_buf_init(&b);
            bw_buf_read_file(&b, log);
            bw_buf_rtrim(&b);
            bw_error_set(err, BW_ERR_NETWORK, "the ssh tunnel to %s ended: %s", t->host, b.data);
            bw_buf_release(&b);
            free(log);
            return -1;
        }
        if (!local_ssh || port_answers(local_ssh)) {
            if (local_ssh)
                bw_lv_note(vm, "ssh tunnel to %s: the guest's SSH on 127.0.0.1:%u here", t->host,
                           local_ssh);
            if (local_http)
                bw_lv_note(vm, "ssh tunnel to %s: the guest's HTTP from 127.0.0.1:%u there",
                           t->host, remote_http);
            free(log);
            return 0;
        }
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
    }
    bw_error_set(err, BW_ERR_NETWORK, "the ssh tunnel to %s did not come up in 30 s (see %s)",
                 t->host, log);
    free(log);
    return -1;
}

void bw_lv_stop_tunnel(struct bw_vm *vm)
{
    if (vm->tunnel > 0) {
        bw_spawn_stop(vm->tunnel, 2000);
        vm->tunnel = 0;
    }
}
