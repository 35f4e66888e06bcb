/* What the files of the ISO cache share: events, URLs, directories, JSON written atomically;
 * see cache_int.h. */
#include "cache_int.h"
#include "../builder/base/file.h"
#include "../builder/base/xmalloc.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int bw_cache_mkdir_p(const char *dir, struct bw_error *err)
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
void bw_cache_web_only(CURL *c)
{
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
}

/* The file name a URL or path ends in, without query or fragment; caller frees. */
char *bw_cache_name_of(const char *url)
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
const char *bw_cache_local_path(const char *url)
{
    if (strncmp(url, "file://", 7) == 0)
        return url + 7;
    if (strstr(url, "://"))
        return NULL;
    return url;
}

void bw_cache_emit(const struct bw_iso_request *req, enum bw_iso_event_kind kind, const char *url,
                   uint64_t done, uint64_t total, double rate, unsigned attempt, const char *detail)
{
    if (!req || !req->on_event)
        return;
    struct bw_iso_event ev = {kind, url, done, total, rate, attempt, detail};
    req->on_event(&ev, req->ud);
}

double bw_cache_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int bw_cache_write_json_atomic(const char *path, json_t *obj, struct bw_error *err)
{
    char *tmp = bw_xasprintf("%s.tmp.%ld", path, (long)getpid());
    int rc = json_dump_file(obj, tmp, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (rc < 0)
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write: %s", strerror(errno));
    rc = bw_file_commit(tmp, path, rc, err);
    free(tmp);
    return rc;
}
