#include "hostd-viewer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <systemd/sd-event.h>
#include <time.h>

#include "display-codec.h"
#include "hostd-agent.h"
#include "hostd-audio.h"
#include "hostd-console.h"
#include "hostd-display.h"
#include "hostd-encoder-lossy.h"
#include "hostd-domain.h"
#include "hostd-manager.h"
#include "hostd-media.h"
#include "hostd-viewer-adapt.h"
#include "hostd-viewer-resume.h"
#include "log.h"
#include "wire-gen.h"

#define HANDSHAKE_TIMEOUT_USEC (10 * 1000000ULL)
/* How long the screen must stay still before lossy tiles are refined to exact pixels. */
#define REFINE_DELAY_USEC (250 * 1000ULL)
#define PROTOCOL_VERSION 1
/* Codecs, cursor and input channels; the agent's status, clipboard, windows and resize; media
 * (guest streams relayed by hostd-media*.c, the VM's sound by hostd-audio*.c), the codecs hostd
 * relays, and the VM's microphone. */
#define SERVER_CAPS                                                                                                \
        (0x1fULL | WIRE_CAP_AGENT | WIRE_CAP_CLIPBOARD | WIRE_CAP_WINDOWS | WIRE_CAP_RESIZE | WIRE_CAP_MEDIA |     \
         WIRE_CAP_MEDIA_OPUS | WIRE_CAP_MEDIA_VP8 | WIRE_CAP_MEDIA_H264 | WIRE_CAP_MICROPHONE)
#define CAP_RESUME (1ULL << 5) /* announced when ResumeSeconds= is not 0 */
#define CAP_UDP (1ULL << 6)    /* the desktop's policy lets this session run on UDP */

static void viewer_update_io(Viewer *v);

static void viewer_unlink(Viewer *v) {
        ViewerServer *s = v->server;
        for (Viewer **p = &s->viewers; *p; p = &(*p)->next)
                if (*p == v) {
                        *p = v->next;
                        s->n_viewers--;
                        return;
                }
        for (Viewer **p = &s->closing; *p; p = &(*p)->next)
                if (*p == v) {
                        *p = v->next;
                        return;
                }
}

Viewer *viewer_free(Viewer *v) {
        if (!v)
                return NULL;
        viewer_unlink(v);
        sd_event_source_disable_unref(v->io);
        sd_event_source_disable_unref(v->pump);
        sd_event_source_disable_unref(v->timer);
        viewer_udp_free(v->udp);
        sd_event_source_disable_unref(v->release);
        wire_conn_free(v->conn);
        viewer_resume_free(v->resume);
        viewer_adapt_free(v->adapt);
        encoder_free(v->encoder);
        region_done(&v->pending);
        region_done(&v->band);
        free(v);
        return NULL;
}

static int on_free_later(sd_event_source *s, void *userdata) {
        viewer_free(userdata);
        return 0;
}

/* A viewer may be dropped from inside its own callbacks: free it from a later event. */
void viewer_drop(Viewer *v, int error, const char *why) {
        ViewerServer *s = v->server;
        if (error < 0)
                log_info("viewer %s (%s): %s: %s", v->peer, v->ticket.user[0] ? v->ticket.user : "no ticket yet", why,
                         strerror(-error));
        else
                log_info("viewer %s (%s): %s", v->peer, v->ticket.user[0] ? v->ticket.user : "no ticket yet", why);
        bool was_interactive = v->interactive && v->state == VIEWER_ACTIVE;
        bool was_active = v->state == VIEWER_ACTIVE;
        if (v->state == VIEWER_ACTIVE)
                viewer_adapt_log(v, "end");
        v->adapt = viewer_adapt_free(v->adapt);
        v->state = VIEWER_CLOSING;
        v->interactive = false;
        v->io = sd_event_source_disable_unref(v->io);
        v->pump = sd_event_source_disable_unref(v->pump);
        v->timer = sd_event_source_disable_unref(v->timer);
        v->udp = viewer_udp_free(v->udp);
        viewer_unlink(v); /* no more console hooks */
        Agent *agent = was_active ? manager_agent(s->manager, v->ticket.desktop) : NULL;
        if (agent)
                media_viewer_left(agent_media(agent), v); /* after the unlink: the others remain */
        v->next = s->closing; /* the server frees it if it goes first */
        s->closing = v;
        if (sd_event_add_defer(s->manager->event, &v->release, on_free_later, v) < 0)
                log_error("viewer %s: cannot schedule its release", v->peer);
        if (was_interactive)
                viewer_server_interactive_left(s, v->ticket.desktop);
}

void viewer_close(Viewer *v, uint16_t code, const char *reason) {
        WireBye bye = { .code = code, .reason = reason, .reason_len = strlen(reason) };
        if (v->state == VIEWER_CLOSING)
                return;
        (void) wire_encode_bye(wire_conn_out(v->conn), &bye);
        (void) wire_conn_flush(v->conn);
        viewer_drop(v, 0, reason);
}

static int viewer_send_notice(Viewer *v, uint16_t code, const char *text) {
        WireNotice n = { .code = code, .text = text, .text_len = strlen(text) };
        return wire_encode_notice(wire_conn_out(v->conn), &n);
}

void viewer_send_role(Viewer *v, uint64_t interactive_session) {
        WireRole r = { .role = v->interactive ? 0 : 1, .interactive_session = interactive_session };
        (void) wire_encode_role(wire_conn_out(v->conn), &r);
        viewer_update_io(v);
}

void viewer_bind(Viewer *v, Console *c) {
        v->console = c;
        encoder_reset(v->encoder);
        region_clear(&v->pending);
        v->need_mode = c != NULL;
        v->cursor_shape_dirty = v->cursor_position_dirty = c != NULL;
        v->acked = v->next_frame; /* acks for frames of the old console no longer matter */
        viewer_schedule_pump(v);
}

/* ---- Display pump ---- */

/* Room kept for the frame-end that closes a frame: the sink refuses tiles that would take it. */
#define FRAME_END_RESERVE (WIRE_HEADER_SIZE + WIRE_FRAME_END_SIZE_MAX)
/* Rows per encoder call when a frame must be sent in parts: the tallest tile, so a change that
 * starts at the top of a band is cut where the encoder would cut it anyway. */
#define BAND_ROWS ((int32_t) DISPLAY_TILE_MAX_DIM)

typedef struct TileContext {
        Viewer *viewer;
        uint32_t frame;
        uint32_t tiles;
        size_t bytes; /* of the tile frames taken */
} TileContext;

static int tile_sink(void *userdata, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec, uint8_t quality,
                     const uint8_t *data, size_t len) {
        TileContext *t = userdata;
        Buffer *out = wire_conn_out(t->viewer->conn);
        WireTile tile = { .frame = t->frame, .x = x, .y = y, .w = w, .h = h, .codec = codec, .quality = quality,
                          .data = data, .data_len = len };
        /* The encoder records a tile as sent only when we take it, so refusing one is safe. */
        size_t frame_max = WIRE_HEADER_SIZE + (WIRE_TILE_SIZE_MAX - WIRE_TILE_DATA_MAX) + len;
        if (buffer_room(out) < frame_max + FRAME_END_RESERVE)
                return -ENOBUFS;
        Rect area = { x, y, w, h };
        int r;
        if (t->viewer->udp) {
                r = viewer_udp_tile_begin(t->viewer, area, frame_max);
                if (r < 0)
                        return r;
        }
        size_t before = buffer_len(out);
        r = wire_encode_tile(out, &tile);
        if (r < 0)
                return r;
        /* Measured before a UDP viewer's submission takes the frame out of the buffer. */
        size_t frame_len = buffer_len(out) - before;
        if (t->viewer->udp) {
                r = viewer_udp_tile_queued(t->viewer, area, frame_len);
                if (r < 0 && r != -ENOBUFS)
                        return r;
                /* -ENOBUFS: this tile went back with its batch; the encoder goes on to the next
                 * (and stops at the next refusal), the batch's area is encoded again later. */
        }
        t->tiles++;
        t->bytes += frame_len;
        return 0;
}

static int viewer_end_frame(Viewer *v, TileContext *t) {
        if (v->udp) {
                int r = viewer_udp_tiles_flush(v);
                if (r < 0 && r != -ENOBUFS)
                        return r; /* refused: its area is encoded again; the frame still ends */
        }
        WireFrameEnd end = { .frame = t->frame, .tiles = t->tiles, .lossy = (uint32_t) encoder_lossy_count(v->encoder) };
        int r = wire_encode_frame_end(wire_conn_out(v->conn), &end);
        if (r < 0)
                return r;
        v->next_frame++;
        v->frames_sent++;
        return 0;
}

static void viewer_arm_refine(Viewer *v) {
        uint64_t now;
        if (!encoder_has_lossy(v->encoder))
                return;
        sd_event_now(v->server->manager->event, CLOCK_MONOTONIC, &now);
        sd_event_source_set_time(v->timer, now + REFINE_DELAY_USEC);
        sd_event_source_set_enabled(v->timer, SD_EVENT_ONESHOT);
}

/* Each flag is cleared only once its message is queued: what did not fit is sent later. */
static int viewer_send_cursor(Viewer *v) {
        const Cursor *cur = &v->console->cursor;
        int r;
        if (v->cursor_shape_dirty && cur->pixels) {
                WireCursorShape shape = { .width = (uint16_t) cur->width, .height = (uint16_t) cur->height,
                                          .hot_x = (uint16_t) cur->hot_x, .hot_y = (uint16_t) cur->hot_y,
                                          .argb = cur->pixels, .argb_len = (size_t) cur->width * cur->height * 4 };
                r = wire_encode_cursor_shape(wire_conn_out(v->conn), &shape);
                if (r < 0)
                        return r;
        }
        v->cursor_shape_dirty = false;
        if (v->cursor_position_dirty) {
                WireCursorPosition pos = { .x = cur->x, .y = cur->y, .visible = cur->visible };
                r = wire_encode_cursor_position(wire_conn_out(v->conn), &pos);
                if (r < 0)
                        return r;
                v->cursor_position_dirty = false;
        }
        return 0;
}

/* Puts into ret the part of src in rows [y0, y1). Coalescing may make it larger, never outside
 * those rows. */
static int region_rows(const Region *src, int32_t y0, int32_t y1, Region *ret) {
        region_clear(ret);
        for (size_t i = 0; i < src->n; i++) {
                Rect r = src->rects[i];
                int32_t top = MAX(r.y, y0), bottom = MIN(r.y + r.h, y1);
                if (top < bottom) {
                        int k = region_add(ret, (Rect) { r.x, top, r.w, bottom - top });
                        if (k < 0)
                                return k;
                }
        }
        return 0;
}

/* Encodes the pending changes into tiles of frame t, as many as the output bound takes: all of
 * them at once normally. When they do not fit (a large, barely compressible change while earlier
 * frames are still queued), what was appended is taken back and the changes go band by band from
 * the top, until a band does not fit; the rows not sent stay pending for the next frame. A frame
 * must never be refused outright: at 4K, one lossless frame is larger than the whole bound. */
/* Network auto-detect's per-frame budget (UDP): the pending changes go one grid row at a time
 * from the top until the frame carries its budget's worth; the rows not reached stay pending for
 * the next frame, which the frame rate cap lets go an interval later. */
/* What was encoded is done: only the rows of pending from y down stay pending. */
static int keep_pending_from(Viewer *v, int32_t y) {
        int r = region_rows(&v->pending, y, REGION_COORD_LIMIT, &v->band);
        if (r < 0)
                return r;
        Region sent = v->pending;
        v->pending = v->band;
        v->band = sent;
        return 0;
}

static int viewer_encode_budget(Viewer *v, const Framebuffer *fb, TileContext *t, size_t budget) {
        Rect bounds = region_bounds(&v->pending);
        int32_t y = bounds.y, end = bounds.y + bounds.h, rows = ENCODER_CELL;
        int r;

        while (y < end && t->bytes < budget) {
                int32_t y1 = MIN(end, (y / rows + 1) * rows);
                r = region_rows(&v->pending, y, y1, &v->band);
                if (r < 0)
                        return r;
                r = encoder_encode(v->encoder, fb, &v->band, &v->settings, tile_sink, t);
                if (r == -ENOBUFS)
                        break; /* rudp is full: this band and the rest are encoded again later */
                if (r < 0)
                        return r;
                y = y1;
        }
        return keep_pending_from(v, y);
}

static int viewer_encode_pending(Viewer *v, const Framebuffer *fb, TileContext *t) {
        Buffer *out = wire_conn_out(v->conn);
        size_t mark = buffer_len(out);
        size_t budget = viewer_adapt_budget(v);
        int r;

        if (v->udp && budget > 0)
                return viewer_encode_budget(v, fb, t, budget);
        r = encoder_encode(v->encoder, fb, &v->pending, &v->settings, tile_sink, t);
        if (r >= 0) {
                region_clear(&v->pending);
                return 0;
        }
        if (v->udp)
                /* The tiles taken are in rudp already; all of pending is encoded again later
                 * (rudp's send buffer was full: the pacing below keeps that rare). */
                return r == -ENOBUFS ? 0 : r;
        if (r != -ENOBUFS)
                return r;
        /* The encoder recorded the tiles taken back as sent, but their rows stay pending, and
         * whatever is pending is encoded again before anything of it is refined. */
        buffer_truncate(out, mark);
        t->tiles = 0;

        Rect bounds = region_bounds(&v->pending);
        int32_t y = bounds.y, end = bounds.y + bounds.h, rows = BAND_ROWS;
        while (y < end) {
                int32_t y1 = MIN(end, (y / rows + 1) * rows);
                uint32_t tiles = t->tiles;
                r = region_rows(&v->pending, y, y1, &v->band);
                if (r < 0)
                        return r;
                mark = buffer_len(out);
                r = encoder_encode(v->encoder, fb, &v->band, &v->settings, tile_sink, t);
                if (r == -ENOBUFS) {
                        buffer_truncate(out, mark);
                        t->tiles = tiles;
                        if (t->tiles > 0)
                                break; /* the frame has what fits */
                        if (rows == 1)
                                return -ENOBUFS; /* not one row fits below the soft bound: cannot be */
                        rows = MAX(rows / 2, 1);
                        continue;
                }
                if (r < 0)
                        return r;
                y = y1;
        }
        return keep_pending_from(v, y);
}

/* Sends what changed, if flow control allows: the frame is encoded from the framebuffer as it
 * is now, so content that changed twice while the viewer lagged is sent once (latest wins). The
 * cursor and the mode are latest-wins too: while the viewer's output is above the soft bound,
 * nothing is queued for it, so its memory stays within VIEWER_OUT_LIMIT whatever the guest does. */
static int viewer_pump(Viewer *v) {
        Console *c = v->console;
        int r;

        if (v->state != VIEWER_ACTIVE || !c || !c->fb->pixels || viewer_is_detached(v))
                return 0;
        if (wire_conn_queued(v->conn) > VIEWER_OUT_SOFT) {
                if (!region_is_empty(&v->pending) || v->need_mode)
                        v->frames_skipped++;
                return 0; /* everything waits; a flush that drains below the soft bound resumes */
        }
        if (v->need_mode) {
                WireDisplayMode mode = { .width = c->fb->width, .height = c->fb->height };
                r = wire_encode_display_mode(wire_conn_out(v->conn), &mode);
                if (r < 0)
                        return r;
                v->need_mode = false;
                encoder_reset(v->encoder);
                region_clear(&v->pending);
                r = region_add(&v->pending, (Rect) { 0, 0, (int32_t) c->fb->width, (int32_t) c->fb->height });
                if (r < 0)
                        return r;
        }
        if (v->cursor_shape_dirty || v->cursor_position_dirty) {
                r = viewer_send_cursor(v);
                if (r < 0)
                        return r;
        }
        Agent *agent = manager_agent(v->server->manager, v->ticket.desktop);
        if (agent)
                media_mask_pending(agent_media(agent), v, &v->pending); /* the viewer draws its videos there */
        if (region_is_empty(&v->pending))
                return 0;
        if (viewer_in_flight(v) >= viewer_in_flight_limit(v)) {
                v->frames_skipped++;
                return 0; /* the changes wait in pending; an ack resumes */
        }
        if (v->udp && !viewer_udp_may_encode(v)) {
                v->frames_skipped++;
                v->link_waits++;
                return 0; /* latest wins at the framebuffer: rudp drains, then we encode what is current */
        }
        if (!viewer_adapt_may_send(v))
                return 0; /* the frame rate cap: the changes wait for their time, latest wins */

        TileContext t = { .viewer = v, .frame = v->next_frame };
        r = viewer_encode_pending(v, c->fb, &t);
        if (r < 0)
                return r;
        r = viewer_end_frame(v, &t);
        if (r < 0)
                return r;
        viewer_adapt_frame_sent(v, t.bytes);
        if (!region_is_empty(&v->pending))
                viewer_schedule_pump(v); /* the rest of a frame sent in parts */
        viewer_arm_refine(v);
        return 0;
}

static int on_refine(sd_event_source *s, uint64_t usec, void *userdata) {
        Viewer *v = userdata;
        int r;

        if (v->state != VIEWER_ACTIVE || !v->console || !region_is_empty(&v->pending) ||
            !encoder_has_lossy(v->encoder) || viewer_is_detached(v))
                return 0;
        if (viewer_in_flight(v) >= viewer_in_flight_limit(v) || wire_conn_queued(v->conn) > VIEWER_OUT_SOFT) {
                viewer_arm_refine(v); /* try again once acks come in or the queue drains */
                return 0;
        }
        TileContext t = { .viewer = v, .frame = v->next_frame };
        r = encoder_refine(v->encoder, v->console->fb, &v->pending, tile_sink, &t);
        if (r == -ENOBUFS)
                r = 0; /* what did not fit stays lossy, for the next round */
        if (r >= 0 && t.tiles > 0)
                r = viewer_end_frame(v, &t);
        if (r < 0) {
                viewer_drop(v, r, "encoding failed");
                return 0;
        }
        viewer_arm_refine(v);
        viewer_update_io(v);
        return 0;
}

static int on_pump(sd_event_source *s, void *userdata) {
        Viewer *v = userdata;
        int r = viewer_pump(v);
        if (r < 0) {
                viewer_drop(v, r, "encoding failed");
                return 0;
        }
        viewer_update_io(v);
        return 0;
}

unsigned viewer_in_flight_limit(const Viewer *v) {
        unsigned limit = v->server->manager->config.frames_in_flight;
        RudpStats st;
        if (v->udp && wire_conn_rudp_stats(v->conn, &st) == 0 && st.smoothed_rtt_usec > 0)
                limit = MAX(limit, (unsigned) MIN(st.smoothed_rtt_usec / 33000 + 1, (uint64_t) 16));
        return limit;
}

unsigned viewer_in_flight(const Viewer *v) {
        return v->next_frame - v->acked;
}

void viewer_schedule_pump(Viewer *v) {
        if (v->pump)
                sd_event_source_set_enabled(v->pump, SD_EVENT_ONESHOT);
}

/* ---- Messages from the viewer ---- */

typedef struct ServedCheck {
        Manager *manager;
        bool udp;
        bool transport_refused;
} ServedCheck;

/* Called by the ticket check after the signature and expiry, before the nonce is used up: a
 * viewer refused for its transport may come again with the same ticket on the other one. */
static bool desktop_served(const char *desktop, void *userdata) {
        ServedCheck *c = userdata;
        if (!hostd_config_watches(&c->manager->config, desktop))
                return false;
        if (!hostd_transport_allows(hostd_config_transport(&c->manager->config, desktop), c->udp)) {
                c->transport_refused = true;
                return false;
        }
        return true;
}

static void viewer_reject(Viewer *v, uint16_t code, const char *reason, const char *log_why) {
        WireReject rej = { .code = code, .reason = reason, .reason_len = strlen(reason) };
        (void) wire_encode_reject(wire_conn_out(v->conn), &rej);
        (void) wire_conn_flush(v->conn);
        viewer_drop(v, 0, log_why);
}

static void viewer_handle_hello(Viewer *v, const WireHello *hello) {
        ViewerServer *s = v->server;
        Manager *m = s->manager;

        if (hello->magic != WIRE_MAGIC || hello->version < PROTOCOL_VERSION) {
                viewer_reject(v, WIRE_CODE_VERSION, "unsupported protocol version", "rejected: protocol version");
                return;
        }
        if (!s->verifier) {
                log_warning("viewer %s: refused: no ticket key from the broker yet", v->peer);
                viewer_reject(v, WIRE_CODE_DESKTOP_UNAVAILABLE, "this host cannot check tickets yet, try again shortly",
                              "rejected: no ticket key");
                return;
        }
        ServedCheck served = { .manager = m, .udp = v->udp != NULL };
        TicketError e = ticket_verify_served(s->verifier, hello->ticket, hello->ticket_len, (uint64_t) time(NULL),
                                             desktop_served, &served, s->fingerprint, &v->ticket);
        if (served.transport_refused) {
                log_info("viewer %s: refused on %s: its desktop's policy forbids it", v->peer, v->udp ? "UDP" : "TCP");
                viewer_reject(v, WIRE_CODE_TRANSPORT_REFUSED,
                              v->udp ? "this desktop takes viewers over TCP only" : "this desktop takes viewers over UDP only",
                              "rejected: transport");
                return;
        }
        /* The count is of viewers already in (this one is still in its handshake). */
        if (e == TICKET_OK && viewer_server_count(s, v->ticket.desktop) >= m->config.max_viewers) {
                viewer_reject(v, WIRE_CODE_TOO_MANY_VIEWERS, "too many viewers on this desktop", "rejected: too many viewers");
                return;
        }
        if (e != TICKET_OK) {
                const char *why = ticket_error_message(e);
                log_warning("viewer %s: ticket rejected: %s", v->peer, why);
                viewer_reject(v, (uint16_t) e, why, "rejected");
                return;
        }

        v->state = VIEWER_ACTIVE;
        v->caps = hello->caps;
        sd_event_source_set_enabled(v->timer, SD_EVENT_OFF); /* from now on it times refinement */
        v->interactive = viewer_server_claim_interactive(s, v);

        WireWelcome w = { .version = PROTOCOL_VERSION,
                          .caps = SERVER_CAPS | (m->config.resume_seconds ? CAP_RESUME : 0) |
                                  (hostd_transport_allows(hostd_config_transport(&m->config, v->ticket.desktop), true) &&
                                                   s->udp ? CAP_UDP : 0),
                          .session = v->session,
                          .role = v->interactive ? 0 : 1, .desktop = v->ticket.desktop,
                          .desktop_len = strlen(v->ticket.desktop),
                          .frames_in_flight = (uint16_t) m->config.frames_in_flight };
        (void) wire_encode_welcome(wire_conn_out(v->conn), &w);
        viewer_resume_start(v, hello->caps);
        log_info("viewer %s: %s watching %s (%s, session %016llx)", v->peer, v->ticket.user, v->ticket.desktop,
                 v->interactive ? "interactive" : "view-only", (unsigned long long) v->session);
        manager_emit(m, "viewer %s %s %s", v->ticket.desktop, v->ticket.user, v->interactive ? "interactive" : "view-only");
        viewer_bind(v, viewer_server_find_console(s, v->ticket.desktop));
        Agent *a = manager_agent(m, v->ticket.desktop);
        if (a)
                agent_viewer_joined(a, v);
        Audio *au = manager_audio(m, v->ticket.desktop); /* vmaudio */
        if (au)
                audio_viewer_joined(au, v);
}

static void viewer_handle_input(Viewer *v, const WireMessage *msg) {
        Domain *d;
        int r = -ENOENT;

        if (!v->interactive) {
                if (!v->input_notice_sent)
                        (void) viewer_send_notice(v, 1, "input ignored: this viewer is view-only");
                v->input_notice_sent = true;
                return;
        }
        if (!v->console || !(d = manager_find_domain(v->server->manager, v->console->domain)) || !d->display)
                return;
        switch (msg->type) {
        case WIRE_TYPE_KEY:
                r = display_key(d->display, v->console->id, msg->key.down, msg->key.keycode);
                break;
        case WIRE_TYPE_MOUSE_BUTTON:
                r = display_mouse_button(d->display, v->console->id, msg->mouse_button.down, msg->mouse_button.button);
                break;
        case WIRE_TYPE_MOUSE_ABSOLUTE:
                r = display_mouse_move_abs(d->display, v->console->id, msg->mouse_absolute.x, msg->mouse_absolute.y);
                break;
        case WIRE_TYPE_MOUSE_RELATIVE:
                r = display_mouse_move_rel(d->display, v->console->id, msg->mouse_relative.dx, msg->mouse_relative.dy);
                break;
        }
        if (r < 0)
                log_debug("viewer %s: input not delivered: %s", v->peer, strerror(-r));
}

static void viewer_apply_settings(Viewer *v, const WireDisplaySettings *ds) {
        viewer_adapt_set_quality(v, ds->quality); /* the ceiling */
        v->settings.subsampling = MIN(3, ds->subsampling);
        v->settings.lossless_only = ds->lossless != 0;
}

static void viewer_handle(Viewer *v, const WireMessage *msg) {
        if (v->state == VIEWER_HANDSHAKE) {
                if (msg->type == WIRE_TYPE_RESUME) {
                        viewer_resume_handle(v, &msg->resume);
                        return;
                }
                /* Over UDP channels are not ordered with each other: display-settings, sent right
                 * behind the hello, may come first. */
                if (v->udp && msg->type == WIRE_TYPE_DISPLAY_SETTINGS) {
                        viewer_apply_settings(v, &msg->display_settings);
                        return;
                }
                if (msg->type != WIRE_TYPE_HELLO) {
                        viewer_close(v, WIRE_CODE_PROTOCOL_ERROR, "expected hello");
                        return;
                }
                viewer_handle_hello(v, &msg->hello);
                return;
        }
        switch (msg->type) {
        case WIRE_TYPE_FRAME_ACK:
                /* Acks arrive in order; one for a frame of an older console is just dropped. */
                /* Only an ack of a frame in flight counts: repeating an ack, or acking a frame
                 * of a console this viewer was rebound from, must not open the window. */
                if (msg->frame_ack.frame >= v->acked && msg->frame_ack.frame < v->next_frame)
                        v->acked = msg->frame_ack.frame + 1;
                viewer_schedule_pump(v);
                break;
        case WIRE_TYPE_PING: {
                WirePong pong = { .nonce = msg->ping.nonce, .time_us = msg->ping.time_us };
                (void) wire_encode_pong(wire_conn_out(v->conn), &pong);
                break;
        }
        case WIRE_TYPE_PONG:
                break;
        case WIRE_TYPE_SESSION_ACK:
                viewer_resume_ack(v, msg->session_ack.received);
                break;
        case WIRE_TYPE_DISPLAY_SETTINGS:
                viewer_apply_settings(v, &msg->display_settings);
                break;
        case WIRE_TYPE_REFRESH:
                if (v->console)
                        v->need_mode = true;
                viewer_schedule_pump(v);
                break;
        case WIRE_TYPE_REFRESH_AREA: {
                const WireRefreshArea *a = &msg->refresh_area;
                /* Clipped by the encoder; a region that cannot grow means everything again. */
                if (v->console && a->w > 0 && a->h > 0 &&
                    region_add(&v->pending, (Rect) { a->x, a->y, a->w, a->h }) < 0)
                        v->need_mode = true;
                viewer_schedule_pump(v);
                break;
        }
        case WIRE_TYPE_HANDOVER:
                viewer_server_handover(v->server, v, msg->handover.to_session);
                break;
        case WIRE_TYPE_BYE:
                viewer_drop(v, 0, "viewer said bye");
                break;
        case WIRE_TYPE_MEDIA_KEYFRAME_REQUEST: {
                Agent *a = manager_agent(v->server->manager, v->ticket.desktop);
                if (a)
                        media_viewer_keyframe_request(agent_media(a), v, msg->media_keyframe_request.stream);
                break;
        }
        case WIRE_TYPE_KEY:
        case WIRE_TYPE_MOUSE_BUTTON:
        case WIRE_TYPE_MOUSE_ABSOLUTE:
        case WIRE_TYPE_MOUSE_RELATIVE:
                viewer_handle_input(v, msg);
                break;
        case WIRE_TYPE_PASTE_TEXT:
        case WIRE_TYPE_CLIPBOARD_GRAB:
        case WIRE_TYPE_CLIPBOARD_REQUEST:
        case WIRE_TYPE_CLIPBOARD_DATA:
        case WIRE_TYPE_CLIPBOARD_RELEASE:
        case WIRE_TYPE_WINDOW_ACTION:
        case WIRE_TYPE_RESIZE_REQUEST: {
                Agent *a = manager_agent(v->server->manager, v->ticket.desktop);
                if (a)
                        agent_viewer_message(a, v, msg);
                break;
        }
        case WIRE_TYPE_MIC_PACKET: { /* vmaudio */
                Audio *au = manager_audio(v->server->manager, v->ticket.desktop);
                if (au)
                        audio_viewer_mic_packet(au, v, &msg->mic_packet);
                break;
        }
        default:
                /* A type of ours the viewer must not send (e.g. a tile): the peer is broken. */
                viewer_close(v, WIRE_CODE_PROTOCOL_ERROR, "unexpected message");
                break;
        }
}

/* Writes what the transport takes and waits for what the connection needs next. A viewer without
 * an fd (viewer_new_transport()) has no io source: its owner calls viewer_process(). */
static void viewer_update_io(Viewer *v) {
        if (v->state == VIEWER_CLOSING)
                return;
        int r = wire_conn_flush(v->conn);
        if (r < 0 && r != -EAGAIN) {
                if (!viewer_resume_detach(v, r, "connection lost"))
                        viewer_drop(v, r, "connection lost");
                return;
        }
        if (v->io)
                sd_event_source_set_io_events(v->io, wire_conn_poll_events(v->conn));
        viewer_udp_update(v);
}

void viewer_flush(Viewer *v) {
        viewer_update_io(v);
}

void viewer_process(Viewer *v) {
        WireMessage msg;
        int r;
        bool was_full = wire_conn_queued(v->conn) > VIEWER_OUT_SOFT;

        /* Bounded per wakeup, so one chatty viewer cannot starve the others. */
        for (int i = 0; i < 64 && v->state != VIEWER_CLOSING; i++) {
                r = wire_conn_receive(v->conn, &msg);
                if (r == 0)
                        break;
                if (r < 0) {
                        if (r == -EPROTO || r == -EBADMSG || r == -EMSGSIZE)
                                viewer_close(v, WIRE_CODE_PROTOCOL_ERROR, "protocol error");
                        else if (!viewer_resume_detach(v, r, "connection closed"))
                                viewer_drop(v, r, "connection closed");
                        return;
                }
                viewer_handle(v, &msg);
        }
        if (v->state == VIEWER_CLOSING || viewer_is_detached(v))
                return;
        viewer_resume_after_receive(v);
        viewer_update_io(v);
        if (was_full && v->state == VIEWER_ACTIVE && wire_conn_queued(v->conn) <= VIEWER_OUT_SOFT)
                viewer_schedule_pump(v);
}

int viewer_on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        viewer_process(userdata);
        return 0;
}

static int on_handshake_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Viewer *v = userdata;
        if (v->state == VIEWER_HANDSHAKE)
                viewer_close(v, WIRE_CODE_TIMEOUT, "no hello within 10 s");
        else
                on_refine(s, usec, userdata);
        return 0;
}

int viewer_conn_attached(Viewer *v) {
        v->udp = viewer_udp_free(v->udp);
        v->settings.single_cell = false;
        if (wire_conn_kind(v->conn) != WIRE_CONN_RUDP)
                return 0;
        int r = viewer_udp_new(v, &v->udp);
        if (r < 0)
                return r;
        v->settings.single_cell = true; /* a lost packet then costs one cell, not a row of them */
        viewer_udp_update(v);
        return 0;
}

int viewer_new_transport(ViewerServer *s, ByteTransport *t, const char *peer, Viewer **ret) {
        WireConn *conn;
        int r = wire_conn_new(t, VIEWER_OUT_LIMIT, &conn); /* owns t, even when it fails */
        if (r < 0)
                return r;
        return viewer_new_conn(s, conn, peer, ret);
}

int viewer_new_conn(ViewerServer *s, WireConn *conn, const char *peer, Viewer **ret) {
        Viewer *v;
        Manager *m = s->manager;
        int r;

        v = calloc(1, sizeof(Viewer));
        if (!v) {
                wire_conn_free(conn);
                return -ENOMEM;
        }
        v->server = s;
        snprintf(v->peer, sizeof(v->peer), "%s", peer);
        v->settings = (EncoderSettings) { .quality = 80, .subsampling = 2, .lossless_only = false };
        region_init(&v->pending);
        region_init(&v->band);
        if (getrandom(&v->session, sizeof(v->session), 0) != sizeof(v->session))
                v->session = (uint64_t) random();
        v->encoder = encoder_new();
        if (!v->encoder) {
                wire_conn_free(conn);
                free(v);
                return -ENOMEM;
        }
        v->conn = conn;
        wire_conn_set_accept(v->conn, WIRE_DIR_C2S);
        v->next = s->viewers;
        s->viewers = v;
        s->n_viewers++;

        uint64_t now;
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if ((wire_conn_fd(v->conn) >= 0 &&
             (r = sd_event_add_io(m->event, &v->io, wire_conn_fd(v->conn), wire_conn_poll_events(v->conn), viewer_on_io, v)) < 0) ||
            (r = sd_event_add_defer(m->event, &v->pump, on_pump, v)) < 0 ||
            (r = sd_event_add_time(m->event, &v->timer, CLOCK_MONOTONIC, now + HANDSHAKE_TIMEOUT_USEC, 0,
                                   on_handshake_timeout, v)) < 0) {
                viewer_free(v);
                return r;
        }
        sd_event_source_set_enabled(v->pump, SD_EVENT_OFF);
        if ((r = viewer_adapt_new(v, &v->adapt)) < 0 || (r = viewer_conn_attached(v)) < 0) {
                viewer_free(v);
                return r;
        }
        /* QEMU sends one refresh as a burst of Update calls, which sd-bus hands over one per loop
         * iteration. At idle priority the pump runs once the burst is drained, so one refresh
         * becomes one frame instead of one frame per rectangle, at no added latency. */
        sd_event_source_set_priority(v->pump, SD_EVENT_PRIORITY_IDLE);
        *ret = v;
        return 0;
}

int viewer_new(ViewerServer *s, int fd, const char *peer, Viewer **ret) {
        ByteTransport *t = NULL;
        /* Takes ownership of the fd, even when it fails. */
        int r = tls_transport_new(s->tls, fd, true, NULL, NULL, &t);
        if (r < 0)
                return r;
        return viewer_new_transport(s, t, peer, ret);
}
