/*
 * libFuzzer target: reading a typed line back from a text screen. The input is a screen
 * (columns, cursor, cells) and the text meant; the comparisons must stay inside the cells and
 * keep their invariants whatever the screen holds.
 */
#include "../../builder/typing/readback.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Not CHECK(): the fuzz build is an optimised one, with NDEBUG. */
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 4)
        return 0;
    size_t cols = 1 + data[0] % 132;
    size_t ncells = size / 2;
    if (ncells < 4)
        return 0;
    const char *cells = (const char *)data + 4;
    ncells -= 4;
    const char *want = cells + ncells;
    size_t n = size - 4 - ncells;
    size_t cursor = ((size_t)data[1] << 8 | data[2]) % (ncells + 1);
    size_t from = data[3] % (cursor + 1);
    struct bw_readback rb = bw_readback_forward(cells, cols, from, cursor, want, n);
    CHECK(rb.agree <= rb.shown);
    CHECK(rb.agree <= n);
    /* Spaces of want that a wrap hides count as shown without a cell of their own. */
    CHECK(rb.wrong ? rb.shown - rb.agree <= cursor - from : rb.shown <= n);
    size_t got = bw_readback_tail(cells, cols, cursor, want, n, data[3] % 17);
    CHECK(got <= n);
    char before[256];
    size_t m = ncells < sizeof(before) ? ncells : sizeof(before);
    memcpy(before, cells, m);
    int k = bw_readback_scrolled(before, cells, cols, m, 3);
    CHECK(k >= -1 && k <= 3);
    return 0;
}
