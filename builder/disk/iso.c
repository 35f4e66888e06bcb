#include "iso.h"
#include "../base/file.h"
#include "../base/xmalloc.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

int bw_iso_pvd_volume_id(const unsigned char *sector, size_t len, char out[33])
{
    out[0] = '\0';
    if (len < 72 || sector[0] != 1 || memcmp(sector + 1, "CD001", 5) != 0 || sector[6] != 1)
        return -1;
    size_t n = 32;
    while (n > 0 && (sector[40 + n - 1] == ' ' || sector[40 + n - 1] == '\0'))
        n--;
    for (size_t i = 0; i < n; i++)
        if (sector[40 + i] < 0x20 || sector[40 + i] > 0x7e)
            return -1;
    memcpy(out, sector + 40, n);
    out[n] = '\0';
    return 0;
}

int bw_iso_volume_id(const char *path, char out[33], struct bw_error *err)
{
    struct stat st;
    int fd = bw_file_open_read(path, &st, err);
    if (fd < 0)
        return -1;
    unsigned char sector[2048];
    ssize_t got = S_ISREG(st.st_mode) ? pread(fd, sector, sizeof(sector), 16 * 2048) : -1;
    close(fd);
    if (got != (ssize_t)sizeof(sector) || bw_iso_pvd_volume_id(sector, sizeof(sector), out) < 0) {
        bw_error_at(err, BW_ERR_SYNTAX, path, NULL, 0, 0,
                    "not an ISO 9660 image: expected a Primary Volume Descriptor (\"CD001\") "
                    "at byte 32768");
        return -1;
    }
    return 0;
}
