#include "encodings.h"

#include <string.h>

static const struct {
    const char *name;
    enum bw_key_encoding enc;
} encodings[] = {
    {"events", BW_ENC_EVENTS},     {"qmp", BW_ENC_QMP},       {"linux", BW_ENC_LINUX},
    {"scancode", BW_ENC_SCANCODE}, {"keysym", BW_ENC_KEYSYM},
};

int bw_key_encoding_parse(const char *name, enum bw_key_encoding *out)
{
    for (size_t i = 0; i < sizeof(encodings) / sizeof(encodings[0]); i++)
        if (strcmp(encodings[i].name, name) == 0) {
            *out = encodings[i].enc;
            return 0;
        }
    return -1;
}

const char *bw_key_encoding_names(void)
{
    return "events|qmp|linux|scancode|keysym";
}

static void format_code(struct bw_buf *out, enum bw_key_encoding enc, enum bw_key key, bool release,
                        const bool *shift_down)
{
    switch (enc) {
    case BW_ENC_EVENTS:
        bw_buf_adds(out, bw_key_name(key));
        break;
    case BW_ENC_QMP:
        bw_buf_adds(out, bw_key_qcode(key));
        break;
    case BW_ENC_LINUX:
        bw_buf_addf(out, "%u", bw_key_linux(key));
        break;
    case BW_ENC_SCANCODE: {
        uint8_t bytes[4];
        size_t n = bw_key_scancode(key, release, bytes);
        for (size_t i = 0; i < n; i++)
            bw_buf_addf(out, "%s%02x", i ? " " : "", bytes[i]);
        break;
    }
    case BW_ENC_KEYSYM:
        bw_buf_addf(out, "0x%04x", (unsigned)bw_key_keysym(key, *shift_down));
        break;
    }
}

void bw_key_events_format(const struct bw_key_events *ev, enum bw_key_encoding enc,
                          struct bw_buf *out)
{
    bool shift_down = false;
    bool held[BW_KEY_COUNT] = {false};
    for (size_t i = 0; i < ev->n; i++) {
        const struct bw_key_event *e = &ev->v[i];
        if (e->action == BW_KEY_WAIT) {
            bw_buf_addf(out, "wait %llums\n", (unsigned long long)e->wait_ms);
            continue;
        }
        if (e->action == BW_KEY_EXPECT) {
            bw_buf_addf(out, "expect %s ", e->regex ? "regex" : "text");
            bw_buf_add_json_string(out, e->text);
            bw_buf_addf(out, " within %llums\n", (unsigned long long)e->wait_ms);
            continue;
        }
        bool release = e->action == BW_KEY_RELEASE;
        bw_buf_adds(out, release ? "release " : "press ");
        format_code(out, enc, e->key, release, &shift_down);
        bw_buf_addc(out, '\n');
        held[e->key] = !release;
        shift_down = held[BW_KEY_SHIFT_L] || held[BW_KEY_SHIFT_R];
    }
}
