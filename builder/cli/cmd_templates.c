#include "cli.h"
#include "../base/buf.h"
#include "../core/catalogue.h"

#include <getopt.h>
#include <string.h>

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'}, {"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0}};
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'j')
            json = true;
        else if (c == 'h')
            return bw_cli_help(&bw_cmd_templates);
        else
            return bw_cli_option_error(&bw_cmd_templates, c, argv);
    }
    if (optind < argc)
        return bw_cli_usage_error(&bw_cmd_templates, "unexpected argument \"%s\"", argv[optind]);
    struct bw_catalogue cat = BW_CATALOGUE_INIT;
    struct bw_error err = BW_ERROR_INIT;
    if (bw_catalogue_list(&cat, &err) < 0) {
        bw_cli_print_error(&err);
        bw_error_release(&err);
        return BW_EXIT_FAILED;
    }
    size_t wname = 4, wos = 2;
    for (size_t i = 0; i < cat.n; i++) {
        if (strlen(cat.v[i].name) > wname)
            wname = strlen(cat.v[i].name);
        if (cat.v[i].os && strlen(cat.v[i].os) > wos)
            wos = strlen(cat.v[i].os);
    }
    int status = BW_EXIT_OK;
    if (!json)
        printf("%-*s  %-*s  %s\n", (int)wname, "NAME", (int)wos, "OS", "DESCRIPTION");
    for (size_t i = 0; i < cat.n; i++) {
        const struct bw_catalogue_entry *e = &cat.v[i];
        if (json) {
            struct bw_buf b = BW_BUF_INIT;
            bw_buf_adds(&b, "{\"name\":");
            bw_buf_add_json_string(&b, e->name);
            bw_buf_adds(&b, ",\"os\":");
            bw_buf_add_json_string(&b, e->os ? e->os : "");
            bw_buf_adds(&b, ",\"description\":");
            bw_buf_add_json_string(&b, e->description ? e->description : "");
            bw_buf_adds(&b, ",\"path\":");
            bw_buf_add_json_string(&b, e->path);
            if (e->problem) {
                bw_buf_adds(&b, ",\"error\":");
                bw_buf_add_json_string(&b, e->problem);
            }
            bw_buf_addc(&b, '}');
            puts(b.data);
            bw_buf_release(&b);
        } else if (e->problem) {
            printf("%-*s  %-*s  (invalid: %s)\n", (int)wname, e->name, (int)wos, "?", e->problem);
        } else {
            printf("%-*s  %-*s  %s\n", (int)wname, e->name, (int)wos, e->os, e->description);
        }
        if (e->problem)
            status = BW_EXIT_FAILED;
    }
    bw_catalogue_release(&cat);
    return status;
}

const struct bw_command bw_cmd_templates = {
    "templates",
    "list the template catalogue",
    "usage: boxwright templates [--json]\n"
    "\n"
    "Lists the templates in the catalogue: name, operating system and a line of\n"
    "description. The catalogue is $BOXWRIGHT_TEMPLATES when set, else the\n"
    "templates directory boxwright was built with.\n"
    "\n"
    "  --json    one JSON object per template and line\n"
    "\n"
    "Exit status: 0, or 1 if a template in the catalogue does not load.\n",
    run,
};
