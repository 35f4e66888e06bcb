#include "leases.h"

#include <ctype.h>
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
