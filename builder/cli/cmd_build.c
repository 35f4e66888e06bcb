#include "cli.h"
#include "../pipeline/build.h"
#include "../drivers/driver.h"
#include "../base/buf.h"

#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Human output folds a guest's fetches: the first few of a directory in full, then a running
 * count per directory; a request that failed is always shown (the build warns about it). */
struct dir_count {
    char *dir;
    unsigned n, told;
};

struct view {
    bool json;
    time_t start;
    struct dir_count *dirs;
    size_t n_dirs;
};

#define REQUESTS_IN_FULL 3

static void sum_up_requests(struct view *v)
{
    for (size_t i = 0; i < v->n_dirs; i++) {
        if (v->dirs[i].n > v->dirs[i].told)
            fprintf(stderr, "           guest fetched %u files from %s in all\n", v->dirs[i].n,
                    v->dirs[i].dir);
        free(v->dirs[i].dir);
    }
    free(v->dirs);
    v->dirs = NULL;
    v->n_dirs = 0;
}

static bool milestone(unsigned n)
{
    for (unsigned m = 10; m <= n; m *= 10)
        if (n == m || n == 2 * m + m / 2 || n == 5 * m)
            return true;
    return false;
}

static void human_request(struct view *v, const struct bw_build_request *r)
{
    if (r->status >= 400)
        return; /* the build's warning says it, with the nearest file */
    const char *slash = strrchr(r->path, '/');
    size_t dl = slash ? (size_t)(slash - r->path) + 1 : 0;
    struct dir_count *d = NULL;
    for (size_t i = 0; i < v->n_dirs && !d; i++)
        if (strlen(v->dirs[i].dir) == dl && strncmp(v->dirs[i].dir, r->path, dl) == 0)
            d = &v->dirs[i];
    if (!d) {
        v->dirs = realloc(v->dirs, (v->n_dirs + 1) * sizeof(*v->dirs));
        if (!v->dirs)
            abort();
        d = &v->dirs[v->n_dirs++];
        *d = (struct dir_count){strndup(r->path, dl), 0, 0};
    }
    d->n++;
    if (d->n <= REQUESTS_IN_FULL) {
        fprintf(stderr, "           guest %s %s %u (%llu bytes, %.3f s, %s)\n", r->method, r->path,
                r->status, (unsigned long long)r->bytes, r->seconds, r->vm);
        d->told = d->n;
    } else if (milestone(d->n)) {
        fprintf(stderr, "           guest fetched %u files from %s so far\n", d->n, d->dir);
        d->told = d->n;
    }
}

static void json_request(struct bw_buf *b, const struct bw_build_request *r)
{
    bw_buf_adds(b, ",\"vm\":");
    bw_buf_add_json_string(b, r->vm);
    bw_buf_adds(b, ",\"method\":");
    bw_buf_add_json_string(b, r->method);
    bw_buf_adds(b, ",\"path\":");
    bw_buf_add_json_string(b, r->path);
    bw_buf_addf(b, ",\"status\":%u,\"bytes\":%llu,\"seconds\":%.3f", r->status,
                (unsigned long long)r->bytes, r->seconds);
    if (r->nearest) {
        bw_buf_adds(b, ",\"nearest\":");
        bw_buf_add_json_string(b, r->nearest);
    }
}

static void on_event(const struct bw_build_event *ev, void *ud)
{
    struct view *v = ud;
    if (v->json) {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_addf(&b, "{\"time\":%ld,\"step\":", (long)time(NULL));
        bw_buf_add_json_string(&b, ev->step);
        bw_buf_adds(&b, ",\"event\":");
        bw_buf_add_json_string(&b, ev->kind);
        bw_buf_adds(&b, ",\"message\":");
        bw_buf_add_json_string(&b, ev->msg);
        if (ev->request)
            json_request(&b, ev->request);
        bw_buf_adds(&b, "}\n");
        fputs(b.data, stdout);
        fflush(stdout);
        bw_buf_release(&b);
        return;
    }
    long t = (long)(time(NULL) - v->start);
    if (strcmp(ev->kind, "step") == 0) {
        sum_up_requests(v);
        fprintf(stderr, "[%3ld:%02ld] ==> %s\n", t / 60, t % 60, ev->msg);
    } else if (strcmp(ev->kind, "request") == 0) {
        human_request(v, ev->request);
    } else if (strcmp(ev->kind, "output") == 0) {
        fprintf(stderr, "           | %s\n", ev->msg);
    } else if (strcmp(ev->kind, "warning") == 0) {
        fprintf(stderr, "           warning: %s\n", ev->msg);
    } else {
        fprintf(stderr, "           %s\n", ev->msg);
    }
}

static void say(struct view *v, const char *step, const char *kind, const char *msg)
{
    struct bw_build_event ev = {step, kind, msg, NULL};
    on_event(&ev, v);
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
                                         {"export", required_argument, NULL, 'x'},
                                         {"iso", required_argument, NULL, 'I'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct bw_var_opts vo = {0};
    struct bw_build_options o = {0};
    const char *iso = NULL;
    struct view view = {false, time(NULL), NULL, 0};
    int c, status = BW_EXIT_OK;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
        case 'f':
            bw_var_opts_add(&vo, c == 'f', optarg);
            break;
        case 'o':
            o.output_dir = optarg;
            break;
        case 'I':
            iso = optarg;
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
        case 'x': {
            struct bw_error xerr = BW_ERROR_INIT;
            if (bw_build_check_exports(optarg, &xerr) < 0) {
                bw_var_opts_release(&vo);
                int rc = bw_cli_usage_error(&bw_cmd_build, "%s", xerr.msg);
                bw_error_release(&xerr);
                return rc;
            }
            o.exports = optarg;
            break;
        }
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
            return bw_cli_option_error(&bw_cmd_build, c, argv);
        }
    }
    if (argc - optind != 1 && !(iso && argc == optind)) {
        bw_var_opts_release(&vo);
        return bw_cli_usage_error(&bw_cmd_build, "expected one TEMPLATE or FILE, or --iso ISO");
    }
    char *detected = NULL;
    if (argc == optind) { /* --iso alone: the template its volume ID names */
        struct bw_error derr = BW_ERROR_INIT;
        if (!(detected = bw_cli_detect(iso, &derr))) {
            bw_cli_print_error(&derr);
            bw_error_release(&derr);
            bw_var_opts_release(&vo);
            return BW_EXIT_FAILED;
        }
        fprintf(stderr, "boxwright: %s: template %s (from its volume ID)\n", iso, detected);
    }
    struct bw_definition *def = bw_cli_load(detected ? detected : argv[optind], &vo, &status);
    bw_var_opts_release(&vo);
    free(detected);
    if (!def)
        return status;
    if (iso) {
        struct bw_error ierr = BW_ERROR_INIT;
        if (bw_definition_use_iso(def, iso, &ierr) < 0) {
            bw_cli_print_error(&ierr);
            status = ierr.code == BW_ERR_USAGE ? BW_EXIT_USAGE : BW_EXIT_FAILED;
            bw_error_release(&ierr);
            bw_definition_free(def);
            return status;
        }
        o.own_iso = true;
    }
    bool amis = false;
    for (size_t i = 0; i < def->n_exports; i++)
        amis = amis || strcmp(def->exports[i].type, "ami") == 0;
    if (bw_build_export_listed(o.exports, "ami") && !amis) {
        bw_definition_free(def);
        return bw_cli_usage_error(&bw_cmd_build,
                                  "--export \"%s\": ami, but the definition has no \"ami\" "
                                  "export (region, bucket, name)",
                                  o.exports);
    }
    struct bw_error err = BW_ERROR_INIT;
    /* The hypervisor chooses: a remote one's KVM is not this machine's. A driver that does
     * not exist fails the build's first step, with the same error. */
    const struct bw_driver *drv = bw_build_driver(def, o.driver, &err);
    bw_error_release(&err);
    if (drv) {
        char why[512];
        o.accel = drv->choose_accel(o.accel ? o.accel : "auto", o.libvirt_uri, why, sizeof(why));
        say(&view, "accel", "info", why);
    }
    /* A closed terminal or a reader that went away (build | head) stops the build the same
     * way as Ctrl-C: through every cleanup. */
    const volatile sig_atomic_t *interrupted = bw_cli_trap_interrupts();
    o.interrupted = interrupted;
    o.on_event = on_event;
    o.ud = &view;
    if (bw_build_run(def, &o, &err) < 0) {
        bw_cli_print_error(&err);
        if (view.json) { /* a pipeline reading stdout alone learns why too */
            char *s = bw_error_format(&err);
            say(&view, "build", "error", s);
            free(s);
        }
        status = err.code == BW_ERR_USAGE ? BW_EXIT_USAGE : BW_EXIT_FAILED;
        if (*interrupted)
            status = 130;
    } else {
        long t = (long)(time(NULL) - view.start);
        fprintf(stderr, "boxwright: built %s in %ldm%02lds\n", def->name, t / 60, t % 60);
    }
    sum_up_requests(&view);
    bw_error_release(&err);
    bw_definition_free(def);
    return status;
}

const struct bw_command bw_cmd_build = {
    "build",
    "build, export and validate a box",
    "usage: boxwright build [--var NAME=VALUE]... [--var-file FILE]... [--output DIR]\n"
    "                       [--force] [--on-error=cleanup|abort] [--keep] [--skip-validate]\n"
    "                       [--accel auto|kvm|tcg]\n"
    "                       [--driver qemu|libvirt|virtualbox|vmware|parallels]\n"
    "                       [--libvirt-uri URI] [--libvirt-pool POOL]\n"
    "                       [--export PROVIDER,...] [--iso ISO] [--json]\n"
    "                       TEMPLATE|FILE\n"
    "       boxwright build --iso ISO [options]\n"
    "\n"
    "Builds a box with QEMU or libvirt (VirtualBox, VMware, Parallels: unproven).\n"
    "From an installer ISO: fetches it through the cache, serves the rendered\n"
    "answer files (and puts cd.files on a CD of their own), boots the installer on\n"
    "a new disk (typing the boot command, or booting its kernel directly), waits\n"
    "for it to power off and boots the installed system. From a disk image: fetches\n"
    "it through the cache and boots a qcow2 overlay of it, grown to the disk size,\n"
    "with the cloud-init seed (served over HTTP, or on a cidata volume). Then: logs\n"
    "in over SSH (or WinRM, for a definition with \"winrm\"; unproven), runs the\n"
    "provisioners, shuts it down, exports box.img (compacted qcow2) and a Vagrant\n"
    "box per export, then boots the exported image and runs the template's checks\n"
    "(a JUnit report goes next to the box). Once they pass, it makes the\n"
    "definition's AMIs (credentials, AWS_ENDPOINT_URL_S3 and _EC2 taken as the AWS\n"
    "tools take them; unproven against real AWS) and writes manifest.json. The\n"
    "guest's network is isolated (no route off this host) unless the definition\n"
    "says \"network\": \"user\".\n"
    "\n"
    "  --output DIR, -o    where artifacts go (default output-NAME; must not exist)\n"
    "  --force             replace an existing output directory\n"
    "  --on-error=cleanup  on failure stop everything and remove the work files\n"
    "                      (default); =abort keeps the VM running and the disk\n"
    "  --keep              keep the work directory (disk, logs, the VMs' serial\n"
    "                      consoles) when the build ends, whether it worked or not\n"
    "  --skip-validate     do not boot the exported box to check it\n"
    "  --accel auto|kvm|tcg  CPU accelerator (default auto: KVM when a test kernel\n"
    "                      boots under it within 5 s, else TCG; cached per boot)\n"
    "  --driver NAME       run the VMs with qemu-system-x86_64 directly (qemu, the\n"
    "                      default, or the definition's \"driver\"), through libvirtd\n"
    "                      (libvirt), VBoxManage (virtualbox), vmrun and VNC\n"
    "                      (vmware) or prlctl (parallels); the last three are\n"
    "                      unproven on the real hypervisor and need vm.network\n"
    "                      \"user\"\n"
    "  --libvirt-uri URI   libvirt connection (default qemu:///system). A URI with a\n"
    "                      host (qemu+ssh://user@host/system) is a remote build:\n"
    "                      the ISO and disks go through the storage pool\n"
    "  --libvirt-pool POOL storage pool for remote builds (default \"default\")\n"
    "  --export PROVIDER,... the boxes to make from the one installed disk, instead\n"
    "                      of the definition's exports: libvirt, virtualbox,\n"
    "                      vmware_desktop, hyperv (the last three unproven on\n"
    "                      their hypervisors, which boxwright's tests cannot run);\n"
    "                      ami makes the definition's AMIs, left out otherwise\n"
    "  --iso ISO           build from this installer ISO (the user's own file, taken\n"
    "                      without a checksum); without TEMPLATE|FILE, the template\n"
    "                      is the one its volume ID names (see boxwright detect)\n"
    "  --json              one JSON event per line on stdout ({\"time\", \"step\",\n"
    "                      \"event\": step|info|warning|output|request|error,\n"
    "                      \"message\"}; a request event adds \"vm\", \"method\",\n"
    "                      \"path\", \"status\", \"bytes\", \"seconds\" and, for a 403\n"
    "                      or 404, \"nearest\"); a failed build ends with an \"error\"\n"
    "                      event\n"
    "  --var, --var-file   as for render\n"
    "\n"
    "Every request the guest makes to the HTTP server is reported (a directory's\n"
    "many files folded into a count), a 403 or 404 as a warning naming the\n"
    "nearest file served; manifest.json records which files the guest fetched.\n"
    "The boot command is typed with at most boot.keys_in_flight keys on their way\n"
    "and, in a text mode, read back from the screen and retyped where wrong. An\n"
    "installer that shows no change after the last key, stalls (nothing on its\n"
    "screen, serial console, HTTP server or disk moves for boot.stall_timeout) or\n"
    "powers off without fetching the answer file it was pointed at fails the\n"
    "build at once, with its screen.\n"
    "\n"
    "Ctrl-C (or SIGTERM, SIGHUP, a closed output pipe) stops the build and runs\n"
    "every cleanup; QEMU and helpers run in process groups of their own, so a\n"
    "terminal's Ctrl-C reaches boxwright alone, and they die with boxwright even\n"
    "when it is killed. On failure the guest's screen (failure-screen.png, and\n"
    "failure-screen.txt in a text mode), its serial console (failure-serial.log)\n"
    "and, with the qemu driver, what QEMU printed (failure-qemu.log) are saved in\n"
    "the output directory.\n"
    "\n"
    "Exit status: 0; 1 if the build or a check failed; 2 on a usage error; 130\n"
    "when interrupted.\n",
    run,
};
