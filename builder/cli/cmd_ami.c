/* boxwright ami: a disk made into an Amazon Machine Image (S3 upload, snapshot import, image). */
#include "cli.h"
#include "../aws/credentials.h"
#include "../aws/http.h"
#include "../base/xmalloc.h"
#include "../export/ami.h"

#include <getopt.h>
#include <jansson.h>
#include <libgen.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_say(const char *kind, const char *msg, void *ud)
{
    (void)ud;
    fprintf(stderr, "%s: %s\n", kind, msg);
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"region", required_argument, NULL, 'r'},
                                         {"bucket", required_argument, NULL, 'b'},
                                         {"key", required_argument, NULL, 'k'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"description", required_argument, NULL, 'd'},
                                         {"uefi", no_argument, NULL, 'u'},
                                         {"tag", required_argument, NULL, 't'},
                                         {"profile", required_argument, NULL, 'p'},
                                         {"s3-endpoint", required_argument, NULL, 'S'},
                                         {"ec2-endpoint", required_argument, NULL, 'E'},
                                         {"poll-interval", required_argument, NULL, 'i'},
                                         {"dry-run", no_argument, NULL, 'D'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct bw_ami_input in = {0};
    const char *profile = NULL, *tags[2 * 16 + 1] = {NULL};
    size_t nt = 0;
    bool json = false;
    long poll = 15;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        switch (c) {
        case 'r':
            in.region = optarg;
            break;
        case 'b':
            in.bucket = optarg;
            break;
        case 'k':
            in.key = optarg;
            break;
        case 'n':
            in.name = optarg;
            break;
        case 'd':
            in.description = optarg;
            break;
        case 'u':
            in.uefi = true;
            break;
        case 'p':
            profile = optarg;
            break;
        case 'S':
            in.s3_endpoint = optarg;
            break;
        case 'E':
            in.ec2_endpoint = optarg;
            break;
        case 'D':
            in.dry_run = true;
            break;
        case 'j':
            json = true;
            break;
        case 'i': {
            char *end;
            poll = strtol(optarg, &end, 10);
            if (*end || poll < 1 || poll > 3600)
                return bw_cli_usage_error(
                    &bw_cmd_ami, "--poll-interval \"%s\": expected seconds, 1 to 3600", optarg);
            break;
        }
        case 't': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg || nt >= 2 * 16)
                return bw_cli_usage_error(
                    &bw_cmd_ami, "--tag \"%s\": expected KEY=VALUE (at most 16 tags)", optarg);
            *eq = '\0';
            tags[nt++] = optarg;
            tags[nt++] = eq + 1;
            break;
        }
        case 'h':
            return bw_cli_help(&bw_cmd_ami);
        default:
            return bw_cli_option_error(&bw_cmd_ami, c, argv);
        }
    }
    if (argc - optind != 1 || !in.region || !in.bucket || !in.name)
        return bw_cli_usage_error(
            &bw_cmd_ami, "expected DISK, --region REGION, --bucket BUCKET and --name NAME");
    in.disk = argv[optind];
    if (!in.s3_endpoint)
        in.s3_endpoint = bw_aws_endpoint("S3");
    if (!in.ec2_endpoint)
        in.ec2_endpoint = bw_aws_endpoint("EC2");
    char *dup = bw_xstrdup(in.disk);
    char *key = in.key ? NULL : bw_xasprintf("boxwright/%s.vmdk", basename(dup));
    free(dup);
    if (!in.key)
        in.key = key;
    in.tags = nt ? tags : NULL;
    in.poll_ms = (unsigned)poll * 1000;
    in.say = on_say;
    struct bw_error err = BW_ERROR_INIT;
    /* Ctrl-C stops the upload or the wait between parts; a rerun goes on from what S3 holds. */
    bw_cli_trap_interrupts();
    struct bw_aws_keys keys;
    int rc = bw_aws_find_keys(profile, &keys, &err);
    if (rc < 0 && in.dry_run) { /* a dry run shows the requests signed with stand-in keys */
        bw_error_release(&err);
        memset(&keys, 0, sizeof(keys));
        keys.access_key = bw_xstrdup("AKIDDRYRUN");
        keys.secret_key = bw_xstrdup("dry-run");
        snprintf(keys.source, sizeof(keys.source), "none found: stand-in keys for the dry run");
        rc = 0;
    }
    if (rc == 0) {
        fprintf(stderr, "info: AWS credentials from %s\n", keys.source);
        in.cred =
            (struct bw_sigv4_credentials){keys.access_key, keys.secret_key, keys.session_token};
        struct bw_ami_result res;
        rc = bw_ami_export(&in, &res, &err);
        if (rc == 0 && json) {
            json_t *j =
                json_pack("{s:s,s:s,s:s,s:I,s:i,s:i,s:b}", "image", res.image, "snapshot",
                          res.snapshot, "region", in.region, "uploaded", (json_int_t)res.uploaded,
                          "parts", (int)res.parts, "kept", (int)res.kept, "dry_run", in.dry_run);
            char *text = json_dumps(j, JSON_COMPACT);
            printf("%s\n", text);
            free(text);
            json_decref(j);
        } else if (rc == 0) {
            printf("image %s (snapshot %s) in %s%s\n", res.image, res.snapshot, in.region,
                   in.dry_run ? " [dry run: nothing was sent]" : "");
        }
        bw_aws_keys_release(&keys);
    }
    free(key);
    if (rc < 0) {
        bw_cli_print_error(&err);
        int status = err.code == BW_ERR_USAGE         ? BW_EXIT_USAGE
                     : err.code == BW_ERR_INTERRUPTED ? 130
                                                      : BW_EXIT_FAILED;
        bw_error_release(&err);
        return status;
    }
    return BW_EXIT_OK;
}

const struct bw_command bw_cmd_ami = {
    "ami",
    "make a disk into an Amazon Machine Image (unproven against real AWS)",
    "usage: boxwright ami DISK --region REGION --bucket BUCKET --name NAME\n"
    "                     [--key KEY] [--description TEXT] [--uefi]\n"
    "                     [--tag KEY=VALUE]... [--profile NAME]\n"
    "                     [--poll-interval SECONDS] [--dry-run] [--json]\n"
    "                     [--s3-endpoint URL] [--ec2-endpoint URL]\n"
    "\n"
    "Converts DISK (qcow2, raw or VMDK: a build's box.img) to a streamOptimized\n"
    "VMDK, uploads it to s3://BUCKET/KEY in parts (resumable: run it again after\n"
    "a failure and it goes on where it stopped), imports it as an EBS snapshot\n"
    "(ImportSnapshot, whose progress is shown), registers an x86_64 HVM image\n"
    "from it (ENA, SR-IOV, gp3; legacy-bios, or uefi with --uefi) and tags it.\n"
    "EC2 needs the vmimport service role in the account. Unproven against real\n"
    "AWS: tested against S3 and EC2 stand-ins.\n"
    "\n"
    "Credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN,\n"
    "else the shared credentials file (AWS_SHARED_CREDENTIALS_FILE or\n"
    "~/.aws/credentials) under --profile, AWS_PROFILE or \"default\", else (no\n"
    "profile named) the instance role through IMDSv2. They are never printed.\n"
    "\n"
    "  --key KEY           the object's key (default boxwright/DISK's name.vmdk)\n"
    "  --tag KEY=VALUE     a tag on the image (repeatable, at most 16)\n"
    "  --poll-interval S   seconds between looks at the import (default 15)\n"
    "  --dry-run           convert and send nothing: show each EC2 request as it\n"
    "                      would go, its signature and token masked\n"
    "  --json              the result as one JSON object on stdout\n"
    "  --s3-endpoint URL, --ec2-endpoint URL  an S3- or EC2-compatible service\n"
    "                      instead of AWS's (S3 addressed path-style); default\n"
    "                      AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_EC2 or\n"
    "                      AWS_ENDPOINT_URL, as the AWS tools take them\n"
    "\n"
    "Ctrl-C stops the upload; run it again to go on. A build makes the AMIs its\n"
    "definition exports ({\"type\": \"ami\", \"region\", \"bucket\", \"name\", ...})\n"
    "the same way, once the box has passed its checks.\n"
    "\n"
    "Exit status: 0 when the image is registered; 1 when a step failed; 2 on a\n"
    "usage error; 130 when interrupted.\n",
    run,
};
