/*
 * file - the file idioms every writer and reader here repeats: a file
 * written to a temporary name and put in place whole or not at all, and a
 * file opened for reading together with its size, the end of a log that is
 * still growing, and a work directory removed with all it holds.
 */
#ifndef BW_FILE_H
#define BW_FILE_H

#include "buf.h"
#include "error.h"

#include <sys/stat.h>

/*
 * Ends a write to tmp. When rc is 0, renames tmp over path (a failure sets
 * err, naming path, and makes the result -1); otherwise, or when the rename
 * failed, removes tmp. Returns rc, or -1 when the rename failed.
 */
int bw_file_commit(const char *tmp, const char *path, int rc, struct bw_error *err);

/*
 * Writes len bytes of data as the whole of path, created with mode (0600 for anything that
 * may hold a secret), through path.tmp put in place by bw_file_commit(). Returns 0, or -1
 * with err naming path.
 */
int bw_file_write(const char *path, const void *data, size_t len, mode_t mode,
                  struct bw_error *err);

/* Opens path read-only (close-on-exec) and fills *st. Returns the descriptor, or -1 with err
 * naming path ("cannot read: ..."). */
int bw_file_open_read(const char *path, struct stat *st, struct bw_error *err);

/* The last max bytes of path (all of it when shorter) into out, which it resets; a file that
 * grows meanwhile gives what it held when looked at. Returns the bytes read, 0 when path is
 * NULL, missing or empty. */
size_t bw_file_read_tail(const char *path, size_t max, struct bw_buf *out);

/* Removes path and everything under it, without following symbolic links. Returns 0, or -1
 * (errno set) at the first entry that could not be removed. */
int bw_file_remove_tree(const char *path);

#endif
