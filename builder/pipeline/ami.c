/*
 * Step ami: the definition's AMI exports, made from the validated disk (box.img) once the box
 * has passed its checks, so a box that fails them is never uploaded. Each export's fields are
 * templates, rendered here; credentials come from where the AWS tools look; the S3 and EC2
 * endpoints from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL_EC2 (or AWS_ENDPOINT_URL), as the AWS
 * tools take them. The images go into the manifest. An upload that fails is kept next to
 * box.img (the VMDK and the upload's state), and the warning says how `boxwright ami` goes on
 * with it. Unproven against real AWS.
 */
#include "steps.h"
#include "../aws/credentials.h"
#include "../aws/http.h"
#include "../base/xmalloc.h"
#include "../core/prepare.h"
#include "../export/ami.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool is_ami(const struct bw_export *e)
{
    return strcmp(e->type, "ami") == 0;
}

bool bw_build_makes_amis(const struct bw_build *b)
{
    if (b->o->exports && !bw_build_export_listed(b->o->exports, "ami"))
        return false;
    for (size_t i = 0; i < b->def->n_exports; i++)
        if (is_ami(&b->def->exports[i]))
            return true;
    return false;
}

static void on_say(const char *kind, const char *msg, void *ud)
{
    (void)kind; /* progress and requests are information here */
    bw_build_say(ud, "info", "%s", msg);
}

/* The export's fields rendered: region, bucket, key, name, description, then the tags. */
enum { F_REGION, F_BUCKET, F_KEY, F_NAME, F_DESCRIPTION, F_N };

static int render(struct bw_build *b, size_t i, const struct bw_export *e, struct bw_buf *f,
                  struct bw_buf *tags, struct bw_error *err)
{
    const char *raw[F_N] = {e->region, e->bucket, e->key, e->name, e->description};
    static const char *const names[F_N] = {"region", "bucket", "key", "name", "description"};
    struct bw_errors errs = BW_ERRORS_INIT;
    for (int k = 0; k < F_N; k++) {
        char jp[64];
        snprintf(jp, sizeof(jp), ".exports[%zu].%s", i, names[k]);
        if (raw[k])
            bw_prepare_string(b->def, jp, raw[k], &f[k], &errs);
    }
    for (size_t t = 0; t < e->tags.n; t++) {
        char jp[64];
        snprintf(jp, sizeof(jp), ".exports[%zu].tags[%zu]", i, t);
        bw_prepare_string(b->def, jp, e->tags.v[t], &tags[t], &errs);
    }
    if (errs.n) {
        bw_error_move(err, &errs.v[0]);
        bw_errors_release(&errs);
        return -1;
    }
    return 0;
}

static int one_ami(struct bw_build *b, size_t i, const struct bw_export *e,
                   const struct bw_aws_keys *keys, const char *disk, struct bw_error *err)
{
    struct bw_buf f[F_N], tags[16];
    for (int k = 0; k < F_N; k++)
        bw_buf_init(&f[k]);
    for (size_t t = 0; t < e->tags.n; t++)
        bw_buf_init(&tags[t]);
    const char *tagv[2 * 16 + 1] = {NULL};
    char *key = NULL;
    int rc = render(b, i, e, f, tags, err);
    for (size_t t = 0; rc == 0 && t < e->tags.n; t++) { /* "KEY=VALUE" once rendered too */
        char *eq = strchr(tags[t].data, '=');
        if (!eq || eq == tags[t].data) {
            bw_error_at(err, BW_ERR_RENDER, b->def->file, NULL, 0, 0,
                        ".exports[%zu].tags[%zu]: renders to no KEY=VALUE", i, t);
            rc = -1;
            break;
        }
        *eq = '\0';
        tagv[2 * t] = tags[t].data;
        tagv[2 * t + 1] = eq + 1;
    }
    if (rc == 0) {
        key =
            e->key ? bw_xstrdup(f[F_KEY].data) : bw_xasprintf("boxwright/%s.vmdk", f[F_NAME].data);
        struct bw_ami_input in = {
            .disk = disk,
            .name = f[F_NAME].data,
            .description = e->description ? f[F_DESCRIPTION].data : NULL,
            .uefi = strcmp(b->def->vm.firmware, "efi") == 0,
            .region = f[F_REGION].data,
            .bucket = f[F_BUCKET].data,
            .key = key,
            .s3_endpoint = bw_aws_endpoint("S3"),
            .ec2_endpoint = bw_aws_endpoint("EC2"),
            .cred = {keys->access_key, keys->secret_key, keys->session_token},
            .tags = e->tags.n ? tagv : NULL,
            .poll_ms = (unsigned)e->poll_interval_ms,
            .say = on_say,
            .ud = b,
        };
        struct bw_ami_result res;
        bw_build_say(b, "info", "%s in %s, from s3://%s/%s", in.name, in.region, in.bucket, key);
        rc = bw_ami_export(&in, &res, err);
        if (rc == 0)
            json_array_append_new(b->amis,
                                  json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "region", in.region,
                                            "name", in.name, "image", res.image, "snapshot",
                                            res.snapshot, "bucket", in.bucket, "key", key));
        char *state = bw_xasprintf("%s.ami-upload.json", disk);
        if (rc < 0 && access(state, F_OK) == 0) /* the output directory stays: so does this */
            bw_build_say(b, "warning",
                         "the upload is kept for a rerun to go on from: boxwright ami %s "
                         "--region %s --bucket %s --key %s --name %s",
                         disk, in.region, in.bucket, key, in.name);
        free(state);
    }
    free(key);
    for (int k = 0; k < F_N; k++)
        bw_buf_release(&f[k]);
    for (size_t t = 0; t < e->tags.n; t++)
        bw_buf_release(&tags[t]);
    return rc;
}

int bw_build_step_ami(struct bw_build *b, struct bw_error *err)
{
    struct bw_aws_keys keys;
    if (bw_aws_find_keys(NULL, &keys, err) < 0)
        return -1;
    bw_build_say(b, "info", "AWS credentials from %s", keys.source);
    bw_aws_set_interrupt(b->o->interrupted);
    if (!b->amis)
        b->amis = json_array();
    char *disk = bw_xasprintf("%s/box.img", b->out);
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < b->def->n_exports; i++)
        if (is_ami(&b->def->exports[i]))
            rc = one_ami(b, i, &b->def->exports[i], &keys, disk, err);
    free(disk);
    bw_aws_set_interrupt(NULL);
    bw_aws_keys_release(&keys);
    return rc;
}
