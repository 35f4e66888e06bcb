#include "rfb.h"
#include "../bootcmd/encodings.h"
#include "../base/xmalloc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SIDE         4096       /* pixels: larger than any screen an installer shows */
#define MAX_TEXT         (1u << 20) /* a name, a reason, cut text */
#define ENC_RAW          0
#define ENC_DESKTOP_SIZE (-223) /* a pseudo-encoding: the screen changed size */

struct bw_rfb {
    int fd; /* -1: reading from mem */
    const uint8_t *mem;
    size_t mem_len, mem_pos;
    unsigned timeout_ms;
    unsigned minor; /* the protocol version in use: 3.minor */
    unsigned w, h;
    uint8_t *fb; /* w * h pixels, 4 bytes each: blue, green, red, unused */
    char name[256];
};

static int get(struct bw_rfb *r, void *buf, size_t n, struct bw_error *err)
{
    if (r->fd < 0) {
        if (n > r->mem_len - r->mem_pos) {
            bw_error_set(err, BW_ERR_SYNTAX, "vnc: the server's message ends early");
            return -1;
        }
        memcpy(buf, r->mem + r->mem_pos, n);
        r->mem_pos += n;
        return 0;
    }
    for (size_t got = 0; got < n;) {
        struct pollfd p = {r->fd, POLLIN, 0};
        int pr = poll(&p, 1, (int)r->timeout_ms);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            bw_error_set(err, BW_ERR_NETWORK, "vnc: the server said nothing for %u ms",
                         r->timeout_ms);
            return -1;
        }
        ssize_t k = read(r->fd, (char *)buf + got, n - got);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            bw_error_set(err, BW_ERR_NETWORK, "vnc: the server closed the connection%s%s",
                         k < 0 ? ": " : "", k < 0 ? strerror(errno) : "");
            return -1;
        }
        got += (size_t)k;
    }
    return 0;
}

static int put(struct bw_rfb *r, const void *buf, size_t n, struct bw_error *err)
{
    if (r->fd < 0)
        return 0;
    for (size_t sent = 0; sent < n;) {
        struct pollfd p = {r->fd, POLLOUT, 0};
        if (poll(&p, 1, (int)r->timeout_ms) == 0) {
            bw_error_set(err, BW_ERR_NETWORK, "vnc: the server took nothing for %u ms",
                         r->timeout_ms);
            return -1;
        }
        ssize_t k = send(r->fd, (const char *)buf + sent, n - sent, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            bw_error_set(err, BW_ERR_NETWORK, "vnc: cannot send: %s", strerror(errno));
            return -1;
        }
        sent += (size_t)k;
    }
    return 0;
}

static int get_u8(struct bw_rfb *r, uint8_t *v, struct bw_error *err)
{
    return get(r, v, 1, err);
}

static int get_u16(struct bw_rfb *r, uint16_t *v, struct bw_error *err)
{
    uint8_t b[2];
    if (get(r, b, 2, err) < 0)
        return -1;
    *v = (uint16_t)(b[0] << 8 | b[1]);
    return 0;
}

static int get_u32(struct bw_rfb *r, uint32_t *v, struct bw_error *err)
{
    uint8_t b[4];
    if (get(r, b, 4, err) < 0)
        return -1;
    *v = (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
    return 0;
}

/* Reads a length-prefixed text (a reason, a name) into out (truncated), skipping the rest. */
static int get_text(struct bw_rfb *r, char *out, size_t outlen, struct bw_error *err)
{
    uint32_t len;
    if (get_u32(r, &len, err) < 0)
        return -1;
    if (len > MAX_TEXT) {
        bw_error_set(err, BW_ERR_SYNTAX, "vnc: a text of %u bytes (at most %u)", len, MAX_TEXT);
        return -1;
    }
    size_t keep = 0;
    for (uint32_t left = len; left;) {
        char chunk[512];
        size_t n = left < sizeof(chunk) ? left : sizeof(chunk);
        if (get(r, chunk, n, err) < 0)
            return -1;
        for (size_t i = 0; i < n && out && keep + 1 < outlen; i++)
            out[keep++] = (chunk[i] >= 0x20 && chunk[i] < 0x7f) ? chunk[i] : '?';
        left -= (uint32_t)n;
    }
    if (out)
        out[keep] = '\0';
    return 0;
}

static int resize(struct bw_rfb *r, unsigned w, unsigned h, struct bw_error *err)
{
    if (w > MAX_SIDE || h > MAX_SIDE) {
        bw_error_set(err, BW_ERR_SYNTAX, "vnc: a screen of %ux%u (at most %ux%u)", w, h, MAX_SIDE,
                     MAX_SIDE);
        return -1;
    }
    free(r->fb);
    r->w = w;
    r->h = h;
    r->fb = bw_xcalloc((size_t)w * h + 1, 4);
    return 0;
}

static int handshake(struct bw_rfb *r, struct bw_error *err)
{
    char v[13] = {0};
    unsigned major, minor;
    if (get(r, v, 12, err) < 0)
        return -1;
    if (sscanf(v, "RFB %3u.%3u\n", &major, &minor) != 2 || major != 3 || v[11] != '\n') {
        for (size_t i = 0; i < 12; i++)
            if (v[i] < 0x20 || v[i] >= 0x7f)
                v[i] = '?';
        bw_error_set(err, BW_ERR_SYNTAX,
                     "vnc: the server greeted with \"%s\": expected \"RFB 003.00x\"", v);
        return -1;
    }
    /* 3.3 for anything older than 3.7 (RFC 6143 7.1.1), 3.8 for anything newer. */
    r->minor = minor >= 8 ? 8 : minor == 7 ? 7 : 3;
    char mine[13];
    snprintf(mine, sizeof(mine), "RFB 003.%03u\n", r->minor);
    if (put(r, mine, 12, err) < 0)
        return -1;
    char reason[256];
    if (r->minor == 3) {
        uint32_t type;
        if (get_u32(r, &type, err) < 0)
            return -1;
        if (type == 0) {
            if (get_text(r, reason, sizeof(reason), err) < 0)
                return -1;
            bw_error_set(err, BW_ERR_NETWORK, "vnc: the server refused: %s", reason);
            return -1;
        }
        if (type != 1) {
            bw_error_set(err, BW_ERR_UNSUPPORTED,
                         "vnc: the server asks for security type %u: expected none (1); the "
                         "VM's VNC must have no password",
                         type);
            return -1;
        }
    } else {
        uint8_t n, types[255], none = 0;
        if (get_u8(r, &n, err) < 0)
            return -1;
        if (n == 0) {
            if (get_text(r, reason, sizeof(reason), err) < 0)
                return -1;
            bw_error_set(err, BW_ERR_NETWORK, "vnc: the server refused: %s", reason);
            return -1;
        }
        if (get(r, types, n, err) < 0)
            return -1;
        for (unsigned i = 0; i < n; i++)
            none |= types[i] == 1;
        if (!none) {
            bw_error_set(err, BW_ERR_UNSUPPORTED,
                         "vnc: the server offers %u security type%s, none of them \"none\" (1): "
                         "the VM's VNC must have no password",
                         n, n == 1 ? "" : "s");
            return -1;
        }
        uint8_t pick = 1;
        if (put(r, &pick, 1, err) < 0)
            return -1;
        if (r->minor == 8) {
            uint32_t result;
            if (get_u32(r, &result, err) < 0)
                return -1;
            if (result != 0) {
                if (get_text(r, reason, sizeof(reason), err) < 0)
                    return -1;
                bw_error_set(err, BW_ERR_NETWORK, "vnc: the server refused: %s", reason);
                return -1;
            }
        }
    }
    uint8_t shared = 1;
    if (put(r, &shared, 1, err) < 0)
        return -1;
    uint16_t w, h;
    uint8_t pf[16];
    if (get_u16(r, &w, err) < 0 || get_u16(r, &h, err) < 0 || get(r, pf, sizeof(pf), err) < 0 ||
        get_text(r, r->name, sizeof(r->name), err) < 0 || resize(r, w, h, err) < 0)
        return -1;
    /* 32 bits a pixel, true colour, little-endian, red at bit 16: bytes blue, green, red, x. */
    static const uint8_t set_pf[20] = {0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0};
    static const uint8_t set_enc[12] = {2, 0, 0, 2, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x21};
    return put(r, set_pf, sizeof(set_pf), err) < 0 ? -1 : put(r, set_enc, sizeof(set_enc), err);
}

/* One message from the server, whose type goes to *type; *raw is set when it was a screen
 * update with pixels in it. */
static int read_message(struct bw_rfb *r, uint8_t *type, bool *raw, struct bw_error *err)
{
    uint8_t pad[3];
    if (get_u8(r, type, err) < 0)
        return -1;
    switch (*type) {
    case 0: { /* FramebufferUpdate */
        uint16_t n;
        if (get(r, pad, 1, err) < 0 || get_u16(r, &n, err) < 0)
            return -1;
        for (unsigned i = 0; i < n; i++) {
            uint16_t x, y, w, h;
            uint32_t enc;
            if (get_u16(r, &x, err) < 0 || get_u16(r, &y, err) < 0 || get_u16(r, &w, err) < 0 ||
                get_u16(r, &h, err) < 0 || get_u32(r, &enc, err) < 0)
                return -1;
            if ((int32_t)enc == ENC_DESKTOP_SIZE) {
                if (resize(r, w, h, err) < 0)
                    return -1;
                continue;
            }
            if ((int32_t)enc != ENC_RAW) {
                bw_error_set(err, BW_ERR_SYNTAX,
                             "vnc: a rectangle in encoding %d: expected raw (0)", (int32_t)enc);
                return -1;
            }
            if ((unsigned)x + w > r->w || (unsigned)y + h > r->h) {
                bw_error_set(err, BW_ERR_SYNTAX,
                             "vnc: a rectangle %ux%u at %u,%u outside the %ux%u screen", w, h, x, y,
                             r->w, r->h);
                return -1;
            }
            for (unsigned row = 0; row < h; row++)
                if (get(r, r->fb + ((size_t)(y + row) * r->w + x) * 4, (size_t)w * 4, err) < 0)
                    return -1;
            *raw = true;
        }
        return 0;
    }
    case 1: { /* SetColourMapEntries: not used in true colour */
        uint16_t first, n;
        if (get(r, pad, 1, err) < 0 || get_u16(r, &first, err) < 0 || get_u16(r, &n, err) < 0)
            return -1;
        for (unsigned i = 0; i < n; i++) {
            uint8_t rgb[6];
            if (get(r, rgb, sizeof(rgb), err) < 0)
                return -1;
        }
        return 0;
    }
    case 2: /* Bell */
        return 0;
    case 3: /* ServerCutText */
        return get(r, pad, 3, err) < 0 ? -1 : get_text(r, NULL, 0, err);
    default:
        bw_error_set(err, BW_ERR_SYNTAX, "vnc: a server message of type %u: expected 0 to 3",
                     *type);
        return -1;
    }
}

struct bw_rfb *bw_rfb_connect(const char *host, unsigned port, unsigned timeout_ms,
                              struct bw_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char service[16];
    snprintf(service, sizeof(service), "%u", port);
    int gai = getaddrinfo(host, service, &hints, &ai);
    if (gai != 0) {
        bw_error_set(err, BW_ERR_NETWORK, "vnc: %s: %s", host, gai_strerror(gai));
        return NULL;
    }
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int fd = -1, e = 0;
    for (;;) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        e = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long ms = (now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= (long)timeout_ms)
            break;
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        bw_error_set(err, BW_ERR_NETWORK, "vnc: cannot connect to %s:%u within %u ms: %s", host,
                     port, timeout_ms, strerror(e));
        return NULL;
    }
    struct bw_rfb *r = bw_xcalloc(1, sizeof(*r));
    r->fd = fd;
    r->timeout_ms = 10000;
    if (handshake(r, err) < 0) {
        bw_error_prefix(err, "%s:%u", host, port);
        bw_rfb_close(r);
        return NULL;
    }
    return r;
}

int bw_rfb_parse_bytes(const uint8_t *data, size_t len, struct bw_error *err)
{
    struct bw_rfb r = {.fd = -1, .mem = data, .mem_len = len};
    int rc = handshake(&r, err);
    bool raw = false;
    uint8_t type;
    while (rc == 0 && r.mem_pos < r.mem_len)
        rc = read_message(&r, &type, &raw, err);
    free(r.fb);
    return rc;
}

int bw_rfb_key(struct bw_rfb *r, uint32_t keysym, bool down, struct bw_error *err)
{
    uint8_t m[8] = {4,
                    down,
                    0,
                    0,
                    (uint8_t)(keysym >> 24),
                    (uint8_t)(keysym >> 16),
                    (uint8_t)(keysym >> 8),
                    (uint8_t)keysym};
    return put(r, m, sizeof(m), err);
}

int bw_rfb_chord(struct bw_rfb *r, const enum bw_key *keys, size_t n, unsigned hold_ms,
                 struct bw_error *err)
{
    bool shifted = false;
    for (size_t i = 0; i < n; i++)
        shifted |= keys[i] == BW_KEY_SHIFT_L || keys[i] == BW_KEY_SHIFT_R;
    for (size_t i = 0; i < n; i++)
        if (bw_rfb_key(r, bw_key_keysym(keys[i], shifted), true, err) < 0)
            return -1;
    nanosleep(&(struct timespec){hold_ms / 1000, (long)(hold_ms % 1000) * 1000000L}, NULL);
    for (size_t i = n; i-- > 0;)
        if (bw_rfb_key(r, bw_key_keysym(keys[i], shifted), false, err) < 0)
            return -1;
    return 0;
}

int bw_rfb_screenshot(struct bw_rfb *r, const char *path, struct bw_error *err)
{
    bool raw = false;
    /* A new size comes as its own rectangle: ask again until pixels come. */
    for (int asks = 0; !raw && asks < 3; asks++) {
        uint8_t m[10] = {3,
                         0,
                         0,
                         0,
                         0,
                         0,
                         (uint8_t)(r->w >> 8),
                         (uint8_t)r->w,
                         (uint8_t)(r->h >> 8),
                         (uint8_t)r->h};
        if (put(r, m, sizeof(m), err) < 0)
            return -1;
        for (uint8_t type = 0xff; type != 0;) /* until the update: bells, cut text */
            if (read_message(r, &type, &raw, err) < 0)
                return -1;
    }
    FILE *f = fopen(path, "wbe");
    if (!f) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write: %s", strerror(errno));
        return -1;
    }
    fprintf(f, "P6\n%u %u\n255\n", r->w, r->h);
    for (size_t i = 0; i < (size_t)r->w * r->h; i++) {
        uint8_t rgb[3] = {r->fb[i * 4 + 2], r->fb[i * 4 + 1], r->fb[i * 4]};
        fwrite(rgb, 1, 3, f);
    }
    if (fclose(f) != 0) {
        bw_error_at(err, BW_ERR_IO, path, NULL, 0, 0, "cannot write: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void bw_rfb_size(const struct bw_rfb *r, unsigned *width, unsigned *height)
{
    *width = r->w;
    *height = r->h;
}

const char *bw_rfb_name(const struct bw_rfb *r)
{
    return r->name;
}

void bw_rfb_close(struct bw_rfb *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->fb);
    free(r);
}
