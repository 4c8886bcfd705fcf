#include <string.h>

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

int decode_host(const char *data, size_t len, HostSpec *ret, ApiError *e) {
        HostSpec h = {};
        unsigned seen = 0;
        json_t *root = NULL, *v;
        const char *key;
        int r = json_load_object(data, len, false, &root, e);
        if (r < 0)
                return r;
        json_object_foreach(root, key, v) {
                if (strcmp(key, "name") == 0) {
                        r = json_field_name(key, v, false, h.name, e);
                        seen |= 1;
                } else if (strcmp(key, "libvirt_uri") == 0) {
                        r = decode_uri(v, h.libvirt_uri, e);
                        seen |= 2;
                } else if (strcmp(key, "address") == 0) {
                        r = decode_address(v, h.address, e);
                        seen |= 4;
                } else if (strcmp(key, "fingerprint") == 0)
                        r = decode_fingerprint(v, h.fingerprint, e);
                else if (strcmp(key, "capacity") == 0)
                        r = json_field_uint(key, v, 100000, &h.capacity, e);
                else
                        r = json_unknown_field(key, e);
                if (r < 0)
                        break;
        }
        json_decref(root);
        if (r < 0)
                return r;
        if (!(seen & 1))
                return json_missing_field("name", e);
        if (!(seen & 2))
                return json_missing_field("libvirt_uri", e);
        if (!(seen & 4))
                return json_missing_field("address", e);
        *ret = h;
        return 0;
}
