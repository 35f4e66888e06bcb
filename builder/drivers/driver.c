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

static const struct bw_driver *const drivers[] = {&bw_driver_qemu, &bw_driver_libvirt,
                                                  &bw_driver_virtualbox, &bw_driver_vmware,
                                                  &bw_driver_parallels};

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
