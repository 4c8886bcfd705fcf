/* Screen content for encoder tests and benchmarks, as x8r8g8b8 frames (B,G,R,X in memory,
 * X = 0xff, stride = width * 4, like hostd's framebuffer).
 *
 * Three sets:
 *   text  — 720x400 VGA text consoles: the demo guest's boot screens (PPMs in $CONTENT/boot/, from
 *           hostd's `dump`) when present, else a synthetic console drawn with a built-in 8x16 font.
 *   ui    — 1920x1080 "desktops" composed from real GNOME screenshots (gnome-user-docs; PNGs
 *           in $CONTENT/ui/) on a flat background.
 *   photo — desktop-base's wallpapers (PNGs in $CONTENT/photo/), scaled and cropped to 1920x1080.
 * $CONTENT is ${TANDEM_CACHE:-/var/cache/tandem}/content, filled by scripts/screen-content.sh.
 * Synthetic versions of every set (always available, labelled so) keep tests independent of the
 * download. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum ContentSet {
        CONTENT_TEXT,
        CONTENT_UI,
        CONTENT_PHOTO,
        _CONTENT_SET_MAX,
} ContentSet;

typedef struct ContentFrame {
        char name[96]; /* where it came from, "synthetic ..." for made-up frames */
        uint32_t width, height, stride;
        uint8_t *pixels;
} ContentFrame;

typedef struct ContentFrames {
        ContentFrame *frames;
        size_t n;
        bool synthetic; /* any frame made up rather than loaded */
} ContentFrames;

const char *content_set_name(ContentSet set);

/* The content directory: $TANDEM_CACHE/content or /var/cache/tandem/content. Returns 0 or
 * -ENAMETOOLONG. */
int content_dir(char *buf, size_t size);

/* The set from dir (NULL: content_dir()). text falls back to the synthetic console when dir has no
 * boot screens; ui and photo return -ENOENT when their pictures are absent. Other errors:
 * -EBADMSG (an unreadable picture), -ENOMEM. */
int content_load(ContentSet set, const char *dir, ContentFrames *ret);

/* Made-up frames of the set's kind: a console with a boot log, windows with text and widgets, a
 * noisy continuous-tone landscape. Deterministic. Returns 0 or -ENOMEM. */
int content_synthesize(ContentSet set, ContentFrames *ret);

void content_frames_done(ContentFrames *f);
/* Appends a black w x h frame; NULL on -ENOMEM. */
ContentFrame *content_frames_add(ContentFrames *f, uint32_t w, uint32_t h, const char *name);

/* Binary PPM of a frame (for tools such as tjbench). Returns 0 or a negative errno. */
int content_write_ppm(const ContentFrame *f, const char *path);

/* Draws text with the built-in 8x16 font into 9x16 cells (VGA text mode's geometry), clipped to
 * the frame. fg and bg are 0xRRGGBB; bg UINT32_MAX leaves the background as it is. */
void content_draw_text(ContentFrame *f, int x, int y, const char *s, uint32_t fg, uint32_t bg);
