/* Whole-file writes and sized reads; see file.h. */
#include "file.h"
#include "xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bw_file_commit(const char *tmp, const char *path, int rc, struct bw_error *err)
{
    if (rc == 0 && rename(tmp, path) < 0) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot rename %s into place: %s", tmp,
                    strerror(errno));
        rc = -1;
    }
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int bw_file_write(const char *path, const void *data, size_t len, mode_t mode, struct bw_error *err)
{
    char *tmp = bw_xasprintf("%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return -1;
    }
    int rc = 0;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, (const char *)data + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write %s: %s", tmp,
                        strerror(w < 0 ? errno : ENOSPC));
            rc = -1;
            break;
        }
        off += (size_t)w;
    }
    if (close(fd) < 0 && rc == 0) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write %s: %s", tmp, strerror(errno));
        rc = -1;
    }
    rc = bw_file_commit(tmp, path, rc, err);
    free(tmp);
    return rc;
}

int bw_file_open_read(const char *path, struct stat *st, struct bw_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, st) < 0) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot read: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return (type == FTW_DP ? rmdir(path) : unlink(path)) < 0 && errno != ENOENT ? -1 : 0;
}

int bw_file_remove_tree(const char *path)
{
    return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

size_t bw_file_read_tail(const char *path, size_t max, struct bw_buf *out)
{
    bw_buf_reset(out);
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (fd < 0)
        return 0;
    struct stat st;
    ssize_t got = 0;
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
        size_t want = (size_t)st.st_size > max ? max : (size_t)st.st_size;
        char *buf = bw_xmalloc(want);
        got = pread(fd, buf, want, st.st_size - (off_t)want);
        if (got > 0)
            bw_buf_add(out, buf, (size_t)got);
        free(buf);
    }
    close(fd);
    return got > 0 ? (size_t)got : 0;
}
