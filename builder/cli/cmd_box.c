#include "cli.h"
#include "../pipeline/build.h"
#include "../base/buf.h"
#include "../base/file.h"
#include "../base/xmalloc.h"
#include "../disk/disk.h"
#include "../export/export.h"
#include "../export/exporter.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void say(void *ud, const char *msg)
{
    (void)ud;
    fprintf(stderr, "boxwright: %s\n", msg);
}

static int validate(int argc, char **argv)
{
    static const struct option opts[] = {{"template", required_argument, NULL, 't'},
                                         {"var", required_argument, NULL, 'v'},
                                         {"var-file", required_argument, NULL, 'f'},
                                         {"junit", required_argument, NULL, 'J'},
                                         {"accel", required_argument, NULL, 'a'},
                                         {"driver", required_argument, NULL, 'd'},
                                         {"libvirt-uri", required_argument, NULL, 'u'},
                                         {"libvirt-pool", required_argument, NULL, 'p'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct bw_var_opts vo = {0};
    const char *tmpl = NULL, *junit = NULL, *accel = "auto", *driver = NULL;
    struct bw_hypervisor hv = {NULL, NULL, NULL, NULL};
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 't')
            tmpl = optarg;
        else if (c == 'v' || c == 'f')
            bw_var_opts_add(&vo, c == 'f', optarg);
        else if (c == 'J')
            junit = optarg;
        else if (c == 'a')
            accel = optarg;
        else if (c == 'd')
            driver = optarg;
        else if (c == 'u')
            hv.uri = optarg;
        else if (c == 'p')
            hv.pool = optarg;
        else if (c == 'h') {
            bw_var_opts_release(&vo);
            return bw_cli_help(&bw_cmd_box);
        } else {
            bw_var_opts_release(&vo);
            return bw_cli_option_error(&bw_cmd_box, c, argv);
        }
    }
    if (argc - optind != 1 || !tmpl) {
        bw_var_opts_release(&vo);
        return bw_cli_usage_error(&bw_cmd_box,
                                  "box validate: expected BOX and --template TEMPLATE|FILE");
    }
    int status = BW_EXIT_OK;
    struct bw_definition *def = bw_cli_load(tmpl, &vo, &status);
    bw_var_opts_release(&vo);
    if (!def)
        return status;
    /* The validation VM's work directory: in $TMPDIR as other tools', removed at the end but
     * when a VM ran and the validation failed: its serial console is kept for the reader. */
    /* Ctrl-C, from here on, stops the VM and removes the work directory. */
    const volatile sig_atomic_t *interrupted = bw_cli_trap_interrupts();
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    char *work = bw_xasprintf("%s/boxwright-validate-XXXXXX", tmp);
    struct bw_error err = BW_ERROR_INIT;
    const char *image = argv[optind];
    char *extracted = NULL;
    bool keep = false;
    if (!mkdtemp(work)) {
        bw_error_set(&err, BW_ERR_IO, "cannot create a work directory in %s: %s", tmp,
                     strerror(errno));
        *work = '\0';
        goto fail;
    }
    size_t len = strlen(image);
    if (len > 4 && strcmp(image + len - 4, ".box") == 0) {
        extracted = bw_xasprintf("%s/box-disk", work); /* qcow2 or VMDK: validation probes it */
        if (bw_box_extract_image(image, extracted, &err) < 0)
            goto fail;
        image = extracted;
    }
    struct bw_check_result *r;
    size_t n;
    char why[512];
    if (!(hv.driver = bw_build_driver(def, driver, &err)))
        goto fail;
    hv.accel = hv.driver->choose_accel(accel, hv.uri, why, sizeof(why));
    fprintf(stderr, "boxwright: accelerator: %s\n", why);
    struct bw_validate_opts o = {junit, interrupted, say, NULL};
    int failed = bw_validate_image(def, image, work, &hv, &o, &r, &n, &err);
    if (failed < 0) {
        bw_check_results_free(r, n);
        goto fail;
    }
    printf("%-6s %s\n", "RESULT", "CHECK");
    for (size_t i = 0; i < n; i++)
        printf("%-6s %s%s%s\n", r[i].passed ? "PASS" : "FAIL", r[i].name, r[i].problem ? ": " : "",
               r[i].problem ? r[i].problem : "");
    printf("%zu passed, %d failed\n", n - (size_t)failed, failed);
    bw_check_results_free(r, n);
    status = failed ? BW_EXIT_FAILED : BW_EXIT_OK;
    goto out;
fail:
    bw_cli_print_error(&err);
    status = err.code == BW_ERR_INTERRUPTED ? 130 : BW_EXIT_FAILED;
out:
    if (extracted)
        unlink(extracted);
    if (*work && status == BW_EXIT_FAILED) {
        char *serial = bw_xasprintf("%s/serial.log", work);
        keep = access(serial, F_OK) == 0;
        free(serial);
    }
    if (keep)
        fprintf(stderr, "boxwright: the validation VM's logs are kept in %s\n", work);
    else if (*work && bw_file_remove_tree(work) < 0)
        fprintf(stderr, "boxwright: cannot remove %s: %s\n", work, strerror(errno));
    free(work);
    free(extracted);
    bw_error_release(&err);
    bw_definition_free(def);
    return status;
}

/* box export: a disk made into a box of one format, as a build's export step makes it. */
static int export_disk(int argc, char **argv)
{
    static const struct option opts[] = {{"provider", required_argument, NULL, 'P'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"compression", required_argument, NULL, 'c'},
                                         {"level", required_argument, NULL, 'l'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *provider = NULL, *output = NULL, *name = "box", *comp = "gzip";
    long level = -1;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        char *end;
        if (c == 'P')
            provider = optarg;
        else if (c == 'o')
            output = optarg;
        else if (c == 'n')
            name = optarg;
        else if (c == 'c')
            comp = optarg;
        else if (c == 'l') {
            level = strtol(optarg, &end, 10);
            if (*end || end == optarg || level < 0 || level > 19)
                return bw_cli_usage_error(&bw_cmd_box, "--level \"%s\": expected 0 to 19", optarg);
        } else if (c == 'h')
            return bw_cli_help(&bw_cmd_box);
        else
            return bw_cli_option_error(&bw_cmd_box, c, argv);
    }
    if (argc - optind != 1 || !provider || !output)
        return bw_cli_usage_error(
            &bw_cmd_box, "box export: expected DISK, --provider PROVIDER and --output BOX");
    const struct bw_exporter *x = bw_exporter_find(provider);
    if (!x) {
        struct bw_buf names = BW_BUF_INIT;
        bw_buf_init(&names);
        for (const char *const *p = bw_exporter_providers(); *p; p++)
            bw_buf_addf(&names, "%s%s", p == bw_exporter_providers() ? "" : ", ", *p);
        int rc = bw_cli_usage_error(&bw_cmd_box, "--provider \"%s\": expected one of %s", provider,
                                    names.data);
        bw_buf_release(&names);
        return rc;
    }
    if (strcmp(comp, "gzip") && strcmp(comp, "zstd") && strcmp(comp, "none"))
        return bw_cli_usage_error(&bw_cmd_box, "--compression \"%s\": expected gzip, zstd or none",
                                  comp);
    char work[] = "/tmp/boxwright-export-XXXXXX";
    struct bw_error err = BW_ERROR_INIT;
    int rc = -1;
    if (!mkdtemp(work)) {
        bw_error_set(&err, BW_ERR_IO, "cannot create a work directory in /tmp");
    } else {
        struct bw_export_input in = {.name = name,
                                     .workdir = work,
                                     .disk = argv[optind],
                                     .memory = 1024ULL << 20,
                                     .cpus = 1,
                                     .compression = comp,
                                     .level = level};
        rc = bw_disk_check_self_contained(argv[optind], &err);
        if (rc == 0)
            rc = x->write_box(&in, output, &err);
        rmdir(work);
    }
    if (rc < 0) {
        bw_cli_print_error(&err);
        bw_error_release(&err);
        return BW_EXIT_FAILED;
    }
    return BW_EXIT_OK;
}

static int run(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "validate") == 0)
        return validate(argc - 1, argv + 1);
    if (argc >= 2 && strcmp(argv[1], "export") == 0)
        return export_disk(argc - 1, argv + 1);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return bw_cli_help(&bw_cmd_box);
    return bw_cli_usage_error(&bw_cmd_box,
                              "expected: box validate BOX --template TEMPLATE, or box export DISK "
                              "--provider PROVIDER --output BOX");
}

const struct bw_command bw_cmd_box = {
    "box",
    "validate a built box by booting it; make a box of a disk",
    "usage: boxwright box validate BOX|IMAGE --template TEMPLATE|FILE [--var NAME=VALUE]...\n"
    "                              [--junit FILE] [--accel auto|kvm|tcg]\n"
    "                              [--driver NAME] [--libvirt-uri URI]\n"
    "                              [--libvirt-pool POOL]\n"
    "       boxwright box export DISK --provider PROVIDER --output BOX [--name NAME]\n"
    "                              [--compression gzip|zstd|none] [--level N]\n"
    "\n"
    "box export makes a box of one format (libvirt, virtualbox, vmware_desktop,\n"
    "hyperv) of a disk (qcow2, raw or VMDK), as a build's export step does; the\n"
    "virtualbox, vmware_desktop and hyperv boxes describe a 1 GiB, 1 CPU machine.\n"
    "gzip uses pigz on every core when it is installed; zstd uses every core.\n"
    "\n"
    "Boots the box's disk (box.img from a libvirt .box, the VMDK of a virtualbox or\n"
    "vmware_desktop .box, the VHDX of a hyperv .box, or a qcow2, raw, VMDK or VHDX\n"
    "image) in QEMU (libvirtd with --driver libvirt; VirtualBox, VMware, Parallels\n"
    "with --driver virtualbox, vmware, parallels: unproven) through a throwaway\n"
    "overlay; a disk that would make QEMU open other files (a backing file, VMDK\n"
    "extents) is refused. Then logs in over SSH (WinRM for a template with\n"
    "\"winrm\"; unproven) as the template's user, runs the template's checks and\n"
    "prints a pass/fail table; --junit writes a JUnit XML\n"
    "report. --driver NAME is one of qemu, libvirt, virtualbox, vmware, parallels,\n"
    "as for build.\n"
    "\n"
    "Exit status: 0 if every check passed; 1 if one failed or the box could not\n"
    "be booted or reached; 2 on a usage error.\n",
    run,
};
