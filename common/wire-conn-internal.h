/* How wire-conn.c hands a WireConn to another implementation (wire-conn-rudp.c) without linking
 * it: libcommon does not depend on rudp, only the programs that run UDP do. */
#pragma once

#include "macro.h"
#include "wire-conn.h"

typedef struct WireConnBackend {
        WireConnKind kind;
        int (*receive)(WireConn *c, void *data, WireMessage *ret);
        int (*flush)(WireConn *c, void *data);
        int (*submit)(WireConn *c, void *data);
        uint32_t (*last_id)(void *data);
        size_t (*queued)(void *data);
        size_t (*unsent_tiles)(WireConn *c, void *data);
        uint32_t (*poll_events)(void *data);
        int (*fd)(void *data);
        uint64_t (*next_timeout)(void *data);
        void (*on_timeout)(WireConn *c, void *data, uint64_t now_usec);
        int (*stats)(void *data, RudpStats *ret);
        int (*next_lost)(void *data, uint8_t *ret_channel, uint32_t *ret_id);
        void (*free)(void *data);
} WireConnBackend;

/* A WireConn without a ByteTransport whose operations go to backend (data owned from now on,
 * freed with it, or at once on failure). */
int wire_conn_new_backend(const WireConnBackend *backend, void *data, size_t out_limit, WireConn **ret);

/* For backends: the error sentence, the direction mask, the counters. */
int wire_conn_fail(WireConn *c, int error, const char *fmt, ...) _printf_(3, 4);
int wire_conn_accept_mask(WireConn *c);
void wire_conn_count_in(WireConn *c, uint64_t bytes, uint64_t skipped);
void wire_conn_count_out(WireConn *c, uint64_t bytes);
