/*
 * readback - does the text on a guest's screen say what was typed?
 *
 * Pure functions over a text screen (cells in row-major order, `cols` wide),
 * so the rules can be tested against recorded screens without a VM.
 *
 * A typed line wraps. Boot loaders wrap it in their own ways: isolinux 6.04
 * (Debian's) counts the prompt wrongly and breaks each long line once more a
 * few characters after the screen edge, leaving rows that end in blanks; after
 * an edit it redraws the whole line on fresh rows with the cursor one cell past
 * its end. So rows are read as a joined line where a row's trailing blanks and
 * the next row's leading blanks form one *joint*, and spaces of the intended
 * text that fall at a joint are not compared (a space at a wrap shows as
 * nothing). Everything else is compared exactly.
 */
#ifndef BW_READBACK_H
#define BW_READBACK_H

#include <stdbool.h>
#include <stddef.h>

struct bw_readback {
    size_t agree; /* leading characters of the intended text the screen shows correctly */
    size_t shown; /* characters the screen shows in all (agree, plus wrong or extra ones) */
    bool wrong;   /* the screen shows something other than the intended text */
};

/*
 * Reads cells [from, to) (to: the cursor) as a joined line and compares it with want[0..n):
 * the characters typed since `from`, of which the guest may not have shown all yet. wrong is
 * set when a shown character differs from want or the screen shows more than n; then
 * shown - agree is how many characters to erase.
 */
struct bw_readback bw_readback_forward(const char *cells, size_t cols, size_t from, size_t to,
                                       const char *want, size_t n);

/*
 * How many characters of want[0..n) the screen shows ending at `end` (cells before it, read
 * backwards as a joined line; blanks just before `end` are skipped, as are trailing spaces of
 * want, since neither can be told from an empty cell). Returns n when the whole of want
 * matches, or when the part that is still on the screen (the rest scrolled away) matches and
 * that part holds at least `min_seen` characters; otherwise the number of trailing characters
 * that matched before the first difference, which is less than n.
 */
size_t bw_readback_tail(const char *cells, size_t cols, size_t end, const char *want, size_t n,
                        size_t min_seen);

/*
 * The same question asked of the text alone: do the characters that are not blanks, read
 * backwards from `end`, end with the characters of want[0..n) that are not spaces? A loader
 * may draw a blank anywhere its own line breaks fall (isolinux, after redrawing a long line,
 * leaves one in the middle of a row), so blanks say nothing here; a character shown twice, or
 * missing, or wrong, does. Returns n when all of want matches, or the part still on the screen
 * (at least min_seen characters) does; otherwise how many characters matched.
 */
size_t bw_readback_tail_text(const char *cells, size_t end, const char *want, size_t n,
                             size_t min_seen);

/* Rows the screen scrolled between two reads (0..max), judged by the cells before the earlier
 * cursor, which only scrolling moves; -1 when no shift explains the change. */
int bw_readback_scrolled(const char *before, const char *after, size_t cols, size_t cursor_before,
                         int max);

#endif
