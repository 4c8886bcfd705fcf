/* A hostd's report, applied to the store in one transaction: the host's liveness and transport
 * figures, each known domain's signals (broker-store-fleet.h reads them back), thumbnails, logons
 * and logoffs. A logoff from a floating pool's desktop ends its sessions and frees it, not ready
 * until it has booted again (reset to its template by the libvirt engine). A desktop becomes ready
 * when a report sees it turn to running. Outcomes of power requests close them
 * (broker-store-power.h). */
#pragma once

#include "broker-decode.h"
#include "broker-store.h"

typedef struct ReportResult {
        unsigned known, unknown, thumbnails, logons, logoffs;
        unsigned results, results_unknown; /* power request outcomes applied / not open here */
} ReportResult;

/* -ENOENT: no such host. */
int store_apply_report(Store *s, const char *host, const HostReport *rep, int64_t now, ReportResult *ret);
