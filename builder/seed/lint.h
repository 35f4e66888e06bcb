/*
 * lint - checks of rendered cloud-init seed files, for `boxwright validate`.
 *
 * Every seed file must parse as YAML (libyaml); an error names the seed's
 * source file, the line and column in the rendered text, and what libyaml
 * expected. user-data must start with "#cloud-config" (cloud-init ignores it
 * otherwise) unless it is a script ("#!") or an include. When cloud-init is
 * installed, the rendered #cloud-config user-data is also checked against
 * cloud-init's own schema (`cloud-init schema --config-file`).
 *
 * Answer files are checked by kind, from their names: a d-i preseed
 * (`*preseed*.cfg`, `*.preseed`) by `debconf-set-selections --checkonly`, an
 * XML file (AutoYaST, Autounattend) by boxwright's checks (xmlanswer.h), an
 * Agama profile (`*agama*.json`, `autoinst.json`) by boxwright's (agama.h), a kickstart
 * (`ks.cfg`, `*-ks.cfg`, `*.ks`, `*kickstart*.cfg`) by boxwright's own checks
 * (kickstart.h), an Ubuntu autoinstall `user-data` by boxwright's checks
 * (autoinstall.h) and then cloud-init's schema, a FreeBSD `installerconfig`
 * by `sh -n` on its preamble and its setup script (which must power off).
 * Errors name the rendered file and line; they never quote a line that holds
 * a secret.
 */
#ifndef BW_LINT_H
#define BW_LINT_H

#include "../core/definition.h"
#include "../core/prepare.h"

/* Lints seeds (as bw_prepare_seed() rendered them for def); appends errors to errs and
 * returns their count. *schema_checked says whether cloud-init's schema ran. */
size_t bw_seed_lint(const struct bw_definition *def, const struct bw_rendered *seeds,
                    bool *schema_checked, struct bw_errors *errs);

/* On an isolated network (vm.network "isolated") the guest reaches boxwright's HTTP server at
 * http_ip and nothing else. Appends to warnings (initialised) one line per host an answer
 * file sends the installer to that it cannot reach ("FILE:LINE: ..."): each URL's host and a
 * preseed's mirror/http/hostname, as the files may be shown (a secret is not), but for hosts
 * http.proxy_allow names (the guest reaches those through the server). Returns their
 * count; 0 on another network. */
size_t bw_answer_unreachable(const struct bw_definition *def, const struct bw_rendered *files,
                             const char *http_ip, struct bw_buf *warnings);

/* Lints answer files (as bw_prepare_answer_files() rendered them for def); appends errors to
 * errs and returns their count. Adds "NAME (TOOL)" to `checked` for each file its tool checked,
 * to `missing` for each whose tool is not installed (both comma-separated, initialised). */
size_t bw_answer_lint(const struct bw_definition *def, const struct bw_rendered *files,
                      struct bw_buf *checked, struct bw_buf *missing, struct bw_errors *errs);

/* Checks that text parses as YAML; on failure sets err at file:line:col. Used by the fuzzer. */
int bw_yaml_check(const char *file, const char *text, size_t len, struct bw_error *err);

#endif
