/* client_session_quality() on the real session: rudp's figures over UDP, the kernel's TCP_INFO
 * over TLS/TCP. */
#include "client-quality.h"

#include <errno.h>

#include "client-session-internal.h"
#include "macro.h"
#include "tcp-info.h"

int client_session_quality(ClientSession *s, ClientLinkQuality *ret) {
        RudpStats st;
        TcpFigures tcp;

        if (!s->conn || s->state == SESSION_RECONNECTING || s->state == SESSION_CLOSED)
                return -ENOTCONN;
        ClientLinkQuality q = { .transport = wire_conn_kind(s->conn), .bytes_received = wire_conn_bytes_in(s->conn) };
        if (wire_conn_rudp_stats(s->conn, &st) == 0) {
                q.measured = true;
                q.rtt_usec = st.smoothed_rtt_usec;
                q.min_rtt_usec = st.min_rtt_usec == UINT64_MAX ? 0 : st.min_rtt_usec;
                /* Our own packets' loss (acks, input) and, downstream, what FEC had to rebuild: the
                 * display's packets lost without repair are seen only by hostd. */
                double rebuilt = st.packets_received ? (double) st.fec_recovered / (double) st.packets_received : 0.0;
                q.loss = MAX(st.loss_rate, rebuilt);
                q.fec_recovered = st.fec_recovered;
                q.retransmits = st.retransmits;
                q.bytes_received = st.bytes_received;
        } else if (tcp_figures(wire_conn_fd(s->conn), &tcp) == 0) {
                q.measured = true;
                q.rtt_usec = tcp.rtt_usec;
                q.min_rtt_usec = tcp.min_rtt_usec;
                q.loss = tcp.segments_out ? (double) tcp.retransmits / (double) tcp.segments_out : 0.0;
                q.retransmits = tcp.retransmits;
        }
        q.level = q.measured ? client_quality_classify(q.rtt_usec, q.min_rtt_usec, q.loss) : CLIENT_QUALITY_UNKNOWN;
        *ret = q;
        return 0;
}
