/* Encoder throughput on one core, per codec and for the whole encoder_encode path (tiling,
 * classification, encoding, merging), on each screen-content set, beside libjpeg-turbo's own
 * tjbench run as a subprocess on the same frames (q80 4:2:0, BGRX, compression only). Also bytes
 * per frame and PSNR at the default settings. Figures are printed, never asserted.
 *
 *   bench-encode [--seconds S] [--synthetic] [--no-tjbench] [--cpu-time] [--set NAME] [--lossless-only]
 *
 * --cpu-time measures this thread's CPU time instead of the wall clock: on a machine shared with
 * other work a wall-clock figure mostly measures the scheduler, CPU time what the code costs (the
 * tjbench subprocess is still timed by itself, on the wall clock). --set runs one set only.
 * --lossless-only measures nothing but encoder_encode in lossless-only mode (quick A/B, and a
 * clean loop for `perf record`).
 *
 * Sets come from scripts/screen-content.sh's download; a set that is absent (or --synthetic)
 * uses the synthetic frames, labelled so. The synthetic landscape is always measured too: it is
 * the one set that is JPEG all over, so it shows the JPEG path against tjbench. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <turbojpeg.h>
#include <unistd.h>
#include <zstd.h>

#include "codec-check.h"
#include "hostd-tile.h"
#include "screen-content.h"

static double min_seconds = 0.3;
/* Every figure is the best of this many runs: the machine may be shared (CI, other builds), and
 * interference only ever makes a run slower. tjbench gets the same treatment. */
#define RUNS 3
static bool run_tjbench = true;
static clockid_t bench_clock = CLOCK_MONOTONIC;
static bool lossless_only_full = false;

static double now(void) {
        struct timespec ts;
        clock_gettime(bench_clock, &ts);
        return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static void die_unless(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "bench-encode: %s failed\n", what);
                exit(1);
        }
}

typedef struct Set {
        char label[64];
        ContentFrames frames;
        Framebuffer **fbs;
} Set;

typedef struct Tile {
        const Framebuffer *fb;
        Rect r;
        TileScan scan;
} Tile;

typedef struct TileList {
        Tile *t;
        size_t n, cap;
        double pixels;
} TileList;

static void tiles_add(TileList *l, const Framebuffer *fb, Rect r, const TileScan *scan) {
        if (l->n == l->cap) {
                l->cap = l->cap ? 2 * l->cap : 256;
                l->t = realloc(l->t, l->cap * sizeof(Tile));
                die_unless(l->t != NULL, "realloc");
        }
        l->t[l->n++] = (Tile) { fb, r, *scan };
        l->pixels += (double) r.w * r.h;
}

static const uint8_t *at(const Framebuffer *fb, Rect r) {
        return fb->pixels + (size_t) r.y * fb->stride + (size_t) r.x * 4;
}

static int null_sink(void *userdata, uint16_t x, uint16_t y, uint16_t w, uint16_t h, uint8_t codec, uint8_t quality,
                     const uint8_t *data, size_t len) {
        *(uint64_t *) userdata += len;
        return 0;
}

/* --- measurements: each returns Mpix/s ------------------------------------------------------- */

typedef struct FullResult {
        double mpix, bytes_per_frame;
} FullResult;

static FullResult bench_full_once(const Set *s, const EncoderSettings *settings) {
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        die_unless(e != NULL, "encoder_new");
        Region all = {};
        uint64_t bytes = 0, frames = 0;
        double pixels = 0, start = now(), elapsed;
        do {
                for (size_t i = 0; i < s->frames.n; i++) {
                        const Framebuffer *fb = s->fbs[i];
                        die_unless(region_set(&all, (Rect) { 0, 0, (int32_t) fb->width, (int32_t) fb->height }) == 0,
                                   "region");
                        encoder_reset(e);
                        die_unless(encoder_encode(e, fb, &all, settings, null_sink, &bytes) > 0, "encoder_encode");
                        pixels += (double) fb->width * fb->height;
                        frames++;
                }
                elapsed = now() - start;
        } while (elapsed < min_seconds);
        region_done(&all);
        return (FullResult) { pixels / elapsed / 1e6, (double) bytes / (double) frames };
}

typedef enum { CODEC_SCAN, CODEC_LOSSLESS, CODEC_JPEG, CODEC_ZSTD_RAW } CodecBench;

static double bench_tiles_once(const TileList *l, CodecBench what, uint64_t *bytes_out) {
        if (l->n == 0)
                return 0;
        _cleanup_(lossless_encoder_freep) LosslessEncoder *lz = lossless_encoder_new();
        _cleanup_(jpeg_encoder_freep) JpegEncoder *j = jpeg_encoder_new();
        ZSTD_CCtx *zc = ZSTD_createCCtx();
        uint8_t *rgb = malloc(3 * DISPLAY_TILE_MAX_DIM * DISPLAY_TILE_MAX_DIM);
        size_t zcap = ZSTD_compressBound(3 * DISPLAY_TILE_MAX_DIM * DISPLAY_TILE_MAX_DIM);
        uint8_t *zout = malloc(zcap);
        die_unless(lz && j && zc && rgb && zout, "alloc");

        uint64_t bytes = 0, rounds = 0;
        double start = now(), elapsed;
        do {
                for (size_t i = 0; i < l->n; i++) {
                        const Tile *t = &l->t[i];
                        const uint8_t *src = at(t->fb, t->r), *data;
                        size_t len = 0;
                        TileScan scan;
                        switch (what) {
                        case CODEC_SCAN:
                                lossless_scan(lz, src, t->fb->stride, (unsigned) t->r.w, (unsigned) t->r.h, &scan);
                                break;
                        case CODEC_LOSSLESS:
                                lossless_scan(lz, src, t->fb->stride, (unsigned) t->r.w, (unsigned) t->r.h, &scan);
                                die_unless(lossless_encode(lz, src, t->fb->stride, (unsigned) t->r.w, (unsigned) t->r.h,
                                                           &scan, &data, &len) == 0,
                                           "lossless_encode");
                                break;
                        case CODEC_JPEG:
                                die_unless(jpeg_encode(j, src, t->fb->stride, (unsigned) t->r.w, (unsigned) t->r.h, 80, 2,
                                                       &data, &len) == 0,
                                           "jpeg_encode");
                                break;
                        case CODEC_ZSTD_RAW: { /* the reference: repack to RGB, zstd -1, nothing else */
                                size_t n = 0;
                                for (int32_t y = 0; y < t->r.h; y++) {
                                        const uint8_t *p = src + (size_t) y * t->fb->stride;
                                        for (int32_t x = 0; x < t->r.w; x++, p += 4, n += 3) {
                                                rgb[n] = p[2];
                                                rgb[n + 1] = p[1];
                                                rgb[n + 2] = p[0];
                                        }
                                }
                                len = ZSTD_compressCCtx(zc, zout, zcap, rgb, n, 1);
                                die_unless(!ZSTD_isError(len), "zstd");
                                break;
                        }
                        }
                        bytes += len;
                }
                rounds++;
                elapsed = now() - start;
        } while (elapsed < min_seconds);

        ZSTD_freeCCtx(zc);
        free(rgb);
        free(zout);
        if (bytes_out)
                *bytes_out = bytes / rounds;
        return l->pixels * (double) rounds / elapsed / 1e6;
}

/* tjCompress2 of whole frames in this process (q80 4:2:0 from BGRX): the in-process reference. */
static double bench_tj_whole_once(const Set *s) {
        tjhandle tj = tjInitCompress();
        die_unless(tj != NULL, "tjInitCompress");
        unsigned char *buf = NULL;
        unsigned long size = 0;
        double pixels = 0, start = now(), elapsed;
        do {
                for (size_t i = 0; i < s->frames.n; i++) {
                        const Framebuffer *fb = s->fbs[i];
                        die_unless(tjCompress2(tj, fb->pixels, (int) fb->width, (int) fb->stride, (int) fb->height, TJPF_BGRX,
                                               &buf, &size, TJSAMP_420, 80, 0) == 0,
                                   "tjCompress2");
                        pixels += (double) fb->width * fb->height;
                }
                elapsed = now() - start;
        } while (elapsed < min_seconds);
        tjFree(buf);
        tjDestroy(tj);
        return pixels / elapsed / 1e6;
}

/* tjbench on each frame written as PPM; the average of its "Comp Perf" figures (pixel-weighted
 * over equal-size frames), or a negative value when tjbench cannot be run. */
static double bench_tjbench_once(const Set *s) {
        char dir[] = "/tmp/bench-encode.XXXXXX";
        if (!run_tjbench || !mkdtemp(dir))
                return -1;
        double sum = 0;
        size_t n = 0;
        for (size_t i = 0; i < s->frames.n; i++) {
                char ppm[128], cmd[512], line[512];
                snprintf(ppm, sizeof(ppm), "%s/frame-%zu.ppm", dir, i);
                if (content_write_ppm(&s->frames.frames[i], ppm) < 0)
                        continue;
                snprintf(cmd, sizeof(cmd),
                         "cd %s && tjbench %s 80 -subsamp 420 -bgrx -componly -nowrite -quiet -benchtime %.2f -warmup 0.1 2>&1",
                         dir, ppm, min_seconds);
                FILE *p = popen(cmd, "r");
                if (!p)
                        continue;
                while (fgets(line, sizeof(line), p)) {
                        /* BGRX (TD)  4:2:0    80    1920   1080    272.7   204.1   N/A */
                        char fmt[16], td[16], samp[16];
                        int q, w, h;
                        double perf;
                        if (sscanf(line, "%15s %15s %15s %d %d %d %lf", fmt, td, samp, &q, &w, &h, &perf) == 7 &&
                            strcmp(fmt, "BGRX") == 0) {
                                sum += perf;
                                n++;
                        }
                }
                pclose(p);
                unlink(ppm);
        }
        rmdir(dir);
        return n ? sum / (double) n : -1;
}

static FullResult bench_full(const Set *s, const EncoderSettings *settings) {
        FullResult best = {};
        for (int i = 0; i < RUNS; i++) {
                FullResult r = bench_full_once(s, settings);
                if (r.mpix > best.mpix)
                        best = r;
        }
        return best;
}

static double bench_tiles(const TileList *l, CodecBench what, uint64_t *bytes_out) {
        double best = 0;
        for (int i = 0; i < RUNS; i++)
                best = MAX(best, bench_tiles_once(l, what, bytes_out));
        return best;
}

static double bench_tj_whole(const Set *s) {
        double best = 0;
        for (int i = 0; i < RUNS; i++)
                best = MAX(best, bench_tj_whole_once(s));
        return best;
}

static double bench_tjbench(const Set *s) {
        double best = -1;
        for (int i = 0; i < RUNS; i++)
                best = MAX(best, bench_tjbench_once(s));
        return best;
}

/* --- sets ------------------------------------------------------------------------------------ */

static void set_load(Set *s, ContentSet which, bool synthetic) {
        int r = synthetic ? -ENOENT : content_load(which, NULL, &s->frames);
        if (r == -ENOENT)
                r = content_synthesize(which, &s->frames);
        die_unless(r == 0, "loading screen content");
        snprintf(s->label, sizeof(s->label), "%s%s", content_set_name(which), s->frames.synthetic ? " (synthetic)" : "");
        s->fbs = calloc(s->frames.n, sizeof(Framebuffer *));
        die_unless(s->fbs != NULL, "calloc");
        for (size_t i = 0; i < s->frames.n; i++) {
                const ContentFrame *f = &s->frames.frames[i];
                s->fbs[i] = framebuffer_new();
                die_unless(s->fbs[i] && framebuffer_scanout(s->fbs[i], f->width, f->height, f->stride, FB_FORMAT_X8R8G8B8,
                                                            f->pixels, (size_t) f->stride * f->height) == 0,
                           "scanout");
        }
}

static void set_done(Set *s) {
        for (size_t i = 0; i < s->frames.n; i++)
                framebuffer_free(s->fbs[i]);
        free(s->fbs);
        content_frames_done(&s->frames);
}

/* PSNR and tiles per codec at the defaults, decoding through the viewer's decoder. */
static void quality(const Set *s, double *psnr, uint64_t tiles[4]) {
        _cleanup_(encoder_freep) Encoder *e = encoder_new();
        die_unless(e != NULL, "encoder_new");
        EncoderSettings settings = encoder_settings_default();
        double sse = 0, samples = 0;
        memset(tiles, 0, 4 * sizeof(uint64_t));
        for (size_t i = 0; i < s->frames.n; i++) {
                const Framebuffer *fb = s->fbs[i];
                CheckSink c;
                die_unless(check_sink_init(&c, fb->width, fb->height) == 0, "sink");
                Region all = {};
                die_unless(region_add(&all, (Rect) { 0, 0, (int32_t) fb->width, (int32_t) fb->height }) == 0, "region");
                encoder_reset(e);
                die_unless(encoder_encode(e, fb, &all, &settings, check_sink, &c) > 0 && !c.bad_tile, "encode");
                sse += check_sse(fb, &c.view);
                samples += 3.0 * fb->width * fb->height;
                for (int k = 1; k < 4; k++)
                        tiles[k] += c.tiles[k];
                region_done(&all);
                check_sink_done(&c);
        }
        *psnr = check_psnr(sse, samples);
}

typedef struct Summary {
        char label[64];
        double full, lossless_full, jpeg256, tjbench, tj_whole, lossless_tiles, bytes, lossless_bytes, psnr;
} Summary;

static void bench_set(const Set *s, Summary *sum) {
        TileList all = {}, solid = {}, palette = {}, rich = {}, jpeg256 = {};
        _cleanup_(lossless_encoder_freep) LosslessEncoder *lz = lossless_encoder_new();
        die_unless(lz != NULL, "lossless_encoder_new");

        for (size_t i = 0; i < s->frames.n; i++) {
                const Framebuffer *fb = s->fbs[i];
                for (uint32_t y = 0; y < fb->height; y += 64)
                        for (uint32_t x = 0; x < fb->width; x += 64) {
                                Rect r = { (int32_t) x, (int32_t) y, (int32_t) MIN(64u, fb->width - x),
                                           (int32_t) MIN(64u, fb->height - y) };
                                TileScan scan;
                                lossless_scan(lz, at(fb, r), fb->stride, (unsigned) r.w, (unsigned) r.h, &scan);
                                tiles_add(&all, fb, r, &scan);
                                tiles_add(scan.colours == 1 ? &solid : scan.colours ? &palette : &rich, fb, r, &scan);
                        }
                for (uint32_t y = 0; y < fb->height; y += 256)
                        for (uint32_t x = 0; x < fb->width; x += 256) {
                                Rect r = { (int32_t) x, (int32_t) y, (int32_t) MIN(256u, fb->width - x),
                                           (int32_t) MIN(256u, fb->height - y) };
                                TileScan none = {};
                                tiles_add(&jpeg256, fb, r, &none);
                        }
        }

        const ContentFrame *f0 = &s->frames.frames[0];
        printf("\n== %s: %zu frames of %ux%u ==\n", s->label, s->frames.n, f0->width, f0->height);
        EncoderSettings def = encoder_settings_default(), lossless = def;
        lossless.lossless_only = true;
        if (lossless_only_full) {
                FullResult lfull = bench_full(s, &lossless);
                printf("  %-52s %8.1f Mpix/s  %9.0f bytes/frame\n", "encoder_encode, lossless only", lfull.mpix,
                       lfull.bytes_per_frame);
                *sum = (Summary) { .lossless_full = lfull.mpix, .lossless_bytes = lfull.bytes_per_frame };
                snprintf(sum->label, sizeof(sum->label), "%s", s->label);
                goto done;
        }
        FullResult full = bench_full(s, &def), lfull = bench_full(s, &lossless);
        uint64_t tiles[4];
        double psnr;
        quality(s, &psnr, tiles);
        printf("  %-52s %8.1f Mpix/s  %9.0f bytes/frame  %.2f dB  tiles %llu/%llu/%llu\n",
               "encoder_encode, defaults (q80 4:2:0)", full.mpix, full.bytes_per_frame, psnr, (unsigned long long) tiles[1],
               (unsigned long long) tiles[2], (unsigned long long) tiles[3]);
        printf("  %-52s %8.1f Mpix/s  %9.0f bytes/frame\n", "encoder_encode, lossless only", lfull.mpix,
               lfull.bytes_per_frame);

        uint64_t b = 0;
        double v, scan = bench_tiles(&all, CODEC_SCAN, NULL);
        printf("  %-52s %8.1f Mpix/s  (%zu tiles)\n", "scan = classification, all 64x64 tiles", scan, all.n);
        if (solid.n) {
                v = bench_tiles(&solid, CODEC_SCAN, NULL);
                printf("  %-52s %8.1f Mpix/s  (%zu tiles, 3 bytes each)\n", "solid: scan of its tiles", v, solid.n);
        }
        double pal = bench_tiles(&palette, CODEC_LOSSLESS, &b);
        if (palette.n)
                printf("  %-52s %8.1f Mpix/s  (%zu tiles, %.0f bytes per frame)\n",
                       "lossless palette/rle (<= 256 colours): scan+encode", pal, palette.n, (double) b / s->frames.n);
        if (rich.n) {
                v = bench_tiles(&rich, CODEC_LOSSLESS, &b);
                printf("  %-52s %8.1f Mpix/s  (%zu tiles, %.0f bytes per frame)\n",
                       "lossless gradient (> 256 colours): scan+encode", v, rich.n, (double) b / s->frames.n);
        }
        double lt = bench_tiles(&all, CODEC_LOSSLESS, &b);
        printf("  %-52s %8.1f Mpix/s  (%.0f bytes per frame)\n", "lossless, every 64x64 tile: scan+encode", lt,
               (double) b / s->frames.n);
        v = bench_tiles(&all, CODEC_ZSTD_RAW, &b);
        printf("  %-52s %8.1f Mpix/s  (%.0f bytes per frame)\n", "reference: zstd -1 of RGB, every 64x64 tile", v,
               (double) b / s->frames.n);
        double j256 = bench_tiles(&jpeg256, CODEC_JPEG, &b);
        printf("  %-52s %8.1f Mpix/s  (%.0f bytes per frame)\n", "jpeg q80 4:2:0, 256x256 tiles (the JPEG path)", j256,
               (double) b / s->frames.n);
        v = bench_tiles(&all, CODEC_JPEG, &b);
        printf("  %-52s %8.1f Mpix/s  (%.0f bytes per frame)\n", "jpeg q80 4:2:0, 64x64 tiles (unmerged)", v,
               (double) b / s->frames.n);
        double whole = bench_tj_whole(s);
        printf("  %-52s %8.1f Mpix/s\n", "reference: tjCompress2 whole frame, in process", whole);
        double tjb = bench_tjbench(s);
        if (tjb > 0)
                printf("  %-52s %8.1f Mpix/s  (JPEG path at %.0f%% of it)\n", "reference: tjbench q80 4:2:0 -bgrx (subprocess)",
                       tjb, 100 * j256 / tjb);
        else
                printf("  %-52s %8s         (not available: JPEG path compared with tjCompress2 above)\n",
                       "reference: tjbench", "-");
        fflush(stdout);

        *sum = (Summary) { .full = full.mpix, .lossless_full = lfull.mpix, .jpeg256 = j256, .tjbench = tjb,
                           .tj_whole = whole, .lossless_tiles = lt, .bytes = full.bytes_per_frame,
                           .lossless_bytes = lfull.bytes_per_frame, .psnr = psnr };
        snprintf(sum->label, sizeof(sum->label), "%s", s->label);
done:
        free(all.t);
        free(solid.t);
        free(palette.t);
        free(rich.t);
        free(jpeg256.t);
}

int main(int argc, char **argv) {
        bool synthetic = false;
        const char *only = NULL;
        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "--synthetic") == 0)
                        synthetic = true;
                else if (strcmp(argv[i], "--no-tjbench") == 0)
                        run_tjbench = false;
                else if (strcmp(argv[i], "--lossless-only") == 0)
                        lossless_only_full = true;
                else if (strcmp(argv[i], "--cpu-time") == 0)
                        bench_clock = CLOCK_THREAD_CPUTIME_ID;
                else if (strcmp(argv[i], "--set") == 0 && i + 1 < argc)
                        only = argv[++i];
                else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
                        min_seconds = strtod(argv[++i], NULL);
                else {
                        fprintf(stderr, "usage: bench-encode [--seconds S] [--synthetic] [--no-tjbench] [--cpu-time] [--set NAME] [--lossless-only]\n");
                        return 2;
                }
        }
        if (min_seconds <= 0)
                min_seconds = 0.3;
        if (run_tjbench && system("tjbench >/dev/null 2>&1") != 0 && system("command -v tjbench >/dev/null") != 0) {
                printf("tjbench not found (Debian: libjpeg-turbo-progs): comparing with tjCompress2 in process\n");
                run_tjbench = false;
        }

        printf("bench-encode: one core, each figure the best of %d runs of >= %.2f s of %s; tiles solid/lossless/jpeg\n",
               RUNS, min_seconds, bench_clock == CLOCK_MONOTONIC ? "wall-clock time" : "this thread's CPU time");
        Summary sums[_CONTENT_SET_MAX + 1];
        size_t n = 0;
        for (ContentSet c = 0; c < _CONTENT_SET_MAX; c++) {
                if (only && strcmp(only, content_set_name(c)) != 0)
                        continue;
                Set s = {};
                set_load(&s, c, synthetic);
                bench_set(&s, &sums[n++]);
                set_done(&s);
        }
        if (!synthetic && (!only || strcmp(only, "photo-synthetic") == 0)) {
                Set s = {};
                set_load(&s, CONTENT_PHOTO, true);
                bench_set(&s, &sums[n++]);
                set_done(&s);
        }

        printf("\nsummary (Mpix/s on one core; targets: lossless >= 300 on text/ui, JPEG path >= 60%% of tjbench;\n"
               "jpeg/tjb: the JPEG codec on 256x256 tiles, enc/tjb: the whole encoder_encode path, which is all JPEG\n"
               "only on the synthetic photo)\n");
        printf("%-20s %9s %9s %10s %10s %9s %9s %9s %8s %12s %12s\n", "set", "encode", "lossless", "lossless", "jpeg 256",
               "tjbench", "jpeg/tjb", "enc/tjb", "PSNR", "bytes/frame", "lossless");
        printf("%-20s %9s %9s %10s %10s %9s %9s %9s %8s %12s %12s\n", "", "default", "only", "tiles", "tiles", "", "", "",
               "dB", "default", "bytes/frame");
        for (size_t i = 0; i < n; i++) {
                const Summary *s = &sums[i];
                char tjb[16] = "-", ratio[16] = "-", full[16] = "-";
                if (s->tjbench > 0) {
                        snprintf(tjb, sizeof(tjb), "%.1f", s->tjbench);
                        snprintf(ratio, sizeof(ratio), "%.0f%%", 100 * s->jpeg256 / s->tjbench);
                        snprintf(full, sizeof(full), "%.0f%%", 100 * s->full / s->tjbench);
                }
                printf("%-20s %9.1f %9.1f %10.1f %10.1f %9s %9s %9s %8.2f %12.0f %12.0f\n", s->label, s->full,
                       s->lossless_full, s->lossless_tiles, s->jpeg256, tjb, ratio, full, s->psnr, s->bytes,
                       s->lossless_bytes);
        }
        return 0;
}
