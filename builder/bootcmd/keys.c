#include "keys.h"

#include <string.h>

#define BW_KEY_NAME(suffix, name) [BW_KEY_##suffix] = name,
static const char *const key_names[BW_KEY_COUNT] = {BW_KEY_LIST(BW_KEY_NAME)};
#undef BW_KEY_NAME

const char *bw_key_name(enum bw_key key)
{
    if (key <= BW_KEY_NONE || key >= BW_KEY_COUNT)
        return NULL;
    return key_names[key];
}

/*
 * The US layout, one row per physical key: the character it types alone and
 * with shift, column for column.
 */
static const char us_plain[] = "`1234567890-=qwertyuiop[]\\asdfghjkl;'zxcvbnm,./";
static const char us_shift[] = "~!@#$%^&*()_+QWERTYUIOP{}|ASDFGHJKL:\"ZXCVBNM<>?";
static const enum bw_key us_keys[] = {
    BW_KEY_GRAVE,
    BW_KEY_1,
    BW_KEY_2,
    BW_KEY_3,
    BW_KEY_4,
    BW_KEY_5,
    BW_KEY_6,
    BW_KEY_7,
    BW_KEY_8,
    BW_KEY_9,
    BW_KEY_0,
    BW_KEY_MINUS,
    BW_KEY_EQUAL,
    BW_KEY_Q,
    BW_KEY_W,
    BW_KEY_E,
    BW_KEY_R,
    BW_KEY_T,
    BW_KEY_Y,
    BW_KEY_U,
    BW_KEY_I,
    BW_KEY_O,
    BW_KEY_P,
    BW_KEY_BRACKET_LEFT,
    BW_KEY_BRACKET_RIGHT,
    BW_KEY_BACKSLASH,
    BW_KEY_A,
    BW_KEY_S,
    BW_KEY_D,
    BW_KEY_F,
    BW_KEY_G,
    BW_KEY_H,
    BW_KEY_J,
    BW_KEY_K,
    BW_KEY_L,
    BW_KEY_SEMICOLON,
    BW_KEY_APOSTROPHE,
    BW_KEY_Z,
    BW_KEY_X,
    BW_KEY_C,
    BW_KEY_V,
    BW_KEY_B,
    BW_KEY_N,
    BW_KEY_M,
    BW_KEY_COMMA,
    BW_KEY_DOT,
    BW_KEY_SLASH,
};
_Static_assert(sizeof(us_plain) - 1 == sizeof(us_keys) / sizeof(us_keys[0]), "layout rows");
_Static_assert(sizeof(us_shift) == sizeof(us_plain), "layout columns");

bool bw_key_for_char(char c, enum bw_key *key, bool *shift)
{
    if (c == ' ') {
        *key = BW_KEY_SPACE;
        *shift = false;
        return true;
    }
    if (c == '\0')
        return false;
    const char *p = strchr(us_plain, c);
    if (p) {
        *key = us_keys[p - us_plain];
        *shift = false;
        return true;
    }
    p = strchr(us_shift, c);
    if (p) {
        *key = us_keys[p - us_shift];
        *shift = true;
        return true;
    }
    return false;
}
