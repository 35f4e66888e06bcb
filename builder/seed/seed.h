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

#include <stddef.h>

/* Writes files (name -> bytes) into a new ISO9660 volume at path, labelled label. The file is
 * written to path.part and renamed, so a half-written volume is never left at path. */
int bw_seed_volume_write(const char *path, const char *label, const struct bw_rendered *files,
                         struct bw_error *err);

/*
 * What a guest's serial console says of cloud-init, for a build whose SSH never came up:
 * cloud-init never ran (no "Cloud-init v." line: with the seed over HTTP, the guest's fetches
 * of user-data tell more; on a volume, the guest may not see it), it found no seed
 * (DataSourceNone), it started and never finished, or it finished (its last line quoted) and
 * SSH is what failed. console is the log's text (its last part is enough); user_data_fetches
 * counts the guest's fetches of user-data when the seed was served, or is -1. Returns a
 * sentence (caller frees); an empty console is one too.
 */
char *bw_seed_diagnose(const char *console, size_t len, int user_data_fetches);

#endif
