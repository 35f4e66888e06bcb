/*
 * keys - the physical keys of a US PC keyboard that a boot command can press.
 *
 * The boot-command compiler (bootcmd.h) turns text into presses and releases
 * of these keys; each hypervisor encoding (encodings.h) maps them to its own
 * codes. The list is the union of Packer's special keys and the keys needed
 * to type the 95 printable ASCII characters on a US layout.
 */
#ifndef BW_KEYS_H
#define BW_KEYS_H

#include <stdbool.h>

/* KEY(ENUM_SUFFIX, "event name") */
// clang-format off
#define BW_KEY_LIST(KEY)                                                                    \
    KEY(A, "a") KEY(B, "b") KEY(C, "c") KEY(D, "d") KEY(E, "e") KEY(F, "f") KEY(G, "g")     \
    KEY(H, "h") KEY(I, "i") KEY(J, "j") KEY(K, "k") KEY(L, "l") KEY(M, "m") KEY(N, "n")     \
    KEY(O, "o") KEY(P, "p") KEY(Q, "q") KEY(R, "r") KEY(S, "s") KEY(T, "t") KEY(U, "u")     \
    KEY(V, "v") KEY(W, "w") KEY(X, "x") KEY(Y, "y") KEY(Z, "z") KEY(1, "1") KEY(2, "2")     \
    KEY(3, "3") KEY(4, "4") KEY(5, "5") KEY(6, "6") KEY(7, "7") KEY(8, "8") KEY(9, "9")     \
    KEY(0, "0") KEY(MINUS, "minus") KEY(EQUAL, "equal") KEY(BRACKET_LEFT, "bracket_left")   \
    KEY(BRACKET_RIGHT, "bracket_right") KEY(BACKSLASH, "backslash")                         \
    KEY(SEMICOLON, "semicolon") KEY(APOSTROPHE, "apostrophe") KEY(GRAVE, "grave")           \
    KEY(COMMA, "comma") KEY(DOT, "dot") KEY(SLASH, "slash") KEY(SPACE, "space")             \
    KEY(ENTER, "enter") KEY(ESC, "esc") KEY(TAB, "tab") KEY(BACKSPACE, "backspace")         \
    KEY(DELETE, "delete") KEY(INSERT, "insert") KEY(HOME, "home") KEY(END, "end")           \
    KEY(PAGE_UP, "page_up") KEY(PAGE_DOWN, "page_down") KEY(UP, "up") KEY(DOWN, "down")     \
    KEY(LEFT, "left") KEY(RIGHT, "right") KEY(F1, "f1") KEY(F2, "f2") KEY(F3, "f3")         \
    KEY(F4, "f4") KEY(F5, "f5") KEY(F6, "f6") KEY(F7, "f7") KEY(F8, "f8") KEY(F9, "f9")     \
    KEY(F10, "f10") KEY(F11, "f11") KEY(F12, "f12") KEY(SHIFT_L, "shift_l")                 \
    KEY(SHIFT_R, "shift_r") KEY(CTRL_L, "ctrl_l") KEY(CTRL_R, "ctrl_r") KEY(ALT_L, "alt_l") \
    KEY(ALT_R, "alt_r") KEY(SUPER_L, "super_l") KEY(SUPER_R, "super_r") KEY(MENU, "menu")
// clang-format on

#define BW_KEY_ENUM(suffix, name) BW_KEY_##suffix,
enum bw_key { BW_KEY_NONE = 0, BW_KEY_LIST(BW_KEY_ENUM) BW_KEY_COUNT };
#undef BW_KEY_ENUM

/* The event name ("shift_l"), or NULL for BW_KEY_NONE / out of range. */
const char *bw_key_name(enum bw_key key);

/* The key and shift state that type printable ASCII c (0x20-0x7e) on a US layout. */
bool bw_key_for_char(char c, enum bw_key *key, bool *shift);

#endif
