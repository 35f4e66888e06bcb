/*
 * iso - files out of an ISO 9660 image (the kernel and initrd of a direct
 * kernel boot), through libarchive: no mount, no root, no xorriso.
 */
#ifndef BW_ISO_H
#define BW_ISO_H

#include "../base/error.h"

#include <stddef.h>

/* Copies each inside[i] (a path in the ISO, with or without a leading "/") of iso to out[i].
 * Names the missing file, and the ISO, when one is not there. */
int bw_iso_extract(const char *iso, const char *const *inside, const char *const *out, size_t n,
                   struct bw_error *err);

#endif
