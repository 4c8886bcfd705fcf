/* Writes the seeds of rudp's fuzzers (committed under corpus/): `rudp-corpus DIR`, or
 * `ninja -C build rudp-corpus` to regenerate them after a format change. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "rudp-packet.h"

static const char *dir;

static int save(const char *fuzzer, const char *name, const uint8_t *p, size_t n) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, fuzzer);
        (void) mkdir(path, 0755);
        snprintf(path, sizeof path, "%s/%s/%s", dir, fuzzer, name);
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(p, 1, n, f) != n) {
                fprintf(stderr, "rudp-corpus: cannot write %s\n", path);
                if (f)
                        fclose(f);
                return -EIO;
        }
        return fclose(f) == 0 ? 0 : -EIO;
}

static int packets(void) {
        uint8_t buf[RUDP_DATAGRAM_MAX], data[1100];
        int r = 0;
        for (size_t i = 0; i < sizeof data; i++)
                data[i] = (uint8_t) (i * 7);

        RudpHeader h = { .connection = 0x1122334455667788ull, .number = 7 };
        RudpWriter w = { buf, sizeof buf, 0 };
        rudp_header_write(&w, &h);
        rudp_frame_write_stream(&w, 1, RUDP_RELIABLE_ORDERED, 3, 0, 1100, 0, data, 1000);
        r |= save("fuzz-rudp-packet", "stream", buf, w.len);

        w.len = 0;
        h = (RudpHeader) { .connection = 1, .number = 100000, .protected = true, .fec_group = 12, .fec_index = 3 };
        rudp_header_write(&w, &h);
        RudpAckRange ranges[] = { { 90, 99 }, { 70, 80 }, { 10, 60 }, { 0, 5 } };
        rudp_frame_write_ack(&w, ranges, 4, 1234, 2);
        rudp_frame_write_simple(&w, RUDP_FRAME_PING);
        rudp_frame_write_max_stream(&w, 0, 1u << 21);
        rudp_frame_write_stream(&w, 2, RUDP_LATEST_WINS, 77, 5000, 40, 10, data, 30);
        rudp_frame_write_stream(&w, 3, RUDP_RELIABLE_UNORDERED, 78, 0, 8, 0, data, 8);
        rudp_frame_write_close(&w, 9);
        rudp_frame_write_padding(&w, 30);
        r |= save("fuzz-rudp-packet", "mixed", buf, w.len);

        w.len = 0;
        h = (RudpHeader) { .connection = 1, .number = 64 };
        rudp_header_write(&w, &h);
        rudp_frame_write_parity(&w, 12, 20, 2, 1, data, 900);
        r |= save("fuzz-rudp-packet", "parity", buf, w.len);

        /* ACK bodies (the type byte is implied by fuzz-rudp-ack). */
        w.len = 0;
        rudp_frame_write_ack(&w, ranges, 4, 5, 0);
        r |= save("fuzz-rudp-ack", "four-ranges", buf + 1, w.len - 1);
        RudpAckRange many[RUDP_ACK_RANGES_MAX];
        for (size_t i = 0; i < RUDP_ACK_RANGES_MAX; i++)
                many[i] = (RudpAckRange) { 100000 - i * 1000 - 10, 100000 - i * 1000 };
        w.len = 0;
        rudp_frame_write_ack(&w, many, RUDP_ACK_RANGES_MAX, 25000, 100);
        r |= save("fuzz-rudp-ack", "max-ranges", buf + 1, w.len - 1);
        RudpAckRange zero[] = { { 0, 0 } };
        w.len = 0;
        rudp_frame_write_ack(&w, zero, 1, 0, 0);
        r |= save("fuzz-rudp-ack", "first-packet", buf + 1, w.len - 1);
        return r;
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: rudp-corpus DIR\n");
                return 2;
        }
        dir = argv[1];
        return packets() == 0 ? 0 : 1;
}
