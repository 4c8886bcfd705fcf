#include "viewer-sdl.h"

#include <SDL.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "viewer-exit.h"
#include "viewer-keymap.h"
#include "viewer-sdl-media.h"
#include "viewer-sdl-seamless.h"
#include "viewer-util.h"

/* keymap_from_sdl_scancode() indexes by USB HID usage without SDL's header; SDL promises its
 * scancodes are those usages. */
_Static_assert(SDL_SCANCODE_A == 4 && SDL_SCANCODE_RETURN == 40 && SDL_SCANCODE_F1 == 58 &&
               SDL_SCANCODE_RIGHT == 79 && SDL_SCANCODE_KP_ENTER == 88 && SDL_SCANCODE_NONUSBACKSLASH == 100 &&
               SDL_SCANCODE_LCTRL == 224 && SDL_SCANCODE_RGUI == 231 && SDL_SCANCODE_AUDIONEXT == 258 &&
               SDL_SCANCODE_SLEEP == 282,
               "SDL scancodes are USB HID usages");

/* SDL gives no fd to poll with the session's, and threads are what we avoid; so the loop waits
 * for SDL events at most this long, then polls the session without blocking. Local input reaches
 * the session at once; network data waits at most this long (a third of a 60 Hz frame). */
#define SDL_WAIT_MS 5

typedef struct Sdl {
        Viewer *v;
        SDL_Window *window;
        SDL_Renderer *renderer;
        SDL_Texture *texture;
        uint32_t width, height; /* the texture's: the console mode */

        /* What the texture holds, to upload only the rows that changed. */
        uint8_t *shadow;
        size_t shadow_stride;

        bool redraw;
        bool captured;
        uint8_t capture_button; /* the SDL button whose press captured, until its release */
        bool keys_down[KEYCODE_MAX + 1]; /* sent down, not yet up */
        bool buttons_down[3];

        SDL_Cursor *cursor;
        uint64_t cursor_serial;

        char *desktop;
        char link[128]; /* the connection quality indicator: "udp, good (...)", or empty */
        char agent[24]; /* "agent" with the features the title names, or "hypervisor" */
        int role;
        bool welcomed;

        bool resize;     /* the window's size goes to hostd */
        /* The clipboard: the text we last put there from the guest, so that the update SDL
         * reports for it is not taken for a local copy (and grabbed back). */
        char *from_guest;
        Seamless *seamless; /* --seamless */
        SdlMedia *media;    /* viewer-sdl-media.h */
} Sdl;

static void update_title(Sdl *d) {
        char title[512];

        if (!d->welcomed)
                snprintf(title, sizeof(title), "tandem-viewer: connecting");
        else if (d->role == 1)
                snprintf(title, sizeof(title), "tandem-viewer: %s (view only)", d->desktop);
        else if (d->captured)
                snprintf(title, sizeof(title), "tandem-viewer: %s \u2014 Ctrl+Alt releases", d->desktop);
        else
                snprintf(title, sizeof(title), "tandem-viewer: %s \u2014 click to capture", d->desktop);
        if (d->welcomed && (d->link[0] || d->agent[0])) {
                size_t n = strlen(title);
                snprintf(title + n, sizeof(title) - n, " [%s%s%s]", d->link, d->link[0] && d->agent[0] ? "; " : "",
                         d->agent);
        }
        SDL_SetWindowTitle(d->window, title);
}

static void local_clipboard_changed(Sdl *d);

static void on_title(const char *desktop, int role, void *userdata) {
        Sdl *d = userdata;
        char *s = strdup(desktop);
        bool first = !d->welcomed;

        if (s) {
                free(d->desktop);
                d->desktop = s;
        }
        d->role = role;
        d->welcomed = true;
        if (first)
                local_clipboard_changed(d); /* copied before we connected: offered once the agent is there */
        if (role == 1 && d->captured) { /* input would be ignored: let go, sending nothing more */
                SDL_SetWindowGrab(d->window, SDL_FALSE);
                SDL_SetWindowKeyboardGrab(d->window, SDL_FALSE);
                memset(d->keys_down, 0, sizeof(d->keys_down));
                memset(d->buttons_down, 0, sizeof(d->buttons_down));
                d->captured = false;
                d->capture_button = 0;
        }
        update_title(d);
}

/* Scales the window to the mode, shrunk to fit the screen. */
static void fit_window(Sdl *d, uint32_t w, uint32_t h) {
        SDL_Rect usable;
        double scale = 1.0;

        if (SDL_GetDisplayUsableBounds(SDL_GetWindowDisplayIndex(d->window), &usable) == 0 && usable.w > 0 &&
            usable.h > 0)
                scale = MIN(1.0, MIN((double) usable.w / w, (double) usable.h / h));
        SDL_SetWindowSize(d->window, MAX(1, (int) (w * scale)), MAX(1, (int) (h * scale)));
}

static void on_mode(uint32_t w, uint32_t h, void *userdata) {
        Sdl *d = userdata;

        if (w == d->width && h == d->height && d->texture)
                return;
        if (d->texture)
                SDL_DestroyTexture(d->texture);
        free(d->shadow);
        d->shadow = NULL;
        d->width = d->height = 0;
        /* RGB888 is SDL's XRGB8888: on little-endian, bytes B,G,R,X like our frames. */
        d->texture = SDL_CreateTexture(d->renderer, SDL_PIXELFORMAT_RGB888, SDL_TEXTUREACCESS_STREAMING, (int) w, (int) h);
        if (!d->texture) {
                viewer_quit(d->v, VIEWER_EXIT_USAGE, "Cannot create a %ux%u texture: %s", w, h, SDL_GetError());
                return;
        }
        d->shadow_stride = (size_t) w * 4;
        d->shadow = calloc(h, d->shadow_stride);
        if (!d->shadow) {
                SDL_DestroyTexture(d->texture);
                d->texture = NULL;
                viewer_quit(d->v, VIEWER_EXIT_USAGE, "Out of memory");
                return;
        }
        d->width = w;
        d->height = h;
        /* The texture is black (all-zero) like the shadow: clear it to match. */
        SDL_UpdateTexture(d->texture, NULL, d->shadow, (int) d->shadow_stride);
        SDL_RenderSetLogicalSize(d->renderer, (int) w, (int) h);
        fit_window(d, w, h);
        d->redraw = true;
}

/* Uploads the band of rows that differ from what the texture holds. */
static void on_frame(void *userdata) {
        Sdl *d = userdata;
        const ClientFramebuffer *fb = client_session_framebuffer(d->v->session);
        uint32_t first = UINT32_MAX, last = 0;

        if (!fb || !fb->pixels)
                return;
        if (d->seamless)
                seamless_frame(d->seamless, fb);
        if (fb->width != d->width || fb->height != d->height)
                on_mode(fb->width, fb->height, d);
        if (!d->texture || fb->stride / 4 < fb->width)
                return;
        for (uint32_t y = 0; y < fb->height; y++) {
                const uint8_t *row = fb->pixels + (size_t) y * fb->stride;
                uint8_t *copy = d->shadow + (size_t) y * d->shadow_stride;
                if (memcmp(row, copy, d->shadow_stride) == 0)
                        continue;
                memcpy(copy, row, d->shadow_stride);
                first = MIN(first, y);
                last = y;
        }
        if (first == UINT32_MAX)
                return;
        SDL_Rect band = { 0, (int) first, (int) fb->width, (int) (last - first + 1) };
        SDL_UpdateTexture(d->texture, &band, d->shadow + (size_t) first * d->shadow_stride, (int) d->shadow_stride);
        d->redraw = true;
}

/* QEMU's cursor is premultiplied; SDL wants straight alpha. */
static void unpremultiply(uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++, p += 4) {
                unsigned a = p[3];
                if (a == 0 || a == 255)
                        continue;
                for (int c = 0; c < 3; c++)
                        p[c] = (uint8_t) MIN(255u, (p[c] * 255u + a / 2) / a);
        }
}

static void on_cursor(const ClientCursor *c, void *userdata) {
        Sdl *d = userdata;

        if (c->shape_serial != d->cursor_serial && c->argb && c->width > 0 && c->height > 0) {
                size_t n = (size_t) c->width * c->height;
                uint8_t *argb = malloc(n * 4);
                SDL_Surface *surface = NULL;
                SDL_Cursor *cursor = NULL;

                d->cursor_serial = c->shape_serial;
                if (argb) {
                        memcpy(argb, c->argb, n * 4);
                        unpremultiply(argb, n);
                        /* ARGB8888 is a native-endian 0xAARRGGBB word: bytes B,G,R,A here. */
                        surface = SDL_CreateRGBSurfaceWithFormatFrom(argb, c->width, c->height, 32, c->width * 4,
                                                                     SDL_PIXELFORMAT_ARGB8888);
                }
                if (surface)
                        cursor = SDL_CreateColorCursor(surface, MIN(c->hot_x, c->width - 1), MIN(c->hot_y, c->height - 1));
                if (cursor) {
                        SDL_SetCursor(cursor);
                        if (d->cursor)
                                SDL_FreeCursor(d->cursor);
                        d->cursor = cursor;
                }
                /* else: keep the previous shape; a wrong cursor beats no viewer */
                SDL_FreeSurface(surface);
                free(argb);
        }
        SDL_ShowCursor(c->visible ? SDL_ENABLE : SDL_DISABLE);
}

static void on_link(const char *text, void *userdata) {
        Sdl *d = userdata;
        snprintf(d->link, sizeof(d->link), "%s", text);
        update_title(d);
}

/* The title names the path and, with an agent, its features in short: "agent: clip, win, resize". */
static void on_agent(const ClientAgentStatus *st, const char *text, void *userdata) {
        Sdl *d = userdata;

        if (st->mode != WIRE_MODE_AGENT)
                snprintf(d->agent, sizeof(d->agent), "hypervisor");
        else
                snprintf(d->agent, sizeof(d->agent), "agent%s%s%s", st->features & CLIENT_FEATURE_CLIPBOARD ? " clip" : "",
                         st->features & CLIENT_FEATURE_WINDOWS ? " win" : "",
                         st->features & CLIENT_FEATURE_RESIZE ? " resize" : "");
        update_title(d);
        if (d->seamless)
                seamless_sync(d->seamless);
}

/* A local copy: SDL says the clipboard changed (ours or another program's). */
static void local_clipboard_changed(Sdl *d) {
        if (!d->v->session || !SDL_HasClipboardText())
                return;
        char *text = SDL_GetClipboardText();
        bool echo = text && d->from_guest && strcmp(text, d->from_guest) == 0;
        SDL_free(text);
        if (!echo)
                (void) client_session_clipboard_grab(d->v->session, CLIENT_CLIPBOARD_TEXT); /* off: kept for later */
}

/* SDL's clipboard is not lazy: whatever the guest grabs with text is fetched at once (at most
 * CLIENT_CLIPBOARD_TOTAL_MAX, the session's cap), so that a paste in any local program finds it.
 * Images: SDL2 has no image clipboard, so they stay in the guest. */
static void on_clipboard_grab(uint32_t formats, void *userdata) {
        Sdl *d = userdata;

        if (formats & CLIENT_CLIPBOARD_TEXT)
                (void) client_session_clipboard_request(d->v->session, WIRE_FORMAT_TEXT);
}

static void on_clipboard_data(uint8_t format, int error, const uint8_t *data, size_t len, void *userdata) {
        Sdl *d = userdata;

        if (error < 0 || format != WIRE_FORMAT_TEXT)
                return;
        /* The session NUL-terminates; text with a NUL inside ends there, as a C string does. */
        char *copy = strdup((const char *) data);
        if (!copy)
                return;
        free(d->from_guest);
        d->from_guest = copy;
        if (SDL_SetClipboardText(copy) < 0)
                viewer_message("Cannot set the clipboard: %s", SDL_GetError());
}

static bool on_clipboard_request(uint8_t format, void *userdata) {
        Sdl *d = userdata;

        if (format != WIRE_FORMAT_TEXT || !SDL_HasClipboardText())
                return false;
        char *text = SDL_GetClipboardText();
        if (!text)
                return false;
        (void) client_session_clipboard_send(d->v->session, format, (const uint8_t *) text, strlen(text));
        SDL_free(text);
        return true;
}

static void on_windows(void *userdata) {
        Sdl *d = userdata;

        if (d->seamless)
                seamless_sync(d->seamless);
}

static void on_media(const ClientMediaStream *st, bool stopped, void *userdata) {
        Sdl *d = userdata;
        if (d->media)
                sdl_media_stream(d->media, st, stopped);
        d->redraw = true;
}

static void on_mic(bool on, uint32_t rate, uint8_t channels, void *userdata) {
        Sdl *d = userdata;
        if (d->media && d->v->options.client.media.microphone)
                sdl_media_mic(d->media, on, rate, channels);
}

static const ViewerFrontend frontend = {
        .media = on_media,
        .mic = on_mic,
        .agent = on_agent,
        .clipboard_grab = on_clipboard_grab,
        .clipboard_data = on_clipboard_data,
        .clipboard_request = on_clipboard_request,
        .windows = on_windows,
        .link = on_link,
        .frame = on_frame,
        .mode = on_mode,
        .cursor = on_cursor,
        .title = on_title,
};

static void send_key(Sdl *d, uint32_t keycode, bool down) {
        if (keycode == 0 || keycode > KEYCODE_MAX)
                return;
        d->keys_down[keycode] = down;
        (void) client_session_key(d->v->session, keycode, down);
}

static void send_button(Sdl *d, int button, bool down) {
        d->buttons_down[button] = down;
        (void) client_session_mouse_button(d->v->session, (uint8_t) button, down);
}

/* Lifts every key and button the guest believes held, so none sticks once we stop sending. */
static void release_keys(Sdl *d) {
        for (uint32_t k = 1; k <= KEYCODE_MAX; k++)
                if (d->keys_down[k])
                        send_key(d, k, false);
        for (int b = 0; b < (int) ELEMENTSOF(d->buttons_down); b++)
                if (d->buttons_down[b])
                        send_button(d, b, false);
}

static void set_captured(Sdl *d, bool captured) {
        if (!captured)
                release_keys(d);
        d->capture_button = 0;
        d->captured = captured;
        SDL_SetWindowGrab(d->window, captured ? SDL_TRUE : SDL_FALSE);
        SDL_SetWindowKeyboardGrab(d->window, captured ? SDL_TRUE : SDL_FALSE);
        update_title(d);
}

/* The window's size in pixels goes to hostd when it is not the guest's mode already (fitting the
 * window to a mode is no request; the user's resize, or a mode too large for the screen, is). */
static void send_window_size(Sdl *d) {
        int w = 0, h = 0;

        if (!d->resize || !d->welcomed || d->role == 1 || SDL_GetRendererOutputSize(d->renderer, &w, &h) < 0 ||
            w <= 0 || h <= 0)
                return;
        if ((uint32_t) w == d->width && (uint32_t) h == d->height)
                return;
        (void) client_session_resize(d->v->session, (uint32_t) w, (uint32_t) h); /* coalesced there */
}

/* Ctrl+Alt+V: the local clipboard's text typed into the guest by hostd, through the hypervisor's
 * keyboard (BIOS, boot loader, login prompts: no agent needed). At most CLIENT_PASTE_TEXT_MAX
 * bytes, cut at a character boundary. */
static void paste_as_keys(Sdl *d) {
        if (!SDL_HasClipboardText())
                return;
        char *text = SDL_GetClipboardText();
        if (!text)
                return;
        size_t len = strlen(text);
        if (len > CLIENT_PASTE_TEXT_MAX) {
                len = CLIENT_PASTE_TEXT_MAX;
                while (len > 0 && ((unsigned char) text[len] & 0xc0) == 0x80)
                        len--; /* not inside a UTF-8 sequence */
                viewer_message("Pasting the first %zu bytes of the clipboard as keystrokes", len);
        }
        if (len > 0 && client_session_paste_text(d->v->session, text, len) < 0)
                viewer_message("Cannot paste as keystrokes now");
        SDL_free(text);
}

static bool paste_chord(const SDL_KeyboardEvent *e) {
        return e->type == SDL_KEYDOWN && e->keysym.scancode == SDL_SCANCODE_V && (e->keysym.mod & KMOD_CTRL) &&
               (e->keysym.mod & KMOD_ALT);
}

static void handle_key(Sdl *d, const SDL_KeyboardEvent *e) {
        uint32_t code = keymap_from_sdl_scancode(e->keysym.scancode);
        bool down = e->type == SDL_KEYDOWN;

        if (paste_chord(e)) {
                /* Ctrl+Alt released the capture already: V goes nowhere else. */
                if (!e->repeat && d->welcomed && d->role != 1)
                        paste_as_keys(d);
                return;
        }
        if (!d->captured || code == 0)
                return;
        if (down) {
                bool ctrl = code == KEYCODE_LEFT_CTRL || code == KEYCODE_RIGHT_CTRL ||
                            d->keys_down[KEYCODE_LEFT_CTRL] || d->keys_down[KEYCODE_RIGHT_CTRL];
                bool alt = code == KEYCODE_LEFT_ALT || code == KEYCODE_RIGHT_ALT ||
                           d->keys_down[KEYCODE_LEFT_ALT] || d->keys_down[KEYCODE_RIGHT_ALT];
                bool modifier = code == KEYCODE_LEFT_CTRL || code == KEYCODE_RIGHT_CTRL ||
                                code == KEYCODE_LEFT_ALT || code == KEYCODE_RIGHT_ALT;
                if (ctrl && alt && modifier) { /* the release chord: the guest never sees its second key */
                        set_captured(d, false);
                        return;
                }
        } else if (!d->keys_down[code])
                return; /* its press went elsewhere (before capture) */
        /* Auto-repeat is passed on: QEMU's PS/2 keyboard does not repeat by itself. */
        send_key(d, code, down);
}

static uint32_t clamp_coord(int v, uint32_t size) {
        if (v < 0 || size == 0)
                return 0;
        return MIN((uint32_t) v, size - 1);
}

/* SDL_RenderSetLogicalSize makes SDL report mouse positions in logical (console) pixels, the
 * letterbox included; the bars are clamped to the nearest edge. */
static void send_position(Sdl *d, int x, int y) {
        (void) client_session_mouse_absolute(d->v->session, clamp_coord(x, d->width), clamp_coord(y, d->height));
}

static int sdl_button(uint8_t b) {
        switch (b) {
        case SDL_BUTTON_LEFT:
                return 0;
        case SDL_BUTTON_MIDDLE:
                return 1;
        case SDL_BUTTON_RIGHT:
                return 2;
        default:
                return -1;
        }
}

static void handle_event(Sdl *d, const SDL_Event *e) {
        if (e->type == SDL_KEYDOWN && paste_chord(&e->key) && d->seamless && seamless_showing(d->seamless)) {
                if (!e->key.repeat && d->welcomed && d->role != 1)
                        paste_as_keys(d);
                return;
        }
        if (d->seamless && seamless_handle_event(d->seamless, e))
                return; /* one of the seamless windows' */
        switch (e->type) {
        case SDL_QUIT:
                viewer_quit(d->v, VIEWER_EXIT_DONE, NULL);
                break;
        case SDL_CLIPBOARDUPDATE:
                local_clipboard_changed(d);
                break;
        case SDL_WINDOWEVENT:
                if (e->window.event == SDL_WINDOWEVENT_FOCUS_LOST && d->captured)
                        set_captured(d, false);
                if (e->window.event == SDL_WINDOWEVENT_SIZE_CHANGED)
                        send_window_size(d);
                d->redraw = true;
                break;
        case SDL_KEYDOWN:
        case SDL_KEYUP:
                handle_key(d, &e->key);
                break;
        case SDL_MOUSEMOTION:
                if (d->captured)
                        send_position(d, e->motion.x, e->motion.y);
                break;
        case SDL_MOUSEBUTTONDOWN:
        case SDL_MOUSEBUTTONUP: {
                int b = sdl_button(e->button.button);
                if (!d->captured) {
                        /* The click that captures is ours, not the guest's: its release too. */
                        if (e->type == SDL_MOUSEBUTTONDOWN && d->welcomed && d->role != 1 && d->texture) {
                                set_captured(d, true);
                                d->capture_button = e->button.button;
                        }
                        break;
                }
                if (e->type == SDL_MOUSEBUTTONUP && e->button.button == d->capture_button) {
                        d->capture_button = 0;
                        break;
                }
                if (b < 0)
                        break;
                send_position(d, e->button.x, e->button.y);
                send_button(d, b, e->type == SDL_MOUSEBUTTONDOWN);
                break;
        }
        case SDL_MOUSEWHEEL: {
                int y = e->wheel.direction == SDL_MOUSEWHEEL_FLIPPED ? -e->wheel.y : e->wheel.y;
                uint8_t b = y > 0 ? 3 : 4;
                if (!d->captured || y == 0)
                        break;
                for (int i = 0; i < abs(y) && i < 10; i++) {
                        (void) client_session_mouse_button(d->v->session, b, true);
                        (void) client_session_mouse_button(d->v->session, b, false);
                }
                break;
        }
        default:
                break;
        }
}

static void render(Sdl *d) {
        SDL_SetRenderDrawColor(d->renderer, 0, 0, 0, 255);
        SDL_RenderClear(d->renderer);
        if (d->texture)
                SDL_RenderCopy(d->renderer, d->texture, NULL, NULL);
        if (d->texture && d->media) {
                int w, h;
                SDL_GetRendererOutputSize(d->renderer, &w, &h);
                sdl_media_render(d->media, &(SDL_Rect) { 0, 0, w, h }, d->width, d->height);
        }
        SDL_RenderPresent(d->renderer);
        d->redraw = false;
}

static bool session_ready(Viewer *v) {
        struct pollfd p = {};
        p.fd = viewer_fd(v, &p.events);
        return p.fd >= 0 && poll(&p, 1, 0) > 0 && p.revents;
}

static void sdl_done(Sdl *d) {
        if (d->cursor)
                SDL_FreeCursor(d->cursor);
        if (d->texture)
                SDL_DestroyTexture(d->texture);
        if (d->renderer)
                SDL_DestroyRenderer(d->renderer);
        if (d->window)
                SDL_DestroyWindow(d->window);
        d->media = sdl_media_free(d->media);
        free(d->shadow);
        free(d->desktop);
        free(d->from_guest);
        SDL_Quit();
}

int viewer_sdl_run(Viewer *v, const char *ticket) {
        Sdl d = { .v = v, .resize = v->options.resize == VIEWER_RESIZE_DEFAULT || v->options.resize == VIEWER_RESIZE_ON };

        SDL_SetHint(SDL_HINT_RENDER_SCALE_QUALITY, "linear");
        /* Ctrl+Alt releases the grab; the window manager's shortcuts go to the guest meanwhile. */
        SDL_SetHint(SDL_HINT_GRAB_KEYBOARD, "1");
        if (SDL_Init(SDL_INIT_VIDEO) < 0) {
                viewer_message("Cannot open a window (%s): running headless", SDL_GetError());
                return -ENODEV;
        }
        d.window = SDL_CreateWindow("tandem-viewer", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, 640, 480,
                                    SDL_WINDOW_RESIZABLE);
        if (d.window)
                d.renderer = SDL_CreateRenderer(d.window, -1, 0); /* accelerated if possible, else software */
        if (!d.renderer) {
                viewer_message("Cannot open a window (%s): running headless", SDL_GetError());
                sdl_done(&d);
                return -ENODEV;
        }
        update_title(&d);
        render(&d);
        if (v->options.seamless && seamless_new(v, &d.seamless) < 0) {
                viewer_message("Cannot set up seamless windows, showing the desktop");
                d.seamless = NULL;
        }
        if (d.seamless)
                seamless_set_desktop(d.seamless, d.window);

        sdl_media_configure(&v->options);
        viewer_connect(v, ticket, &frontend, &d);
        if (!v->done && sdl_media_new(v, d.renderer, &d.media) < 0)
                viewer_message("Cannot set up media playback, ignoring");
        if (d.media && d.seamless)
                seamless_set_overlay(d.seamless, sdl_media_seamless_overlay(d.media));
        while (!v->done) {
                uint64_t now = now_usec(), deadline = viewer_tick(v, now);
                SDL_Event e;

                if (v->done)
                        break;
                int timeout = session_ready(v) ? 0 : poll_timeout_ms(now, deadline, SDL_WAIT_MS);
                if (SDL_WaitEventTimeout(&e, timeout)) {
                        handle_event(&d, &e);
                        while (!v->done && SDL_PollEvent(&e))
                                handle_event(&d, &e);
                }
                if (session_ready(v))
                        viewer_process(v);
                if (d.media && sdl_media_tick(d.media, now_usec())) {
                        d.redraw = true;
                        if (d.seamless)
                                seamless_redraw(d.seamless);
                }
                if (d.redraw)
                        render(&d);
                if (d.seamless)
                        seamless_render(d.seamless);
        }

        if (d.captured)
                set_captured(&d, false);
        viewer_shutdown(v);
        /* The core must not call into a window that is gone. */
        v->frontend = NULL;
        d.seamless = seamless_free(d.seamless);
        sdl_done(&d);
        return v->status;
}
