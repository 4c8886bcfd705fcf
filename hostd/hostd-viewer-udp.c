#include "hostd-viewer-udp.h"

#include <errno.h>
#include <stdlib.h>
#include <systemd/sd-event.h>

#include "hostd-console.h"
#include "hostd-framebuffer.h"
#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "log.h"
#include "macro.h"

typedef struct TileSlot {
        uint32_t id;
        bool used;
        Rect area;
} TileSlot;

struct ViewerUdp {
        sd_event_source *timer;
        TileSlot ring[VIEWER_UDP_TILE_RING];
        uint64_t tiles_lost, refresh_all;
        uint64_t tiles_sent, tile_messages; /* handed to rudp */
        /* The tile frames at the end of the connection's out buffer, not handed to rudp yet. */
        Rect batch_box;
        uint64_t batch_area;
        size_t batch_bytes;
        unsigned batch_tiles;
        Region retry; /* areas of tiles rudp refused: pending again at the next update */
};

static int on_conn_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Viewer *v = userdata;
        uint64_t now;
        sd_event_now(v->server->manager->event, CLOCK_MONOTONIC, &now);
        wire_conn_on_timeout(v->conn, now);
        viewer_process(v); /* flushes what the timers released, or drops a silent viewer */
        return 0;
}

int viewer_udp_new(Viewer *v, ViewerUdp **ret) {
        ViewerUdp *u = calloc(1, sizeof(ViewerUdp));
        if (!u)
                return -ENOMEM;
        /* Accuracy 1 us: rudp paces and detects losses in milliseconds, and sd-event lets a timer of
         * the default accuracy (0) slip by 250 ms. */
        int r = sd_event_add_time(v->server->manager->event, &u->timer, CLOCK_MONOTONIC, 0, 1, on_conn_timer, v);
        if (r < 0) {
                free(u);
                return r;
        }
        sd_event_source_set_enabled(u->timer, SD_EVENT_OFF);
        *ret = u;
        return 0;
}

ViewerUdp *viewer_udp_free(ViewerUdp *u) {
        if (!u)
                return NULL;
        sd_event_source_disable_unref(u->timer);
        region_done(&u->retry);
        free(u);
        return NULL;
}

int viewer_udp_tiles_flush(Viewer *v) {
        ViewerUdp *u = v->udp;
        if (u->batch_tiles == 0)
                return 0;
        Rect box = u->batch_box;
        size_t bytes = u->batch_bytes;
        unsigned tiles = u->batch_tiles;
        u->batch_tiles = 0;
        u->batch_bytes = 0;
        u->batch_area = 0;
        Buffer *out = wire_conn_out(v->conn);
        int r = wire_conn_submit(v->conn);
        if (r == -ENOBUFS) {
                /* Submission stops at the first frame refused, so the batch, the last, is still
                 * queued. The encoder counts its tiles as sent: their area is encoded again. */
                buffer_truncate(out, buffer_len(out) - bytes);
                if (region_add(&u->retry, box) < 0)
                        v->need_mode = true; /* no memory to remember it: everything again */
                return -ENOBUFS;
        }
        if (r < 0)
                return r;
        uint32_t id = wire_conn_last_id(v->conn);
        u->ring[id % VIEWER_UDP_TILE_RING] = (TileSlot) { .id = id, .used = true, .area = box };
        u->tiles_sent += tiles;
        u->tile_messages++;
        return 0;
}

void viewer_udp_tile_counts(const Viewer *v, uint64_t *ret_tiles, uint64_t *ret_messages) {
        *ret_tiles = v->udp ? v->udp->tiles_sent : 0;
        *ret_messages = v->udp ? v->udp->tile_messages : 0;
}

int viewer_udp_tile_begin(Viewer *v, Rect area, size_t frame_len) {
        ViewerUdp *u = v->udp;
        if (u->batch_tiles == 0)
                return 0;
        /* Full, or the batch's box (what a loss makes dirty) would grow well past its tiles. */
        if (u->batch_bytes + frame_len > VIEWER_UDP_BATCH_BYTES ||
            rect_area(rect_bbox(u->batch_box, area)) > 2 * (u->batch_area + rect_area(area)))
                return viewer_udp_tiles_flush(v);
        return 0;
}

int viewer_udp_tile_queued(Viewer *v, Rect area, size_t frame_len) {
        ViewerUdp *u = v->udp;
        u->batch_box = u->batch_tiles == 0 ? area : rect_bbox(u->batch_box, area);
        u->batch_area += rect_area(area);
        u->batch_bytes += frame_len;
        u->batch_tiles++;
        /* A viewer that did not announce tile-batch takes one tile a message. */
        bool full = u->batch_bytes >= VIEWER_UDP_BATCH_BYTES || !(v->caps & WIRE_CAP_TILE_BATCH);
        return full ? viewer_udp_tiles_flush(v) : 0;
}

bool viewer_udp_may_encode(Viewer *v) {
        RudpStats st;
        size_t limit = VIEWER_UDP_BACKLOG_MIN;
        if (wire_conn_rudp_stats(v->conn, &st) == 0)
                limit = MAX(limit, (size_t) (st.pacing_rate / 20));
        return wire_conn_unsent_tiles(v->conn) <= limit;
}

static void mark_lost(Viewer *v) {
        ViewerUdp *u = v->udp;
        uint8_t channel;
        uint32_t id;
        bool any = false;

        while (wire_conn_next_lost(v->conn, &channel, &id) > 0) {
                /* A lost media packet is not a tile: the viewer sees the gap in its seq and asks
                 * for a keyframe; it must not repaint the screen. */
                if (channel != WIRE_RUDP_TILE_CHANNEL)
                        continue;
                TileSlot *slot = &u->ring[id % VIEWER_UDP_TILE_RING];
                u->tiles_lost++;
                any = true;
                if (!v->console)
                        continue; /* nothing to refresh; a bind resends everything anyway */
                if (slot->used && slot->id == id) {
                        slot->used = false;
                        if (region_add(&v->pending, slot->area) >= 0)
                                continue;
                }
                /* Forgotten (or the region is full): the whole screen, not the mode. */
                u->refresh_all++;
                region_clear(&v->pending);
                if (v->console->fb->pixels &&
                    region_add(&v->pending, (Rect) { 0, 0, (int32_t) v->console->fb->width,
                                                     (int32_t) v->console->fb->height }) < 0)
                        v->need_mode = true;
        }
        if (any)
                log_debug("viewer %s: %llu tiles lost so far", v->peer, (unsigned long long) u->tiles_lost);
}

void viewer_udp_update(Viewer *v) {
        ViewerUdp *u = v->udp;
        if (!u)
                return;
        for (size_t i = 0; i < u->retry.n; i++)
                if (region_add(&v->pending, u->retry.rects[i]) < 0)
                        v->need_mode = true;
        region_clear(&u->retry);
        mark_lost(v);
        if (v->state == VIEWER_ACTIVE && (!region_is_empty(&v->pending) || v->need_mode) &&
            viewer_in_flight(v) < v->server->manager->config.frames_in_flight && viewer_udp_may_encode(v))
                viewer_schedule_pump(v);
        uint64_t t = wire_conn_next_timeout(v->conn);
        if (t == UINT64_MAX)
                sd_event_source_set_enabled(u->timer, SD_EVENT_OFF);
        else {
                sd_event_source_set_time(u->timer, t);
                sd_event_source_set_enabled(u->timer, SD_EVENT_ONESHOT);
        }
}
