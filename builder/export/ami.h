/*
 * ami - an installed disk made into an Amazon Machine Image: the disk as a
 * streamOptimized VMDK (only the clusters in use), uploaded to S3 in parts
 * (builder/aws/s3.c, resumable), imported as an EBS snapshot
 * (ImportSnapshot, its progress polled and told), registered as an image
 * (RegisterImage) and tagged. A rerun after a failed upload goes on where it
 * stopped: the VMDK and the upload's state are kept next to the disk
 * (DISK.ami.vmdk, DISK.ami-upload.json) until the upload is complete, and the
 * VMDK's content id is fixed so that it converts to the same bytes.
 * Unproven against real AWS: tested against S3- and EC2-protocol stand-ins.
 */
#ifndef BW_AMI_H
#define BW_AMI_H

#include "../aws/sigv4.h"
#include "../base/error.h"

#include <stdbool.h>
#include <stdint.h>

struct bw_ami_input {
    const char *disk;        /* the installed disk (qcow2, raw, VMDK) */
    const char *name;        /* the AMI's name */
    const char *description; /* or NULL */
    bool uefi;               /* boot mode uefi, else legacy-bios */
    const char *region;
    const char *bucket, *key; /* where the VMDK goes in S3 */
    const char *s3_endpoint;  /* NULL for AWS's */
    const char *ec2_endpoint; /* NULL for AWS's */
    struct bw_sigv4_credentials cred;
    const char *const *tags; /* key, value, ..., NULL; or NULL */
    bool dry_run;            /* convert nothing, send nothing: show what would be sent */
    unsigned poll_ms;        /* between looks at the import; 0: 15 s */
    void (*say)(const char *kind, const char *msg, void *ud); /* "info", "progress", "request" */
    void *ud;
};

struct bw_ami_result {
    char snapshot[64], image[64];
    uint64_t uploaded; /* bytes of the VMDK */
    unsigned parts, kept;
};

int bw_ami_export(const struct bw_ami_input *in, struct bw_ami_result *out, struct bw_error *err);

#endif
