/* A hang decision as JSON, for the events table and the API: no allocation, bounded output. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "broker-hang.h"
#include "macro.h"

typedef struct Out {
        char *buf;
        size_t size, len;
        bool overflow;
} Out;

static void _printf_(2, 3) out_printf(Out *o, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(o->buf + o->len, o->size - o->len, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= o->size - o->len) {
                o->overflow = true;
                o->len = o->size - 1;
                return;
        }
        o->len += (size_t) n;
}

/* The strings are ours (static texts and libvirt reason names), but escape anyway. */
static void out_string(Out *o, const char *s) {
        if (!s) {
                out_printf(o, "null");
                return;
        }
        out_printf(o, "\"");
        for (; *s; s++) {
                unsigned char c = (unsigned char) *s;
                if (c == '"' || c == '\\')
                        out_printf(o, "\\%c", c);
                else if (c < 0x20)
                        out_printf(o, "\\u%04x", c);
                else
                        out_printf(o, "%c", c);
        }
        out_printf(o, "\"");
}

int hang_decision_to_json(const HangDecision *d, char *buf, size_t size) {
        Out o = { .buf = buf, .size = size };
        if (size == 0)
                return -ENOBUFS;
        buf[0] = 0;

        out_printf(&o, "{\"verdict\":");
        out_string(&o, hang_verdict_to_string(d->verdict));
        out_printf(&o, ",\"class\":");
        out_string(&o, hang_class_to_string(d->class));
        out_printf(&o, ",\"why\":");
        out_string(&o, d->why);
        out_printf(&o, ",\"at_usec\":%" PRIu64, d->now_usec);
        if (d->class != HANG_CLASS_NONE)
                out_printf(&o, ",\"onset_usec\":%" PRIu64 ",\"for_ms\":%" PRIu64, d->onset_usec,
                           (d->now_usec - MIN(d->onset_usec, d->now_usec)) / 1000);
        if (d->not_before_usec)
                out_printf(&o, ",\"not_before_usec\":%" PRIu64, d->not_before_usec);
        out_printf(&o, ",\"actions_last_hour\":%u,\"signals\":[", d->actions_last_hour);
        for (unsigned i = 0; i < d->n_evidence && i < _HANG_SIGNAL_MAX; i++) {
                const HangEvidence *e = &d->evidence[i];
                out_printf(&o, "%s{\"signal\":", i ? "," : "");
                out_string(&o, hang_signal_to_string(e->signal));
                out_printf(&o, ",\"class\":");
                out_string(&o, hang_class_to_string(hang_signal_class(e->signal)));
                out_printf(&o, ",\"since_usec\":%" PRIu64 ",\"for_ms\":%" PRIu64 ",\"detail\":", e->since_usec,
                           (d->now_usec - MIN(e->since_usec, d->now_usec)) / 1000);
                out_string(&o, e->detail);
                if (hang_signal_value_name(e->signal))
                        out_printf(&o, ",\"%s\":%" PRId64, hang_signal_value_name(e->signal), e->value);
                out_printf(&o, "}");
        }
        out_printf(&o, "]}");
        if (o.overflow)
                return -ENOBUFS;
        return (int) o.len;
}
