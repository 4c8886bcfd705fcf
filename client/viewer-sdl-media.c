#include "viewer-sdl-media.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client-media-geometry.h"
#include "viewer-util.h"

#define VIDEO_MAX 16
/* Decoding per loop turn at most (then input and drawing have their turn): a 720p VP8 frame
 * takes a few ms, so one or two frames a turn. */
#define DECODE_BUDGET_USEC UINT64_C(8000)
#define MIC_RING_FRAMES (SDL_MEDIA_RATE / 2) /* half a second of capture waiting at most */

typedef struct VideoOut {
        uint32_t id;
        SDL_Texture *texture;
        uint32_t tw, th;
        uint64_t serial;
        bool has_picture;
} VideoOut;

/* A video stream's texture on a seamless window's renderer. */
typedef struct ExtraTexture {
        uint32_t id;
        SDL_Renderer *renderer;
        SDL_Texture *texture;
        uint32_t w, h;
        uint64_t serial;
} ExtraTexture;

#define EXTRA_MAX 64

struct SdlMedia {
        Viewer *v;
        SeamlessOverlay overlay;
        ExtraTexture extra[EXTRA_MAX];
        size_t n_extra;
        SDL_Renderer *renderer;
        VideoOut video[VIDEO_MAX];
        size_t n_video;
        SDL_AudioDeviceID audio;
        uint64_t audio_latency_usec;
        /* the microphone: the capture callback fills the ring, the loop sends it */
        SDL_AudioDeviceID mic;
        SDL_mutex *mic_lock;
        int16_t *mic_ring;
        size_t mic_head, mic_len;
        uint8_t mic_channels;
};

void sdl_media_configure(ViewerOptions *options) {
        options->client.media.mixer = true;
        options->client.media.audio_rate = SDL_MEDIA_RATE;
        options->client.media.audio_channels = SDL_MEDIA_CHANNELS;
        options->client.media.paced = true; /* decoded in sdl_media_tick(), a budget per loop turn */
}

static ClientMedia *media(SdlMedia *m) {
        return m->v->session ? client_session_media(m->v->session) : NULL;
}

/* SDL's audio thread: what it asks for plays after the device's buffer, about now + latency. */
static void audio_callback(void *userdata, Uint8 *stream, int len) {
        SdlMedia *m = userdata;
        ClientMedia *cm = media(m);
        size_t frames = (size_t) len / (SDL_MEDIA_CHANNELS * sizeof(int16_t));
        if (!cm) {
                memset(stream, 0, (size_t) len);
                return;
        }
        client_media_mix(cm, (int16_t *) stream, frames, now_usec() + m->audio_latency_usec);
}

int sdl_media_new(Viewer *v, SDL_Renderer *renderer, SdlMedia **ret) {
        SdlMedia *m = calloc(1, sizeof(SdlMedia));
        if (!m)
                return -ENOMEM;
        m->v = v;
        m->renderer = renderer;
        m->mic_lock = SDL_CreateMutex();
        if (SDL_InitSubSystem(SDL_INIT_AUDIO) < 0)
                viewer_message("No audio (%s): media video only", SDL_GetError());
        else {
                SDL_AudioSpec want = { .freq = SDL_MEDIA_RATE, .format = AUDIO_S16SYS, .channels = SDL_MEDIA_CHANNELS,
                                       .samples = 512, .callback = audio_callback, .userdata = m },
                              have;
                m->audio = SDL_OpenAudioDevice(NULL, 0, &want, &have, 0);
                if (m->audio == 0)
                        viewer_message("No audio device (%s): media video only", SDL_GetError());
                else {
                        m->audio_latency_usec = (uint64_t) have.samples * 1000000 / SDL_MEDIA_RATE;
                        SDL_PauseAudioDevice(m->audio, 0);
                }
        }
        *ret = m;
        return 0;
}

static void mic_close(SdlMedia *m) {
        if (m->mic)
                SDL_CloseAudioDevice(m->mic);
        m->mic = 0;
        free(m->mic_ring);
        m->mic_ring = NULL;
        m->mic_len = m->mic_head = 0;
}

SdlMedia *sdl_media_free(SdlMedia *m) {
        if (!m)
                return NULL;
        if (m->audio)
                SDL_CloseAudioDevice(m->audio); /* waits for the callback: no mixing after this */
        mic_close(m);
        for (size_t i = 0; i < m->n_video; i++)
                if (m->video[i].texture)
                        SDL_DestroyTexture(m->video[i].texture);
        for (size_t i = 0; i < m->n_extra; i++)
                SDL_DestroyTexture(m->extra[i].texture);
        if (m->mic_lock)
                SDL_DestroyMutex(m->mic_lock);
        free(m);
        return NULL;
}

static VideoOut *video_find(SdlMedia *m, uint32_t id) {
        for (size_t i = 0; i < m->n_video; i++)
                if (m->video[i].id == id)
                        return &m->video[i];
        return NULL;
}

static void extra_drop(SdlMedia *m, size_t i) {
        SDL_DestroyTexture(m->extra[i].texture);
        m->extra[i] = m->extra[--m->n_extra];
}

void sdl_media_stream(SdlMedia *m, const ClientMediaStream *st, bool stopped) {
        if (st->kind != WIRE_KIND_VIDEO)
                return;
        VideoOut *o = video_find(m, st->id);
        if (stopped)
                for (size_t i = m->n_extra; i-- > 0;)
                        if (m->extra[i].id == st->id)
                                extra_drop(m, i);
        if (stopped) {
                if (!o)
                        return;
                if (o->texture)
                        SDL_DestroyTexture(o->texture);
                *o = m->video[--m->n_video];
                return;
        }
        if (!o && m->n_video < VIDEO_MAX)
                m->video[m->n_video++] = (VideoOut) { .id = st->id };
}

/* ---- the microphone ---- */

static void mic_callback(void *userdata, Uint8 *stream, int len) {
        SdlMedia *m = userdata;
        size_t frames = (size_t) len / (m->mic_channels * sizeof(int16_t));
        const int16_t *in = (const int16_t *) stream;
        SDL_LockMutex(m->mic_lock);
        for (size_t i = 0; i < frames && m->mic_ring; i++) {
                if (m->mic_len == MIC_RING_FRAMES) { /* the loop is stuck: the oldest go */
                        m->mic_head = (m->mic_head + 1) % MIC_RING_FRAMES;
                        m->mic_len--;
                }
                size_t at = (m->mic_head + m->mic_len) % MIC_RING_FRAMES;
                memcpy(m->mic_ring + at * m->mic_channels, in + i * m->mic_channels, m->mic_channels * sizeof(int16_t));
                m->mic_len++;
        }
        SDL_UnlockMutex(m->mic_lock);
}

void sdl_media_mic(SdlMedia *m, bool on, uint32_t rate, uint8_t channels) {
        mic_close(m); /* closing waits for its callback */
        if (!on || !(m->mic_ring = calloc((size_t) MIC_RING_FRAMES * channels, sizeof(int16_t))))
                return;
        m->mic_channels = channels;
        SDL_AudioSpec want = { .freq = (int) rate, .format = AUDIO_S16SYS, .channels = channels, .samples = 480,
                               .callback = mic_callback, .userdata = m },
                      have;
        m->mic = SDL_OpenAudioDevice(NULL, 1, &want, &have, 0); /* SDL converts to what we want */
        if (m->mic == 0) {
                viewer_message("No microphone (%s), ignoring", SDL_GetError());
                mic_close(m);
                return;
        }
        SDL_PauseAudioDevice(m->mic, 0);
}

static void mic_send(SdlMedia *m, uint64_t now) {
        int16_t buf[960 * 2];
        ClientMedia *cm = media(m);
        if (!m->mic || !cm)
                return;
        for (;;) {
                SDL_LockMutex(m->mic_lock);
                size_t n = MIN(m->mic_len, (size_t) 960);
                for (size_t i = 0; i < n; i++)
                        memcpy(buf + i * m->mic_channels, m->mic_ring + ((m->mic_head + i) % MIC_RING_FRAMES) * m->mic_channels,
                               m->mic_channels * sizeof(int16_t));
                m->mic_head = (m->mic_head + n) % MIC_RING_FRAMES;
                m->mic_len -= n;
                SDL_UnlockMutex(m->mic_lock);
                if (n == 0 || client_media_mic_push(cm, buf, n, now) < 0)
                        return;
        }
}

bool sdl_media_tick(SdlMedia *m, uint64_t now) {
        ClientMedia *cm = media(m);
        bool redraw = false;
        mic_send(m, now);
        if (!cm)
                return false;
        (void) client_media_pump(cm, now, DECODE_BUDGET_USEC);
        for (size_t i = 0; i < m->n_video; i++) {
                VideoOut *o = &m->video[i];
                const ClientMediaPicture *p = client_media_present(cm, o->id, now);
                if (!p || (o->has_picture && p->serial == o->serial))
                        continue;
                if (!o->texture || o->tw != p->width || o->th != p->height) {
                        if (o->texture)
                                SDL_DestroyTexture(o->texture);
                        o->texture = SDL_CreateTexture(m->renderer, SDL_PIXELFORMAT_IYUV, SDL_TEXTUREACCESS_STREAMING,
                                                       (int) p->width, (int) p->height);
                        o->tw = p->width;
                        o->th = p->height;
                }
                if (!o->texture)
                        continue;
                SDL_UpdateYUVTexture(o->texture, NULL, p->planes[0], p->strides[0], p->planes[1], p->strides[1],
                                     p->planes[2], p->strides[2]);
                o->serial = p->serial;
                o->has_picture = true;
                redraw = true;
        }
        return redraw;
}

/* The stream's picture as a texture of renderer r (a seamless window's), uploaded when new. */
static SDL_Texture *extra_texture(SdlMedia *m, SDL_Renderer *r, uint32_t id, const ClientMediaPicture *p) {
        ExtraTexture *e = NULL;
        for (size_t i = 0; i < m->n_extra && !e; i++)
                if (m->extra[i].id == id && m->extra[i].renderer == r)
                        e = &m->extra[i];
        if (e && (e->w != p->width || e->h != p->height)) {
                extra_drop(m, (size_t) (e - m->extra));
                e = NULL;
        }
        if (!e) {
                if (m->n_extra == EXTRA_MAX)
                        return NULL;
                SDL_Texture *t = SDL_CreateTexture(r, SDL_PIXELFORMAT_IYUV, SDL_TEXTUREACCESS_STREAMING, (int) p->width,
                                                   (int) p->height);
                if (!t)
                        return NULL;
                e = &m->extra[m->n_extra++];
                *e = (ExtraTexture) { .id = id, .renderer = r, .texture = t, .w = p->width, .h = p->height,
                                      .serial = p->serial - 1 };
        }
        if (e->serial != p->serial) {
                SDL_UpdateYUVTexture(e->texture, NULL, p->planes[0], p->strides[0], p->planes[1], p->strides[1],
                                     p->planes[2], p->strides[2]);
                e->serial = p->serial;
        }
        return e->texture;
}

/* A seamless window showing guest window `window' at geom (framebuffer pixels, drawn 1:1). */
static void seamless_draw(SDL_Renderer *r, uint32_t window, const SDL_Rect *geom, void *userdata) {
        SdlMedia *m = userdata;
        ClientMedia *cm = media(m);
        const ClientFramebuffer *fb = m->v->session ? client_session_framebuffer(m->v->session) : NULL;
        if (!cm || !fb)
                return;
        const ClientWindows *windows = client_session_windows(m->v->session);
        for (size_t i = 0; i < m->n_video; i++) {
                VideoOut *o = &m->video[i];
                const ClientMediaStream *st = client_media_stream(cm, o->id);
                const ClientMediaPicture *p = st ? client_media_present(cm, o->id, now_usec()) : NULL;
                MediaRect d, s;
                if (!p || (st->window != 0 && st->window != window) ||
                    !client_media_visible_rect(st, p->width, p->height, windows, fb->width, fb->height, &d, &s))
                        continue;
                /* Its part inside this window (a screen stream may cover several). */
                MediaRect c = d;
                int64_t x1 = MIN(d.x + d.w, (int64_t) geom->x + geom->w), y1 = MIN(d.y + d.h, (int64_t) geom->y + geom->h);
                c.x = MAX(d.x, (int64_t) geom->x);
                c.y = MAX(d.y, (int64_t) geom->y);
                c.w = x1 - c.x;
                c.h = y1 - c.y;
                if (c.w <= 0 || c.h <= 0)
                        continue;
                SDL_Texture *t = extra_texture(m, r, o->id, p);
                if (!t)
                        continue;
                SDL_Rect sr = { (int) (s.x + (c.x - d.x) * s.w / d.w), (int) (s.y + (c.y - d.y) * s.h / d.h),
                                (int) MAX(c.w * s.w / d.w, 1), (int) MAX(c.h * s.h / d.h, 1) };
                SDL_Rect dr = { (int) (c.x - geom->x), (int) (c.y - geom->y), (int) c.w, (int) c.h };
                SDL_RenderCopy(r, t, &sr, &dr);
        }
}

static void seamless_forget(SDL_Renderer *r, void *userdata) {
        SdlMedia *m = userdata;
        for (size_t i = m->n_extra; i-- > 0;)
                if (m->extra[i].renderer == r)
                        extra_drop(m, i);
}

const SeamlessOverlay *sdl_media_seamless_overlay(SdlMedia *m) {
        m->overlay = (SeamlessOverlay) { .draw = seamless_draw, .forget = seamless_forget, .userdata = m };
        return &m->overlay;
}

void sdl_media_render(SdlMedia *m, const SDL_Rect *dst, uint32_t fb_w, uint32_t fb_h) {
        ClientMedia *cm = media(m);
        if (!cm || fb_w == 0 || fb_h == 0)
                return;
        const ClientWindows *windows = client_session_windows(m->v->session);
        for (size_t i = 0; i < m->n_video; i++) {
                VideoOut *o = &m->video[i];
                const ClientMediaStream *st = client_media_stream(cm, o->id);
                MediaRect d, s;
                if (!st || !o->has_picture || !o->texture ||
                    !client_media_visible_rect(st, o->tw, o->th, windows, fb_w, fb_h, &d, &s))
                        continue;
                /* framebuffer pixels -> window pixels, as the framebuffer itself is scaled */
                SDL_Rect sr = { (int) s.x, (int) s.y, (int) s.w, (int) s.h };
                SDL_Rect dr = { dst->x + (int) (d.x * dst->w / fb_w), dst->y + (int) (d.y * dst->h / fb_h),
                                (int) (d.w * dst->w / fb_w), (int) (d.h * dst->h / fb_h) };
                SDL_RenderCopy(m->renderer, o->texture, &sr, &dr);
        }
}
