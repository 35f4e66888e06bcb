/* Resumable downloads through libcurl: ranges from a .part and its validator, the body
 * hashed as it arrives, transient and permanent failures told apart. */
#include "cache_int.h"
#include "../builder/base/xmalloc.h"

#include <errno.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
    bw_cache_write_json_atomic(x->entry->part_meta, m, &ignored);
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
            bw_cache_emit(x->req, BW_ISO_RESTART, x->url, 0, 0, 0, x->attempt,
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
    double t = bw_cache_now_s();
    if (t - x->last_event < 0.2)
        return 0;
    x->last_event = t;
    uint64_t done = x->offset + (uint64_t)dlnow;
    uint64_t total = dltotal > 0 ? x->offset + (uint64_t)dltotal : 0;
    double el = t - x->start;
    bw_cache_emit(x->req, BW_ISO_PROGRESS, x->url, done, total, el > 0 ? (double)dlnow / el : 0,
                  x->attempt, NULL);
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
        bw_cache_emit(x->req, BW_ISO_RESUME, x->url, offset, 0, 0, x->attempt, NULL);
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
    x->start = x->last_event = bw_cache_now_s();
    CURL *c = curl_easy_init();
    x->curl = c;
    curl_easy_setopt(c, CURLOPT_URL, x->url);
    bw_cache_web_only(c);
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

void bw_cache_add_failure(struct bw_buf *f, const char *url, const char *why)
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
char *bw_cache_fetch_remote(struct entry *e, const struct bw_iso_request *req,
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
        bw_cache_emit(req, BW_ISO_START, url, 0, 0, 0, attempt, NULL);
        char reason[512] = "";
        bool complete_416 = false;
        enum outcome o = download_once(&x, reason, sizeof(reason), &complete_416);
        if (o == DONE) {
            struct stat st;
            uint64_t size = stat(e->part, &st) == 0 ? (uint64_t)st.st_size : 0;
            char hex[BW_HASH_MAX_HEX + 1];
            bw_hasher_final(h, hex);
            if (spec->is_none || strcmp(hex, spec->hex) == 0) {
                bw_cache_emit(req, BW_ISO_VERIFIED, url, size, size, 0, attempt, NULL);
                struct bw_error cerr = BW_ERROR_INIT;
                result = bw_cache_entry_commit(e, url, name, size, spec, &cerr);
                if (!result)
                    bw_buf_adds(why, cerr.msg);
                bw_error_release(&cerr);
                break;
            }
            char *q = bw_cache_entry_quarantine(e, name);
            bw_buf_addf(why, "checksum mismatch: expected %s:%s, got %s:%s (%llu bytes); %s%s",
                        bw_hash_name(spec->kind), spec->hex, bw_hash_name(spec->kind), hex,
                        (unsigned long long)size, q ? "the file was moved to " : "",
                        q ? q : "the file was removed");
            if (!q)
                unlink(e->part);
            free(q);
            *mismatch = true;
            bw_cache_emit(req, BW_ISO_FAILED, url, size, size, 0, attempt, why->data);
            break;
        }
        if (o == TRANSIENT && attempt < req->attempts) {
            char *detail = bw_xasprintf("%s; retrying in %u ms", reason, wait);
            bw_cache_emit(req, BW_ISO_RETRY, url, 0, 0, 0, attempt, detail);
            free(detail);
            sleep_ms(wait);
            wait = wait * 2 > 30000 ? 30000 : wait * 2;
            continue;
        }
        bw_buf_adds(why, reason);
        if (o == TRANSIENT)
            bw_buf_addf(why, " (after %u attempts)", attempt);
        bw_cache_emit(req, BW_ISO_FAILED, url, 0, 0, 0, attempt, why->data);
        break;
    }
    bw_hasher_free(h);
    return result;
}
