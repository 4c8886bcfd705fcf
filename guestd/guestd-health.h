/* Guest health for the heartbeat, from /proc: parsers over a buffer (pointer + length, fuzzed
 * by fuzz-guestd-health) and a reader that fills them from the files. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct GuestdHealth {
        uint64_t uptime_s;
        uint32_t load1_milli, load5_milli, load15_milli;
        uint64_t mem_total_kib, mem_available_kib;
} GuestdHealth;

/* "12345.67 2345.11\n": whole seconds of the first number. 0 or -EINVAL. */
int guestd_parse_uptime(const char *p, size_t n, uint64_t *ret);
/* "0.25 1.50 12.05 1/123 4567\n": the three load averages x 1000 (saturating). 0 or -EINVAL. */
int guestd_parse_loadavg(const char *p, size_t n, uint32_t *ret1, uint32_t *ret5, uint32_t *ret15);
/* /proc/meminfo: MemTotal and MemAvailable in KiB. 0, or -EINVAL when either is missing or
 * malformed. */
int guestd_parse_meminfo(const char *p, size_t n, uint64_t *ret_total, uint64_t *ret_available);

/* Reads proc_root/{uptime,loadavg,meminfo} ("/proc" normally). Fields it cannot read stay 0;
 * returns 0 when all three parsed, else the first error (the heartbeat goes out regardless). */
int guestd_health_read(const char *proc_root, GuestdHealth *ret);
