#include "viewer-keymap.h"

#include <errno.h>
#include <string.h>

#include "macro.h"
#include "viewer-util.h"

/* US layout, indexed by ASCII; 0 means no key. The shifted characters carry SHIFT. */
#define SHIFT 0x100
static const uint16_t ascii_keys[128] = {
        ['\b'] = 0x0e, ['\t'] = 0x0f, ['\n'] = 0x1c, [0x1b] = 0x01, [' '] = 0x39,

        ['1'] = 0x02, ['2'] = 0x03, ['3'] = 0x04, ['4'] = 0x05, ['5'] = 0x06,
        ['6'] = 0x07, ['7'] = 0x08, ['8'] = 0x09, ['9'] = 0x0a, ['0'] = 0x0b,
        ['!'] = SHIFT | 0x02, ['@'] = SHIFT | 0x03, ['#'] = SHIFT | 0x04, ['$'] = SHIFT | 0x05,
        ['%'] = SHIFT | 0x06, ['^'] = SHIFT | 0x07, ['&'] = SHIFT | 0x08, ['*'] = SHIFT | 0x09,
        ['('] = SHIFT | 0x0a, [')'] = SHIFT | 0x0b,

        ['-'] = 0x0c, ['_'] = SHIFT | 0x0c, ['='] = 0x0d, ['+'] = SHIFT | 0x0d,
        ['['] = 0x1a, ['{'] = SHIFT | 0x1a, [']'] = 0x1b, ['}'] = SHIFT | 0x1b,
        [';'] = 0x27, [':'] = SHIFT | 0x27, ['\''] = 0x28, ['"'] = SHIFT | 0x28,
        ['`'] = 0x29, ['~'] = SHIFT | 0x29, ['\\'] = 0x2b, ['|'] = SHIFT | 0x2b,
        [','] = 0x33, ['<'] = SHIFT | 0x33, ['.'] = 0x34, ['>'] = SHIFT | 0x34,
        ['/'] = 0x35, ['?'] = SHIFT | 0x35,

        ['q'] = 0x10, ['w'] = 0x11, ['e'] = 0x12, ['r'] = 0x13, ['t'] = 0x14,
        ['y'] = 0x15, ['u'] = 0x16, ['i'] = 0x17, ['o'] = 0x18, ['p'] = 0x19,
        ['a'] = 0x1e, ['s'] = 0x1f, ['d'] = 0x20, ['f'] = 0x21, ['g'] = 0x22,
        ['h'] = 0x23, ['j'] = 0x24, ['k'] = 0x25, ['l'] = 0x26,
        ['z'] = 0x2c, ['x'] = 0x2d, ['c'] = 0x2e, ['v'] = 0x2f, ['b'] = 0x30,
        ['n'] = 0x31, ['m'] = 0x32,
};

int keymap_from_ascii(char c, uint32_t *ret_keycode, bool *ret_shift) {
        unsigned char u = (unsigned char) c;
        uint16_t k;

        if (u >= 128)
                return -EINVAL;
        if (u >= 'A' && u <= 'Z')
                k = SHIFT | ascii_keys[u - 'A' + 'a'];
        else
                k = ascii_keys[u];
        if ((k & 0xff) == 0)
                return -EINVAL;
        *ret_keycode = k & 0xff;
        *ret_shift = k & SHIFT;
        return 0;
}

/* Indexed by USB HID usage (= SDL_Scancode). */
static const uint8_t hid_keys[] = {
        /* 4-29: a-z */
        [4] = 0x1e, [5] = 0x30, [6] = 0x2e, [7] = 0x20, [8] = 0x12, [9] = 0x21, [10] = 0x22,
        [11] = 0x23, [12] = 0x17, [13] = 0x24, [14] = 0x25, [15] = 0x26, [16] = 0x32, [17] = 0x31,
        [18] = 0x18, [19] = 0x19, [20] = 0x10, [21] = 0x13, [22] = 0x1f, [23] = 0x14, [24] = 0x16,
        [25] = 0x2f, [26] = 0x11, [27] = 0x2d, [28] = 0x15, [29] = 0x2c,
        /* 30-39: 1-9, 0 */
        [30] = 0x02, [31] = 0x03, [32] = 0x04, [33] = 0x05, [34] = 0x06, [35] = 0x07, [36] = 0x08,
        [37] = 0x09, [38] = 0x0a, [39] = 0x0b,
        [40] = 0x1c, /* Return */
        [41] = 0x01, /* Escape */
        [42] = 0x0e, /* Backspace */
        [43] = 0x0f, /* Tab */
        [44] = 0x39, /* Space */
        [45] = 0x0c, [46] = 0x0d, [47] = 0x1a, [48] = 0x1b, [49] = 0x2b,
        [50] = 0x2b, /* non-US #: the ISO key in the backslash position */
        [51] = 0x27, [52] = 0x28, [53] = 0x29, [54] = 0x33, [55] = 0x34, [56] = 0x35,
        [57] = 0x3a, /* Caps Lock */
        /* 58-69: F1-F12 (F11, F12 are not after F10 in set 1) */
        [58] = 0x3b, [59] = 0x3c, [60] = 0x3d, [61] = 0x3e, [62] = 0x3f, [63] = 0x40, [64] = 0x41,
        [65] = 0x42, [66] = 0x43, [67] = 0x44, [68] = 0x57, [69] = 0x58,
        [70] = 0xb7, /* Print Screen */
        [71] = 0x46, /* Scroll Lock */
        [72] = 0xc6, /* Pause: QEMU's number for it; QEMU emits the E1 sequence itself */
        [73] = 0xd2, [74] = 0xc7, [75] = 0xc9, [76] = 0xd3, [77] = 0xcf, [78] = 0xd1, /* Ins Home PgUp Del End PgDn */
        [79] = 0xcd, [80] = 0xcb, [81] = 0xd0, [82] = 0xc8, /* Right Left Down Up */
        [83] = 0x45, /* Num Lock */
        [84] = 0xb5, [85] = 0x37, [86] = 0x4a, [87] = 0x4e, [88] = 0x9c, /* KP / * - + Enter */
        [89] = 0x4f, [90] = 0x50, [91] = 0x51, [92] = 0x4b, [93] = 0x4c, [94] = 0x4d, [95] = 0x47,
        [96] = 0x48, [97] = 0x49, [98] = 0x52, [99] = 0x53, /* KP 1-9, 0, . */
        [100] = 0x56, /* non-US backslash (<> on ISO keyboards) */
        [101] = 0xdd, /* Application (Menu) */
        [102] = 0xde, /* Power */
        [103] = 0x59, /* KP = */
        [127] = 0xa0, [128] = 0xb0, [129] = 0xae, /* Mute, Volume Up, Volume Down */
        [133] = 0x7e, /* KP , (Brazilian) */
        [135] = 0x73, [136] = 0x70, [137] = 0x7d, [138] = 0x79, [139] = 0x7b, /* Ro Kana Yen Henkan Muhenkan */
        [154] = 0x54, /* SysRq */
        [224] = 0x1d, [225] = 0x2a, [226] = 0x38, [227] = 0xdb, /* Left Ctrl Shift Alt GUI */
        [228] = 0x9d, [229] = 0x36, [230] = 0xb8, [231] = 0xdc, /* Right Ctrl Shift Alt GUI */
        [258] = 0x99, [259] = 0x90, [260] = 0xa4, [261] = 0xa2, [262] = 0xa0, /* media keys */
        [263] = 0xed, [264] = 0xb2, [265] = 0xec, [266] = 0xa1, [267] = 0xeb,
        [268] = 0xe5, [269] = 0xb2, [270] = 0xea, [271] = 0xe9, [272] = 0xe8, [273] = 0xe7, [274] = 0xe6,
        [282] = 0xdf, /* Sleep */
};

uint32_t keymap_from_sdl_scancode(unsigned scancode) {
        return scancode < ELEMENTSOF(hid_keys) ? hid_keys[scancode] : 0;
}

static const struct {
        const char *name;
        uint8_t code;
} key_names[] = {
        { "esc", 0x01 }, { "escape", 0x01 },
        { "minus", 0x0c }, { "equal", 0x0d }, { "backspace", 0x0e }, { "tab", 0x0f },
        { "q", 0x10 }, { "w", 0x11 }, { "e", 0x12 }, { "r", 0x13 }, { "t", 0x14 },
        { "y", 0x15 }, { "u", 0x16 }, { "i", 0x17 }, { "o", 0x18 }, { "p", 0x19 },
        { "bracket_left", 0x1a }, { "bracket_right", 0x1b }, { "ret", 0x1c }, { "enter", 0x1c },
        { "ctrl", 0x1d },
        { "a", 0x1e }, { "s", 0x1f }, { "d", 0x20 }, { "f", 0x21 }, { "g", 0x22 },
        { "h", 0x23 }, { "j", 0x24 }, { "k", 0x25 }, { "l", 0x26 },
        { "semicolon", 0x27 }, { "apostrophe", 0x28 }, { "grave_accent", 0x29 }, { "shift", 0x2a },
        { "backslash", 0x2b },
        { "z", 0x2c }, { "x", 0x2d }, { "c", 0x2e }, { "v", 0x2f }, { "b", 0x30 },
        { "n", 0x31 }, { "m", 0x32 },
        { "comma", 0x33 }, { "dot", 0x34 }, { "slash", 0x35 }, { "shift_r", 0x36 },
        { "kp_multiply", 0x37 }, { "alt", 0x38 }, { "spc", 0x39 }, { "space", 0x39 },
        { "caps_lock", 0x3a },
        { "f1", 0x3b }, { "f2", 0x3c }, { "f3", 0x3d }, { "f4", 0x3e }, { "f5", 0x3f },
        { "f6", 0x40 }, { "f7", 0x41 }, { "f8", 0x42 }, { "f9", 0x43 }, { "f10", 0x44 },
        { "num_lock", 0x45 }, { "scroll_lock", 0x46 },
        { "kp_7", 0x47 }, { "kp_8", 0x48 }, { "kp_9", 0x49 }, { "kp_subtract", 0x4a },
        { "kp_4", 0x4b }, { "kp_5", 0x4c }, { "kp_6", 0x4d }, { "kp_add", 0x4e },
        { "kp_1", 0x4f }, { "kp_2", 0x50 }, { "kp_3", 0x51 }, { "kp_0", 0x52 }, { "kp_decimal", 0x53 },
        { "sysrq", 0x54 }, { "less", 0x56 }, { "f11", 0x57 }, { "f12", 0x58 }, { "kp_equals", 0x59 },
        { "kp_enter", 0x9c }, { "ctrl_r", 0x9d }, { "kp_divide", 0xb5 }, { "print", 0xb7 },
        { "alt_r", 0xb8 }, { "pause", 0xc6 }, { "home", 0xc7 }, { "up", 0xc8 }, { "pgup", 0xc9 },
        { "left", 0xcb }, { "right", 0xcd }, { "end", 0xcf }, { "down", 0xd0 }, { "pgdn", 0xd1 },
        { "insert", 0xd2 }, { "delete", 0xd3 }, { "meta_l", 0xdb }, { "meta_r", 0xdc },
        { "menu", 0xdd }, { "power", 0xde }, { "sleep", 0xdf }, { "wake", 0xe3 },
};

int keymap_from_name(const char *name, uint32_t *ret_keycode) {
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(key_names); i++)
                if (strcmp(name, key_names[i].name) == 0) {
                        *ret_keycode = key_names[i].code;
                        return 0;
                }
        /* Numbers are always keycodes (`key 1` is Esc): the digit keys have no name here, scripts
         * type digits with `type`. */
        if (parse_u64(name, KEYCODE_MAX, &v) < 0 || v == 0)
                return -EINVAL;
        *ret_keycode = (uint32_t) v;
        return 0;
}
