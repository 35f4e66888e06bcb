/* boxwright detect: the catalogue's template for an installer ISO, from its volume ID. */
#include "cli.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"
#include "../core/catalogue.h"
#include "../disk/iso.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The templates whose iso.volume_id matches: their indexes in cat, *n of them. */
static size_t matches(const struct bw_catalogue *cat, const char *volid, size_t *idx)
{
    size_t n = 0;
    for (size_t i = 0; i < cat->n; i++)
        if (!cat->v[i].problem && bw_catalogue_matches_volume(&cat->v[i], volid))
            idx[n++] = i;
    return n;
}

/* What the catalogue knows: "NAME /ERE/, ..." for an error that says what was expected. */
static void known(const struct bw_catalogue *cat, struct bw_buf *b)
{
    for (size_t i = 0; i < cat->n; i++)
        if (cat->v[i].volume_id)
            bw_buf_addf(b, "%s%s /%s/", b->len ? ", " : "", cat->v[i].name, cat->v[i].volume_id);
    if (!b->len)
        bw_buf_adds(b, "no template of the catalogue names a volume ID");
}

char *bw_cli_detect(const char *iso, struct bw_error *err)
{
    char volid[33];
    if (bw_iso_volume_id(iso, volid, err) < 0)
        return NULL;
    struct bw_catalogue cat = BW_CATALOGUE_INIT;
    if (bw_catalogue_list(&cat, err) < 0)
        return NULL;
    size_t *idx = bw_xcalloc(cat.n + 1, sizeof(size_t));
    size_t n = matches(&cat, volid, idx);
    char *name = n == 1 ? bw_xstrdup(cat.v[idx[0]].name) : NULL;
    if (n != 1) {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_init(&b);
        if (n == 0)
            known(&cat, &b);
        for (size_t i = 0; i < n; i++)
            bw_buf_addf(&b, "%s%s", i ? ", " : "", cat.v[idx[i]].name);
        bw_error_at(err, BW_ERR_NOT_FOUND, iso, NULL, 0, 0,
                    n == 0 ? "volume ID \"%s\": no template knows it; expected one of: %s"
                           : "volume ID \"%s\": more than one template knows it (%s); name one",
                    volid, b.data);
        bw_buf_release(&b);
    }
    free(idx);
    bw_catalogue_release(&cat);
    return name;
}

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
            return bw_cli_help(&bw_cmd_detect);
        else
            return bw_cli_option_error(&bw_cmd_detect, c, argv);
    }
    if (argc - optind != 1)
        return bw_cli_usage_error(&bw_cmd_detect, "expected one ISO");
    const char *iso = argv[optind];
    struct bw_error err = BW_ERROR_INIT;
    char volid[33];
    struct bw_catalogue cat = BW_CATALOGUE_INIT;
    if (bw_iso_volume_id(iso, volid, &err) < 0 || bw_catalogue_list(&cat, &err) < 0) {
        bw_cli_print_error(&err);
        bw_error_release(&err);
        return BW_EXIT_FAILED;
    }
    size_t *idx = bw_xcalloc(cat.n + 1, sizeof(size_t));
    size_t n = matches(&cat, volid, idx);
    if (json) {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_adds(&b, "{\"volume_id\":");
        bw_buf_add_json_string(&b, volid);
        bw_buf_adds(&b, ",\"templates\":[");
        for (size_t i = 0; i < n; i++) {
            bw_buf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
            bw_buf_add_json_string(&b, cat.v[idx[i]].name);
            bw_buf_adds(&b, ",\"firmware\":");
            bw_buf_add_json_string(&b, cat.v[idx[i]].firmware);
            bw_buf_addc(&b, '}');
        }
        bw_buf_adds(&b, "]}");
        puts(b.data);
        bw_buf_release(&b);
    } else if (n) {
        printf("%s: volume ID \"%s\"\n", iso, volid);
        for (size_t i = 0; i < n; i++)
            printf("%s (firmware %s)\n", cat.v[idx[i]].name, cat.v[idx[i]].firmware);
    } else {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_init(&b);
        known(&cat, &b);
        fprintf(stderr,
                "boxwright: %s: volume ID \"%s\": no template knows it; expected one of: %s\n", iso,
                volid, b.data);
        bw_buf_release(&b);
    }
    free(idx);
    bw_catalogue_release(&cat);
    return n ? BW_EXIT_OK : BW_EXIT_FAILED;
}

const struct bw_command bw_cmd_detect = {
    "detect",
    "name the template for an installer ISO",
    "usage: boxwright detect [--json] ISO\n"
    "\n"
    "Reads the ISO's volume ID (its ISO 9660 Primary Volume Descriptor) and names\n"
    "the templates whose iso.volume_id (a POSIX extended regular expression)\n"
    "matches it, with each one's firmware. `boxwright build --iso ISO` builds\n"
    "from the ISO with the one template it names.\n"
    "\n"
    "  --json              {\"volume_id\", \"templates\": [{\"name\", \"firmware\"}]}\n"
    "\n"
    "Exit status: 0 when a template matches; 1 when none does (the volume ID\n"
    "and what the catalogue knows are said) or the file is no ISO; 2 on a usage\n"
    "error.\n",
    run,
};
