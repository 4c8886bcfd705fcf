#include "broker-decode-fields.h"

#include <errno.h>
#include <string.h>

#include "broker-decode.h"

static int name_or_empty(const char *label, json_t *v, bool user, char *out, ApiError *e) {
        if (json_is_string(v) && json_string_length(v) == 0) {
                out[0] = 0;
                return 0;
        }
        return json_field_name(label, v, user, out, e);
}

static int decode_one(const DecodeField *f, json_t *v, void *out, ApiError *e) {
        const char *label = f->label ? f->label : f->key;
        char *at = (char *) out + f->offset;
        switch (f->kind) {
        case DECODE_NAME:
        case DECODE_USER:
                return json_field_name(label, v, f->kind == DECODE_USER, at, e);
        case DECODE_NAME_OR_EMPTY:
        case DECODE_USER_OR_EMPTY:
                return name_or_empty(label, v, f->kind == DECODE_USER_OR_EMPTY, at, e);
        case DECODE_TOKEN:
                return json_field_token(label, v, f->max, at, f->size, e);
        case DECODE_UINT:
                return json_field_uint(label, v, f->max, (uint64_t *) (void *) at, e);
        case DECODE_NUMBER:
                return json_field_number(label, v, f->min, f->max_d, (double *) (void *) at, e);
        case DECODE_BOOL:
                return json_field_bool(label, v, (bool *) at, e);
        case DECODE_ENUM:
                return json_field_enum(label, v, f->options, (int *) (void *) at, e);
        case DECODE_CUSTOM:
                return f->custom(v, out, e);
        case DECODE_IMMUTABLE:
                return api_fail(e, 422, "immutable-field", "%s", label);
        }
        return -EINVAL;
}

int decode_fields(json_t *obj, const DecodeField *fields, size_t n, void *out, unsigned *has, ApiError *e) {
        uint64_t seen = 0; /* by index in fields */
        const char *key;
        json_t *v;
        json_object_foreach(obj, key, v) {
                size_t i = 0;
                while (i < n && strcmp(fields[i].key, key) != 0)
                        i++;
                if (i == n)
                        return json_unknown_field(key, e);
                int r = decode_one(&fields[i], v, out, e);
                if (r < 0)
                        return r;
                if (i < 64)
                        seen |= UINT64_C(1) << i;
                if (has)
                        *has |= fields[i].has;
        }
        for (size_t i = 0; i < n && i < 64; i++)
                if (fields[i].required && !(seen & (UINT64_C(1) << i)))
                        return json_missing_field(fields[i].label ? fields[i].label : fields[i].key, e);
        return 0;
}

int decode_body(const char *data, size_t len, bool empty_ok, const DecodeField *fields, size_t n, void *out,
                unsigned *has, ApiError *e) {
        json_t *root = NULL;
        int r = json_load_object(data, len, empty_ok, &root, e);
        if (r < 0)
                return r;
        r = decode_fields(root, fields, n, out, has, e);
        json_decref(root);
        return r;
}
