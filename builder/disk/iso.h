/*
 * iso - files out of an ISO 9660 image (the kernel and initrd of a direct
 * kernel boot), through libarchive: no mount, no root, no xorriso; and its
 * volume identifier, read from the Primary Volume Descriptor (`detect`).
 */
#ifndef BW_ISO_H
#define BW_ISO_H

#include "../base/error.h"

#include <stddef.h>

/* Copies each inside[i] (a path in the ISO, with or without a leading "/") of iso to out[i].
 * Names the missing file, and the ISO, when one is not there. */
int bw_iso_extract(const char *iso, const char *const *inside, const char *const *out, size_t n,
                   struct bw_error *err);

/* The volume identifier of an ISO 9660 Primary Volume Descriptor (a 2048-byte sector: type 1,
 * "CD001", the identifier at offset 40, 32 bytes of d-characters padded with blanks), without
 * its padding, in out. Returns 0, or -1 when the sector is no PVD or the identifier holds a
 * byte outside printable ASCII. */
int bw_iso_pvd_volume_id(const unsigned char *sector, size_t len, char out[33]);

/* The volume identifier of the ISO at path (its PVD at sector 16). 0, or -1 with err naming
 * path and what was found. */
int bw_iso_volume_id(const char *path, char out[33], struct bw_error *err);

#endif
