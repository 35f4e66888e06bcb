/*
 * iso_cache - fetch, verify and keep installer ISOs (and disk images), the way
 * a package manager keeps packages. The library's one public header.
 *
 * Checksums
 * ---------
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
#ifndef BW_ISO_CACHE_H
#define BW_ISO_CACHE_H

#include "../builder/base/digest.h"
#include "../builder/base/error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

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

/*
 * The cache
 * ---------
 * Layout under the cache directory (bw_iso_cache_dir()):
 *   <algo>-<hex>/<file name>   a verified file, keyed by its content
 *   <algo>-<hex>/meta.json     where it came from, its size, when
 *   <algo>-<hex>.part          a download in progress (resumable)
 *   <algo>-<hex>.part.json     the URL and validator (ETag/Last-Modified) of the part
 *   <algo>-<hex>.lock          flock()ed while one process works on the entry
 *   quarantine/                files whose digest did not match, kept for inspection
 *   local-hashes.json          digests of local files by path, size and mtime
 * A file enters its entry only after its digest matched, by rename(). The
 * lock is an flock(), so a holder that crashes releases it with its last fd.
 *
 * Sources are tried in order: https://, http://, file:// or a plain path. A
 * local source is verified in place and returned as it is (not copied); its
 * digest is remembered by (path, size, mtime) so a re-run does not re-hash.
 * A download is hashed while it arrives, resumes a .part with an HTTP Range
 * guarded by If-Range (a server that ignores Range, or a changed file, makes
 * it restart cleanly), retries transient failures (connection cut, stall,
 * 5xx, 429) with doubling back-off, then moves on to the next source. 4xx
 * answers and mismatches move on at once; a mismatch quarantines the file.
 */

enum bw_iso_event_kind {
    BW_ISO_WAITING,  /* another process holds the entry's lock */
    BW_ISO_HIT,      /* already in the cache: no network */
    BW_ISO_START,    /* trying a source (url, attempt) */
    BW_ISO_PROGRESS, /* done/total bytes, rate */
    BW_ISO_RESUME,   /* continuing a part from `done` */
    BW_ISO_RESTART,  /* the server ignored Range or the file changed: from 0 */
    BW_ISO_RETRY,    /* a transient failure; detail says which; waiting */
    BW_ISO_FAILED,   /* this source failed for good; detail says why */
    BW_ISO_VERIFIED, /* the digest matched */
};

struct bw_iso_event {
    enum bw_iso_event_kind kind;
    const char *url;    /* the source concerned, or NULL */
    uint64_t done;      /* bytes */
    uint64_t total;     /* bytes, 0 if unknown */
    double rate;        /* bytes per second, PROGRESS only */
    unsigned attempt;   /* 1-based, per source */
    const char *detail; /* human words for RETRY/FAILED, or NULL */
};

typedef void (*bw_iso_event_fn)(const struct bw_iso_event *ev, void *ud);

struct bw_iso_request {
    const char *const *urls; /* sources in order of preference */
    size_t n_urls;
    const char *checksum;        /* a spec, see above */
    bool insecure_skip_checksum; /* required for "none" */
    unsigned attempts;           /* per source for transient failures; 0 = 4 */
    unsigned backoff_ms;         /* first wait before a retry, doubled each time; 0 = 500 */
    unsigned stall_s;            /* a transfer with no byte for this long is cut; 0 = 30 */
    bw_iso_event_fn on_event;    /* may be NULL; called on the caller's thread */
    void *ud;
};

/* $BOXWRIGHT_CACHE_DIR, else $XDG_CACHE_HOME/boxwright/iso, else ~/.cache/boxwright/iso. Caller
 * frees. */
char *bw_iso_cache_dir(void);

/*
 * Returns the path of a verified copy (caller frees): the cache entry, or the
 * local source file itself. On failure returns NULL; err says what each
 * source did (HTTP status, cut, mismatch with both digests and where the bad
 * file went) with code BW_ERR_NETWORK, BW_ERR_CHECKSUM, BW_ERR_NOT_FOUND,
 * BW_ERR_USAGE (bad spec, "none" without the flag) or BW_ERR_IO.
 */
char *bw_iso_fetch(const char *cache_dir, const struct bw_iso_request *req, struct bw_error *err);

/*
 * Verifies a local file against a checksum spec (a file: spec is resolved
 * against the file's base name). Uses and updates the local digest memo.
 * Returns 0 if it matches; -1 with BW_ERR_CHECKSUM (both digests named) or
 * another error.
 */
int bw_iso_verify(const char *cache_dir, const char *path, const char *checksum,
                  bw_iso_event_fn on_event, void *ud, struct bw_error *err);

struct bw_iso_entry {
    char *key;         /* "sha256-<hex>"; "quarantine/NAME" for a quarantined file */
    char *name;        /* the file's name, as its URL had it */
    char *path;        /* full path */
    char *url;         /* where it came from ("" when unknown) */
    uint64_t size;     /* bytes (so far, for a partial download) */
    time_t fetched;    /* when it was completed, or last written */
    const char *state; /* "complete", "partial" (a download that never finished: a cut, a full
                        * disk) or "quarantined" (its digest did not match) */
};

/* Lists the cache: complete entries, partial downloads, quarantined files, sorted by name.
 * Caller frees with bw_iso_entries_free. */
int bw_iso_list(const char *cache_dir, struct bw_iso_entry **out, size_t *n, struct bw_error *err);
void bw_iso_entries_free(struct bw_iso_entry *v, size_t n);
/* Removes what bw_iso_list lists whose key, key prefix (at least 8 characters) or name matches
 * (a partial download with what resuming it needed). */
int bw_iso_remove(const char *cache_dir, const char *which, struct bw_error *err);

#endif
