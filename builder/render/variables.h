/*
 * variables - the named values a definition and its answer files use.
 *
 * A value is a string, a boolean or a list of strings (for `range`). Each
 * variable remembers where its current value came from ("default",
 * "var-file vars.json", "--var", "built-in") so `inspect` can say it, and
 * whether it is sensitive (then its value is never printed).
 *
 * Precedence is simply "last set wins": the loader sets built-ins and the
 * definition's defaults first, then the CLI applies --var-file and --var.
 * A struct bw_vars owns all its strings.
 */
#ifndef BW_VARIABLES_H
#define BW_VARIABLES_H

#include "../base/error.h"

#include <stdbool.h>
#include <stddef.h>

enum bw_value_kind { BW_VAL_STRING, BW_VAL_BOOL, BW_VAL_LIST };

struct bw_value {
    enum bw_value_kind kind;
    char *s;      /* BW_VAL_STRING */
    bool b;       /* BW_VAL_BOOL */
    char **items; /* BW_VAL_LIST */
    size_t n;
    bool sensitive; /* comes from a sensitive variable (set while rendering) */
};

struct bw_var {
    char *name;
    struct bw_value value;
    char *origin;
    bool sensitive;
    bool builtin;
};

struct bw_vars {
    struct bw_var *v;
    size_t n, alloc;
};

#define BW_VARS_INIT                                                                               \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void bw_value_release(struct bw_value *v);
/* Deep copy; dst must be released or fresh. */
void bw_value_copy(struct bw_value *dst, const struct bw_value *src);
/* Go-template truth: non-empty string, true, non-empty list. */
bool bw_value_is_true(const struct bw_value *v);
/* Appends the text form: strings as-is, booleans "true"/"false", lists "[a b]" like Go. */
struct bw_buf;
void bw_value_format(struct bw_buf *b, const struct bw_value *v);

/* Sets (or replaces) name, copying value; origin is copied. Returns the variable. */
struct bw_var *bw_vars_set(struct bw_vars *vars, const char *name, const struct bw_value *value,
                           const char *origin);
struct bw_var *bw_vars_set_string(struct bw_vars *vars, const char *name, const char *s,
                                  const char *origin);
/* Returns the variable or NULL; borrowed. */
const struct bw_var *bw_vars_get(const struct bw_vars *vars, const char *name);
void bw_vars_release(struct bw_vars *vars);

/*
 * For text that did not come from rendering (a guest's screen, a tool's
 * output, a line a provisioner printed): returns a copy in which every line
 * that contains the value of a sensitive variable is withheld whole. Masking
 * just the value would show where it was, and so what it is ("<sensitive>://"
 * for the password "http"); rendered text is masked where the value went in
 * instead (bw_render_ctx.shown). A sensitive value that is also the value of a
 * variable that is not sensitive (password "vagrant" for user "vagrant") is
 * left alone: it is shown anyway. Caller frees.
 */
char *bw_vars_mask(const struct bw_vars *vars, const char *text);

/* What a withheld line says instead. */
#define BW_WITHHELD "(a line withheld: it shows a sensitive value)"

/*
 * Applies "name=value" from --var. The name must already exist (declared by
 * the definition or built in); otherwise BW_ERR_USAGE naming the known ones.
 */
int bw_vars_apply_assignment(struct bw_vars *vars, const char *assignment, struct bw_error *err);
/* Applies a JSON object file {"name": value, ...} (--var-file); same rule for names. */
int bw_vars_apply_file(struct bw_vars *vars, const char *path, struct bw_error *err);

#endif
