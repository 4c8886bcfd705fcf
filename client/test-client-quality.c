/* The connection quality rating: each threshold on its own side, the worst figure decides, no
 * RTT yet is unknown; and the text the viewer prints. */
#include <string.h>

#include "check.h"
#include "client-quality.h"

#define MS 1000ULL

int main(void) {
        check(client_quality_classify(0, 0, 0.0) == CLIENT_QUALITY_UNKNOWN);
        check(client_quality_classify(1 * MS, 1 * MS, 0.0) == CLIENT_QUALITY_GOOD);
        check(client_quality_classify(20 * MS, 15 * MS, 0.005) == CLIENT_QUALITY_GOOD);
        check(client_quality_classify(100 * MS, 100 * MS, 0.01) == CLIENT_QUALITY_GOOD); /* at the edges */

        /* RTT */
        check(client_quality_classify(101 * MS, 101 * MS, 0.0) == CLIENT_QUALITY_FAIR);
        check(client_quality_classify(250 * MS, 250 * MS, 0.0) == CLIENT_QUALITY_FAIR);
        check(client_quality_classify(251 * MS, 251 * MS, 0.0) == CLIENT_QUALITY_POOR);
        /* queue delay above the minimum RTT */
        check(client_quality_classify(90 * MS, 30 * MS, 0.0) == CLIENT_QUALITY_FAIR);
        check(client_quality_classify(240 * MS, 30 * MS, 0.0) == CLIENT_QUALITY_POOR);
        check(client_quality_classify(90 * MS, 0, 0.0) == CLIENT_QUALITY_GOOD); /* no minimum: no queue */
        /* loss */
        check(client_quality_classify(10 * MS, 10 * MS, 0.02) == CLIENT_QUALITY_FAIR);
        check(client_quality_classify(10 * MS, 10 * MS, 0.05) == CLIENT_QUALITY_FAIR);
        check(client_quality_classify(10 * MS, 10 * MS, 0.051) == CLIENT_QUALITY_POOR);
        /* the worst figure decides */
        check(client_quality_classify(150 * MS, 150 * MS, 0.2) == CLIENT_QUALITY_POOR);

        check(strcmp(client_quality_name(CLIENT_QUALITY_GOOD), "good") == 0);
        check(strcmp(client_quality_name(CLIENT_QUALITY_POOR), "poor") == 0);
        check(strcmp(client_quality_name((ClientQualityLevel) 42), "unknown") == 0);

        char text[128];
        ClientLinkQuality q = { .transport = WIRE_CONN_RUDP, .measured = true, .rtt_usec = 12300, .min_rtt_usec = 12000,
                                .loss = 0.001 };
        q.level = client_quality_classify(q.rtt_usec, q.min_rtt_usec, q.loss);
        client_quality_format(&q, text, sizeof(text));
        check(strcmp(text, "udp, good (rtt 12.3 ms, loss 0.1%)") == 0);
        q = (ClientLinkQuality) { .transport = WIRE_CONN_STREAM };
        client_quality_format(&q, text, sizeof(text));
        check(strcmp(text, "tcp, unknown") == 0);
        client_quality_format(&q, text, 4);
        check(strcmp(text, "tcp") == 0);
        return 0;
}
