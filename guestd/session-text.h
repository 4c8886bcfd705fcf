/* Text conversions between X11's encodings and the agent protocol's UTF-8, for window titles
 * and clipboard text: what X clients put in properties is arbitrary bytes, what the encoders
 * take must be valid UTF-8 without NUL. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Copies at most max bytes of valid UTF-8 from src (len bytes, anything) into dst: invalid
 * sequences and NULs become '?', a character that would cross max is left out. Returns the
 * bytes written (dst needs max bytes, no NUL is added). */
size_t utf8_sanitize(const uint8_t *src, size_t len, char *dst, size_t max);

/* ISO 8859-1 (X's STRING) to UTF-8: at most 2 * len bytes into dst (size dst_size); returns the
 * bytes written, or -ENOBUFS when dst is too small. NULs become '?'. */
int latin1_to_utf8(const uint8_t *src, size_t len, uint8_t *dst, size_t dst_size, size_t *ret_len);

/* UTF-8 to ISO 8859-1 for clients that ask for STRING: characters above U+00FF and invalid bytes
 * become '?'. dst needs len bytes; returns the bytes written. */
size_t utf8_to_latin1(const uint8_t *src, size_t len, uint8_t *dst);
