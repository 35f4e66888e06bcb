/* Ubuntu autoinstall checks through libyaml's document API; see autoinstall.h. */
#include "autoinstall.h"
#include "lint.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

/* The sections subiquity takes under autoinstall: (its autoinstall-schema.json and the
 * autoinstall reference of Ubuntu 24.04). */
static const char *const sections[] = {
    "version",
    "interactive-sections",
    "early-commands",
    "locale",
    "refresh-installer",
    "keyboard",
    "source",
    "network",
    "proxy",
    "apt",
    "storage",
    "identity",
    "active-directory",
    "ubuntu-pro",
    "ubuntu-advantage",
    "ssh",
    "codecs",
    "drivers",
    "oem",
    "snaps",
    "debconf-selections",
    "packages",
    "kernel",
    "kernel-crash-dumps",
    "timezone",
    "updates",
    "shutdown",
    "late-commands",
    "error-commands",
    "reporting",
    "user-data",
    "zdevs",
};

/* Sections a user may put at the top of the cloud-config by mistake: no cloud-config module
 * takes these names. */
static const char *const outside[] = {
    "identity",         "storage", "early-commands", "late-commands", "interactive-sections",
    "refresh-installer"};

struct ai {
    const char *file;
    bool (*showable)(long line, void *ud);
    void *ud;
    struct bw_errors *errs;
    yaml_document_t *doc;
};

static void ai_error(struct ai *a, const yaml_node_t *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void ai_error(struct ai *a, const yaml_node_t *at, const char *fmt, ...)
{
    struct bw_error e = BW_ERROR_INIT;
    va_list ap;
    va_start(ap, fmt);
    bw_error_vat(&e, BW_ERR_SCHEMA, a->file, NULL, at ? (int)at->start_mark.line + 1 : 0,
                 at ? (int)at->start_mark.column + 1 : 0, fmt, ap);
    va_end(ap);
    bw_errors_take(a->errs, &e);
}

static bool is_scalar(const yaml_node_t *n, const char *s)
{
    return n && n->type == YAML_SCALAR_NODE && n->data.scalar.length == strlen(s) &&
           memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

static bool shown(const struct ai *a, const yaml_node_t *n)
{
    return !a->showable || a->showable((long)n->start_mark.line + 1, a->ud);
}

/* The value of key in mapping m (and the key's node in *key), or NULL. */
static yaml_node_t *get(struct ai *a, yaml_node_t *m, const char *key, yaml_node_t **keynode)
{
    if (!m || m->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(a->doc, p->key);
        if (is_scalar(k, key)) {
            if (keynode)
                *keynode = k;
            return yaml_document_get_node(a->doc, p->value);
        }
    }
    return NULL;
}

static bool in(const char *const *list, size_t n, const yaml_node_t *k)
{
    for (size_t i = 0; i < n; i++)
        if (is_scalar(k, list[i]))
            return true;
    return false;
}

/* Every key of mapping m is one of list; the others are errors that name what is allowed. */
static void only_keys(struct ai *a, yaml_node_t *m, const char *where, const char *const *list,
                      size_t n, const char *expected)
{
    for (yaml_node_pair_t *p = m->data.mapping.pairs.start; p < m->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(a->doc, p->key);
        if (!k || in(list, n, k))
            continue;
        if (k->type == YAML_SCALAR_NODE && shown(a, k))
            ai_error(a, k, "autoinstall: %s has no key \"%.*s\": expected %s", where,
                     (int)(k->data.scalar.length > 64 ? 64 : k->data.scalar.length),
                     (const char *)k->data.scalar.value, expected);
        else
            ai_error(a, k, "autoinstall: %s has a key it does not know: expected %s", where,
                     expected);
    }
}

static void check_identity(struct ai *a, yaml_node_t *id, yaml_node_t *key)
{
    if (id->type != YAML_MAPPING_NODE) {
        ai_error(a, id,
                 "autoinstall: identity is not a mapping: expected username, hostname "
                 "and password under it");
        return;
    }
    static const char *const keys[] = {"username", "hostname", "password", "realname"};
    only_keys(a, id, "identity", keys, 4, "username, hostname, password, realname");
    for (size_t i = 0; i < 3; i++)
        if (!get(a, id, keys[i], NULL))
            ai_error(a, key,
                     "autoinstall: identity has no %s: expected username, hostname and password "
                     "(a crypt(3) hash); without them subiquity asks",
                     keys[i]);
}

/* interactive-sections names identity (or "*"): the installer asks on purpose. */
static bool asks_identity(struct ai *a, yaml_node_t *ai)
{
    yaml_node_t *is = get(a, ai, "interactive-sections", NULL);
    if (!is || is->type != YAML_SEQUENCE_NODE)
        return false;
    for (yaml_node_item_t *i = is->data.sequence.items.start; i < is->data.sequence.items.top;
         i++) {
        yaml_node_t *n = yaml_document_get_node(a->doc, *i);
        if (is_scalar(n, "identity") || is_scalar(n, "*"))
            return true;
    }
    return false;
}

static void check_autoinstall(struct ai *a, yaml_node_t *ai, yaml_node_t *key)
{
    if (ai->type != YAML_MAPPING_NODE) {
        ai_error(a, ai,
                 "autoinstall: is not a mapping: expected \"version: 1\" and the "
                 "sections under it");
        return;
    }
    only_keys(a, ai, "autoinstall", sections, sizeof(sections) / sizeof(sections[0]),
              "a section subiquity knows (identity, storage, ssh, late-commands, shutdown, ...)");
    yaml_node_t *vkey = NULL, *v = get(a, ai, "version", &vkey);
    if (!v)
        ai_error(a, key, "autoinstall: no version: expected \"version: 1\"");
    else if (!is_scalar(v, "1"))
        ai_error(a, v, "autoinstall: version must be 1: expected \"version: 1\"");
    yaml_node_t *idkey = NULL, *id = get(a, ai, "identity", &idkey);
    if (id)
        check_identity(a, id, idkey);
    else if (!get(a, ai, "user-data", NULL) && !asks_identity(a, ai))
        ai_error(a, key,
                 "autoinstall: neither identity nor user-data: expected identity (username, "
                 "hostname, password); without one subiquity asks for a user");
    yaml_node_t *kb = get(a, ai, "keyboard", NULL);
    if (kb && (kb->type != YAML_MAPPING_NODE || !get(a, kb, "layout", NULL)))
        ai_error(a, kb, "autoinstall: keyboard has no layout: expected e.g. \"layout: us\"");
    yaml_node_t *sdkey = NULL, *sd = get(a, ai, "shutdown", &sdkey);
    if (!sd)
        ai_error(a, key,
                 "autoinstall: no shutdown: subiquity reboots at the end by default, and a build "
                 "waits for the installer to power off; expected \"shutdown: poweroff\"");
    else if (!is_scalar(sd, "poweroff"))
        ai_error(a, sd,
                 "autoinstall: shutdown%s%.*s%s: a build waits for the installer to power off; "
                 "expected \"shutdown: poweroff\"",
                 sd->type == YAML_SCALAR_NODE ? " is \"" : "",
                 sd->type == YAML_SCALAR_NODE
                     ? (int)(sd->data.scalar.length > 32 ? 32 : sd->data.scalar.length)
                     : 0,
                 sd->type == YAML_SCALAR_NODE ? (const char *)sd->data.scalar.value : "",
                 sd->type == YAML_SCALAR_NODE ? "\"" : "");
}

size_t bw_autoinstall_check(const char *file, const char *text, size_t len,
                            bool (*showable)(long line, void *ud), void *ud, bool *is_autoinstall,
                            struct bw_errors *errs)
{
    size_t before = errs->n;
    *is_autoinstall = false;
    struct bw_error e = BW_ERROR_INIT;
    if (len < 13 || memcmp(text, "#cloud-config", 13) != 0) {
        bw_error_at(&e, BW_ERR_SCHEMA, file, NULL, 1, 1,
                    "user-data does not start with \"#cloud-config\" (cloud-init ignores it "
                    "then): expected #cloud-config on the first line");
        bw_errors_take(errs, &e);
        return errs->n - before;
    }
    /* The event parser first: its errors carry positions; then the document. */
    if (bw_yaml_check(file, text, len, &e) < 0) {
        bw_errors_take(errs, &e);
        return errs->n - before;
    }
    yaml_parser_t p;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&p))
        return errs->n - before;
    yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
    if (!yaml_parser_load(&p, &doc)) {
        bw_error_at(&e, BW_ERR_SYNTAX, file, NULL, (int)p.problem_mark.line + 1,
                    (int)p.problem_mark.column + 1, "YAML: %s (expected valid YAML)",
                    p.problem ? p.problem : "cannot load the document");
        bw_errors_take(errs, &e);
        yaml_parser_delete(&p);
        return errs->n - before;
    }
    struct ai a = {file, showable, ud, errs, &doc};
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    yaml_node_t *key = NULL, *ai = get(&a, root, "autoinstall", &key);
    if (ai) {
        *is_autoinstall = true;
        check_autoinstall(&a, ai, key);
        for (size_t i = 0; i < sizeof(outside) / sizeof(outside[0]); i++) {
            yaml_node_t *k = NULL;
            if (get(&a, root, outside[i], &k))
                ai_error(&a, k,
                         "autoinstall: %s is outside autoinstall: (subiquity 24.04 refuses the "
                         "file): expected it under autoinstall:",
                         outside[i]);
        }
    }
    yaml_document_delete(&doc);
    yaml_parser_delete(&p);
    return errs->n - before;
}
