/*
 * schema - a JSON schema as data (private to builder/core/).
 *
 * One table of fields per JSON object. A field says its key, its kind,
 * where it lands in the target struct and its limits; one walker applies
 * any table. Arrays of objects (provision, exports, checks) have a `list`
 * handler that allocates elements and walks their own table. Every error is
 * reported with the file, line and column of the value (struct loader's
 * positions), and the walk goes on, so one run reports them all.
 */
#ifndef BW_SCHEMA_H
#define BW_SCHEMA_H

#include "definition.h"
#include "../base/jsonpos.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

struct loader {
    const char *file;
    struct bw_jsonpos pos;
    struct bw_errors *errs;
    struct bw_definition *def;
};

enum kind {
    K_STRING,   /* char * */
    K_INT,      /* long, within [min, max] */
    K_BOOL,     /* bool */
    K_DURATION, /* uint64_t milliseconds */
    K_SIZE,     /* uint64_t bytes, at least min bytes */
    K_STRLIST,  /* struct bw_strlist */
    K_ENUM,     /* char *, one of choices */
    K_OBJECT,   /* nested table, same base pointer + offset */
    K_LIST,     /* array of objects through a handler */
    K_VARS,     /* the variables object */
    K_LATER,    /* checked in cross_checks() once everything else is loaded */
};

struct schema;

typedef void (*list_fn)(struct loader *ld, json_t *arr, const char *path, void *base);

struct field {
    const char *key;
    enum kind kind;
    size_t offset;
    bool required;
    long min, max;
    const char *const *choices;
    const struct schema *sub;
    list_fn list;
    const char *help; /* what the value should look like, for errors */
};

struct schema {
    const struct field *fields;
    size_t n;
};

#define SCHEMA(arr)                                                                                \
    {                                                                                              \
        arr, sizeof(arr) / sizeof(arr[0])                                                          \
    }

/* schema.c */
void bw_schema_report(struct loader *ld, const char *path, bool at_key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void bw_schema_bad_value(struct loader *ld, const char *path, json_t *v, const char *expected);
void bw_schema_walk(struct loader *ld, json_t *obj, const char *path, const struct schema *sc,
                    void *base);
void *bw_schema_walk_array(struct loader *ld, json_t *arr, const char *path,
                           const struct schema *sc, size_t elem, size_t *count,
                           void (*init)(void *));

#endif
