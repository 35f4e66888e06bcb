#include "cli.h"
#include "../base/file.h"
#include "../core/prepare.h"
#include "../base/xmalloc.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates every directory leading to path (not path itself). */
static int make_parents(const char *path)
{
    char *p = bw_xstrdup(path);
    int rc = 0;
    for (char *s = p + 1; *s && rc == 0; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    free(p);
    return rc;
}

/* Answer-file names come from the definition; keep them inside --out. */
static bool is_safe_name(const char *name)
{
    if (!*name || name[0] == '/')
        return false;
    for (const char *p = name; *p;) {
        size_t n = strcspn(p, "/");
        if ((n == 2 && p[0] == '.' && p[1] == '.') || n == 0)
            return false;
        p += n + (p[n] == '/');
    }
    return true;
}

/* Moves every file of from to the end of to, under dir/; from is left empty. */
static void move_under(struct bw_rendered *to, struct bw_rendered *from, const char *dir)
{
    for (size_t i = 0; i < from->n; i++) {
        BW_GROW(to->v, to->alloc, to->n + 1);
        to->v[to->n] = from->v[i];
        char *name = bw_xasprintf("%s/%s", dir, from->v[i].name);
        free(to->v[to->n].name);
        to->v[to->n++].name = name;
    }
    free(from->v);
    memset(from, 0, sizeof(*from));
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"var", required_argument, NULL, 'v'},
                                         {"var-file", required_argument, NULL, 'f'},
                                         {"out", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    struct bw_var_opts vo = {0};
    const char *out = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":ho:", opts, NULL)) != -1) {
        if (c == 'v' || c == 'f') {
            bw_var_opts_add(&vo, c == 'f', optarg);
        } else if (c == 'o') {
            out = optarg;
        } else if (c == 'h') {
            bw_var_opts_release(&vo);
            return bw_cli_help(&bw_cmd_render);
        } else {
            bw_var_opts_release(&vo);
            return bw_cli_option_error(&bw_cmd_render, c, argv);
        }
    }
    if (argc - optind != 1) {
        bw_var_opts_release(&vo);
        return bw_cli_usage_error(&bw_cmd_render, "expected one TEMPLATE or FILE");
    }
    int status = BW_EXIT_OK;
    struct bw_definition *def = bw_cli_load(argv[optind], &vo, &status);
    bw_var_opts_release(&vo);
    if (!def)
        return status;
    char *dir = out ? bw_xstrdup(out) : bw_xasprintf("render-%s", def->name);

    struct bw_errors errs = BW_ERRORS_INIT;
    struct bw_rendered files = BW_RENDERED_INIT;
    struct bw_buf boot = BW_BUF_INIT;
    bw_buf_init(&boot);
    bw_prepare_answer_files(def, &files, &errs);
    if (strcmp(def->boot.method, "keys") == 0)
        bw_prepare_boot_command(def, &boot, NULL, NULL, &errs);
    else if (def->boot.append)
        bw_prepare_string(def, ".boot.append", def->boot.append, &boot, &errs);
    /* cloud-init seeds under nocloud/, with a fixed instance-id so renders compare. */
    struct bw_rendered more = BW_RENDERED_INIT;
    bw_prepare_seed(def, "iid-boxwright-render", &more, &errs);
    move_under(&files, &more, "nocloud");
    /* The answer-file CD's files under cd/, as they go on the volume. */
    bw_prepare_cd_files(def, &more, &errs);
    move_under(&files, &more, "cd");
    const char *last = strcmp(def->boot.method, "kernel") == 0 ? "kernel_append.txt"
                       : strcmp(def->boot.method, "keys") == 0 ? "boot_command.txt"
                                                               : NULL;
    for (size_t i = 0; i < files.n; i++)
        if (last && strcmp(files.v[i].name, last) == 0) {
            struct bw_error e = BW_ERROR_INIT;
            bw_error_at(&e, BW_ERR_SCHEMA, def->file, ".http.render", 0, 0,
                        "an answer file is named %s, where render writes the boot command: "
                        "expected another name",
                        last);
            bw_errors_take(&errs, &e);
        }
    for (size_t i = 0; i < files.n; i++)
        if (!is_safe_name(files.v[i].name)) {
            struct bw_error e = BW_ERROR_INIT;
            bw_error_at(&e, BW_ERR_SCHEMA, def->file, ".http.render", 0, 0,
                        "\"%s\": expected a relative path without \"..\"", files.v[i].name);
            bw_errors_take(&errs, &e);
        }
    if (errs.n) {
        for (size_t i = 0; i < errs.n; i++)
            bw_cli_print_error(&errs.v[i]);
        status = BW_EXIT_FAILED;
        goto cleanup;
    }
    for (size_t i = 0; i <= files.n; i++) {
        if (i == files.n && !last)
            break;
        const char *name = i < files.n ? files.v[i].name : last;
        char *path = bw_xasprintf("%s/%s", dir, name);
        const struct bw_buf *data = i < files.n ? &files.v[i].data : &boot;
        /* Answer files hold passwords and their hashes: readable by their owner only. */
        struct bw_error werr = BW_ERROR_INIT;
        if (make_parents(path) < 0 || bw_file_write(path, data->data, data->len, 0600, &werr) < 0) {
            if (!werr.msg)
                bw_error_at(&werr, BW_ERR_IO, path, NULL, 0, 0, "cannot create its directory: %s",
                            strerror(errno));
            bw_cli_print_error(&werr);
            bw_error_release(&werr);
            status = BW_EXIT_FAILED;
        } else {
            printf("%s\n", path);
        }
        free(path);
    }
cleanup:
    bw_buf_release(&boot);
    bw_rendered_release(&files);
    bw_errors_release(&errs);
    bw_definition_free(def);
    free(dir);
    return status;
}

const struct bw_command bw_cmd_render = {
    "render",
    "write a template's rendered answer files and boot command",
    "usage: boxwright render [--var NAME=VALUE]... [--var-file FILE]... [--out DIR]\n"
    "                        TEMPLATE|FILE\n"
    "\n"
    "Renders the definition's answer files (http.render) and its boot command\n"
    "with the template engine and writes them to DIR (default render-NAME):\n"
    "each answer file under its own name, and boot_command.txt holding exactly\n"
    "the text that would be typed (kernel_append.txt, the kernel command line,\n"
    "for boot method \"kernel\"). cloud-init seeds go under nocloud/ with their\n"
    "NoCloud names (user-data, meta-data, vendor-data, network-config), the\n"
    "generated meta-data with instance-id iid-boxwright-render; the answer-file CD's\n"
    "files (cd.files) under cd/. Built-in variables (HTTPIP, "
    "HTTPPort, HTTPProxy, Name)\n"
    "can be set with --var for this, e.g. --var HTTPIP=192.168.1.5 (HTTPProxy follows\n"
    "HTTPIP and HTTPPort when http.proxy_allow names a host).\n"
    "\n"
    "  --var NAME=VALUE   set a variable (may repeat; applied after var files)\n"
    "  --var-file FILE    a JSON object of variable values (may repeat)\n"
    "  --out DIR, -o DIR  where to write (created if missing)\n"
    "\n"
    "Prints the path of every file written. Exit status: 0; 1 if a file does\n"
    "not render or cannot be written; 2 on a usage error.\n",
    run,
};
