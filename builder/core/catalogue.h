/*
 * catalogue - the templates boxwright ships, and how a TEMPLATE|FILE
 * argument is resolved.
 *
 * The catalogue is a directory of templates, each `<name>/definition.json`
 * plus its answer files and scripts. It is found at $BOXWRIGHT_TEMPLATES if
 * set, else at the path compiled in (the source tree's templates/ for a build
 * tree, the install prefix's share/boxwright/templates once installed).
 */
#ifndef BW_CATALOGUE_H
#define BW_CATALOGUE_H

#include "../base/error.h"

#include <stdbool.h>
#include <stddef.h>

struct bw_catalogue_entry {
    char *name;
    char *path; /* definition.json */
    char *os;   /* "linux busybox 1" */
    char *description;
    char *problem;   /* set when the definition does not load; the rest may be NULL */
    char *volume_id; /* the ERE of iso.volume_id, or NULL */
    char *firmware;  /* "bios" or "efi" */
};

struct bw_catalogue {
    struct bw_catalogue_entry *v;
    size_t n, alloc;
};

#define BW_CATALOGUE_INIT                                                                          \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

/* The catalogue directory; borrowed. */
const char *bw_catalogue_dir(void);
/*
 * Resolves a TEMPLATE|FILE argument. An argument that names an existing file,
 * or contains '/', or ends in ".json" is a file; anything else is a template
 * name. Returns the definition's path (caller frees) or NULL with an error
 * that lists the known templates.
 */
char *bw_catalogue_resolve(const char *arg, struct bw_error *err);
/* Lists the catalogue, sorted by name. Returns 0 or -1 (directory unreadable). */
int bw_catalogue_list(struct bw_catalogue *cat, struct bw_error *err);
void bw_catalogue_release(struct bw_catalogue *cat);
/* Whether the entry's iso.volume_id matches an ISO's volume ID. */
bool bw_catalogue_matches_volume(const struct bw_catalogue_entry *e, const char *volume_id);

#endif
