#include "digest.h"
#include "file.h"
#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const EVP_MD *md_of(enum bw_hash_kind kind)
{
    switch (kind) {
    case BW_HASH_MD5:
        return EVP_md5();
    case BW_HASH_SHA1:
        return EVP_sha1();
    case BW_HASH_SHA256:
        return EVP_sha256();
    case BW_HASH_SHA512:
        return EVP_sha512();
    case BW_HASH_NONE:
        break;
    }
    return EVP_sha256();
}

struct bw_hash {
    EVP_MD_CTX *ctx;
    const EVP_MD *md;
};

struct bw_hash *bw_hash_new(enum bw_hash_kind kind)
{
    struct bw_hash *h = bw_xcalloc(1, sizeof(*h));
    h->ctx = EVP_MD_CTX_new();
    h->md = md_of(kind);
    if (!h->ctx || EVP_DigestInit_ex(h->ctx, h->md, NULL) != 1)
        bw_xmalloc((size_t)-1); /* OpenSSL out of memory: the one abort path */
    return h;
}

void bw_hash_update(struct bw_hash *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

void bw_hash_final(struct bw_hash *h, char hex[BW_HASH_MAX_HEX + 1])
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(h->ctx, d, &n);
    for (unsigned i = 0; i < n; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    hex[2 * n] = '\0';
    EVP_DigestInit_ex(h->ctx, h->md, NULL);
}

void bw_hash_free(struct bw_hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
    free(h);
}

/* ---- pipelined ---- */

#define CHUNK (1u << 20)
#define SLOTS 8

struct bw_hasher {
    struct bw_hash *hash;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    char *buf[SLOTS];
    size_t len[SLOTS];
    unsigned head, tail, count; /* ring of full chunks waiting for the thread */
    unsigned fill;              /* slot being filled by update() */
    bool busy;                  /* the thread is digesting a chunk */
    bool stop;
    uint64_t bytes;
};

static void *hasher_main(void *arg)
{
    struct bw_hasher *h = arg;
    pthread_mutex_lock(&h->lock);
    for (;;) {
        while (!h->count && !h->stop)
            pthread_cond_wait(&h->cond, &h->lock);
        if (!h->count && h->stop)
            break;
        unsigned slot = h->head;
        h->busy = true;
        pthread_mutex_unlock(&h->lock);
        bw_hash_update(h->hash, h->buf[slot], h->len[slot]);
        pthread_mutex_lock(&h->lock);
        h->busy = false;
        h->head = (h->head + 1) % SLOTS;
        h->count--;
        pthread_cond_broadcast(&h->cond);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

struct bw_hasher *bw_hasher_new(enum bw_hash_kind kind)
{
    struct bw_hasher *h = bw_xcalloc(1, sizeof(*h));
    h->hash = bw_hash_new(kind);
    for (int i = 0; i < SLOTS; i++)
        h->buf[i] = bw_xmalloc(CHUNK);
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->cond, NULL);
    h->fill = 0;
    h->tail = 0;
    pthread_create(&h->thread, NULL, hasher_main, h);
    return h;
}

/* Queues the slot being filled; waits while the ring is full. Lock held. */
static void submit_locked(struct bw_hasher *h)
{
    while (h->count == SLOTS - 1) /* one slot stays free for filling */
        pthread_cond_wait(&h->cond, &h->lock);
    h->count++;
    h->tail = (h->tail + 1) % SLOTS;
    h->fill = h->tail;
    h->len[h->fill] = 0;
    pthread_cond_broadcast(&h->cond);
}

void bw_hasher_update(struct bw_hasher *h, const void *data, size_t len)
{
    const char *p = data;
    h->bytes += len;
    while (len) {
        size_t room = CHUNK - h->len[h->fill];
        size_t n = len < room ? len : room;
        memcpy(h->buf[h->fill] + h->len[h->fill], p, n);
        h->len[h->fill] += n;
        p += n;
        len -= n;
        if (h->len[h->fill] == CHUNK) {
            pthread_mutex_lock(&h->lock);
            submit_locked(h);
            pthread_mutex_unlock(&h->lock);
        }
    }
}

/* Waits until the thread has digested every queued chunk. */
static void drain(struct bw_hasher *h)
{
    pthread_mutex_lock(&h->lock);
    if (h->len[h->fill])
        submit_locked(h);
    while (h->count || h->busy)
        pthread_cond_wait(&h->cond, &h->lock);
    pthread_mutex_unlock(&h->lock);
}

void bw_hasher_final(struct bw_hasher *h, char hex[BW_HASH_MAX_HEX + 1])
{
    drain(h);
    bw_hash_final(h->hash, hex);
    h->bytes = 0;
}

void bw_hasher_reset(struct bw_hasher *h)
{
    char hex[BW_HASH_MAX_HEX + 1];
    bw_hasher_final(h, hex);
}

uint64_t bw_hasher_bytes(const struct bw_hasher *h)
{
    return h->bytes;
}

void bw_hasher_free(struct bw_hasher *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->stop = true;
    pthread_cond_broadcast(&h->cond);
    pthread_mutex_unlock(&h->lock);
    pthread_join(h->thread, NULL);
    for (int i = 0; i < SLOTS; i++)
        free(h->buf[i]);
    pthread_mutex_destroy(&h->lock);
    pthread_cond_destroy(&h->cond);
    bw_hash_free(h->hash);
    free(h);
}

int bw_hash_file(const char *path, enum bw_hash_kind kind, char hex[BW_HASH_MAX_HEX + 1],
                 void (*fn)(uint64_t done, uint64_t total, void *ud), void *ud,
                 struct bw_error *err)
{
    struct stat st;
    int fd = bw_file_open_read(path, &st, err);
    if (fd < 0)
        return -1;
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    struct bw_hash *h = bw_hash_new(kind);
    size_t bufsize = 4u << 20;
    char *buf = bw_xmalloc(bufsize);
    uint64_t done = 0;
    struct timespec last = {0, 0};
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, bufsize);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "read failed at byte %llu: %s",
                        (unsigned long long)done, strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0)
            break;
        bw_hash_update(h, buf, (size_t)n);
        done += (uint64_t)n;
        if (fn) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((now.tv_sec - last.tv_sec) * 1000 + (now.tv_nsec - last.tv_nsec) / 1000000 >= 100) {
                fn(done, (uint64_t)st.st_size, ud);
                last = now;
            }
        }
    }
    if (rc == 0) {
        bw_hash_final(h, hex);
        if (fn)
            fn(done, (uint64_t)st.st_size, ud);
    }
    free(buf);
    bw_hash_free(h);
    close(fd);
    return rc;
}
