/* The driver table: adding a hypervisor is one file plus one row here. */
#include "driver.h"

#include <string.h>

static const struct bw_driver *const drivers[] = {&bw_driver_qemu, &bw_driver_libvirt};

const struct bw_driver *bw_driver_find(const char *name)
{
    for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
        if (strcmp(drivers[i]->name, name) == 0)
            return drivers[i];
    return NULL;
}

const char *bw_driver_names(void)
{
    return "qemu, libvirt";
}
