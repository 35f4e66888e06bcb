#include "ami.h"
#include "../aws/ec2.h"
#include "../aws/http.h"
#include "../aws/s3.h"
#include "../base/xmalloc.h"
#include "../disk/disk.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void say(const struct bw_ami_input *in, const char *kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void say(const struct bw_ami_input *in, const char *kind, const char *fmt, ...)
{
    if (!in->say)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    in->say(kind, msg, in->ud);
}

static void show(const char *request, void *ud)
{
    say(ud, "request", "%s", request);
}

static void on_part(const struct bw_s3_progress *p, void *ud)
{
    say(ud, "progress", "uploaded %llu of %llu MiB (part %u of %u%s)",
        (unsigned long long)(p->sent >> 20), (unsigned long long)(p->total >> 20), p->part,
        p->parts, p->kept ? ", already there" : "");
}

/* The VMDK to upload: made once per disk (a rerun finds it, newer than the disk, and the
 * upload's state then still matches it). */
static int vmdk_of(const struct bw_ami_input *in, const char *vmdk, struct bw_error *err)
{
    struct stat d, v;
    if (stat(in->disk, &d) < 0) {
        bw_error_at(err, BW_ERR_NOT_FOUND, in->disk, NULL, 0, 0, "no such disk");
        return -1;
    }
    if (stat(vmdk, &v) == 0 && v.st_mtime >= d.st_mtime) {
        say(in, "info", "%s: made before, kept for the upload to go on", vmdk);
        return 0;
    }
    say(in, "info", "converting %s to a streamOptimized VMDK", in->disk);
    if (bw_disk_convert(in->disk, vmdk, "vmdk", "subformat=streamOptimized", err) < 0 ||
        bw_disk_set_vmdk_cid(vmdk, (uint32_t)d.st_size ^ (uint32_t)d.st_mtime, err) < 0) {
        unlink(vmdk);
        return -1;
    }
    return 0;
}

int bw_ami_export(const struct bw_ami_input *in, struct bw_ami_result *out, struct bw_error *err)
{
    memset(out, 0, sizeof(*out));
    uint64_t size;
    char format[16];
    if (bw_disk_info(in->disk, &size, format, err) < 0)
        return -1;
    unsigned gib = (unsigned)((size + (1ULL << 30) - 1) >> 30);
    char *vmdk = bw_xasprintf("%s.ami.vmdk", in->disk);
    char *state = bw_xasprintf("%s.ami-upload.json", in->disk);
    struct bw_aws_target t = {in->region, in->bucket, in->key, in->s3_endpoint, in->cred};
    int rc = 0;
    if (in->dry_run) {
        say(in, "info", "dry run: would convert %s to a VMDK and upload it to s3://%s/%s", in->disk,
            in->bucket, in->key);
    } else {
        rc = vmdk_of(in, vmdk, err);
        struct bw_s3_options o = {0, 0, state, on_part, (void *)in};
        struct bw_s3_result up;
        if (rc == 0)
            say(in, "info", "uploading %s to s3://%s/%s", vmdk, in->bucket, in->key);
        if (rc == 0 && (rc = bw_s3_upload(&t, vmdk, &o, &up, err)) == 0) {
            struct stat st;
            out->uploaded = stat(vmdk, &st) == 0 ? (uint64_t)st.st_size : 0;
            out->parts = up.parts;
            out->kept = up.kept;
            unlink(vmdk); /* in S3 now, whole */
        }
    }
    struct bw_ec2 ec2 = {in->region, in->ec2_endpoint, in->cred, in->dry_run, show, (void *)in};
    char task[64];
    if (rc == 0)
        rc = bw_ec2_import_snapshot(&ec2, in->bucket, in->key, "VMDK",
                                    in->description ? in->description : in->name, task, err);
    if (rc == 0)
        say(in, "info", "importing the snapshot: %s", task);
    struct bw_ec2_import st = {0};
    for (int last = -2; rc == 0;) {
        if ((rc = bw_ec2_import_status(&ec2, task, &st, err)) < 0)
            break;
        if (strcmp(st.status, "completed") == 0)
            break;
        if (strcmp(st.status, "active") != 0) {
            bw_error_set(err, BW_ERR_NETWORK, "the snapshot import %s is %s: %s", task, st.status,
                         st.message[0] ? st.message : "EC2 gives no reason");
            rc = -1;
            break;
        }
        if (st.progress != last)
            say(in, "progress", "snapshot import %s: %s%s%d%%", task, st.message,
                st.message[0] ? ", " : "", st.progress < 0 ? 0 : st.progress);
        last = st.progress;
        unsigned ms = in->poll_ms ? in->poll_ms : 15000;
        for (unsigned slept = 0; slept < ms && !bw_aws_interrupted(); slept += 100)
            nanosleep(&(struct timespec){0, 100 * 1000000L}, NULL);
        if (bw_aws_interrupted()) {
            bw_error_set(err, BW_ERR_INTERRUPTED,
                         "interrupted: the snapshot import %s goes on in EC2 (aws ec2 "
                         "cancel-import-task --import-task-id %s stops it)",
                         task, task);
            rc = -1;
        }
    }
    if (rc == 0) {
        snprintf(out->snapshot, sizeof(out->snapshot), "%s", st.snapshot);
        say(in, "info", "snapshot %s", st.snapshot);
        struct bw_ec2_image img = {in->name, in->description, st.snapshot,
                                   in->uefi, "/dev/xvda",     gib};
        rc = bw_ec2_register_image(&ec2, &img, out->image, err);
    }
    if (rc == 0 && in->tags && in->tags[0])
        rc = bw_ec2_create_tags(&ec2, out->image, in->tags, err);
    if (rc == 0)
        say(in, "info", "image %s in %s", out->image, in->region);
    free(vmdk);
    free(state);
    return rc;
}
