/* Network auto-detect in the in-process harness: a UDP viewer (rudp over a datagram pair) whose
 * downstream path is limited to 1.2 Mbit/s while the screen keeps changing: hostd lowers the JPEG
 * quality, caps the frame rate and budgets each frame; once the limit is lifted it returns to the
 * quality the viewer asked for. The quality never exceeds the request; a lossless-only viewer gets
 * no JPEG tile under the limit. The transport figures (hostd-viewer-adapt.h) are sane throughout. */
#include "check.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "display-codec.h"
#include "fd-datagram.h"
#include "hostd-adapt-policy.h"
#include "hostd-manager.h"
#include "hostd-viewer-adapt.h"
#include "hostd-viewer.h"
#include "test-harness.h"

#define SECOND 1000000ULL
#define W 640
#define H 480
#define LIMIT 150000 /* bytes/s: 1.2 Mbit/s */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rng(void) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        return (uint32_t) rng_state;
}

/* Photo-like noise: JPEG's case, and expensive on any link. */
static void paint(uint32_t *px, size_t n) {
        for (size_t i = 0; i < n; i++)
                px[i] = rng() & 0xffffff;
}

static bool welcomed(void *userdata) {
        HarnessViewer *v = userdata;
        check(!v->closed);
        return v->welcomed && v->frames > 0;
}

static Viewer *server_viewer(Harness *h) {
        Viewer *sv = h->manager->viewers->viewers;
        check(sv && sv->adapt);
        return sv;
}

static void check_sane(const ViewerLinkFigures *f, int ceiling) {
        check(strcmp(f->transport, "udp") == 0 && f->adaptive && f->measured);
        check(f->quality >= 1 && f->quality <= ceiling);
        check(f->loss >= 0.0 && f->loss <= 1.0);
        check(f->rtt_usec < 10 * SECOND);
        check(f->level < ADAPT_LEVELS);
}

typedef bool (*Until)(const ViewerLinkFigures *f);

/* Keeps a 256x192 noise patch changing every 30 ms until until(figures) or limit seconds. */
static bool churn(Harness *h, HarnessViewer *v, uint32_t *patch, int ceiling, Until until, unsigned limit) {
        for (unsigned i = 0; i < limit * 33; i++) {
                paint(patch, 256 * 192);
                uint32_t x = rng() % (W - 256), y = rng() % (H - 192);
                check(fake_qemu_update(h->qemu, (int32_t) x, (int32_t) y, 256, 192, 256 * 4, FAKE_QEMU_XRGB, patch,
                                       256 * 192 * 4) >= 0);
                check(harness_run_until(h, NULL, NULL, 30000) == 0);
                check(!v->closed);
                ViewerLinkFigures f;
                viewer_adapt_figures(server_viewer(h), &f);
                check_sane(&f, ceiling);
                if (getenv("TEST_ADAPT_VERBOSE") && i % 33 == 0)
                        printf("%2us: level %u, quality %d, interval %llu ms, budget %zu, rate %.2f Mbit/s, rtt %.1f ms "
                               "(min %.1f), loss %.3f\n", i / 33, f.level, f.quality,
                               (unsigned long long) f.frame_interval_usec / 1000, f.frame_budget, f.rate * 8 / 1e6,
                               f.rtt_usec / 1000.0, f.min_rtt_usec / 1000.0, f.loss);
                if (until(&f))
                        return true;
        }
        return false;
}

static bool slowed(const ViewerLinkFigures *f) {
        return f->level >= 2;
}

static bool recovered(const ViewerLinkFigures *f) {
        return f->level == 0;
}

static void test_follow_rate(void) {
        Harness *h;
        check(harness_new(NULL, &h) >= 0);
        uint32_t *screen = malloc((size_t) W * H * 4), *patch = malloc(256 * 192 * 4);
        paint(screen, (size_t) W * H);
        check(harness_scanout(h, W, H, screen) >= 0);

        const int ceiling = 85;
        ClientOptions opts = { .quality = ceiling };
        FdDatagramOptions down = { .rate = LIMIT, .queue_usec = 100000 };
        HarnessViewer *v;
        check(harness_viewer_new_udp(h, "adapt", TICKET_ROLE_INTERACTIVE, NULL, &down, &opts, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, 20 * SECOND) == 0);

        ViewerLinkFigures f;
        viewer_adapt_figures(server_viewer(h), &f);
        check(f.quality == ceiling && f.level == 0 && f.frame_interval_usec == 0);

        /* Under the limit: lower quality, a frame rate cap, a budget of about one interval's worth. */
        check(churn(h, v, patch, ceiling, slowed, 40));
        viewer_adapt_figures(server_viewer(h), &f);
        printf("limited to %.2f Mbit/s: estimate %.2f Mbit/s, rtt %.1f ms (min %.1f), quality %d, %.0f fps at most, "
               "budget %zu bytes\n",
               LIMIT * 8 / 1e6, f.rate * 8 / 1e6, f.rtt_usec / 1000.0, f.min_rtt_usec / 1000.0, f.quality,
               1e6 / (double) f.frame_interval_usec, f.frame_budget);
        check(f.quality < ceiling);
        check(f.frame_interval_usec >= 50000);
        check(f.frame_budget > 0 && f.frame_budget <= 4 * LIMIT * f.frame_interval_usec / SECOND + ADAPT_BUDGET_MIN);
        check(f.rate > 0 && f.rate < 4 * LIMIT); /* rudp measured the bottleneck, not the socket pair */
        check(f.queue_delay_usec < 2 * SECOND);

        /* The limit lifted: back to the quality asked for, uncapped. */
        check(fd_datagram_set_rate(v->server_path, 0) == 0);
        check(churn(h, v, patch, ceiling, recovered, 60));
        viewer_adapt_figures(server_viewer(h), &f);
        printf("unlimited: estimate %.2f Mbit/s, quality %d\n", f.rate * 8 / 1e6, f.quality);
        check(f.quality == ceiling && f.frame_interval_usec == 0 && f.frame_budget == 0);

        harness_viewer_free(v);
        harness_free(h);
        free(screen);
        free(patch);
}

/* A lossless-only viewer on a slow link: frames slow down, but no tile is ever JPEG. */
static void test_lossless_stays_lossless(void) {
        Harness *h;
        check(harness_new(NULL, &h) >= 0);
        uint32_t *screen = malloc((size_t) W * H * 4), *patch = malloc(256 * 192 * 4);
        paint(screen, (size_t) W * H);
        check(harness_scanout(h, W, H, screen) >= 0);

        ClientOptions opts = { .lossless = true };
        FdDatagramOptions down = { .rate = LIMIT, .queue_usec = 100000 };
        HarnessViewer *v;
        check(harness_viewer_new_udp(h, "exact", TICKET_ROLE_INTERACTIVE, NULL, &down, &opts, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, 20 * SECOND) == 0);
        check(churn(h, v, patch, 100, slowed, 40));
        Viewer *sv = server_viewer(h);
        check(sv->settings.lossless_only);
        EncoderStats st;
        encoder_get_stats(sv->encoder, &st);
        check(st.tiles[DISPLAY_CODEC_JPEG] == 0 && st.tiles[DISPLAY_CODEC_LOSSLESS] > 0);

        harness_viewer_free(v);
        harness_free(h);
        free(screen);
        free(patch);
}

int main(void) {
        test_follow_rate();
        test_lossless_stays_lossless();
        return 0;
}
