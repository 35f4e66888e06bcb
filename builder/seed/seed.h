/*
 * seed - files a guest reads from a CD-ROM.
 *
 * bw_seed_volume_write() writes a small ISO9660 volume (Rock Ridge and Joliet
 * names, so "user-data" keeps its name) labelled as asked, "cidata" for
 * cloud-init's NoCloud. libarchive writes it: no xorriso or genisoimage at
 * run time.
 */
#ifndef BW_SEED_H
#define BW_SEED_H

#include "../base/error.h"
#include "../core/prepare.h"

/* Writes files (name -> bytes) into a new ISO9660 volume at path, labelled label. The file is
 * written to path.part and renamed, so a half-written volume is never left at path. */
int bw_seed_volume_write(const char *path, const char *label, const struct bw_rendered *files,
                         struct bw_error *err);

#endif
