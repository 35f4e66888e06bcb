/*
 * libFuzzer target: what a VNC server sends (the handshake, then screen updates, colour maps,
 * bells, cut text), read by the client the VMware driver uses. Whatever the bytes, every
 * size stays bounded and nothing is read or written outside them or the framebuffer.
 */
#include "../../builder/drivers/rfb.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bw_error err = BW_ERROR_INIT;
    bw_rfb_parse_bytes(data, size, &err);
    bw_error_release(&err);
    return 0;
}
