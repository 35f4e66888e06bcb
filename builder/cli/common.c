#include "cli.h"
#include "../drivers/driver.h"
#include "../core/catalogue.h"
#include "../aws/http.h"
#include "../base/spawn.h"
#include "../base/xmalloc.h"

#include <getopt.h>

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

const volatile sig_atomic_t *bw_cli_trap_interrupts(void)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    bw_spawn_set_interrupt(&interrupted);
    bw_aws_set_interrupt(&interrupted);
    return &interrupted;
}

void bw_var_opts_release(struct bw_var_opts *o)
{
    free(o->vars);
    free(o->files);
    memset(o, 0, sizeof(*o));
}

void bw_cli_print_error(const struct bw_error *e)
{
    char *s = bw_error_format(e);
    fprintf(stderr, "boxwright: error: %s\n", s);
    free(s);
}

int bw_cli_option_error(const struct bw_command *cmd, int c, char **argv)
{
    if (c == ':')
        return bw_cli_usage_error(cmd, "option \"%s\" needs an argument", argv[optind - 1]);
    return bw_cli_usage_error(cmd, "unknown option \"%s\"", argv[optind - 1]);
}

int bw_cli_usage_error(const struct bw_command *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "boxwright %s: ", cmd->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'boxwright %s --help'.\n", cmd->name);
    return BW_EXIT_USAGE;
}

int bw_cli_help(const struct bw_command *cmd)
{
    fputs(cmd->usage, stdout);
    return BW_EXIT_OK;
}

struct bw_definition *bw_cli_load(const char *arg, const struct bw_var_opts *opts, int *status)
{
    struct bw_error err = BW_ERROR_INIT;
    char *path = bw_catalogue_resolve(arg, &err);
    if (!path) {
        bw_cli_print_error(&err);
        bw_error_release(&err);
        *status = BW_EXIT_FAILED;
        return NULL;
    }
    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_definition *def = bw_definition_load(path, &errs);
    free(path);
    if (!def) {
        for (size_t i = 0; i < errs.n; i++)
            bw_cli_print_error(&errs.v[i]);
        fprintf(stderr, "boxwright: %zu error%s in the definition\n", errs.n,
                errs.n == 1 ? "" : "s");
        bw_errors_release(&errs);
        *status = BW_EXIT_FAILED;
        return NULL;
    }
    for (size_t i = 0; opts && i < opts->n_files; i++) {
        if (bw_vars_apply_file(&def->vars, opts->files[i], &err) < 0)
            goto bad_var;
    }
    for (size_t i = 0; opts && i < opts->n_vars; i++) {
        if (bw_vars_apply_assignment(&def->vars, opts->vars[i], &err) < 0)
            goto bad_var;
    }
    bw_definition_set_proxy_var(def, "built-in"); /* after --var HTTPIP=... */
    return def;
bad_var:
    bw_cli_print_error(&err);
    *status = err.code == BW_ERR_USAGE ? BW_EXIT_USAGE : BW_EXIT_FAILED;
    bw_error_release(&err);
    bw_definition_free(def);
    return NULL;
}

void bw_var_opts_add(struct bw_var_opts *o, bool is_file, char *arg)
{
    if (is_file) {
        o->files = bw_xrealloc(o->files, (o->n_files + 1) * sizeof(char *));
        o->files[o->n_files++] = arg;
    } else {
        o->vars = bw_xrealloc(o->vars, (o->n_vars + 1) * sizeof(char *));
        o->vars[o->n_vars++] = arg;
    }
}

struct bw_definition *bw_cli_parse_and_load(const struct bw_command *cmd, int argc, char **argv,
                                            struct bw_cli_driver_opts *drv, int *status)
{
    static const struct option opts[] = {{"var", required_argument, NULL, 'v'},
                                         {"var-file", required_argument, NULL, 'f'},
                                         {"help", no_argument, NULL, 'h'},
                                         {"driver", required_argument, NULL, 'd'},
                                         {"libvirt-uri", required_argument, NULL, 'u'},
                                         {"libvirt-pool", required_argument, NULL, 'p'},
                                         {NULL, 0, NULL, 0}};
    struct bw_var_opts vo = {0};
    struct bw_definition *def = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'v' || c == 'f') {
            bw_var_opts_add(&vo, c == 'f', optarg);
        } else if (drv && c == 'd') {
            if (!bw_driver_find(optarg)) {
                *status = bw_cli_usage_error(cmd, "--driver \"%s\": expected %s", optarg,
                                             bw_driver_names());
                goto out;
            }
            drv->driver = optarg;
        } else if (drv && c == 'u') {
            drv->uri = optarg;
        } else if (drv && c == 'p') {
            drv->pool = optarg;
        } else if (c == 'h') {
            *status = bw_cli_help(cmd);
            goto out;
        } else if (c == 'd' || c == 'u' || c == 'p') {
            *status = bw_cli_usage_error(cmd, "unknown option \"--%s\"",
                                         c == 'd'   ? "driver"
                                         : c == 'u' ? "libvirt-uri"
                                                    : "libvirt-pool");
            goto out;
        } else {
            *status = bw_cli_option_error(cmd, c, argv);
            goto out;
        }
    }
    if (argc - optind != 1) {
        *status = bw_cli_usage_error(cmd, "expected one TEMPLATE or FILE");
        goto out;
    }
    def = bw_cli_load(argv[optind], &vo, status);
out:
    bw_var_opts_release(&vo);
    return def;
}
