#include "s3.h"
#include "http.h"
#include "xml.h"
#include "../base/buf.h"
#include "../base/file.h"
#include "../base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MIB       (1024ULL * 1024)
#define MAX_PARTS 10000
#define MAX_BODY  (16 * MIB) /* an answer larger than this is not S3's */

uint64_t bw_s3_part_size(uint64_t size)
{
    uint64_t part = 5 * MIB;
    if (size > part * MAX_PARTS) {
        part = (size + MAX_PARTS - 1) / MAX_PARTS;
        part = (part + MIB - 1) / MIB * MIB;
    }
    return part > 5 * 1024 * MIB ? 0 : part;
}

/* Where the object is: the Host header, the path as sent and the URL. */
static void where(const struct bw_aws_target *t, struct bw_buf *host, struct bw_buf *path,
                  struct bw_buf *url)
{
    struct bw_buf key = BW_BUF_INIT;
    bw_buf_init(&key);
    bw_sigv4_encode(&key, t->key, strlen(t->key), 1);
    if (t->endpoint) {
        const char *h = strstr(t->endpoint, "://");
        h = h ? h + 3 : t->endpoint;
        bw_buf_add(host, h, strcspn(h, "/"));
        bw_buf_addf(path, "/%s/%s", t->bucket, key.data);
        size_t el = strlen(t->endpoint);
        while (el && t->endpoint[el - 1] == '/')
            el--;
        bw_buf_add(url, t->endpoint, el);
    } else {
        bw_buf_addf(host, "%s.s3.%s.amazonaws.com", t->bucket, t->region);
        bw_buf_addf(path, "/%s", key.data);
        bw_buf_addf(url, "https://%s", host->data);
    }
    bw_buf_adds(url, path->data);
    bw_buf_release(&key);
}

/* One signed request to the object; 0 with r filled (any HTTP status), or -1 when no answer
 * came. */
static int request(const struct bw_aws_target *t, const char *method, const char *query,
                   const void *body, size_t len, const char *md5_b64, struct bw_aws_answer *r,
                   struct bw_error *err)
{
    struct bw_buf host = BW_BUF_INIT, path = BW_BUF_INIT, url = BW_BUF_INIT;
    bw_buf_init(&host);
    bw_buf_init(&path);
    bw_buf_init(&url);
    where(t, &host, &path, &url);
    /* url is the base followed by the path */
    url.data[url.len - path.len] = '\0';
    struct bw_sigv4_header md5 = {"Content-MD5", md5_b64};
    struct bw_aws_call c = {.method = method,
                            .base = url.data,
                            .host = host.data,
                            .path = path.data,
                            .query = query,
                            .service = "s3",
                            .region = t->region,
                            .cred = &t->cred,
                            .flavor = BW_SIGV4_S3,
                            .body = body,
                            .len = len,
                            .extra = &md5,
                            .n_extra = md5_b64 ? 1 : 0};
    int rc = bw_aws_send(&c, r, err);
    bw_buf_release(&host);
    bw_buf_release(&path);
    bw_buf_release(&url);
    return rc;
}

/* S3's own words for an answer that is not a success. */
static void s3_error(const struct bw_aws_answer *r, const char *what, struct bw_error *err)
{
    char *w = bw_xasprintf("S3 %s", what);
    bw_aws_error(r, w, err);
    free(w);
}

struct upload {
    const struct bw_aws_target *t;
    const struct bw_s3_options *o;
    uint64_t size, part;
    unsigned parts;
    long long mtime;
    char *id;
    char **etags;  /* per part, as S3 gave it (with its quotes) */
    char **remote; /* per part, what ListParts says S3 holds */
};

static json_t *state_of(const struct upload *u)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "upload_id", u->id, "bucket", u->t->bucket,
                     "key", u->t->key, "endpoint", u->t->endpoint ? u->t->endpoint : "", "size",
                     (json_int_t)u->size, "mtime", (json_int_t)u->mtime, "part_size",
                     (json_int_t)u->part);
}

static int save_state(const struct upload *u, struct bw_error *err)
{
    json_t *j = state_of(u);
    char *text = json_dumps(j, JSON_SORT_KEYS);
    int rc = bw_file_write(u->o->state, text, strlen(text), 0600, err);
    free(text);
    json_decref(j);
    return rc;
}

/* The upload id of a state file written for this same file and object, or NULL. */
static char *resumable(const struct upload *u)
{
    json_t *have = json_load_file(u->o->state, 0, NULL);
    if (!have)
        return NULL;
    struct upload probe = *u;
    probe.id = (char *)json_string_value(json_object_get(have, "upload_id"));
    char *id = NULL;
    if (probe.id) {
        json_t *want = state_of(&probe);
        if (json_equal(have, want))
            id = bw_xstrdup(probe.id);
        json_decref(want);
    }
    json_decref(have);
    return id;
}

/* Which parts S3 holds for the upload; -1 when it knows no such upload. */
static int list_parts(struct upload *u, struct bw_aws_answer *r, struct bw_error *err)
{
    struct bw_buf q = BW_BUF_INIT, part = BW_BUF_INIT;
    bw_buf_init(&q);
    bw_buf_init(&part);
    bw_buf_adds(&q, "max-parts=10000&uploadId=");
    bw_sigv4_encode(&q, u->id, strlen(u->id), 0);
    int rc = request(u->t, "GET", q.data, NULL, 0, NULL, r, err);
    if (rc == 0 && r->status != 200) {
        s3_error(r, "ListParts", err);
        rc = -1;
    }
    for (size_t pos = 0; rc == 0 && bw_xml_next(r->body.data, r->body.len, "Part", &pos, &part);) {
        char *n = bw_xml_first(part.data, part.len, "PartNumber");
        char *etag = bw_xml_first(part.data, part.len, "ETag");
        long k = n ? strtol(n, NULL, 10) : 0;
        if (etag && k >= 1 && k <= (long)u->parts) {
            free(u->remote[k - 1]);
            u->remote[k - 1] = etag;
            etag = NULL;
        }
        free(n);
        free(etag);
    }
    bw_buf_release(&q);
    bw_buf_release(&part);
    return rc;
}

static int start(struct upload *u, struct bw_aws_answer *r, struct bw_error *err)
{
    if (request(u->t, "POST", "uploads", NULL, 0, NULL, r, err) < 0)
        return -1;
    u->id = r->status == 200 ? bw_xml_first(r->body.data, r->body.len, "UploadId") : NULL;
    if (!u->id) {
        s3_error(r, "CreateMultipartUpload", err);
        return -1;
    }
    return save_state(u, err);
}

static int send_part(struct upload *u, unsigned n, const unsigned char *data, size_t len,
                     struct bw_aws_answer *r, struct bw_s3_result *res, struct bw_error *err)
{
    unsigned char md5[16];
    unsigned int ml = 0;
    EVP_Digest(data, len, md5, &ml, EVP_md5(), NULL);
    char hex[33], b64[25];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md5[i]);
    EVP_EncodeBlock((unsigned char *)b64, md5, 16);
    /* already there, the same bytes: S3's ETag of a part is its MD5, quoted */
    const char *have = u->remote[n - 1];
    if (have && strlen(have) == 34 && have[0] == '"' && strncmp(have + 1, hex, 32) == 0) {
        u->etags[n - 1] = bw_xstrdup(have);
        res->kept++;
        return 1;
    }
    struct bw_buf q = BW_BUF_INIT;
    bw_buf_init(&q);
    bw_buf_addf(&q, "partNumber=%u&uploadId=", n);
    bw_sigv4_encode(&q, u->id, strlen(u->id), 0);
    unsigned attempts = u->o->max_attempts ? u->o->max_attempts : 3;
    int rc = -1;
    for (unsigned a = 1;; a++) {
        bw_error_release(err);
        rc = request(u->t, "PUT", q.data, data, len, b64, r, err);
        /* a broken connection or a 5xx is worth another try; a refusal is not */
        bool transient = rc < 0 || r->status >= 500;
        if (rc == 0 && r->status != 200) {
            s3_error(r, "UploadPart", err);
            rc = -1;
        } else if (rc == 0 && r->etag[0] != '"') {
            bw_error_set(err, BW_ERR_NETWORK, "S3 UploadPart: no ETag in the answer");
            rc = -1;
            transient = false;
        }
        if (rc == 0 || !transient || a >= attempts || bw_aws_interrupted())
            break;
        res->retries++;
        nanosleep(&(struct timespec){a, 0}, NULL);
    }
    if (rc == 0 && strncmp(r->etag + 1, hex, 32) != 0) {
        bw_error_set(err, BW_ERR_CHECKSUM,
                     "S3 UploadPart %u: the ETag %s is not the part's MD5 \"%s\"", n, r->etag, hex);
        rc = -1;
    }
    if (rc == 0)
        u->etags[n - 1] = bw_xstrdup(r->etag);
    else
        bw_error_prefix(err, "part %u of %u", n, u->parts);
    bw_buf_release(&q);
    return rc;
}

static int complete(struct upload *u, struct bw_aws_answer *r, struct bw_s3_result *res,
                    struct bw_error *err)
{
    struct bw_buf x = BW_BUF_INIT, q = BW_BUF_INIT;
    bw_buf_init(&x);
    bw_buf_init(&q);
    bw_buf_adds(&x, "<CompleteMultipartUpload>");
    for (unsigned n = 1; n <= u->parts; n++) {
        bw_buf_addf(&x, "<Part><PartNumber>%u</PartNumber><ETag>", n);
        bw_buf_add_escaped_xml(&x, u->etags[n - 1]);
        bw_buf_adds(&x, "</ETag></Part>");
    }
    bw_buf_adds(&x, "</CompleteMultipartUpload>");
    bw_buf_adds(&q, "uploadId=");
    bw_sigv4_encode(&q, u->id, strlen(u->id), 0);
    int rc = request(u->t, "POST", q.data, x.data, x.len, NULL, r, err);
    /* S3 may answer 200 and put an error in the body */
    char *code = rc == 0 ? bw_xml_first(r->body.data, r->body.len, "Code") : NULL;
    char *etag = rc == 0 ? bw_xml_first(r->body.data, r->body.len, "ETag") : NULL;
    if (rc == 0 && (r->status != 200 || code || !etag)) {
        s3_error(r, "CompleteMultipartUpload", err);
        rc = -1;
    }
    if (rc == 0)
        snprintf(res->etag, sizeof(res->etag), "%s", etag);
    free(code);
    free(etag);
    bw_buf_release(&x);
    bw_buf_release(&q);
    return rc;
}

int bw_s3_upload(const struct bw_aws_target *t, const char *file, const struct bw_s3_options *o,
                 struct bw_s3_result *res, struct bw_error *err)
{
    memset(res, 0, sizeof(*res));
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        bw_error_at(err, BW_ERR_IO, file, NULL, 0, 0, "cannot read: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct upload u = {t, o, (uint64_t)st.st_size, 0, 0, (long long)st.st_mtime, NULL, NULL, NULL};
    u.part = o->part_size ? o->part_size : bw_s3_part_size(u.size);
    uint64_t parts = u.part ? (u.size + u.part - 1) / u.part : 0;
    if (parts == 0 && u.part)
        parts = 1;
    if (!u.part || u.part < 5 * MIB || u.part > 5 * 1024 * MIB || parts > MAX_PARTS) {
        bw_error_at(err, BW_ERR_UNSUPPORTED, file, NULL, 0, 0,
                    "%llu bytes in parts of %llu: expected parts of 5 MiB to 5 GiB, at most "
                    "10,000 of them",
                    (unsigned long long)u.size, (unsigned long long)u.part);
        close(fd);
        return -1;
    }
    u.parts = (unsigned)parts;
    u.etags = bw_xcalloc(u.parts, sizeof(char *));
    u.remote = bw_xcalloc(u.parts, sizeof(char *));
    struct bw_aws_answer r = {0};
    bw_buf_init(&r.body);
    int rc = 0;
    /* A rerun goes on with what S3 already holds. */
    if ((u.id = resumable(&u)) && list_parts(&u, &r, err) < 0) {
        if (r.status != 404) {
            rc = -1;
        } else { /* S3 no longer knows that upload: start again */
            bw_error_release(err);
            free(u.id);
            u.id = NULL;
        }
    }
    if (rc == 0 && !u.id)
        rc = start(&u, &r, err);
    unsigned char *buf = rc == 0 ? bw_xmalloc(u.part ? u.part : 1) : NULL;
    struct bw_s3_progress p = {0, u.size, 0, u.parts, false};
    for (unsigned n = 1; rc == 0 && n <= u.parts; n++) {
        uint64_t off = (uint64_t)(n - 1) * u.part;
        size_t len = (size_t)(u.size - off < u.part ? u.size - off : u.part);
        size_t got = 0;
        while (got < len) {
            ssize_t k = pread(fd, buf + got, len - got, (off_t)(off + got));
            if (k <= 0) {
                bw_error_at(err, BW_ERR_IO, file, NULL, 0, 0, "cannot read part %u: %s", n,
                            k < 0 ? strerror(errno) : "the file got shorter");
                rc = -1;
                break;
            }
            got += (size_t)k;
        }
        int sent = rc == 0 ? send_part(&u, n, buf, len, &r, res, err) : -1;
        if (sent < 0) {
            rc = -1;
            break;
        }
        p.sent += len;
        p.part = n;
        p.kept = sent == 1;
        if (o->progress)
            o->progress(&p, o->ud);
    }
    free(buf);
    if (rc == 0 && complete(&u, &r, res, err) == 0)
        unlink(o->state);
    else
        rc = -1;
    res->parts = u.parts;
    for (unsigned n = 0; n < u.parts; n++) {
        free(u.etags[n]);
        free(u.remote[n]);
    }
    free(u.etags);
    free(u.remote);
    free(u.id);
    bw_buf_release(&r.body);
    close(fd);
    return rc;
}
