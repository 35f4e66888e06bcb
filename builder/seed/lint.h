/*
 * lint - checks of rendered cloud-init seed files, for `boxwright validate`.
 *
 * Every seed file must parse as YAML (libyaml); an error names the seed's
 * source file, the line and column in the rendered text, and what libyaml
 * expected. user-data must start with "#cloud-config" (cloud-init ignores it
 * otherwise) unless it is a script ("#!") or an include. When cloud-init is
 * installed, the rendered #cloud-config user-data is also checked against
 * cloud-init's own schema (`cloud-init schema --config-file`).
 */
#ifndef BW_LINT_H
#define BW_LINT_H

#include "../core/definition.h"
#include "../core/prepare.h"

/* Lints seeds (as bw_prepare_seed() rendered them for def); appends errors to errs and
 * returns their count. *schema_checked says whether cloud-init's schema ran. */
size_t bw_seed_lint(const struct bw_definition *def, const struct bw_rendered *seeds,
                    bool *schema_checked, struct bw_errors *errs);

/* Checks that text parses as YAML; on failure sets err at file:line:col. Used by the fuzzer. */
int bw_yaml_check(const char *file, const char *text, size_t len, struct bw_error *err);

#endif
