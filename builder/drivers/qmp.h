/*
 * qmp - a small client for the QEMU Machine Protocol (JSON lines over a unix
 * socket): connect and negotiate capabilities, run a command and return its
 * answer, and remember the asynchronous events that arrive in between.
 */
#ifndef BW_QMP_H
#define BW_QMP_H

#include "../base/error.h"

#include <jansson.h>
#include <stdbool.h>

struct bw_qmp;

/* Connects to path, retrying until timeout_ms (QEMU creates it while starting). */
struct bw_qmp *bw_qmp_connect(const char *path, unsigned timeout_ms, struct bw_error *err);
/*
 * Runs `command` with `args` (stolen; may be NULL). On success returns 0 and
 * the "return" value in *ret if ret is not NULL (caller decrefs). A QMP error
 * is BW_ERR_SPAWN quoting QEMU's class and description.
 */
int bw_qmp_execute(struct bw_qmp *q, const char *command, json_t *args, json_t **ret,
                   struct bw_error *err);
/* Whether a SHUTDOWN event has been seen. */
bool bw_qmp_saw_shutdown(const struct bw_qmp *q);
void bw_qmp_close(struct bw_qmp *q);

#endif
