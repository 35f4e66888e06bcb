/*
 * prepare - what a definition turns into before anything boots: the rendered
 * answer files and the compiled boot command. validate, render, inspect and
 * build all go through here, so they agree on every byte.
 */
#ifndef BW_PREPARE_H
#define BW_PREPARE_H

#include "../base/buf.h"
#include "definition.h"
#include "../bootcmd/bootcmd.h"

struct bw_rendered_file {
    char *name;          /* path under the http directory, e.g. "preseed.cfg" */
    struct bw_buf data;  /* rendered bytes */
    struct bw_buf shown; /* the same as it may be shown: "<sensitive>" for every secret */
};

/* Does the file hold a value that came from a sensitive variable? */
bool bw_rendered_is_sensitive(const struct bw_rendered_file *f);

struct bw_rendered {
    struct bw_rendered_file *v;
    size_t n, alloc;
};

#define BW_RENDERED_INIT                                                                           \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/*
 * Renders every http.render file of def with def->vars. Appends one error per
 * file that fails (with the file's path, line and column). Returns the number
 * of errors added.
 */
size_t bw_prepare_answer_files(const struct bw_definition *def, struct bw_rendered *out,
                               struct bw_errors *errs);
/* The same for def's cd.files, each under its base name (the name it has on the CD). */
size_t bw_prepare_cd_files(const struct bw_definition *def, struct bw_rendered *out,
                           struct bw_errors *errs);
void bw_rendered_release(struct bw_rendered *r);

/*
 * Renders def's boot command (each list element in turn, so errors name the
 * element) and compiles the result into key events. `text` receives the
 * rendered command, `shown` the same as it may be shown (both may be NULL).
 * An element that does not compile where a sensitive value went in is an
 * error that does not quote it. Returns the number of errors added.
 */
size_t bw_prepare_boot_command(const struct bw_definition *def, struct bw_buf *text,
                               struct bw_buf *shown, struct bw_key_events *events,
                               struct bw_errors *errs);

/*
 * Renders one string field of the definition (an ISO URL, the checksum, the
 * SSH user...) into out. `jpath` names the field in errors (".iso.urls[0]").
 * Returns 0, or -1 with the error appended to errs.
 */
int bw_prepare_string(const struct bw_definition *def, const char *jpath, const char *raw,
                      struct bw_buf *out, struct bw_errors *errs);
/* The same, also giving the rendering as it may be shown (shown may be NULL). */
int bw_prepare_shown(const struct bw_definition *def, const char *jpath, const char *raw,
                     struct bw_buf *out, struct bw_buf *shown, struct bw_errors *errs);

/*
 * Renders the source fields (ISO URLs and checksum) and checks the rendered
 * checksum spec. Appends one error per problem; returns their count. urls
 * receives the rendered URLs (may be NULL); checksum the rendered spec.
 */
size_t bw_prepare_source(const struct bw_definition *def, struct bw_strlist *urls,
                         struct bw_buf *checksum, struct bw_errors *errs);
/* The same URLs and checksum as they may be shown (for inspect). */
size_t bw_prepare_source_shown(const struct bw_definition *def, struct bw_strlist *urls,
                               struct bw_buf *checksum, struct bw_errors *errs);
void bw_strlist_release(struct bw_strlist *l);

/*
 * Renders def's cloud_init seed files into out under their NoCloud names:
 * "user-data", "meta-data" (generated with instance_id and the box name when
 * the definition has none), "vendor-data" (empty when it has none) and
 * "network-config" (only when it has one). Nothing when def has no
 * cloud_init section. Returns the number of errors added.
 */
size_t bw_prepare_seed(const struct bw_definition *def, const char *instance_id,
                       struct bw_rendered *out, struct bw_errors *errs);

#endif
