/* Fuzzes what hostd parses of the broker and of its [Broker] settings: the broker's JSON error
 * answers (broker_answer_error), the power requests of a report's answer (broker_answer_requests), certificate fingerprints (Fingerprint=) and host names.
 *
 * Whatever the input, nothing crashes, the error's code and message come out NUL-terminated,
 * within their buffers and printable, and a fingerprint that parses is 64 hex digits (with ':'
 * between pairs) that give the same bytes again. */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "hostd-broker-answer.h"
#include "hostd-conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char code[16], message[64];
        memset(code, 'x', sizeof(code));
        memset(message, 'x', sizeof(message));
        (void) broker_answer_error((const char *) data, size, 400, code, sizeof(code), message, sizeof(message));
        assert(memchr(code, 0, sizeof(code)) && memchr(message, 0, sizeof(message)));
        for (const char *p = code; *p; p++)
                assert(*p >= ' ' && *p <= '~');
        for (const char *p = message; *p; p++)
                assert(*p >= ' ' && *p <= '~');

        BrokerPowerAsk asks[4];
        size_t n = broker_answer_requests((const char *) data, size, asks, 4);
        assert(n <= 4);
        for (size_t i = 0; i < n; i++)
                assert(asks[i].id >= 0 && hostd_broker_name_valid(asks[i].domain, strlen(asks[i].domain)));

        uint8_t fp[32];
        if (hostd_broker_fingerprint_parse((const char *) data, size, fp) == 0) {
                char hex[65];
                uint8_t again[32];
                for (size_t i = 0; i < sizeof(fp); i++)
                        snprintf(hex + 2 * i, 3, "%02x", fp[i]);
                assert(size >= 64 && size <= 95);
                assert(hostd_broker_fingerprint_parse(hex, 64, again) == 0 && memcmp(fp, again, sizeof(fp)) == 0);
        }
        if (hostd_broker_name_valid((const char *) data, size))
                assert(size >= 1 && size <= 63 && memchr(data, 0, size) == NULL);
        return 0;
}
