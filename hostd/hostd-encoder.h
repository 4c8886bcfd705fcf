/* The display encoder: turns changed regions of a framebuffer into `tile` messages' contents
 * (schema/display-codecs.md). One Encoder per viewer: it owns the scratch buffers, the TurboJPEG
 * handle and the zstd context, reused from tile to tile (nothing is allocated per tile once they
 * have grown), and remembers which areas that viewer holds only lossy, for build-to-lossless.
 *
 * How a viewer's sender drives it:
 *   1. changes accumulate in the viewer's pending region (latest wins: never queue pixels);
 *   2. when the viewer may take a frame: encoder_encode(pending), then clear pending;
 *   3. when the screen has been still for a moment and encoder_has_lossy(): encoder_refine(e, fb,
 *      pending, ...) with whatever is pending (normally empty);
 *   4. on a mode change or a `refresh`: encoder_reset(), then encode the whole screen.
 * Change information reaches the lossy bookkeeping in two ways, so a lossy area that changed is
 * never refined from stale assumptions: encoding an area updates it (exact tiles clear it, JPEG
 * tiles mark it), and refine skips lossy cells that overlap `changed_since`, the changes not yet
 * encoded (they will be encoded anyway; what stays lossy then is refined on a later call). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hostd-framebuffer.h"
#include "macro.h"
#include "region.h"

typedef struct EncoderSettings {
        int quality;     /* JPEG quality, 1..100 */
        int subsampling; /* TJSAMP_* semantics: 0 4:4:4, 1 4:2:2, 2 4:2:0, 3 grey */
        bool lossless_only;
        /* No tile spans more than one 64x64 grid cell: over UDP a lost datagram then costs one
         * cell, and a viewer can order tiles per cell. */
        bool single_cell;
} EncoderSettings;

/* The defaults: JPEG quality 80 with 4:2:0 keeps the screen-content sets at or above 38 dB PSNR
 * (bench/bench-encode prints the figures), and build-to-lossless makes them exact later. */
#define ENCODER_DEFAULT_QUALITY 80
#define ENCODER_DEFAULT_SUBSAMPLING 2

static inline EncoderSettings encoder_settings_default(void) {
        return (EncoderSettings) { .quality = ENCODER_DEFAULT_QUALITY, .subsampling = ENCODER_DEFAULT_SUBSAMPLING };
}

typedef struct Encoder Encoder;

Encoder *encoder_new(void);
Encoder *encoder_free(Encoder *e);
DEFINE_TRIVIAL_CLEANUP_FUNC(Encoder *, encoder_free);

/* Receives one tile; data is valid only during the call. A negative return stops the encoder,
 * which returns it. */
typedef int (*TileSink)(void *userdata, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec, uint8_t quality,
                        const uint8_t *data, size_t len);

/* Encodes region (clipped to the framebuffer) as tiles, calling sink for each. The region is cut
 * along a 64x64 grid (the bounding box of the change in each grid cell is that cell's part) and
 * classified by content: one colour -> solid; up to 256 colours -> lossless palette, unless it
 * looks continuous-tone (many colours, few flat runs) -> JPEG; more than 256 colours -> JPEG,
 * unless mostly flat or small -> lossless. lossless_only never uses JPEG. Up to four lossless
 * cells side by side with at most 256 colours between them share one tile; neighbouring solid
 * cells of one colour and neighbouring JPEG cells merge into rectangles of up to 256x256
 * (schema/display-codecs.md has the details). Tiles are emitted in no particular order and never
 * overlap. JPEG tiles are remembered as lossy, exact
 * tiles clear what they cover. Returns the number of tiles emitted, -EINVAL for bad settings,
 * -ENODATA before the first Scanout, -ENOMEM, -EIO (a codec failed) or the sink's error; after an
 * error, some tiles may have been emitted: keep the region pending. */
int encoder_encode(Encoder *e, const Framebuffer *fb, const Region *region, const EncoderSettings *s, TileSink sink,
                   void *userdata);

/* Build-to-lossless: re-sends exactly (solid or lossless) every area sent lossy whose grid cell
 * does not overlap changed_since (may be NULL: nothing changed). changed_since is what changed and
 * has not been encoded yet, e.g. the viewer's pending region. Returns tiles emitted (0 when
 * nothing was lossy), -ENODATA or -ENOMEM, -EIO or the sink's error. A mode that differs from
 * the one the lossy areas were recorded in forgets them (returns 0). */
int encoder_refine(Encoder *e, const Framebuffer *fb, const Region *changed_since, TileSink sink, void *userdata);

/* Whether anything sent lossy still awaits refinement. */
bool encoder_has_lossy(const Encoder *e);
/* How many 64x64 grid cells still hold lossy pixels (frame-end's `lossy` field). */
size_t encoder_lossy_count(const Encoder *e);

/* Mode change or refresh: forget what was sent. */
void encoder_reset(Encoder *e);

/* Counters since encoder_new (or encoder_reset_stats), indexed by codec (DISPLAY_CODEC_*). */
typedef struct EncoderStats {
        uint64_t tiles[4], pixels[4], bytes[4];
} EncoderStats;

void encoder_get_stats(const Encoder *e, EncoderStats *ret);
void encoder_reset_stats(Encoder *e);
