/* The store: one locked entry per digest, files committed only once verified, the
 * quarantine, and listing and removing entries. */
#include "cache_int.h"
#include "../builder/base/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

void bw_cache_entry_init(struct entry *e, const char *cache_dir,
                         const struct bw_checksum_spec *spec, const char *first_url)
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

void bw_cache_entry_release(struct entry *e)
{
    if (e->lock_fd >= 0)
        close(e->lock_fd); /* releases the flock */
    free(e->dir);
    free(e->part);
    free(e->part_meta);
    free(e->lock);
}

int bw_cache_entry_lock(struct entry *e, const struct bw_iso_request *req, struct bw_error *err)
{
    e->lock_fd = open(e->lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (e->lock_fd < 0) {
        bw_error_at(err, BW_ERR_IO, e->lock, NULL, 0, 0, "cannot open the lock: %s",
                    strerror(errno));
        return -1;
    }
    if (flock(e->lock_fd, LOCK_EX | LOCK_NB) == 0)
        return 0;
    bw_cache_emit(req, BW_ISO_WAITING, NULL, 0, 0, 0, 0, "another boxwright is fetching this file");
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
char *bw_cache_entry_file(const struct entry *e, char **url_out)
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

char *bw_cache_entry_commit(struct entry *e, const char *url, const char *name, uint64_t size,
                            const struct bw_checksum_spec *spec, struct bw_error *err)
{
    if (bw_cache_mkdir_p(e->dir, err) < 0)
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
        rc = bw_cache_write_json_atomic(meta, m, err);
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
char *bw_cache_entry_quarantine(struct entry *e, const char *name)
{
    struct bw_error ignored = BW_ERROR_INIT;
    char *qdir = bw_xasprintf("%s/quarantine", e->cache_dir);
    char *dest = NULL;
    if (bw_cache_mkdir_p(qdir, &ignored) == 0) {
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
        ent->name = url ? bw_cache_name_of(url) : bw_xstrdup(file);
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
        char *path = bw_cache_entry_file(&e, &url);
        if (path) {
            BW_GROW(*out, alloc, *n + 1);
            struct bw_iso_entry *ent = &(*out)[(*n)++];
            struct stat st;
            stat(path, &st);
            char *meta = bw_xasprintf("%s/meta.json", e.dir);
            json_t *m = json_load_file(meta, 0, NULL);
            const char *name = json_string_value(json_object_get(m, "name"));
            ent->key = bw_xstrdup(de->d_name);
            ent->name = name ? bw_xstrdup(name) : bw_cache_name_of(path);
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
        if (bw_cache_entry_lock(&e, NULL, err) == 0) {
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
