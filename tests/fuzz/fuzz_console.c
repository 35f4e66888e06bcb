/* libFuzzer target: a guest's serial console as a build reads it: when SSH never came (what it
 * says of cloud-init), when a boot command waits for it (<expect> in a graphics mode), and when
 * the install watch looks for a question there. The first byte picks the user-data fetch count
 * (-1 to 2). */
#include "../../builder/pipeline/watch.h"
#include "../../builder/seed/seed.h"
#include "../../builder/typing/screen.h"

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
    /* A question and its text, from lines of any length and any escapes. */
    char *patterns[] = {"\\[!!?\\] ", "^GNU GRUB"};
    struct bw_strlist q = {patterns, 2};
    struct bw_buf row = BW_BUF_INIT, shown = BW_BUF_INIT;
    bw_buf_init(&row);
    bw_buf_init(&shown);
    bool found = bw_watch_console_question((const char *)data + 1, size - 1, &q, &row, &shown);
    /* a question found has its line, and the text shown starts with it */
    if (found && (!row.len || strncmp(shown.data, "  | ", 4) != 0))
        abort();
    bw_console_shows((const char *)data + 1, size - 1, "^GNU GRUB +version", true);
    bw_buf_release(&row);
    bw_buf_release(&shown);
    return 0;
}
