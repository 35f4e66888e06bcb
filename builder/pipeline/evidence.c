/* What a failed build leaves for the user: the screen, the serial console, the
 * hypervisor's own words. */
#include "steps.h"
#include "../base/file.h"
#include "../base/xmalloc.h"

#include <string.h>

/* Keeps the last 16 KiB of a log the work directory would take with it; false if there is
 * none (or, with skip_empty, nothing in it). */
static bool keep_log_tail(const char *from, const char *to, bool skip_empty)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    bool ok = from && bw_buf_read_file(&b, from) == 0 && (b.len || !skip_empty);
    if (ok) {
        size_t start = b.len > 16384 ? b.len - 16384 : 0;
        struct bw_error ignored = BW_ERROR_INIT;
        ok = bw_file_write(to, b.data + start, b.len - start, 0600, &ignored) == 0; /* secrets? */
        bw_error_release(&ignored);
    }
    bw_buf_release(&b);
    return ok;
}

/* The screen's text for a failure report: the running VM's screen now, or the last one the
 * install watch saw (an installer that powered off). Written to path; appended to `text`. */
static bool keep_screen_text(struct bw_build *b, const char *path, struct bw_buf *text)
{
    struct bw_buf rows = BW_BUF_INIT;
    bw_buf_init(&rows);
    bool have = false;
    if (b->vm && b->drv->read_memory) {
        struct bw_screen *s = bw_xcalloc(1, sizeof(*s));
        char *base = bw_xasprintf("%s/failure-probe", b->work);
        struct bw_error ignored = BW_ERROR_INIT;
        if (bw_screen_probe(b->drv, b->vm, base, s, &ignored) == 0 && s->text) {
            bw_screen_format(s, &rows, "  | ", 25);
            have = true;
        }
        if (s->shot[0])
            unlink(s->shot);
        bw_error_release(&ignored);
        free(base);
        free(s);
    }
    if (!have && b->watch.looked && b->watch.last->text) {
        bw_buf_adds(&rows, "  (the last screen seen before the guest stopped)\n");
        bw_screen_format(b->watch.last, &rows, "  | ", 25);
        have = true;
    }
    if (have) {
        struct bw_error ignored = BW_ERROR_INIT;
        bw_file_write(path, rows.data, rows.len, 0600, &ignored); /* secrets? */
        bw_error_release(&ignored);
        bw_buf_rtrim(&rows);
        bw_buf_adds(text, rows.data);
    }
    bw_buf_release(&rows);
    return have;
}

/* What a failure leaves for the user: the screen (as a picture and, where it is text, as
 * text), the end of the serial console and what the hypervisor itself printed (QEMU's reason
 * when it would not start). */
void bw_build_save_failure_evidence(struct bw_build *b, struct bw_error *err)
{
    char *base = bw_xasprintf("%s/failure-screen", b->out);
    char *txt = bw_xasprintf("%s/failure-screen.txt", b->out);
    char *serial = bw_xasprintf("%s/failure-serial.log", b->out);
    char *hv = bw_xasprintf("%s/failure-%s.log", b->out, b->drv->name);
    struct bw_error ignored = BW_ERROR_INIT;
    char *png =
        b->vm && b->drv->screenshot ? b->drv->screenshot(b->vm, base, false, &ignored) : NULL;
    struct bw_buf where = BW_BUF_INIT, screen = BW_BUF_INIT;
    bw_buf_init(&where);
    bw_buf_init(&screen);
    if (png) {
        chmod(png, 0600); /* the hypervisor wrote it; the screen may show what was typed */
        bw_buf_addf(&where, "screen: %s", png);
    }
    if (!strstr(err->msg, "the screen shows:") && keep_screen_text(b, txt, &screen))
        bw_buf_addf(&where, "%sscreen text: %s", where.len ? "; " : "", txt);
    const char *serial_log = b->vm && b->drv->serial_log ? b->drv->serial_log(b->vm) : NULL;
    if (keep_log_tail(serial_log, serial, false))
        bw_buf_addf(&where, "%sserial console: %s", where.len ? "; " : "", serial);
    const char *hv_log = b->vm && b->drv->hypervisor_log ? b->drv->hypervisor_log(b->vm) : NULL;
    if (keep_log_tail(hv_log, hv, true))
        bw_buf_addf(&where, "%s%s log: %s", where.len ? "; " : "", b->drv->name, hv);
    if (where.len || screen.len) { /* after the reason: what failed first, then where to look */
        char *m = bw_xasprintf("%s%s%s%s%s%s", err->msg, where.len ? " (kept: " : "", where.data,
                               where.len ? ")" : "", screen.len ? "; the screen shows:\n" : "",
                               screen.data);
        free(err->msg);
        err->msg = m;
    }
    bw_buf_release(&where);
    bw_buf_release(&screen);
    bw_error_release(&ignored);
    free(base);
    free(png);
    free(txt);
    free(serial);
    free(hv);
}
