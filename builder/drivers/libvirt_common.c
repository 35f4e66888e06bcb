/* What the files of the libvirt driver share: notes to the user, libvirt's errors taken
 * into ours (and kept off stderr), the clock; see libvirt_int.h. */
#include "libvirt_int.h"
#include "../base/buf.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

void bw_lv_note(struct bw_vm *vm, const char *fmt, ...)
{
    if (!vm->note)
        return;
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    bw_buf_vaddf(&b, fmt, ap);
    va_end(ap);
    vm->note(b.data, vm->note_ud);
    bw_buf_release(&b);
}

double bw_lv_now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void bw_lv_quiet(void *ud, virErrorPtr e)
{
    (void)ud;
    (void)e;
}

int bw_lv_fail(struct bw_error *err, const char *call, const char *what)
{
    const char *m = virGetLastErrorMessage();
    bw_error_set(err, BW_ERR_SPAWN, "libvirt: %s failed%s%s: %s", call, what ? " for " : "",
                 what ? what : "", m ? m : "unknown error");
    return -1;
}
