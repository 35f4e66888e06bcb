/* libFuzzer target: the boot-command compiler and every encoding of its output. */
#include "../../builder/bootcmd/encodings.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    struct bw_error err = BW_ERROR_INIT;
    if (bw_bootcmd_compile((const char *)data, size, "fuzz", &ev, &err) == 0) {
        static const enum bw_key_encoding encs[] = {BW_ENC_EVENTS, BW_ENC_QMP, BW_ENC_LINUX,
                                                    BW_ENC_SCANCODE, BW_ENC_KEYSYM};
        for (size_t i = 0; i < sizeof(encs) / sizeof(encs[0]); i++) {
            struct bw_buf out = BW_BUF_INIT;
            bw_key_events_format(&ev, encs[i], &out);
            bw_buf_release(&out);
        }
    }
    bw_key_events_release(&ev);
    bw_error_release(&err);
    return 0;
}
