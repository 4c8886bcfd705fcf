/* Bodies of the people-and-inventory routes: users, tokens, desktops, connect and reboot. */
#include <stddef.h>
#include <string.h>

#include "broker-decode-fields.h"
#include "broker-decode.h"

const char *const token_roles[] = { "admin", "operator", "user", "monitor", "host", NULL };

/* Free text, shown to people: no control characters, bounded. */
static int display_name(json_t *v, void *out, ApiError *e) {
        UserSpec *u = out;
        if (!json_is_string(v) || json_string_length(v) >= sizeof(u->display_name))
                return api_fail(e, 422, "bad-field", "Field `display_name' must be a string under %zu bytes",
                                sizeof(u->display_name));
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        for (size_t i = 0; i < n; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return api_fail(e, 422, "bad-field", "Field `display_name' has a control character");
        memcpy(u->display_name, s, n + 1);
        return 0;
}

static const DecodeField user_fields[] = {
        { .key = "name", .kind = DECODE_USER, .offset = offsetof(UserSpec, name), .required = true },
        { .key = "display_name", .kind = DECODE_CUSTOM, .custom = display_name },
};

static const DecodeField token_fields[] = {
        { .key = "role", .kind = DECODE_ENUM, .offset = offsetof(TokenSpec, role), .options = token_roles, .required = true },
        { .key = "owner", .kind = DECODE_USER, .offset = offsetof(TokenSpec, owner), .required = true },
        { .key = "expires_in", .kind = DECODE_UINT, .offset = offsetof(TokenSpec, expires_in), .max = TOKEN_LIFETIME_MAX },
};

static const DecodeField desktop_fields[] = {
        { .key = "pool", .kind = DECODE_NAME, .offset = offsetof(DesktopSpec, pool), .required = true },
        { .key = "domain", .kind = DECODE_NAME, .offset = offsetof(DesktopSpec, domain), .required = true },
        { .key = "uuid", .kind = DECODE_TOKEN, .offset = offsetof(DesktopSpec, uuid), .max = 36,
          .size = sizeof(((DesktopSpec *) NULL)->uuid) },
        { .key = "host", .kind = DECODE_NAME, .offset = offsetof(DesktopSpec, host) },
};

static const DecodeField connect_fields[] = {
        { .key = "user", .kind = DECODE_USER, .offset = offsetof(ConnectSpec, user) },
};

static const DecodeField reboot_fields[] = {
        { .key = "force", .kind = DECODE_BOOL, .offset = offsetof(RebootSpec, force) },
};

/* Decodes into a zeroed spec and hands it out only whole. */
#define DECODE_INTO(type, empty_ok, fields)                                                      \
        do {                                                                                     \
                type spec = {};                                                                  \
                int r = decode_body(data, len, empty_ok, DECODE_FIELDS(fields), &spec, NULL, e); \
                if (r < 0)                                                                       \
                        return r;                                                                \
                *ret = spec;                                                                     \
                return 0;                                                                        \
        } while (0)

int decode_user(const char *data, size_t len, UserSpec *ret, ApiError *e) {
        DECODE_INTO(UserSpec, false, user_fields);
}

int decode_token(const char *data, size_t len, TokenSpec *ret, ApiError *e) {
        DECODE_INTO(TokenSpec, false, token_fields);
}

int decode_desktop(const char *data, size_t len, DesktopSpec *ret, ApiError *e) {
        DECODE_INTO(DesktopSpec, false, desktop_fields);
}

int decode_connect(const char *data, size_t len, ConnectSpec *ret, ApiError *e) {
        DECODE_INTO(ConnectSpec, true, connect_fields);
}

int decode_reboot(const char *data, size_t len, RebootSpec *ret, ApiError *e) {
        DECODE_INTO(RebootSpec, true, reboot_fields);
}
