#include "linkemu-params.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#include "parse-util.h"

#define MICRO 1000000ull

/* The number at the front of s as millionths ("1.5" -> 1500000; at most six decimals), and where
 * its unit starts. No strtod: it follows the locale, and floats would blur exact values. */
static int parse_decimal(const char *s, uint64_t *ret_micro, const char **ret_unit) {
        uint64_t whole = 0, frac = 0, scale = MICRO;
        const char *p = s;

        if (!is_digit(*p))
                return -EINVAL;
        for (; is_digit(*p); p++) {
                if (whole > (UINT64_MAX / MICRO - 9) / 10)
                        return -ERANGE;
                whole = whole * 10 + (uint64_t) (*p - '0');
        }
        if (*p == '.') {
                p++;
                if (!is_digit(*p))
                        return -EINVAL;
                for (; is_digit(*p); p++) {
                        if (scale == 1)
                                return -EINVAL;
                        scale /= 10;
                        frac += (uint64_t) (*p - '0') * scale;
                }
        }
        *ret_micro = whole * MICRO + frac;
        *ret_unit = p;
        return 0;
}

typedef struct Unit {
        const char *name;
        uint64_t mult; /* per whole unit */
} Unit;

/* value (in millionths) times the unit's multiplier, exact where it is an integer, checked. */
static int scale_unit(uint64_t micro, uint64_t mult, uint64_t max, uint64_t *ret) {
        uint64_t whole = micro / MICRO, frac = micro % MICRO;
        if (mult != 0 && whole > max / mult)
                return -ERANGE;
        uint64_t v = whole * mult;
        /* frac < 1e6 and mult <= 1e11 would overflow together; split mult */
        uint64_t part = mult >= MICRO ? frac * (mult / MICRO) : frac * mult / MICRO;
        if (v > max - part)
                return -ERANGE;
        *ret = v + part;
        return 0;
}

static int parse_with_units(const char *s, const Unit *units, size_t n_units, uint64_t max, uint64_t *ret) {
        uint64_t micro;
        const char *unit;
        int r = parse_decimal(s, &micro, &unit);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_units; i++)
                if (strcasecmp(unit, units[i].name) == 0)
                        return scale_unit(micro, units[i].mult, max, ret);
        return -EINVAL;
}

int parse_duration_ns(const char *s, uint64_t max, uint64_t *ret) {
        static const Unit units[] = {
                { "", 1000000 }, { "ns", 1 }, { "us", 1000 }, { "ms", 1000000 }, { "s", 1000000000 },
        };
        return parse_with_units(s, units, ELEMENTSOF(units), max, ret);
}

int parse_probability(const char *s, double *ret) {
        static const Unit units[] = { { "", 100 * MICRO }, { "%", MICRO } };
        uint64_t v;
        /* in hundred-millionths of one: 1 is 100%, 1e-8 the finest step ("0.000001%") */
        int r = parse_with_units(s, units, ELEMENTSOF(units), 100 * MICRO, &v);
        if (r < 0)
                return r;
        *ret = (double) v / (100.0 * MICRO);
        return 0;
}

int parse_rate_bps(const char *s, uint64_t *ret) {
        static const Unit units[] = {
                { "", 1 }, { "bit", 1 }, { "kbit", 1000 }, { "mbit", 1000000 }, { "gbit", 1000000000 },
        };
        if (strcasecmp(s, "off") == 0 || strcasecmp(s, "unlimited") == 0 || strcmp(s, "0") == 0) {
                *ret = 0;
                return 0;
        }
        uint64_t v;
        int r = parse_with_units(s, units, ELEMENTSOF(units), LINK_RATE_MAX, &v);
        if (r < 0)
                return r;
        if (v < LINK_RATE_MIN)
                return -ERANGE;
        *ret = v;
        return 0;
}

int parse_size_bytes(const char *s, uint64_t max, uint64_t *ret) {
        static const Unit units[] = {
                { "", 1 },         { "b", 1 },          { "k", 1024 },       { "kb", 1024 },
                { "kib", 1024 },   { "m", 1024 * 1024 }, { "mb", 1024 * 1024 }, { "mib", 1024 * 1024 },
        };
        return parse_with_units(s, units, ELEMENTSOF(units), max, ret);
}

int parse_boolean(const char *s, bool *ret) {
        static const char *const yes[] = { "1", "yes", "on", "true" }, *const no[] = { "0", "no", "off", "false" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

typedef enum { VAL_DURATION, VAL_PROBABILITY, VAL_RATE, VAL_QUEUE, VAL_BOOL } ValueKind;

static const struct {
        const char *key;
        ValueKind kind;
        size_t offset;
} keys[] = {
        { "delay", VAL_DURATION, offsetof(LinkParams, delay_ns) },
        { "jitter", VAL_DURATION, offsetof(LinkParams, jitter_ns) },
        { "jitter-reorder", VAL_BOOL, offsetof(LinkParams, jitter_reorder) },
        { "loss", VAL_PROBABILITY, offsetof(LinkParams, loss) },
        { "burst-p", VAL_PROBABILITY, offsetof(LinkParams, burst_p) },
        { "burst-r", VAL_PROBABILITY, offsetof(LinkParams, burst_r) },
        { "burst-loss", VAL_PROBABILITY, offsetof(LinkParams, burst_loss) },
        { "burst-good-loss", VAL_PROBABILITY, offsetof(LinkParams, burst_good_loss) },
        { "reorder", VAL_PROBABILITY, offsetof(LinkParams, reorder) },
        { "reorder-delay", VAL_DURATION, offsetof(LinkParams, reorder_delay_ns) },
        { "duplicate", VAL_PROBABILITY, offsetof(LinkParams, duplicate) },
        { "rate", VAL_RATE, offsetof(LinkParams, rate_bps) },
        { "queue", VAL_QUEUE, 0 },
        { "udp-blackhole", VAL_BOOL, offsetof(LinkParams, udp_blackhole) },
};

const char *link_params_keys(void) {
        return "delay, jitter, jitter-reorder, loss, burst-p, burst-r, burst-loss, burst-good-loss, "
               "reorder, reorder-delay, duplicate, rate, queue, udp-blackhole";
}

int link_params_set(LinkParams *p, const char *key, const char *value, const char **why) {
        for (size_t i = 0; i < ELEMENTSOF(keys); i++) {
                if (strcmp(key, keys[i].key) != 0)
                        continue;
                void *field = (char *) p + keys[i].offset;
                uint64_t u;
                double d;
                bool b;
                int r;
                switch (keys[i].kind) {
                case VAL_DURATION:
                        r = parse_duration_ns(value, LINK_DURATION_MAX, &u);
                        if (r < 0) {
                                *why = "a duration up to 60s such as 30ms, 250us or 1.5s";
                                return r;
                        }
                        *(uint64_t *) field = u;
                        return 0;
                case VAL_PROBABILITY:
                        r = parse_probability(value, &d);
                        if (r < 0) {
                                *why = "a probability such as 1%, 0.5% or 0.01";
                                return r;
                        }
                        *(double *) field = d;
                        return 0;
                case VAL_RATE:
                        r = parse_rate_bps(value, &u);
                        if (r < 0) {
                                *why = "a rate from 1kbit to 100gbit such as 5mbit or 256kbit, or off";
                                return r;
                        }
                        *(uint64_t *) field = u;
                        return 0;
                case VAL_QUEUE:
                        /* bytes, or time at the rate: "64k" or "100ms" */
                        if (parse_size_bytes(value, LINK_QUEUE_BYTES_MAX, &u) >= 0) {
                                p->queue_bytes = u;
                                p->queue_ns = 0;
                                return 0;
                        }
                        r = parse_duration_ns(value, LINK_DURATION_MAX, &u);
                        if (r < 0 || u == 0 || strpbrk(value, "sS") == NULL) {
                                *why = "bytes up to 64MiB such as 65536 or 64k, or time at the rate such as 100ms";
                                return r < 0 ? r : -EINVAL;
                        }
                        p->queue_ns = u;
                        return 0;
                case VAL_BOOL:
                        r = parse_boolean(value, &b);
                        if (r < 0) {
                                *why = "on or off";
                                return r;
                        }
                        *(bool *) field = b;
                        return 0;
                }
        }
        *why = link_params_keys();
        return -ENOENT;
}

#define MS 1000000ull
/* What every profile starts from (link_params_init's values; each profile sizes its queue). */
#define DEFAULTS .burst_loss = 1, .reorder_delay_ns = LINK_REORDER_DELAY_DEFAULT

static const struct {
        const char *name;
        const char *description;
        LinkParams params;
} profiles[] = {
        { "none", "no impairment at all", { DEFAULTS, .queue_ns = LINK_QUEUE_NS_DEFAULT } },
        { "lan", "0.2 ms RTT, 1 Gbit/s", { DEFAULTS, .delay_ns = MS / 10, .rate_bps = 1000000000, .queue_ns = 2 * MS } },
        { "wan1", "60 ms RTT, 5 Mbit/s, 1% loss", { DEFAULTS, .delay_ns = 30 * MS, .loss = 0.01, .rate_bps = 5000000, .queue_ns = 100 * MS } },
        { "wan2", "250 ms RTT, 3 Mbit/s, 1% loss", { DEFAULTS, .delay_ns = 125 * MS, .loss = 0.01, .rate_bps = 3000000, .queue_ns = 250 * MS } },
        { "wan3", "100 ms RTT, 256 kbit/s, 0.5% loss", { DEFAULTS, .delay_ns = 50 * MS, .loss = 0.005, .rate_bps = 256000, .queue_ns = 500 * MS } },
        { "wan4", "200 ms RTT, 1 Mbit/s, 5% loss", { DEFAULTS, .delay_ns = 100 * MS, .loss = 0.05, .rate_bps = 1000000, .queue_ns = 250 * MS } },
};

int link_profile(const char *name, LinkParams *ret) {
        for (size_t i = 0; i < ELEMENTSOF(profiles); i++)
                if (strcmp(name, profiles[i].name) == 0) {
                        *ret = profiles[i].params;
                        return 0;
                }
        return -ENOENT;
}

const char *link_profile_names(void) {
        return "none, lan, wan1, wan2, wan3, wan4";
}

void link_profiles_describe(FILE *f) {
        for (size_t i = 0; i < ELEMENTSOF(profiles); i++) {
                const LinkParams *p = &profiles[i].params;
                fprintf(f, "  %-5s %s", profiles[i].name, profiles[i].description);
                if (p->rate_bps)
                        fprintf(f, " (queue %llu ms)", (unsigned long long) (p->queue_ns / MS));
                fputc('\n', f);
        }
}

void link_params_json(const LinkParams *p, FILE *f) {
        fprintf(f,
                "{\"delay_us\":%.3f,\"jitter_us\":%.3f,\"jitter_reorder\":%s,\"loss\":%.8g,"
                "\"burst_p\":%.8g,\"burst_r\":%.8g,\"burst_loss\":%.8g,\"burst_good_loss\":%.8g,"
                "\"reorder\":%.8g,\"reorder_delay_us\":%.3f,\"duplicate\":%.8g,\"rate_bps\":%llu,"
                "\"queue_bytes\":%llu,\"queue_ms\":%.3f,\"queue_limit_bytes\":%llu,\"udp_blackhole\":%s}",
                (double) p->delay_ns / 1000.0, (double) p->jitter_ns / 1000.0, p->jitter_reorder ? "true" : "false",
                p->loss, p->burst_p, p->burst_r, p->burst_loss, p->burst_good_loss, p->reorder,
                (double) p->reorder_delay_ns / 1000.0, p->duplicate, (unsigned long long) p->rate_bps,
                (unsigned long long) p->queue_bytes, (double) p->queue_ns / 1e6,
                (unsigned long long) link_queue_limit(p), p->udp_blackhole ? "true" : "false");
}
