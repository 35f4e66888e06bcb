/* Comparing a screen with the text that was typed; see readback.h. */
#include "readback.h"

#include <string.h>

static bool blank(char c)
{
    return c == ' ';
}

/* The cells of row `row` that lie in [from, to): [*a, *b). */
static void row_span(size_t cols, size_t row, size_t from, size_t to, size_t *a, size_t *b)
{
    size_t start = row * cols, end = start + cols;
    *a = start > from ? start : from;
    *b = end < to ? end : to;
}

struct bw_readback bw_readback_forward(const char *cells, size_t cols, size_t from, size_t to,
                                       const char *want, size_t n)
{
    struct bw_readback r = {0, 0, false};
    if (to <= from || cols == 0)
        return r;
    size_t i = 0; /* next character of want */
    size_t first = from / cols, last = (to - 1) / cols;
    for (size_t row = first; row <= last; row++) {
        size_t a, b;
        row_span(cols, row, from, to, &a, &b);
        if (row > first) {
            /* A joint: the blanks around it stand for any run of spaces in want. */
            while (a < b && blank(cells[a]))
                a++;
            while (!r.wrong && i < n && want[i] == ' ')
                i++;
        }
        if (row < last)
            while (b > a && blank(cells[b - 1]))
                b--;
        for (size_t p = a; p < b; p++) {
            if (r.wrong) {
                r.shown++;
            } else if (i < n && want[i] == cells[p]) {
                i++;
            } else {
                r.wrong = true;
                r.agree = i;
                r.shown = i + 1;
            }
        }
    }
    if (!r.wrong)
        r.agree = r.shown = i;
    return r;
}

size_t bw_readback_tail(const char *cells, size_t cols, size_t end, const char *want, size_t n,
                        size_t min_seen)
{
    size_t m = n;
    while (m && want[m - 1] == ' ')
        m--;
    if (m == 0)
        return n;
    if (cols == 0)
        return 0;
    while (end && blank(cells[end - 1]))
        end--;
    size_t j = m; /* want[0..j) still to match, backwards */
    if (end == 0)
        return 0;
    for (size_t row = (end - 1) / cols + 1; row-- > 0;) {
        size_t a, b;
        row_span(cols, row, 0, end, &a, &b);
        if (row < (end - 1) / cols) {
            /* Below this row there was a joint. */
            while (b > a && blank(cells[b - 1]))
                b--;
            while (j && want[j - 1] == ' ')
                j--;
            if (j == 0)
                return n;
        }
        size_t lead = a;
        if (row > 0) /* the row's leading blanks belong to the joint above it */
            while (lead < b && blank(cells[lead]))
                lead++;
        for (size_t p = b; p > lead; p--) {
            if (want[j - 1] != cells[p - 1])
                return m - j;
            if (--j == 0)
                return n;
        }
    }
    return m - j >= min_seen ? n : m - j;
}

int bw_readback_scrolled(const char *before, const char *after, size_t cols, size_t cursor_before,
                         int max)
{
    for (int k = 0; k <= max; k++) {
        size_t shift = (size_t)k * cols;
        if (shift > cursor_before)
            break;
        if (memcmp(before + shift, after, cursor_before - shift) == 0)
            return k;
    }
    return -1;
}

size_t bw_readback_tail_text(const char *cells, size_t end, const char *want, size_t n,
                             size_t min_seen)
{
    size_t j = n, matched = 0, p = end;
    for (;;) {
        while (j && want[j - 1] == ' ')
            j--;
        if (j == 0)
            return n;
        while (p && blank(cells[p - 1]))
            p--;
        if (p == 0) /* the rest scrolled away */
            return matched >= min_seen ? n : matched;
        if (cells[p - 1] != want[j - 1])
            return matched;
        p--;
        j--;
        matched++;
    }
}
