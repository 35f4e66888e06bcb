/* The exporter table: adding a box format is one file plus one row here. */
#include "exporter.h"

#include <stddef.h>
#include <string.h>

static const struct bw_exporter *const exporters[] = {&bw_exporter_libvirt, &bw_exporter_virtualbox,
                                                      &bw_exporter_vmware, &bw_exporter_hyperv};

#define N_EXPORTERS (sizeof(exporters) / sizeof(exporters[0]))

const struct bw_exporter *bw_exporter_find(const char *provider)
{
    for (size_t i = 0; provider && i < N_EXPORTERS; i++)
        if (strcmp(exporters[i]->provider, provider) == 0)
            return exporters[i];
    return NULL;
}

const char *const *bw_exporter_providers(void)
{
    static const char *names[N_EXPORTERS + 1];
    for (size_t i = 0; i < N_EXPORTERS; i++)
        names[i] = exporters[i]->provider;
    return names;
}
