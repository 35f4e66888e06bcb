/* libFuzzer target: boxwright's checks of XML answer files (AutoYaST, Autounattend) on any
 * bytes. The first byte picks which lines may be quoted (none, all, or every other). */
#include "../../builder/seed/xmlanswer.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    long lines = 1;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n' || (text[i] == '\r' && (i + 1 == len || text[i + 1] != '\n'));
    struct bw_errors errs = BW_ERRORS_INIT;
    enum bw_xml_kind kind;
    size_t n = bw_xml_answer_check("f.xml", text, len, show, NULL, &kind, &errs);
    if (n != errs.n)
        abort();
    /* Every error is at a line of the text (or names only the file). */
    for (size_t i = 0; i < errs.n; i++)
        if (errs.v[i].line < 0 || errs.v[i].line > lines)
            abort();
    bw_errors_release(&errs);
    return 0;
}
