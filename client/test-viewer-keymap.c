/* Keymaps: ASCII on a US layout, SDL scancodes (USB HID usages) and script key names, all to
 * QEMU keycodes (XT set 1, 0x80|code for E0 keys). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "viewer-keymap.h"

static void check_ascii(char c, uint32_t code, bool shift) {
        uint32_t k = 0;
        bool s = !shift;

        check(keymap_from_ascii(c, &k, &s) == 0);
        if (k != code || s != shift) {
                fprintf(stderr, "`%c': got 0x%02x%s, want 0x%02x%s\n", c, k, s ? "+shift" : "", code, shift ? "+shift" : "");
                check(false);
        }
}

static void test_ascii(void) {
        uint32_t k = 99;
        bool s = true;

        check_ascii('a', 0x1e, false);
        check_ascii('A', 0x1e, true);
        check_ascii('q', 0x10, false);
        check_ascii('Z', 0x2c, true);
        check_ascii('m', 0x32, false);
        check_ascii('1', 0x02, false);
        check_ascii('!', 0x02, true);
        check_ascii('0', 0x0b, false);
        check_ascii(')', 0x0b, true);
        check_ascii(' ', 0x39, false);
        check_ascii('\n', 0x1c, false);
        check_ascii('\t', 0x0f, false);
        check_ascii('-', 0x0c, false);
        check_ascii('_', 0x0c, true);
        check_ascii('\\', 0x2b, false);
        check_ascii('|', 0x2b, true);
        check_ascii('"', 0x28, true);
        check_ascii('~', 0x29, true);
        check_ascii('?', 0x35, true);
        check_ascii('@', 0x03, true);

        /* every printable character is typeable, and no two share key and shift */
        bool seen[2][256] = {};
        for (int c = ' '; c < 0x7f; c++) {
                check(keymap_from_ascii((char) c, &k, &s) == 0);
                check(k > 0 && k < 0x80);
                check(!seen[s][k]);
                seen[s][k] = true;
        }

        k = 99;
        s = true;
        check(keymap_from_ascii('\0', &k, &s) == -EINVAL);
        check(keymap_from_ascii('\r', &k, &s) == -EINVAL);
        check(keymap_from_ascii(0x7f, &k, &s) == -EINVAL);
        check(keymap_from_ascii((char) 0xc3, &k, &s) == -EINVAL);
        check(k == 99 && s); /* untouched */
}

static void test_sdl(void) {
        /* SDL_SCANCODE_* values (USB HID usages) */
        check(keymap_from_sdl_scancode(4) == 0x1e);    /* A */
        check(keymap_from_sdl_scancode(29) == 0x2c);   /* Z */
        check(keymap_from_sdl_scancode(39) == 0x0b);   /* 0 */
        check(keymap_from_sdl_scancode(40) == 0x1c);   /* Return */
        check(keymap_from_sdl_scancode(41) == 0x01);   /* Escape */
        check(keymap_from_sdl_scancode(58) == 0x3b);   /* F1 */
        check(keymap_from_sdl_scancode(67) == 0x44);   /* F10 */
        check(keymap_from_sdl_scancode(68) == 0x57);   /* F11 */
        check(keymap_from_sdl_scancode(69) == 0x58);   /* F12 */
        check(keymap_from_sdl_scancode(79) == 0xcd);   /* Right */
        check(keymap_from_sdl_scancode(80) == 0xcb);   /* Left */
        check(keymap_from_sdl_scancode(81) == 0xd0);   /* Down */
        check(keymap_from_sdl_scancode(82) == 0xc8);   /* Up */
        check(keymap_from_sdl_scancode(74) == 0xc7);   /* Home */
        check(keymap_from_sdl_scancode(76) == 0xd3);   /* Delete */
        check(keymap_from_sdl_scancode(84) == 0xb5);   /* KP / */
        check(keymap_from_sdl_scancode(88) == 0x9c);   /* KP Enter */
        check(keymap_from_sdl_scancode(98) == 0x52);   /* KP 0 */
        check(keymap_from_sdl_scancode(95) == 0x47);   /* KP 7 */
        check(keymap_from_sdl_scancode(100) == 0x56);  /* ISO <> */
        check(keymap_from_sdl_scancode(224) == 0x1d);  /* Left Ctrl */
        check(keymap_from_sdl_scancode(228) == 0x9d);  /* Right Ctrl */
        check(keymap_from_sdl_scancode(226) == 0x38);  /* Left Alt */
        check(keymap_from_sdl_scancode(230) == 0xb8);  /* Right Alt (AltGr) */
        check(keymap_from_sdl_scancode(227) == 0xdb);  /* Left GUI */
        check(keymap_from_sdl_scancode(70) == 0xb7);   /* Print Screen */
        check(keymap_from_sdl_scancode(72) == 0xc6);   /* Pause */
        check(keymap_from_sdl_scancode(0) == 0);
        check(keymap_from_sdl_scancode(1000) == 0);
        check(keymap_from_sdl_scancode(UINT32_MAX) == 0);

        /* The letters agree with the ASCII map. */
        for (unsigned sc = 4; sc <= 29; sc++) {
                uint32_t k;
                bool s;
                check(keymap_from_ascii((char) ('a' + sc - 4), &k, &s) == 0);
                check(keymap_from_sdl_scancode(sc) == k);
        }

        /* The 105 keys of a PC keyboard (HID 4-101 but 50, the ISO # that shares backslash's
         * code, plus the modifiers) map to distinct keycodes: no two physical keys collide. */
        bool seen[256] = {};
        unsigned n = 0;
        for (unsigned sc = 4; sc <= 231; sc++) {
                uint32_t k = keymap_from_sdl_scancode(sc);
                if (sc == 50 || (sc > 101 && sc < 224) || k == 0)
                        continue;
                check(k <= KEYCODE_MAX);
                check(!seen[k]);
                seen[k] = true;
                n++;
        }
        check(n == 97 + 8);
}

static void test_names(void) {
        uint32_t k = 99;

        check(keymap_from_name("ret", &k) == 0 && k == 0x1c);
        check(keymap_from_name("enter", &k) == 0 && k == 0x1c);
        check(keymap_from_name("ctrl_r", &k) == 0 && k == 0x9d);
        check(keymap_from_name("f12", &k) == 0 && k == 0x58);
        check(keymap_from_name("up", &k) == 0 && k == 0xc8);
        check(keymap_from_name("kp_enter", &k) == 0 && k == 0x9c);
        check(keymap_from_name("0x1c", &k) == 0 && k == 0x1c);
        check(keymap_from_name("28", &k) == 0 && k == 28);
        check(keymap_from_name("1", &k) == 0 && k == 1); /* numbers are keycodes: Esc */
        check(keymap_from_name("0xff", &k) == 0 && k == 0xff);
        k = 99;
        check(keymap_from_name("0", &k) == -EINVAL);
        check(keymap_from_name("0x100", &k) == -EINVAL);
        check(keymap_from_name("RET", &k) == -EINVAL);
        check(keymap_from_name("", &k) == -EINVAL);
        check(keymap_from_name("tpye", &k) == -EINVAL);
        check(k == 99);
}

int main(void) {
        test_ascii();
        test_sdl();
        test_names();
        printf("ok\n");
        return 0;
}
