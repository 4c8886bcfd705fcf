/* Unpadded base64url, strict on input. */
#include "base64url.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "macro.h"

static const char alphabet[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63, or -1 for a character outside the alphabet (padding included). */
static int decode_char(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '-')
                return 62;
        if (c == '_')
                return 63;
        return -1;
}

size_t base64url_encoded_length(size_t len) {
        if (len / 3 > (SIZE_MAX - 3) / 4)
                return SIZE_MAX; /* cannot be encoded in memory anyway */
        return len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0);
}

size_t base64url_decoded_length_max(size_t text_len) {
        static const size_t tail[4] = { 0, 0, 1, 2 };
        return text_len / 4 * 3 + tail[text_len % 4];
}

int base64url_encode(const uint8_t *data, size_t len, char *out, size_t size, size_t *ret_len) {
        size_t need = base64url_encoded_length(len);
        if (need == SIZE_MAX || size <= need)
                return -ENOBUFS;

        char *o = out;
        size_t i = 0;
        for (; i + 3 <= len; i += 3) {
                uint32_t v = (uint32_t) data[i] << 16 | (uint32_t) data[i + 1] << 8 | data[i + 2];
                *o++ = alphabet[v >> 18];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = alphabet[(v >> 6) & 63];
                *o++ = alphabet[v & 63];
        }
        if (len - i == 1) {
                uint32_t v = (uint32_t) data[i] << 16;
                *o++ = alphabet[v >> 18];
                *o++ = alphabet[(v >> 12) & 63];
        } else if (len - i == 2) {
                uint32_t v = (uint32_t) data[i] << 16 | (uint32_t) data[i + 1] << 8;
                *o++ = alphabet[v >> 18];
                *o++ = alphabet[(v >> 12) & 63];
                *o++ = alphabet[(v >> 6) & 63];
        }
        *o = '\0';
        if (ret_len)
                *ret_len = need;
        return 0;
}

int base64url_encode_alloc(const uint8_t *data, size_t len, char **ret) {
        size_t need = base64url_encoded_length(len);
        if (need == SIZE_MAX)
                return -ENOMEM;
        _cleanup_(freep) char *s = malloc(need + 1);
        if (!s)
                return -ENOMEM;
        int r = base64url_encode(data, len, s, need + 1, NULL);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(s);
        return 0;
}

int base64url_decode(const char *text, size_t text_len, uint8_t *out, size_t size, size_t *ret_len) {
        /* A single leftover character carries 6 bits: not even one byte. */
        if (text_len % 4 == 1)
                return -EINVAL;
        for (size_t i = 0; i < text_len; i++)
                if (decode_char(text[i]) < 0)
                        return -EINVAL;
        /* The bits below the last whole byte must be zero, or two texts would decode alike. */
        if (text_len % 4 == 2 && (decode_char(text[text_len - 1]) & 0x0f))
                return -EINVAL;
        if (text_len % 4 == 3 && (decode_char(text[text_len - 1]) & 0x03))
                return -EINVAL;

        size_t need = base64url_decoded_length_max(text_len);
        if (need > size)
                return -ENOBUFS;

        /* Validated above: nothing below fails, so out is only written on success. */
        uint8_t *o = out;
        size_t i = 0;
        for (; i + 4 <= text_len; i += 4) {
                uint32_t v = (uint32_t) decode_char(text[i]) << 18 | (uint32_t) decode_char(text[i + 1]) << 12 |
                             (uint32_t) decode_char(text[i + 2]) << 6 | (uint32_t) decode_char(text[i + 3]);
                *o++ = (uint8_t) (v >> 16);
                *o++ = (uint8_t) (v >> 8);
                *o++ = (uint8_t) v;
        }
        if (text_len - i >= 2) {
                uint32_t v = (uint32_t) decode_char(text[i]) << 18 | (uint32_t) decode_char(text[i + 1]) << 12;
                if (text_len - i == 3)
                        v |= (uint32_t) decode_char(text[i + 2]) << 6;
                *o++ = (uint8_t) (v >> 16);
                if (text_len - i == 3)
                        *o++ = (uint8_t) (v >> 8);
        }
        if (ret_len)
                *ret_len = need;
        return 0;
}
