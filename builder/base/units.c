#include "units.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Reads "123" or "1.25" at *p; returns value*1000 (milli-units) or -1 on no digits/overflow. */
static int read_milli(const char **p, uint64_t *out)
{
    const char *s = *p;
    uint64_t whole = 0, frac = 0, scale = 1000;
    bool digits = false;
    while (isdigit((unsigned char)*s)) {
        if (whole > UINT64_MAX / 100000)
            return -1;
        whole = whole * 10 + (uint64_t)(*s++ - '0');
        digits = true;
    }
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s)) {
            if (scale > 1) {
                scale /= 10;
                frac += (uint64_t)(*s - '0') * scale;
            }
            s++;
            digits = true;
        }
    }
    if (!digits)
        return -1;
    *out = whole * 1000 + frac;
    *p = s;
    return 0;
}

struct unit {
    const char *name;
    uint64_t factor;
};

/* Longest names first so "ms" is not read as "m". */
static const struct unit duration_units[] = {
    {"ms", 1},
    {"h", 3600000},
    {"m", 60000},
    {"s", 1000},
};

int bw_parse_duration(const char *s, bool bare_seconds, uint64_t *ms)
{
    if (!s || !*s)
        return -1;
    uint64_t total = 0;
    const char *p = s;
    while (*p) {
        uint64_t milli;
        if (read_milli(&p, &milli) < 0)
            return -1;
        const struct unit *u = NULL;
        for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
            size_t n = strlen(duration_units[i].name);
            if (strncmp(p, duration_units[i].name, n) == 0) {
                u = &duration_units[i];
                p += n;
                break;
            }
        }
        if (!u) {
            if (*p || p == s || !bare_seconds || total)
                return -1;
            u = &duration_units[3]; /* seconds */
        }
        if (milli && u->factor > UINT64_MAX / milli)
            return -1;
        uint64_t add = milli * u->factor / 1000;
        if (total > UINT64_MAX - add)
            return -1;
        total += add;
    }
    *ms = total;
    return 0;
}

static const struct unit size_units[] = {
    {"T", 1ULL << 40},
    {"G", 1ULL << 30},
    {"M", 1ULL << 20},
    {"K", 1ULL << 10},
};

int bw_parse_size(const char *s, uint64_t *bytes)
{
    if (!s)
        return -1;
    const char *p = s;
    uint64_t milli;
    if (read_milli(&p, &milli) < 0)
        return -1;
    const struct unit *u = NULL;
    for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
        if (toupper((unsigned char)*p) == size_units[i].name[0]) {
            u = &size_units[i];
            p++;
            break;
        }
    }
    if (!u)
        return -1;
    if (strcmp(p, "iB") == 0 || strcmp(p, "B") == 0)
        p += strlen(p);
    if (*p)
        return -1;
    uint64_t whole = milli / 1000, frac = milli % 1000;
    if (whole && u->factor > (UINT64_MAX - u->factor) / whole)
        return -1;
    *bytes = whole * u->factor + frac * u->factor / 1000;
    return 0;
}

void bw_format_duration(uint64_t ms, char *out, size_t outlen)
{
    if (ms == 0) {
        snprintf(out, outlen, "0s");
        return;
    }
    if (ms % 1000) {
        if (ms < 1000) {
            snprintf(out, outlen, "%llums", (unsigned long long)ms);
            return;
        }
    }
    size_t used = 0;
    uint64_t h = ms / 3600000, m = (ms / 60000) % 60, s = (ms / 1000) % 60, rest = ms % 1000;
    out[0] = '\0';
    if (h)
        used += (size_t)snprintf(out + used, outlen - used, "%lluh", (unsigned long long)h);
    if (m && used < outlen)
        used += (size_t)snprintf(out + used, outlen - used, "%llum", (unsigned long long)m);
    if ((s || rest) && used < outlen) {
        if (rest)
            snprintf(out + used, outlen - used, "%llu.%03llus", (unsigned long long)s,
                     (unsigned long long)rest);
        else
            snprintf(out + used, outlen - used, "%llus", (unsigned long long)s);
    }
}

void bw_format_size(uint64_t bytes, char *out, size_t outlen)
{
    for (size_t i = 0; i < sizeof(size_units) / sizeof(size_units[0]); i++) {
        if (bytes && bytes % size_units[i].factor == 0) {
            snprintf(out, outlen, "%llu%s", (unsigned long long)(bytes / size_units[i].factor),
                     size_units[i].name);
            return;
        }
    }
    snprintf(out, outlen, "%llu", (unsigned long long)bytes);
}
