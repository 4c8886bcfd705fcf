/* libtandem-media: for applications in a Tandem desktop that can hand their compressed media
 * (Opus audio, VP8 or H.264 video) to the viewer instead of decoding and rendering it
 * themselves. A thin client of org.tandem.Media1 (guestd/media-api.md) on the system bus.
 *
 *   TandemMedia *tm;
 *   tandem_media_new(NULL, &callbacks, app, &tm);
 *   r = tandem_media_open(tm, &(TandemMediaOpen) { .kind = "video", .codec = "vp8", ... }, &id, reason, sizeof(reason));
 *   r == 1: push packets with tandem_media_push(); r == 0: render locally (reason says why).
 *   Closed (callback): render locally from then on.
 *
 * Functions return negative errno; the D-Bus error text of the last failure is in
 * tandem_media_error(). Signals are dispatched from tandem_media_process() (or from the caller's
 * sd-event loop after sd_bus_attach_event(tandem_media_bus(tm), ...)). Not thread-safe. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

typedef struct TandemMedia TandemMedia;

typedef struct TandemMediaCallbacks {
        /* hostd stopped relaying the stream (reason as media-api.md): render it locally. */
        void (*closed)(void *userdata, uint32_t stream, const char *reason);
        /* The viewer lost packets: send a keyframe soon if the encoder can. */
        void (*keyframe_requested)(void *userdata, uint32_t stream);
        /* The codecs every connected viewer decodes changed (none: no viewer). */
        void (*viewers_changed)(void *userdata, const char *const *codecs, size_t n);
} TandemMediaCallbacks;

typedef struct TandemMediaRect {
        int32_t x, y;
        uint32_t width, height;
} TandemMediaRect;

typedef struct TandemMediaOpen {
        const char *kind;        /* "audio" or "video" */
        const char *codec;       /* "opus", "vp8", "h264" */
        uint32_t window;         /* the seamless window the video is in, 0: screen coordinates */
        TandemMediaRect rect;    /* framebuffer pixels */
        bool visible;
        uint32_t sample_rate;    /* audio */
        uint8_t channels;
} TandemMediaOpen;

/* bus: NULL connects to the system bus (DBUS_SYSTEM_BUS_ADDRESS is honoured). */
int tandem_media_new(sd_bus *bus, const TandemMediaCallbacks *callbacks, void *userdata, TandemMedia **ret);
TandemMedia *tandem_media_free(TandemMedia *tm);
sd_bus *tandem_media_bus(TandemMedia *tm);
const char *tandem_media_error(TandemMedia *tm);

/* 1 and the stream id: redirected. 0 and the reason in reason (NUL-terminated, truncated to
 * size): render locally. <0: guestd is not there or refused the call (render locally too). */
int tandem_media_open(TandemMedia *tm, const TandemMediaOpen *o, uint32_t *ret_stream, char *reason, size_t size);
int tandem_media_push(TandemMedia *tm, uint32_t stream, uint64_t pts_us, bool keyframe, const void *data, size_t len);
int tandem_media_set_geometry(TandemMedia *tm, uint32_t stream, uint32_t window, const TandemMediaRect *rect,
                              bool visible);
int tandem_media_close(TandemMedia *tm, uint32_t stream);
/* Dispatches what has arrived, waiting up to timeout_us for something (0: do not wait). */
int tandem_media_process(TandemMedia *tm, uint64_t timeout_us);
