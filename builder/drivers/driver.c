/* The driver table: adding a hypervisor is one file plus one row here. */
#include "driver.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const struct bw_driver *const drivers[] = {&bw_driver_qemu, &bw_driver_libvirt};

const struct bw_driver *const *bw_drivers(size_t *n)
{
    *n = sizeof(drivers) / sizeof(drivers[0]);
    return drivers;
}

const struct bw_driver *bw_driver_find(const char *name)
{
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    return NULL;
}

const char *bw_driver_names(void)
{
    static char names[128];
    if (!names[0])
        for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
            snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", i ? ", " : "",
                     drivers[i]->name);
    return names;
}

const char *bw_ovmf_path(void)
{
    const char *p = getenv("BOXWRIGHT_OVMF");
    return p && *p ? p : "/usr/share/ovmf/OVMF.fd";
}

unsigned bw_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    unsigned port = 0;
    socklen_t sl = sizeof(sa);
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

bool bw_libvirt_uri_is_remote(const char *uri)
{
    const char *p = strstr(uri, "://");
    return p && p[3] && p[3] != '/';
}

void bw_user_netdev(struct bw_buf *b, const struct bw_vm_spec *s, const char *id,
                    const char *http_dest)
{
    bw_buf_addf(b, "user,id=%s", id);
    if (s->isolated)
        bw_buf_adds(b, ",restrict=on");
    if (s->ssh_host_port)
        bw_buf_addf(b, ",hostfwd=tcp:127.0.0.1:%u-:%u", s->ssh_host_port,
                    s->ssh_guest_port ? s->ssh_guest_port : 22);
    if (http_dest && s->http_guest_ip)
        bw_buf_addf(b, ",guestfwd=tcp:%s:%u-%s", s->http_guest_ip, s->http_guest_port, http_dest);
}

void bw_qemu_opt_escape(struct bw_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == ',')
            bw_buf_addc(b, ',');
        bw_buf_addc(b, *s);
    }
}

const char *bw_nic_device(const char *model)
{
    static const struct {
        const char *model, *device;
    } nics[] = {
        {"virtio", "virtio-net-pci"},
        {"e1000", "e1000"},
        {"e1000e", "e1000e"},
        {"rtl8139", "rtl8139"},
    };
    for (size_t i = 0; i < sizeof(nics) / sizeof(nics[0]); i++)
        if (strcmp(nics[i].model, model) == 0)
            return nics[i].device;
    return NULL;
}
