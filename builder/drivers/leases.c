#include "leases.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

/* The next line of text[*pos..len), without its newline; false at the end. */
static bool next_line(const char *text, size_t len, size_t *pos, const char **line, size_t *n)
{
    if (*pos >= len)
        return false;
    *line = text + *pos;
    const char *nl = memchr(*line, '\n', len - *pos);
    *n = nl ? (size_t)(nl - *line) : len - *pos;
    *pos += *n + (nl != NULL);
    while (*n && isspace((unsigned char)**line)) {
        (*line)++;
        (*n)--;
    }
    return true;
}

static bool starts(const char *line, size_t n, const char *word)
{
    size_t w = strlen(word);
    return n >= w && memcmp(line, word, w) == 0;
}

int bw_dhcp_lease_find(const char *text, size_t len, const char *mac, char *ip, size_t iplen)
{
    size_t pos = 0, n;
    const char *line;
    char cur[64] = "";
    bool in_lease = false, found = false;
    while (next_line(text, len, &pos, &line, &n)) {
        if (starts(line, n, "lease ")) {
            /* "lease 172.16.84.128 {" */
            size_t i = 6, k = 0;
            while (i < n && k + 1 < sizeof(cur) &&
                   (isxdigit((unsigned char)line[i]) || line[i] == '.' || line[i] == ':'))
                cur[k++] = line[i++];
            cur[k] = '\0';
            in_lease = k > 0 && i < n && line[i] == ' ';
        } else if (starts(line, n, "}")) {
            in_lease = false;
        } else if (in_lease && starts(line, n, "hardware ethernet ")) {
            size_t m = strlen(mac);
            if (n >= 18 + m + 1 && strncasecmp(line + 18, mac, m) == 0 && line[18 + m] == ';' &&
                strlen(cur) < iplen) {
                strcpy(ip, cur);
                found = true;
            }
        }
    }
    return found ? 0 : -1;
}

int bw_parallels_lease_find(const char *text, size_t len, const char *mac, char *ip, size_t iplen)
{
    /* "00:1c:42:f5:93:fb" or "001c42f593fb": compared as 12 hex digits */
    char want[13];
    size_t w = 0;
    for (const char *p = mac; *p && w < 12; p++)
        if (isxdigit((unsigned char)*p))
            want[w++] = (char)tolower((unsigned char)*p);
    want[w] = '\0';
    if (w != 12)
        return -1;
    size_t pos = 0, n;
    const char *line;
    uint64_t best = 0;
    bool found = false;
    while (next_line(text, len, &pos, &line, &n)) {
        /* 10.211.55.181="1418921112,1800,001c42f593fb,ff42..." */
        size_t k = 0;
        while (k < n && k < 63 &&
               (isxdigit((unsigned char)line[k]) || line[k] == '.' || line[k] == ':'))
            k++;
        if (k == 0 || k + 2 > n || line[k] != '=' || line[k + 1] != '"')
            continue;
        char fields[160];
        size_t f = n - k - 2 < sizeof(fields) - 1 ? n - k - 2 : sizeof(fields) - 1;
        memcpy(fields, line + k + 2, f);
        fields[f] = '\0';
        unsigned long long expiry, secs;
        char m[13];
        int used = 0;
        if (sscanf(fields, "%20llu,%20llu,%12[0-9a-fA-F]%n", &expiry, &secs, m, &used) != 3 ||
            strlen(m) != 12 || (fields[used] != ',' && fields[used] != '"'))
            continue;
        for (char *q = m; *q; q++)
            *q = (char)tolower((unsigned char)*q);
        uint64_t began = expiry >= secs ? expiry - secs : 0;
        if (strcmp(m, want) == 0 && k < iplen && (!found || began >= best)) {
            memcpy(ip, line, k);
            ip[k] = '\0';
            best = began;
            found = true;
        }
    }
    return found ? 0 : -1;
}
