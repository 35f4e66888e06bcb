/* Checksums named by a checksum file (SHA256SUMS and the like), fetched small and bounded. */
#include "cache_int.h"
#include "../builder/base/xmalloc.h"

#include <errno.h>
#include <string.h>

#define CHECKSUM_FILE_MAX (4u << 20)

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
    const char *path = bw_cache_local_path(url);
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
    bw_cache_web_only(c);
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
int bw_cache_resolve_spec(const char *checksum, const char *const *names, size_t n_names,
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
