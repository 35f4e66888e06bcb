/* libFuzzer target: boxwright's checks of an Agama profile on any
 * bytes. */
#include "../../builder/seed/agama.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    long lines = 1;
    for (size_t i = 0; i < size; i++)
        lines += text[i] == '\n';
    struct bw_errors errs = BW_ERRORS_INIT;
    size_t n = bw_agama_check("f.json", text, size, &errs);
    if (n != errs.n)
        abort();
    /* Every error is at a line of the text (or names only the file). */
    for (size_t i = 0; i < errs.n; i++)
        if (errs.v[i].line < 0 || errs.v[i].line > lines)
            abort();
    bw_errors_release(&errs);
    return 0;
}
