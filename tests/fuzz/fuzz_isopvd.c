/* libFuzzer target: an ISO 9660 Primary Volume Descriptor as `detect` reads it. */
#include "../../builder/disk/iso.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char volid[33];
    if (bw_iso_pvd_volume_id(data, size, volid) == 0) {
        /* printable, unpadded, at most 32 bytes */
        size_t n = strlen(volid);
        if (n > 32 || (n && volid[n - 1] == ' '))
            abort();
        for (size_t i = 0; i < n; i++)
            if (volid[i] < 0x20 || volid[i] > 0x7e)
                abort();
    }
    return 0;
}
