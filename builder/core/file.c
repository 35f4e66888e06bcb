/* Whole-file writes and sized reads; see file.h. */
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
