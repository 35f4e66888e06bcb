/* The template engine's entry: bw_render, a parse and an execution; see template.h. */
#include "template_int.h"
#include "template.h"

#include <stdlib.h>
#include <string.h>

int bw_render(const char *name, const char *text, size_t len, const struct bw_render_ctx *ctx,
              struct bw_buf *out, struct bw_error *err)
{
    struct bw_template *t = bw_template_parse(name, text, len, err);
    if (!t)
        return -1;
    int rc = bw_template_execute(t, ctx, out, err);
    bw_template_free(t);
    return rc;
}
