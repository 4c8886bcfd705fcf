#include "guestd-health.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "parse-util.h"

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static size_t skip_blanks(const char *p, size_t n, size_t i) {
        while (i < n && is_blank(p[i]))
                i++;
        return i;
}

/* A decimal "123" or "123.456" at p[*i]: the value x 1000 (fraction digits past the third are
 * dropped), saturating at UINT64_MAX / 1000 * 1000. Advances *i past it. */
static int parse_milli(const char *p, size_t n, size_t *i, uint64_t *ret) {
        size_t k = *i;
        uint64_t whole = 0, frac = 0;
        unsigned frac_digits = 0;
        bool any = false;

        for (; k < n && is_digit(p[k]); k++, any = true)
                whole = whole > UINT64_MAX / 10 - 10 ? UINT64_MAX / 10 : whole * 10 + (uint64_t) (p[k] - '0');
        if (k < n && p[k] == '.') {
                k++;
                for (; k < n && is_digit(p[k]); k++, any = true)
                        if (frac_digits < 3) {
                                frac = frac * 10 + (uint64_t) (p[k] - '0');
                                frac_digits++;
                        }
        }
        if (!any)
                return -EINVAL;
        for (; frac_digits < 3; frac_digits++)
                frac *= 10;
        *ret = whole > UINT64_MAX / 1000 - 1 ? UINT64_MAX / 1000 * 1000 : whole * 1000 + frac;
        *i = k;
        return 0;
}

static bool at_field_end(const char *p, size_t n, size_t i) {
        return i == n || is_blank(p[i]) || p[i] == '\n';
}

int guestd_parse_uptime(const char *p, size_t n, uint64_t *ret) {
        size_t i = skip_blanks(p, n, 0);
        uint64_t v;
        if (parse_milli(p, n, &i, &v) < 0 || !at_field_end(p, n, i))
                return -EINVAL;
        *ret = v / 1000;
        return 0;
}

int guestd_parse_loadavg(const char *p, size_t n, uint32_t *ret1, uint32_t *ret5, uint32_t *ret15) {
        uint32_t out[3];
        size_t i = 0;
        for (size_t k = 0; k < 3; k++) {
                uint64_t v;
                i = skip_blanks(p, n, i);
                if (parse_milli(p, n, &i, &v) < 0 || !at_field_end(p, n, i))
                        return -EINVAL;
                out[k] = v > UINT32_MAX ? UINT32_MAX : (uint32_t) v;
        }
        *ret1 = out[0];
        *ret5 = out[1];
        *ret15 = out[2];
        return 0;
}

/* "Key:   123 kB" lines; the value of key in KiB. */
static int meminfo_value(const char *line, size_t n, uint64_t *ret) {
        size_t i = skip_blanks(line, n, 0);
        uint64_t v = 0;
        size_t start = i;
        for (; i < n && is_digit(line[i]); i++) {
                if (v > (UINT64_MAX - 9) / 10)
                        return -ERANGE;
                v = v * 10 + (uint64_t) (line[i] - '0');
        }
        if (i == start)
                return -EINVAL;
        i = skip_blanks(line, n, i);
        if (i < n) {
                if (n - i != 2 || memcmp(line + i, "kB", 2) != 0)
                        return -EINVAL;
        }
        *ret = v;
        return 0;
}

int guestd_parse_meminfo(const char *p, size_t n, uint64_t *ret_total, uint64_t *ret_available) {
        bool have_total = false, have_available = false;
        uint64_t total = 0, available = 0;
        size_t i = 0;

        while (i < n) {
                const char *nl = memchr(p + i, '\n', n - i);
                size_t end = nl ? (size_t) (nl - p) : n;
                const char *line = p + i;
                size_t len = end - i;
                const char *colon = memchr(line, ':', len);
                if (colon) {
                        size_t klen = (size_t) (colon - line);
                        const char *val = colon + 1;
                        size_t vlen = len - klen - 1;
                        if (klen == 8 && memcmp(line, "MemTotal", 8) == 0) {
                                if (meminfo_value(val, vlen, &total) < 0)
                                        return -EINVAL;
                                have_total = true;
                        } else if (klen == 12 && memcmp(line, "MemAvailable", 12) == 0) {
                                if (meminfo_value(val, vlen, &available) < 0)
                                        return -EINVAL;
                                have_available = true;
                        }
                }
                i = end + 1;
        }
        if (!have_total || !have_available)
                return -EINVAL;
        *ret_total = total;
        *ret_available = available;
        return 0;
}

/* The start of a small /proc file (they are all far below the buffer). */
static ssize_t read_small(const char *root, const char *name, char *buf, size_t size) {
        char path[512];
        if ((size_t) snprintf(path, sizeof(path), "%s/%s", root, name) >= sizeof(path))
                return -ENAMETOOLONG;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        size_t got = 0;
        while (got < size) {
                ssize_t k = read(fd, buf + got, size - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0) {
                        int e = -errno;
                        close(fd);
                        return e;
                }
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        close(fd);
        return (ssize_t) got;
}

int guestd_health_read(const char *proc_root, GuestdHealth *ret) {
        char buf[8192];
        GuestdHealth h = {};
        int first = 0, r;
        ssize_t n;

        n = read_small(proc_root, "uptime", buf, sizeof(buf));
        r = n < 0 ? (int) n : guestd_parse_uptime(buf, (size_t) n, &h.uptime_s);
        if (r < 0 && first == 0)
                first = r;
        n = read_small(proc_root, "loadavg", buf, sizeof(buf));
        r = n < 0 ? (int) n : guestd_parse_loadavg(buf, (size_t) n, &h.load1_milli, &h.load5_milli, &h.load15_milli);
        if (r < 0 && first == 0)
                first = r;
        n = read_small(proc_root, "meminfo", buf, sizeof(buf));
        r = n < 0 ? (int) n : guestd_parse_meminfo(buf, (size_t) n, &h.mem_total_kib, &h.mem_available_kib);
        if (r < 0 && first == 0)
                first = r;
        *ret = h;
        return first;
}
