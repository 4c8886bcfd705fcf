/* Test helpers over the generated type descriptions (wire_types[]): build a message of any type
 * with chosen boundary values, and compare two. Used by test-wire*.c and the fuzzers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "wire.h"

typedef enum WireTestVariant {
        WIRE_TEST_ZERO,  /* every number 0, every length 0 */
        WIRE_TEST_MAX,   /* every number all ones (i32: INT32_MAX), every length at its maximum */
        WIRE_TEST_MIXED, /* patterns, i32 negative, lengths a third of the maximum */
        _WIRE_TEST_VARIANT_MAX,
} WireTestVariant;

static inline void *wire_test_at(void *m, size_t offset) {
        return (uint8_t *) m + offset;
}

static inline void wire_test_set_fixed(void *m, const WireFieldInfo *f, uint64_t v) {
        void *p = wire_test_at(m, f->offset);
        switch (f->kind) {
        case WIRE_KIND_U8:
                *(uint8_t *) p = (uint8_t) v;
                break;
        case WIRE_KIND_U16:
                *(uint16_t *) p = (uint16_t) v;
                break;
        case WIRE_KIND_U32:
                *(uint32_t *) p = (uint32_t) v;
                break;
        case WIRE_KIND_I32:
                *(int32_t *) p = (int32_t) (uint32_t) v;
                break;
        case WIRE_KIND_U64:
                *(uint64_t *) p = v;
                break;
        default:
                break;
        }
}

static inline uint64_t wire_test_get_fixed(const void *m, const WireFieldInfo *f) {
        const void *p = (const uint8_t *) m + f->offset;
        switch (f->kind) {
        case WIRE_KIND_U8:
                return *(const uint8_t *) p;
        case WIRE_KIND_U16:
                return *(const uint16_t *) p;
        case WIRE_KIND_U32:
                return *(const uint32_t *) p;
        case WIRE_KIND_I32:
                return (uint32_t) *(const int32_t *) p;
        case WIRE_KIND_U64:
                return *(const uint64_t *) p;
        default:
                return 0;
        }
}

static inline bool wire_test_is_var(const WireFieldInfo *f) {
        return f->kind == WIRE_KIND_STRING || f->kind == WIRE_KIND_BYTES || f->kind == WIRE_KIND_BLOB;
}

static inline void wire_test_set_var(void *m, const WireFieldInfo *f, const void *ptr, size_t len) {
        memcpy(wire_test_at(m, f->offset), &ptr, sizeof(ptr));
        memcpy(wire_test_at(m, f->len_offset), &len, sizeof(len));
}

static inline const uint8_t *wire_test_get_var(const void *m, const WireFieldInfo *f, size_t *len) {
        const void *ptr;
        memcpy(&ptr, (const uint8_t *) m + f->offset, sizeof(ptr));
        memcpy(len, (const uint8_t *) m + f->len_offset, sizeof(*len));
        return ptr;
}

/* len bytes of valid UTF-8 mixing 1- to 4-byte sequences (no NUL). */
static inline void wire_test_utf8(uint8_t *p, size_t len) {
        static const char *const pieces[] = { "\xf0\x9f\x96\xa5", "\xe2\x82\xac", "\xc3\xa9", "a" };
        size_t i = 0, k = 0;
        while (i < len) {
                const char *s = pieces[k++ % 4];
                size_t n = strlen(s);
                if (n > len - i)
                        s = "z", n = 1;
                memcpy(p + i, s, n);
                i += n;
        }
}

/* Fills the fields of m, a message struct of info's protocol (WireMessage, AgentMessage) with
 * type and channel set. Variable fields point into arena, which must hold the protocol's largest
 * payload and outlive m. */
static inline void wire_test_fill_fields(void *m, const WireTypeInfo *info, WireTestVariant v, uint8_t *arena) {
        for (size_t i = 0; i < info->n_fields; i++) {
                const WireFieldInfo *f = &info->fields[i];
                if (!wire_test_is_var(f)) {
                        uint64_t x = v == WIRE_TEST_ZERO ? 0
                                   : v == WIRE_TEST_MAX ? (f->kind == WIRE_KIND_I32 ? INT32_MAX : UINT64_MAX)
                                                        : 0x8070605040302010ull + i;
                        if (v == WIRE_TEST_MIXED && f->kind == WIRE_KIND_I32)
                                x = (uint32_t) INT32_MIN + i;
                        wire_test_set_fixed(m, f, x);
                        continue;
                }
                size_t len = v == WIRE_TEST_ZERO ? 0 : v == WIRE_TEST_MAX ? f->max : f->max / 3;
                if (f->kind == WIRE_KIND_STRING)
                        wire_test_utf8(arena, len);
                else
                        for (size_t k = 0; k < len; k++)
                                arena[k] = (uint8_t) (k * 31 + i + 7);
                wire_test_set_var(m, f, len ? arena : NULL, len);
                arena += len;
        }
}

static inline void wire_test_fill(WireMessage *m, const WireTypeInfo *info, WireTestVariant v, uint8_t *arena) {
        *m = (WireMessage) { .type = info->type, .channel = info->channel };
        wire_test_fill_fields(m, info, v, arena);
}

/* The fields of two message structs of info's protocol are equal. */
static inline bool wire_test_fields_equal(const void *a, const void *b, const WireTypeInfo *info) {
        for (size_t i = 0; i < info->n_fields; i++) {
                const WireFieldInfo *f = &info->fields[i];
                if (!wire_test_is_var(f)) {
                        if (wire_test_get_fixed(a, f) != wire_test_get_fixed(b, f))
                                return false;
                        continue;
                }
                size_t la, lb;
                const uint8_t *pa = wire_test_get_var(a, f, &la), *pb = wire_test_get_var(b, f, &lb);
                if (la != lb || (la > 0 && memcmp(pa, pb, la) != 0))
                        return false;
        }
        return true;
}

static inline bool wire_test_equal(const WireMessage *a, const WireMessage *b) {
        const WireTypeInfo *info = wire_type_info(a->type);
        return a->type == b->type && info && wire_test_fields_equal(a, b, info);
}
