#include "broker-json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int api_fail(ApiError *e, unsigned status, const char *code, const char *fmt, ...) {
        va_list ap;
        e->status = status;
        e->code = code;
        va_start(ap, fmt);
        vsnprintf(e->message, sizeof(e->message), fmt, ap);
        va_end(ap);
        return -EINVAL;
}

int json_load_object(const char *data, size_t len, bool empty_ok, json_t **ret, ApiError *e) {
        if (len == 0) {
                if (!empty_ok)
                        return api_fail(e, 400, "bad-json", "A JSON object is required as the request body");
                *ret = json_object();
                return *ret ? 0 : -ENOMEM;
        }
        json_error_t err;
        json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &err);
        if (!root)
                return api_fail(e, 400, "bad-json", "Malformed JSON at byte %d: %s", err.position, err.text);
        if (!json_is_object(root)) {
                json_decref(root);
                return api_fail(e, 400, "bad-json", "The request body must be a JSON object");
        }
        *ret = root;
        return 0;
}

static bool name_valid(const char *s, size_t len, bool user) {
        if (len == 0 || len > BROKER_NAME_MAX)
                return false;
        for (size_t i = 0; i < len; i++) {
                char c = s[i];
                bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
                if (i == 0 && !letter)
                        return false;
                if (!letter && !(c >= '0' && c <= '9') && c != '.' && c != '-' && c != '_' && !(user && c == '@'))
                        return false;
        }
        return true;
}

bool broker_name_valid(const char *s, size_t len) {
        return name_valid(s, len, false);
}

bool broker_user_name_valid(const char *s, size_t len) {
        return name_valid(s, len, true);
}

int json_unknown_field(const char *key, ApiError *e) {
        /* The key is the caller's, maybe hostile: quote only a safe prefix. */
        char safe[40];
        size_t n = 0;
        for (const char *k = key; *k && n < sizeof(safe) - 1; k++)
                safe[n++] = (*k >= 0x20 && *k < 0x7f) ? *k : '?';
        safe[n] = 0;
        return api_fail(e, 422, "unknown-field", "Unknown field `%s'", safe);
}

int json_missing_field(const char *key, ApiError *e) {
        return api_fail(e, 422, "missing-field", "Field `%s' is required", key);
}

int json_field_name(const char *field, json_t *v, bool user, char out[BROKER_NAME_MAX + 2], ApiError *e) {
        if (!json_is_string(v))
                return api_fail(e, 422, "bad-field", "Field `%s' must be a string", field);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (strlen(s) != len || !name_valid(s, len, user))
                return api_fail(e, 422, "bad-name",
                                "Field `%s' must be 1-63 letters, digits, '.', '-', '_'%s, starting with a letter", field,
                                user ? " or '@'" : "");
        memcpy(out, s, len + 1);
        return 0;
}

int json_field_token(const char *field, json_t *v, size_t max, char *out, size_t size, ApiError *e) {
        if (!json_is_string(v))
                return api_fail(e, 422, "bad-field", "Field `%s' must be a string", field);
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        if (len > max || len >= size)
                return api_fail(e, 422, "bad-field", "Field `%s' is longer than %zu bytes", field, max);
        for (size_t i = 0; i < len; i++)
                if (s[i] <= 0x20 || s[i] >= 0x7f)
                        return api_fail(e, 422, "bad-field", "Field `%s' must be printable ASCII without spaces", field);
        memcpy(out, s, len + 1);
        return 0;
}

int json_field_uint(const char *field, json_t *v, uint64_t max, uint64_t *ret, ApiError *e) {
        if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t) json_integer_value(v) > max)
                return api_fail(e, 422, "bad-field", "Field `%s' must be an integer from 0 to %llu", field,
                                (unsigned long long) max);
        *ret = (uint64_t) json_integer_value(v);
        return 0;
}

int json_field_number(const char *field, json_t *v, double min, double max, double *ret, ApiError *e) {
        double d = json_number_value(v);
        if (!json_is_number(v) || !isfinite(d) || d < min || d > max)
                return api_fail(e, 422, "bad-field", "Field `%s' must be a number from %g to %g", field, min, max);
        *ret = d;
        return 0;
}

int json_field_bool(const char *field, json_t *v, bool *ret, ApiError *e) {
        if (!json_is_boolean(v))
                return api_fail(e, 422, "bad-field", "Field `%s' must be true or false", field);
        *ret = json_is_true(v);
        return 0;
}

int string_index(const char *const *options, const char *s) {
        for (int i = 0; options[i]; i++)
                if (strcmp(options[i], s) == 0)
                        return i;
        return -1;
}

int json_field_enum(const char *field, json_t *v, const char *const *options, int *ret, ApiError *e) {
        int i = json_is_string(v) && strlen(json_string_value(v)) == json_string_length(v)
                        ? string_index(options, json_string_value(v))
                        : -1;
        if (i < 0) {
                char list[160] = "";
                size_t n = 0;
                for (int k = 0; options[k] && n < sizeof(list); k++)
                        n += (size_t) snprintf(list + n, sizeof(list) - n, "%s%s", k ? ", " : "", options[k]);
                return api_fail(e, 422, "bad-field", "Field `%s' must be one of: %s", field, list);
        }
        *ret = i;
        return 0;
}

static int b64_value(char c) {
        if (c >= 'A' && c <= 'Z')
                return c - 'A';
        if (c >= 'a' && c <= 'z')
                return c - 'a' + 26;
        if (c >= '0' && c <= '9')
                return c - '0' + 52;
        if (c == '+')
                return 62;
        if (c == '/')
                return 63;
        return -1;
}

int base64_decode_alloc(const char *text, size_t len, size_t max, uint8_t **ret, size_t *ret_len) {
        if (len % 4)
                return -EINVAL;
        size_t pad = 0;
        if (len >= 1 && text[len - 1] == '=')
                pad++;
        if (len >= 2 && text[len - 2] == '=')
                pad++;
        size_t out_len = len / 4 * 3 - pad;
        if (out_len > max)
                return -EFBIG;
        uint8_t *out = malloc(out_len ? out_len : 1);
        if (!out)
                return -ENOMEM;
        size_t o = 0;
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                bool last = i + 4 == len;
                for (size_t k = 0; k < 4; k++) {
                        v[k] = (last && k >= 4 - pad) ? 0 : b64_value(text[i + k]);
                        if (v[k] < 0) {
                                free(out);
                                return -EINVAL;
                        }
                }
                uint32_t w = (uint32_t) v[0] << 18 | (uint32_t) v[1] << 12 | (uint32_t) v[2] << 6 | (uint32_t) v[3];
                uint8_t b[3] = { (uint8_t) (w >> 16), (uint8_t) (w >> 8), (uint8_t) w };
                size_t n = last ? 3 - pad : 3;
                /* Canonical form only: the bits a padded group does not carry are zero. */
                if (last && ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))) {
                        free(out);
                        return -EINVAL;
                }
                memcpy(out + o, b, n);
                o += n;
        }
        *ret = out;
        *ret_len = o;
        return 0;
}

int base64_encode_alloc(const uint8_t *data, size_t len, char **ret) {
        static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        char *out = malloc((len + 2) / 3 * 4 + 1), *p = out;
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < len; i += 3) {
                uint32_t w = (uint32_t) data[i] << 16 | (i + 1 < len ? (uint32_t) data[i + 1] << 8 : 0) |
                             (i + 2 < len ? data[i + 2] : 0);
                *p++ = alphabet[w >> 18 & 63];
                *p++ = alphabet[w >> 12 & 63];
                *p++ = i + 1 < len ? alphabet[w >> 6 & 63] : '=';
                *p++ = i + 2 < len ? alphabet[w & 63] : '=';
        }
        *p = 0;
        *ret = out;
        return 0;
}
