/*
 * catalog - Vagrant's box catalogue ("box metadata"), for pipelines that
 * publish a box per build.
 *
 * A catalogue is one JSON file:
 *   {"name":"org/box","description":"...","versions":[{"version":"1.0.0",
 *    "providers":[{"name":"libvirt","url":"...","checksum_type":"sha256",
 *                  "checksum":"<hex>"}]}]}
 * `vagrant box add URL-of-it` installs the newest version and
 * `vagrant box update` moves to a newer one. bw_catalog_add() adds one
 * version (one build's boxes) to the file, creating it if need be; versions
 * already there are never changed.
 */
#ifndef BW_CATALOG_H
#define BW_CATALOG_H

#include "../base/error.h"

#include <stddef.h>

struct bw_catalog_box {
    const char *provider; /* "libvirt", "virtualbox", ... */
    const char *url;      /* where vagrant fetches it */
    const char *sha256;   /* hex */
};

/* Is version one Vagrant reads (Gem::Version: numbers and letters between dots, "1.0.0",
 * "2026.12.01", "1.0.0.rc1")? */
int bw_catalog_version_ok(const char *version);

/*
 * Adds version (its boxes) to the catalogue at path, which gets name and description when it
 * is new. Refuses a version the catalogue already has, a catalogue of another name, and a file
 * that is not a catalogue (naming its line and column). Written through path.tmp.
 */
int bw_catalog_add(const char *path, const char *name, const char *description, const char *version,
                   const struct bw_catalog_box *boxes, size_t n, struct bw_error *err);

#endif
