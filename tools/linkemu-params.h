/* The link emulator's parameters as text: values with units, key=value settings, named profiles.
 * Shared by the command line and the control socket, so both give the same messages. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "linkemu-link.h"

/* Longest delay, jitter or reorder delay; largest queue. */
#define LINK_DURATION_MAX (60ull * 1000000000ull)
#define LINK_QUEUE_BYTES_MAX (64ull << 20)
#define LINK_RATE_MAX 100000000000ull /* 100 Gbit/s */
#define LINK_RATE_MIN 1000ull

/* Each returns 0, or -EINVAL/-ERANGE and leaves *ret alone.
 * Durations: a decimal with a unit ns, us, ms or s ("30ms", "0.2ms"); a bare number is in ms. */
int parse_duration_ns(const char *s, uint64_t max, uint64_t *ret);
/* "5%" or "0.05", within [0, 1]. */
int parse_probability(const char *s, double *ret);
/* "5mbit", "256kbit", "1gbit", "64000" (bit/s, SI multipliers); "off", "0" for unlimited. */
int parse_rate_bps(const char *s, uint64_t *ret);
/* "65536", "64k", "64KiB", "1m" (binary multipliers; b, k, kb, kib, m, mb, mib). */
int parse_size_bytes(const char *s, uint64_t max, uint64_t *ret);
/* on/off, yes/no, true/false, 1/0. */
int parse_boolean(const char *s, bool *ret);

/* Sets one parameter. -ENOENT for an unknown key, -EINVAL/-ERANGE for a bad value, with *why
 * naming what the value should look like. p is untouched on failure. */
int link_params_set(LinkParams *p, const char *key, const char *value, const char **why);
/* The keys link_params_set knows, comma-separated, for messages. */
const char *link_params_keys(void);

/* The named profile for one direction (RTT split evenly); -ENOENT for an unknown name. */
int link_profile(const char *name, LinkParams *ret);
/* "lan, wan1, ..." for messages and --help. */
const char *link_profile_names(void);
/* Lines "name  description" for --help. */
void link_profiles_describe(FILE *f);

/* The parameters as one JSON object, no newline. */
void link_params_json(const LinkParams *p, FILE *f);
