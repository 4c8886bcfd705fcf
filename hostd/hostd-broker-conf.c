/* [Broker] in hostd.conf: checked at load, so --check-config reports a bad URL, token or
 * fingerprint before hostd starts. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-conf.h"

bool hostd_broker_config_enabled(const HostdBrokerConfig *b) {
        return b->url && b->url[0];
}

void hostd_broker_config_done(HostdBrokerConfig *b) {
        free(b->url);
        free(b->token);
        free(b->token_file);
        free(b->host_name);
        free(b->address);
        free(b->libvirt_uri);
        free(b->ca);
        free(b->fingerprint);
        *b = (HostdBrokerConfig) {};
}

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

int hostd_broker_fingerprint_parse(const char *s, size_t len, uint8_t ret[32]) {
        uint8_t out[32];
        size_t n = 0, i = 0;
        while (i < len) {
                if (n == sizeof(out) || i + 1 >= len)
                        return -EINVAL;
                int hi = hexval(s[i]), lo = hexval(s[i + 1]);
                if (hi < 0 || lo < 0)
                        return -EINVAL;
                out[n++] = (uint8_t) (hi << 4 | lo);
                i += 2;
                if (i < len && s[i] == ':' && n < sizeof(out) && i + 1 < len)
                        i++;
        }
        if (n != sizeof(out))
                return -EINVAL;
        memcpy(ret, out, sizeof(out));
        return 0;
}

bool hostd_broker_name_valid(const char *s, size_t len) {
        if (len == 0 || len > 63 || !((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')))
                return false;
        for (size_t i = 1; i < len; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                      c == '-' || c == '_'))
                        return false;
        }
        return true;
}

static int fail(char **error, const char *fmt, const char *path, const char *value) {
        if (asprintf(error, fmt, path, value ? value : "") < 0)
                *error = NULL;
        return -EINVAL;
}

static bool empty(const char *s) {
        return !s || !s[0];
}

int hostd_broker_config_check(HostdBrokerConfig *b, const char *path, char **error) {
        if (!hostd_broker_config_enabled(b))
                return 0;
        if (strncmp(b->url, "https://", 8) != 0 && strncmp(b->url, "http://", 7) != 0)
                return fail(error, "%s: Invalid URL= `%s' for [Broker] (https://HOST:PORT)", path, b->url);
        if (empty(b->token) == empty(b->token_file))
                return fail(error, "%s: [Broker] needs exactly one of Token= and TokenFile=%s", path, "");
        for (const char *p = b->token; p && *p; p++)
                if (*p <= ' ' || *p > '~')
                        return fail(error, "%s: Invalid Token= in [Broker] (printable, no spaces)%s", path, "");
        if (!empty(b->host_name) && !hostd_broker_name_valid(b->host_name, strlen(b->host_name)))
                return fail(error, "%s: Invalid HostName= `%s' (a letter, then letters, digits, . - _; at most 63)",
                            path, b->host_name);
        uint8_t fp[32];
        if (!empty(b->fingerprint) && hostd_broker_fingerprint_parse(b->fingerprint, strlen(b->fingerprint), fp) < 0)
                return fail(error, "%s: Invalid Fingerprint= `%s' (the broker certificate's SHA-256, 64 hex digits)",
                            path, b->fingerprint);
        if (!empty(b->ca) && !empty(b->fingerprint))
                return fail(error, "%s: [Broker] takes CA= or Fingerprint=, not both%s", path, "");
        if (b->report_seconds == 0 || b->thumbnail_seconds == 0)
                return fail(error, "%s: ReportSeconds= and ThumbnailSeconds= must be at least 1%s", path, "");
        return 0;
}
