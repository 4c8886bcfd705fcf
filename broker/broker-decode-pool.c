#include <stddef.h>
#include <string.h>

#include "broker-decode-fields.h"
#include "broker-decode.h"

const char *const pool_kinds[] = { "persistent", "floating", NULL };
const char *const hang_actions[] = { "reset", "reboot-then-reset", "alert", NULL };
const char *const clipboard_policies[] = { "off", "to-guest", "to-client", "both", NULL };
const char *const transport_policies[] = { "auto", "udp", "tcp", NULL };

#define POOL_SIZE_MAX 100000
#define POOL_SECONDS_MAX 86400
#define POOL_RESETS_MAX 1000

#define FIELD(k, kd, member, bit, ...) \
        { .key = k, .kind = kd, .offset = offsetof(PoolSpec, member), .has = bit, __VA_ARGS__ }
/* Everything but the name and the kind: the same on create and update. */
#define POOL_SETTINGS                                                                                              \
        FIELD("template", DECODE_NAME_OR_EMPTY, template_name, POOL_HAS_TEMPLATE),                                  \
        FIELD("min_ready", DECODE_UINT, min_ready, POOL_HAS_MIN_READY, .max = POOL_SIZE_MAX),                       \
        FIELD("max_size", DECODE_UINT, max_size, POOL_HAS_MAX_SIZE, .max = POOL_SIZE_MAX),                          \
        FIELD("hang_grace_seconds", DECODE_UINT, hang_grace_seconds, POOL_HAS_GRACE, .max = POOL_SECONDS_MAX),      \
        FIELD("hang_action", DECODE_ENUM, hang_action, POOL_HAS_ACTION, .options = hang_actions),                   \
        FIELD("max_resets_per_hour", DECODE_UINT, max_resets_per_hour, POOL_HAS_MAX_RESETS, .max = POOL_RESETS_MAX), \
        FIELD("clipboard", DECODE_ENUM, clipboard, POOL_HAS_CLIPBOARD, .options = clipboard_policies),              \
        FIELD("resize", DECODE_BOOL, resize, POOL_HAS_RESIZE),                                                      \
        FIELD("transport", DECODE_ENUM, transport, POOL_HAS_TRANSPORT, .options = transport_policies),              \
        FIELD("disconnect_limit_seconds", DECODE_UINT, disconnect_limit_seconds, POOL_HAS_DISCONNECT_LIMIT,         \
              .max = POOL_SECONDS_MAX)

static const DecodeField pool_create_fields[] = {
        FIELD("name", DECODE_NAME, name, POOL_HAS_NAME, .required = true),
        FIELD("kind", DECODE_ENUM, kind, POOL_HAS_KIND, .options = pool_kinds, .required = true),
        POOL_SETTINGS,
};

static const DecodeField pool_update_fields[] = {
        FIELD("name", DECODE_IMMUTABLE, name, POOL_HAS_NAME, .label = "A pool's name cannot change"),
        FIELD("kind", DECODE_IMMUTABLE, kind, POOL_HAS_KIND, .label = "A pool's kind cannot change"),
        POOL_SETTINGS,
};

int decode_pool(const char *data, size_t len, bool create, PoolSpec *ret, ApiError *e) {
        PoolSpec p = {
                .hang_grace_seconds = 30,
                .max_resets_per_hour = 3,
                .clipboard = 3,
                .resize = true,
        };
        int r = create ? decode_body(data, len, false, DECODE_FIELDS(pool_create_fields), &p, &p.has, e)
                       : decode_body(data, len, false, DECODE_FIELDS(pool_update_fields), &p, &p.has, e);
        if (r < 0)
                return r;
        if ((p.has & POOL_HAS_MIN_READY) && (p.has & POOL_HAS_MAX_SIZE) && p.max_size && p.min_ready > p.max_size)
                return api_fail(e, 422, "bad-field", "min_ready (%llu) exceeds max_size (%llu)",
                                (unsigned long long) p.min_ready, (unsigned long long) p.max_size);
        if (!create && p.has == 0)
                return api_fail(e, 422, "empty-update", "The update names no field");
        *ret = p;
        return 0;
}
