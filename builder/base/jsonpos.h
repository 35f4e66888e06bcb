/*
 * jsonpos - where each value of a JSON document sits (line and column).
 *
 * jansson reports positions only for syntax errors; once a document parses,
 * its values carry none. Schema errors ("memory must be a size") still need
 * file:line:col, so after jansson accepts a document we index it once: every
 * value gets its JSON path (".vm.memory", ".boot.command[2]", `.variables["a b"]`)
 * and the 1-based line and column of the value and, for object members, of
 * the key. Columns count characters (UTF-8 code points), as editors do.
 *
 * The indexer never reads past `len` and tolerates malformed input (it stops
 * at the first thing it does not understand), so it is safe on any bytes.
 */
#ifndef BW_JSONPOS_H
#define BW_JSONPOS_H

#include <stddef.h>

struct bw_jsonpos_entry {
    char *path;
    int line, col;   /* of the value */
    int kline, kcol; /* of the member's key; 0 for array elements and the root */
};

struct bw_jsonpos {
    struct bw_jsonpos_entry *v;
    size_t n, alloc;
};

#define BW_JSONPOS_INIT                                                                            \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void bw_jsonpos_index(struct bw_jsonpos *ix, const char *text, size_t len);
/* Finds path; returns the entry or NULL. The entry is borrowed from ix. */
const struct bw_jsonpos_entry *bw_jsonpos_find(const struct bw_jsonpos *ix, const char *path);
void bw_jsonpos_release(struct bw_jsonpos *ix);
/* Appends the path component for object key `key` to b: ".key" or `["key"]`. */
struct bw_buf;
void bw_jsonpath_add_key(struct bw_buf *b, const char *key);

#endif
