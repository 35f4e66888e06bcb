/* Checks of an Agama profile; see agama.h. */
#include "agama.h"
#include "../base/buf.h"
#include "../base/jsonpos.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <string.h>

struct ag {
    const char *file;
    struct bw_jsonpos pos;
    struct bw_errors *errs;
    size_t count;
};

static void ag_error(struct ag *a, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* An error at the value `path` names (or, when it is not there, at the file's start). */
static void ag_error(struct ag *a, const char *path, const char *fmt, ...)
{
    const struct bw_jsonpos_entry *at = bw_jsonpos_find(&a->pos, path);
    struct bw_error e = BW_ERROR_INIT;
    va_list ap;
    va_start(ap, fmt);
    bw_error_vat(&e, BW_ERR_SCHEMA, a->file, NULL, at ? at->line : 1, at ? at->col : 1, fmt, ap);
    va_end(ap);
    bw_errors_take(a->errs, &e);
    a->count++;
}

static bool nonempty_string(json_t *v)
{
    return json_is_string(v) && json_string_length(v) > 0;
}

/* A member that must be a string when it is there. */
static void string_member(struct ag *a, json_t *obj, const char *path, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (v && !json_is_string(v))
        ag_error(a, path, "Agama: %s must be a string", path);
}

static void scripts_check(struct ag *a, json_t *scripts)
{
    if (!scripts)
        return;
    if (!json_is_object(scripts)) {
        ag_error(a, ".scripts",
                 "Agama: .scripts must be an object of pre, postPartitioning, "
                 "post and init lists");
        return;
    }
    static const char *const kinds[] = {"pre", "postPartitioning", "post", "init"};
    const char *key;
    json_t *list;
    json_object_foreach(scripts, key, list)
    {
        bool known = false;
        for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
            known = known || strcmp(key, kinds[k]) == 0;
        struct bw_buf path = BW_BUF_INIT;
        bw_buf_init(&path);
        bw_buf_adds(&path, ".scripts");
        bw_jsonpath_add_key(&path, key);
        if (!known) {
            ag_error(a, path.data,
                     "Agama: scripts of an unknown kind: expected pre, postPartitioning, post or "
                     "init");
        } else if (!json_is_array(list)) {
            ag_error(a, path.data, "Agama: %s must be a list of scripts", path.data);
        } else {
            size_t i;
            json_t *s;
            json_array_foreach(list, i, s)
            {
                struct bw_buf p = BW_BUF_INIT;
                bw_buf_init(&p);
                bw_buf_addf(&p, "%s[%zu]", path.data, i);
                const char *at = p.data;
                if (!json_is_object(s)) {
                    ag_error(a, at, "Agama: %s must be an object with name and body or url", at);
                    bw_buf_release(&p);
                    continue;
                }
                if (!nonempty_string(json_object_get(s, "name")))
                    ag_error(a, at, "Agama: %s has no name: expected \"name\": \"...\"", at);
                bool body = json_object_get(s, "body") != NULL;
                bool url = json_object_get(s, "url") != NULL;
                if (body == url)
                    ag_error(a, at, "Agama: %s needs exactly one of body and url", at);
                string_member(a, s, at, "body");
                json_t *chroot = json_object_get(s, "chroot");
                if (chroot && !json_is_boolean(chroot))
                    ag_error(a, at, "Agama: %s: chroot must be true or false", at);
                bw_buf_release(&p);
            }
        }
        bw_buf_release(&path);
    }
}

size_t bw_agama_check(const char *file, const char *text, size_t len, struct bw_errors *errs)
{
    struct ag a = {file, BW_JSONPOS_INIT, errs, 0};
    json_error_t jerr;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        struct bw_error e = BW_ERROR_INIT;
        bw_error_at(&e, BW_ERR_SCHEMA, file, NULL, jerr.line > 0 ? jerr.line : 1,
                    jerr.column > 0 ? jerr.column : 1, "Agama: %s: expected a JSON profile",
                    jerr.text);
        bw_errors_take(errs, &e);
        return 1;
    }
    bw_jsonpos_index(&a.pos, text, len);
    if (!json_is_object(root)) {
        ag_error(&a, "", "Agama: the profile must be a JSON object");
        goto done;
    }
    json_t *product = json_object_get(root, "product");
    if (product && !json_is_object(product))
        ag_error(&a, ".product", "Agama: .product must be an object with an id");
    else if (!nonempty_string(json_object_get(product, "id")))
        ag_error(&a, product ? ".product" : "",
                 "Agama: expected .product.id (e.g. \"openSUSE_Leap\"): without it Agama asks "
                 "which product to install");

    json_t *user = json_object_get(root, "user"), *rootuser = json_object_get(root, "root");
    if (user && !json_is_object(user))
        ag_error(&a, ".user", "Agama: .user must be an object");
    if (rootuser && !json_is_object(rootuser))
        ag_error(&a, ".root", "Agama: .root must be an object");
    string_member(&a, user, ".user.userName", "userName");
    string_member(&a, user, ".user.fullName", "fullName");
    string_member(&a, user, ".user.password", "password");
    string_member(&a, rootuser, ".root.password", "password");
    string_member(&a, rootuser, ".root.sshPublicKey", "sshPublicKey");
    json_t *hashed = json_object_get(user, "hashedPassword");
    if (hashed && !json_is_boolean(hashed))
        ag_error(&a, ".user.hashedPassword", "Agama: .user.hashedPassword must be true or false");
    bool login = (nonempty_string(json_object_get(user, "userName")) &&
                  nonempty_string(json_object_get(user, "password"))) ||
                 nonempty_string(json_object_get(rootuser, "password")) ||
                 nonempty_string(json_object_get(rootuser, "sshPublicKey"));
    if (!login)
        ag_error(&a,
                 user       ? ".user"
                 : rootuser ? ".root"
                            : "",
                 "Agama: no login: expected .user with userName and password, or .root with "
                 "password or sshPublicKey (the build logs in over SSH)");
    scripts_check(&a, json_object_get(root, "scripts"));
done:
    json_decref(root);
    bw_jsonpos_release(&a.pos);
    return a.count;
}
