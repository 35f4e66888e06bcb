#include "cli.h"
#include "../build/build.h"
#include "../drivers/accel.h"
#include "../drivers/driver.h"
#include "../core/buf.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

struct view {
    bool json;
    time_t start;
};

static void on_event(const char *step, const char *kind, const char *msg, void *ud)
{
    const struct view *v = ud;
    if (v->json) {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_addf(&b, "{\"time\":%ld,\"step\":", (long)time(NULL));
        bw_buf_add_json_string(&b, step);
        bw_buf_adds(&b, ",\"event\":");
        bw_buf_add_json_string(&b, kind);
        bw_buf_adds(&b, ",\"message\":");
        bw_buf_add_json_string(&b, msg);
        bw_buf_adds(&b, "}\n");
        fputs(b.data, stdout);
        fflush(stdout);
        bw_buf_release(&b);
        return;
    }
    long t = (long)(time(NULL) - v->start);
    if (strcmp(kind, "step") == 0)
        fprintf(stderr, "[%3ld:%02ld] ==> %s\n", t / 60, t % 60, msg);
    else if (strcmp(kind, "output") == 0)
        fprintf(stderr, "           | %s\n", msg);
    else
        fprintf(stderr, "           %s\n", msg);
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"var", required_argument, NULL, 'v'},
                                         {"var-file", required_argument, NULL, 'f'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"force", no_argument, NULL, 'F'},
                                         {"on-error", required_argument, NULL, 'e'},
                                         {"keep", no_argument, NULL, 'k'},
                                         {"skip-validate", no_argument, NULL, 's'},
                                         {"accel", required_argument, NULL, 'a'},
                                         {"driver", required_argument, NULL, 'd'},
                                         {"libvirt-uri", required_argument, NULL, 'u'},
                                         {"libvirt-pool", required_argument, NULL, 'p'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct bw_var_opts vo = {0};
    struct bw_build_options o = {0};
    struct view view = {false, time(NULL)};
    int c, status = BW_EXIT_OK;
    while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
        case 'f':
            bw_var_opts_add(&vo, c == 'f', optarg);
            break;
        case 'o':
            o.output_dir = optarg;
            break;
        case 'F':
            o.force = true;
            break;
        case 'k':
            o.keep = true;
            break;
        case 's':
            o.skip_validate = true;
            break;
        case 'j':
            view.json = true;
            break;
        case 'a':
            if (strcmp(optarg, "tcg") && strcmp(optarg, "kvm") && strcmp(optarg, "auto")) {
                bw_var_opts_release(&vo);
                return bw_cli_usage_error(&bw_cmd_build,
                                          "--accel \"%s\": expected auto, kvm or tcg", optarg);
            }
            o.accel = optarg;
            break;
        case 'd':
            if (!bw_driver_find(optarg)) {
                bw_var_opts_release(&vo);
                return bw_cli_usage_error(&bw_cmd_build, "--driver \"%s\": expected %s", optarg,
                                          bw_driver_names());
            }
            o.driver = optarg;
            break;
        case 'u':
            o.libvirt_uri = optarg;
            break;
        case 'p':
            o.libvirt_pool = optarg;
            break;
        case 'e':
            if (strcmp(optarg, "cleanup") && strcmp(optarg, "abort")) {
                bw_var_opts_release(&vo);
                return bw_cli_usage_error(&bw_cmd_build,
                                          "--on-error \"%s\": expected cleanup or abort", optarg);
            }
            o.on_error = optarg[0] == 'a' ? BW_ON_ERROR_ABORT : BW_ON_ERROR_CLEANUP;
            break;
        case 'h':
            bw_var_opts_release(&vo);
            return bw_cli_help(&bw_cmd_build);
        default:
            bw_var_opts_release(&vo);
            return bw_cli_usage_error(&bw_cmd_build, "unknown option \"%s\"", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) {
        bw_var_opts_release(&vo);
        return bw_cli_usage_error(&bw_cmd_build, "expected one TEMPLATE or FILE");
    }
    struct bw_definition *def = bw_cli_load(argv[optind], &vo, &status);
    bw_var_opts_release(&vo);
    if (!def)
        return status;
    char why[512];
    o.accel = bw_accel_choose(o.accel ? o.accel : "auto", why, sizeof(why));
    on_event("accel", "info", why, &view);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    /* A closed terminal or a reader that went away (build | head) stops the build the same
     * way as Ctrl-C: through every cleanup, not by killing us with QEMU left running. */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGPIPE, &sa, NULL);
    o.interrupted = &interrupted;
    o.on_event = on_event;
    o.ud = &view;
    struct bw_error err = BW_ERROR_INIT;
    if (bw_build_run(def, &o, &err) < 0) {
        bw_cli_print_error(&err);
        if (view.json) { /* a pipeline reading stdout alone learns why too */
            char *s = bw_error_format(&err);
            on_event("build", "error", s, &view);
            free(s);
        }
        status = err.code == BW_ERR_USAGE ? BW_EXIT_USAGE : BW_EXIT_FAILED;
        if (interrupted)
            status = 130;
    } else {
        long t = (long)(time(NULL) - view.start);
        fprintf(stderr, "boxwright: built %s in %ldm%02lds\n", def->name, t / 60, t % 60);
    }
    bw_error_release(&err);
    bw_definition_free(def);
    return status;
}

const struct bw_command bw_cmd_build = {
    "build",
    "build, export and validate a box",
    "usage: boxwright build [--var NAME=VALUE]... [--var-file FILE]... [--output DIR]\n"
    "                       [--force] [--on-error=cleanup|abort] [--keep] [--skip-validate]\n"
    "                       [--accel auto|kvm|tcg] [--driver qemu|libvirt]\n"
    "                       [--libvirt-uri URI] [--libvirt-pool POOL] [--json]\n"
    "                       TEMPLATE|FILE\n"
    "\n"
    "Builds a box with QEMU or libvirt. From an installer ISO: fetches it\n"
    "through the cache, serves the rendered answer files, boots the installer\n"
    "on a new disk (typing the boot command, or booting its kernel directly),\n"
    "waits for it to power off and boots the installed system. From a disk\n"
    "image: fetches it through the cache and boots a qcow2 overlay of it, grown\n"
    "to the disk size, with the cloud-init seed (served over HTTP, or on a\n"
    "cidata volume). Then: logs in over SSH, runs the provisioners,\n"
    "shuts it down, exports box.img (compacted qcow2), a Vagrant box per\n"
    "export and manifest.json, then boots the exported image and runs the\n"
    "template's checks (a JUnit report goes next to the box). The guest's\n"
    "network is isolated (no route off this host) unless the definition says\n"
    "\"network\": \"user\".\n"
    "\n"
    "  --output DIR, -o    where artifacts go (default output-NAME; must not exist)\n"
    "  --force             replace an existing output directory\n"
    "  --on-error=cleanup  on failure stop everything and remove the work files\n"
    "                      (default); =abort keeps the VM running and the disk\n"
    "  --keep              keep the work directory (disk, logs) after success\n"
    "  --skip-validate     do not boot the exported box to check it\n"
    "  --accel auto|kvm|tcg  CPU accelerator (default auto: KVM when a test kernel\n"
    "                      boots under it within 5 s, else TCG; cached per boot)\n"
    "  --driver qemu|libvirt  run the VMs with qemu-system-x86_64 directly (default,\n"
    "                      or the definition's \"driver\") or through libvirtd\n"
    "  --libvirt-uri URI   libvirt connection (default qemu:///system). A URI with a\n"
    "                      host (qemu+ssh://user@host/system) is a remote build:\n"
    "                      the ISO and disks go through the storage pool\n"
    "  --libvirt-pool POOL storage pool for remote builds (default \"default\")\n"
    "  --json              one JSON event per line on stdout ({\"time\", \"step\",\n"
    "                      \"event\": step|info|output|error, \"message\"}); a failed\n"
    "                      build ends with an \"error\" event\n"
    "  --var, --var-file   as for render\n"
    "\n"
    "Ctrl-C (or SIGTERM, SIGHUP, a closed output pipe) stops the build and runs\n"
    "every cleanup. On failure the guest's screen (failure-screen.png), its serial\n"
    "console (failure-serial.log) and, with the qemu driver, what QEMU printed\n"
    "(failure-qemu.log) are saved in the output directory.\n"
    "\n"
    "Exit status: 0; 1 if the build or a check failed; 2 on a usage error; 130\n"
    "when interrupted.\n",
    run,
};
