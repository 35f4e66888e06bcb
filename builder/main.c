/*
 * boxwright - builds operating-system base boxes unattended.
 *
 * The CLI is a table (cli/commands.c): each subcommand is one file under
 * cli/ defining one struct bw_command; adding a command is that file plus
 * one row there.
 */
#include "cli/cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#ifndef BW_VERSION
#define BW_VERSION "0.0.0"
#endif

int main(int argc, char **argv)
{
    opterr = 0; /* subcommands report unknown options themselves, once */
    if (argc < 2) {
        bw_cli_print_overview(stderr);
        return BW_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        bw_cli_print_overview(stdout);
        return BW_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("boxwright %s\n", BW_VERSION);
        return BW_EXIT_OK;
    }
    const struct bw_command *cmd = bw_command_find(argv[1]);
    if (!cmd) {
        fprintf(stderr, "boxwright: unknown command \"%s\"\n\n", argv[1]);
        bw_cli_print_overview(stderr);
        return BW_EXIT_USAGE;
    }
    return cmd->run(argc - 1, argv + 1);
}
