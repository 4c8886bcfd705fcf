/* tandem-ticket's subcommands (one file each, WireGuard-tools style) and what they share. Each
 * takes its own argv (argv[0] is the subcommand's name) and returns the exit status: 0, 1 for a
 * failure (or, for verify, an invalid ticket), 2 for bad arguments. */
#pragma once

#include "parse-util.h"

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ticket.h"

#define EXIT_USAGE 2

int cmd_keygen(int argc, char **argv);
int cmd_mint(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_verify(int argc, char **argv);

/* The current time in Unix seconds. */
uint64_t now_unix(void);

/* Parses a decimal unsigned number in 0..max, digits only. Returns 0 or -EINVAL. */


/* 64 hex digits, or 32 colon-separated pairs as `openssl x509 -fingerprint -sha256` prints. */
int parse_fingerprint(const char *s, uint8_t ret[TICKET_FINGERPRINT_SIZE]);

/* --fingerprint HEX or --cert CERT.pem into ret; prints the message and returns an exit status
 * (non-zero) on failure. */
int fingerprint_option(const char *hex, const char *cert, uint8_t ret[TICKET_FINGERPRINT_SIZE]);

/* The TICKET argument: base64url text, or "-" for a line on stdin. Fills data (TICKET_SIZE_MAX
 * bytes). Returns 0, or -EINVAL/-EMSGSIZE for text that cannot be a ticket, or -EIO. */
int read_ticket_argument(const char *arg, uint8_t *data, size_t *ret_len);

/* The getopt loop's common cases: prints the message for '?' and ':' and returns EXIT_USAGE. */
int option_error(int c, char **argv);

/* Prints "Unexpected argument `x'" or "Missing TICKET" style messages; returns EXIT_USAGE. */
int positional_error(int argc, char **argv, int want, const char *what);

/* A value shortened for quoting in one message line. */
const char *shorten(const char *s, char buf[64]);
