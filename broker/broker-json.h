/* What the REST API's request decoders share: the error every refusal carries (an HTTP status, a
 * stable code, a sentence), strict JSON loading (one object, no duplicate keys), typed field
 * readers that name the field they refuse, the names the broker accepts, and base64. Nothing here
 * logs or touches the store: decoders are pure functions of (pointer, length). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "macro.h"

typedef struct ApiError {
        unsigned status;  /* 400, 401, 403, 404, 409, 413, 422, 503, ... */
        const char *code; /* stable, e.g. "unknown-field" */
        char message[240];
} ApiError;

/* Fills e and returns -EINVAL (so decoders can `return api_fail(...)`). */
int api_fail(ApiError *e, unsigned status, const char *code, const char *fmt, ...) _printf_(4, 5);

/* The body as one JSON object. An empty body is {} when empty_ok. Duplicate keys, trailing data,
 * anything but an object: 400 bad-json. */
int json_load_object(const char *data, size_t len, bool empty_ok, json_t **ret, ApiError *e);

/* Names: 1..63 bytes, a letter first, then letters, digits, '.', '-', '_' (users also '@'): safe
 * in URLs, logs, terminals, libvirt and tickets. */
#define BROKER_NAME_MAX 63
bool broker_name_valid(const char *s, size_t len);
bool broker_user_name_valid(const char *s, size_t len);

/* Field readers. Each refuses (422 bad-field, naming the field) a value of the wrong type or
 * out of range, and writes the output only on success. */
int json_field_name(const char *field, json_t *v, bool user, char out[BROKER_NAME_MAX + 2], ApiError *e);
/* Printable ASCII without spaces, 0..max bytes (max < size). */
int json_field_token(const char *field, json_t *v, size_t max, char *out, size_t size, ApiError *e);
int json_field_uint(const char *field, json_t *v, uint64_t max, uint64_t *ret, ApiError *e);
int json_field_number(const char *field, json_t *v, double min, double max, double *ret, ApiError *e);
int json_field_bool(const char *field, json_t *v, bool *ret, ApiError *e);
/* One of the NULL-terminated options; *ret is its index. */
int json_field_enum(const char *field, json_t *v, const char *const *options, int *ret, ApiError *e);
int json_unknown_field(const char *key, ApiError *e);
int json_missing_field(const char *key, ApiError *e);

/* Standard base64 (RFC 4648 section 4, padded, no whitespace) into a malloc'd buffer of at most
 * max bytes: 0, -EINVAL, -EFBIG, -ENOMEM. */
int base64_decode_alloc(const char *text, size_t len, size_t max, uint8_t **ret, size_t *ret_len);
/* The encoder (thumbnails in responses are served raw; this is for tests and tools). */
int base64_encode_alloc(const uint8_t *data, size_t len, char **ret);

/* Returns the index of s among the NULL-terminated options, or -1. */
int string_index(const char *const *options, const char *s);
