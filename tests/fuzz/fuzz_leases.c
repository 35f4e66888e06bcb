/*
 * libFuzzer target: an ISC dhcpd leases file (VMware's vmnet8 DHCP server writes one) or
 * Parallels Desktop's, searched for a MAC's address. Whatever the text, the address written fits
 * its buffer and is one that the text holds.
 */
#include "../../builder/drivers/leases.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char ip[16];
    const char *text = (const char *)data;
    if (bw_dhcp_lease_find(text, size, "00:50:56:2a:0b:0c", ip, sizeof(ip)) == 0) {
        size_t n = strlen(ip);
        if (n == 0 || n >= sizeof(ip) || !memmem(text, size, ip, n))
            abort();
    }
    if (bw_parallels_lease_find(text, size, "00:1c:42:f5:93:fb", ip, sizeof(ip)) == 0) {
        size_t n = strlen(ip);
        if (n == 0 || n >= sizeof(ip) || !memmem(text, size, ip, n))
            abort();
    }
    return 0;
}
