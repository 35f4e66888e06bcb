/* Vagrant's box catalogue: one version added per build; see catalog.h. */
#include "catalog.h"
#include "../base/file.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int bw_catalog_version_ok(const char *version)
{
    /* segments of [0-9A-Za-z]+ between single dots, the first a number */
    if (!version || !isdigit((unsigned char)version[0]))
        return 0;
    size_t seg = 0;
    for (const char *p = version; *p; p++) {
        if (*p == '.') {
            if (seg == 0 || !p[1])
                return 0;
            seg = 0;
        } else if (isalnum((unsigned char)*p)) {
            seg++;
        } else {
            return 0;
        }
    }
    return seg > 0;
}

/* The catalogue at path, or a new one; NULL with err when the file is there but unusable. */
static json_t *load(const char *path, const char *name, const char *description,
                    struct bw_error *err)
{
    struct stat st;
    if (stat(path, &st) < 0 && errno == ENOENT) {
        json_t *c = json_pack("{s:s,s:[]}", "name", name, "versions");
        if (description)
            json_object_set_new(c, "description", json_string(description));
        return c;
    }
    json_error_t jerr;
    json_t *c = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!c) {
        bw_error_at(err, BW_ERR_SYNTAX, path, NULL, jerr.line, jerr.column,
                    "%s: expected a Vagrant box catalogue (JSON)", jerr.text);
        return NULL;
    }
    const char *have = json_string_value(json_object_get(c, "name"));
    if (!json_is_object(c) || !json_is_array(json_object_get(c, "versions")) || !have) {
        bw_error_at(err, BW_ERR_SYNTAX, path, NULL, 0, 0,
                    "expected a Vagrant box catalogue: an object with \"name\" and \"versions\"");
    } else if (strcmp(have, name) != 0) {
        bw_error_at(err, BW_ERR_USAGE, path, ".name", 0, 0,
                    "the catalogue is for \"%s\", not \"%s\": expected one catalogue per box", have,
                    name);
    } else {
        return c;
    }
    json_decref(c);
    return NULL;
}

int bw_catalog_add(const char *path, const char *name, const char *description, const char *version,
                   const struct bw_catalog_box *boxes, size_t n, struct bw_error *err)
{
    if (!bw_catalog_version_ok(version)) {
        bw_error_set(err, BW_ERR_USAGE,
                     "version \"%s\": expected numbers and letters between dots, beginning with "
                     "a number (1.0.0, 2026.12.01)",
                     version ? version : "");
        return -1;
    }
    if (n == 0) {
        bw_error_set(err, BW_ERR_USAGE, "no boxes to publish: expected at least one");
        return -1;
    }
    json_t *c = load(path, name, description, err);
    if (!c)
        return -1;
    json_t *versions = json_object_get(c, "versions");
    size_t i;
    json_t *v;
    json_array_foreach(versions, i, v)
    {
        const char *have = json_string_value(json_object_get(v, "version"));
        if (have && strcmp(have, version) == 0) {
            bw_error_at(err, BW_ERR_USAGE, path, NULL, 0, 0,
                        "version %s is already in the catalogue: expected a new version "
                        "(published versions are never changed)",
                        version);
            json_decref(c);
            return -1;
        }
    }
    json_t *providers = json_array();
    for (size_t k = 0; k < n; k++)
        json_array_append_new(providers, json_pack("{s:s,s:s,s:s,s:s}", "name", boxes[k].provider,
                                                   "url", boxes[k].url, "checksum_type", "sha256",
                                                   "checksum", boxes[k].sha256));
    json_array_append_new(versions,
                          json_pack("{s:s,s:o}", "version", version, "providers", providers));
    char *text = json_dumps(c, JSON_INDENT(2));
    int rc = bw_file_write(path, text, strlen(text), 0644, err);
    free(text);
    json_decref(c);
    return rc;
}
