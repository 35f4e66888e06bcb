#include "cli.h"

#include <string.h>

void bw_cli_print_overview(FILE *out)
{
    fprintf(out, "usage: boxwright [--version] [--help] COMMAND [ARGS]\n\n"
                 "boxwright builds operating-system base boxes unattended.\n\n"
                 "Commands:\n");
    for (size_t i = 0; bw_commands[i]; i++)
        fprintf(out, "  %-10s  %s\n", bw_commands[i]->name, bw_commands[i]->summary);
    fprintf(out, "\nRun 'boxwright help COMMAND' or 'boxwright COMMAND --help' for a command's\n"
                 "options. Exit status: 0 ok, 1 the work failed, 2 usage error.\n");
}

static int run(int argc, char **argv)
{
    if (argc < 2) {
        bw_cli_print_overview(stdout);
        return BW_EXIT_OK;
    }
    if (argc > 2)
        return bw_cli_usage_error(&bw_cmd_help, "expected at most one COMMAND");
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return bw_cli_help(&bw_cmd_help);
    const struct bw_command *cmd = bw_command_find(argv[1]);
    if (!cmd)
        return bw_cli_usage_error(&bw_cmd_help, "no command \"%s\" (see 'boxwright help')",
                                  argv[1]);
    return bw_cli_help(cmd);
}

const struct bw_command bw_cmd_help = {
    "help",
    "show help for boxwright or one command",
    "usage: boxwright help [COMMAND]\n"
    "\n"
    "Without COMMAND, lists the commands; with it, shows that command's usage.\n"
    "\n"
    "Exit status: 0; 2 if COMMAND does not exist.\n",
    run,
};
