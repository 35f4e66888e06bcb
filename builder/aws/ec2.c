#include "ec2.h"
#include "http.h"
#include "xml.h"
#include "../base/xmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VERSION "2016-11-15"

int bw_ec2_call(const struct bw_ec2 *c, const char *action, const char *const *params,
                struct bw_buf *answer, struct bw_error *err)
{
    struct bw_buf form = BW_BUF_INIT, host = BW_BUF_INIT, base = BW_BUF_INIT;
    bw_buf_init(&form);
    bw_buf_init(&host);
    bw_buf_init(&base);
    bw_buf_addf(&form, "Action=%s", action);
    for (const char *const *p = params; p && p[0] && p[1]; p += 2) {
        bw_buf_addc(&form, '&');
        bw_sigv4_encode(&form, p[0], strlen(p[0]), 0);
        bw_buf_addc(&form, '=');
        bw_sigv4_encode(&form, p[1], strlen(p[1]), 0);
    }
    bw_buf_adds(&form, "&Version=" VERSION);
    if (c->endpoint) {
        const char *h = strstr(c->endpoint, "://");
        h = h ? h + 3 : c->endpoint;
        bw_buf_add(&host, h, strcspn(h, "/"));
        size_t el = strlen(c->endpoint);
        while (el && c->endpoint[el - 1] == '/')
            el--;
        bw_buf_add(&base, c->endpoint, el);
    } else {
        bw_buf_addf(&host, "ec2.%s.amazonaws.com", c->region);
        bw_buf_addf(&base, "https://%s", host.data);
    }
    struct bw_sigv4_header type = {"Content-Type",
                                   "application/x-www-form-urlencoded; charset=utf-8"};
    struct bw_aws_call call = {.method = "POST",
                               .base = base.data,
                               .host = host.data,
                               .path = "/",
                               .service = "ec2",
                               .region = c->region,
                               .cred = &c->cred,
                               .flavor = BW_SIGV4_AWS,
                               .body = form.data,
                               .len = form.len,
                               .extra = &type,
                               .n_extra = 1,
                               .dry_run = c->dry_run,
                               .show = c->show,
                               .ud = c->ud};
    struct bw_aws_answer r = {0};
    bw_buf_init(&r.body);
    int rc = bw_aws_send(&call, &r, err);
    if (rc == 0 && r.status != 200) {
        char *what = bw_xasprintf("EC2 %s", action);
        bw_aws_error(&r, what, err);
        free(what);
        rc = -1;
    }
    if (rc == 0 && answer) {
        bw_buf_reset(answer);
        bw_buf_add(answer, r.body.data, r.body.len);
    }
    bw_buf_release(&r.body);
    bw_buf_release(&form);
    bw_buf_release(&host);
    bw_buf_release(&base);
    return rc;
}

/* The first <tag>'s text in the answer into out; in a dry run, made up. */
static int take(const struct bw_ec2 *c, const struct bw_buf *a, const char *tag, char *out,
                size_t outlen, const char *action, struct bw_error *err)
{
    if (c->dry_run) {
        snprintf(out, outlen, "%s-dry-run", tag);
        return 0;
    }
    char *v = bw_xml_first(a->data, a->len, tag);
    if (!v || !*v || strlen(v) >= outlen) {
        bw_error_set(err, BW_ERR_NETWORK, "EC2 %s: no <%s> in the answer", action, tag);
        free(v);
        return -1;
    }
    snprintf(out, outlen, "%s", v);
    free(v);
    return 0;
}

int bw_ec2_import_snapshot(const struct bw_ec2 *c, const char *bucket, const char *key,
                           const char *format, const char *description, char task[64],
                           struct bw_error *err)
{
    const char *p[] = {"Description",
                       description,
                       "DiskContainer.Description",
                       description,
                       "DiskContainer.Format",
                       format,
                       "DiskContainer.UserBucket.S3Bucket",
                       bucket,
                       "DiskContainer.UserBucket.S3Key",
                       key,
                       NULL};
    struct bw_buf a = BW_BUF_INIT;
    bw_buf_init(&a);
    int rc = bw_ec2_call(c, "ImportSnapshot", p, &a, err);
    if (rc == 0)
        rc = take(c, &a, "importTaskId", task, 64, "ImportSnapshot", err);
    bw_buf_release(&a);
    return rc;
}

int bw_ec2_import_status(const struct bw_ec2 *c, const char *task, struct bw_ec2_import *st,
                         struct bw_error *err)
{
    memset(st, 0, sizeof(*st));
    st->progress = -1;
    const char *p[] = {"ImportTaskId.1", task, NULL};
    struct bw_buf a = BW_BUF_INIT;
    bw_buf_init(&a);
    int rc = bw_ec2_call(c, "DescribeImportSnapshotTasks", p, &a, err);
    if (rc == 0 && c->dry_run) {
        snprintf(st->status, sizeof(st->status), "completed");
        snprintf(st->snapshot, sizeof(st->snapshot), "snapshotId-dry-run");
    } else if (rc == 0) {
        char *detail = bw_xml_first(a.data, a.len, "snapshotTaskDetail");
        char *status = detail ? bw_xml_first(detail, strlen(detail), "status") : NULL;
        if (!status) {
            bw_error_set(err, BW_ERR_NETWORK,
                         "EC2 DescribeImportSnapshotTasks: no <snapshotTaskDetail><status> for %s",
                         task);
            rc = -1;
        } else {
            snprintf(st->status, sizeof(st->status), "%s", status);
            char *msg = bw_xml_first(detail, strlen(detail), "statusMessage");
            char *progress = bw_xml_first(detail, strlen(detail), "progress");
            char *snap = bw_xml_first(detail, strlen(detail), "snapshotId");
            snprintf(st->message, sizeof(st->message), "%s", msg ? msg : "");
            st->progress = progress ? atoi(progress) : -1;
            snprintf(st->snapshot, sizeof(st->snapshot), "%s", snap ? snap : "");
            free(msg);
            free(progress);
            free(snap);
        }
        free(status);
        free(detail);
    }
    bw_buf_release(&a);
    return rc;
}

int bw_ec2_register_image(const struct bw_ec2 *c, const struct bw_ec2_image *img, char image[64],
                          struct bw_error *err)
{
    char size[16];
    snprintf(size, sizeof(size), "%u", img->volume_gib);
    const char *root = img->root ? img->root : "/dev/xvda";
    const char *p[] = {"Architecture",
                       "x86_64",
                       "BlockDeviceMapping.1.DeviceName",
                       root,
                       "BlockDeviceMapping.1.Ebs.DeleteOnTermination",
                       "true",
                       "BlockDeviceMapping.1.Ebs.SnapshotId",
                       img->snapshot,
                       "BlockDeviceMapping.1.Ebs.VolumeSize",
                       size,
                       "BlockDeviceMapping.1.Ebs.VolumeType",
                       "gp3",
                       "BootMode",
                       img->uefi ? "uefi" : "legacy-bios",
                       "EnaSupport",
                       "true",
                       "Name",
                       img->name,
                       "RootDeviceName",
                       root,
                       "SriovNetSupport",
                       "simple",
                       "VirtualizationType",
                       "hvm",
                       img->description ? "Description" : NULL, /* last: none, no parameter */
                       img->description,
                       NULL};
    struct bw_buf a = BW_BUF_INIT;
    bw_buf_init(&a);
    int rc = bw_ec2_call(c, "RegisterImage", p, &a, err);
    if (rc == 0)
        rc = take(c, &a, "imageId", image, 64, "RegisterImage", err);
    bw_buf_release(&a);
    return rc;
}

int bw_ec2_create_tags(const struct bw_ec2 *c, const char *resource, const char *const *tags,
                       struct bw_error *err)
{
    const char *p[64];
    size_t n = 0;
    p[n++] = "ResourceId.1";
    p[n++] = resource;
    char names[14][32];
    size_t t = 0;
    for (const char *const *k = tags; k && k[0] && k[1] && t < 7; k += 2, t++) {
        snprintf(names[2 * t], sizeof(names[0]), "Tag.%zu.Key", t + 1);
        snprintf(names[2 * t + 1], sizeof(names[0]), "Tag.%zu.Value", t + 1);
        p[n++] = names[2 * t];
        p[n++] = k[0];
        p[n++] = names[2 * t + 1];
        p[n++] = k[1];
    }
    p[n] = NULL;
    return bw_ec2_call(c, "CreateTags", p, NULL, err);
}
