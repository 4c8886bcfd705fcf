/* Strict number parsing for command lines, scripts and config values: the whole string must be a
 * number, overflow is an error, nothing like atoi's silent zero. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

bool is_digit(char c);
/* 0-15 for a hex digit, -1 otherwise. */
int hex_value(char c);
/* Decimal, or hexadecimal after "0x". -EINVAL for anything else, -ERANGE above max. */
int parse_u64(const char *s, uint64_t max, uint64_t *ret);
