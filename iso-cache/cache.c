/* The ISO cache: sources, locks, resumable verified downloads, the local digest memo. */
#include "iso_cache.h"
#include "../builder/base/digest.h"
#include "../builder/base/buf.h"
#include "../builder/base/file.h"
#include "../builder/base/xmalloc.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CHECKSUM_FILE_MAX (4u << 20)

/* ---- small helpers ---- */

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

static int mkdir_p(const char *dir, struct bw_error *err)
{
    char *p = bw_xstrdup(dir);
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                bw_error_at(err, BW_ERR_IO, p, NULL, 0, 0, "cannot create the directory: %s",
                            strerror(errno));
                free(p);
                return -1;
            }
            *s = c;
            if (!c)
                break;
        }
    }
    free(p);
    return 0;
}

/*
 * Downloads speak HTTP(S) only, redirects included, and follow at most 10 redirects:
 * libcurl would otherwise also speak dict://, gopher://, ftp:// and more, and a redirect loop
 * made about 9,000 requests before it stopped.
 */
static void web_only(CURL *c)
{
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
}

/* A URL boxwright can fetch: http://, https://, file://, or a local path (no scheme). */
static bool fetchable(const char *url)
{
    return !strstr(url, "://") || strncmp(url, "http://", 7) == 0 ||
           strncmp(url, "https://", 8) == 0 || strncmp(url, "file://", 7) == 0;
}

/* The file name a URL or path ends in, without query or fragment; caller frees. */
static char *name_of(const char *url)
{
    size_t end = strcspn(url, "?#");
    const char *start = url;
    for (const char *p = url; p < url + end; p++)
        if (*p == '/')
            start = p + 1;
    if (start >= url + end)
        return bw_xstrdup("download.iso");
    return bw_xstrndup(start, (size_t)(url + end - start));
}

/* Returns the local path for file:// URLs and plain paths, else NULL (borrowed from url). */
static const char *local_path(const char *url)
{
    if (strncmp(url, "file://", 7) == 0)
        return url + 7;
    if (strstr(url, "://"))
        return NULL;
    return url;
}

static void emit(const struct bw_iso_request *req, enum bw_iso_event_kind kind, const char *url,
                 uint64_t done, uint64_t total, double rate, unsigned attempt, const char *detail)
{
    if (!req || !req->on_event)
        return;
    struct bw_iso_event ev = {kind, url, done, total, rate, attempt, detail};
    req->on_event(&ev, req->ud);
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int write_json_atomic(const char *path, json_t *obj, struct bw_error *err)
{
    char *tmp = bw_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int rc = json_dump_file(obj, tmp, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (rc < 0)
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write: %s", strerror(errno));
    rc = bw_file_commit(tmp, path, rc, err);
    free(tmp);
    return rc;
}

/* ---- reading a small resource (checksum files) ---- */

static size_t collect_small(char *p, size_t size, size_t n, void *ud)
{
    struct bw_buf *b = ud;
    if (b->len + size * n > CHECKSUM_FILE_MAX)
        return 0;
    bw_buf_add(b, p, size * n);
    return size * n;
}

static int read_small(const char *url, struct bw_buf *out, struct bw_error *err)
{
    const char *path = local_path(url);
    if (path) {
        if (bw_buf_read_file(out, path) < 0) {
            bw_error_at(err, errno == ENOENT ? BW_ERR_NOT_FOUND : BW_ERR_IO, path, NULL, 0, 0,
                        "cannot read the checksum file: %s", strerror(errno));
            return -1;
        }
        return 0;
    }
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    web_only(c);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_small);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        if (rc == CURLE_HTTP_RETURNED_ERROR)
            bw_error_set(err, code == 404 ? BW_ERR_NOT_FOUND : BW_ERR_NETWORK,
                         "%s: HTTP %ld fetching the checksum file", url, code);
        else
            bw_error_set(err, BW_ERR_NETWORK, "%s: %s fetching the checksum file", url,
                         rc == CURLE_WRITE_ERROR ? "larger than 4 MiB" : curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

/* Turns the request's spec into a digest (resolving file:URL). */
static int resolve_spec(const char *checksum, const char *const *names, size_t n_names,
                        struct bw_checksum_spec *spec, struct bw_error *err)
{
    if (bw_checksum_spec_parse(checksum, spec, err) < 0)
        return -1;
    if (!spec->file_url)
        return 0;
    struct bw_buf text = BW_BUF_INIT;
    bw_buf_init(&text);
    char *sumurl = bw_xstrdup(spec->file_url);
    int rc = read_small(sumurl, &text, err);
    for (size_t i = 0; rc == 0 && i < n_names; i++) {
        struct bw_checksum_spec found;
        struct bw_error e = BW_ERROR_INIT;
        rc = bw_checksum_file_find(text.data, text.len, names[i], sumurl, &found, &e);
        if (rc == 0) {
            bw_checksum_spec_release(spec);
            *spec = found;
        } else if (e.code == BW_ERR_NOT_FOUND && i + 1 < n_names) {
            rc = 0; /* try the next name */
            bw_error_release(&e);
            continue;
        } else {
            bw_error_move(err, &e);
        }
        break;
    }
    free(sumurl);
    bw_buf_release(&text);
    return rc;
}

/* ---- the local digest memo ---- */

struct memo_key {
    char real[PATH_MAX];
    long long size, mtime_ns;
};

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
    if (mkdir_p(cache_dir, &ignored) < 0) {
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
    write_json_atomic(path, root, &ignored);
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
    double el = now_s() - fp->start;
    emit(fp->req, BW_ISO_PROGRESS, fp->url, done, total, el > 0 ? (double)done / el : 0, 1,
         "hashing");
}

/* Digest of a local file, from the memo or by reading it once. */
static int local_digest(const char *cache_dir, const char *path, enum bw_hash_kind kind,
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
    struct file_progress fp = {req, path, now_s()};
    if (bw_hash_file(k.real, kind, hex, req && req->on_event ? on_file_progress : NULL, &fp, err) <
        0)
        return -1;
    memo_put(cache_dir, &k, kind, hex);
    return 0;
}

/* ---- one entry: lock, hit, commit, quarantine ---- */

struct entry {
    const char *cache_dir;
    char key[BW_HASH_MAX_HEX + 16];
    char *dir, *part, *part_meta, *lock;
    int lock_fd;
};

static void entry_init(struct entry *e, const char *cache_dir, const struct bw_checksum_spec *spec,
                       const char *first_url)
{
    memset(e, 0, sizeof(*e));
    e->cache_dir = cache_dir;
    if (spec->is_none) {
        /* No digest to key by: key by the URL (only with --insecure-skip-checksum). */
        struct bw_hash *h = bw_hash_new(BW_HASH_SHA256);
        char hex[BW_HASH_MAX_HEX + 1];
        bw_hash_update(h, first_url, strlen(first_url));
        bw_hash_final(h, hex);
        bw_hash_free(h);
        snprintf(e->key, sizeof(e->key), "url-%.32s", hex);
    } else {
        snprintf(e->key, sizeof(e->key), "%s-%s", bw_hash_name(spec->kind), spec->hex);
    }
    e->dir = bw_xasprintf("%s/%s", cache_dir, e->key);
    e->part = bw_xasprintf("%s/%s.part", cache_dir, e->key);
    e->part_meta = bw_xasprintf("%s/%s.part.json", cache_dir, e->key);
    e->lock = bw_xasprintf("%s/%s.lock", cache_dir, e->key);
    e->lock_fd = -1;
}

static void entry_release(struct entry *e)
{
    if (e->lock_fd >= 0)
        close(e->lock_fd); /* releases the flock */
    free(e->dir);
    free(e->part);
    free(e->part_meta);
    free(e->lock);
}

static int entry_lock(struct entry *e, const struct bw_iso_request *req, struct bw_error *err)
{
    e->lock_fd = open(e->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (e->lock_fd < 0) {
        bw_error_at(err, BW_ERR_IO, e->lock, NULL, 0, 0, "cannot open the lock: %s",
                    strerror(errno));
        return -1;
    }
    if (flock(e->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    emit(req, BW_ISO_WAITING, NULL, 0, 0, 0, 0, "another boxwright is fetching this file");
    while (flock(e->lock_fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            bw_error_at(err, BW_ERR_IO, e->lock, NULL, 0, 0, "cannot lock: %s", strerror(errno));
            return -1;
        }
    }
    return 0;
}

/*
 * An entry is a directory: meta.json and the payload. The payload's name is fixed, never the
 * URL's: a URL ending in meta.json used to overwrite its own entry's metadata. Entries made
 * before kept the payload under the URL's name, which meta.json's "name" gives.
 */
#define PAYLOAD "data"

/* The complete file of the entry, or NULL; caller frees. */
static char *entry_file(const struct entry *e, char **url_out)
{
    char *meta = bw_xasprintf("%s/meta.json", e->dir);
    json_t *m = json_load_file(meta, 0, NULL);
    free(meta);
    char *path = NULL;
    const char *name = json_string_value(json_object_get(m, "file"));
    if (!name)
        name = json_string_value(json_object_get(m, "name"));
    if (name && !strchr(name, '/') && strcmp(name, "meta.json") != 0) {
        path = bw_xasprintf("%s/%s", e->dir, name);
        struct stat st;
        if (stat(path, &st) < 0 ||
            (json_int_t)st.st_size != json_integer_value(json_object_get(m, "size"))) {
            free(path);
            path = NULL;
        } else if (url_out) {
            *url_out = bw_xstrdup(json_string_value(json_object_get(m, "url")));
        }
    }
    json_decref(m);
    return path;
}

static char *entry_commit(struct entry *e, const char *url, const char *name, uint64_t size,
                          const struct bw_checksum_spec *spec, struct bw_error *err)
{
    if (mkdir_p(e->dir, err) < 0)
        return NULL;
    char *path = bw_xasprintf("%s/%s", e->dir, PAYLOAD);
    char *meta = bw_xasprintf("%s/meta.json", e->dir);
    json_t *m = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "name", name, "file", PAYLOAD, "url", url,
                          "size", (json_int_t)size, "fetched", (json_int_t)time(NULL), "checksum",
                          spec->is_none ? "none" : e->key);
    int rc = -1;
    if (rename(e->part, path) < 0)
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot move the download into the cache: %s",
                    strerror(errno));
    else
        rc = write_json_atomic(meta, m, err);
    json_decref(m);
    free(meta);
    unlink(e->part_meta);
    if (rc < 0) {
        free(path);
        return NULL;
    }
    return path;
}

/* Moves the part aside; returns where it went (caller frees) or NULL. */
static char *entry_quarantine(struct entry *e, const char *name)
{
    struct bw_error ignored = BW_ERROR_INIT;
    char *qdir = bw_xasprintf("%s/quarantine", e->cache_dir);
    char *dest = NULL;
    if (mkdir_p(qdir, &ignored) == 0) {
        dest = bw_xasprintf("%s/%ld-%s", qdir, (long)time(NULL), name);
        if (rename(e->part, dest) < 0) {
            free(dest);
            dest = NULL;
        }
    }
    unlink(e->part_meta);
    bw_error_release(&ignored);
    free(qdir);
    return dest;
}

/* ---- one download attempt ---- */

enum outcome { DONE, TRANSIENT, PERMANENT };

struct xfer {
    const struct bw_iso_request *req;
    CURL *curl;
    struct entry *entry;
    const char *url;
    unsigned attempt;
    int fd;
    struct bw_hasher *hasher;
    uint64_t offset;  /* where this transfer started in the file */
    uint64_t written; /* bytes of this transfer written */
    bool first_body;
    bool io_failed;
    char io_error[256];
    char etag[256], last_modified[64];
    double start, last_event;
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response (after a redirect) */
        x->etag[0] = x->last_modified[0] = '\0';
    } else if (len > 5 && strncasecmp(p, "ETag:", 5) == 0) {
        const char *v = p + 5;
        while (*v == ' ')
            v++;
        size_t vl = (size_t)(p + len - v);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        snprintf(x->etag, sizeof(x->etag), "%.*s", (int)vl, v);
    } else if (len > 14 && strncasecmp(p, "Last-Modified:", 14) == 0) {
        const char *v = p + 14;
        while (*v == ' ')
            v++;
        size_t vl = (size_t)(p + len - v);
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n'))
            vl--;
        snprintf(x->last_modified, sizeof(x->last_modified), "%.*s", (int)vl, v);
    }
    return len;
}

static void save_part_meta(struct xfer *x)
{
    json_t *m = json_pack("{s:s,s:s,s:s}", "url", x->url, "etag", x->etag, "last_modified",
                          x->last_modified);
    struct bw_error ignored = BW_ERROR_INIT;
    write_json_atomic(x->entry->part_meta, m, &ignored);
    bw_error_release(&ignored);
    json_decref(m);
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    if (x->first_body) {
        x->first_body = false;
        long code = 0;
        curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
        if (x->offset && code == 200) {
            /* The whole file came back: the server ignores Range, or If-Range saw a change. */
            if (ftruncate(x->fd, 0) < 0 || lseek(x->fd, 0, SEEK_SET) < 0) {
                x->io_failed = true;
                snprintf(x->io_error, sizeof(x->io_error), "cannot truncate %s: %s", x->entry->part,
                         strerror(errno));
                return 0;
            }
            bw_hasher_reset(x->hasher);
            emit(x->req, BW_ISO_RESTART, x->url, 0, 0, 0, x->attempt,
                 "the server sent the whole file instead of the missing range");
            x->offset = 0;
        }
        save_part_meta(x);
    }
    for (size_t done = 0; done < len;) {
        ssize_t w = write(x->fd, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            x->io_failed = true;
            snprintf(x->io_error, sizeof(x->io_error), "cannot write %s: %s", x->entry->part,
                     strerror(errno));
            return 0;
        }
        done += (size_t)w;
    }
    bw_hasher_update(x->hasher, p, len);
    x->written += len;
    return len;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
    struct xfer *x = ud;
    (void)ultotal, (void)ulnow;
    double t = now_s();
    if (t - x->last_event < 0.2)
        return 0;
    x->last_event = t;
    uint64_t done = x->offset + (uint64_t)dlnow;
    uint64_t total = dltotal > 0 ? x->offset + (uint64_t)dltotal : 0;
    double el = t - x->start;
    emit(x->req, BW_ISO_PROGRESS, x->url, done, total, el > 0 ? (double)dlnow / el : 0, x->attempt,
         NULL);
    return 0;
}

/* Brings the part and the hasher into agreement before a transfer; returns the resume offset. */
static uint64_t prepare_part(struct xfer *x, struct curl_slist **headers)
{
    struct stat st;
    uint64_t size = fstat(x->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
    json_t *m = json_load_file(x->entry->part_meta, 0, NULL);
    const char *url = json_string_value(json_object_get(m, "url"));
    const char *etag = json_string_value(json_object_get(m, "etag"));
    const char *lm = json_string_value(json_object_get(m, "last_modified"));
    /* A strong ETag, else Last-Modified, guards the resume: If-Range makes a changed file come
     * back whole (200) instead of a range spliced onto old bytes. */
    const char *validator = etag && *etag && strncmp(etag, "W/", 2) != 0 ? etag
                            : lm && *lm                                  ? lm
                                                                         : NULL;
    uint64_t offset = 0;
    if (size && url && strcmp(url, x->url) == 0 && validator) {
        offset = size;
        snprintf(x->etag, sizeof(x->etag), "%s", etag ? etag : "");
        snprintf(x->last_modified, sizeof(x->last_modified), "%s", lm ? lm : "");
        char *h = bw_xasprintf("If-Range: %s", validator);
        *headers = curl_slist_append(*headers, h);
        free(h);
        if (bw_hasher_bytes(x->hasher) != size) {
            /* A part from an earlier run: hash what is there once. */
            bw_hasher_reset(x->hasher);
            int rfd = open(x->entry->part, O_RDONLY | O_CLOEXEC);
            char *buf = bw_xmalloc(1u << 20);
            ssize_t r;
            uint64_t got = 0;
            while (rfd >= 0 && got < size && (r = read(rfd, buf, 1u << 20)) > 0) {
                bw_hasher_update(x->hasher, buf, (size_t)r);
                got += (uint64_t)r;
            }
            if (rfd >= 0)
                close(rfd);
            free(buf);
            if (got != size) {
                bw_hasher_reset(x->hasher);
                offset = 0;
            }
        }
    }
    json_decref(m);
    if (offset) {
        emit(x->req, BW_ISO_RESUME, x->url, offset, 0, 0, x->attempt, NULL);
    } else {
        bw_hasher_reset(x->hasher);
        if (ftruncate(x->fd, 0) < 0) { /* reported by the write that follows */
        }
        unlink(x->entry->part_meta);
    }
    lseek(x->fd, (off_t)offset, SEEK_SET);
    return offset;
}

static enum outcome download_once(struct xfer *x, char *why, size_t whylen, bool *complete_416)
{
    *complete_416 = false;
    x->fd = open(x->entry->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (x->fd < 0) {
        snprintf(why, whylen, "cannot open %s: %s", x->entry->part, strerror(errno));
        return PERMANENT;
    }
    struct curl_slist *headers = NULL;
    x->offset = prepare_part(x, &headers);
    x->written = 0;
    x->first_body = true;
    x->io_failed = false;
    x->start = x->last_event = now_s();
    CURL *c = curl_easy_init();
    x->curl = c;
    curl_easy_setopt(c, CURLOPT_URL, x->url);
    web_only(c);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "boxwright");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)x->req->stall_s);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    if (x->offset) {
        /* CURLOPT_RANGE, not RESUME_FROM: a 200 answer (Range ignored, or If-Range saw a
         * new version) must reach on_body to restart, not fail as a range error. */
        char range[48];
        snprintf(range, sizeof(range), "%llu-", (unsigned long long)x->offset);
        curl_easy_setopt(c, CURLOPT_RANGE, range);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    }
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(c);
    curl_slist_free_all(headers);
    close(x->fd);
    x->fd = -1;
    if (rc == CURLE_OK)
        return DONE;
    if (x->io_failed) {
        snprintf(why, whylen, "%s", x->io_error);
        return PERMANENT;
    }
    if (rc == CURLE_HTTP_RETURNED_ERROR) {
        if (code == 416 && x->offset) {
            *complete_416 = true; /* the part already holds the whole file */
            return DONE;
        }
        snprintf(why, whylen, "HTTP %ld", code);
        return code >= 500 || code == 429 || code == 408 ? TRANSIENT : PERMANENT;
    }
    if (rc == CURLE_OPERATION_TIMEDOUT)
        snprintf(why, whylen, "stalled: no data for %u s (at byte %llu)", x->req->stall_s,
                 (unsigned long long)(x->offset + x->written));
    else
        snprintf(why, whylen, "%s (at byte %llu)", curl_easy_strerror(rc),
                 (unsigned long long)(x->offset + x->written));
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_REMOTE_ACCESS_DENIED:
        return PERMANENT;
    default:
        return TRANSIENT;
    }
}

/* ---- the public calls ---- */

static void add_failure(struct bw_buf *f, const char *url, const char *why)
{
    bw_buf_addf(f, "%s%s: %s", f->len ? "; " : "", url, why);
}

static void sleep_ms(unsigned ms)
{
    struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&t, &t) < 0 && errno == EINTR)
        ;
}

/* Tries one remote source; returns the cached path or NULL with the reason in why. */
static char *fetch_remote(struct entry *e, const struct bw_iso_request *req,
                          const struct bw_checksum_spec *spec, const char *url, const char *name,
                          struct bw_buf *why, bool *mismatch)
{
    struct bw_hasher *h = bw_hasher_new(spec->is_none ? BW_HASH_SHA256 : spec->kind);
    struct xfer x;
    memset(&x, 0, sizeof(x));
    x.req = req;
    x.entry = e;
    x.url = url;
    x.fd = -1;
    x.hasher = h;
    char *result = NULL;
    unsigned wait = req->backoff_ms;
    for (unsigned attempt = 1; attempt <= req->attempts; attempt++) {
        x.attempt = attempt;
        emit(req, BW_ISO_START, url, 0, 0, 0, attempt, NULL);
        char reason[512] = "";
        bool complete_416 = false;
        enum outcome o = download_once(&x, reason, sizeof(reason), &complete_416);
        if (o == DONE) {
            struct stat st;
            uint64_t size = stat(e->part, &st) == 0 ? (uint64_t)st.st_size : 0;
            char hex[BW_HASH_MAX_HEX + 1];
            bw_hasher_final(h, hex);
            if (spec->is_none || strcmp(hex, spec->hex) == 0) {
                emit(req, BW_ISO_VERIFIED, url, size, size, 0, attempt, NULL);
                struct bw_error cerr = BW_ERROR_INIT;
                result = entry_commit(e, url, name, size, spec, &cerr);
                if (!result)
                    bw_buf_adds(why, cerr.msg);
                bw_error_release(&cerr);
                break;
            }
            char *q = entry_quarantine(e, name);
            bw_buf_addf(why, "checksum mismatch: expected %s:%s, got %s:%s (%llu bytes); %s%s",
                        bw_hash_name(spec->kind), spec->hex, bw_hash_name(spec->kind), hex,
                        (unsigned long long)size, q ? "the file was moved to " : "",
                        q ? q : "the file was removed");
            if (!q)
                unlink(e->part);
            free(q);
            *mismatch = true;
            emit(req, BW_ISO_FAILED, url, size, size, 0, attempt, why->data);
            break;
        }
        if (o == TRANSIENT && attempt < req->attempts) {
            char *detail = bw_xasprintf("%s; retrying in %u ms", reason, wait);
            emit(req, BW_ISO_RETRY, url, 0, 0, 0, attempt, detail);
            free(detail);
            sleep_ms(wait);
            wait = wait * 2 > 30000 ? 30000 : wait * 2;
            continue;
        }
        bw_buf_adds(why, reason);
        if (o == TRANSIENT)
            bw_buf_addf(why, " (after %u attempts)", attempt);
        emit(req, BW_ISO_FAILED, url, 0, 0, 0, attempt, why->data);
        break;
    }
    bw_hasher_free(h);
    return result;
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
        names[i] = name_of(req.urls[i]);
    struct bw_checksum_spec spec;
    memset(&spec, 0, sizeof(spec));
    char *result = NULL;
    struct entry e;
    memset(&e, 0, sizeof(e));
    e.lock_fd = -1;
    struct bw_buf failures = BW_BUF_INIT;
    bw_buf_init(&failures);
    bool any_mismatch = false, all_missing = true;
    if (resolve_spec(req.checksum, (const char *const *)names, req.n_urls, &spec, err) < 0)
        goto out;
    if (spec.is_none && !req.insecure_skip_checksum) {
        bw_error_set(err, BW_ERR_USAGE,
                     "checksum \"none\" skips verification: pass --insecure-skip-checksum to "
                     "accept an unverified file");
        goto out;
    }
    entry_init(&e, cache_dir, &spec, req.urls[0]);
    /* A complete entry never changes (it is renamed into place whole), so it is used without
     * the lock: a shared cache may be read-only. */
    char *from = NULL;
    result = entry_file(&e, &from);
    if (!result && (mkdir_p(cache_dir, err) < 0 || entry_lock(&e, &req, err) < 0))
        goto out;
    if (!result)
        result = entry_file(&e, &from); /* another fetch may have finished it meanwhile */
    if (result) {
        struct stat st;
        uint64_t size = stat(result, &st) == 0 ? (uint64_t)st.st_size : 0;
        emit(&req, BW_ISO_HIT, from, size, size, 0, 0, NULL);
        free(from);
        goto out;
    }
    for (size_t i = 0; i < req.n_urls && !result; i++) {
        const char *url = req.urls[i];
        const char *path = local_path(url);
        struct bw_buf why = BW_BUF_INIT;
        bw_buf_init(&why);
        if (path) {
            struct bw_error lerr = BW_ERROR_INIT;
            char hex[BW_HASH_MAX_HEX + 1];
            emit(&req, BW_ISO_START, url, 0, 0, 0, 1, NULL);
            if (spec.is_none) {
                struct stat st;
                if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
                    result = bw_xstrdup(path);
                else
                    bw_buf_addf(&why, "%s", strerror(errno ? errno : ENOENT));
            } else if (local_digest(cache_dir, path, spec.kind, &req, hex, &lerr) < 0) {
                bw_buf_adds(&why, lerr.msg);
                all_missing = all_missing && lerr.code == BW_ERR_NOT_FOUND;
            } else if (strcmp(hex, spec.hex) == 0) {
                emit(&req, BW_ISO_VERIFIED, url, 0, 0, 0, 1, NULL);
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
            result = fetch_remote(&e, &req, &spec, url, names[i], &why, &mismatch);
            any_mismatch = any_mismatch || mismatch;
            all_missing = all_missing && strstr(why.data, "HTTP 404") != NULL;
        }
        if (!result)
            add_failure(&failures, url, why.data);
        bw_buf_release(&why);
    }
    if (!result)
        bw_error_set(err,
                     any_mismatch  ? BW_ERR_CHECKSUM
                     : all_missing ? BW_ERR_NOT_FOUND
                                   : BW_ERR_NETWORK,
                     "no source gave a verified file (%zu tried): %s", req.n_urls, failures.data);
out:
    entry_release(&e);
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
    char *name = name_of(path);
    struct bw_checksum_spec spec;
    memset(&spec, 0, sizeof(spec));
    struct bw_iso_request req = {NULL, 0, checksum, false, 0, 0, 0, on_event, ud};
    int rc = -1;
    char hex[BW_HASH_MAX_HEX + 1];
    if (resolve_spec(checksum, (const char *const *)&name, 1, &spec, err) < 0)
        goto out;
    if (spec.is_none) {
        bw_error_set(err, BW_ERR_USAGE, "checksum \"none\": nothing to verify against");
        goto out;
    }
    if (local_digest(cache_dir, path, spec.kind, &req, hex, err) < 0)
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

static int by_entry_name(const void *a, const void *b)
{
    return strcmp(((const struct bw_iso_entry *)a)->name, ((const struct bw_iso_entry *)b)->name);
}

/* A download that never finished (cut, a full disk): KEY.part, its URL in KEY.part.json. */
static void list_partial(const char *cache_dir, const char *file, struct bw_iso_entry **out,
                         size_t *n, size_t *alloc)
{
    size_t len = strlen(file);
    if (len <= 5 || strcmp(file + len - 5, ".part") != 0)
        return;
    char *path = bw_xasprintf("%s/%s", cache_dir, file);
    char *meta = bw_xasprintf("%s.json", path);
    json_t *m = json_load_file(meta, 0, NULL);
    const char *url = json_string_value(json_object_get(m, "url"));
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        BW_GROW(*out, *alloc, *n + 1);
        struct bw_iso_entry *ent = &(*out)[(*n)++];
        ent->key = bw_xstrndup(file, len - 5);
        ent->name = url ? name_of(url) : bw_xstrdup(file);
        ent->path = path;
        path = NULL;
        ent->url = bw_xstrdup(url ? url : "");
        ent->size = (uint64_t)st.st_size;
        ent->fetched = st.st_mtime;
        ent->state = "partial";
    }
    json_decref(m);
    free(meta);
    free(path);
}

/* Files whose digest did not match, kept in quarantine/ for a look: "quarantine/NAME". */
static void list_quarantine(const char *cache_dir, struct bw_iso_entry **out, size_t *n,
                            size_t *alloc)
{
    char *qdir = bw_xasprintf("%s/quarantine", cache_dir);
    DIR *d = opendir(qdir);
    for (struct dirent *de; d && (de = readdir(d));) {
        char *path = bw_xasprintf("%s/%s", qdir, de->d_name);
        struct stat st;
        if (de->d_name[0] != '.' && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            BW_GROW(*out, *alloc, *n + 1);
            struct bw_iso_entry *ent = &(*out)[(*n)++];
            ent->key = bw_xasprintf("quarantine/%s", de->d_name);
            ent->name = bw_xstrdup(de->d_name);
            ent->path = path;
            path = NULL;
            ent->url = bw_xstrdup("");
            ent->size = (uint64_t)st.st_size;
            ent->fetched = st.st_mtime;
            ent->state = "quarantined";
        }
        free(path);
    }
    if (d)
        closedir(d);
    free(qdir);
}

int bw_iso_list(const char *cache_dir, struct bw_iso_entry **out, size_t *n, struct bw_error *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(cache_dir);
    if (!d) {
        if (errno == ENOENT)
            return 0; /* an empty cache */
        bw_error_at(err, BW_ERR_IO, cache_dir, NULL, 0, 0, "cannot read the cache: %s",
                    strerror(errno));
        return -1;
    }
    struct dirent *de;
    size_t alloc = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || strcmp(de->d_name, "quarantine") == 0 || de->d_type == DT_REG) {
            if (de->d_type == DT_REG)
                list_partial(cache_dir, de->d_name, out, n, &alloc);
            continue;
        }
        struct entry e;
        memset(&e, 0, sizeof(e));
        e.dir = bw_xasprintf("%s/%s", cache_dir, de->d_name);
        char *url = NULL;
        char *path = entry_file(&e, &url);
        if (path) {
            BW_GROW(*out, alloc, *n + 1);
            struct bw_iso_entry *ent = &(*out)[(*n)++];
            struct stat st;
            stat(path, &st);
            char *meta = bw_xasprintf("%s/meta.json", e.dir);
            json_t *m = json_load_file(meta, 0, NULL);
            const char *name = json_string_value(json_object_get(m, "name"));
            ent->key = bw_xstrdup(de->d_name);
            ent->name = name ? bw_xstrdup(name) : name_of(path);
            ent->path = path;
            ent->url = url ? url : bw_xstrdup("");
            ent->size = (uint64_t)st.st_size;
            ent->fetched = (time_t)json_integer_value(json_object_get(m, "fetched"));
            ent->state = "complete";
            json_decref(m);
            free(meta);
        }
        free(e.dir);
    }
    closedir(d);
    list_quarantine(cache_dir, out, n, &alloc);
    if (*n)
        qsort(*out, *n, sizeof(**out), by_entry_name);
    return 0;
}

void bw_iso_entries_free(struct bw_iso_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].key);
        free(v[i].name);
        free(v[i].path);
        free(v[i].url);
    }
    free(v);
}

int bw_iso_remove(const char *cache_dir, const char *which, struct bw_error *err)
{
    struct bw_iso_entry *v;
    size_t n;
    if (bw_iso_list(cache_dir, &v, &n, err) < 0)
        return -1;
    const struct bw_iso_entry *match = NULL;
    size_t matches = 0;
    for (size_t i = 0; i < n; i++) {
        bool hit = strcmp(v[i].key, which) == 0 || strcmp(v[i].name, which) == 0 ||
                   (strlen(which) >= 8 && strncmp(v[i].key, which, strlen(which)) == 0) ||
                   (strlen(which) >= 8 && strchr(v[i].key, '-') &&
                    strncmp(strchr(v[i].key, '-') + 1, which, strlen(which)) == 0);
        if (hit) {
            match = &v[i];
            matches++;
        }
    }
    int rc = -1;
    if (matches == 0) {
        bw_error_set(err, BW_ERR_NOT_FOUND, "no cache entry matches \"%s\" (see boxwright iso ls)",
                     which);
    } else if (matches > 1) {
        bw_error_set(err, BW_ERR_USAGE, "\"%s\" matches %zu entries; give more of the key", which,
                     matches);
    } else if (strcmp(match->state, "quarantined") == 0) {
        if (unlink(match->path) < 0)
            bw_error_at(err, BW_ERR_IO, match->path, NULL, 0, 0, "cannot remove: %s",
                        strerror(errno));
        else
            rc = 0;
    } else {
        struct entry e;
        memset(&e, 0, sizeof(e));
        e.cache_dir = cache_dir;
        e.lock = bw_xasprintf("%s/%s.lock", cache_dir, match->key);
        e.lock_fd = -1;
        if (entry_lock(&e, NULL, err) == 0) {
            char *meta = bw_xasprintf("%s/%s/meta.json", cache_dir, match->key);
            char *dir = bw_xasprintf("%s/%s", cache_dir, match->key);
            bool partial = strcmp(match->state, "partial") == 0;
            if (partial) { /* the part and what resuming it needed */
                char *pm = bw_xasprintf("%s.json", match->path);
                unlink(pm);
                free(pm);
            }
            if (unlink(match->path) < 0 || (!partial && (unlink(meta) < 0 || rmdir(dir) < 0)))
                bw_error_at(err, BW_ERR_IO, dir, NULL, 0, 0, "cannot remove: %s", strerror(errno));
            else
                rc = 0;
            unlink(e.lock);
            free(meta);
            free(dir);
        }
        if (e.lock_fd >= 0)
            close(e.lock_fd);
        free(e.lock);
    }
    bw_iso_entries_free(v, n);
    return rc;
}
