/* The table of subcommands: adding one is its file plus one row here. */
#include "cli.h"

#include <stddef.h>
#include <string.h>

const struct bw_command *const bw_commands[] = {
    &bw_cmd_templates, &bw_cmd_inspect, &bw_cmd_validate, &bw_cmd_render, &bw_cmd_keys,
    &bw_cmd_serve,     &bw_cmd_iso,     &bw_cmd_detect,   &bw_cmd_build,  &bw_cmd_box,
    &bw_cmd_publish,   &bw_cmd_ami,     &bw_cmd_help,     NULL,
};

const struct bw_command *bw_command_find(const char *name)
{
    for (size_t i = 0; bw_commands[i]; i++)
        if (strcmp(bw_commands[i]->name, name) == 0)
            return bw_commands[i];
    return NULL;
}
