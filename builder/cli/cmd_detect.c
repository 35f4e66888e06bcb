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

/* What detect finds for an ISO: its volume ID, the catalogue, and the templates that match it
 * (indexes into cat). */
struct found {
    char volid[33];
    struct bw_catalogue cat;
    size_t *idx, n;
};

static int find(const char *iso, struct found *f, struct bw_error *err)
{
    memset(f, 0, sizeof(*f));
    if (bw_iso_volume_id(iso, f->volid, err) < 0 || bw_catalogue_list(&f->cat, err) < 0)
        return -1;
    f->idx = bw_xcalloc(f->cat.n + 1, sizeof(size_t));
    for (size_t i = 0; i < f->cat.n; i++)
        if (!f->cat.v[i].problem && bw_catalogue_matches_volume(&f->cat.v[i], f->volid))
            f->idx[f->n++] = i;
    return 0;
}

static void found_release(struct found *f)
{
    free(f->idx);
    bw_catalogue_release(&f->cat);
}

/* None matched: the volume ID and what the catalogue knows ("NAME /ERE/, ..."). */
static void say_unknown(const char *iso, const struct found *f, struct bw_error *err)
{
    struct bw_buf b = BW_BUF_INIT;
    bw_buf_init(&b);
    for (size_t i = 0; i < f->cat.n; i++)
        if (f->cat.v[i].volume_id)
            bw_buf_addf(&b, "%s%s /%s/", b.len ? ", " : "", f->cat.v[i].name,
                        f->cat.v[i].volume_id);
    if (!b.len)
        bw_buf_adds(&b, "no template of the catalogue names a volume ID");
    bw_error_at(err, BW_ERR_NOT_FOUND, iso, NULL, 0, 0,
                "volume ID \"%s\": no template knows it; expected one of: %s", f->volid, b.data);
    bw_buf_release(&b);
}

char *bw_cli_detect(const char *iso, struct bw_error *err)
{
    struct found f;
    char *name = NULL;
    if (find(iso, &f, err) == 0 && f.n == 0) {
        say_unknown(iso, &f, err);
    } else if (f.n > 1) {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_init(&b);
        for (size_t i = 0; i < f.n; i++)
            bw_buf_addf(&b, "%s%s", i ? ", " : "", f.cat.v[f.idx[i]].name);
        bw_error_at(err, BW_ERR_NOT_FOUND, iso, NULL, 0, 0,
                    "volume ID \"%s\": more than one template knows it (%s); name one", f.volid,
                    b.data);
        bw_buf_release(&b);
    } else if (f.n == 1) {
        name = bw_xstrdup(f.cat.v[f.idx[0]].name);
    }
    found_release(&f);
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
    struct found f;
    if (find(iso, &f, &err) < 0) {
        found_release(&f);
        bw_cli_print_error(&err);
        bw_error_release(&err);
        return BW_EXIT_FAILED;
    }
    if (json) {
        struct bw_buf b = BW_BUF_INIT;
        bw_buf_adds(&b, "{\"volume_id\":");
        bw_buf_add_json_string(&b, f.volid);
        bw_buf_adds(&b, ",\"templates\":[");
        for (size_t i = 0; i < f.n; i++) {
            bw_buf_adds(&b, i ? ",{\"name\":" : "{\"name\":");
            bw_buf_add_json_string(&b, f.cat.v[f.idx[i]].name);
            bw_buf_adds(&b, ",\"firmware\":");
            bw_buf_add_json_string(&b, f.cat.v[f.idx[i]].firmware);
            bw_buf_addc(&b, '}');
        }
        bw_buf_adds(&b, "]}");
        puts(b.data);
        bw_buf_release(&b);
    } else if (f.n) {
        printf("%s: volume ID \"%s\"\n", iso, f.volid);
        for (size_t i = 0; i < f.n; i++)
            printf("%s (firmware %s)\n", f.cat.v[f.idx[i]].name, f.cat.v[f.idx[i]].firmware);
    } else {
        say_unknown(iso, &f, &err);
        bw_cli_print_error(&err);
        bw_error_release(&err);
    }
    int status = f.n ? BW_EXIT_OK : BW_EXIT_FAILED;
    found_release(&f);
    return status;
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
