/* Paste as keystrokes: text from the interactive viewer typed through the hypervisor keyboard, with
 * or without an agent (BIOS, boot loader, disk passphrase, login prompt). US layout: letters,
 * digits, punctuation with Shift where it needs it, Enter for a newline, Tab; other characters
 * are skipped. At most PasteMax= characters wait to be typed; they are fed into the paced input
 * queue a little at a time, so a long paste neither fills it nor holds up the viewer's own keys
 * for long. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-agent-internal.h"
#include "hostd-manager.h"
#include "hostd-console.h"
#include "hostd-display.h"
#include "hostd-domain.h"
#include "hostd-viewer.h"
#include "log.h"

#define SC_LSHIFT 0x2a
#define PASTE_FEED_USEC (20 * 1000ULL)
/* Input calls let into the queue at a time (a character is up to four). */
#define PASTE_QUEUE_TARGET 64
#define SHIFT 0x100

/* Unshifted and shifted characters on the keys of the US layout's rows, by scancode. */
static const struct {
        uint8_t code;
        char plain, shifted;
} us_keys[] = {
        { 0x02, '1', '!' }, { 0x03, '2', '@' }, { 0x04, '3', '#' }, { 0x05, '4', '$' }, { 0x06, '5', '%' },
        { 0x07, '6', '^' }, { 0x08, '7', '&' }, { 0x09, '8', '*' }, { 0x0a, '9', '(' }, { 0x0b, '0', ')' },
        { 0x0c, '-', '_' }, { 0x0d, '=', '+' }, { 0x10, 'q', 'Q' }, { 0x11, 'w', 'W' }, { 0x12, 'e', 'E' },
        { 0x13, 'r', 'R' }, { 0x14, 't', 'T' }, { 0x15, 'y', 'Y' }, { 0x16, 'u', 'U' }, { 0x17, 'i', 'I' },
        { 0x18, 'o', 'O' }, { 0x19, 'p', 'P' }, { 0x1a, '[', '{' }, { 0x1b, ']', '}' }, { 0x1e, 'a', 'A' },
        { 0x1f, 's', 'S' }, { 0x20, 'd', 'D' }, { 0x21, 'f', 'F' }, { 0x22, 'g', 'G' }, { 0x23, 'h', 'H' },
        { 0x24, 'j', 'J' }, { 0x25, 'k', 'K' }, { 0x26, 'l', 'L' }, { 0x27, ';', ':' }, { 0x28, '\'', '"' },
        { 0x29, '`', '~' }, { 0x2b, '\\', '|' }, { 0x2c, 'z', 'Z' }, { 0x2d, 'x', 'X' }, { 0x2e, 'c', 'C' },
        { 0x2f, 'v', 'V' }, { 0x30, 'b', 'B' }, { 0x31, 'n', 'N' }, { 0x32, 'm', 'M' }, { 0x33, ',', '<' },
        { 0x34, '.', '>' }, { 0x35, '/', '?' }, { 0x39, ' ', ' ' },
};

int agent_paste_key(uint32_t c, uint8_t *ret_code, bool *ret_shift) {
        if (c == '\n') {
                *ret_code = 0x1c;
                *ret_shift = false;
                return 0;
        }
        if (c == '\t') {
                *ret_code = 0x0f;
                *ret_shift = false;
                return 0;
        }
        for (size_t i = 0; i < sizeof(us_keys) / sizeof(us_keys[0]); i++) {
                if ((uint32_t) (unsigned char) us_keys[i].plain == c) {
                        *ret_code = us_keys[i].code;
                        *ret_shift = false;
                        return 0;
                }
                if ((uint32_t) (unsigned char) us_keys[i].shifted == c) {
                        *ret_code = us_keys[i].code;
                        *ret_shift = true;
                        return 0;
                }
        }
        return -ENOENT;
}

/* The next code point of valid UTF-8 (the decoder checked it); advances *i. */
static uint32_t next_code_point(const unsigned char *s, size_t n, size_t *i) {
        uint32_t c = s[(*i)++];
        int more = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
        c &= more == 3 ? 0x07 : more == 2 ? 0x0f : more == 1 ? 0x1f : 0x7f;
        for (; more > 0 && *i < n; more--)
                c = c << 6 | (s[(*i)++] & 0x3f);
        return c;
}

void agent_paste_free(Agent *a) {
        a->paste_timer = sd_event_source_disable_unref(a->paste_timer);
        free(a->paste);
        a->paste = NULL;
        a->paste_n = a->paste_pos = 0;
}

static void paste_feed(Agent *a) {
        Domain *d = a->domain;
        if (!d->display) {
                a->paste_n = a->paste_pos = 0; /* the display went away: what was left is dropped */
                return;
        }
        while (a->paste_pos < a->paste_n && display_input_pending(d->display) < PASTE_QUEUE_TARGET) {
                uint16_t k = a->paste[a->paste_pos++];
                uint8_t code = (uint8_t) k;
                bool shift = k & SHIFT;
                if (shift)
                        (void) display_key(d->display, a->paste_console, true, SC_LSHIFT);
                (void) display_key(d->display, a->paste_console, true, code);
                (void) display_key(d->display, a->paste_console, false, code);
                if (shift)
                        (void) display_key(d->display, a->paste_console, false, SC_LSHIFT);
        }
        if (a->paste_pos == a->paste_n) {
                a->paste_n = a->paste_pos = 0;
                sd_event_source_set_enabled(a->paste_timer, SD_EVENT_OFF);
                return;
        }
        sd_event_source_set_time(a->paste_timer, agent_now(a) + PASTE_FEED_USEC);
        sd_event_source_set_enabled(a->paste_timer, SD_EVENT_ONESHOT);
}

static int on_paste_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        paste_feed(userdata);
        return 0;
}

void agent_paste_text(Agent *a, Viewer *v, const char *text, size_t len) {
        unsigned max = a->policy.paste_max;
        if (!v->interactive || max == 0 || !v->console || !a->domain->display) {
                agent_viewer_notice(v, &v->agent_notice_sent,
                                    !v->interactive ? "paste refused: this viewer is view-only"
                                    : max == 0      ? "paste refused by the desktop's policy"
                                                    : "paste refused: no keyboard to type with");
                return;
        }
        if (!a->paste && !(a->paste = calloc(max, sizeof(uint16_t))))
                return;
        if (!a->paste_timer &&
            sd_event_add_time(a->manager->event, &a->paste_timer, CLOCK_MONOTONIC, 0, 1000, on_paste_timer, a) < 0)
                return;
        /* Start over at the front when all was typed; else append behind what waits. */
        if (a->paste_pos > 0 && a->paste_pos == a->paste_n)
                a->paste_n = a->paste_pos = 0;
        a->paste_console = v->console->id;
        size_t i = 0, typed = 0, skipped = 0;
        while (i < len && a->paste_n < max) {
                uint32_t c = next_code_point((const unsigned char *) text, len, &i);
                uint8_t code;
                bool shift;
                if (c == '\r' && i < len && text[i] == '\n')
                        continue; /* CRLF is one Enter */
                if (c == '\r')
                        c = '\n';
                if (agent_paste_key(c, &code, &shift) < 0) {
                        skipped++;
                        continue;
                }
                a->paste[a->paste_n++] = (uint16_t) (code | (shift ? SHIFT : 0));
                typed++;
        }
        a->counters.paste_chars += typed;
        a->counters.paste_skipped += skipped;
        if (i < len)
                log_info("%s: paste cut at PasteMax=%u characters", agent_desktop(a), max);
        paste_feed(a);
}
