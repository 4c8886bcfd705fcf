/* Bodies of the people-and-inventory routes: users, tokens, desktops, connect and reboot. */
#include <string.h>

#include "broker-decode.h"

const char *const token_roles[] = { "admin", "operator", "user", "monitor", "host", NULL };

int decode_user(const char *data, size_t len, UserSpec *ret, ApiError *e) {
        UserSpec u = {};
        bool named = false;
        json_t *root = NULL, *v;
        const char *key;
        int r = json_load_object(data, len, false, &root, e);
        if (r < 0)
                return r;
        json_object_foreach(root, key, v) {
                if (strcmp(key, "name") == 0) {
                        r = json_field_name(key, v, true, u.name, e);
                        named = true;
                } else if (strcmp(key, "display_name") == 0) {
                        /* Free text, shown to people: no control characters, bounded. */
                        if (!json_is_string(v) || json_string_length(v) >= sizeof(u.display_name))
                                r = api_fail(e, 422, "bad-field", "Field `display_name' must be a string under %zu bytes",
                                             sizeof(u.display_name));
                        else {
                                const char *s = json_string_value(v);
                                size_t n = json_string_length(v);
                                for (size_t i = 0; i < n && r >= 0; i++)
                                        if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                                                r = api_fail(e, 422, "bad-field", "Field `display_name' has a control character");
                                if (r >= 0)
                                        memcpy(u.display_name, s, n + 1);
                        }
                } else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        break;
        }
        json_decref(root);
        if (r < 0)
                return r;
        if (!named)
                return json_missing_field("name", e);
        *ret = u;
        return 0;
}

int decode_token(const char *data, size_t len, TokenSpec *ret, ApiError *e) {
        TokenSpec t = {};
        unsigned seen = 0;
        json_t *root = NULL, *v;
        const char *key;
        int r = json_load_object(data, len, false, &root, e);
        if (r < 0)
                return r;
        json_object_foreach(root, key, v) {
                if (strcmp(key, "role") == 0) {
                        r = json_field_enum(key, v, token_roles, &t.role, e);
                        seen |= 1;
                } else if (strcmp(key, "owner") == 0) {
                        r = json_field_name(key, v, true, t.owner, e);
                        seen |= 2;
                } else if (strcmp(key, "expires_in") == 0)
                        r = json_field_uint(key, v, TOKEN_LIFETIME_MAX, &t.expires_in, e);
                else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        break;
        }
        json_decref(root);
        if (r < 0)
                return r;
        if (!(seen & 1))
                return json_missing_field("role", e);
        if (!(seen & 2))
                return json_missing_field("owner", e);
        *ret = t;
        return 0;
}

int decode_desktop(const char *data, size_t len, DesktopSpec *ret, ApiError *e) {
        DesktopSpec d = {};
        unsigned seen = 0;
        json_t *root = NULL, *v;
        const char *key;
        int r = json_load_object(data, len, false, &root, e);
        if (r < 0)
                return r;
        json_object_foreach(root, key, v) {
                if (strcmp(key, "pool") == 0) {
                        r = json_field_name(key, v, false, d.pool, e);
                        seen |= 1;
                } else if (strcmp(key, "domain") == 0) {
                        r = json_field_name(key, v, false, d.domain, e);
                        seen |= 2;
                } else if (strcmp(key, "uuid") == 0)
                        r = json_field_token(key, v, 36, d.uuid, sizeof(d.uuid), e);
                else if (strcmp(key, "host") == 0)
                        r = json_field_name(key, v, false, d.host, e);
                else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        break;
        }
        json_decref(root);
        if (r < 0)
                return r;
        if (!(seen & 1))
                return json_missing_field("pool", e);
        if (!(seen & 2))
                return json_missing_field("domain", e);
        *ret = d;
        return 0;
}

int decode_connect(const char *data, size_t len, ConnectSpec *ret, ApiError *e) {
        ConnectSpec c = {};
        json_t *root = NULL, *v;
        const char *key;
        int r = json_load_object(data, len, true, &root, e);
        if (r < 0)
                return r;
        json_object_foreach(root, key, v) {
                if (strcmp(key, "user") == 0)
                        r = json_field_name(key, v, true, c.user, e);
                else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        break;
        }
        json_decref(root);
        if (r < 0)
                return r;
        *ret = c;
        return 0;
}

int decode_reboot(const char *data, size_t len, RebootSpec *ret, ApiError *e) {
        RebootSpec s = {};
        json_t *root = NULL, *v;
        const char *key;
        int r = json_load_object(data, len, true, &root, e);
        if (r < 0)
                return r;
        json_object_foreach(root, key, v) {
                if (strcmp(key, "force") == 0)
                        r = json_field_bool(key, v, &s.force, e);
                else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        break;
        }
        json_decref(root);
        if (r < 0)
                return r;
        *ret = s;
        return 0;
}
