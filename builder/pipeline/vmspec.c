#include "vmspec.h"

#include <string.h>

void bw_vm_spec_of(const struct bw_definition *def, const struct bw_hypervisor *hv,
                   struct bw_vm_spec *s)
{
    s->disk_format = "qcow2";
    s->memory = def->vm.memory;
    s->cpus = def->vm.cpus;
    s->firmware = def->vm.firmware;
    s->disk_model = def->vm.disk_model;
    s->nic_model = def->vm.nic_model;
    s->accel = hv->accel ? hv->accel : "tcg";
    s->uri = hv->uri;
    s->pool = hv->pool;
    s->isolated = strcmp(def->vm.network, "isolated") == 0;
    s->ssh_guest_port = (unsigned)(def->winrm.set ? def->winrm.port : def->ssh.port);
    s->http_guest_ip = hv->driver->guest_http_ip;
    s->http_guest_port = hv->driver->guest_http_port;
}
