/* libFuzzer target: the template engine, parse and execute, on arbitrary bytes. */
#include "../../builder/render/template.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct bw_vars vars = BW_VARS_INIT;
    if (!vars.n) {
        bw_vars_set_string(&vars, "HTTPIP", "10.0.2.100", "built-in")->builtin = true;
        bw_vars_set_string(&vars, "Name", "fuzz", "built-in")->builtin = true;
        bw_vars_set_string(&vars, "x", "value", "default");
        bw_vars_set_string(&vars, "e", "", "default");
        char *items[] = {"a", "b"};
        struct bw_value list = {BW_VAL_LIST, NULL, false, items, 2, false};
        bw_vars_set(&vars, "L", &list, "default");
        struct bw_value t = {BW_VAL_BOOL, NULL, true, NULL, 0, false};
        bw_vars_set(&vars, "T", &t, "default");
    }
    struct bw_render_ctx ctx = {&vars, NULL, NULL};
    struct bw_buf out = BW_BUF_INIT;
    struct bw_error err = BW_ERROR_INIT;
    bw_render("fuzz.tmpl", (const char *)data, size, &ctx, &out, &err);
    bw_buf_release(&out);
    bw_error_release(&err);
    return 0;
}
