/* The ISO cache: bw_iso_fetch and bw_iso_verify, the sources they try and the events they
 * emit; see iso_cache.h. */
#include "cache_int.h"
#include "../builder/base/file.h"
#include "../builder/base/xmalloc.h"

#include <errno.h>
#include <string.h>

char *bw_iso_cache_dir(void)
{
    const char *d = getenv("BOXWRIGHT_CACHE_DIR");
    if (d && *d)
        return bw_xstrdup(d);
    d = getenv("XDG_CACHE_HOME");
    if (d && *d)
        return bw_xasprintf("%s/boxwright/iso", d);
    const char *home = getenv("HOME");
    return bw_xasprintf("%s/.cache/boxwright/iso", home && *home ? home : "/tmp");
}

/* A URL boxwright can fetch: http://, https://, file://, or a local path (no scheme). */
static bool fetchable(const char *url)
{
    return !strstr(url, "://") || strncmp(url, "http://", 7) == 0 ||
           strncmp(url, "https://", 8) == 0 || strncmp(url, "file://", 7) == 0;
}

char *bw_iso_fetch(const char *cache_dir, const struct bw_iso_request *req0, struct bw_error *err)
{
    struct bw_iso_request req = *req0;
    if (!req.attempts)
        req.attempts = 4;
    if (!req.backoff_ms)
        req.backoff_ms = 500;
    if (!req.stall_s)
        req.stall_s = 30;
    if (!req.n_urls) {
        bw_error_set(err, BW_ERR_USAGE, "no source URL given");
        return NULL;
    }
    for (size_t i = 0; i < req.n_urls; i++)
        if (!fetchable(req.urls[i])) {
            bw_error_set(err, BW_ERR_USAGE,
                         "\"%s\": expected an http://, https:// or file:// URL, or a path",
                         req.urls[i]);
            return NULL;
        }
    char **names = bw_xcalloc(req.n_urls, sizeof(char *));
    for (size_t i = 0; i < req.n_urls; i++)
        names[i] = bw_cache_name_of(req.urls[i]);
    struct bw_checksum_spec spec;
    memset(&spec, 0, sizeof(spec));
    char *result = NULL;
    struct entry e;
    memset(&e, 0, sizeof(e));
    e.lock_fd = -1;
    struct bw_buf failures = BW_BUF_INIT;
    bw_buf_init(&failures);
    bool any_mismatch = false, all_missing = true;
    if (bw_cache_resolve_spec(req.checksum, (const char *const *)names, req.n_urls, &spec, err) < 0)
        goto out;
    if (spec.is_none && !req.insecure_skip_checksum) {
        bw_error_set(err, BW_ERR_USAGE,
                     "checksum \"none\" skips verification: pass --insecure-skip-checksum to "
                     "accept an unverified file");
        goto out;
    }
    bw_cache_entry_init(&e, cache_dir, &spec, req.urls[0]);
    /* A complete entry never changes (it is renamed into place whole), so it is used without
     * the lock: a shared cache may be read-only. */
    char *from = NULL;
    result = bw_cache_entry_file(&e, &from);
    if (!result && (bw_cache_mkdir_p(cache_dir, err) < 0 || bw_cache_entry_lock(&e, &req, err) < 0))
        goto out;
    if (!result)
        result = bw_cache_entry_file(&e, &from); /* another fetch may have finished it meanwhile */
    if (result) {
        struct stat st;
        uint64_t size = stat(result, &st) == 0 ? (uint64_t)st.st_size : 0;
        bw_cache_emit(&req, BW_ISO_HIT, from, size, size, 0, 0, NULL);
        free(from);
        goto out;
    }
    for (size_t i = 0; i < req.n_urls && !result; i++) {
        const char *url = req.urls[i];
        const char *path = bw_cache_local_path(url);
        struct bw_buf why = BW_BUF_INIT;
        bw_buf_init(&why);
        if (path) {
            struct bw_error lerr = BW_ERROR_INIT;
            char hex[BW_HASH_MAX_HEX + 1];
            bw_cache_emit(&req, BW_ISO_START, url, 0, 0, 0, 1, NULL);
            if (spec.is_none) {
                struct stat st;
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                    result = bw_xstrdup(path);
                else
                    bw_buf_addf(&why, "%s", strerror(errno ? errno : ENOENT));
            } else if (bw_cache_local_digest(cache_dir, path, spec.kind, &req, hex, &lerr) < 0) {
                bw_buf_adds(&why, lerr.msg);
                all_missing = all_missing && lerr.code == BW_ERR_NOT_FOUND;
            } else if (strcmp(hex, spec.hex) == 0) {
                bw_cache_emit(&req, BW_ISO_VERIFIED, url, 0, 0, 0, 1, NULL);
                result = bw_xstrdup(path);
            } else {
                bw_buf_addf(&why,
                            "checksum mismatch: expected %s:%s, got %s:%s (the local file "
                            "was left where it is)",
                            bw_hash_name(spec.kind), spec.hex, bw_hash_name(spec.kind), hex);
                any_mismatch = true;
                all_missing = false;
            }
            bw_error_release(&lerr);
        } else {
            bool mismatch = false;
            result = bw_cache_fetch_remote(&e, &req, &spec, url, names[i], &why, &mismatch);
            any_mismatch = any_mismatch || mismatch;
            all_missing = all_missing && strstr(why.data, "HTTP 404") != NULL;
        }
        if (!result)
            bw_cache_add_failure(&failures, url, why.data);
        bw_buf_release(&why);
    }
    if (!result)
        bw_error_set(err,
                     any_mismatch  ? BW_ERR_CHECKSUM
                     : all_missing ? BW_ERR_NOT_FOUND
                                   : BW_ERR_NETWORK,
                     "no source gave a verified file (%zu tried): %s", req.n_urls, failures.data);
out:
    bw_cache_entry_release(&e);
    bw_buf_release(&failures);
    bw_checksum_spec_release(&spec);
    for (size_t i = 0; i < req.n_urls; i++)
        free(names[i]);
    free(names);
    return result;
}

int bw_iso_verify(const char *cache_dir, const char *path, const char *checksum,
                  bw_iso_event_fn on_event, void *ud, struct bw_error *err)
{
    char *name = bw_cache_name_of(path);
    struct bw_checksum_spec spec;
    memset(&spec, 0, sizeof(spec));
    struct bw_iso_request req = {NULL, 0, checksum, false, 0, 0, 0, on_event, ud};
    int rc = -1;
    char hex[BW_HASH_MAX_HEX + 1];
    if (bw_cache_resolve_spec(checksum, (const char *const *)&name, 1, &spec, err) < 0)
        goto out;
    if (spec.is_none) {
        bw_error_set(err, BW_ERR_USAGE, "checksum \"none\": nothing to verify against");
        goto out;
    }
    if (bw_cache_local_digest(cache_dir, path, spec.kind, &req, hex, err) < 0)
        goto out;
    if (strcmp(hex, spec.hex) != 0) {
        bw_error_at(err, BW_ERR_CHECKSUM, path, NULL, 0, 0,
                    "checksum mismatch: expected %s:%s, got %s:%s", bw_hash_name(spec.kind),
                    spec.hex, bw_hash_name(spec.kind), hex);
        goto out;
    }
    rc = 0;
out:
    bw_checksum_spec_release(&spec);
    free(name);
    return rc;
}
