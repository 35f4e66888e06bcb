#include "xml.h"
#include "../base/xmalloc.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void decode(struct bw_buf *out, const char *s, size_t n)
{
    static const struct {
        const char *name;
        char c;
    } ents[] = {{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''}};
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '&') {
            bw_buf_addc(out, s[i]);
            continue;
        }
        bool done = false;
        for (size_t e = 0; e < sizeof(ents) / sizeof(ents[0]) && !done; e++) {
            size_t l = strlen(ents[e].name);
            if (n - i - 1 >= l && memcmp(s + i + 1, ents[e].name, l) == 0) {
                bw_buf_addc(out, ents[e].c);
                i += l;
                done = true;
            }
        }
        if (!done && i + 2 < n && s[i + 1] == '#') {
            /* &#NN; or &#xHH; for ASCII only: anything else stays as written */
            size_t j = i + 2;
            bool hex = s[j] == 'x';
            j += hex;
            uint32_t v = 0;
            size_t digits = 0;
            while (j < n && digits < 6 &&
                   ((s[j] >= '0' && s[j] <= '9') ||
                    (hex && ((s[j] | 0x20) >= 'a' && (s[j] | 0x20) <= 'f')))) {
                v = v * (hex ? 16 : 10) +
                    (uint32_t)(s[j] <= '9' ? s[j] - '0' : (s[j] | 0x20) - 'a' + 10);
                j++;
                digits++;
            }
            if (digits && j < n && s[j] == ';' && v > 0 && v < 0x80) {
                bw_buf_addc(out, (char)v);
                i = j;
                done = true;
            }
        }
        if (!done)
            bw_buf_addc(out, '&');
    }
}

bool bw_xml_next(const char *xml, size_t len, const char *tag, size_t *pos, struct bw_buf *text)
{
    size_t tl = strlen(tag);
    for (size_t i = *pos; i + tl + 2 <= len; i++) {
        if (xml[i] != '<' || memcmp(xml + i + 1, tag, tl) != 0)
            continue;
        size_t j = i + 1 + tl;
        if (j >= len || (xml[j] != '>' && xml[j] != ' ' && xml[j] != '/'))
            continue;
        const char *gt = memchr(xml + j, '>', len - j);
        if (!gt)
            return false;
        size_t start = (size_t)(gt - xml) + 1;
        bw_buf_reset(text);
        if (gt[-1] == '/') { /* <Tag/> */
            *pos = start;
            return true;
        }
        /* the matching close: </tag> */
        for (size_t k = start; k + tl + 3 <= len; k++)
            if (xml[k] == '<' && xml[k + 1] == '/' && memcmp(xml + k + 2, tag, tl) == 0 &&
                xml[k + 2 + tl] == '>') {
                decode(text, xml + start, k - start);
                *pos = k + tl + 3;
                return true;
            }
        return false;
    }
    return false;
}

char *bw_xml_first(const char *xml, size_t len, const char *tag)
{
    struct bw_buf t = BW_BUF_INIT;
    bw_buf_init(&t);
    size_t pos = 0;
    if (!bw_xml_next(xml, len, tag, &pos, &t)) {
        bw_buf_release(&t);
        return NULL;
    }
    return bw_buf_detach(&t);
}
