/*
 * golden - compare output with an expected file beside its input.
 *
 * Tests are data: each case is an input file under tests/data/<suite>/ and
 * one expected-output file per translation. golden_check() compares; with
 * BW_REGENERATE=1 in the environment it rewrites the expected file instead,
 * so a deliberate change is one run plus a reviewed diff.
 */
#ifndef BW_GOLDEN_H
#define BW_GOLDEN_H

#include <stddef.h>

/* Directory of test data (absolute). */
const char *golden_data_dir(void);
/* Returns the sorted file names in data/<sub> ending in suffix; NULL-terminated, caller frees all.
 */
char **golden_list(const char *sub, const char *suffix);
void golden_list_free(char **names);
/* Reads data/<sub>/<name> into a new NUL-terminated string (len in *len); aborts the test if
 * missing. */
char *golden_read(const char *sub, const char *name, size_t *len);
/*
 * Compares actual with data/<sub>/<name>. Returns NULL if equal (or
 * regenerated), else a new message naming the file and the first differing
 * line, for ck_assert_msg.
 */
char *golden_check(const char *sub, const char *name, const char *actual, size_t len);
/* Replaces the suffix of name: ("a.txt", ".txt", ".qmp") -> "a.qmp"; caller frees. */
char *golden_swap_suffix(const char *name, const char *from, const char *to);

/* Runs suite s (CK_NORMAL output), frees it; returns the process exit status. */
struct Suite;
int test_run(struct Suite *s);

/* Removes a test's scratch directory tree (rm -rf, through the spawn helper). */
void test_rm_rf(const char *path);
/* Waits (up to 15 s) until something listens on 127.0.0.1:port; fails the test otherwise. */
void test_wait_port(unsigned port);

#endif
