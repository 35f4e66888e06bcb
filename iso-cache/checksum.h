/*
 * checksum - the checksum notations installer ISOs are published with.
 *
 * A checksum spec, as written in a definition or on the command line:
 *   sha256:HEX  sha512:HEX  sha1:HEX  md5:HEX   a digest, hex of the right length
 *   file:URL                                    a checksum file next to the ISO
 *   none                                        no check (the caller must also
 *                                               have been given --insecure-skip-checksum)
 *
 * A checksum file (SHA256SUMS, CHECKSUM, ...) comes in three shapes, all read
 * by bw_checksum_file_find():
 *   GNU coreutils   "HEX  name" or "HEX *name" (binary mode)
 *   BSD tagged      "SHA256 (name) = HEX", with "# ..." comment lines
 *   either of them inside an OpenPGP clear-signed block (AlmaLinux, Fedora)
 * A line is matched by the file name (basename of the ISO URL); "./name" and
 * "name" are the same.
 */
#ifndef BW_CHECKSUM_H
#define BW_CHECKSUM_H

#include "../builder/core/error.h"

#include <stdbool.h>
#include <stddef.h>

enum bw_hash_kind { BW_HASH_NONE, BW_HASH_MD5, BW_HASH_SHA1, BW_HASH_SHA256, BW_HASH_SHA512 };

#define BW_HASH_MAX_HEX 128

struct bw_checksum_spec {
    enum bw_hash_kind kind;        /* BW_HASH_NONE for "none" and for file: before resolution */
    char hex[BW_HASH_MAX_HEX + 1]; /* lower-case digest; empty for file: and none */
    char *file_url;                /* for file:URL, else NULL; owned */
    bool is_none;
};

/* Name as written in specs ("sha256"), and the digest length in hex digits. */
const char *bw_hash_name(enum bw_hash_kind kind);
size_t bw_hash_hex_len(enum bw_hash_kind kind);

/* Parses spec into out (released with bw_checksum_spec_release). Returns 0 or -1. */
int bw_checksum_spec_parse(const char *spec, struct bw_checksum_spec *out, struct bw_error *err);
void bw_checksum_spec_release(struct bw_checksum_spec *spec);

/*
 * Finds the digest for `name` in the checksum file `text` (len bytes;
 * `source` names the file in errors). The digest kind is taken from the BSD
 * tag, or guessed from the hex length in GNU lines. On success fills out
 * (kind and hex) and returns 0. If the name is absent, or its line is
 * malformed, returns -1 with BW_ERR_NOT_FOUND or BW_ERR_SYNTAX and the line.
 */
int bw_checksum_file_find(const char *text, size_t len, const char *name, const char *source,
                          struct bw_checksum_spec *out, struct bw_error *err);

#endif
