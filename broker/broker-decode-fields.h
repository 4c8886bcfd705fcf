/* One decoder for every request body: a table of the object's fields (key, kind, bounds, where
 * the value goes, required or not) read by decode_fields(). Each kind uses the field reader of
 * broker-json.h, so every refusal keeps its status, code and message: unknown keys are refused
 * (unknown-field) as they come, then the first required field that is absent, in table order
 * (missing-field). A custom kind covers what a table cannot say (nested arrays, checked formats). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker-json.h"

typedef enum DecodeKind {
        DECODE_NAME,          /* char[NAME_BUF]: a broker name */
        DECODE_USER,          /* char[NAME_BUF]: a user name (also '@') */
        DECODE_NAME_OR_EMPTY, /* char[NAME_BUF]: "" or a broker name */
        DECODE_USER_OR_EMPTY, /* char[NAME_BUF]: "" or a user name */
        DECODE_TOKEN,         /* char[size]: printable ASCII without spaces, at most max bytes */
        DECODE_UINT,          /* uint64_t, at most max */
        DECODE_NUMBER,        /* double in [min, max_d] */
        DECODE_BOOL,          /* bool */
        DECODE_ENUM,          /* int: the index in options */
        DECODE_CUSTOM,        /* custom(value, the whole output struct, e) */
        DECODE_IMMUTABLE,     /* refused: 422 immutable-field, label is the message */
} DecodeKind;

typedef struct DecodeField {
        const char *key;
        DecodeKind kind;
        size_t offset;                /* of the value in the output struct */
        const char *label;            /* the field's name in messages; NULL: the key */
        uint64_t max;                 /* UINT: largest value; TOKEN: longest text */
        size_t size;                  /* TOKEN: the buffer */
        double min, max_d;            /* NUMBER */
        const char *const *options;   /* ENUM */
        int (*custom)(json_t *v, void *out, ApiError *e);
        unsigned has;                 /* ORed into *has when the key appears */
        bool required;
} DecodeField;

/* obj's keys by fields[0..n) into out; has (may be NULL) collects the fields' has bits. */
int decode_fields(json_t *obj, const DecodeField *fields, size_t n, void *out, unsigned *has, ApiError *e);
/* A request body (json_load_object: empty_ok allows an empty body as {}) decoded the same way. */
int decode_body(const char *data, size_t len, bool empty_ok, const DecodeField *fields, size_t n, void *out,
                unsigned *has, ApiError *e);

#define DECODE_FIELDS(fields) (fields), ELEMENTSOF(fields)
