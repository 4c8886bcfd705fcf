/* Writes the seeds of rudp's fuzzers (committed under corpus/): `rudp-corpus DIR`, or
 * `ninja -C build rudp-corpus` to regenerate them after a format change. */
#include <errno.h>
#include <stdio.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>

#include "rudp-fec.h"
#include "rudp-packet.h"
#include "unaligned.h"

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

        /* MSG_PARITY on channel 1: a message partly there, the XOR of it and the next, then the next
         * whole: the first is rebuilt. Then a chain: two frames held, the third message rebuilds
         * the second, which rebuilds the first. */
        uint8_t x[3][100], xor[100];
        for (size_t i = 0; i < 100; i++) {
                x[0][i] = (uint8_t) (i * 3 + 1);
                x[1][i] = (uint8_t) (i * 5 + 2);
                x[2][i] = (uint8_t) (i * 11 + 3);
        }
        uint32_t ids[2] = { 10, 11 }, lens[2] = { 100, 60 };
        w.len = 0;
        h = (RudpHeader) { .number = 3 };
        rudp_header_write(&w, &h);
        rudp_frame_write_stream(&w, 1, RUDP_RELIABLE_ORDERED, 10, 0, 100, 0, x[0], 50);
        for (size_t i = 0; i < 100; i++)
                xor[i] = x[0][i] ^ (i < 60 ? x[1][i] : 0);
        rudp_frame_write_msg_parity(&w, 1, 0, 2, ids, lens, xor, 100);
        rudp_frame_write_stream(&w, 1, RUDP_RELIABLE_ORDERED, 11, 100, 60, 0, x[1], 60);
        r |= save("fuzz-rudp-packet", "msg-parity", buf, w.len);

        w.len = 0;
        rudp_header_write(&w, &h);
        rudp_frame_write_stream(&w, 1, RUDP_RELIABLE_ORDERED, 10, 0, 100, 0, x[0], 50);
        lens[1] = 100;
        for (int k = 0; k < 2; k++) {
                uint32_t pair[2] = { 10 + (uint32_t) k, 11 + (uint32_t) k };
                for (size_t i = 0; i < 100; i++)
                        xor[i] = x[k][i] ^ x[k + 1][i];
                rudp_frame_write_msg_parity(&w, 1, (uint64_t) k * 100, 2, pair, lens, xor, 100);
        }
        rudp_frame_write_stream(&w, 1, RUDP_RELIABLE_ORDERED, 12, 200, 100, 0, x[2], 100);
        r |= save("fuzz-rudp-packet", "msg-parity-chain", buf, w.len);

        /* An ACK of the one packet the connection sent, and MSG_REBUILT of its message (channel 0,
         * the fuzzer's "x") and of unknown ones. */
        w.len = 0;
        rudp_header_write(&w, &h);
        RudpAckRange first[] = { { 0, 0 } };
        rudp_frame_write_ack(&w, first, 1, 0, 0);
        rudp_frame_write_msg_rebuilt(&w, 0, 0);
        rudp_frame_write_msg_rebuilt(&w, 1, 12345);
        r |= save("fuzz-rudp-packet", "msg-rebuilt", buf, w.len);

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

/* fuzz-rudp-fec's records: kind, group, index, k, m, size u16le, bytes. */
static size_t record(uint8_t *out, bool parity, uint8_t group, uint8_t index, uint8_t k, uint8_t m,
                     const uint8_t *p, size_t n) {
        out[0] = parity;
        out[1] = group;
        out[2] = index;
        out[3] = k;
        out[4] = m;
        put_le16(out + 5, (uint16_t) n);
        memcpy(out + 7, p, n);
        return 7 + n;
}

/* A real group of k packets and m parity, with `lost' data packets left out (bit mask). */
static int fec_group(const char *name, unsigned k, unsigned m, uint64_t lost, bool parity_first) {
        static uint8_t out[64 * 1300];
        uint8_t payload[RUDP_FEC_PAYLOAD_MAX];
        size_t len = 0, lens[64];
        uint8_t *pay[64];
        RudpFecEncoder *e = NULL;
        int r = 0;

        if (rudp_fec_encoder_new(&e) < 0)
                return -ENOMEM;
        rudp_fec_encoder_set_shape(e, k, m);
        static uint8_t keep[64][RUDP_FEC_PAYLOAD_MAX];
        for (unsigned i = 0; i < k; i++) {
                lens[i] = 20 + (i * 37) % 200;
                for (size_t j = 0; j < lens[i]; j++)
                        payload[j] = (uint8_t) (i + j);
                memcpy(keep[i], payload, lens[i]);
                pay[i] = keep[i];
                rudp_fec_encoder_add(e, 1000 + i, payload, lens[i], 0);
        }
        RudpFecParity par;
        size_t data_len = 0;
        static uint8_t data[64 * 1300];
        for (unsigned i = 0; i < k; i++)
                if (!(lost & (UINT64_C(1) << i)))
                        data_len += record(data + data_len, false, 3, (uint8_t) i, 0, 0, pay[i], lens[i]);
        size_t par_len = 0;
        static uint8_t pars[16 * 1300];
        while (rudp_fec_encoder_peek(e, &par) > 0) {
                par_len += record(pars + par_len, true, 3, par.index, par.k, par.m, par.data, par.size);
                rudp_fec_encoder_pop(e);
        }
        if (parity_first) {
                memcpy(out, pars, par_len);
                memcpy(out + par_len, data, data_len);
        } else {
                memcpy(out, data, data_len);
                memcpy(out + data_len, pars, par_len);
        }
        len = par_len + data_len;
        r = save("fuzz-rudp-fec", name, out, len);
        rudp_fec_encoder_free(e);
        return r;
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: rudp-corpus DIR\n");
                return 2;
        }
        dir = argv[1];
        int r = packets();
        r |= fec_group("one-lost", 4, 2, 1u << 2, false);
        r |= fec_group("two-lost-parity-first", 10, 3, (1u << 0) | (1u << 9), true);
        r |= fec_group("too-many-lost", 5, 1, 3, false);
        r |= fec_group("nothing-lost", 3, 1, 0, false);
        return r == 0 ? 0 : 1;
}
