/* Resize from the interactive viewer: by the desktop's policy through QEMU's Console.SetUIInfo
 * (virtio-gpu guests resize with no agent) and through the agent's RandR. Requests are
 * coalesced: the last one within AGENT_RESIZE_COALESCE_USEC wins. */
#include <errno.h>
#include <string.h>

#include "hostd-agent-internal.h"
#include "hostd-manager.h"
#include "hostd-console.h"
#include "hostd-display.h"
#include "hostd-domain.h"
#include "hostd-viewer.h"
#include "log.h"

void agent_resize_free(Agent *a) {
        a->resize_timer = sd_event_source_disable_unref(a->resize_timer);
}

static void resize_apply(Agent *a) {
        AgentResizePolicy p = a->policy.resize;
        uint32_t w = a->resize_w, h = a->resize_h;
        Domain *d = a->domain;

        a->resize_pending = false;
        a->resize_last_usec = agent_now(a);
        a->counters.resizes++;
        if ((p == AGENT_RESIZE_HYPERVISOR || p == AGENT_RESIZE_BOTH) && d->display) {
                Console *c = domain_console(d, 0);
                int r = c ? display_set_ui_info(d->display, c->id, w, h) : -ENOENT;
                if (r < 0)
                        log_debug("%s: SetUIInfo %ux%u not sent: %s", agent_desktop(a), w, h, strerror(-r));
        }
        if ((p == AGENT_RESIZE_AGENT || p == AGENT_RESIZE_BOTH) && a->state == AGENT_ACTIVE &&
            (a->features & AGENT_CAP_RESIZE) && wire_conn_queued(a->conn) <= AGENT_OUT_SOFT) {
                AgentResizeRequest q = { .serial = ++a->resize_serial, .width = w, .height = h };
                (void) agent_encode_resize_request(agent_out(a), &q);
                agent_flush(a);
        }
}

static int on_resize_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        if (a->resize_pending)
                resize_apply(a);
        return 0;
}

void agent_resize_request(Agent *a, Viewer *v, uint32_t width, uint32_t height) {
        if (!v->interactive || a->policy.resize == AGENT_RESIZE_OFF) {
                agent_viewer_notice(v, &v->agent_notice_sent,
                                    v->interactive ? "resize refused by the desktop's policy"
                                                   : "resize refused: this viewer is view-only");
                return;
        }
        if (width == 0 || height == 0 || width > AGENT_DIM_MAX || height > AGENT_DIM_MAX)
                return;
        a->resize_w = width;
        a->resize_h = height;
        a->resize_pending = true;
        uint64_t now = agent_now(a), at = a->resize_last_usec + AGENT_RESIZE_COALESCE_USEC;
        if (!a->resize_last_usec || now >= at) {
                resize_apply(a);
                return;
        }
        if (!a->resize_timer) {
                if (sd_event_add_time(a->manager->event, &a->resize_timer, CLOCK_MONOTONIC, at, 1000, on_resize_timer,
                                      a) < 0)
                        return;
        } else
                sd_event_source_set_time(a->resize_timer, at);
        sd_event_source_set_enabled(a->resize_timer, SD_EVENT_ONESHOT);
}

int agent_resize_done(Agent *a, const AgentResizeDone *m) {
        if (m->status > AGENT_STATUS_UNSUPPORTED) {
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "resize-done with status %u", m->status);
                return -EPROTO;
        }
        a->resize_done_w = m->width;
        a->resize_done_h = m->height;
        a->resize_done_status = m->status;
        if (m->status != AGENT_STATUS_OK)
                log_debug("%s: the agent's resize to %ux%u: %s", agent_desktop(a), m->width, m->height,
                          agent_status_name(m->status));
        return 0;
}
