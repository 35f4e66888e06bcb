#include "qemu_args.h"

#include <string.h>

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
