/* The local digest memo: a file's digest kept by device, inode, size and time, so a local
 * ISO is hashed once. */
#include "cache_int.h"
#include "../builder/base/xmalloc.h"

#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static int memo_key_of(const char *path, struct memo_key *k)
{
    struct stat st;
    if (!realpath(path, k->real) || stat(k->real, &st) < 0)
        return -1;
    k->size = (long long)st.st_size;
    k->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return 0;
}

/* Looks up (and with hex != NULL on a miss-then-hash, records) a digest. */
static bool memo_get(const char *cache_dir, const struct memo_key *k, enum bw_hash_kind kind,
                     char hex[BW_HASH_MAX_HEX + 1])
{
    char *path = bw_xasprintf("%s/local-hashes.json", cache_dir);
    json_t *root = json_load_file(path, 0, NULL);
    free(path);
    bool hit = false;
    json_t *e = root ? json_object_get(root, k->real) : NULL;
    if (e && json_integer_value(json_object_get(e, "size")) == k->size &&
        json_integer_value(json_object_get(e, "mtime_ns")) == k->mtime_ns) {
        const char *h = json_string_value(json_object_get(e, bw_hash_name(kind)));
        if (h && strlen(h) == bw_hash_hex_len(kind)) {
            snprintf(hex, BW_HASH_MAX_HEX + 1, "%s", h);
            hit = true;
        }
    }
    json_decref(root);
    return hit;
}

static void memo_put(const char *cache_dir, const struct memo_key *k, enum bw_hash_kind kind,
                     const char *hex)
{
    struct bw_error ignored = BW_ERROR_INIT;
    if (bw_cache_mkdir_p(cache_dir, &ignored) < 0) {
        bw_error_release(&ignored);
        return;
    }
    char *lockp = bw_xasprintf("%s/local-hashes.lock", cache_dir);
    char *path = bw_xasprintf("%s/local-hashes.json", cache_dir);
    int lfd = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lfd >= 0)
        flock(lfd, LOCK_EX);
    json_t *root = json_load_file(path, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        root = json_object();
    }
    json_t *e = json_object_get(root, k->real);
    if (!e || json_integer_value(json_object_get(e, "size")) != k->size ||
        json_integer_value(json_object_get(e, "mtime_ns")) != k->mtime_ns) {
        e = json_pack("{s:I,s:I}", "size", (json_int_t)k->size, "mtime_ns",
                      (json_int_t)k->mtime_ns);
        json_object_set_new(root, k->real, e);
    }
    json_object_set_new(e, bw_hash_name(kind), json_string(hex));
    bw_cache_write_json_atomic(path, root, &ignored);
    json_decref(root);
    if (lfd >= 0)
        close(lfd);
    bw_error_release(&ignored);
    free(lockp);
    free(path);
}

struct file_progress {
    const struct bw_iso_request *req;
    const char *url;
    double start;
};

static void on_file_progress(uint64_t done, uint64_t total, void *ud)
{
    struct file_progress *fp = ud;
    double el = bw_cache_now_s() - fp->start;
    bw_cache_emit(fp->req, BW_ISO_PROGRESS, fp->url, done, total, el > 0 ? (double)done / el : 0, 1,
                  "hashing");
}

/* Digest of a local file, from the memo or by reading it once. */
int bw_cache_local_digest(const char *cache_dir, const char *path, enum bw_hash_kind kind,
                          const struct bw_iso_request *req, char hex[BW_HASH_MAX_HEX + 1],
                          struct bw_error *err)
{
    struct memo_key k;
    if (memo_key_of(path, &k) < 0) {
        bw_error_at(err, errno == ENOENT ? BW_ERR_NOT_FOUND : BW_ERR_IO, path, NULL, 0, 0,
                    "cannot read: %s", strerror(errno));
        return -1;
    }
    if (memo_get(cache_dir, &k, kind, hex))
        return 0;
    struct file_progress fp = {req, path, bw_cache_now_s()};
    if (bw_hash_file(k.real, kind, hex, req && req->on_event ? on_file_progress : NULL, &fp, err) <
        0)
        return -1;
    memo_put(cache_dir, &k, kind, hex);
    return 0;
}
