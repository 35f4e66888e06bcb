/* libFuzzer target: boxwright's autoinstall checks on any text (libyaml's document loader
 * included). The first byte picks which lines may be quoted (none, all, or every other). */
#include "../../builder/seed/autoinstall.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool every_other(long line, void *ud)
{
    (void)ud;
    return line % 2 == 0;
}

static bool never(long line, void *ud)
{
    (void)line;
    (void)ud;
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool (*show)(long, void *) = data[0] % 3 == 0 ? NULL : data[0] % 3 == 1 ? every_other : never;
    struct bw_errors errs = BW_ERRORS_INIT;
    bool autoinstall;
    size_t n = bw_autoinstall_check("u", (const char *)data + 1, size - 1, show, NULL, &autoinstall,
                                    &errs);
    if (n != errs.n || (n == 0 && size > 1 && data[1] != '#'))
        abort();
    bw_errors_release(&errs);
    return 0;
}
