/* boxwright publish: a build's boxes added to a Vagrant box catalogue as one new version. */
#include "cli.h"
#include "../base/buf.h"
#include "../base/xmalloc.h"
#include "../export/catalog.h"
#include "../export/exporter.h"

#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The provider of a manifest's box: its "provider", or for a manifest written before there was
 * one, the exporter whose name ends the file's ("<name>-<provider>.box"). */
static const char *provider_of(json_t *art, const char *path)
{
    const char *p = json_string_value(json_object_get(art, "provider"));
    if (p)
        return bw_exporter_find(p) ? p : NULL;
    for (const char *const *x = bw_exporter_providers(); *x; x++) {
        size_t lp = strlen(path), lx = strlen(*x);
        if (lp > lx + 5 && path[lp - lx - 5] == '-' && strncmp(path + lp - lx - 4, *x, lx) == 0 &&
            strcmp(path + lp - 4, ".box") == 0)
            return *x;
    }
    return NULL;
}

/* "https://host/dir" as given; a local directory as a file:// URL of its real path. */
static char *url_base(const char *base, struct bw_error *err)
{
    if (strstr(base, "://"))
        return bw_xstrdup(base);
    char real[PATH_MAX];
    if (!realpath(base, real)) {
        bw_error_at(err, BW_ERR_NOT_FOUND, base, NULL, 0, 0,
                    "no such directory: expected a URL or a local directory for --url");
        return NULL;
    }
    return bw_xasprintf("file://%s", real);
}

static int publish(const char *out, const char *catalog, const char *name, const char *version,
                   const char *base, const char *description, struct bw_error *err)
{
    char *manifest = bw_xasprintf("%s/manifest.json", out);
    json_error_t jerr;
    json_t *m = json_load_file(manifest, 0, &jerr);
    int rc = -1;
    char *prefix = NULL;
    struct bw_catalog_box *boxes = NULL;
    size_t n = 0;
    json_t *arts = json_object_get(m, "artifacts");
    if (!m) {
        bw_error_at(err, BW_ERR_NOT_FOUND, manifest, NULL, jerr.line, jerr.column,
                    "%s: expected the manifest of a build (publish takes a build's output "
                    "directory)",
                    jerr.text);
        goto out;
    }
    if (!json_is_array(arts)) {
        bw_error_at(err, BW_ERR_SYNTAX, manifest, ".artifacts", 0, 0,
                    "expected a list of artifacts");
        goto out;
    }
    if (!(prefix = url_base(base ? base : out, err)))
        goto out;
    boxes = bw_xcalloc(json_array_size(arts) + 1, sizeof(*boxes));
    size_t i;
    json_t *art;
    json_array_foreach(arts, i, art)
    {
        const char *type = json_string_value(json_object_get(art, "type"));
        const char *path = json_string_value(json_object_get(art, "path"));
        const char *sha = json_string_value(json_object_get(art, "sha256"));
        if (!type || strcmp(type, "vagrant-box") != 0)
            continue;
        const char *provider = path ? provider_of(art, path) : NULL;
        if (!provider || !sha || strchr(path, '/')) {
            bw_error_at(err, BW_ERR_SYNTAX, manifest, NULL, 0, 0,
                        ".artifacts[%zu]: expected a box with a path, a provider and a sha256", i);
            goto out;
        }
        boxes[n++] = (struct bw_catalog_box){provider, bw_xasprintf("%s/%s", prefix, path), sha};
    }
    const char *built = json_string_value(json_object_get(m, "name"));
    if (!name && !built) {
        bw_error_at(err, BW_ERR_SYNTAX, manifest, ".name", 0, 0,
                    "the manifest names no box: expected --name");
        goto out;
    }
    rc = bw_catalog_add(catalog, name ? name : built, description, version, boxes, n, err);
    if (rc == 0)
        fprintf(stderr, "boxwright: %s %s: %zu box%s added to %s\n", name ? name : built, version,
                n, n == 1 ? "" : "es", catalog);
out:
    for (size_t k = 0; k < n; k++)
        free((char *)boxes[k].url);
    free(boxes);
    free(prefix);
    json_decref(m);
    free(manifest);
    return rc;
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {{"catalog", required_argument, NULL, 'c'},
                                         {"version", required_argument, NULL, 'V'},
                                         {"name", required_argument, NULL, 'n'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"description", required_argument, NULL, 'd'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *catalog = NULL, *version = NULL, *name = NULL, *base = NULL, *desc = NULL;
    int c;
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        if (c == 'c')
            catalog = optarg;
        else if (c == 'V')
            version = optarg;
        else if (c == 'n')
            name = optarg;
        else if (c == 'u')
            base = optarg;
        else if (c == 'd')
            desc = optarg;
        else if (c == 'h')
            return bw_cli_help(&bw_cmd_publish);
        else
            return bw_cli_option_error(&bw_cmd_publish, c, argv);
    }
    if (argc - optind != 1 || !catalog || !version)
        return bw_cli_usage_error(&bw_cmd_publish,
                                  "expected OUTPUT_DIR, --catalog FILE and --version VERSION");
    if (!bw_catalog_version_ok(version))
        return bw_cli_usage_error(&bw_cmd_publish,
                                  "--version \"%s\": expected numbers and letters between dots, "
                                  "beginning with a number (1.0.0, 2026.12.01)",
                                  version);
    struct bw_error err = BW_ERROR_INIT;
    int rc = publish(argv[optind], catalog, name, version, base, desc, &err);
    if (rc < 0) {
        bw_cli_print_error(&err);
        int status = err.code == BW_ERR_USAGE ? BW_EXIT_USAGE : BW_EXIT_FAILED;
        bw_error_release(&err);
        return status;
    }
    return BW_EXIT_OK;
}

const struct bw_command bw_cmd_publish = {
    "publish",
    "add a build's boxes to a Vagrant box catalogue",
    "usage: boxwright publish OUTPUT_DIR --catalog FILE --version VERSION [--name NAME]\n"
    "                         [--url BASE] [--description TEXT]\n"
    "\n"
    "Adds the boxes of one build (its output directory's manifest.json) to a\n"
    "Vagrant box catalogue as a new version, creating the catalogue if need be.\n"
    "Each provider's box is listed with its sha256, at BASE/<box file>. Then\n"
    "`vagrant box add URL-of-the-catalogue` installs the newest version and\n"
    "`vagrant box update` moves to a newer one. Published versions are never\n"
    "changed: a version already in the catalogue is an error.\n"
    "\n"
    "  --catalog FILE      the catalogue (JSON) to add to\n"
    "  --version VERSION   this build's version: 1.0.0, 2026.12.01, ...\n"
    "  --name NAME         the box's name in Vagrant, e.g. org/debian-12 (default:\n"
    "                      the build's name); a catalogue holds one box\n"
    "  --url BASE          where the boxes will be downloaded from: a URL, or a\n"
    "                      local directory (a file:// URL); default OUTPUT_DIR\n"
    "  --description TEXT  the catalogue's description, when it is new\n"
    "\n"
    "Exit status: 0 when the version was added; 1 when the manifest or the\n"
    "catalogue cannot be used; 2 on a usage error or a version already there.\n",
    run,
};
