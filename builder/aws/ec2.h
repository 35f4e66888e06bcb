/*
 * ec2 - the EC2 Query API calls of an AMI export (Version 2016-11-15):
 * ImportSnapshot of the disk uploaded to S3, DescribeImportSnapshotTasks
 * until the snapshot is there, RegisterImage from it, CreateTags. Each is a
 * POST of a form to ec2.REGION.amazonaws.com (or an endpoint given),
 * signed by sigv4.c; EC2's errors (<Errors><Error><Code>, <Message>) become
 * the error's text. With dry_run nothing is sent: each request is shown,
 * its signature masked, and the answers are made up ("dry-run" ids).
 */
#ifndef BW_EC2_H
#define BW_EC2_H

#include "sigv4.h"
#include "../base/buf.h"
#include "../base/error.h"

#include <stdbool.h>
#include <stdint.h>

struct bw_ec2 {
    const char *region;
    const char *endpoint; /* NULL: https://ec2.REGION.amazonaws.com */
    struct bw_sigv4_credentials cred;
    bool dry_run;
    void (*show)(const char *request, void *ud); /* dry_run: each request as it would go */
    void *ud;
};

/* One call: action and its parameters (name, value, ..., NULL; values as they are, encoded
 * here). The answer's XML goes to answer on a 200. */
int bw_ec2_call(const struct bw_ec2 *c, const char *action, const char *const *params,
                struct bw_buf *answer, struct bw_error *err);

/* ImportSnapshot of s3://bucket/key in format ("RAW", "VMDK", "VHD"): the import task id. */
int bw_ec2_import_snapshot(const struct bw_ec2 *c, const char *bucket, const char *key,
                           const char *format, const char *description, char task[64],
                           struct bw_error *err);

struct bw_ec2_import {
    char status[32]; /* active, completed, deleting, deleted */
    char message[256];
    int progress;      /* percent, -1 when EC2 gives none */
    char snapshot[64]; /* once completed */
};

/* Where the import task is (DescribeImportSnapshotTasks). */
int bw_ec2_import_status(const struct bw_ec2 *c, const char *task, struct bw_ec2_import *st,
                         struct bw_error *err);

struct bw_ec2_image {
    const char *name, *description;
    const char *snapshot;
    bool uefi;           /* BootMode uefi, else legacy-bios */
    const char *root;    /* RootDeviceName: "/dev/xvda" */
    unsigned volume_gib; /* the root volume's size */
};

/* RegisterImage: x86_64 (always said: EC2's default is i386), HVM, ENA and SR-IOV, gp3. */
int bw_ec2_register_image(const struct bw_ec2 *c, const struct bw_ec2_image *img, char image[64],
                          struct bw_error *err);

/* CreateTags on resource: tags are key, value, ..., NULL. */
int bw_ec2_create_tags(const struct bw_ec2 *c, const char *resource, const char *const *tags,
                       struct bw_error *err);

#endif
