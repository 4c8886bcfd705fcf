/* The link emulator's control language, one command per line, one reply line each (the control
 * socket's and `run --set`'s):
 *
 *   set [dir=a2b|b2a|both] KEY=VALUE...   change parameters (all or none of them)
 *   profile NAME [dir=...]                replace the parameters with a named profile
 *   cut [dir=...] / restore [dir=...]     drop everything, in flight too / pass again
 *   seed N                                restart both PRNGs from N (b2a uses N+1)
 *   stats                                 counters and queues as JSON
 *   show                                  parameters as JSON
 *   reset-stats                           zero the counters
 *   help
 *
 * a2b is what namespace a sends to b. Replies are "ok", a JSON object, or "error: ..." quoting
 * the bad value. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "linkemu-link.h"

enum { LINK_A2B, LINK_B2A, _LINK_DIR_MAX };

/* Longest command line accepted. */
#define CONTROL_LINE_MAX 1024

/* Runs one line (without its newline; len bytes, not NUL-terminated) on both directions at
 * now_ns. *ret_reply gets a malloc'd reply ending in a newline. Returns 0, a negative errno for a
 * refused command (the reply says why), or -ENOMEM (no reply). */
int control_execute(Link *links[_LINK_DIR_MAX], uint64_t now_ns, const char *line, size_t len, char **ret_reply);

/* The stats of both directions as one JSON object, no newline. */
void control_stats_json(Link *links[_LINK_DIR_MAX], uint64_t now_ns, FILE *f);
