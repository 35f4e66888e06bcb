/* Watching a guest for progress; see watch.h. */
#include "watch.h"
#include "../base/xmalloc.h"
#include "../../http-server/http_server.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static off_t size_of(const char *path)
{
    struct stat st;
    return path && stat(path, &st) == 0 ? st.st_size : 0;
}

void bw_watch_start(struct bw_watch *w, const struct bw_driver *drv, struct bw_vm *vm,
                    const char *workdir, const char *disk, const struct bw_http_server *http,
                    uint64_t stall_ms)
{
    memset(w, 0, sizeof(*w));
    w->drv = drv;
    w->vm = vm;
    w->disk = disk;
    w->http = http;
    w->stall_ms = stall_ms;
    w->shot_base = bw_xasprintf("%s/watch", workdir);
    w->moved = now_s();
    w->requests = bw_http_requests(http);
    w->disk_size = size_of(disk);
}

int bw_watch_poll(struct bw_watch *w, struct bw_error *err)
{
    bool moved = false;
    if (w->drv->screenshot) {
        if (!w->last)
            w->last = bw_xcalloc(1, sizeof(*w->last));
        struct bw_error e = BW_ERROR_INIT;
        /* A guest that is on its way out may not answer: that is not news. */
        if (bw_screen_probe(w->drv, w->vm, w->shot_base, w->last, &e) == 0) {
            moved = !w->looked || w->last->hash != w->screen_hash;
            w->screen_hash = w->last->hash;
            w->looked = true;
        }
        bw_error_release(&e);
    }
    const char *serial = w->drv->serial_log ? w->drv->serial_log(w->vm) : NULL;
    off_t s = size_of(serial), d = size_of(w->disk);
    unsigned r = bw_http_requests(w->http);
    moved = moved || s != w->serial_size || d > w->disk_size || r != w->requests;
    w->serial_size = s;
    w->disk_size = d > w->disk_size ? d : w->disk_size;
    w->requests = r;
    double now = now_s();
    if (moved)
        w->moved = now;
    if (!w->stall_ms || (now - w->moved) * 1000.0 < (double)w->stall_ms)
        return 0;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bw_buf_addf(&b,
                "nothing has moved for %.0f s (no change on the screen%s, no request to the HTTP "
                "server%s): the guest is waiting for something (boot.stall_timeout)",
                now - w->moved, serial ? " or the serial console" : "",
                w->disk ? ", the disk not growing" : "");
    if (bw_watch_last_screen(w, &b, "  | ")) {
        bw_buf_rtrim(&b);
    }
    bw_error_set(err, BW_ERR_SPAWN, "%s", b.data);
    bw_buf_release(&b);
    return -1;
}

bool bw_watch_last_screen(const struct bw_watch *w, struct bw_buf *out, const char *indent)
{
    if (!w->looked)
        return false;
    if (out->len && out->data[out->len - 1] != '\n')
        bw_buf_adds(out, "; the screen shows:\n");
    bw_screen_format(w->last, out, indent, 12);
    return true;
}

void bw_watch_stop(struct bw_watch *w)
{
    free(w->shot_base);
    free(w->last);
    memset(w, 0, sizeof(*w));
}
