/* Reading a guest's screen; see screen.h. */
#include "screen.h"
#include "../base/xmalloc.h"

#include <fcntl.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* VGA colour text memory, and the BIOS data area fields that describe it (the IBM PC BIOS
 * layout, kept by SeaBIOS): columns (word at 0x44A), cursor of page 0 (column, row at 0x450),
 * rows minus one (byte at 0x484, EGA and later). */
#define VGA_TEXT 0xB8000u
#define BDA_BASE 0x44Au
#define BDA_LEN  (0x485u - BDA_BASE)

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* Code page 437 glyphs as ASCII: box drawing as lines and corners, others as '?'. */
static char ascii_of(unsigned char c)
{
    if (c >= 0x20 && c < 0x7f)
        return (char)c;
    if (c == 0 || c == 0xff)
        return ' ';
    if (c == 0xb3 || c == 0xba)
        return '|';
    if (c == 0xc4 || c == 0xcd)
        return '-';
    if (c >= 0xb4 && c <= 0xda)
        return '+';
    return '?';
}

bool bw_image_size(const char *path, unsigned *width, unsigned *height)
{
    unsigned char h[32];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd < 0 ? -1 : read(fd, h, sizeof(h) - 1);
    if (fd >= 0)
        close(fd);
    if (n < 8)
        return false;
    if (n >= 24 && memcmp(h, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(h + 12, "IHDR", 4) == 0) {
        *width = (unsigned)h[16] << 24 | (unsigned)h[17] << 16 | (unsigned)h[18] << 8 | h[19];
        *height = (unsigned)h[20] << 24 | (unsigned)h[21] << 16 | (unsigned)h[22] << 8 | h[23];
        return true;
    }
    h[n] = '\0';
    return h[0] == 'P' && h[1] == '6' && sscanf((char *)h + 2, "%u %u", width, height) == 2;
}

static bool is_text_size(unsigned w, unsigned h)
{
    return (w == 720 || w == 640) && (h == 400 || h == 350);
}

int bw_screen_probe(const struct bw_driver *drv, struct bw_vm *vm, const char *base,
                    struct bw_screen *s, struct bw_error *err)
{
    s->shot[0] = '\0';
    if (!drv->screenshot) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "the %s driver cannot take screenshots", drv->name);
        return -1;
    }
    char *path = drv->screenshot(vm, base, true, err);
    if (!path)
        return -1;
    snprintf(s->shot, sizeof(s->shot), "%s", path);
    struct bw_buf img = BW_BUF_INIT;
    bw_buf_init(&img);
    int rc = bw_buf_read_file(&img, path);
    bool sized = rc == 0 && bw_image_size(path, &s->width, &s->height);
    free(path);
    if (!sized) {
        bw_buf_release(&img);
        bw_error_at(err, BW_ERR_IO, s->shot, NULL, 0, 0, "cannot read the screenshot");
        return -1;
    }
    s->hash = fnv1a(0xcbf29ce484222325ULL, img.data, img.len);
    bw_buf_release(&img);
    s->text = is_text_size(s->width, s->height) && drv->read_memory;
    if (s->text && bw_screen_read_text(drv, vm, s, err) < 0)
        return -1;
    return 0;
}

int bw_screen_read_text(const struct bw_driver *drv, struct bw_vm *vm, struct bw_screen *s,
                        struct bw_error *err)
{
    if (!drv->read_memory) {
        bw_error_set(err, BW_ERR_UNSUPPORTED, "%s cannot read guest memory", drv->name);
        return -1;
    }
    /*
     * The cursor and the cells come from two reads, and the guest runs in between: traced
     * through libvirt, the cells often held a character more than the cursor said, and once a
     * line has scrolled, which shift explains the cells depends on the cursor being theirs. So
     * the cursor is read again after the cells, and the whole read taken again until the two
     * agree (the guest drew nothing in between); after a few tries the last one stands.
     */
    unsigned char bda[BDA_LEN], again[BDA_LEN];
    unsigned char *raw = NULL;
    unsigned cols = 0, rows = 0;
    size_t n = 0;
    for (int attempt = 0;; attempt++) {
        if (drv->read_memory(vm, BDA_BASE, sizeof(bda), bda, err) < 0) {
            free(raw);
            return -1;
        }
        cols = bda[0] | (unsigned)bda[1] << 8;
        rows = bda[0x484 - BDA_BASE] + 1u;
        /* A BIOS that never set a mode (or an EFI one) leaves zeros: assume 80x25. */
        if (cols < 40 || cols > BW_SCREEN_MAX_COLS)
            cols = 80;
        if (rows < 25 || rows > BW_SCREEN_MAX_ROWS)
            rows = 25;
        n = (size_t)cols * rows;
        free(raw);
        raw = bw_xmalloc(2 * n);
        if (drv->read_memory(vm, VGA_TEXT, 2 * n, raw, err) < 0 ||
            drv->read_memory(vm, BDA_BASE, sizeof(again), again, err) < 0) {
            free(raw);
            return -1;
        }
        /* (not the whole area: the BIOS timer ticks in it) */
        const size_t cur = 0x450 - BDA_BASE;
        if ((memcmp(bda + cur, again + cur, 2) == 0 && memcmp(bda, again, 2) == 0) || attempt == 4)
            break;
    }
    unsigned col = bda[0x450 - BDA_BASE], row = bda[0x451 - BDA_BASE];
    s->cols = cols;
    s->rows = rows;
    for (size_t i = 0; i < n; i++) {
        s->cells[i] = ascii_of(raw[2 * i]);
        s->attrs[i] = raw[2 * i + 1];
    }
    s->cursor = row < rows && col < cols ? (size_t)row * cols + col : n;
    s->hash = fnv1a(fnv1a(0xcbf29ce484222325ULL, raw, 2 * n), &s->cursor, sizeof(s->cursor));
    s->text = true;
    free(raw);
    return 0;
}

bool bw_screen_shows(const struct bw_screen *s, const char *text, bool regex)
{
    if (!s->text)
        return false;
    regex_t re;
    if (regex && regcomp(&re, text, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    bool found = false;
    char line[BW_SCREEN_MAX_COLS + 1];
    for (unsigned r = 0; r < s->rows && !found; r++) {
        memcpy(line, s->cells + (size_t)r * s->cols, s->cols);
        size_t len = s->cols;
        while (len && line[len - 1] == ' ')
            len--;
        line[len] = '\0';
        found = regex ? regexec(&re, line, 0, NULL, 0) == 0 : strstr(line, text) != NULL;
    }
    if (regex)
        regfree(&re);
    return found;
}

void bw_console_lines(const char *out, size_t len, bool (*each)(const char *line, void *ud),
                      void *ud)
{
    char line[512];
    size_t n = 0;
    bool stop = false;
    for (size_t i = 0; i <= len && !stop; i++) {
        char c = i < len ? out[i] : '\n';
        if (c == '\033') {
            /* ESC [ params letter; ESC ( or ) and a character set (newt's line drawing);
             * or ESC and one character */
            if (i + 1 < len && out[i + 1] == '[')
                for (i += 2; i < len && !((out[i] >= '@' && out[i] <= '~')); i++)
                    ;
            else if (i + 1 < len && (out[i + 1] == '(' || out[i + 1] == ')'))
                i += 2;
            else
                i++;
            c = '\n';
        }
        bool ends = c == '\n' || c == '\r' || c == '\0';
        if (ends || n == sizeof(line) - 1) {
            while (n && line[n - 1] == ' ')
                n--;
            line[n] = '\0';
            if (line[strspn(line, " ")])
                stop = each(line, ud);
            n = 0;
            if (ends)
                continue;
        }
        line[n++] = c;
    }
}

struct shows {
    const char *text;
    regex_t *re; /* or NULL: text is a substring */
    bool hit;
};

static bool line_shows(const char *line, void *ud)
{
    struct shows *s = ud;
    s->hit = s->re ? regexec(s->re, line, 0, NULL, 0) == 0 : strstr(line, s->text) != NULL;
    return s->hit;
}

bool bw_console_shows(const char *out, size_t len, const char *text, bool regex)
{
    regex_t re;
    if (regex && regcomp(&re, text, REG_EXTENDED | REG_NOSUB) != 0)
        return false;
    struct shows s = {text, regex ? &re : NULL, false};
    bw_console_lines(out, len, line_shows, &s);
    if (regex)
        regfree(&re);
    return s.hit;
}

void bw_screen_format(const struct bw_screen *s, struct bw_buf *out, const char *indent,
                      size_t max_rows)
{
    if (!s->text) {
        bw_buf_addf(out, "%s(graphics mode, %ux%u: no text to read)\n", indent, s->width,
                    s->height);
        return;
    }
    size_t first = s->rows, last = 0;
    for (size_t r = 0; r < s->rows; r++)
        for (size_t c = 0; c < s->cols; c++)
            if (s->cells[r * s->cols + c] != ' ') {
                if (first == s->rows)
                    first = r;
                last = r;
                break;
            }
    if (first == s->rows) {
        bw_buf_addf(out, "%s(the screen is blank)\n", indent);
        return;
    }
    if (last - first + 1 > max_rows) {
        bw_buf_addf(out, "%s(%zu rows above left out)\n", indent, last - first + 1 - max_rows);
        first = last + 1 - max_rows;
    }
    for (size_t r = first; r <= last; r++) {
        const char *row = s->cells + r * s->cols;
        size_t len = s->cols;
        while (len && row[len - 1] == ' ')
            len--;
        bw_buf_addf(out, "%s%.*s\n", indent, (int)len, row);
    }
}
