/* libFuzzer target: seed files as `validate` checks them (YAML through libyaml, with the
 * line:col of the first error). */
#include "../../builder/seed/lint.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bw_error err = BW_ERROR_INIT;
    if (bw_yaml_check("user-data", (const char *)data, size, &err) < 0) {
        /* An error always has a position inside (or just past) the text. */
        if (err.line < 1 || err.col < 1)
            abort();
        char *s = bw_error_format(&err);
        free(s);
    }
    bw_error_release(&err);
    return 0;
}
