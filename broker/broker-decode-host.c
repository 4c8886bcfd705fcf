#include <stddef.h>
#include <string.h>

#include "broker-decode-fields.h"
#include "broker-decode.h"
#include "ticket.h"

static int decode_address(json_t *v, char out[HOST_ADDRESS_MAX + 1], ApiError *e) {
        char buf[HOST_ADDRESS_MAX + 1], name[HOST_ADDRESS_MAX + 1];
        uint16_t port;
        int r = json_field_token("address", v, HOST_ADDRESS_MAX, buf, sizeof(buf), e);
        if (r < 0)
                return r;
        /* What a ticket will carry and the viewer dial: the ticket's own rule. */
        if (ticket_host_split(buf, name, sizeof(name), &port) < 0)
                return api_fail(e, 422, "bad-field", "Field `address' must be NAME:PORT or [IPV6]:PORT");
        memcpy(out, buf, strlen(buf) + 1);
        return 0;
}

static int decode_fingerprint(json_t *v, char out[65], ApiError *e) {
        char buf[65];
        int r = json_field_token("fingerprint", v, 64, buf, sizeof(buf), e);
        if (r < 0)
                return r;
        size_t n = strlen(buf);
        bool ok = n == 0 || n == 64;
        for (size_t i = 0; ok && i < n; i++)
                ok = (buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f');
        if (!ok)
                return api_fail(e, 422, "bad-field", "Field `fingerprint' must be 64 lower-case hex digits (SHA-256) or empty");
        memcpy(out, buf, n + 1);
        return 0;
}

static int decode_uri(json_t *v, char out[LIBVIRT_URI_MAX + 1], ApiError *e) {
        char buf[LIBVIRT_URI_MAX + 1];
        int r = json_field_token("libvirt_uri", v, LIBVIRT_URI_MAX, buf, sizeof(buf), e);
        if (r < 0)
                return r;
        if (!strstr(buf, ":/"))
                return api_fail(e, 422, "bad-field", "Field `libvirt_uri' must be a libvirt URI such as qemu:///system");
        memcpy(out, buf, strlen(buf) + 1);
        return 0;
}

static int host_uri(json_t *v, void *out, ApiError *e) {
        return decode_uri(v, ((HostSpec *) out)->libvirt_uri, e);
}

static int host_address(json_t *v, void *out, ApiError *e) {
        return decode_address(v, ((HostSpec *) out)->address, e);
}

static int host_fingerprint(json_t *v, void *out, ApiError *e) {
        return decode_fingerprint(v, ((HostSpec *) out)->fingerprint, e);
}

static const DecodeField host_fields[] = {
        { .key = "name", .kind = DECODE_NAME, .offset = offsetof(HostSpec, name), .required = true },
        { .key = "libvirt_uri", .kind = DECODE_CUSTOM, .custom = host_uri, .required = true },
        { .key = "address", .kind = DECODE_CUSTOM, .custom = host_address, .required = true },
        { .key = "fingerprint", .kind = DECODE_CUSTOM, .custom = host_fingerprint },
        { .key = "capacity", .kind = DECODE_UINT, .offset = offsetof(HostSpec, capacity), .max = 100000 },
};

int decode_host(const char *data, size_t len, HostSpec *ret, ApiError *e) {
        HostSpec h = {};
        int r = decode_body(data, len, false, DECODE_FIELDS(host_fields), &h, NULL, e);
        if (r < 0)
                return r;
        *ret = h;
        return 0;
}
