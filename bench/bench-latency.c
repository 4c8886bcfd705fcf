/* End-to-end latency on loopback through the in-process harness (hostd/test-harness.h): a fake
 * QEMU sends Update over its D-Bus listener connection, hostd applies it, encodes it for the
 * viewer and sends it over TLS 1.3; the viewer's client session decodes it and calls on_frame.
 * Everything runs in one process on one thread in one sd-event loop, as hostd does, so the
 * figures are hostd's and the client's work plus loopback, with no scheduling between processes.
 * Prints figures, asserts nothing. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "screen-content.h"
#include "test-harness.h"

#define W 1920u
#define H 1080u
#define PATCH 64u
#define PAN_STEP 32u /* pixels the full-screen photo moves per update */
#define WARMUP 20u
#define WAIT_USEC (10 * 1000000ULL)
#define TARGET_PATCH_P50_MS 5.0
#define TARGET_CONNECT_MS 150.0

static unsigned n_samples = 500, n_connections = 100;

static void usage(FILE *f) {
        fprintf(f,
                "Usage: bench-latency [--samples N] [--connections N]\n"
                "\n"
                "Measures on loopback, hostd and the viewer in one process (test-harness):\n"
                "  - from the fake QEMU sending Update to the viewer's on_frame with those pixels in its\n"
                "    framebuffer: a 64x64 crop of a GNOME screenshot at a new place each time, and the\n"
                "    whole 1920x1080 screen panned %u px per update, once a desktop-base wallpaper (the\n"
                "    busiest) and once photo-like noise (a synthetic noisy landscape); lossless and default\n"
                "    (lossy: JPEG q80 4:2:0 where photographic) settings; p50/p99 over N samples (500);\n"
                "  - connection time: from client_session_new (TLS handshake, hello with a fresh ticket)\n"
                "    to the first on_frame with the whole screen, p50/p99 over N connections (default 100).\n"
                "Pictures come from the screen-content set (scripts/screen-content.sh), else synthetic ones\n"
                "(the output says which). Figures only: nothing is asserted.\n",
                PAN_STEP);
}

static uint64_t now_usec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000ULL + (uint64_t) ts.tv_nsec / 1000;
}

static void die(const char *what, int r) {
        fprintf(stderr, "bench-latency: %s: %s\n", what, strerror(r < 0 ? -r : r));
        exit(EXIT_FAILURE);
}

/* ---- content ---- */

typedef struct Picture {
        const uint8_t *pixels; /* x8r8g8b8, stride width * 4 */
        uint32_t width, height;
        char name[128];
        bool synthetic;
} Picture;

static ContentFrames photos, uis, synthetic_photos;

/* How busy a picture is: mean absolute difference between horizontal neighbours, sampled. */
static double busyness(const ContentFrame *f) {
        uint64_t sum = 0, n = 0;
        for (uint32_t y = 0; y < f->height; y += 4)
                for (uint32_t x = 0; x + 1 < f->width; x += 4) {
                        const uint8_t *p = f->pixels + (size_t) y * f->stride + (size_t) x * 4;
                        for (int c = 0; c < 3; c++)
                                sum += (uint64_t) abs((int) p[c] - (int) p[4 + c]);
                        n++;
                }
        return n ? (double) sum / (double) n : 0;
}

static Picture from_frame(const ContentFrame *f, bool synthetic) {
        Picture p = { .pixels = f->pixels, .width = f->width, .height = f->height, .synthetic = synthetic };
        snprintf(p.name, sizeof(p.name), "%s", f->name);
        return p;
}

/* The busiest picture of the set at least w x h: loaded from the content directory, else (or
 * when synthetic) made up. */
static Picture picture(ContentSet set, ContentFrames *frames, uint32_t w, uint32_t h, bool synthetic) {
        const ContentFrame *best = NULL;
        double best_busy = -1;

        if (synthetic || content_load(set, NULL, frames) < 0) {
                content_frames_done(frames);
                if (content_synthesize(set, frames) < 0)
                        die("synthesizing content", -ENOMEM);
        }
        for (size_t i = 0; i < frames->n; i++) {
                const ContentFrame *f = &frames->frames[i];
                if (f->width < w || f->height < h || f->stride != f->width * 4)
                        continue;
                double b = busyness(f);
                if (b > best_busy) {
                        best = f;
                        best_busy = b;
                }
        }
        if (!best)
                die("no picture large enough", -ENOENT);
        return from_frame(best, frames->synthetic);
}

/* The photo panned left by off pixels, wrapping around, as the whole screen. */
static void pan(const Picture *p, uint32_t off, uint32_t *out) {
        off %= W;
        for (uint32_t y = 0; y < H; y++) {
                const uint32_t *row = (const uint32_t *) (p->pixels + (size_t) y * p->width * 4);
                memcpy(out + (size_t) y * W, row + off, (size_t) (W - off) * 4);
                memcpy(out + (size_t) y * W + (W - off), row, (size_t) off * 4);
        }
}

/* ---- measuring ---- */

typedef struct Expect {
        const uint32_t *now; /* the screen after the update (W x H) */
        Rect rect;           /* what changed */
        bool exact;
        bool marked; /* the top-left cell is a solid colour unique to this update */
        bool done;
        uint64_t t0, t1;
} Expect;

/* Mean absolute difference per channel between the viewer's picture and want inside r, over a
 * sample of pixels (every step-th in both directions). */
static double mad(const ClientFramebuffer *fb, const uint32_t *want, Rect r, uint32_t step) {
        uint64_t sum = 0, n = 0;
        for (int32_t y = r.y; y < r.y + r.h; y += (int32_t) step)
                for (int32_t x = r.x; x < r.x + r.w; x += (int32_t) step) {
                        uint32_t a, b = want[(size_t) y * W + (size_t) x];
                        memcpy(&a, fb->pixels + (size_t) y * fb->stride + (size_t) x * 4, 4);
                        for (int s = 0; s < 24; s += 8)
                                sum += (uint64_t) abs((int) ((a >> s) & 0xff) - (int) ((b >> s) & 0xff));
                        n += 3;
                }
        return n ? (double) sum / (double) n : 0;
}

static bool exact(const ClientFramebuffer *fb, const uint32_t *want, Rect r) {
        for (int32_t y = r.y; y < r.y + r.h; y++)
                for (int32_t x = r.x; x < r.x + r.w; x++) {
                        uint32_t a;
                        memcpy(&a, fb->pixels + (size_t) y * fb->stride + (size_t) x * 4, 4);
                        if ((a & 0xffffff) != (want[(size_t) y * W + (size_t) x] & 0xffffff))
                                return false;
                }
        return true;
}

/* Whether the frame just completed shows the update: exactly (lossless), or, lossy, close to it.
 * JPEG q80 of photo-like noise is ~10 levels off, as far as the picture panned by a few pixels,
 * so a full-screen update carries a marker, its top-left 64x64 cell in a solid colour of its
 * own, which every setting sends exactly: a refinement of the last picture cannot pass for it. */
static bool shows(const ClientFramebuffer *fb, const Expect *e) {
        if (!fb->pixels || fb->width != W || fb->height != H)
                return false;
        if (e->exact)
                return exact(fb, e->now, e->rect);
        if (e->marked && !exact(fb, e->now, (Rect) { 0, 0, PATCH, PATCH }))
                return false;
        return mad(fb, e->now, e->rect, e->rect.w > (int32_t) PATCH ? 7 : 1) < (e->marked ? 24.0 : 8.0);
}

/* The full-screen picture of update i: photo panned, with its marker. */
static void full_screen(const Picture *photo, unsigned i, uint32_t *screen) {
        uint32_t marker = 0x010101u * (i % 200) + 0x102030u;
        pan(photo, i * PAN_STEP, screen);
        for (uint32_t y = 0; y < PATCH; y++)
                for (uint32_t x = 0; x < PATCH; x++)
                        screen[(size_t) y * W + x] = marker;
}

static void on_frame(ClientSession *s, uint32_t frame, void *userdata) {
        Expect *e = userdata;
        uint64_t t = now_usec(); /* before looking: the check is ours, not the path's */
        if (!e->done && e->now && shows(client_session_framebuffer(s), e)) {
                e->t1 = t;
                e->done = true;
        }
}

static bool expect_done(void *userdata) {
        return ((Expect *) userdata)->done;
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

typedef struct Figures {
        unsigned n;
        double p50, p99, mean, max;
        double kib; /* per sample, received by the viewer */
} Figures;

static Figures figures(double *ms, unsigned n, uint64_t bytes) {
        Figures f = { .n = n };
        qsort(ms, n, sizeof(double), cmp_double);
        for (unsigned i = 0; i < n; i++)
                f.mean += ms[i] / n;
        f.p50 = ms[n / 2];
        f.p99 = ms[(unsigned) ceil(n * 0.99) - 1];
        f.max = ms[n - 1];
        f.kib = (double) bytes / n / 1024.0;
        return f;
}

typedef struct Row {
        const char *what, *settings, *target;
        Figures f;
        bool met;
} Row;

static Row rows[16];
static unsigned n_rows;

/* Update latency: one update at a time, the next once the viewer shows it and hostd's frame rate
 * cap (FrameRateMax=, default HOSTD_FRAME_RATE_MAX_DEFAULT) has passed: the latency of a change
 * that comes after a pause, not of the cap's wait (which a burst pays by design). */
#define SAMPLE_GAP_USEC (1000000ULL / HOSTD_FRAME_RATE_MAX_DEFAULT + 1000)

/* photo NULL: 64x64 patches of ui; else the whole screen, photo panned. */
static void bench_updates(Harness *h, const Picture *photo, const Picture *ui, bool lossless, uint32_t *screen) {
        bool full = photo != NULL;
        ClientOptions o = { .lossless = lossless };
        ClientCallbacks cb = { .on_frame = on_frame };
        Expect e = {};
        HarnessViewer *v;
        uint32_t *patch = malloc((size_t) PATCH * PATCH * 4);
        double *ms = calloc(n_samples, sizeof(double));
        uint64_t bytes = 0;
        int r;

        if (!patch || !ms)
                die("allocating", -ENOMEM);
        r = harness_viewer_new(h, "bench", TICKET_ROLE_INTERACTIVE, &o, &cb, &e, &v);
        if (r < 0)
                die("connecting", r);
        e = (Expect) { .now = screen, .rect = { 0, 0, W, H }, .exact = lossless, .marked = true };
        r = harness_run_until(h, expect_done, &e, WAIT_USEC);
        if (r < 0)
                die("waiting for the first frame", r);

        for (unsigned i = 0; i < WARMUP + n_samples; i++) {
                r = harness_run_until(h, NULL, NULL, SAMPLE_GAP_USEC);
                if (r < 0 && r != -ETIMEDOUT)
                        die("pausing between samples", r);
                e = (Expect) { .now = screen, .exact = lossless, .marked = full };
                uint64_t received = client_session_bytes_received(v->session);
                if (full) {
                        full_screen(photo, i + 1, screen);
                        e.rect = (Rect) { 0, 0, W, H };
                        e.t0 = now_usec();
                        r = fake_qemu_update(h->qemu, 0, 0, W, H, W * 4, FAKE_QEMU_XRGB, screen, (size_t) W * H * 4);
                } else {
                        /* A different crop of the screenshot at a different place each time; one
                         * that would change nothing there (flat UI on flat UI) is passed over. */
                        uint32_t dx = (i * 331) % (W - PATCH), dy = (i * 173) % (H - PATCH);
                        for (uint32_t k = i;; k++) {
                                uint32_t sx = (k * 97) % (ui->width - PATCH), sy = (k * 61) % (ui->height - PATCH);
                                bool changes = false;
                                for (uint32_t y = 0; y < PATCH; y++) {
                                        uint32_t *dst = screen + (size_t) (dy + y) * W + dx;
                                        memcpy(patch + (size_t) y * PATCH,
                                               ui->pixels + ((size_t) (sy + y) * ui->width + sx) * 4, PATCH * 4);
                                        changes |= memcmp(dst, patch + (size_t) y * PATCH, PATCH * 4) != 0;
                                        memcpy(dst, patch + (size_t) y * PATCH, PATCH * 4);
                                }
                                if (changes)
                                        break;
                        }
                        e.rect = (Rect) { (int32_t) dx, (int32_t) dy, PATCH, PATCH };
                        e.t0 = now_usec();
                        r = fake_qemu_update(h->qemu, (int32_t) dx, (int32_t) dy, PATCH, PATCH, PATCH * 4, FAKE_QEMU_XRGB,
                                             patch, (size_t) PATCH * PATCH * 4);
                }
                if (r < 0)
                        die("sending Update", r);
                r = harness_run_until(h, expect_done, &e, WAIT_USEC);
                if (r < 0)
                        die("waiting for the update to show", r);
                if (i >= WARMUP) {
                        ms[i - WARMUP] = (double) (e.t1 - e.t0) / 1000.0;
                        bytes += client_session_bytes_received(v->session) - received;
                }
        }
        harness_viewer_free(v);

        Row *row = &rows[n_rows++];
        *row = (Row) { .what = !full                ? "Update 64x64 (UI crops) -> on_frame"
                               : photo->synthetic ? "Update 1920x1080 (noisy landscape, panned) -> on_frame"
                                                  : "Update 1920x1080 (wallpaper, panned) -> on_frame",
                       .settings = lossless ? "lossless" : "default (lossy)", .f = figures(ms, n_samples, bytes) };
        if (!full) {
                row->target = "p50 <= 5 ms";
                row->met = row->f.p50 <= TARGET_PATCH_P50_MS;
        }
        free(ms);
        free(patch);
}

static unsigned viewers_in(Harness *h) {
        return h->manager->viewers->n_viewers;
}

static bool no_viewers(void *userdata) {
        return viewers_in(userdata) == 0;
}

/* Connection time: a fresh ticket each time (they are one-use), minted before the clock starts. */
/* The whole screen becomes photo (not measured). */
static void show(Harness *h, const Picture *photo, uint32_t *screen) {
        unsigned replies = h->qemu->replies;
        full_screen(photo, 0, screen);
        int r = fake_qemu_update(h->qemu, 0, 0, W, H, W * 4, FAKE_QEMU_XRGB, screen, (size_t) W * H * 4);
        if (r < 0)
                die("sending Update", r);
        while (h->qemu->replies == replies)
                if ((r = harness_run_until(h, NULL, NULL, 1000)) < 0)
                        die("running", r);
}

static void bench_connect(Harness *h, bool lossless, const Picture *photo, uint32_t *screen) {
        ClientOptions o = { .lossless = lossless };
        ClientCallbacks cb = { .on_frame = on_frame };
        double *ms = calloc(n_connections, sizeof(double));
        uint64_t bytes = 0;
        int r;

        if (!ms)
                die("allocating", -ENOMEM);
        show(h, photo, screen);
        for (unsigned i = 0; i < WARMUP + n_connections; i++) {
                Expect e = { .now = screen, .rect = { 0, 0, W, H }, .exact = lossless, .marked = true };
                HarnessViewer *v;
                char *ticket;

                r = harness_ticket(h, "bench", TICKET_ROLE_INTERACTIVE, &ticket);
                if (r < 0)
                        die("minting a ticket", r);
                e.t0 = now_usec();
                r = harness_viewer_new_ticket(h, ticket, &o, &cb, &e, &v);
                free(ticket);
                if (r < 0)
                        die("connecting", r);
                r = harness_run_until(h, expect_done, &e, WAIT_USEC);
                if (r < 0)
                        die(v->rejected ? "connecting (rejected)" : "waiting for the first frame", r);
                if (i >= WARMUP) {
                        ms[i - WARMUP] = (double) (e.t1 - e.t0) / 1000.0;
                        bytes += client_session_bytes_received(v->session);
                }
                (void) client_session_close(v->session);
                harness_viewer_kick(v);
                harness_viewer_free(v);
                r = harness_run_until(h, no_viewers, h, WAIT_USEC);
                if (r < 0)
                        die("waiting for hostd to let the viewer go", r);
        }
        Row *row = &rows[n_rows++];
        *row = (Row) { .what = photo->synthetic ? "connect -> first whole frame (noisy landscape)"
                                                : "connect -> first whole frame (wallpaper)",
                       .settings = lossless ? "lossless" : "default (lossy)",
                       .target = "p50, p99 <= 150 ms", .f = figures(ms, n_connections, bytes) };
        row->met = row->f.p50 <= TARGET_CONNECT_MS && row->f.p99 <= TARGET_CONNECT_MS;
        free(ms);
}

static unsigned parse_count(const char *s, const char *option) {
        char *end;
        errno = 0;
        unsigned long v = strtoul(s, &end, 10);
        if (errno || end == s || *end || v == 0 || v > 1000000) {
                fprintf(stderr, "bench-latency: invalid value `%s' for %s (1..1000000)\n", s, option);
                exit(EXIT_FAILURE);
        }
        return (unsigned) v;
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "samples", required_argument, NULL, 's' },
                { "connections", required_argument, NULL, 'c' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        Harness *h;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        n_samples = parse_count(optarg, "--samples");
                        break;
                case 'c':
                        n_connections = parse_count(optarg, "--connections");
                        break;
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                default:
                        usage(stderr);
                        return EXIT_FAILURE;
                }
        if (optind < argc) {
                usage(stderr);
                return EXIT_FAILURE;
        }

        Picture wallpaper = picture(CONTENT_PHOTO, &photos, W, H, false);
        Picture landscape = picture(CONTENT_PHOTO, &synthetic_photos, W, H, true);
        Picture ui = picture(CONTENT_UI, &uis, PATCH * 4, PATCH * 4, false);
        uint32_t *screen = malloc((size_t) W * H * 4);
        if (!screen)
                die("allocating", -ENOMEM);

        r = harness_new(NULL, &h);
        if (r < 0)
                die("setting up hostd", r);
        h->qemu->auto_scanout = false; /* no copy of the screen inside the fake QEMU: it is not QEMU's cost */
        full_screen(&wallpaper, 0, screen);
        r = harness_scanout(h, W, H, screen);
        if (r < 0)
                die("first Scanout", r);

        printf("bench-latency: fake QEMU -> hostd -> TLS 1.3 over loopback -> client session, one thread\n");
        printf("screen %ux%u, %u samples, %u connections (after %u unmeasured each)\n", W, H, n_samples, n_connections,
               WARMUP);
        printf("64x64 updates: crops of `%s'%s at a new place each time\n", ui.name, ui.synthetic ? " (synthetic)" : "");
        printf("full-screen updates, panned %u px each time: wallpaper `%s'%s; photo-like noise `%s'\n", PAN_STEP,
               wallpaper.name, wallpaper.synthetic ? " (synthetic: no content set)" : "", landscape.name);
        fflush(stdout);

        for (int lossless = 1; lossless >= 0; lossless--) {
                bench_updates(h, NULL, &ui, lossless, screen);
                bench_updates(h, &wallpaper, &ui, lossless, screen);
                bench_updates(h, &landscape, &ui, lossless, screen);
        }
        for (int lossless = 1; lossless >= 0; lossless--) {
                bench_connect(h, lossless, &wallpaper, screen);
                bench_connect(h, lossless, &landscape, screen);
        }

        printf("\n| measurement | settings | n | p50 ms | p99 ms | mean ms | max ms | KiB to viewer | target |\n");
        printf("|---|---|---|---|---|---|---|---|---|\n");
        for (unsigned i = 0; i < n_rows; i++) {
                const Row *row = &rows[i];
                char target[64] = "-";
                if (row->target)
                        snprintf(target, sizeof(target), "%s: %s", row->target, row->met ? "met" : "NOT met");
                printf("| %s | %s | %u | %.2f | %.2f | %.2f | %.2f | %.1f | %s |\n", row->what, row->settings, row->f.n,
                       row->f.p50, row->f.p99, row->f.mean, row->f.max, row->f.kib, target);
        }

        harness_free(h);
        free(screen);
        content_frames_done(&photos);
        content_frames_done(&uis);
        content_frames_done(&synthetic_photos);
        return EXIT_SUCCESS;
}
