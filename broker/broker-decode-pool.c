#include <string.h>

#include "broker-decode.h"

const char *const pool_kinds[] = { "persistent", "floating", NULL };
const char *const hang_actions[] = { "reset", "reboot-then-reset", "alert", NULL };
const char *const clipboard_policies[] = { "off", "to-guest", "to-client", "both", NULL };
const char *const transport_policies[] = { "auto", "udp", "tcp", NULL };

#define POOL_SIZE_MAX 100000
#define POOL_SECONDS_MAX 86400
#define POOL_RESETS_MAX 1000

int decode_pool(const char *data, size_t len, bool create, PoolSpec *ret, ApiError *e) {
        PoolSpec p = {
                .hang_grace_seconds = 30,
                .max_resets_per_hour = 3,
                .clipboard = 3,
                .resize = true,
        };
        json_t *root = NULL, *v;
        const char *key;
        int r = json_load_object(data, len, false, &root, e);
        if (r < 0)
                return r;
        json_object_foreach(root, key, v) {
                if (strcmp(key, "name") == 0) {
                        if (!create)
                                r = api_fail(e, 422, "immutable-field", "A pool's name cannot change");
                        else
                                r = json_field_name(key, v, false, p.name, e);
                        p.has |= POOL_HAS_NAME;
                } else if (strcmp(key, "kind") == 0) {
                        if (!create)
                                r = api_fail(e, 422, "immutable-field", "A pool's kind cannot change");
                        else
                                r = json_field_enum(key, v, pool_kinds, &p.kind, e);
                        p.has |= POOL_HAS_KIND;
                } else if (strcmp(key, "template") == 0) {
                        if (json_is_string(v) && json_string_length(v) == 0)
                                p.template_name[0] = 0;
                        else
                                r = json_field_name(key, v, false, p.template_name, e);
                        p.has |= POOL_HAS_TEMPLATE;
                } else if (strcmp(key, "min_ready") == 0) {
                        r = json_field_uint(key, v, POOL_SIZE_MAX, &p.min_ready, e);
                        p.has |= POOL_HAS_MIN_READY;
                } else if (strcmp(key, "max_size") == 0) {
                        r = json_field_uint(key, v, POOL_SIZE_MAX, &p.max_size, e);
                        p.has |= POOL_HAS_MAX_SIZE;
                } else if (strcmp(key, "hang_grace_seconds") == 0) {
                        r = json_field_uint(key, v, POOL_SECONDS_MAX, &p.hang_grace_seconds, e);
                        p.has |= POOL_HAS_GRACE;
                } else if (strcmp(key, "hang_action") == 0) {
                        r = json_field_enum(key, v, hang_actions, &p.hang_action, e);
                        p.has |= POOL_HAS_ACTION;
                } else if (strcmp(key, "max_resets_per_hour") == 0) {
                        r = json_field_uint(key, v, POOL_RESETS_MAX, &p.max_resets_per_hour, e);
                        p.has |= POOL_HAS_MAX_RESETS;
                } else if (strcmp(key, "clipboard") == 0) {
                        r = json_field_enum(key, v, clipboard_policies, &p.clipboard, e);
                        p.has |= POOL_HAS_CLIPBOARD;
                } else if (strcmp(key, "resize") == 0) {
                        r = json_field_bool(key, v, &p.resize, e);
                        p.has |= POOL_HAS_RESIZE;
                } else if (strcmp(key, "transport") == 0) {
                        r = json_field_enum(key, v, transport_policies, &p.transport, e);
                        p.has |= POOL_HAS_TRANSPORT;
                } else if (strcmp(key, "disconnect_limit_seconds") == 0) {
                        r = json_field_uint(key, v, POOL_SECONDS_MAX, &p.disconnect_limit_seconds, e);
                        p.has |= POOL_HAS_DISCONNECT_LIMIT;
                } else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        break;
        }
        json_decref(root);
        if (r < 0)
                return r;
        if (create && !(p.has & POOL_HAS_NAME))
                return json_missing_field("name", e);
        if (create && !(p.has & POOL_HAS_KIND))
                return json_missing_field("kind", e);
        if ((p.has & POOL_HAS_MIN_READY) && (p.has & POOL_HAS_MAX_SIZE) && p.max_size && p.min_ready > p.max_size)
                return api_fail(e, 422, "bad-field", "min_ready (%llu) exceeds max_size (%llu)",
                                (unsigned long long) p.min_ready, (unsigned long long) p.max_size);
        if (!create && p.has == 0)
                return api_fail(e, 422, "empty-update", "The update names no field");
        *ret = p;
        return 0;
}
