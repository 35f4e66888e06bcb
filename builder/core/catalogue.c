#include "catalogue.h"
#include "../base/buf.h"
#include "definition.h"
#include "../base/xmalloc.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <regex.h>
#include <string.h>
#include <sys/stat.h>

#ifndef BW_TEMPLATES_DIR
#define BW_TEMPLATES_DIR "templates"
#endif

const char *bw_catalogue_dir(void)
{
    const char *env = getenv("BOXWRIGHT_TEMPLATES");
    return env && *env ? env : BW_TEMPLATES_DIR;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const struct bw_catalogue_entry *)a)->name,
                  ((const struct bw_catalogue_entry *)b)->name);
}

int bw_catalogue_list(struct bw_catalogue *cat, struct bw_error *err)
{
    const char *dir = bw_catalogue_dir();
    DIR *d = opendir(dir);
    if (!d) {
        bw_error_at(err, BW_ERR_IO, dir, NULL, 0, 0,
                    "cannot read the template catalogue: %s (set BOXWRIGHT_TEMPLATES to the "
                    "templates directory)",
                    strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *path = bw_xasprintf("%s/%s/definition.json", dir, de->d_name);
        if (!is_file(path)) {
            free(path);
            continue;
        }
        BW_GROW(cat->v, cat->alloc, cat->n + 1);
        struct bw_catalogue_entry *e = &cat->v[cat->n++];
        memset(e, 0, sizeof(*e));
        e->name = bw_xstrdup(de->d_name);
        e->path = path;
        struct bw_errors errs = BW_ERRORS_INIT;
        struct bw_definition *def = bw_definition_load(path, &errs);
        if (def) {
            e->os = bw_xasprintf("%s%s%s%s%s", def->os.family, def->os.distro ? " " : "",
                                 def->os.distro ? def->os.distro : "", def->os.version ? " " : "",
                                 def->os.version ? def->os.version : "");
            e->description = bw_xstrdup(def->description ? def->description : "");
            e->volume_id = def->iso.volume_id ? bw_xstrdup(def->iso.volume_id) : NULL;
            e->firmware = bw_xstrdup(def->vm.firmware);
        } else {
            e->problem = bw_error_format(&errs.v[0]);
        }
        bw_definition_free(def);
        bw_errors_release(&errs);
    }
    closedir(d);
    qsort(cat->v, cat->n, sizeof(cat->v[0]), by_name);
    return 0;
}

void bw_catalogue_release(struct bw_catalogue *cat)
{
    for (size_t i = 0; i < cat->n; i++) {
        free(cat->v[i].name);
        free(cat->v[i].path);
        free(cat->v[i].os);
        free(cat->v[i].description);
        free(cat->v[i].problem);
        free(cat->v[i].volume_id);
        free(cat->v[i].firmware);
    }
    free(cat->v);
    memset(cat, 0, sizeof(*cat));
}

char *bw_catalogue_resolve(const char *arg, struct bw_error *err)
{
    size_t len = strlen(arg);
    if (is_file(arg) || strchr(arg, '/') || (len > 5 && strcmp(arg + len - 5, ".json") == 0)) {
        if (!is_file(arg)) {
            bw_error_at(err, BW_ERR_NOT_FOUND, arg, NULL, 0, 0,
                        "no such definition file (expected a path to a definition JSON file "
                        "or a template name)");
            return NULL;
        }
        return bw_xstrdup(arg);
    }
    char *path = bw_xasprintf("%s/%s/definition.json", bw_catalogue_dir(), arg);
    if (is_file(path))
        return path;
    free(path);
    struct bw_catalogue cat = BW_CATALOGUE_INIT;
    struct bw_error ignored = BW_ERROR_INIT;
    struct bw_buf names = BW_BUF_INIT;
    bw_catalogue_list(&cat, &ignored);
    for (size_t i = 0; i < cat.n; i++)
        bw_buf_addf(&names, "%s%s", i ? ", " : "", cat.v[i].name);
    bw_error_set(err, BW_ERR_NOT_FOUND,
                 "\"%s\" is neither a file nor a template in %s (templates: %s)", arg,
                 bw_catalogue_dir(), names.len ? names.data : "none");
    bw_buf_release(&names);
    bw_error_release(&ignored);
    bw_catalogue_release(&cat);
    return NULL;
}

bool bw_catalogue_matches_volume(const struct bw_catalogue_entry *e, const char *volume_id)
{
    regex_t re;
    if (!e->volume_id || regcomp(&re, e->volume_id, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool m = regexec(&re, volume_id, 0, NULL, 0) == 0;
    regfree(&re);
    return m;
}
