/*
 * digest - message digests (OpenSSL EVP), in two shapes:
 *   bw_hash_*        plain, on the caller's thread (local files, small data);
 *   bw_hasher_*      pipelined: update() copies the bytes into a chunk and a
 *                    second thread digests full chunks, so a download does not
 *                    wait for hashing (two cores: one receives, one hashes).
 * Part of the base: the ISO cache verifies with it, exporters and drivers
 * checksum what they write or upload.
 */
#ifndef BW_DIGEST_H
#define BW_DIGEST_H

#include "error.h"

#include <stddef.h>
#include <stdint.h>

enum bw_hash_kind { BW_HASH_NONE, BW_HASH_MD5, BW_HASH_SHA1, BW_HASH_SHA256, BW_HASH_SHA512 };

#define BW_HASH_MAX_HEX 128

struct bw_hash;
struct bw_hash *bw_hash_new(enum bw_hash_kind kind);
void bw_hash_update(struct bw_hash *h, const void *data, size_t len);
/* Writes the lower-case hex digest (NUL-terminated) into hex; the hash can be reused after. */
void bw_hash_final(struct bw_hash *h, char hex[BW_HASH_MAX_HEX + 1]);
void bw_hash_free(struct bw_hash *h);

struct bw_hasher;
struct bw_hasher *bw_hasher_new(enum bw_hash_kind kind);
void bw_hasher_update(struct bw_hasher *h, const void *data, size_t len);
/* Waits for the queued bytes, writes the hex digest, and restarts empty. */
void bw_hasher_final(struct bw_hasher *h, char hex[BW_HASH_MAX_HEX + 1]);
/* Drops everything hashed so far (a download that restarts from byte 0). */
void bw_hasher_reset(struct bw_hasher *h);
/* Bytes handed to update() since creation or the last reset/final. */
uint64_t bw_hasher_bytes(const struct bw_hasher *h);
void bw_hasher_free(struct bw_hasher *h);

/*
 * Hashes the file at path (read in large blocks), reporting progress through
 * fn every ~100 ms when fn is not NULL (NULL for none). Returns 0 and the hex
 * digest, or -1 with BW_ERR_IO.
 */
int bw_hash_file(const char *path, enum bw_hash_kind kind, char hex[BW_HASH_MAX_HEX + 1],
                 void (*fn)(uint64_t done, uint64_t total, void *ud), void *ud,
                 struct bw_error *err);

#endif
