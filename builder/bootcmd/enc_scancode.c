/*
 * PC/XT scan code set 1 make codes; 0xE0xx marks the extended keys that
 * send an E0 prefix. A break code is the make code with bit 7 set, after the
 * same prefix. VirtualBox's `keyboardputscancode` takes these bytes in hex.
 */
#include "encodings.h"

static const unsigned short make[BW_KEY_COUNT] = {
    [BW_KEY_ESC] = 0x01,
    [BW_KEY_1] = 0x02,
    [BW_KEY_2] = 0x03,
    [BW_KEY_3] = 0x04,
    [BW_KEY_4] = 0x05,
    [BW_KEY_5] = 0x06,
    [BW_KEY_6] = 0x07,
    [BW_KEY_7] = 0x08,
    [BW_KEY_8] = 0x09,
    [BW_KEY_9] = 0x0a,
    [BW_KEY_0] = 0x0b,
    [BW_KEY_MINUS] = 0x0c,
    [BW_KEY_EQUAL] = 0x0d,
    [BW_KEY_BACKSPACE] = 0x0e,
    [BW_KEY_TAB] = 0x0f,
    [BW_KEY_Q] = 0x10,
    [BW_KEY_W] = 0x11,
    [BW_KEY_E] = 0x12,
    [BW_KEY_R] = 0x13,
    [BW_KEY_T] = 0x14,
    [BW_KEY_Y] = 0x15,
    [BW_KEY_U] = 0x16,
    [BW_KEY_I] = 0x17,
    [BW_KEY_O] = 0x18,
    [BW_KEY_P] = 0x19,
    [BW_KEY_BRACKET_LEFT] = 0x1a,
    [BW_KEY_BRACKET_RIGHT] = 0x1b,
    [BW_KEY_ENTER] = 0x1c,
    [BW_KEY_CTRL_L] = 0x1d,
    [BW_KEY_A] = 0x1e,
    [BW_KEY_S] = 0x1f,
    [BW_KEY_D] = 0x20,
    [BW_KEY_F] = 0x21,
    [BW_KEY_G] = 0x22,
    [BW_KEY_H] = 0x23,
    [BW_KEY_J] = 0x24,
    [BW_KEY_K] = 0x25,
    [BW_KEY_L] = 0x26,
    [BW_KEY_SEMICOLON] = 0x27,
    [BW_KEY_APOSTROPHE] = 0x28,
    [BW_KEY_GRAVE] = 0x29,
    [BW_KEY_SHIFT_L] = 0x2a,
    [BW_KEY_BACKSLASH] = 0x2b,
    [BW_KEY_Z] = 0x2c,
    [BW_KEY_X] = 0x2d,
    [BW_KEY_C] = 0x2e,
    [BW_KEY_V] = 0x2f,
    [BW_KEY_B] = 0x30,
    [BW_KEY_N] = 0x31,
    [BW_KEY_M] = 0x32,
    [BW_KEY_COMMA] = 0x33,
    [BW_KEY_DOT] = 0x34,
    [BW_KEY_SLASH] = 0x35,
    [BW_KEY_SHIFT_R] = 0x36,
    [BW_KEY_ALT_L] = 0x38,
    [BW_KEY_SPACE] = 0x39,
    [BW_KEY_F1] = 0x3b,
    [BW_KEY_F2] = 0x3c,
    [BW_KEY_F3] = 0x3d,
    [BW_KEY_F4] = 0x3e,
    [BW_KEY_F5] = 0x3f,
    [BW_KEY_F6] = 0x40,
    [BW_KEY_F7] = 0x41,
    [BW_KEY_F8] = 0x42,
    [BW_KEY_F9] = 0x43,
    [BW_KEY_F10] = 0x44,
    [BW_KEY_F11] = 0x57,
    [BW_KEY_F12] = 0x58,
    [BW_KEY_CTRL_R] = 0xe01d,
    [BW_KEY_ALT_R] = 0xe038,
    [BW_KEY_HOME] = 0xe047,
    [BW_KEY_UP] = 0xe048,
    [BW_KEY_PAGE_UP] = 0xe049,
    [BW_KEY_LEFT] = 0xe04b,
    [BW_KEY_RIGHT] = 0xe04d,
    [BW_KEY_END] = 0xe04f,
    [BW_KEY_DOWN] = 0xe050,
    [BW_KEY_PAGE_DOWN] = 0xe051,
    [BW_KEY_INSERT] = 0xe052,
    [BW_KEY_DELETE] = 0xe053,
    [BW_KEY_SUPER_L] = 0xe05b,
    [BW_KEY_SUPER_R] = 0xe05c,
    [BW_KEY_MENU] = 0xe05d,
};

size_t bw_key_scancode(enum bw_key key, bool release, uint8_t out[4])
{
    if (key <= BW_KEY_NONE || key >= BW_KEY_COUNT || !make[key])
        return 0;
    size_t n = 0;
    if (make[key] & 0xff00)
        out[n++] = (uint8_t)(make[key] >> 8);
    out[n++] = (uint8_t)((make[key] & 0xff) | (release ? 0x80 : 0));
    return n;
}
