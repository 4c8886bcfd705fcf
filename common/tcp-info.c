#include "tcp-info.h"

#include <errno.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

int tcp_figures(int fd, TcpFigures *ret) {
        struct tcp_info ti;
        socklen_t len = sizeof(ti);

        if (fd < 0)
                return -EBADF;
        memset(&ti, 0, sizeof(ti));
        if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
                return errno == ENOPROTOOPT ? -EOPNOTSUPP : -errno;
        /* An older kernel fills less: what it did not fill stays 0. */
        *ret = (TcpFigures) { .rtt_usec = ti.tcpi_rtt, .rttvar_usec = ti.tcpi_rttvar, .min_rtt_usec = ti.tcpi_min_rtt,
                              .delivery_rate = ti.tcpi_delivery_rate,
                              .delivery_rate_app_limited = ti.tcpi_delivery_rate_app_limited,
                              .retransmits = ti.tcpi_total_retrans, .segments_out = ti.tcpi_segs_out };
        return 0;
}
