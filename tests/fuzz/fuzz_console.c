/* libFuzzer target: a guest's serial console as a build reads it when SSH never came (what it
 * says of cloud-init). The first byte picks the user-data fetch count (-1 to 2). */
#include "../../builder/seed/seed.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int fetches = (int)(data[0] % 4) - 1;
    char *said = bw_seed_diagnose((const char *)data + 1, size - 1, fetches);
    /* A sentence, on one line, whatever the console held. */
    if (!said || !*said || strchr(said, '\n') || strchr(said, '\r'))
        abort();
    free(said);
    return 0;
}
