/*
 * template - boxwright's template engine for answer files and boot commands.
 *
 * The syntax is a subset of Go's text/template, so boot commands and answer
 * files copied from Packer templates work unchanged:
 *
 *   {{ .HTTPIP }}  {{ .Name }}          a variable (built-in or declared)
 *   {{ user `mirror` }}                 a declared variable, Packer style
 *   {{ env "HOME" }}                    the environment ("" when unset)
 *   {{ if .X }}…{{ else if .Y }}…{{ else }}…{{ end }}
 *   {{ range .Packages }}{{ . }}{{ else }}…{{ end }}   `.` is the item inside
 *   {{- and -}}                         trim whitespace before / after
 *   {{/ * comment * /}}             a comment (written without the inner spaces)
 *   {{ .X | upper }}                    pipes pass the value as the last argument
 *   functions: user env default quote join upper lower eq ne not sha512crypt
 *
 * Text outside actions is copied byte for byte. Problems are errors with the
 * template's name, line and column: an undefined variable, an unknown
 * function (found while parsing, before anything is rendered), an unclosed
 * action or block, a stray {{ end }} or {{ else }}.
 */
#ifndef BW_TEMPLATE_H
#define BW_TEMPLATE_H

#include "../base/buf.h"
#include "../base/error.h"
#include "variables.h"

struct bw_template;

struct bw_render_ctx {
    const struct bw_vars *vars;
    /* Looks up an environment variable; NULL means getenv(). */
    const char *(*getenv)(const char *name);
    /* When not NULL, also receives the rendering as it may be shown: where a value that comes
     * from a sensitive variable went in (directly, through a pipe or a function, as a range
     * item) it says "<sensitive>" instead. Secrets are masked by where they came from, not by
     * searching the text for them. */
    struct bw_buf *shown;
};

/* Parses text (len bytes) named `name` for errors. Returns a new template or NULL. */
struct bw_template *bw_template_parse(const char *name, const char *text, size_t len,
                                      struct bw_error *err);
/* Appends the rendering to out. Returns 0, or -1 (out may hold partial output). */
int bw_template_execute(const struct bw_template *t, const struct bw_render_ctx *ctx,
                        struct bw_buf *out, struct bw_error *err);
void bw_template_free(struct bw_template *t);

/* Parse and execute in one call. */
int bw_render(const char *name, const char *text, size_t len, const struct bw_render_ctx *ctx,
              struct bw_buf *out, struct bw_error *err);

#endif
