#include "cli.h"
#include "../core/catalogue.h"
#include "../core/prepare.h"
#include "../drivers/driver.h"
#include "../seed/lint.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int run(int argc, char **argv)
{
    int status = BW_EXIT_OK;
    struct bw_definition *def = bw_cli_parse_and_load(&bw_cmd_validate, argc, argv, NULL, &status);
    if (!def)
        return status;

    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_rendered files = BW_RENDERED_INIT;
    struct bw_key_events ev = BW_KEY_EVENTS_INIT;
    bw_definition_check_files(def, &errs);
    bw_prepare_source(def, NULL, NULL, &errs);
    bw_prepare_answer_files(def, &files, &errs);
    bw_prepare_cd_files(def, &files, &errs); /* checked as any answer file */
    struct bw_buf linted = BW_BUF_INIT, unlinted = BW_BUF_INIT;
    bw_buf_init(&linted);
    bw_buf_init(&unlinted);
    bw_answer_lint(def, &files, &linted, &unlinted, &errs);
    if (strcmp(def->boot.method, "keys") == 0)
        bw_prepare_boot_command(def, NULL, NULL, &ev, &errs);
    if (def->boot.append) {
        struct bw_buf append = BW_BUF_INIT;
        bw_prepare_string(def, ".boot.append", def->boot.append, &append, &errs);
        bw_buf_release(&append);
    }
    struct bw_rendered seeds = BW_RENDERED_INIT;
    bool schema = false;
    if (def->cloud_init.seed && bw_prepare_seed(def, "iid-boxwright-validate", &seeds, &errs) == 0)
        bw_seed_lint(def, &seeds, &schema, &errs);
    if (strcmp(def->vm.firmware, "efi") == 0 && access(bw_ovmf_path(), R_OK) != 0)
        fprintf(stderr,
                "boxwright: warning: vm.firmware \"efi\" needs OVMF, which this host lacks (%s): "
                "apt-get install ovmf before building here\n",
                bw_ovmf_path());
    if (def->cloud_init.seed && !schema && !errs.n)
        fprintf(stderr,
                "boxwright: note: user-data was checked as YAML only: cloud-init is not installed "
                "(apt-get install cloud-init adds its schema check)\n");
    if (unlinted.len)
        fprintf(stderr, "boxwright: note: not checked, the tool is not installed: %s\n",
                unlinted.data);
    const struct bw_var *ip = bw_vars_get(&def->vars, "HTTPIP");
    struct bw_buf unreachable = BW_BUF_INIT;
    bw_buf_init(&unreachable);
    if (ip && ip->value.kind == BW_VAL_STRING &&
        bw_answer_unreachable(def, &files, ip->value.s, &unreachable))
        for (char *l = strtok(unreachable.data, "\n"); l; l = strtok(NULL, "\n"))
            fprintf(stderr, "boxwright: warning: %s\n", l);
    bw_buf_release(&unreachable);
    if (errs.n) {
        for (size_t i = 0; i < errs.n; i++)
            bw_cli_print_error(&errs.v[i]);
        fprintf(stderr, "boxwright: %s: %zu error%s\n", def->file, errs.n, errs.n == 1 ? "" : "s");
        status = BW_EXIT_FAILED;
    } else {
        printf("%s: valid (%zu answer file%s rendered, boot command of %zu key presses", def->file,
               files.n, files.n == 1 ? "" : "s", bw_key_events_presses(&ev));
        if (def->cloud_init.seed)
            printf(", %zu seed files rendered, user-data %s", seeds.n,
                   schema ? "valid under cloud-init's schema" : "valid YAML");
        if (linted.len)
            printf(", checked: %s", linted.data);
        printf(")\n");
    }
    bw_buf_release(&linted);
    bw_buf_release(&unlinted);
    bw_rendered_release(&seeds);
    bw_key_events_release(&ev);
    bw_rendered_release(&files);
    bw_errors_release(&errs);
    bw_definition_free(def);
    return status;
}

const struct bw_command bw_cmd_validate = {
    "validate",
    "check a template or definition without building",
    "usage: boxwright validate [--var NAME=VALUE]... [--var-file FILE]... TEMPLATE|FILE\n"
    "\n"
    "Checks everything that can be checked without booting: the JSON, the\n"
    "schema (types, ranges, unknown keys), that every referenced file exists,\n"
    "that every answer file renders, and that the boot command renders and\n"
    "compiles into key presses. cloud-init seeds are rendered and parsed as\n"
    "YAML; #cloud-config user-data is also checked with `cloud-init schema`\n"
    "when cloud-init is installed (a note says when it is not).\n"
    "Answer files are checked by kind, from their names: a d-i preseed\n"
    "(*preseed*.cfg, *.preseed) with debconf-set-selections --checkonly, where\n"
    "an unknown type is an error too (d-i skips the line); XML (*.xml)\n"
    "parsed by libxml2, then an AutoYaST profile or a Windows Autounattend.xml\n"
    "with boxwright's own checks (types, what an unattended build needs:\n"
    "confirm false, final_halt true, a login, sshd); an Agama profile\n"
    "(*agama*.json, autoinst.json) with boxwright's checks (product.id, a\n"
    "login, scripts); a kickstart (ks.cfg,\n"
    "*-ks.cfg, *.ks, *kickstart*.cfg) and an Ubuntu autoinstall (user-data)\n"
    "with boxwright's own checks (the latter then with cloud-init schema); a\n"
    "FreeBSD installerconfig with sh -n. Kickstart, autoinstall, AutoYaST and\n"
    "installerconfig must power the machine off at the end: a build waits\n"
    "for the installer to power off.\n"
    "All problems are listed, each with the file,\n"
    "the JSON path or template position (line:col), the value and what was\n"
    "expected.\n"
    "\n"
    "  --var NAME=VALUE   set a variable (may repeat; applied after var files)\n"
    "  --var-file FILE    a JSON object of variable values (may repeat)\n"
    "\n"
    "Exit status: 0 if valid; 1 if not; 2 on a usage error.\n",
    run,
};
