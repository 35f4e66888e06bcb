/* What every step of a build uses: events (secrets masked), interruption, rendering, VM
 * names; see steps.h. */
#include "steps.h"
#include "../core/prepare.h"
#include "../base/xmalloc.h"

#include <string.h>

bool bw_build_from_image(const struct bw_build *b)
{
    return b->def->image.urls.n > 0;
}

void bw_build_emit(struct bw_build *b, const char *kind, const char *msg,
                   const struct bw_build_request *req)
{
    char *masked = bw_vars_mask(&b->def->vars, msg);
    struct bw_build_event ev = {b->step, kind, masked, req};
    b->o->on_event(&ev, b->o->ud);
    free(masked);
}

void bw_build_say(struct bw_build *b, const char *kind, const char *fmt, ...)
{
    if (!b->o->on_event)
        return;
    struct bw_buf m = BW_BUF_INIT;
    bw_buf_init(&m);
    va_list ap;
    va_start(ap, fmt);
    bw_buf_vaddf(&m, fmt, ap);
    va_end(ap);
    bw_build_emit(b, kind, m.data, NULL);
    bw_buf_release(&m);
}

bool bw_build_interrupted(const struct bw_build *b)
{
    return b->o->interrupted && *b->o->interrupted;
}

int bw_build_check_interrupt(struct bw_build *b, struct bw_error *err)
{
    if (!bw_build_interrupted(b))
        return 0;
    bw_error_set(err, BW_ERR_INTERRUPTED, "interrupted during %s", b->step);
    return -1;
}

/* Sleeps ms, waking early on interruption. */
int bw_build_pause_ms(struct bw_build *b, uint64_t ms, struct bw_error *err)
{
    for (uint64_t slept = 0; slept < ms; slept += 100) {
        if (bw_build_check_interrupt(b, err) < 0)
            return -1;
        struct timespec t = {0, 100 * 1000000L};
        nanosleep(&t, NULL);
    }
    return bw_build_check_interrupt(b, err);
}

char *bw_build_render(struct bw_build *b, const char *jpath, const char *raw, struct bw_error *err)
{
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_buf out = BW_BUF_INIT;
    if (bw_prepare_string(b->def, jpath, raw, &out, &errs) < 0) {
        bw_error_move(err, &errs.v[0]);
        bw_errors_release(&errs);
        bw_buf_release(&out);
        return NULL;
    }
    return bw_buf_detach(&out);
}

char *bw_vm_name(const char *build, const char *role)
{
    unsigned char r[4] = {0};
    FILE *f = fopen("/dev/urandom", "rb");
    if (f) {
        if (fread(r, 1, sizeof(r), f) != sizeof(r))
            memset(r, 0, sizeof(r));
        fclose(f);
    }
    return bw_xasprintf("boxwright-%s-%ld-%02x%02x%02x%02x-%s", build, (long)getpid(), r[0], r[1],
                        r[2], r[3], role);
}
