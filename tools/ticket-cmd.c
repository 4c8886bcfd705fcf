/* What tandem-ticket's subcommands share: numbers, fingerprints, the TICKET argument, messages. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "parse-util.h"
#include "ticket-cmd.h"

uint64_t now_unix(void) {
        struct timespec ts;
        (void) clock_gettime(CLOCK_REALTIME, &ts);
        return ts.tv_sec < 0 ? 0 : (uint64_t) ts.tv_sec;
}

int parse_fingerprint(const char *s, uint8_t ret[TICKET_FINGERPRINT_SIZE]) {
        uint8_t fp[TICKET_FINGERPRINT_SIZE];
        size_t len = strlen(s);
        bool colons = len == TICKET_FINGERPRINT_SIZE * 3 - 1;

        if (!colons && len != TICKET_FINGERPRINT_SIZE * 2)
                return -EINVAL;
        for (size_t i = 0; i < TICKET_FINGERPRINT_SIZE; i++) {
                const char *p = s + i * (colons ? 3 : 2);
                int hi = hex_value(p[0]), lo = hex_value(p[1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                if (colons && i + 1 < TICKET_FINGERPRINT_SIZE && p[2] != ':')
                        return -EINVAL;
                fp[i] = (uint8_t) (hi << 4 | lo);
        }
        memcpy(ret, fp, sizeof(fp));
        return 0;
}

int fingerprint_option(const char *hex, const char *cert, uint8_t ret[TICKET_FINGERPRINT_SIZE]) {
        char buf[64];
        if (hex && cert) {
                fprintf(stderr, "Give --fingerprint or --cert, not both\n");
                return EXIT_USAGE;
        }
        if (hex && parse_fingerprint(hex, ret) < 0) {
                fprintf(stderr, "Invalid fingerprint `%s' (64 hex digits, the SHA-256 of the host's certificate)\n",
                        shorten(hex, buf));
                return EXIT_USAGE;
        }
        if (cert) {
                int r = ticket_fingerprint_load(cert, ret);
                if (r < 0) {
                        fprintf(stderr, "Cannot read certificate `%s': %s\n", cert,
                                r == -EINVAL ? "not a PEM certificate" : strerror(-r));
                        return 1;
                }
        }
        return 0;
}

int read_ticket_argument(const char *arg, uint8_t *data, size_t *ret_len) {
        char line[TICKET_TEXT_MAX + 3];
        const char *text = arg;
        size_t len;

        if (strcmp(arg, "-") == 0) {
                /* One line; the trailing newline (and a CR from a Windows clipboard) is not ours. */
                size_t n = fread(line, 1, sizeof(line) - 1, stdin);
                if (ferror(stdin))
                        return -EIO;
                while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
                        n--;
                line[n] = '\0';
                text = line;
                len = n;
        } else
                len = strlen(arg);
        return ticket_text_decode(text, len, data, TICKET_SIZE_MAX, ret_len);
}

const char *shorten(const char *s, char buf[64]) {
        if (strlen(s) < 48)
                return s;
        snprintf(buf, 64, "%.40s...", s);
        return buf;
}

int option_error(int c, char **argv) {
        const char *opt = argv[optind - 1];
        if (c == ':')
                fprintf(stderr, "Option `%s' needs a value\n", opt);
        else
                fprintf(stderr, "Unknown option `%s' (see %s --help)\n", opt, argv[0]);
        return EXIT_USAGE;
}

int positional_error(int argc, char **argv, int want, const char *what) {
        char buf[64];
        int have = argc - optind;
        if (have < want)
                fprintf(stderr, "Missing %s (see %s --help)\n", what, argv[0]);
        else
                fprintf(stderr, "Unexpected argument `%s'\n", shorten(argv[optind + want], buf));
        return EXIT_USAGE;
}
