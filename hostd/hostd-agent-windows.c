/* Seamless windows: the guest's top-level windows, checked, kept (so that a viewer joining later
 * gets them all) and relayed to viewers with cap `windows'; window actions from the interactive
 * viewer go back to the guest. Icons are relayed, not kept. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-agent-internal.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "log.h"
#include "unaligned.h"

#define WINDOW_STATE_KNOWN 0x7fu

static bool windows_viewer(const Viewer *v) {
        return agent_viewer_has_cap(v, WIRE_CAP_WINDOWS);
}

static AgentWindow *find_window(Agent *a, uint32_t id) {
        for (size_t i = 0; i < a->n_windows; i++)
                if (a->windows[i].id == id)
                        return &a->windows[i];
        return NULL;
}

static void encode_window(Viewer *v, const AgentWindow *w) {
        WireWindowUpdate u = { .id = w->id, .state = w->state, .x = w->x, .y = w->y, .width = w->width,
                               .height = w->height, .title = w->title, .title_len = w->title_len };
        (void) wire_encode_window_update(wire_conn_out(v->conn), &u);
}

static void encode_stack(Viewer *v, const uint32_t *ids, size_t n) {
        uint8_t buf[AGENT_WINDOW_STACK_IDS_MAX];
        for (size_t i = 0; i < n; i++)
                put_le32(buf + 4 * i, ids[i]);
        WireWindowStack s = { .ids = buf, .ids_len = n * 4 };
        (void) wire_encode_window_stack(wire_conn_out(v->conn), &s);
}

void agent_windows_send_all(Agent *a, Viewer *v) {
        if (!windows_viewer(v))
                return;
        (void) wire_encode_windows_reset(wire_conn_out(v->conn));
        if (a->state == AGENT_ACTIVE && (a->features & AGENT_CAP_WINDOWS)) {
                for (size_t i = 0; i < a->n_windows; i++)
                        encode_window(v, &a->windows[i]);
                if (a->n_stack)
                        encode_stack(v, a->stack, a->n_stack);
        }
        agent_viewer_written(v);
}

static bool reset_to_viewer(Viewer *v, void *userdata) {
        if (windows_viewer(v)) {
                (void) wire_encode_windows_reset(wire_conn_out(v->conn));
                agent_viewer_written(v);
        }
        return true;
}

void agent_windows_clear(Agent *a, bool tell_viewers) {
        for (size_t i = 0; i < a->n_windows; i++)
                free(a->windows[i].title);
        free(a->windows);
        free(a->stack);
        a->windows = NULL;
        a->stack = NULL;
        a->n_windows = a->n_stack = 0;
        if (tell_viewers)
                agent_foreach_viewer(a, reset_to_viewer, a);
}

typedef struct Relay {
        const AgentMessage *m;
        const AgentWindow *w;
} Relay;

static bool relay_to_viewer(Viewer *v, void *userdata) {
        Relay *r = userdata;
        const AgentMessage *m = r->m;
        if (!windows_viewer(v))
                return true;
        Buffer *out = wire_conn_out(v->conn);
        switch (m->type) {
        case AGENT_TYPE_WINDOW_UPDATE:
                encode_window(v, r->w);
                break;
        case AGENT_TYPE_WINDOW_REMOVE: {
                WireWindowRemove x = { .id = m->window_remove.id };
                (void) wire_encode_window_remove(out, &x);
                break;
        }
        case AGENT_TYPE_WINDOW_STACK: {
                WireWindowStack x = { .ids = m->window_stack.ids, .ids_len = m->window_stack.ids_len };
                (void) wire_encode_window_stack(out, &x);
                break;
        }
        case AGENT_TYPE_WINDOW_ICON: {
                const AgentWindowIcon *i = &m->window_icon;
                WireWindowIcon x = { .id = i->id, .width = i->width, .height = i->height, .argb = i->argb,
                                     .argb_len = i->argb_len };
                (void) wire_encode_window_icon(out, &x);
                break;
        }
        case AGENT_TYPE_WINDOWS_RESET:
                (void) wire_encode_windows_reset(out);
                break;
        }
        agent_viewer_written(v);
        return true;
}

static int window_update(Agent *a, const AgentWindowUpdate *u, const AgentWindow **ret) {
        if (u->width == 0 || u->height == 0 || u->width > AGENT_DIM_MAX || u->height > AGENT_DIM_MAX ||
            u->x < -AGENT_POS_MAX || u->x > AGENT_POS_MAX || u->y < -AGENT_POS_MAX || u->y > AGENT_POS_MAX) {
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "window %08x with geometry %ux%u%+d%+d", u->id,
                                u->width, u->height, u->x, u->y);
                return -EPROTO;
        }
        AgentWindow *w = find_window(a, u->id);
        if (!w) {
                if (a->n_windows >= AGENT_WINDOWS_MAX) {
                        a->counters.windows_ignored++;
                        return 0; /* over the cap: ignored, not relayed */
                }
                if (!a->windows && !(a->windows = calloc(AGENT_WINDOWS_MAX, sizeof(AgentWindow))))
                        return 0;
                w = &a->windows[a->n_windows++];
                *w = (AgentWindow) { .id = u->id };
        }
        char *title = malloc(u->title_len + 1);
        if (!title)
                return 0;
        memcpy(title, u->title, u->title_len);
        title[u->title_len] = 0;
        free(w->title);
        w->title = title;
        w->title_len = u->title_len;
        w->state = u->state & WINDOW_STATE_KNOWN;
        w->x = u->x;
        w->y = u->y;
        w->width = u->width;
        w->height = u->height;
        *ret = w;
        return 1;
}

static int window_stack(Agent *a, const AgentWindowStack *s) {
        if (s->ids_len % 4 != 0) {
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "window-stack of %zu bytes, not whole ids", s->ids_len);
                return -EPROTO;
        }
        size_t n = s->ids_len / 4;
        if (!a->stack && !(a->stack = calloc(AGENT_WINDOWS_MAX, sizeof(uint32_t))))
                return 0;
        for (size_t i = 0; i < n; i++)
                a->stack[i] = get_le32(s->ids + 4 * i);
        a->n_stack = n;
        return 1;
}

int agent_windows_handle(Agent *a, const AgentMessage *m) {
        Relay relay = { .m = m };
        int r = 1;

        if (!(a->features & AGENT_CAP_WINDOWS))
                return 0;
        switch (m->type) {
        case AGENT_TYPE_WINDOWS_RESET:
                agent_windows_clear(a, false);
                break;
        case AGENT_TYPE_WINDOW_UPDATE:
                r = window_update(a, &m->window_update, &relay.w);
                break;
        case AGENT_TYPE_WINDOW_REMOVE: {
                AgentWindow *w = find_window(a, m->window_remove.id);
                if (!w)
                        return 0;
                free(w->title);
                *w = a->windows[--a->n_windows];
                break;
        }
        case AGENT_TYPE_WINDOW_STACK:
                r = window_stack(a, &m->window_stack);
                break;
        case AGENT_TYPE_WINDOW_ICON: {
                const AgentWindowIcon *i = &m->window_icon;
                if (i->width == 0 || i->height == 0 || i->width > 64 || i->height > 64 ||
                    i->argb_len != (size_t) i->width * i->height * 4) {
                        agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "window-icon %ux%u with %zu bytes", i->width,
                                        i->height, i->argb_len);
                        return -EPROTO;
                }
                if (!find_window(a, i->id))
                        return 0;
                break;
        }
        default:
                return 0;
        }
        if (r <= 0)
                return r;
        agent_foreach_viewer(a, relay_to_viewer, &relay);
        return 0;
}

void agent_windows_action(Agent *a, Viewer *v, const WireWindowAction *m) {
        if (!v->interactive || a->state != AGENT_ACTIVE || !(a->features & AGENT_CAP_WINDOWS)) {
                agent_viewer_notice(v, &v->agent_notice_sent, "window action refused: no interactive agent session");
                return;
        }
        if (m->op > AGENT_OP_RESTORE || !find_window(a, m->id))
                return; /* a window gone meanwhile, or an op from a newer viewer */
        if (m->op == AGENT_OP_MOVE_RESIZE &&
            (m->width == 0 || m->height == 0 || m->width > AGENT_DIM_MAX || m->height > AGENT_DIM_MAX ||
             m->x < -AGENT_POS_MAX || m->x > AGENT_POS_MAX || m->y < -AGENT_POS_MAX || m->y > AGENT_POS_MAX))
                return;
        AgentWindowAction x = { .id = m->id, .op = m->op, .x = m->x, .y = m->y, .width = m->width, .height = m->height };
        if (wire_conn_queued(a->conn) > AGENT_OUT_SOFT)
                return;
        (void) agent_encode_window_action(agent_out(a), &x);
        agent_flush(a);
}
