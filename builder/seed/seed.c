/* Seed volumes through libarchive; see seed.h. */
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

/* The last line of console holding needle, as a new string of at most 200 bytes, or NULL. */
static char *last_line_with(const char *console, size_t len, const char *needle)
{
    const char *found = NULL;
    size_t nl = strlen(needle);
    for (size_t i = 0; i + nl <= len; i++)
        if (memcmp(console + i, needle, nl) == 0)
            found = console + i;
    if (!found)
        return NULL;
    const char *end = found;
    while (end < console + len && *end != '\n' && *end != '\r' && end - found < 200)
        end++;
    char *line = bw_xstrndup(found, (size_t)(end - found));
    for (char *c = line; *c; c++) /* a console line may hold anything */
        if ((unsigned char)*c < 0x20 || (unsigned char)*c == 0x7f)
            *c = ' ';
    return line;
}

char *bw_seed_diagnose(const char *console, size_t len, int user_data_fetches)
{
    bool empty = true;
    for (size_t i = 0; i < len && empty; i++)
        empty = console[i] == '\0' || console[i] == '\n' || console[i] == '\r' || console[i] == ' ';
    if (empty)
        return bw_xstrdup("the guest's serial console stayed empty: it did not boot, or its "
                          "console is not on the first serial port (console=ttyS0)");
    char *last = last_line_with(console, len, "Cloud-init v."); /* "running ...", "finished" */
    if (!last) {
        if (user_data_fetches == 0)
            return bw_xstrdup("cloud-init never ran: no \"Cloud-init v.\" line on the serial "
                              "console, and the guest never fetched user-data (is cloud-init "
                              "installed and enabled, with NoCloud in its datasource_list?)");
        if (user_data_fetches > 0)
            return bw_xasprintf("the guest fetched user-data %d time%s, but no \"Cloud-init v.\" "
                                "line is on the serial console (its output goes elsewhere?)",
                                user_data_fetches, user_data_fetches == 1 ? "" : "s");
        return bw_xstrdup("cloud-init never ran: no \"Cloud-init v.\" line on the serial "
                          "console (ds-identify found no datasource? the guest's kernel must "
                          "see the volume labelled cidata: a driver for its bus)");
    }
    char *msg;
    if (strstr(last, " finished at ") && strstr(last, "DataSourceNone"))
        msg = bw_xasprintf("cloud-init ran but found no seed: \"%s\"", last);
    else if (strstr(last, " finished at "))
        msg = bw_xasprintf("cloud-init ran to its end (\"%s\"), so SSH is what failed: the "
                           "user, password or key the seed gives, or sshd",
                           last);
    else
        msg = bw_xasprintf("cloud-init started but never finished; its last word: \"%s\"", last);
    free(last);
    return msg;
}
