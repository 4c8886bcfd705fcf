/* The SDL window's media: each visible video stream drawn (an IYUV texture) into its rectangle,
 * scaled like the framebuffer and clipped to its window and the screen (client-media-geometry.h);
 * every audio stream played through one SDL audio device (client_media_mix(), whose audio
 * clock times the video); --mic: SDL's capture device into client_media_mic_push() while hostd
 * asks. Seamless windows get the video over their cut (viewer-sdl-seamless.h's overlay). */
#pragma once

#include <SDL.h>
#include <stdbool.h>

#include "viewer-core.h"
#include "viewer-sdl-seamless.h"

#define SDL_MEDIA_RATE 48000
#define SDL_MEDIA_CHANNELS 2

typedef struct SdlMedia SdlMedia;

/* Before viewer_connect(): sets the session's media options (the mixer's rate and channels). */
void sdl_media_configure(ViewerOptions *options);
/* After viewer_connect(): opens the audio device (without one: video only, said once). */
int sdl_media_new(Viewer *v, SDL_Renderer *renderer, SdlMedia **ret);
SdlMedia *sdl_media_free(SdlMedia *m);

/* The core's media callback: a stream changed or stopped. */
void sdl_media_stream(SdlMedia *m, const ClientMediaStream *st, bool stopped);
void sdl_media_mic(SdlMedia *m, bool on, uint32_t rate, uint8_t channels);
/* Whether a stream has a new picture due at now (the window must be drawn again); sends the
 * microphone's captured samples. */
bool sdl_media_tick(SdlMedia *m, uint64_t now);
/* The overlay that draws the video in seamless windows. */
const SeamlessOverlay *sdl_media_seamless_overlay(SdlMedia *m);
/* Draws the pictures over the framebuffer drawn at dst (window pixels) from a fb_w x fb_h one. */
void sdl_media_render(SdlMedia *m, const SDL_Rect *dst, uint32_t fb_w, uint32_t fb_h);
