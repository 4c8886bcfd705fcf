#include "hostd-console.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-manager.h"
#include "hostd-viewer-server.h"
#include "log.h"

int console_new(Manager *m, const char *domain, unsigned id, Console **ret) {
        _cleanup_(console_freep) Console *c = calloc(1, sizeof(Console));
        if (!c)
                return -ENOMEM;
        c->manager = m;
        c->id = id;
        c->domain = strdup(domain);
        c->fb = framebuffer_new();
        if (!c->domain || !c->fb || asprintf(&c->name, "%s/%u", domain, id) < 0 ||
            asprintf(&c->thumbnail_path, "%s/thumbnails/%s-%u.jpg", m->config.state_directory, domain, id) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(c);
        return 0;
}

Console *console_free(Console *c) {
        if (!c)
                return NULL;
        viewer_server_console_removed(c->manager->viewers, c);
        sd_event_source_disable_unref(c->thumbnail_timer);
        framebuffer_free(c->fb);
        cursor_done(&c->cursor);
        free(c->domain);
        free(c->name);
        free(c->thumbnail_path);
        free(c);
        return NULL;
}

static void console_write_thumbnail(Console *c) {
        if (c->fb->width == 0 || c->fb->updates == c->thumbnail_updates)
                return;
        int r = thumbnailer_write(c->manager->thumbnailer, c->fb, c->manager->config.thumbnail_width,
                                  (int) c->manager->config.thumbnail_quality, c->thumbnail_path);
        if (r < 0) {
                log_warning_errno(r, "%s: failed to write thumbnail %s: %m, ignoring", c->name, c->thumbnail_path);
                return;
        }
        if (c->thumbnail_updates == 0)
                log_info("%s: thumbnail %s", c->name, c->thumbnail_path);
        c->thumbnail_updates = c->fb->updates;
        sd_event_now(c->manager->event, CLOCK_MONOTONIC, &c->thumbnail_usec);
}

static int on_thumbnail_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        console_write_thumbnail(userdata);
        return 0;
}

/* Thumbnails follow changes, at most one per interval; a static screen arms no timer at all. */
static void console_schedule_thumbnail(Console *c) {
        uint64_t interval = (uint64_t) c->manager->config.thumbnail_interval * 1000000ULL;
        uint64_t at = c->thumbnail_usec ? c->thumbnail_usec + interval : 0;
        int enabled = SD_EVENT_OFF;

        if (c->thumbnail_timer && sd_event_source_get_enabled(c->thumbnail_timer, &enabled) >= 0 &&
            enabled != SD_EVENT_OFF)
                return; /* already pending */
        if (!c->thumbnail_timer) {
                if (sd_event_add_time(c->manager->event, &c->thumbnail_timer, CLOCK_MONOTONIC, at, 0,
                                      on_thumbnail_timer, c) < 0)
                        return;
        } else
                sd_event_source_set_time(c->thumbnail_timer, at);
        sd_event_source_set_enabled(c->thumbnail_timer, SD_EVENT_ONESHOT);
}

static void console_frame_applied(Console *c, bool mode_changed) {
        c->frames++;
        if (mode_changed) {
                log_info("%s: mode %ux%u", c->name, c->fb->width, c->fb->height);
                manager_emit(c->manager, "mode %s %u %u %u", c->domain, c->id, c->fb->width, c->fb->height);
        }
        if (!c->have_frame) {
                c->have_frame = true;
                log_info("%s: first frame %ux%u", c->name, c->fb->width, c->fb->height);
                manager_emit(c->manager, "frame %s %u %u %u", c->domain, c->id, c->fb->width, c->fb->height);
                /* From its first frame on, a console is something viewers can watch. */
                viewer_server_console_added(c->manager->viewers, c);
        }
        viewer_server_console_damaged(c->manager->viewers, c, mode_changed);
        console_schedule_thumbnail(c);
}

static int console_rejected(Console *c, int r, const char *what) {
        /* Log the first few and then every 1000th, so a misbehaving peer cannot flood the journal. */
        c->rejected++;
        if (c->rejected <= 5 || c->rejected % 1000 == 0)
                log_warning_errno(r, "%s: dropped invalid %s (%" PRIu64 " so far): %m", c->name, what, c->rejected);
        return r;
}

int console_scanout(Console *c, uint32_t w, uint32_t h, uint32_t stride, uint32_t format, const uint8_t *data,
                    size_t len) {
        bool mode_changed = w != c->fb->width || h != c->fb->height;
        int r = framebuffer_scanout(c->fb, w, h, stride, format, data, len);
        if (r < 0) {
                char what[128];
                snprintf(what, sizeof(what), "Scanout %ux%u (stride %u, format 0x%08x, %zu bytes)", w, h, stride,
                         format, len);
                return console_rejected(c, r, what);
        }
        console_frame_applied(c, mode_changed);
        return 0;
}

int console_update(Console *c, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t stride, uint32_t format,
                   const uint8_t *data, size_t len) {
        uint64_t before = c->fb->updates;
        int r = framebuffer_update(c->fb, x, y, w, h, stride, format, data, len);
        if (r < 0) {
                char what[128];
                snprintf(what, sizeof(what), "Update %dx%d+%d+%d (stride %u, format 0x%08x, %zu bytes) on %ux%u", w,
                         h, x, y, stride, format, len, c->fb->width, c->fb->height);
                return console_rejected(c, r, what);
        }
        if (c->fb->updates == before) {
                c->frames++; /* QEMU re-sent what we have: nothing for thumbnails or viewers */
                return 0;
        }
        console_frame_applied(c, false);
        return 0;
}

void console_disable(Console *c) {
        framebuffer_disable(c->fb);
        viewer_server_console_damaged(c->manager->viewers, c, false);
        log_info("%s: display disabled", c->name);
        manager_emit(c->manager, "disable %s %u", c->domain, c->id);
        console_schedule_thumbnail(c);
}

int console_cursor_define(Console *c, int32_t w, int32_t h, int32_t hot_x, int32_t hot_y, const uint8_t *data,
                          size_t len) {
        int r = cursor_define(&c->cursor, w, h, hot_x, hot_y, data, len);
        if (r < 0)
                return console_rejected(c, r, "CursorDefine");
        viewer_server_console_cursor(c->manager->viewers, c, true);
        return 0;
}

void console_mouse_set(Console *c, int32_t x, int32_t y, bool visible) {
        cursor_set_position(&c->cursor, x, y, visible);
        viewer_server_console_cursor(c->manager->viewers, c, false);
}
