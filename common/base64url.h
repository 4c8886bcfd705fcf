/* base64url (RFC 4648 section 5) without padding: the text form of tickets, safe in command
 * lines, URLs and environment variables. The decoder is strict so that every byte string has
 * exactly one text form: it refuses '=', whitespace, any character outside [A-Za-z0-9_-], a
 * length that is 1 mod 4, and non-zero unused bits in the last character. */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* Characters needed for len bytes, not counting the terminating NUL. */
size_t base64url_encoded_length(size_t len);
/* Largest number of bytes text_len characters can decode to. */
size_t base64url_decoded_length_max(size_t text_len);

/* Writes the NUL-terminated text of data[0..len) to out (size bytes, NUL included). Returns 0,
 * or -ENOBUFS when out is too small; *ret_len (optional) gets the length without the NUL. */
int base64url_encode(const uint8_t *data, size_t len, char *out, size_t size, size_t *ret_len);
/* The same into a malloc'd string. */
int base64url_encode_alloc(const uint8_t *data, size_t len, char **ret);

/* Decodes text[0..text_len) into out. Returns 0, -EINVAL for text that is not canonical
 * unpadded base64url, or -ENOBUFS when out is too small. out and *ret_len are untouched on
 * failure. */
int base64url_decode(const char *text, size_t text_len, uint8_t *out, size_t size, size_t *ret_len);
