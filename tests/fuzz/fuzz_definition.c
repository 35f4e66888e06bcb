/* libFuzzer target: the definition loader (JSON, position index, schema) and what follows it. */
#include "../../builder/core/definition.h"
#include "../../builder/core/prepare.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def =
        bw_definition_load_buffer("fuzz.json", "/nonexistent", (const char *)data, size, &errs);
    if (def) {
        struct bw_key_events ev = BW_KEY_EVENTS_INIT;
        struct bw_buf text = BW_BUF_INIT;
        bw_prepare_boot_command(def, &text, NULL, &ev, &errs);
        bw_prepare_source(def, NULL, NULL, &errs);
        struct bw_rendered seeds = BW_RENDERED_INIT;
        bw_prepare_seed(def, "iid-fuzz", &seeds, &errs);
        bw_rendered_release(&seeds);
        bw_buf_release(&text);
        bw_key_events_release(&ev);
    }
    for (size_t i = 0; i < errs.n; i++) {
        char *s = bw_error_format(&errs.v[i]);
        free(s);
    }
    bw_errors_release(&errs);
    bw_definition_free(def);
    return 0;
}
