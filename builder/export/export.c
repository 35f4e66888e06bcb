/* What every box format shares: the box archive (reproducible with SOURCE_DATE_EPOCH), the
 * manifest, a box's disk read back; see export.h. */
#include "export.h"
#include "../base/buf.h"
#include "../base/file.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"
#include "../base/digest.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* The time every member carries: $SOURCE_DATE_EPOCH when it is set (reproducible boxes),
 * else now. */
static bool fixed_time(time_t *t)
{
    const char *e = getenv("SOURCE_DATE_EPOCH");
    char *end;
    if (e && *e) {
        long long v = strtoll(e, &end, 10);
        if (!*end && v >= 0) {
            *t = (time_t)v;
            return true;
        }
    }
    *t = time(NULL);
    return false;
}

static struct archive_entry *entry(const char *name, la_int64_t size, time_t mtime)
{
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, name);
    archive_entry_set_size(e, size);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_mtime(e, mtime, 0);
    return e;
}

/* Adds one member from memory. */
static int add_bytes(struct archive *a, const char *name, const char *data, size_t len,
                     time_t mtime)
{
    struct archive_entry *e = entry(name, (la_int64_t)len, mtime);
    int rc = archive_write_header(a, e) == ARCHIVE_OK &&
                     archive_write_data(a, data, len) == (la_ssize_t)len
                 ? 0
                 : -1;
    archive_entry_free(e);
    return rc;
}

/* Adds one member streamed from a file. */
static int add_file(struct archive *a, const char *name, const char *path, time_t mtime, bool fixed,
                    struct bw_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot read: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    struct archive_entry *e = entry(name, st.st_size, fixed ? mtime : st.st_mtime);
    int rc = archive_write_header(a, e) == ARCHIVE_OK ? 0 : -1;
    archive_entry_free(e);
    size_t bufsize = 1u << 20;
    char *buf = bw_xmalloc(bufsize);
    ssize_t n;
    while (rc == 0 && (n = read(fd, buf, bufsize)) > 0)
        if (archive_write_data(a, buf, (size_t)n) != n)
            rc = -1;
    free(buf);
    close(fd);
    if (rc < 0 && err && !err->msg)
        bw_error_set(err, BW_ERR_IO, "writing %s into the box: %s", name, archive_error_string(a));
    return rc;
}

/* pigz on PATH, for gzip on every core; NULL without it. */
static char *find_pigz(void)
{
    const char *path = getenv("PATH");
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        char *f = bw_xasprintf("%.*s/pigz", (int)n, p);
        if (n && access(f, X_OK) == 0)
            return f;
        free(f);
        p += n + (p[n] == ':');
    }
    return NULL;
}

/*
 * Chooses the compression filter and its level; -1 with err for an unknown one. Both use every
 * core: zstd through its own worker threads (the same bytes whatever their number), gzip
 * through pigz when it is installed (independent blocks, the same bytes whatever its thread
 * count; no name or time in its header), else libarchive's one-core gzip.
 */
static int set_compression(struct archive *a, const char *comp, long level, bool fixed,
                           struct bw_error *err)
{
    char opt[96] = "";
    int rc = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    char *pigz = strcmp(comp, "gzip") == 0 ? find_pigz() : NULL;
    if (pigz) {
        char *cmd = bw_xasprintf("%s -%ld -n -p %ld -c", pigz,
                                 level >= 0 ? (level > 9 ? 9 : level) : 6, cores);
        rc = archive_write_add_filter_program(a, cmd);
        free(cmd);
    } else if (strcmp(comp, "gzip") == 0) {
        rc = archive_write_add_filter_gzip(a);
        if (level >= 0)
            snprintf(opt, sizeof(opt), "gzip:compression-level=%ld", level > 9 ? 9 : level);
        /* gzip's own header carries a time too */
        if (rc == ARCHIVE_OK && fixed && archive_write_set_options(a, "gzip:!timestamp") != 0)
            rc = -1;
    } else if (strcmp(comp, "zstd") == 0) {
        rc = archive_write_add_filter_zstd(a);
        if (level >= 0)
            snprintf(opt, sizeof(opt), "zstd:compression-level=%ld,zstd:threads=%ld", level, cores);
        else
            snprintf(opt, sizeof(opt), "zstd:threads=%ld", cores);
    } else if (strcmp(comp, "none") != 0) {
        bw_error_set(err, BW_ERR_USAGE, "compression \"%s\": expected gzip, zstd or none", comp);
        return -1;
    }
    free(pigz);
    if (rc == ARCHIVE_OK && *opt && archive_write_set_options(a, opt) != ARCHIVE_OK)
        rc = -1;
    if (rc != ARCHIVE_OK) {
        bw_error_set(err, BW_ERR_IO, "compression %s: %s", comp, archive_error_string(a));
        return -1;
    }
    return 0;
}

int bw_box_write(const char *box_path, const struct bw_box_member *m, size_t n,
                 const char *compression, long level, struct bw_error *err)
{
    time_t mtime;
    bool fixed = fixed_time(&mtime);
    char *tmp = bw_xasprintf("%s.tmp", box_path);
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    int rc = set_compression(a, compression ? compression : "gzip", level, fixed, err);
    if (rc == 0 && archive_write_open_filename(a, tmp) != ARCHIVE_OK) {
        bw_error_at(err, BW_ERR_IO, box_path, NULL, 0, 0, "cannot write the box: %s",
                    archive_error_string(a));
        rc = -1;
    }
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (m[i].file)
            rc = add_file(a, m[i].name, m[i].file, mtime, fixed, err);
        else if (add_bytes(a, m[i].name, m[i].data, strlen(m[i].data), mtime) < 0) {
            bw_error_at(err, BW_ERR_IO, box_path, NULL, 0, 0, "cannot write the box: %s",
                        archive_error_string(a));
            rc = -1;
        }
    }
    if (archive_write_close(a) != ARCHIVE_OK && rc == 0) {
        bw_error_at(err, BW_ERR_IO, box_path, NULL, 0, 0, "cannot finish the box: %s",
                    archive_error_string(a));
        rc = -1;
    }
    archive_write_free(a);
    rc = bw_file_commit(tmp, box_path, rc, err);
    free(tmp);
    return rc;
}

int bw_write_manifest(const char *manifest_path, const char *name, const struct bw_artifact *a,
                      size_t n, json_t *extra, struct bw_error *err)
{
    json_t *arts = json_array();
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char hex[BW_HASH_MAX_HEX + 1];
        struct stat st;
        if (stat(a[i].file, &st) < 0 ||
            bw_hash_file(a[i].file, BW_HASH_SHA256, hex, NULL, NULL, err) < 0) {
            if (err && !err->msg)
                bw_error_at(err, BW_ERR_IO, a[i].file, NULL, 0, 0, "%s", strerror(errno));
            rc = -1;
            break;
        }
        json_t *art = json_pack("{s:s,s:s,s:I,s:s}", "path", a[i].path, "type", a[i].type, "size",
                                (json_int_t)st.st_size, "sha256", hex);
        if (a[i].provider)
            json_object_set_new(art, "provider", json_string(a[i].provider));
        json_array_append_new(arts, art);
    }
    if (rc == 0) {
        char when[32];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        json_t *m = json_pack("{s:s,s:s,s:s,s:O}", "name", name, "built", when, "builder",
                              "boxwright", "artifacts", arts);
        if (extra)
            json_object_update(m, extra);
        if (json_dump_file(m, manifest_path, JSON_INDENT(2)) < 0) {
            bw_error_at(err, BW_ERR_IO, manifest_path, NULL, 0, 0, "cannot write: %s",
                        strerror(errno));
            rc = -1;
        }
        json_decref(m);
    }
    json_decref(arts);
    return rc;
}

/* Is this member the disk of a box: box.img (libvirt), a *.vmdk (VirtualBox, VMware), or a
 * *.vhdx (Hyper-V, in "Virtual Hard Disks/")? */
static bool is_disk_member(const char *name)
{
    size_t n = strlen(name);
    return strcmp(name, "box.img") == 0 || (n > 5 && strcmp(name + n - 5, ".vmdk") == 0) ||
           (n > 5 && strcmp(name + n - 5, ".vhdx") == 0);
}

int bw_box_extract_image(const char *box, const char *dest, struct bw_error *err)
{
    struct archive *a = archive_read_new();
    archive_read_support_filter_all(a);
    archive_read_support_format_all(a);
    int rc = -1;
    if (archive_read_open_filename(a, box, 1u << 20) != ARCHIVE_OK) {
        bw_error_at(err, BW_ERR_IO, box, NULL, 0, 0, "cannot read the box: %s",
                    archive_error_string(a));
        archive_read_free(a);
        return -1;
    }
    struct archive_entry *e;
    bool found = false;
    while (!found && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        if (!is_disk_member(name))
            continue;
        found = true;
        int fd = open(dest, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            bw_error_at(err, BW_ERR_IO, dest, NULL, 0, 0, "cannot create: %s", strerror(errno));
            break;
        }
        rc = archive_read_data_into_fd(a, fd) == ARCHIVE_OK ? 0 : -1;
        if (close(fd) != 0 || rc < 0) {
            bw_error_at(err, BW_ERR_IO, box, NULL, 0, 0, "extracting %s failed: %s", name,
                        archive_error_string(a));
            rc = -1;
        }
    }
    if (!found)
        bw_error_at(err, BW_ERR_NOT_FOUND, box, NULL, 0, 0,
                    "no disk in the box: expected box.img (libvirt), a .vmdk (virtualbox, "
                    "vmware_desktop) or a .vhdx (hyperv)");
    archive_read_free(a);
    return rc;
}

char *bw_export_vagrantfile(const char *format_lines, const char *user_lines)
{
    struct bw_buf vf = BW_BUF_INIT;
    bw_buf_adds(&vf, "# Written by boxwright.\nVagrant.configure(\"2\") do |config|\n");
    /* the format's lines, then the definition's own, indented into the configure block */
    const char *parts[] = {format_lines, user_lines};
    for (size_t i = 0; i < 2; i++)
        for (const char *p = parts[i] ? parts[i] : ""; *p;) {
            size_t n = strcspn(p, "\n");
            bw_buf_addf(&vf, "  %.*s\n", (int)n, p);
            p += n + (p[n] == '\n');
        }
    bw_buf_adds(&vf, "end\n");
    return bw_buf_detach(&vf);
}
