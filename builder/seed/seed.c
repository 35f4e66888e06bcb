/* Seed volumes and ISO extraction through libarchive; see seed.h. */
#include "seed.h"
#include "../base/file.h"
#include "../base/xmalloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int bw_seed_volume_write(const char *path, const char *label, const struct bw_rendered *files,
                         struct bw_error *err)
{
    char *tmp = bw_xasprintf("%s.part", path);
    char *opts = bw_xasprintf("volume-id=%s,rockridge=useful,joliet,pad", label);
    struct archive *a = archive_write_new();
    int rc = -1;
    /* The seed holds the user's password (hash) and keys: not for other users' eyes. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write the seed volume %s: %s", tmp,
                    strerror(errno));
        goto out;
    }
    if (archive_write_set_format_iso9660(a) != ARCHIVE_OK ||
        archive_write_set_options(a, opts) != ARCHIVE_OK ||
        archive_write_open_fd(a, fd) != ARCHIVE_OK) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write the seed volume: %s",
                    archive_error_string(a));
        goto out;
    }
    time_t now = time(NULL);
    for (size_t i = 0; i < files->n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, files->v[i].name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0444);
        archive_entry_set_size(e, (la_int64_t)files->v[i].data.len);
        archive_entry_set_mtime(e, now, 0);
        bool ok = archive_write_header(a, e) == ARCHIVE_OK &&
                  (files->v[i].data.len == 0 ||
                   archive_write_data(a, files->v[i].data.data, files->v[i].data.len) ==
                       (la_ssize_t)files->v[i].data.len);
        archive_entry_free(e);
        if (!ok) {
            bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0,
                        "cannot write %s into the seed volume: %s", files->v[i].name,
                        archive_error_string(a));
            goto out;
        }
    }
    if (archive_write_close(a) != ARCHIVE_OK) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot finish the seed volume: %s",
                    archive_error_string(a));
        goto out;
    }
    rc = 0;
out:
    archive_write_free(a);
    if (fd >= 0 && close(fd) != 0 && rc == 0) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write: %s", strerror(errno));
        rc = -1;
    }
    rc = bw_file_commit(tmp, path, rc, err);
    free(tmp);
    free(opts);
    return rc;
}

/* "/install/vmlinuz", "./install/vmlinuz" and "install/vmlinuz" name the same file. */
static const char *bare(const char *p)
{
    while (*p == '/' || (p[0] == '.' && p[1] == '/'))
        p += *p == '/' ? 1 : 2;
    return p;
}

static int copy_out(struct archive *a, const char *iso, const char *inside, const char *out,
                    struct bw_error *err)
{
    char *tmp = bw_xasprintf("%s.part", out);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        bw_error_at(err, BW_ERR_IO, tmp, NULL, 0, 0, "cannot create: %s", strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = 0;
    const void *buf;
    size_t len;
    la_int64_t off;
    int r;
    while ((r = archive_read_data_block(a, &buf, &len, &off)) == ARCHIVE_OK) {
        if (pwrite(fd, buf, len, (off_t)off) != (ssize_t)len) {
            bw_error_at(err, BW_ERR_IO, tmp, NULL, 0, 0, "cannot write: %s", strerror(errno));
            rc = -1;
            break;
        }
    }
    if (rc == 0 && r != ARCHIVE_EOF) {
        bw_error_at(err, BW_ERR_IO, iso, NULL, 0, 0, "cannot read %s from the ISO: %s", inside,
                    archive_error_string(a));
        rc = -1;
    }
    if (close(fd) < 0 && rc == 0) {
        bw_error_at(err, BW_ERR_IO, tmp, NULL, 0, 0, "cannot write: %s", strerror(errno));
        rc = -1;
    }
    rc = bw_file_commit(tmp, out, rc, err);
    free(tmp);
    return rc;
}

int bw_iso_extract(const char *iso, const char *const *inside, const char *const *out, size_t n,
                   struct bw_error *err)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_iso9660(a);
    bool *found = bw_xcalloc(n ? n : 1, sizeof(bool));
    int rc = 0;
    if (archive_read_open_filename(a, iso, 65536) != ARCHIVE_OK) {
        bw_error_at(err, BW_ERR_IO, iso, NULL, 0, 0, "cannot read the ISO: %s",
                    archive_error_string(a));
        rc = -1;
    }
    struct archive_entry *e;
    size_t left = n;
    while (rc == 0 && left && archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *name = bare(archive_entry_pathname(e));
        for (size_t i = 0; i < n; i++) {
            if (found[i] || strcmp(name, bare(inside[i])) != 0)
                continue;
            found[i] = true;
            left--;
            if (archive_entry_filetype(e) != AE_IFREG) {
                bw_error_at(err, BW_ERR_SCHEMA, iso, NULL, 0, 0, "%s in the ISO is not a file",
                            inside[i]);
                rc = -1;
            } else {
                rc = copy_out(a, iso, inside[i], out[i], err);
            }
            break; /* an entry's data can be read once */
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!found[i]) {
            bw_error_at(err, BW_ERR_NOT_FOUND, iso, NULL, 0, 0,
                        "no file %s in the ISO (expected the path of a file on it, as "
                        "`xorriso -indev ISO -ls` or `bsdtar tf ISO` lists them)",
                        inside[i]);
            rc = -1;
        }
    free(found);
    archive_read_free(a);
    return rc;
}
