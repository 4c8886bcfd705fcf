/* The ticket format: field checks, the binary encoding and its parser (schema/ticket.md). */
#include "ticket.h"

#include <errno.h>
#include <string.h>

#include "base64url.h"
#include "ticket-internal.h"

static const char *const error_messages[] = {
        [TICKET_OK] = "The ticket is valid.",
        [TICKET_MALFORMED] = "The ticket is damaged or not a Tandem ticket; ask for a new one.",
        [TICKET_BAD_SIGNATURE] = "The ticket was not issued by this host's broker; ask for a new one.",
        [TICKET_EXPIRED] = "The ticket has expired, or the clocks of the broker and the host disagree; "
                           "ask for a new one.",
        [TICKET_REPLAYED] = "The ticket has already been used, and a ticket is good for one connection; "
                            "ask for a new one.",
        [TICKET_WRONG_DESKTOP] = "The ticket is for another desktop.",
        [TICKET_WRONG_HOST] = "The ticket is for another host.",
};

static const char *const error_names[] = {
        [TICKET_OK] = "ok",
        [TICKET_MALFORMED] = "ticket-malformed",
        [TICKET_BAD_SIGNATURE] = "ticket-signature",
        [TICKET_EXPIRED] = "ticket-expired",
        [TICKET_REPLAYED] = "ticket-replayed",
        [TICKET_WRONG_DESKTOP] = "ticket-wrong-desktop",
        [TICKET_WRONG_HOST] = "ticket-wrong-host",
};

const char *ticket_error_message(TicketError e) {
        if ((size_t) e >= ELEMENTSOF(error_messages) || !error_messages[e])
                return "The ticket was refused.";
        return error_messages[e];
}

const char *ticket_error_name(TicketError e) {
        if ((size_t) e >= ELEMENTSOF(error_names) || !error_names[e])
                return "ticket-unknown";
        return error_names[e];
}

const char *ticket_role_to_string(TicketRole role) {
        switch (role) {
        case TICKET_ROLE_INTERACTIVE:
                return "interactive";
        case TICKET_ROLE_VIEW_ONLY:
                return "view-only";
        }
        return NULL;
}

int ticket_role_from_string(const char *s, TicketRole *ret) {
        if (strcmp(s, "interactive") == 0)
                *ret = TICKET_ROLE_INTERACTIVE;
        else if (strcmp(s, "view-only") == 0)
                *ret = TICKET_ROLE_VIEW_ONLY;
        else
                return -EINVAL;
        return 0;
}

/* Shortest-form UTF-8 without surrogates, and no C0 or C1 control character: names are shown
 * on terminals and in logs, where an escape sequence from a ticket must not land. */
static bool string_valid(const uint8_t *s, size_t len) {
        if (len == 0 || len > TICKET_STRING_MAX)
                return false;
        for (size_t i = 0; i < len;) {
                uint8_t c = s[i];
                size_t n;
                uint8_t lo = 0x80, hi = 0xbf; /* range of the first continuation byte */

                if (c < 0x80) {
                        if (c < 0x20 || c == 0x7f)
                                return false;
                        i++;
                        continue;
                }
                if (c >= 0xc2 && c <= 0xdf) {
                        n = 1;
                        if (c == 0xc2)
                                lo = 0xa0; /* U+0080..U+009F are the C1 controls */
                } else if (c >= 0xe0 && c <= 0xef) {
                        n = 2;
                        if (c == 0xe0)
                                lo = 0xa0; /* overlong */
                        else if (c == 0xed)
                                hi = 0x9f; /* surrogates */
                } else if (c >= 0xf0 && c <= 0xf4) {
                        n = 3;
                        if (c == 0xf0)
                                lo = 0x90; /* overlong */
                        else if (c == 0xf4)
                                hi = 0x8f; /* beyond U+10FFFF */
                } else
                        return false;

                if (len - i - 1 < n)
                        return false;
                if (s[i + 1] < lo || s[i + 1] > hi)
                        return false;
                for (size_t k = 2; k <= n; k++)
                        if ((s[i + k] & 0xc0) != 0x80)
                                return false;
                i += n + 1;
        }
        return true;
}

static bool is_name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
               c == '_';
}

static bool is_ipv6_char(char c) {
        return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') || c == ':' || c == '.';
}

int ticket_host_split(const char *host, char *ret_name, size_t name_size, uint16_t *ret_port) {
        size_t len = strnlen(host, TICKET_STRING_MAX + 1);
        if (len > TICKET_STRING_MAX)
                return -EINVAL;

        const char *colon = memrchr(host, ':', len);
        if (!colon)
                return -EINVAL;

        /* The port: 1..5 digits, no sign, no leading zero, 1..65535. */
        const char *p = colon + 1;
        size_t digits = len - (size_t) (p - host);
        if (digits == 0 || digits > 5 || p[0] == '0')
                return -EINVAL;
        unsigned long port = 0;
        for (size_t i = 0; i < digits; i++) {
                if (p[i] < '0' || p[i] > '9')
                        return -EINVAL;
                port = port * 10 + (unsigned long) (p[i] - '0');
        }
        if (port > 65535)
                return -EINVAL;

        const char *name = host;
        size_t name_len = (size_t) (colon - host);
        if (name_len > 0 && host[0] == '[') {
                /* An IPv6 address needs its brackets: its colons would swallow the port. */
                if (name_len < 3 || host[name_len - 1] != ']')
                        return -EINVAL;
                name++;
                name_len -= 2;
                for (size_t i = 0; i < name_len; i++)
                        if (!is_ipv6_char(name[i]))
                                return -EINVAL;
        } else {
                if (name_len == 0)
                        return -EINVAL;
                for (size_t i = 0; i < name_len; i++)
                        if (!is_name_char(name[i]))
                                return -EINVAL;
        }

        if (ret_name) {
                if (name_size <= name_len)
                        return -ENOBUFS;
                memcpy(ret_name, name, name_len);
                ret_name[name_len] = '\0';
        }
        if (ret_port)
                *ret_port = (uint16_t) port;
        return 0;
}

bool ticket_fingerprint_is_zero(const uint8_t fingerprint[TICKET_FINGERPRINT_SIZE]) {
        uint8_t any = 0;
        for (size_t i = 0; i < TICKET_FINGERPRINT_SIZE; i++)
                any |= fingerprint[i];
        return any == 0;
}

bool ticket_string_valid(const char *s) {
        size_t len = strnlen(s, TICKET_STRING_MAX + 1);
        return len <= TICKET_STRING_MAX && string_valid((const uint8_t *) s, len);
}

int ticket_check(const Ticket *t) {
        if (!ticket_role_to_string(t->role))
                return -EINVAL;
        if (t->expiry <= t->issued || t->expiry - t->issued > TICKET_TTL_MAX)
                return -EINVAL;
        if (!ticket_string_valid(t->desktop) || !ticket_string_valid(t->user) || !ticket_string_valid(t->host))
                return -EINVAL;
        if (ticket_host_split(t->host, NULL, 0, NULL) < 0)
                return -EINVAL;
        return 0;
}

static uint8_t *put_le(uint8_t *p, uint64_t v, size_t bytes) {
        for (size_t i = 0; i < bytes; i++)
                *p++ = (uint8_t) (v >> (8 * i));
        return p;
}

static uint64_t get_le(const uint8_t *p, size_t bytes) {
        uint64_t v = 0;
        for (size_t i = 0; i < bytes; i++)
                v |= (uint64_t) p[i] << (8 * i);
        return v;
}

static uint8_t *put_string(uint8_t *p, const char *s) {
        size_t len = strlen(s); /* ticket_check() bounded it */
        *p++ = (uint8_t) len;
        memcpy(p, s, len);
        return p + len;
}

size_t ticket_encode_body(const Ticket *t, uint8_t *out) {
        uint8_t *p = out;
        memcpy(p, TICKET_MAGIC, 4);
        p += 4;
        *p++ = TICKET_VERSION;
        *p++ = (uint8_t) t->role;
        p = put_le(p, 0, 2); /* flags */
        p = put_le(p, t->issued, 8);
        p = put_le(p, t->expiry, 8);
        memcpy(p, t->nonce, TICKET_NONCE_SIZE);
        p += TICKET_NONCE_SIZE;
        memcpy(p, t->fingerprint, TICKET_FINGERPRINT_SIZE);
        p += TICKET_FINGERPRINT_SIZE;
        p = put_string(p, t->desktop);
        p = put_string(p, t->user);
        p = put_string(p, t->host);
        return (size_t) (p - out);
}

/* Reads one length-prefixed string at *pos, leaving room for the signature after it. */
static int get_string(const uint8_t *data, size_t len, size_t *pos, char out[TICKET_STRING_MAX + 1]) {
        if (*pos >= len)
                return -EBADMSG;
        size_t n = data[*pos];
        if (n > len - *pos - 1)
                return -EBADMSG;
        if (!string_valid(data + *pos + 1, n))
                return -EBADMSG;
        memcpy(out, data + *pos + 1, n);
        out[n] = '\0';
        *pos += 1 + n;
        return 0;
}

int ticket_parse(const uint8_t *data, size_t len, Ticket *ret) {
        Ticket t = {};
        int r;

        if (len < TICKET_SIZE_MIN || len > TICKET_SIZE_MAX)
                return -EBADMSG;
        if (memcmp(data, TICKET_MAGIC, 4) != 0 || data[4] != TICKET_VERSION)
                return -EBADMSG;
        /* Unknown roles and flags are refused, not ignored: a later version may use them to
         * restrict a ticket, and a host that skipped them would grant more than was meant. */
        if (data[5] != TICKET_ROLE_INTERACTIVE && data[5] != TICKET_ROLE_VIEW_ONLY)
                return -EBADMSG;
        if (get_le(data + 6, 2) != 0)
                return -EBADMSG;
        t.role = (TicketRole) data[5];
        t.issued = get_le(data + 8, 8);
        t.expiry = get_le(data + 16, 8);
        memcpy(t.nonce, data + 24, TICKET_NONCE_SIZE);
        memcpy(t.fingerprint, data + 40, TICKET_FINGERPRINT_SIZE);

        size_t pos = TICKET_HEADER_SIZE, strings_end = len - TICKET_SIGNATURE_SIZE;
        r = get_string(data, strings_end, &pos, t.desktop);
        if (r < 0)
                return r;
        r = get_string(data, strings_end, &pos, t.user);
        if (r < 0)
                return r;
        r = get_string(data, strings_end, &pos, t.host);
        if (r < 0)
                return r;
        /* Exactly the signature may follow: no trailing bytes, so one ticket has one encoding. */
        if (pos != strings_end)
                return -EBADMSG;

        if (ticket_check(&t) < 0)
                return -EBADMSG;

        *ret = t;
        return 0;
}

int ticket_text_decode(const char *text, size_t text_len, uint8_t *out, size_t size, size_t *ret_len) {
        if (text_len > TICKET_TEXT_MAX)
                return -EMSGSIZE;
        return base64url_decode(text, text_len, out, size, ret_len);
}
