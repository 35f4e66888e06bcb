/*
 * cli - the boxwright command line: a table of subcommands (commands.c), one
 * file per subcommand, and the helpers they share.
 *
 * Exit statuses, the same for every subcommand:
 *   0  success
 *   1  the work failed (invalid definition, failed build or validation)
 *   2  usage error (unknown option, missing argument)
 * Subcommands print; the libraries below them never do.
 */
#ifndef BW_CLI_H
#define BW_CLI_H

#include "../core/definition.h"
#include "../base/error.h"

#include <signal.h>
#include <stdio.h>

enum { BW_EXIT_OK = 0, BW_EXIT_FAILED = 1, BW_EXIT_USAGE = 2 };

struct bw_command {
    const char *name;
    const char *summary; /* one line for `boxwright help` */
    const char *usage;   /* the full text of `boxwright help NAME` / NAME --help */
    int (*run)(int argc, char **argv);
};

extern const struct bw_command bw_cmd_templates, bw_cmd_inspect, bw_cmd_validate, bw_cmd_render,
    bw_cmd_keys, bw_cmd_serve, bw_cmd_iso, bw_cmd_build, bw_cmd_box, bw_cmd_publish, bw_cmd_ami,
    bw_cmd_detect, bw_cmd_help;

/* Turns Ctrl-C, SIGTERM, a closed terminal (SIGHUP) and a reader gone away (SIGPIPE) into a
 * flag, for every command that starts VMs, children or transfers: they stop through their
 * cleanups instead of being killed with QEMU left running. Child processes and AWS transfers
 * stop when it is set. Returns the flag. */
const volatile sig_atomic_t *bw_cli_trap_interrupts(void);

/* The one template of the catalogue whose iso.volume_id matches the ISO's volume ID (caller
 * frees), or NULL with err: no ISO, no template knows it (saying what they know), or several. */
char *bw_cli_detect(const char *iso, struct bw_error *err);

/* The command table, NULL-terminated; defined in commands.c. */
extern const struct bw_command *const bw_commands[];
const struct bw_command *bw_command_find(const char *name);
/* The command list printed by `boxwright help` and on a bad command line. */
void bw_cli_print_overview(FILE *out);

/* Options every definition-reading subcommand takes. */
struct bw_var_opts {
    char **vars; /* "k=v" from --var, in order */
    size_t n_vars;
    char **files; /* --var-file paths, in order */
    size_t n_files;
};

/* Records a --var (is_file false) or --var-file argument; arg is borrowed from argv. */
void bw_var_opts_add(struct bw_var_opts *o, bool is_file, char *arg);
void bw_var_opts_release(struct bw_var_opts *o);

/* Prints "boxwright: error: <formatted error>" to stderr. */
void bw_cli_print_error(const struct bw_error *e);
/* Prints a usage error and a pointer to --help; returns BW_EXIT_USAGE. */
int bw_cli_usage_error(const struct bw_command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The usage error for what getopt_long() returned as c ('?' or ':'; optstrings start with ':' so
 * that a missing argument is told from an unknown option). Returns BW_EXIT_USAGE.
 */
int bw_cli_option_error(const struct bw_command *cmd, int c, char **argv);
/* Prints cmd's usage to stdout; returns BW_EXIT_OK. */
int bw_cli_help(const struct bw_command *cmd);

/*
 * Resolves TEMPLATE|FILE, loads the definition and applies --var-file then
 * --var. On failure prints every error and returns NULL with *status set.
 */
struct bw_definition *bw_cli_load(const char *arg, const struct bw_var_opts *opts, int *status);

/* --driver, --libvirt-uri, --libvirt-pool as given (NULL when not). */
struct bw_cli_driver_opts {
    const char *driver, *uri, *pool;
};

/*
 * For commands whose options are --var, --var-file, --help (and, when drv is
 * not NULL, the driver options) and whose one argument is TEMPLATE|FILE:
 * parses argv and loads the definition. Returns it, or NULL with *status set
 * (help printed, usage error, invalid definition).
 */
struct bw_definition *bw_cli_parse_and_load(const struct bw_command *cmd, int argc, char **argv,
                                            struct bw_cli_driver_opts *drv, int *status);

#endif
