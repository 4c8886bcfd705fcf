/* The broker's ticket key: made on first start (0600), the same on the next, refused when others
 * can read it; a ticket the broker mints passes hostd's TicketVerifier with the public key the
 * broker serves, once, for that desktop and that host only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/evp.h>

#include "broker-ticket.h"
#include "check.h"
#include "macro.h"
#include "ticket.h"

int main(void) {
        char dir[] = "/tmp/test-broker-ticket-XXXXXX", path[300];
        check(mkdtemp(dir));
        _cleanup_(broker_ticket_key_freep) BrokerTicketKey *k = NULL;
        check(broker_ticket_key_open(dir, &k, NULL) == 0);
        snprintf(path, sizeof(path), "%s/ticket-key.pem", dir);
        struct stat st;
        check(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
        char *pem = strdup(broker_ticket_key_public_pem(k));
        check(strstr(pem, "BEGIN PUBLIC KEY"));
        {
                _cleanup_(broker_ticket_key_freep) BrokerTicketKey *again = NULL;
                check(broker_ticket_key_open(dir, &again, NULL) == 0);
                check(strcmp(broker_ticket_key_public_pem(again), pem) == 0);
        }

        StoreAssignment a = { .desktop_id = 1 };
        snprintf(a.domain_name, sizeof(a.domain_name), "pool-a-07");
        snprintf(a.hostd_address, sizeof(a.hostd_address), "host1.example:7443");
        snprintf(a.fingerprint, sizeof(a.fingerprint), "%s",
                 "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
        uint64_t now = (uint64_t) time(NULL), expiry;
        char *text = NULL;
        check(broker_ticket_mint(k, &a, "alice", now, 60, &text, &expiry) == 0);
        check(expiry == now + 60);

        /* hostd's side: the served PEM, its verifier, its fingerprint. */
        EVP_PKEY *pub = NULL;
        check(ticket_key_parse_public(pem, strlen(pem), &pub) == 0);
        _cleanup_(ticket_verifier_freep) TicketVerifier *v = ticket_verifier_new(pub);
        EVP_PKEY_free(pub);
        check(v);
        uint8_t bin[TICKET_SIZE_MAX], fp[32], other[32];
        size_t len;
        check(ticket_text_decode(text, strlen(text), bin, sizeof(bin), &len) == 0);
        check(broker_fingerprint_from_hex(a.fingerprint, fp) == 0);
        memset(other, 0x55, sizeof(other));
        check(ticket_verify(v, bin, len, now, "pool-a-06", fp, NULL) == TICKET_WRONG_DESKTOP);
        check(ticket_verify(v, bin, len, now, "pool-a-07", other, NULL) == TICKET_WRONG_HOST);
        check(ticket_verify(v, bin, len, now + 200, "pool-a-07", fp, NULL) == TICKET_EXPIRED);
        Ticket t;
        check(ticket_verify(v, bin, len, now, "pool-a-07", fp, &t) == TICKET_OK);
        check(strcmp(t.user, "alice") == 0 && strcmp(t.host, "host1.example:7443") == 0);
        check(t.role == TICKET_ROLE_INTERACTIVE);
        check(ticket_verify(v, bin, len, now, "pool-a-07", fp, NULL) == TICKET_REPLAYED);
        free(text);

        /* Two tickets never share a nonce. */
        char *t1 = NULL, *t2 = NULL;
        check(broker_ticket_mint(k, &a, "alice", now, 60, &t1, NULL) == 0);
        check(broker_ticket_mint(k, &a, "alice", now, 60, &t2, NULL) == 0);
        check(strcmp(t1, t2) != 0);
        free(t1);
        free(t2);

        /* Names a ticket cannot carry are refused, not truncated. */
        snprintf(a.hostd_address, sizeof(a.hostd_address), "no-port");
        check(broker_ticket_mint(k, &a, "alice", now, 60, &text, NULL) == -EINVAL);

        /* A private key others can read is refused. */
        check(chmod(path, 0644) == 0);
        _cleanup_(broker_ticket_key_freep) BrokerTicketKey *loose = NULL;
        char *error = NULL;
        check(broker_ticket_key_open(dir, &loose, &error) == -EPERM);
        check(error && strstr(error, "chmod 0600"));
        free(error);
        free(pem);

        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        check(system(cmd) == 0);
        printf("ticket key made 0600 and kept; minted tickets verify with the served key, once\n");
        return 0;
}
