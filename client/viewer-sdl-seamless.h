/* Seamless windows in the SDL front end (--seamless): while the agent's windows feature is on,
 * one borderless SDL window per mapped guest window (client_session_windows()), each showing its
 * rectangle cut from the framebuffer (viewer-seamless-geometry.h), titled and iconed as the guest
 * says, placed at the guest's position on the local desktop, and the guest's focused window
 * raised. Moving, resizing, closing or focusing one of them sends window-action; input in one
 * goes to the guest at that window's offset. Without the feature (no agent, agent lost, policy)
 * the desktop window comes back. */
#pragma once

#include <SDL.h>
#include <stdbool.h>

#include "viewer-core.h"

typedef struct Seamless Seamless;

int seamless_new(Viewer *v, Seamless **ret);
Seamless *seamless_free(Seamless *s);
/* The desktop window, hidden while guest windows are shown. */
void seamless_set_desktop(Seamless *s, SDL_Window *desktop);
/* The agent's state or the window table changed: windows made, moved, retitled, removed. */
void seamless_sync(Seamless *s);
/* A frame is complete: each window's cut is uploaded. */
void seamless_frame(Seamless *s, const ClientFramebuffer *fb);
/* Draws the windows whose content changed. */
void seamless_render(Seamless *s);
/* True when the event belonged to a seamless window (and was handled). */
bool seamless_handle_event(Seamless *s, const SDL_Event *e);
/* Something drawn over each window's cut (the media's video): draw gets the window's renderer
 * and the guest window's rectangle (framebuffer pixels, drawn 1:1 from the window's top-left);
 * forget is called before a renderer goes. seamless_redraw() draws every window again. */
typedef struct SeamlessOverlay {
        void (*draw)(SDL_Renderer *r, uint32_t window, const SDL_Rect *geom, void *userdata);
        void (*forget)(SDL_Renderer *r, void *userdata);
        void *userdata;
} SeamlessOverlay;
void seamless_set_overlay(Seamless *s, const SeamlessOverlay *overlay);
void seamless_redraw(Seamless *s);
/* Whether guest windows are shown instead of the desktop. */
bool seamless_showing(const Seamless *s);
