#include "hostd-agent.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "byte-transport.h"
#include "hostd-agent-channel.h"
#include "hostd-agent-internal.h"
#include "hostd-domain.h"
#include "hostd-manager.h"
#include "hostd-media.h"
#include "hostd-viewer.h"
#include "log.h"

#define TICK_USEC (250 * 1000ULL)
/* After a reboot or a clean bye the next agent comes soon: no backoff. */
#define REOPEN_SOON_SEC 1
/* What hostd can do with an agent (agent.def's caps); the policy narrows it per desktop. */
#define HOSTD_AGENT_CAPS                                                                                           \
        (AGENT_CAP_HEARTBEAT | AGENT_CAP_SESSIONS | AGENT_CAP_CLIPBOARD_TEXT | AGENT_CAP_CLIPBOARD_IMAGE |         \
         AGENT_CAP_WINDOWS | AGENT_CAP_RESIZE | AGENT_CAP_POWER | AGENT_CAP_MEDIA)

static void agent_open(Agent *a);
static void agent_schedule_reopen(Agent *a, unsigned seconds);

uint64_t agent_now(Agent *a) {
        uint64_t now;
        sd_event_now(a->manager->event, CLOCK_MONOTONIC, &now);
        return now;
}

const char *agent_desktop(const Agent *a) {
        return a->domain->name;
}

AgentState agent_state(const Agent *a) {
        return a->state;
}

uint64_t agent_features(const Agent *a) {
        return a->state == AGENT_ACTIVE ? a->features : 0;
}

const AgentPolicy *agent_policy(const Agent *a) {
        return &a->policy;
}

Media *agent_media(Agent *a) {
        return a->media;
}

Agent *manager_agent(Manager *m, const char *desktop) {
        Domain *d = manager_find_domain(m, desktop);
        return d ? d->agent : NULL;
}

int agent_new(Domain *d, Agent **ret) {
        Agent *a = calloc(1, sizeof(Agent));
        if (!a)
                return -ENOMEM;
        a->manager = d->manager;
        a->domain = d;
        agent_config_policy(&d->manager->config.agent, d->name, &a->policy);
        a->cause = a->policy.enabled ? AGENT_CAUSE_NONE : AGENT_CAUSE_DISABLED;
        a->clip.next_guest_serial = a->clip.next_viewer_serial = 1;
        int r = media_new(a, &a->media);
        if (r < 0) {
                free(a);
                return r;
        }
        *ret = a;
        return 0;
}

static void agent_close_channel(Agent *a) {
        a->io = sd_event_source_disable_unref(a->io);
        a->more = sd_event_source_disable_unref(a->more);
        a->tick = sd_event_source_disable_unref(a->tick);
        a->conn = wire_conn_free(a->conn);
        a->partial_since = 0;
}

Agent *agent_free(Agent *a) {
        if (!a)
                return NULL;
        agent_power_fail(a, -ECONNRESET);
        agent_close_channel(a);
        sd_event_source_disable_unref(a->reopen_timer);
        sd_event_source_disable_unref(a->power_timer);
        agent_resize_free(a);
        agent_paste_free(a);
        agent_windows_clear(a, false);
        agent_sessions_clear(a);
        media_free(a->media);
        free(a);
        return NULL;
}

/* ---- viewers ---- */

bool agent_viewer_has_cap(const Viewer *v, uint64_t wire_cap) {
        return (v->caps & wire_cap) == wire_cap;
}

void agent_foreach_viewer(Agent *a, AgentViewerFn fn, void *userdata) {
        ViewerServer *s = a->manager->viewers;
        for (Viewer *v = s ? s->viewers : NULL; v; v = v->next)
                if (v->state == VIEWER_ACTIVE && strcmp(v->ticket.desktop, agent_desktop(a)) == 0 && !fn(v, userdata))
                        return;
}

Viewer *agent_find_viewer(Agent *a, uint64_t session) {
        ViewerServer *s = a->manager->viewers;
        for (Viewer *v = s ? s->viewers : NULL; v; v = v->next)
                if (v->state == VIEWER_ACTIVE && v->session == session && strcmp(v->ticket.desktop, agent_desktop(a)) == 0)
                        return v;
        return NULL;
}

void agent_viewer_written(Viewer *v) {
        /* The pump flushes from a later iteration: writing here could drop the viewer while a
         * caller walks the list. */
        viewer_schedule_pump(v);
}

void agent_viewer_notice(Viewer *v, bool *sent, const char *text) {
        if (*sent)
                return;
        *sent = true;
        WireNotice n = { .code = WIRE_NOTICE_AGENT_REFUSED, .text = text, .text_len = strlen(text) };
        (void) wire_encode_notice(wire_conn_out(v->conn), &n);
        agent_viewer_written(v);
}

static void agent_send_status(Agent *a, Viewer *v) {
        if (!agent_viewer_has_cap(v, WIRE_CAP_AGENT))
                return;
        WireAgentStatus st = { .mode = a->state == AGENT_ACTIVE ? WIRE_MODE_AGENT : WIRE_MODE_HYPERVISOR,
                               .features = agent_features(a), .cause = (uint8_t) a->cause };
        (void) wire_encode_agent_status(wire_conn_out(v->conn), &st);
        agent_viewer_written(v);
}

/* agent-status, and (wire-protocol.md) a windows-reset with what is known now after every change. */
static bool status_to_viewer(Viewer *v, void *userdata) {
        agent_send_status(userdata, v);
        agent_windows_send_all(userdata, v);
        return true;
}

void agent_viewer_joined(Agent *a, Viewer *v) {
        agent_send_status(a, v);
        agent_windows_send_all(a, v);
        if (agent_features(a) & AGENT_CAP_MEDIA)
                media_viewer_joined(a->media, v);
}

static void agent_features_text(uint64_t features, char *buf, size_t size) {
        size_t n = 0;
        buf[0] = 0;
        for (unsigned bit = 0; bit < 64 && n + 1 < size; bit++)
                if (features & (UINT64_C(1) << bit)) {
                        const char *name = agent_cap_name(bit);
                        int k = snprintf(buf + n, size - n, "%s%s", n ? "," : "", name ? name : "?");
                        if (k < 0)
                                break;
                        n += (size_t) k;
                }
        if (n == 0)
                snprintf(buf, size, "none");
}

/* The one line per change (a violation's own line says it for a misbehaving agent), and every
 * viewer told. */
static void agent_changed(Agent *a, AgentCause cause, const char *why) {
        char features[256];
        a->cause = cause;
        agent_features_text(agent_features(a), features, sizeof(features));
        if (a->state == AGENT_ACTIVE) {
                log_info("%s: agent active (%s, version %u): features %s", agent_desktop(a), a->software,
                         a->guest_version, features);
                manager_emit(a->manager, "agent %s active %s", agent_desktop(a), features);
        } else {
                if (cause != AGENT_CAUSE_MISBEHAVED)
                        log_info("%s: agent lost (%s): hypervisor mode", agent_desktop(a), why);
                manager_emit(a->manager, "agent %s hypervisor %s", agent_desktop(a), why);
        }
        agent_foreach_viewer(a, status_to_viewer, a);
}

/* ---- output to the guest ---- */

Buffer *agent_out(Agent *a) {
        return wire_conn_out(a->conn);
}

static void agent_update_io(Agent *a) {
        if (a->io)
                sd_event_source_set_io_events(a->io, wire_conn_poll_events(a->conn));
}

void agent_flush(Agent *a) {
        if (!a->conn)
                return;
        int r = wire_conn_flush(a->conn);
        /* A write error shows up again at the next read, where the channel is closed. */
        if (r < 0 && r != -EAGAIN)
                log_debug("%s: agent channel write failed: %s", agent_desktop(a), strerror(-r));
        agent_update_io(a);
}

/* ---- losing the agent ---- */

static void agent_lost(Agent *a, AgentCause cause, const char *why, unsigned reopen_seconds) {
        bool was_active = a->state == AGENT_ACTIVE;
        agent_close_channel(a);
        agent_power_fail(a, -ECONNRESET);
        agent_clipboard_reset(a);
        media_agent_lost(a->media);
        a->state = AGENT_IDLE;
        a->features = 0;
        a->have_heartbeat = false;
        switch (cause) {
        case AGENT_CAUSE_HEARTBEAT:
                a->counters.lost_heartbeat++;
                break;
        case AGENT_CAUSE_REBOOT:
                a->counters.lost_reboot++;
                break;
        case AGENT_CAUSE_MISBEHAVED:
                a->counters.lost_misbehaved++;
                break;
        default:
                a->counters.lost_closed++;
                break;
        }
        agent_windows_clear(a, false);
        if (was_active) {
                agent_changed(a, cause, why);
        } else {
                a->cause = cause;
                if (cause != AGENT_CAUSE_MISBEHAVED)
                        log_info("%s: agent channel closed (%s)", agent_desktop(a), why);
        }
        if (reopen_seconds)
                agent_schedule_reopen(a, reopen_seconds);
}

/* The backoff: 1 s doubling up to BackoffMaxSeconds=, from 1 s again once a channel stayed
 * good for a minute. */
static unsigned agent_next_backoff(Agent *a) {
        unsigned max = a->manager->config.agent.backoff_max_seconds;
        if (a->opened_usec && agent_now(a) - a->opened_usec >= AGENT_GOOD_USEC)
                a->backoff = 0;
        a->backoff = a->backoff ? MIN(a->backoff * 2, max) : 1;
        return MIN(a->backoff, max);
}

void agent_violation(Agent *a, uint16_t code, const char *fmt, ...) {
        char reason[AGENT_BYE_REASON_MAX + 1];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(reason, sizeof(reason), fmt, ap);
        va_end(ap);
        if (!a->conn)
                return;
        switch (code) {
        case AGENT_CODE_RATE_LIMIT:
                a->counters.drops_rate++;
                break;
        case AGENT_CODE_PROTOCOL_ERROR:
                a->counters.drops_protocol++;
                break;
        default:
                a->counters.drops_semantics++;
                break;
        }
        /* The bye is a courtesy: it goes if the channel takes it now. */
        AgentBye bye = { .code = code, .reason = reason, .reason_len = strlen(reason) };
        Buffer *out = agent_out(a);
        if (agent_encode_bye(out, &bye) < 0) {
                buffer_clear(out); /* whatever was stuck: the bye goes first */
                (void) agent_encode_bye(out, &bye);
        }
        (void) wire_conn_flush(a->conn);
        unsigned delay = agent_next_backoff(a);
        log_warning("%s: agent misbehaved (%s): %s; channel dropped, re-opening in %u s", agent_desktop(a),
                    agent_code_name(code) ?: "?", reason, delay);
        agent_lost(a, AGENT_CAUSE_MISBEHAVED, "agent misbehaved", delay);
}

void agent_guest_reset(Agent *a, bool reopen) {
        if (!a)
                return;
        a->reopen_timer = sd_event_source_disable_unref(a->reopen_timer);
        if (a->state != AGENT_IDLE || a->conn)
                agent_lost(a, AGENT_CAUSE_REBOOT, "guest reboot", 0);
        else
                a->cause = a->policy.enabled ? AGENT_CAUSE_REBOOT : AGENT_CAUSE_DISABLED;
        agent_sessions_clear(a);
        a->backoff = 0;
        if (reopen && a->policy.enabled && !a->no_channel)
                agent_schedule_reopen(a, REOPEN_SOON_SEC);
}

/* ---- input from the guest ---- */

static bool agent_take_token(Agent *a, uint64_t now) {
        const AgentConfig *c = &a->manager->config.agent;
        double elapsed = (double) (now - a->tokens_usec) / 1e6;
        a->tokens_usec = now;
        a->tokens += elapsed * c->message_rate;
        if (a->tokens > c->message_burst)
                a->tokens = c->message_burst;
        if (a->tokens < 1.0)
                return false;
        a->tokens -= 1.0;
        return true;
}

static int agent_handle_hello(Agent *a, const AgentHello *h) {
        int r = agent_hello_check(h);
        if (r == -EPROTONOSUPPORT) {
                agent_violation(a, AGENT_CODE_VERSION, "version %u is not spoken here (1)", h->version);
                return -EPROTO;
        }
        if (r < 0) {
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "hello with a bad magic 0x%08" PRIx32, h->magic);
                return -EPROTO;
        }
        a->counters.hellos++;
        a->guest_caps = h->caps;
        a->guest_version = h->version;
        memcpy(a->software, h->software, h->software_len);
        a->software[h->software_len] = 0;
        uint64_t features = h->caps & HOSTD_AGENT_CAPS & agent_policy_caps(&a->policy);
        if (a->state == AGENT_OPEN) {
                /* The guest's end may have opened after our hello went out: say it again (the
                 * guest answers every hello, but we answer only the first of a channel). */
                AgentHello ours;
                agent_hello_init(&ours, HOSTD_AGENT_CAPS & agent_policy_caps(&a->policy), "tandem-hostd");
                (void) agent_encode_hello(agent_out(a), &ours);
                a->state = AGENT_ACTIVE;
                a->active_usec = a->heartbeat_usec = agent_now(a);
                a->features = features;
                agent_changed(a, AGENT_CAUSE_HELLO, "hello");
                if (features & AGENT_CAP_MEDIA)
                        media_agent_active(a->media);
                return 0;
        }
        /* A repeated hello: the guest's caps changed (its session helper came or went). */
        a->heartbeat_usec = agent_now(a);
        if (features != a->features) {
                uint64_t gone = a->features & ~features;
                a->features = features;
                if (gone & (AGENT_CAP_CLIPBOARD_TEXT | AGENT_CAP_CLIPBOARD_IMAGE))
                        agent_clipboard_reset(a);
                if (gone & AGENT_CAP_WINDOWS)
                        agent_windows_clear(a, false);
                if (gone & AGENT_CAP_MEDIA)
                        media_agent_lost(a->media);
                agent_changed(a, AGENT_CAUSE_HELLO, "caps changed");
                if (features & AGENT_CAP_MEDIA)
                        media_agent_active(a->media);
        }
        return 0;
}

static int agent_handle(Agent *a, const AgentMessage *m) {
        if (m->type == AGENT_TYPE_HELLO)
                return agent_handle_hello(a, &m->hello);
        if (m->type == AGENT_TYPE_BYE) {
                char why[300];
                snprintf(why, sizeof(why), "agent said bye: %s: %.*s", agent_code_name(m->bye.code) ?: "?",
                         (int) m->bye.reason_len, m->bye.reason);
                agent_lost(a, AGENT_CAUSE_CLOSED, why, REOPEN_SOON_SEC);
                return -ECONNRESET;
        }
        if (a->state != AGENT_ACTIVE)
                return 0; /* before its hello: a guest's leftovers, or a stream joined midway */
        switch (m->channel) {
        case AGENT_CHANNEL_CONTROL:
                if (m->type == AGENT_TYPE_HEARTBEAT) {
                        a->heartbeat = m->heartbeat;
                        a->have_heartbeat = true;
                        a->heartbeat_usec = agent_now(a);
                        a->heartbeats++;
                }
                return 0;
        case AGENT_CHANNEL_SESSION:
                return agent_sessions_handle(a, m);
        case AGENT_CHANNEL_CLIPBOARD:
                return agent_clipboard_handle(a, m);
        case AGENT_CHANNEL_WINDOWS:
                return agent_windows_handle(a, m);
        case AGENT_CHANNEL_DISPLAY:
                return m->type == AGENT_TYPE_RESIZE_DONE ? agent_resize_done(a, &m->resize_done) : 0;
        case AGENT_CHANNEL_POWER:
                return m->type == AGENT_TYPE_POWER_REPLY ? agent_power_reply(a, &m->power_reply) : 0;
        case AGENT_CHANNEL_MEDIA:
                return (a->features & AGENT_CAP_MEDIA) ? media_handle(a->media, m) : 0;
        default:
                return 0;
        }
}

static void agent_receive_failed(Agent *a, int r) {
        if (r == -EPROTO) {
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "%s", wire_conn_error(a->conn) ?: "protocol error");
                return;
        }
        char why[128];
        if (r == -ECONNRESET)
                snprintf(why, sizeof(why), "channel closed");
        else
                snprintf(why, sizeof(why), "channel error: %s", strerror(-r));
        agent_lost(a, AGENT_CAUSE_CLOSED, why, agent_next_backoff(a));
}

/* Reads a bounded number of messages; the rest waits for the next wake-up (level-triggered). */
static void agent_process(Agent *a) {
        AgentMessage m;
        int r = 0, i;

        for (i = 0; i < AGENT_MESSAGES_PER_WAKEUP && a->conn; i++) {
                r = agent_conn_receive(a->conn, &m);
                uint64_t now = agent_now(a);
                /* Skipped frames of unknown types cost tokens too: floods of them are floods. */
                uint64_t skipped = a->conn ? wire_conn_skipped(a->conn) : 0;
                for (; a->skipped_seen < skipped; a->skipped_seen++) {
                        a->counters.skipped++;
                        if (!agent_take_token(a, now)) {
                                agent_violation(a, AGENT_CODE_RATE_LIMIT, "more than %u messages/s",
                                                a->manager->config.agent.message_rate);
                                return;
                        }
                }
                if (r == 0)
                        break;
                if (r < 0) {
                        agent_receive_failed(a, r);
                        return;
                }
                a->counters.messages++;
                /* Packets of an open media stream are held to the media caps (hostd-media-caps.c)
                 * instead; any other, a stray packet included, costs a token. */
                bool media_packet = m.type == AGENT_TYPE_MEDIA_PACKET && a->state == AGENT_ACTIVE &&
                                    (a->features & AGENT_CAP_MEDIA) &&
                                    media_guest_stream_open(a->media, m.media_packet.stream);
                if (!media_packet && !agent_take_token(a, now)) {
                        agent_violation(a, AGENT_CODE_RATE_LIMIT, "more than %u messages/s",
                                        a->manager->config.agent.message_rate);
                        return;
                }
                if (agent_handle(a, &m) < 0 || !a->conn)
                        return;
        }
        if (!a->conn)
                return;
        /* Frames may wait in the WireConn's buffer with nothing left on the fd: come back from a
         * later iteration rather than wait for the fd. */
        if (i == AGENT_MESSAGES_PER_WAKEUP)
                sd_event_source_set_enabled(a->more, SD_EVENT_ONESHOT);
        if (wire_conn_inside_frame(a->conn)) {
                if (!a->partial_since)
                        a->partial_since = agent_now(a);
        } else
                a->partial_since = 0;
        agent_flush(a);
}

static int on_agent_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        agent_process(userdata);
        return 0;
}

static int on_more(sd_event_source *s, void *userdata) {
        agent_process(userdata);
        return 0;
}

static int on_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        const AgentConfig *c = &a->manager->config.agent;
        uint64_t now = agent_now(a);

        if (a->state == AGENT_ACTIVE &&
            now - a->heartbeat_usec > (uint64_t) c->heartbeat_seconds * c->missed_heartbeats * 1000000ULL) {
                char why[96];
                snprintf(why, sizeof(why), "no heartbeat for %u s", c->heartbeat_seconds * c->missed_heartbeats);
                agent_lost(a, AGENT_CAUSE_HEARTBEAT, why, agent_next_backoff(a));
                return 0;
        }
        if (a->partial_since && now - a->partial_since > (uint64_t) c->partial_frame_seconds * 1000000ULL) {
                a->counters.drops_partial++;
                agent_violation(a, AGENT_CODE_PROTOCOL_ERROR, "a frame begun was not completed within %u s",
                                c->partial_frame_seconds);
                return 0;
        }
        sd_event_source_set_time(s, now + TICK_USEC);
        return 0;
}

/* ---- opening the channel ---- */

static int on_reopen(sd_event_source *s, uint64_t usec, void *userdata) {
        Agent *a = userdata;
        /* A domain whose display went away is stopping or stopped: asking libvirt for its XML
         * then waits (up to seconds) for the stop to finish, and the viewers with it. The next
         * attach opens the channel again (domain_attach() -> agent_start()). */
        if (a->domain->dom && !a->domain->display)
                return 0;
        agent_open(a);
        return 0;
}

static void agent_schedule_reopen(Agent *a, unsigned seconds) {
        uint64_t at = agent_now(a) + (uint64_t) seconds * 1000000ULL;
        if (!a->reopen_timer) {
                if (sd_event_add_time(a->manager->event, &a->reopen_timer, CLOCK_MONOTONIC, at, 0, on_reopen, a) < 0) {
                        log_error("%s: cannot schedule re-opening the agent channel", agent_desktop(a));
                        return;
                }
        } else
                sd_event_source_set_time(a->reopen_timer, at);
        sd_event_source_set_enabled(a->reopen_timer, SD_EVENT_ONESHOT);
}

static int agent_channel_fd(Agent *a) {
        Manager *m = a->manager;
        if (m->agent_connect)
                return m->agent_connect(m, a->domain, m->agent_connect_userdata);
        return agent_channel_connect(a->domain);
}

static void agent_open(Agent *a) {
        ByteTransport *t;
        int r;

        if (a->conn || !a->policy.enabled)
                return;
        int fd = agent_channel_fd(a);
        if (fd == -ENOENT) {
                a->no_channel = true;
                log_debug("%s: no agent channel", agent_desktop(a));
                return;
        }
        if (fd < 0) {
                unsigned delay = agent_next_backoff(a);
                log_info("%s: cannot open the agent channel: %s; retrying in %u s", agent_desktop(a), strerror(-fd),
                         delay);
                agent_schedule_reopen(a, delay);
                return;
        }
        if ((r = fd_transport_new(fd, &t)) < 0 || (r = agent_conn_new(t, AGENT_OUT_LIMIT, AGENT_DIR_G2H, &a->conn)) < 0 ||
            (r = sd_event_add_io(a->manager->event, &a->io, wire_conn_fd(a->conn), EPOLLIN, on_agent_io, a)) < 0 ||
            (r = sd_event_add_defer(a->manager->event, &a->more, on_more, a)) < 0 ||
            (r = sd_event_add_time(a->manager->event, &a->tick, CLOCK_MONOTONIC, agent_now(a) + TICK_USEC, 0, on_tick,
                                   a)) < 0) {
                agent_close_channel(a);
                log_error_errno(r, "%s: cannot set up the agent channel: %m", agent_desktop(a));
                agent_schedule_reopen(a, agent_next_backoff(a));
                return;
        }
        sd_event_source_set_enabled(a->tick, SD_EVENT_ON);
        sd_event_source_set_enabled(a->more, SD_EVENT_OFF);
        a->state = AGENT_OPEN;
        a->opened_usec = a->tokens_usec = agent_now(a);
        a->tokens = a->manager->config.agent.message_burst;
        a->skipped_seen = 0;
        a->counters.connects++;
        AgentHello hello;
        agent_hello_init(&hello, HOSTD_AGENT_CAPS & agent_policy_caps(&a->policy), "tandem-hostd");
        (void) agent_encode_hello(agent_out(a), &hello);
        log_debug("%s: agent channel open", agent_desktop(a));
        agent_flush(a);
}

void agent_start(Agent *a) {
        if (!a)
                return;
        a->no_channel = false;
        a->backoff = 0;
        if (!a->policy.enabled) {
                a->cause = AGENT_CAUSE_DISABLED;
                return;
        }
        a->reopen_timer = sd_event_source_disable_unref(a->reopen_timer);
        agent_open(a);
}
