/* One graphic console of a domain as hostd sees it: framebuffer, dirty region, cursor, and the
 * thumbnail kept for operators. Fed by the D-Bus display listener or by screenshot polling;
 * reports milestones (first frame, mode changes) to the log and to control watchers. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "hostd-cursor.h"
#include "hostd-forward.h"
#include "hostd-framebuffer.h"

struct Console {
        Manager *manager;
        char *domain;
        unsigned id;
        char *name; /* "domain/id", for logs */
        Framebuffer *fb;
        Cursor cursor;
        bool have_frame;
        uint64_t frames;         /* Scanout and Update calls applied */
        uint64_t rejected;       /* Scanout/Update calls dropped as invalid */
        uint64_t thumbnail_updates; /* fb->updates at the last thumbnail */
        uint64_t thumbnail_usec;    /* CLOCK_MONOTONIC of the last thumbnail */
        sd_event_source *thumbnail_timer;
        char *thumbnail_path;
};

int console_new(Manager *m, const char *domain, unsigned id, Console **ret);
Console *console_free(Console *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Console *, console_free);

/* These validate their input; a bad call is dropped, counted and returns a negative errno. */
int console_scanout(Console *c, uint32_t w, uint32_t h, uint32_t stride, uint32_t format, const uint8_t *data,
                    size_t len);
int console_update(Console *c, int32_t x, int32_t y, int32_t w, int32_t h, uint32_t stride, uint32_t format,
                   const uint8_t *data, size_t len);
void console_disable(Console *c);
int console_cursor_define(Console *c, int32_t w, int32_t h, int32_t hot_x, int32_t hot_y, const uint8_t *data,
                          size_t len);
void console_mouse_set(Console *c, int32_t x, int32_t y, bool visible);
