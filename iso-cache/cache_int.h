/*
 * cache_int - what the files of the ISO cache share (private to iso-cache/).
 *
 * cache.c runs a fetch: it resolves the checksum (sums.c), looks in the
 * store (store.c: an entry per digest, locked while it is written), hashes a
 * local source once (memo.c) or downloads a remote one (download.c);
 * common.c holds what they all use.
 */
#ifndef BW_CACHE_INT_H
#define BW_CACHE_INT_H

#include "iso_cache.h"
#include "../builder/base/buf.h"
#include "../builder/base/digest.h"

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct memo_key {
    char real[PATH_MAX];
    long long size, mtime_ns;
};

struct entry {
    const char *cache_dir;
    char key[BW_HASH_MAX_HEX + 16];
    char *dir, *part, *part_meta, *lock;
    int lock_fd;
};

/* common.c */
int bw_cache_mkdir_p(const char *dir, struct bw_error *err);
void bw_cache_web_only(CURL *c);
char *bw_cache_name_of(const char *url);
const char *bw_cache_local_path(const char *url);
void bw_cache_emit(const struct bw_iso_request *req, enum bw_iso_event_kind kind, const char *url,
                   uint64_t done, uint64_t total, double rate, unsigned attempt,
                   const char *detail);
double bw_cache_now_s(void);
int bw_cache_write_json_atomic(const char *path, json_t *obj, struct bw_error *err);

/* sums.c */
int bw_cache_resolve_spec(const char *checksum, const char *const *names, size_t n_names,
                          struct bw_checksum_spec *spec, struct bw_error *err);

/* memo.c */
int bw_cache_local_digest(const char *cache_dir, const char *path, enum bw_hash_kind kind,
                          const struct bw_iso_request *req, char hex[BW_HASH_MAX_HEX + 1],
                          struct bw_error *err);

/* store.c */
void bw_cache_entry_init(struct entry *e, const char *cache_dir,
                         const struct bw_checksum_spec *spec, const char *first_url);
void bw_cache_entry_release(struct entry *e);
int bw_cache_entry_lock(struct entry *e, const struct bw_iso_request *req, struct bw_error *err);
char *bw_cache_entry_file(const struct entry *e, char **url_out);
char *bw_cache_entry_commit(struct entry *e, const char *url, const char *name, uint64_t size,
                            const struct bw_checksum_spec *spec, struct bw_error *err);
char *bw_cache_entry_quarantine(struct entry *e, const char *name);

/* download.c */
void bw_cache_add_failure(struct bw_buf *f, const char *url, const char *why);
char *bw_cache_fetch_remote(struct entry *e, const struct bw_iso_request *req,
                            const struct bw_checksum_spec *spec, const char *url, const char *name,
                            struct bw_buf *why, bool *mismatch);

#endif
