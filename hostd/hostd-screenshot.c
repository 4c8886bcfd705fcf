#include "hostd-screenshot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-event.h>

#include "hostd-console.h"
#include "hostd-libvirt.h"
#include "hostd-libvirt-call.h"
#include "hostd-manager.h"
#include "log.h"
#include "hostd-screenshot-image.h"

/* PIXMAN b8g8r8: 24-bit pixels whose bytes in memory are R, G, B, as decoded screenshots are. */
#define FORMAT_PPM_RGB 0x18030888u
#define SCREENSHOT_MAX_BYTES (64u * 1024 * 1024)
#define TILE 64

struct Screenshotter {
        Manager *manager;
        virDomainPtr dom;
        char *domain;
        Console *console;
        sd_event_source *timer;
        LibvirtCall *call; /* the virDomainScreenshot() call under way (it waits for QEMU) */
        virStreamPtr stream;
        bool stream_watched;
        ImageScratch scratch;
        uint8_t *buf;
        size_t len, cap;
        uint8_t *previous; /* last applied RGB pixels, to send only changed tiles */
        uint32_t prev_w, prev_h;
        unsigned failures;
        uint64_t taken, failed;
};

static void screenshotter_stream_done(Screenshotter *s, bool abort_stream) {
        if (!s->stream)
                return;
        if (s->stream_watched)
                virStreamEventRemoveCallback(s->stream);
        s->stream_watched = false;
        if (abort_stream)
                virStreamAbort(s->stream);
        virStreamFree(s->stream);
        s->stream = NULL;
        s->len = 0;
}

Screenshotter *screenshotter_free(Screenshotter *s) {
        if (!s)
                return NULL;
        libvirt_call_cancel(s->call);
        screenshotter_stream_done(s, true);
        sd_event_source_disable_unref(s->timer);
        console_free(s->console);
        if (s->dom)
                virDomainFree(s->dom);
        free(s->buf);
        free(s->previous);
        image_scratch_done(&s->scratch);
        free(s->domain);
        free(s);
        return NULL;
}

Console *screenshotter_console(Screenshotter *s) {
        return s->console;
}

void screenshotter_describe_json(Screenshotter *s, uint64_t now, char *buf, size_t size) {
        uint64_t started = s->call ? libvirt_call_started(s->call) : now;
        snprintf(buf, size, "{\"taken\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"waiting_ms\":%" PRIu64 "}", s->taken,
                 s->failed, (now - MIN(started, now)) / 1000);
}

static void screenshotter_schedule(Screenshotter *s) {
        uint64_t now;
        sd_event_now(s->manager->event, CLOCK_MONOTONIC, &now);
        sd_event_source_set_time(s->timer, now + (uint64_t) s->manager->config.screenshot_interval * 1000000ULL);
        sd_event_source_set_enabled(s->timer, SD_EVENT_ONESHOT);
}

static void screenshotter_failed(Screenshotter *s, const char *what) {
        /* Log the first failure and then rarely: a domain that cannot be captured stays watched. */
        s->failed++;
        if (s->failures++ % 100 == 0)
                log_warning("%s: screenshot failed: %s (%u so far), retrying", s->domain, what, s->failures);
        screenshotter_stream_done(s, true);
        screenshotter_schedule(s);
}

/* Applies a screenshot: a new mode becomes a Scanout; otherwise only tiles that differ from the
 * previous screenshot become Updates, so an unchanged screen changes nothing downstream. */
static int screenshotter_apply(Screenshotter *s, uint32_t w, uint32_t h, const uint8_t *rgb) {
        size_t stride = (size_t) w * 3, size = stride * h;
        int r;

        if (!s->previous || w != s->prev_w || h != s->prev_h) {
                uint8_t *p = realloc(s->previous, size);
                if (!p)
                        return -ENOMEM;
                s->previous = p;
                r = console_scanout(s->console, w, h, (uint32_t) stride, FORMAT_PPM_RGB, rgb, size);
                if (r < 0)
                        return r;
                memcpy(s->previous, rgb, size);
                s->prev_w = w;
                s->prev_h = h;
                return 0;
        }
        for (uint32_t ty = 0; ty < h; ty += TILE)
                for (uint32_t tx = 0; tx < w; tx += TILE) {
                        uint32_t tw = MIN(TILE, w - tx), th = MIN(TILE, h - ty);
                        size_t off = (size_t) ty * stride + (size_t) tx * 3;
                        bool changed = false;
                        for (uint32_t y = 0; y < th && !changed; y++)
                                changed = memcmp(rgb + off + y * stride, s->previous + off + y * stride, tw * 3u) != 0;
                        if (!changed)
                                continue;
                        r = console_update(s->console, (int32_t) tx, (int32_t) ty, (int32_t) tw, (int32_t) th,
                                           (uint32_t) stride, FORMAT_PPM_RGB, rgb + off, size - off);
                        if (r < 0)
                                return r;
                        for (uint32_t y = 0; y < th; y++)
                                memcpy(s->previous + off + y * stride, rgb + off + y * stride, tw * 3u);
                }
        return 0;
}

static void on_stream(virStreamPtr st, int events, void *opaque) {
        Screenshotter *s = opaque;

        for (;;) {
                if (s->len == s->cap) {
                        size_t cap = s->cap ? s->cap * 2 : 1024 * 1024;
                        if (cap > SCREENSHOT_MAX_BYTES) {
                                screenshotter_failed(s, "screenshot too large");
                                return;
                        }
                        uint8_t *b = realloc(s->buf, cap);
                        if (!b) {
                                screenshotter_failed(s, "out of memory");
                                return;
                        }
                        s->buf = b;
                        s->cap = cap;
                }
                int n = virStreamRecv(st, (char *) s->buf + s->len, s->cap - s->len);
                if (n == -2)
                        return; /* no data yet: wait for the next event */
                if (n < 0) {
                        screenshotter_failed(s, libvirt_last_error());
                        return;
                }
                if (n == 0)
                        break;
                s->len += (size_t) n;
        }

        uint32_t w, h;
        const uint8_t *rgb;
        size_t len = s->len;
        virStreamFinish(s->stream);
        screenshotter_stream_done(s, false);

        int r = screenshot_image_decode(s->buf, len, &s->scratch, &w, &h, &rgb);
        if (r < 0) {
                screenshotter_failed(s, r == -EOPNOTSUPP ? "neither PPM nor PNG" : "malformed image");
                return;
        }
        r = screenshotter_apply(s, w, h, rgb);
        if (r < 0) {
                screenshotter_failed(s, "invalid image");
                return;
        }
        s->failures = 0;
        s->taken++;
        screenshotter_schedule(s);
}

/* One screenshot call: the stream it fills, or why it failed. */
typedef struct ShotJob {
        virStreamPtr stream;
        bool ok;
        char error[256];
} ShotJob;

static void shot_job_free(ShotJob *j) {
        if (j->stream) {
                if (j->ok)
                        virStreamAbort(j->stream); /* a screenshot nobody reads: libvirt drops it when told */
                virStreamFree(j->stream);
        }
        free(j);
}

static void shot_call(virDomainPtr dom, void *job) {
        ShotJob *j = job;
        char *mime = virDomainScreenshot(dom, j->stream, 0, 0);
        j->ok = mime != NULL;
        if (!mime)
                snprintf(j->error, sizeof j->error, "%s", libvirt_last_error());
        free(mime);
}

static void shot_discard(void *job) {
        shot_job_free(job);
}

static void on_call_done(void *userdata, void *job) {
        Screenshotter *s = userdata;
        ShotJob *j = job;
        s->call = NULL;
        if (!j->ok) {
                screenshotter_failed(s, j->error);
                shot_job_free(j);
                return;
        }
        s->stream = TAKE_PTR(j->stream);
        shot_job_free(j);
        if (virStreamEventAddCallback(s->stream, VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_HANGUP, on_stream, s,
                                      NULL) < 0)
                screenshotter_failed(s, "cannot watch stream");
        else
                s->stream_watched = true;
}

static int on_timer(sd_event_source *source, uint64_t usec, void *userdata) {
        Screenshotter *s = userdata;

        screenshotter_stream_done(s, true);
        ShotJob *j = calloc(1, sizeof *j);
        if (j)
                j->stream = virStreamNew(virDomainGetConnect(s->dom), VIR_STREAM_NONBLOCK);
        if (!j || !j->stream) {
                if (j)
                        shot_job_free(j);
                screenshotter_failed(s, "cannot create stream");
                return 0;
        }
        if (libvirt_call_start(s->manager->event, s->dom, j, shot_call, on_call_done, shot_discard, s, &s->call) < 0) {
                shot_job_free(j);
                screenshotter_failed(s, "cannot start the call");
        }
        return 0;
}

int screenshotter_new(Manager *m, virDomainPtr dom, const char *domain, Screenshotter **ret) {
        _cleanup_(screenshotter_freep) Screenshotter *s = calloc(1, sizeof(Screenshotter));
        int r;

        if (!s)
                return -ENOMEM;
        s->manager = m;
        s->domain = strdup(domain);
        if (!s->domain)
                return -ENOMEM;
        if (virDomainRef(dom) < 0)
                return -EINVAL;
        s->dom = dom;
        r = console_new(m, domain, 0, &s->console);
        if (r < 0)
                return r;
        r = sd_event_add_time(m->event, &s->timer, CLOCK_MONOTONIC, 0, 0, on_timer, s);
        if (r < 0)
                return r;
        log_info("%s: no D-Bus display, watching through screenshots every %us", domain,
                 m->config.screenshot_interval);
        manager_emit(m, "screenshot %s", domain);
        *ret = TAKE_PTR(s);
        return 0;
}
