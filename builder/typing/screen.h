/*
 * screen - what a guest shows, read without OCR.
 *
 * In VGA text mode the screen is guest memory: cells of (character,
 * attribute) at physical 0xB8000, row after row; the BIOS data area at 0x400
 * holds the columns, the rows and the cursor of page 0, kept up to date by
 * everything that writes through the video BIOS (isolinux, GRUB's BIOS
 * console, FreeBSD's loader). Graphics modes (VBE menus, EFI GOP, a kernel's
 * framebuffer) hold no text: there a screenshot only says whether the screen
 * changed.
 *
 * Which mode the guest is in comes from a screenshot's size: a text mode is
 * drawn 720x400 or 640x400 (9- or 8-pixel glyphs; 350 lines for EGA modes),
 * everything else is graphics. The BIOS's own mode byte is not trusted: a VBE
 * mode set leaves it alone, and EFI firmware keeps no BIOS data area at all.
 */
#ifndef BW_SCREEN_H
#define BW_SCREEN_H

#include "../base/buf.h"
#include "../base/error.h"
#include "../drivers/driver.h"

#include <stdbool.h>
#include <stdint.h>

#define BW_SCREEN_MAX_COLS 132
#define BW_SCREEN_MAX_ROWS 60

struct bw_screen {
    bool text;              /* a text mode: cells, cols, rows and cursor are valid */
    unsigned width, height; /* pixels, from the last screenshot; 0 if none was taken */
    unsigned cols, rows;
    char cells[BW_SCREEN_MAX_COLS * BW_SCREEN_MAX_ROWS]; /* printable ASCII; blanks as ' ' */
    unsigned char attrs[BW_SCREEN_MAX_COLS * BW_SCREEN_MAX_ROWS];
    size_t cursor;   /* row * cols + col */
    uint64_t hash;   /* of what is displayed: cells, attributes and cursor, or the image */
    char shot[4096]; /* path of the last screenshot, or "" */
};

/*
 * Takes a screenshot into base.png (or .ppm) and sets width, height, hash, shot and text (from
 * the size). When it is a text mode and the driver can read guest memory, reads the cells too
 * (bw_screen_read_text). Returns 0, or -1 with err.
 */
int bw_screen_probe(const struct bw_driver *drv, struct bw_vm *vm, const char *base,
                    struct bw_screen *s, struct bw_error *err);

/* Reads the text cells, the attributes and the cursor, and sets text and hash; the caller
 * knows (from a probe) that the guest is in a text mode. Returns 0, or -1 with err. */
int bw_screen_read_text(const struct bw_driver *drv, struct bw_vm *vm, struct bw_screen *s,
                        struct bw_error *err);

/* Does a row of the text screen contain `text` (regex false), or match the POSIX extended
 * regular expression `text` (regex true)? A graphics screen matches nothing. */
bool bw_screen_shows(const struct bw_screen *s, const char *text, bool regex);

/*
 * Does console output (what a guest wrote to its serial port: a firmware's console mirrored
 * there, with terminal escapes) show text (a substring), or a line matching regex (POSIX
 * ERE)? Escape sequences and carriage returns end a line, as cursor moves start a new place
 * on the screen they draw.
 */
bool bw_console_shows(const char *out, size_t len, const char *text, bool regex);
/* Calls each(line, ud) for every line of console output, in order, trailing blanks cut and
 * blank lines left out, until it returns true. */
void bw_console_lines(const char *out, size_t len, bool (*each)(const char *line, void *ud),
                      void *ud);

/* Appends the screen's rows from the first to the last that is not blank, each with trailing
 * blanks cut, after `indent`, one per line; a graphics screen is described by its size. At
 * most max_rows rows (the last ones), with a note when some were left out. */
void bw_screen_format(const struct bw_screen *s, struct bw_buf *out, const char *indent,
                      size_t max_rows);

/* The width and height of a PNG or binary PPM file; false if it is neither. */
bool bw_image_size(const char *path, unsigned *width, unsigned *height);

#endif
