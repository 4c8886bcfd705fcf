/* Fuzzes wire_decode() with any type, channel and payload: input is type (u16 LE), channel (u8),
 * then the payload, so both directions' types are reached. A decoded message must re-encode to
 * exactly the frame it came from, and every byte it points at is read, so ASan sees overreads. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "unaligned.h"
#include "wire-test.h"
#include "wire.h"

volatile uint8_t fuzz_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        WireMessage m;
        Buffer b = BUFFER_INIT(WIRE_HEADER_SIZE + WIRE_KNOWN_SIZE_MAX);

        if (size < 3)
                return 0;
        uint16_t type = get_le16(data);
        uint8_t channel = data[2];
        const uint8_t *payload = size > 3 ? data + 3 : NULL;
        size_t len = size - 3;

        int r = wire_decode(type, channel, payload, len, &m);
        if (r == -ENOMSG) {
                if (wire_type_info(type))
                        abort();
                return 0;
        }
        if (r < 0) {
                if (r != -EPROTO && r != -EMSGSIZE && r != -EBADMSG)
                        abort();
                return 0;
        }

        const WireTypeInfo *info = wire_type_info(type);
        if (!info || m.type != type || m.channel != channel || len > info->max_size)
                abort();
        for (size_t i = 0; i < info->n_fields; i++) {
                size_t n;
                if (!wire_test_is_var(&info->fields[i]))
                        continue;
                const uint8_t *p = wire_test_get_var(&m, &info->fields[i], &n);
                if (n > info->fields[i].max || (n > 0 && (p < payload || p + n > payload + len)))
                        abort();
                for (size_t k = 0; k < n; k++)
                        fuzz_sink += p[k];
                if (info->fields[i].kind == WIRE_KIND_STRING && !wire_string_valid((const char *) p, n))
                        abort();
        }

        /* The encoding is canonical: what decodes re-encodes to the same bytes. */
        if (wire_encode(&b, &m) < 0 || buffer_len(&b) != WIRE_HEADER_SIZE + len ||
            (len > 0 && memcmp(buffer_data(&b) + WIRE_HEADER_SIZE, payload, len) != 0))
                abort();
        WireHeader h;
        wire_header_parse(buffer_data(&b), &h);
        if (h.type != type || h.channel != channel || h.size != len)
                abort();
        buffer_done(&b);
        return 0;
}
