/* INI configuration: "[Section]" headers, "Key=Value" lines, '#' and ';' comments. A main file
 * is read first, then the *.conf files of FILE.d in lexical order, later values overriding earlier ones.
 * Keys are described by a table; an unknown section or key, or a bad value, is an error that
 * names the file, the line and the value. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef struct ConfItem ConfItem;

/* Parses value into (char *) target + item->offset. Returns 0 or a negative errno, and on error
 * may fill *why (static text) with the reason. */
typedef int (*ConfParser)(const ConfItem *item, const char *value, void *target, const char **why);

struct ConfItem {
        const char *section;
        const char *key;
        ConfParser parse;
        size_t offset;
        unsigned long max; /* for numbers: inclusive upper bound, 0 = none */
};

/* Longest accepted line and value; longer lines are an error, not truncated. */
#define CONF_LINE_MAX 4096

int conf_parse_string(const ConfItem *item, const char *value, void *target, const char **why);
int conf_parse_unsigned(const ConfItem *item, const char *value, void *target, const char **why);
int conf_parse_bool(const ConfItem *item, const char *value, void *target, const char **why);
int conf_parse_log_level(const ConfItem *item, const char *value, void *target, const char **why);

/* Parses one buffer. On failure *error gets a malloc'd message such as
 * "hostd.conf:3: invalid value `abc' for ThumbnailInterval= (not a number)". */
int conf_parse_buffer(const ConfItem *items, void *target, const char *name, const char *buf, size_t len,
                      char **error);

/* Reads path (which must exist unless missing_ok) and then its drop-in directory path.d/. */
int conf_load(const ConfItem *items, void *target, const char *path, bool missing_ok, char **error);
