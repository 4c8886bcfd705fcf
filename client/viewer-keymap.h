/* Keyboard mapping for the viewer. Everything ends in QEMU's keycodes, which are what the wire
 * protocol's `key` carries: PC XT (set 1) scancodes, with 0x80|code for the E0-prefixed keys
 * (Right Ctrl 0x9d, Up 0xc8, ...). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define KEYCODE_LEFT_SHIFT 0x2a
#define KEYCODE_LEFT_CTRL 0x1d
#define KEYCODE_LEFT_ALT 0x38
#define KEYCODE_RIGHT_CTRL 0x9d
#define KEYCODE_RIGHT_ALT 0xb8
#define KEYCODE_MAX 0xff

/* The key that types c on a US layout, and whether Shift must be held. Printable ASCII plus
 * \n (Enter), \t (Tab), \b (Backspace) and ESC. -EINVAL for anything else. */
int keymap_from_ascii(char c, uint32_t *ret_keycode, bool *ret_shift);

/* SDL2 scancodes are USB HID usage IDs (keyboard page), so this table needs no SDL header;
 * viewer-sdl.c checks a few against SDL's enum at compile time. Returns 0 for keys with no PC
 * equivalent. */
uint32_t keymap_from_sdl_scancode(unsigned scancode);

/* A key for scripts: a number (28, 0x1c) or one of QEMU's QKeyCode names as `sendkey` and
 * `virsh send-key` use them (ret, ctrl_r, f5, kp_enter, ...) but the digits, plus enter, space
 * and escape. -EINVAL when it is neither or the number is not 1-0xff. */
int keymap_from_name(const char *name, uint32_t *ret_keycode);
