/* Fuzzes the ticket parser and the whole verify path. The public key is compiled in
 * (ticket-test-key.h), so the corpus's seeds, signed with its private half by
 * fuzz-ticket-seeds, get past the signature and exercise the time, desktop, host and replay
 * checks too. Invariants: parse and verify agree on what is malformed; what parses re-encodes to
 * the same bytes; a verified ticket verifies once. */
#include <string.h>

#include "base64url.h"
#include "check.h"
#include "ticket-internal.h"
#include "ticket-test-key.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static EVP_PKEY *key;
        if (!key)
                key = ticket_test_public(); /* kept for the process's life, as libFuzzer runs many inputs */
        check(key);

        _cleanup_(ticket_verifier_freep) TicketVerifier *v = ticket_verifier_new_capacity(key, 4);
        check(v);

        Ticket t, out;
        if (ticket_parse(data, size, &t) < 0) {
                check(ticket_verify(v, data, size, 0, "desktop", NULL, &out) == TICKET_MALFORMED);
                return 0;
        }

        check(ticket_check(&t) == 0);
        uint8_t body[TICKET_SIZE_MAX];
        size_t n = ticket_encode_body(&t, body);
        check(n + TICKET_SIGNATURE_SIZE == size && memcmp(body, data, n) == 0);

        uint8_t other_fp[TICKET_FINGERPRINT_SIZE];
        memcpy(other_fp, t.fingerprint, sizeof(other_fp));
        other_fp[0] ^= 1;

        TicketError e = ticket_verify(v, data, size, t.issued, t.desktop, t.fingerprint, &out);
        if (e != TICKET_OK) {
                check(e == TICKET_BAD_SIGNATURE);
                return 0;
        }
        check(memcmp(&out.nonce, &t.nonce, sizeof(t.nonce)) == 0 && strcmp(out.host, t.host) == 0);
        check(ticket_verify(v, data, size, t.expiry, t.desktop, NULL, NULL) == TICKET_REPLAYED);
        /* Past expiry + skew, if that time exists in the u64 range. */
        if (t.expiry < UINT64_MAX - TICKET_CLOCK_SKEW)
                check(ticket_verify(v, data, size, t.expiry + TICKET_CLOCK_SKEW + 1, t.desktop, NULL, NULL) ==
                      TICKET_EXPIRED);

        /* The same ticket, fresh verifier: refused for each reason in turn, then accepted. */
        ticket_verifier_free(v);
        v = ticket_verifier_new_capacity(key, 4);
        check(v);
        check(ticket_verify(v, data, size, t.issued, "", NULL, NULL) == TICKET_WRONG_DESKTOP);
        if (!ticket_fingerprint_is_zero(t.fingerprint))
                check(ticket_verify(v, data, size, t.issued, t.desktop, other_fp, NULL) == TICKET_WRONG_HOST);
        check(ticket_verify(v, data, size, t.issued, t.desktop, NULL, NULL) == TICKET_OK);

        /* And its text form decodes to the same bytes. */
        char text[TICKET_TEXT_MAX + 1];
        size_t text_len, back_len;
        uint8_t back[TICKET_SIZE_MAX];
        check(base64url_encode(data, size, text, sizeof(text), &text_len) == 0);
        check(ticket_text_decode(text, text_len, back, sizeof(back), &back_len) == 0);
        check(back_len == size && memcmp(back, data, size) == 0);
        return 0;
}
