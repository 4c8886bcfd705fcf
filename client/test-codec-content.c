/* The encoder and decoder on the real screen-content set (scripts/screen-content.sh; skipped, exit
 * 77, when it has not been fetched): at the default settings every set keeps PSNR >= 38 dB, text
 * goes solid/lossless only, UI mostly, the wallpapers' continuous-tone tiles JPEG, and
 * build-to-lossless makes every frame exact.
 * Prints per frame and per set figures. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "codec-check.h"
#include "screen-content.h"

typedef struct SetResult {
        double sse, sse_jpeg, pixels;
        uint64_t tiles[4], codec_pixels[4], bytes;
} SetResult;

static void run_frame(Encoder *e, const ContentFrame *f, SetResult *res) {
        Framebuffer *fb = framebuffer_new();
        check(fb);
        check(framebuffer_scanout(fb, f->width, f->height, f->stride, FB_FORMAT_X8R8G8B8, f->pixels,
                                  (size_t) f->stride * f->height) == 0);
        CheckSink c;
        check(check_sink_init(&c, f->width, f->height) == 0);
        c.source = fb;
        EncoderSettings s = encoder_settings_default();
        Region all = {};
        check(region_add(&all, (Rect) { 0, 0, (int32_t) f->width, (int32_t) f->height }) == 0);

        encoder_reset(e);
        check_sink_new_call(&c);
        check(encoder_encode(e, fb, &all, &s, check_sink, &c) > 0);
        check(!c.overlap && !c.bad_tile);
        for (size_t i = 0; i < (size_t) f->width * f->height; i++)
                check(c.covered[i] == 1);

        double sse = check_sse(fb, &c.view), px = (double) f->width * f->height;
        uint64_t bytes = c.bytes[1] + c.bytes[2] + c.bytes[3];
        printf("  %-48s %6.2f dB  %5.1f%% jpeg  %8llu bytes  tiles %llu/%llu/%llu\n", f->name, check_psnr(sse, 3 * px),
               100.0 * (double) c.pixels[DISPLAY_CODEC_JPEG] / px, (unsigned long long) bytes,
               (unsigned long long) c.tiles[1], (unsigned long long) c.tiles[2], (unsigned long long) c.tiles[3]);
        res->sse += sse;
        res->sse_jpeg += c.sse[DISPLAY_CODEC_JPEG];
        res->pixels += px;
        res->bytes += bytes;
        for (int k = 1; k < 4; k++) {
                res->tiles[k] += c.tiles[k];
                res->codec_pixels[k] += c.pixels[k];
        }

        /* Build to lossless: exact. */
        check_sink_new_call(&c);
        check(encoder_refine(e, fb, NULL, check_sink, &c) >= 0);
        check(!c.overlap && !c.bad_tile && !encoder_has_lossy(e));
        check(check_diff(fb, &c.view, (Rect) { 0, 0, (int32_t) f->width, (int32_t) f->height }) == 0);

        region_done(&all);
        check_sink_done(&c);
        framebuffer_free(fb);
}

int main(void) {
        ContentFrames sets[_CONTENT_SET_MAX] = {};
        for (ContentSet s = 0; s < _CONTENT_SET_MAX; s++) {
                int r = content_load(s, NULL, &sets[s]);
                if (r == -ENOENT) {
                        printf("screen-content set `%s' not fetched (scripts/screen-content.sh): skipping\n",
                               content_set_name(s));
                        for (ContentSet k = 0; k < s; k++)
                                content_frames_done(&sets[k]);
                        return 77;
                }
                check(r == 0 && sets[s].n > 0);
        }

        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        check(e);
        for (ContentSet s = 0; s < _CONTENT_SET_MAX; s++) {
                SetResult res = {};
                printf("%s%s:\n", content_set_name(s), sets[s].synthetic ? " (synthetic: no boot screens captured)" : "");
                for (size_t i = 0; i < sets[s].n; i++)
                        run_frame(e, &sets[s].frames[i], &res);

                double psnr = check_psnr(res.sse, 3 * res.pixels);
                double jpeg_share = (double) res.codec_pixels[DISPLAY_CODEC_JPEG] / res.pixels;
                printf("%s: %.2f dB over the set (%.2f dB over JPEG tiles), %.1f%% of pixels JPEG, %.0f bytes per frame\n",
                       content_set_name(s), psnr,
                       check_psnr(res.sse_jpeg, 3.0 * (double) res.codec_pixels[DISPLAY_CODEC_JPEG]), 100 * jpeg_share,
                       (double) res.bytes / (double) sets[s].n);

                check(psnr >= 38.0);
                switch (s) {
                case CONTENT_TEXT:
                        check(res.tiles[DISPLAY_CODEC_JPEG] == 0);
                        break;
                case CONTENT_UI: /* screenshots hold a few photos (a robin, colour gamuts, a wallpaper) */
                        check(jpeg_share < 0.3);
                        check(res.codec_pixels[DISPLAY_CODEC_SOLID] + res.codec_pixels[DISPLAY_CODEC_LOSSLESS] >
                              0.7 * res.pixels);
                        break;
                default: /* desktop-base's wallpapers are flat art and dithered gradients, mostly few colours
                          * per tile, where a palette is smaller than JPEG; JPEG takes the rich tiles */
                        check(res.tiles[DISPLAY_CODEC_JPEG] > 0);
                        break;
                }
        }

        for (ContentSet s = 0; s < _CONTENT_SET_MAX; s++)
                content_frames_done(&sets[s]);
        return 0;
}
