/*
 * libFuzzer target: the WinRM service's answers (comm/winrm.c's reply parser). Whatever the
 * bytes: no crash, no leak, an error or a reply; decoded output is never longer than base64
 * could make of the input, and an exit code is only read from an answer that says Done or
 * carries one.
 */
#include "../../builder/comm/winrm.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bw_winrm_reply r;
    struct bw_error err = BW_ERROR_INIT;
    if (bw_winrm_parse_reply((const char *)data, size, &r, &err) == 0) {
        if (r.out.len + r.err_out.len > size)
            abort();
        if (err.msg)
            abort(); /* success leaves no error */
        bw_winrm_reply_release(&r);
    } else if (!err.msg) {
        abort(); /* a failure always says why */
    }
    bw_error_release(&err);
    return 0;
}
