/* The ISO cache against a fault-injecting server, nginx, local files and concurrent builds. */
#include "faultserver.h"
#include "golden.h"
#include "../../builder/base/digest.h"
#include "../../builder/drivers/driver.h"
#include "iso_cache.h"
#include "../../builder/base/buf.h"
#include "../../builder/base/spawn.h"
#include "../../builder/base/xmalloc.h"

#include <check.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static struct faultserver *fs;
static char cache[64], work[64];
static char *body;
static size_t body_len;
static char body_hex[BW_HASH_MAX_HEX + 1];

#define ISO_SIZE (1u << 20)

static void sha256_hex(const void *p, size_t n, char hex[BW_HASH_MAX_HEX + 1])
{
    struct bw_hash *h = bw_hash_new(BW_HASH_SHA256);
    bw_hash_update(h, p, n);
    bw_hash_final(h, hex);
    bw_hash_free(h);
}

static void setup(void)
{
    snprintf(cache, sizeof(cache), "/tmp/bw-iso-cache-XXXXXX");
    snprintf(work, sizeof(work), "/tmp/bw-iso-work-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(cache));
    ck_assert_ptr_nonnull(mkdtemp(work));
    body_len = ISO_SIZE;
    body = bw_xmalloc(body_len);
    unsigned x = 12345;
    for (size_t i = 0; i < body_len; i++) {
        x = x * 1103515245u + 12345u;
        body[i] = (char)(x >> 16);
    }
    sha256_hex(body, body_len, body_hex);
    fs = fs_start();
    fs_set(fs, "/x.iso", body, body_len, "\"v1\"");
}

static void teardown(void)
{
    fs_stop(fs);
    free(body);
    test_rm_rf(cache);
    test_rm_rf(work);
}

static char *url(const char *path)
{
    return bw_xasprintf("http://127.0.0.1:%u%s", fs_port(fs), path);
}

struct seen {
    unsigned counts[9];
};

static void count_event(const struct bw_iso_event *ev, void *ud)
{
    ((struct seen *)ud)->counts[ev->kind]++;
}

/* Fetches from the given URLs with a sha256 spec of `hex`; fast retries for tests. */
static char *fetch(const char *const *urls, size_t n, const char *hex, struct seen *seen,
                   struct bw_error *err)
{
    char *spec = bw_xasprintf("sha256:%s", hex);
    struct bw_iso_request req = {urls, n, spec, false, 8, 1, 1, count_event, seen};
    char *p = bw_iso_fetch(cache, &req, err);
    free(spec);
    return p;
}

static void assert_file_is_body(const char *path)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    ck_assert_int_eq(bw_buf_read_file(&b, path), 0);
    ck_assert_uint_eq(b.len, body_len);
    ck_assert_int_eq(memcmp(b.data, body, body_len), 0);
    bw_buf_release(&b);
}

START_TEST(test_resume_after_cuts_at_many_offsets)
{
    /* Each request is cut after a few more bytes; every retry must continue where it stopped. */
    static const uint64_t cuts[] = {1, 99, 4096, 65535, 100000, 250000};
    uint64_t at = 0;
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++)
        fs_push(fs, "/x.iso", FAULT_CUT, cuts[i]);
    char *u = url("/x.iso");
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *path = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_msg(path != NULL, "%s", err.msg);
    assert_file_is_body(path);
    ck_assert_uint_eq(fs_requests(fs, "/x.iso"), 7);
    ck_assert_int_eq(fs_range_start(fs, "/x.iso", 0), -1);
    for (unsigned i = 1; i < 7; i++) {
        at += cuts[i - 1];
        ck_assert_msg(fs_range_start(fs, "/x.iso", i) == (long long)at,
                      "request %u asked from %lld, expected %llu", i,
                      fs_range_start(fs, "/x.iso", i), (unsigned long long)at);
    }
    ck_assert_uint_eq(seen.counts[BW_ISO_RESUME], 6);
    ck_assert_uint_eq(seen.counts[BW_ISO_RETRY], 6);
    ck_assert_uint_eq(seen.counts[BW_ISO_VERIFIED], 1);
    free(path);
    free(u);
}
END_TEST

START_TEST(test_server_ignoring_range_restarts_cleanly)
{
    fs_push(fs, "/x.iso", FAULT_CUT, 300000);
    fs_push(fs, "/x.iso", FAULT_IGNORE_RANGE, 0);
    char *u = url("/x.iso");
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *path = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_msg(path != NULL, "%s", err.msg);
    assert_file_is_body(path);
    ck_assert_int_eq(fs_range_start(fs, "/x.iso", 1), 300000);
    ck_assert_uint_eq(seen.counts[BW_ISO_RESTART], 1);
    free(path);
    free(u);
}
END_TEST

START_TEST(test_changed_file_restarts_instead_of_splicing)
{
    /* A cut download of version 1; the server then has version 2 under a new ETag. */
    char *old = bw_xmalloc(body_len);
    memset(old, 'A', body_len);
    fs_set(fs, "/x.iso", old, body_len, "\"old\"");
    fs_push(fs, "/x.iso", FAULT_CUT, 400000);
    char *u = url("/x.iso");
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char old_hex[BW_HASH_MAX_HEX + 1];
    sha256_hex(old, body_len, old_hex);
    struct bw_iso_request req = {urls, 1, NULL, false, 1, 1, 1, count_event, &seen};
    char *spec = bw_xasprintf("sha256:%s", body_hex);
    req.checksum = spec;
    ck_assert_ptr_null(bw_iso_fetch(cache, &req, &err)); /* one attempt: cut, part kept */
    fs_set(fs, "/x.iso", body, body_len, "\"new\"");
    char *path = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_msg(path != NULL, "%s", err.msg);
    assert_file_is_body(path);
    ck_assert_int_eq(fs_range_start(fs, "/x.iso", 1), 400000); /* asked to resume... */
    ck_assert_uint_eq(seen.counts[BW_ISO_RESTART], 1);         /* ...got it all back */
    bw_error_release(&err);
    free(spec);
    free(path);
    free(old);
    free(u);
}
END_TEST

START_TEST(test_transient_errors_retry_and_stalls_are_cut)
{
    fs_push(fs, "/x.iso", FAULT_STATUS, 503);
    fs_push(fs, "/x.iso", FAULT_STALL, 5000);
    fs_push(fs, "/x.iso", FAULT_STATUS, 429);
    char *u = url("/x.iso");
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *path = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_msg(path != NULL, "%s", err.msg);
    assert_file_is_body(path);
    ck_assert_uint_eq(fs_requests(fs, "/x.iso"), 4);
    /* The stall left 5000 bytes with ETag v1: the requests after it resume from there. */
    ck_assert_int_eq(fs_range_start(fs, "/x.iso", 2), 5000);
    ck_assert_int_eq(fs_range_start(fs, "/x.iso", 3), 5000);
    ck_assert_uint_eq(seen.counts[BW_ISO_RETRY], 3);
    free(path);
    free(u);
}
END_TEST

START_TEST(test_mirrors_fall_back_and_failures_are_listed_per_source)
{
    fs_set(fs, "/broken.iso", "", 0, "");
    for (int i = 0; i < 16; i++)
        fs_push(fs, "/broken.iso", FAULT_STATUS, 500);
    char *missing = url("/missing.iso"), *broken = url("/broken.iso"), *good = url("/x.iso");
    const char *urls[] = {missing, broken, good};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *path = fetch(urls, 3, body_hex, &seen, &err);
    ck_assert_msg(path != NULL, "%s", err.msg);
    assert_file_is_body(path);
    ck_assert_uint_eq(seen.counts[BW_ISO_FAILED], 2);
    free(path);
    /* Without the good mirror the error says what each source did. */
    const char *bad[] = {missing, broken};
    char other[BW_HASH_MAX_HEX + 1];
    sha256_hex("other", 5, other);
    ck_assert_ptr_null(fetch(bad, 2, other, &seen, &err));
    ck_assert_int_eq(err.code, BW_ERR_NETWORK);
    ck_assert_msg(strstr(err.msg, "missing.iso: HTTP 404"), "%s", err.msg);
    ck_assert_msg(strstr(err.msg, "broken.iso: HTTP 500 (after 8 attempts)"), "%s", err.msg);
    bw_error_release(&err);
    free(missing);
    free(broken);
    free(good);
}
END_TEST

START_TEST(test_bad_checksum_is_quarantined_and_names_both_digests)
{
    char *u = url("/x.iso");
    const char *urls[] = {u};
    char wrong[BW_HASH_MAX_HEX + 1];
    sha256_hex("not the iso", 11, wrong);
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_ptr_null(fetch(urls, 1, wrong, &seen, &err));
    ck_assert_int_eq(err.code, BW_ERR_CHECKSUM);
    ck_assert_ptr_nonnull(strstr(err.msg, u));
    ck_assert_ptr_nonnull(strstr(err.msg, wrong));
    ck_assert_ptr_nonnull(strstr(err.msg, body_hex));
    ck_assert_ptr_nonnull(strstr(err.msg, "quarantine"));
    /* The bad file is kept for inspection, never entered into the cache: listed as
     * quarantined, and removable like an entry. */
    char *q = strstr(err.msg, "moved to ");
    ck_assert_ptr_nonnull(q);
    assert_file_is_body(q + 9);
    struct bw_iso_entry *v;
    size_t n;
    ck_assert_int_eq(bw_iso_list(cache, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].state, "quarantined");
    ck_assert_ptr_nonnull(strstr(v[0].name, "x.iso"));
    ck_assert_int_eq(bw_iso_remove(cache, v[0].key, &err), 0);
    bw_iso_entries_free(v, n);
    ck_assert_int_eq(bw_iso_list(cache, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    bw_iso_entries_free(v, n);
    bw_error_release(&err);
    free(u);
}
END_TEST

START_TEST(test_cache_hits_do_not_touch_the_network)
{
    char *u = url("/x.iso");
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *first = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_ptr_nonnull(first);
    fs_stop(fs);
    fs = fs_start(); /* a server on another port that has nothing */
    char *second = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_msg(second != NULL, "%s", err.msg);
    ck_assert_str_eq(first, second);
    ck_assert_uint_eq(seen.counts[BW_ISO_HIT], 1);
    struct bw_iso_entry *v;
    size_t n;
    ck_assert_int_eq(bw_iso_list(cache, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].name, "x.iso");
    ck_assert_str_eq(v[0].url, u);
    ck_assert_uint_eq(v[0].size, body_len);
    ck_assert_int_eq(bw_iso_remove(cache, "x.iso", &err), 0);
    ck_assert_int_eq(bw_iso_remove(cache, "x.iso", &err), -1);
    ck_assert_int_eq(err.code, BW_ERR_NOT_FOUND);
    bw_iso_entries_free(v, n);
    bw_error_release(&err);
    free(first);
    free(second);
    free(u);
}
END_TEST

/* A URL whose file is called meta.json: the entry keeps its own metadata, lists under that
 * name, is a hit the next time and can be removed by it. */
START_TEST(test_a_file_named_like_the_metadata_does_not_corrupt_its_entry)
{
    fs_set(fs, "/meta.json", body, body_len, "\"m1\"");
    char *u = url("/meta.json");
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *path = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_msg(path != NULL, "%s", err.msg);
    assert_file_is_body(path);
    ck_assert_msg(!strstr(path, "meta.json"), "%s", path);
    char *again = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_str_eq(again, path);
    ck_assert_uint_eq(seen.counts[BW_ISO_HIT], 1);
    ck_assert_uint_eq(fs_requests(fs, "/meta.json"), 1);
    struct bw_iso_entry *v;
    size_t n;
    ck_assert_int_eq(bw_iso_list(cache, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].name, "meta.json");
    ck_assert_str_eq(v[0].state, "complete");
    bw_iso_entries_free(v, n);
    ck_assert_int_eq(bw_iso_remove(cache, "meta.json", &err), 0);
    free(again);
    free(path);
    free(u);
}
END_TEST

/* A shared cache others may not write: an entry that is there is used without its lock. */
START_TEST(test_an_entry_is_used_when_its_lock_cannot_be_taken)
{
    char *u = url("/x.iso");
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *path = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_ptr_nonnull(path);
    /* As root, permissions do not stop us: a directory where the lock file goes does. */
    char *lock = bw_xasprintf("%s/sha256-%s.lock", cache, body_hex);
    unlink(lock);
    ck_assert_int_eq(mkdir(lock, 0755), 0);
    char *again = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_msg(again != NULL, "%s", err.msg);
    ck_assert_str_eq(again, path);
    rmdir(lock);
    free(lock);
    free(again);
    free(path);
    free(u);
}
END_TEST

/* A download that never finished is listed (it resumes next time) and can be removed. */
START_TEST(test_a_partial_download_is_listed_and_removable)
{
    fs_push(fs, "/x.iso", FAULT_CUT, 4096);
    char *u = url("/x.iso");
    const char *urls[] = {u};
    char *spec = bw_xasprintf("sha256:%s", body_hex);
    struct bw_iso_request req = {urls, 1, spec, false, 1, 1, 1, NULL, NULL};
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_ptr_null(bw_iso_fetch(cache, &req, &err));
    bw_error_release(&err);
    struct bw_iso_entry *v;
    size_t n;
    ck_assert_int_eq(bw_iso_list(cache, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(v[0].state, "partial");
    ck_assert_str_eq(v[0].name, "x.iso");
    ck_assert_str_eq(v[0].url, u);
    ck_assert_uint_eq(v[0].size, 4096);
    ck_assert_int_eq(bw_iso_remove(cache, body_hex, &err), 0);
    bw_iso_entries_free(v, n);
    ck_assert_int_eq(bw_iso_list(cache, &v, &n, &err), 0);
    ck_assert_uint_eq(n, 0);
    bw_iso_entries_free(v, n);
    char *part = bw_xasprintf("%s/sha256-%s.part.json", cache, body_hex);
    ck_assert_int_ne(access(part, F_OK), 0);
    free(part);
    free(spec);
    free(u);
}
END_TEST

/* Only http(s) and file URLs are fetched, redirects included, and a redirect loop ends after a
 * handful of requests (libcurl would speak dict://, gopher://, ftp://, and followed a loop
 * about 9,000 times). */
START_TEST(test_only_web_urls_and_a_redirect_loop_is_cut_short)
{
    static const char *const odd[] = {"ftp://127.0.0.1/x.iso", "gopher://127.0.0.1/x",
                                      "dict://127.0.0.1/x", "ldap://127.0.0.1/x"};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        const char *urls[] = {odd[i]};
        struct seen seen = {{0}};
        struct bw_error err = BW_ERROR_INIT;
        ck_assert_ptr_null(fetch(urls, 1, body_hex, &seen, &err));
        ck_assert_int_eq(err.code, BW_ERR_USAGE);
        ck_assert_msg(strstr(err.msg, "expected an http://, https:// or file:// URL"), "%s",
                      err.msg);
        bw_error_release(&err);
    }
    for (int i = 0; i < 200; i++)
        fs_push(fs, "/x.iso", FAULT_REDIRECT, 0);
    char *u = url("/x.iso");
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    ck_assert_ptr_null(fetch(urls, 1, body_hex, &seen, &err));
    ck_assert_msg(strstr(err.msg, "redirect"), "%s", err.msg);
    ck_assert_uint_le(fs_requests(fs, "/x.iso"), 11);
    bw_error_release(&err);
    free(u);
}
END_TEST

/* Four boxwright processes want one ISO at once: one download, four verified paths. */
START_TEST(test_concurrent_fetches_download_once)
{
    fs_throttle(fs, 4u << 20); /* ~0.25 s per download, so the four overlap */
    char *u = url("/x.iso");
    char *spec = bw_xasprintf("sha256:%s", body_hex);
    pid_t pids[4];
    char *outs[4];
    for (int i = 0; i < 4; i++) {
        outs[i] = bw_xasprintf("%s/out%d", work, i);
        int fd = open(outs[i], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fd, 1);
        char *argv[] = {BW_BINARY, "iso", "fetch", "--quiet", u, "--checksum", spec, NULL};
        char *env_cache = bw_xasprintf("BOXWRIGHT_CACHE_DIR=%s", cache);
        char *envp[] = {env_cache, NULL};
        ck_assert_int_eq(posix_spawn(&pids[i], BW_BINARY, &fa, NULL, argv, envp), 0);
        posix_spawn_file_actions_destroy(&fa);
        close(fd);
        free(env_cache);
    }
    char *first = NULL;
    for (int i = 0; i < 4; i++) {
        int st;
        ck_assert_int_eq(waitpid(pids[i], &st, 0), pids[i]);
        ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fetch %d failed", i);
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_init(&b);
        ck_assert_int_eq(bw_buf_read_file(&b, outs[i]), 0);
        bw_buf_rtrim(&b);
        if (!first)
            first = bw_xstrdup(b.data);
        ck_assert_str_eq(b.data, first);
        bw_buf_release(&b);
        free(outs[i]);
    }
    assert_file_is_body(first);
    ck_assert_uint_eq(fs_requests(fs, "/x.iso"), 1);
    free(first);
    free(spec);
    free(u);
}
END_TEST

START_TEST(test_a_crashed_lock_holder_does_not_block)
{
    char *lock = bw_xasprintf("%s/sha256-%s.lock", cache, body_hex);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(lock, O_RDWR | O_CREAT, 0644);
        flock(fd, LOCK_EX);
        pause(); /* holds the lock until killed */
        _exit(0);
    }
    usleep(100 * 1000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    char *u = url("/x.iso");
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *path = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_msg(path != NULL, "%s", err.msg);
    free(path);
    free(u);
    free(lock);
}
END_TEST

START_TEST(test_local_files_are_verified_in_place_and_hashed_once)
{
    char *local = bw_xasprintf("%s/local.iso", work);
    FILE *f = fopen(local, "wb");
    fwrite(body, 1, body_len, f);
    fclose(f);
    char *file_url = bw_xasprintf("file://%s", local);
    const char *urls[] = {file_url};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *path = fetch(urls, 1, body_hex, &seen, &err);
    ck_assert_msg(path != NULL, "%s", err.msg);
    ck_assert_str_eq(path, local);                      /* not copied */
    ck_assert_uint_ge(seen.counts[BW_ISO_PROGRESS], 1); /* it was read */
    free(path);
    /* A second run takes the remembered digest: no reading, no progress. */
    memset(&seen, 0, sizeof(seen));
    const char *plain[] = {local};
    path = fetch(plain, 1, body_hex, &seen, &err);
    ck_assert_ptr_nonnull(path);
    ck_assert_uint_eq(seen.counts[BW_ISO_PROGRESS], 0);
    free(path);
    ck_assert_int_eq(
        bw_iso_verify(cache, local, "md5:00000000000000000000000000000000", NULL, NULL, &err), -1);
    ck_assert_int_eq(err.code, BW_ERR_CHECKSUM);
    /* A changed file (new mtime) is read again, and the mismatch found. */
    f = fopen(local, "r+b");
    fputc('X', f);
    fclose(f);
    struct timespec ts[2] = {{0, UTIME_NOW}, {12345, 0}};
    utimensat(AT_FDCWD, local, ts, 0);
    ck_assert_ptr_null(fetch(plain, 1, body_hex, &seen, &err));
    ck_assert_int_eq(err.code, BW_ERR_CHECKSUM);
    ck_assert_ptr_nonnull(strstr(err.msg, "left where it is"));
    bw_error_release(&err);
    free(file_url);
    free(local);
}
END_TEST

START_TEST(test_checksum_file_specs_and_none)
{
    char *sums = bw_xasprintf("%s  other.iso\n%s  x.iso\n", "00", body_hex);
    fs_set(fs, "/SHA256SUMS", sums, strlen(sums), "");
    char *u = url("/x.iso"), *s = url("/SHA256SUMS");
    char *spec = bw_xasprintf("file:%s", s);
    const char *urls[] = {u};
    struct bw_error err = BW_ERROR_INIT;
    struct bw_iso_request req = {urls, 1, spec, false, 2, 1, 1, NULL, NULL};
    char *path = bw_iso_fetch(cache, &req, &err);
    ck_assert_msg(path != NULL, "%s", err.msg);
    assert_file_is_body(path);
    free(path);
    req.checksum = "none";
    ck_assert_ptr_null(bw_iso_fetch(cache, &req, &err));
    ck_assert_int_eq(err.code, BW_ERR_USAGE);
    ck_assert_ptr_nonnull(strstr(err.msg, "--insecure-skip-checksum"));
    req.insecure_skip_checksum = true;
    path = bw_iso_fetch(cache, &req, &err);
    ck_assert_ptr_nonnull(path);
    free(path);
    free(sums);
    sums = bw_xasprintf("%s  other.iso\n", body_hex);
    fs_set(fs, "/SHA256SUMS", sums, strlen(sums), "");
    req.checksum = spec;
    req.insecure_skip_checksum = false;
    ck_assert_ptr_null(bw_iso_fetch(cache, &req, &err));
    ck_assert_int_eq(err.code, BW_ERR_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(err.msg, "no line for \"x.iso\""));
    bw_error_release(&err);
    free(sums);
    free(spec);
    free(s);
    free(u);
}
END_TEST

/*
 * nginx on a port the kernel just handed out; should something take it before
 * nginx binds (nginx exits: address in use), again on another.
 */
static pid_t start_nginx(const char *www, unsigned *port)
{
    char *conf = bw_xasprintf("%s/nginx.conf", work);
    for (int attempt = 0; attempt < 5; attempt++) {
        *port = bw_free_port();
        FILE *f = fopen(conf, "w");
        fprintf(f,
                "worker_processes 1; daemon off; pid %s/nginx.pid; error_log %s/error.log;\n"
                "events {}\nhttp { access_log %s/access.log; client_body_temp_path %s;\n"
                "proxy_temp_path %s; fastcgi_temp_path %s; uwsgi_temp_path %s; scgi_temp_path %s;\n"
                "server { listen 127.0.0.1:%u; root %s; } }\n",
                work, work, work, work, work, work, work, work, *port, www);
        fclose(f);
        pid_t pid;
        char *argv[] = {"/usr/sbin/nginx", "-c", conf, NULL};
        ck_assert_int_eq(posix_spawn(&pid, argv[0], NULL, NULL, argv, NULL), 0);
        for (int i = 0; i < 300; i++) {
            if (waitpid(pid, NULL, WNOHANG) == pid)
                break; /* nginx gave up: the port was taken */
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)*port)};
            sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            int up = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
            close(fd);
            if (up) {
                free(conf);
                return pid;
            }
            usleep(50 * 1000);
        }
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    ck_abort_msg("nginx never listened: see %s/error.log", work);
    return -1;
}

/*
 * nginx as the real peer: a part left by an earlier run resumes with Range
 * and If-Range against nginx's own ETag, and nginx answers 206.
 */
START_TEST(test_resume_against_nginx)
{
    if (access("/usr/sbin/nginx", X_OK) != 0) {
        ck_assert_msg(getenv("CI") == NULL, "nginx is missing: scripts/setup installs it");
        return;
    }
    char *www = bw_xasprintf("%s/www", work);
    mkdir(www, 0755);
    chmod(work, 0755);
    char *iso = bw_xasprintf("%s/x.iso", www);
    FILE *f = fopen(iso, "wb");
    fwrite(body, 1, body_len, f);
    fclose(f);
    unsigned port;
    pid_t pid = start_nginx(www, &port);
    char *u = bw_xasprintf("http://127.0.0.1:%u/x.iso", port);
    /* What an interrupted run leaves: half the file and nginx's validator. */
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, u);
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    struct bw_buf hdr = BW_BUF_INIT;
    bw_buf_init(&hdr);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, NULL);
    ck_assert_int_eq(curl_easy_perform(c), CURLE_OK);
    struct curl_header *etag = NULL;
    ck_assert_int_eq(curl_easy_header(c, "ETag", 0, CURLH_HEADER, -1, &etag), CURLHE_OK);
    char *part = bw_xasprintf("%s/sha256-%s.part", cache, body_hex);
    f = fopen(part, "wb");
    fwrite(body, 1, body_len / 2, f);
    fclose(f);
    char *meta = bw_xasprintf("%s/sha256-%s.part.json", cache, body_hex);
    json_t *m = json_pack("{s:s,s:s,s:s}", "url", u, "etag", etag->value, "last_modified", "");
    ck_assert_int_eq(json_dump_file(m, meta, 0), 0);
    json_decref(m);
    curl_easy_cleanup(c);
    bw_buf_release(&hdr);
    const char *urls[] = {u};
    struct seen seen = {{0}};
    struct bw_error err = BW_ERROR_INIT;
    char *path = fetch(urls, 1, body_hex, &seen, &err);
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    ck_assert_msg(path != NULL, "%s", err.msg);
    assert_file_is_body(path);
    ck_assert_uint_eq(seen.counts[BW_ISO_RESUME], 1);
    ck_assert_uint_eq(seen.counts[BW_ISO_RESTART], 0);
    struct bw_buf log = BW_BUF_INIT;
    bw_buf_init(&log);
    char *logp = bw_xasprintf("%s/access.log", work);
    ck_assert_int_eq(bw_buf_read_file(&log, logp), 0);
    ck_assert_msg(strstr(log.data, "\"GET /x.iso HTTP/1.1\" 206 "), "nginx log: %s", log.data);
    bw_buf_release(&log);
    free(logp);
    free(path);
    free(meta);
    free(part);
    free(u);
    free(iso);
    free(www);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    Suite *s = suite_create("iso");
    TCase *tc = tcase_create("cache");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_resume_after_cuts_at_many_offsets);
    tcase_add_test(tc, test_server_ignoring_range_restarts_cleanly);
    tcase_add_test(tc, test_changed_file_restarts_instead_of_splicing);
    tcase_add_test(tc, test_transient_errors_retry_and_stalls_are_cut);
    tcase_add_test(tc, test_mirrors_fall_back_and_failures_are_listed_per_source);
    tcase_add_test(tc, test_bad_checksum_is_quarantined_and_names_both_digests);
    tcase_add_test(tc, test_cache_hits_do_not_touch_the_network);
    tcase_add_test(tc, test_a_file_named_like_the_metadata_does_not_corrupt_its_entry);
    tcase_add_test(tc, test_an_entry_is_used_when_its_lock_cannot_be_taken);
    tcase_add_test(tc, test_a_partial_download_is_listed_and_removable);
    tcase_add_test(tc, test_only_web_urls_and_a_redirect_loop_is_cut_short);
    tcase_add_test(tc, test_concurrent_fetches_download_once);
    tcase_add_test(tc, test_a_crashed_lock_holder_does_not_block);
    tcase_add_test(tc, test_local_files_are_verified_in_place_and_hashed_once);
    tcase_add_test(tc, test_checksum_file_specs_and_none);
    tcase_add_test(tc, test_resume_against_nginx);
    suite_add_tcase(s, tc);
    int rc = test_run(s);
    curl_global_cleanup();
    return rc;
}
