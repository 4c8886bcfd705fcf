/* Network auto-detect in the in-process harness: a UDP viewer (rudp over a datagram pair) whose
 * downstream path is limited to 1.2 Mbit/s while the screen keeps changing: hostd lowers the JPEG
 * quality, spaces frames by what the link takes to carry them and budgets each frame; once the
 * limit is lifted it returns to the quality the viewer asked for. On a 256 kbit/s path the small
 * frames of text keep their pace after a burst took the level down. The quality never exceeds the
 * request; a lossless-only viewer gets no JPEG tile under the limit. The transport figures
 * (hostd-viewer-adapt.h) are sane throughout. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client-quality.h"
#include "display-codec.h"
#include "fd-datagram.h"
#include "hostd-adapt-policy.h"
#include "hostd-manager.h"
#include "hostd-viewer-adapt.h"
#include "hostd-viewer.h"
#include "macro.h"
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

static bool lowest(const ViewerLinkFigures *f) {
        return f->level == ADAPT_LEVELS - 1;
}

/* Two-colour text on white, a line at a time: the lossless palette, about 1 KB a frame. */
static void type_line(Harness *h, HarnessViewer *v, uint32_t *line, unsigned n) {
        for (size_t i = 0; i < 512 * 16; i++)
                line[i] = (i + n) % 7 < 2 ? 0x000000 : 0xffffff;
        check(fake_qemu_update(h->qemu, 64, (int32_t) (16 * (n % 20)), 512, 16, 512 * 4, FAKE_QEMU_XRGB, line,
                               512 * 16 * 4) >= 0);
        check(harness_run_until(h, NULL, NULL, 50000) == 0);
        check(!v->closed);
}

static bool drained(void *userdata) {
        Viewer *sv = userdata;
        return region_is_empty(&sv->pending) && wire_conn_unsent_tiles(sv->conn) == 0;
}

/* wan3's rate: a burst of photos takes the level to the lowest, where the old fixed cap held text
 * to 5 frames a second. Text's small frames now get the gap their bytes take on the link. (A
 * lossless viewer: no refinement of the photos competes with the text afterwards.) */
static void test_text_keeps_pace(void) {
        Harness *h;
        check(harness_new(NULL, &h) >= 0);
        uint32_t *screen = malloc((size_t) W * H * 4), *patch = malloc(256 * 192 * 4), *line = malloc(512 * 16 * 4);
        paint(screen, (size_t) W * H);
        check(harness_scanout(h, W, H, screen) >= 0);

        const uint64_t rate = 32000; /* 256 kbit/s */
        ClientOptions opts = { .lossless = true };
        FdDatagramOptions down = { .rate = rate, .queue_usec = 500000 };
        HarnessViewer *v;
        check(harness_viewer_new_udp(h, "text", TICKET_ROLE_INTERACTIVE, NULL, &down, &opts, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, 20 * SECOND) == 0);
        check(churn(h, v, patch, 100, lowest, 60));

        /* A white screen (solid tiles, a few bytes) replaces what the photos left to send. */
        memset(screen, 0xff, (size_t) W * H * 4);
        check(fake_qemu_update(h->qemu, 0, 0, W, H, W * 4, FAKE_QEMU_XRGB, screen, (size_t) W * H * 4) >= 0);
        Viewer *sv = server_viewer(h);
        if (harness_run_until(h, drained, sv, 30 * SECOND) != 0)
                fprintf(stderr, "not drained: pending %s, unsent %zu, in flight %u\n",
                        region_is_empty(&sv->pending) ? "empty" : "not empty", wire_conn_unsent_tiles(sv->conn),
                        viewer_in_flight(sv));
        uint64_t frames = sv->frames_sent, longest = 0;
        ViewerLinkFigures f;
        for (unsigned n = 0; n < 40; n++) {
                type_line(h, v, line, n);
                viewer_adapt_figures(sv, &f);
                check(f.level == ADAPT_LEVELS - 1);
                longest = MAX(longest, f.frame_interval_usec);
        }
        printf("text at %.2f Mbit/s: level %u, %llu frames, longest gap %.1f ms, budget %zu\n", f.rate * 8 / 1e6, f.level,
               (unsigned long long) (sv->frames_sent - frames), longest / 1000.0, f.frame_budget);
        fflush(stdout);
        check(sv->frames_sent > frames);
        /* A line's frame takes the link well under the 200 ms the lowest level used to impose. */
        check(longest > 0 && longest < 150000);

        harness_viewer_free(v);
        harness_free(h);
        free(screen);
        free(patch);
        free(line);
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
        printf("limited to %.2f Mbit/s: estimate %.2f Mbit/s, rtt %.1f ms (min %.1f), quality %d, gap after the last "
               "frame %.1f ms, budget %zu bytes\n",
               LIMIT * 8 / 1e6, f.rate * 8 / 1e6, f.rtt_usec / 1000.0, f.min_rtt_usec / 1000.0, f.quality,
               f.frame_interval_usec / 1000.0, f.frame_budget);
        fflush(stdout);
        check(f.quality < ceiling);
        /* Frames are spaced by their bytes at the link's rate, and a budget of at most a level's
         * frame time (200 ms) bounds them. */
        check(f.frame_interval_usec <= ADAPT_GAP_MAX_USEC);
        check(f.frame_budget > 0 && f.frame_budget <= 4 * LIMIT * 200000ULL / SECOND + ADAPT_BUDGET_MIN);
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

typedef struct Reply {
        int fd;
        char text[16384];
        size_t len;
} Reply;

static bool reply_done(void *userdata) {
        Reply *r = userdata;
        ssize_t n = read(r->fd, r->text + r->len, sizeof(r->text) - 1 - r->len);
        if (n > 0)
                r->len += (size_t) n;
        else
                check(n < 0 && errno == EAGAIN);
        r->text[r->len] = 0;
        check(r->len < sizeof(r->text) - 1);
        return memchr(r->text, '\n', r->len) != NULL;
}

/* The control socket's status, one line. */
static void status(Harness *h, Reply *r) {
        struct sockaddr_un a = { .sun_family = AF_UNIX };
        snprintf(a.sun_path, sizeof(a.sun_path), "%s", h->manager->config.control_socket);
        r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        r->len = 0;
        check(r->fd >= 0);
        check(connect(r->fd, (struct sockaddr *) &a, sizeof(a)) == 0);
        check(write(r->fd, "status\n", 7) == 7);
        check(harness_run_until(h, reply_done, r, 5 * SECOND) == 0);
        close(r->fd);
        check(strncmp(r->text, "OK {", 4) == 0);
}

/* The number after "key": in the link object that starts at obj. */
static double field(const char *obj, const char *key) {
        char pattern[64];
        snprintf(pattern, sizeof(pattern), "\"%s\":", key);
        const char *end = strchr(obj, '}'), *p = strstr(obj, pattern);
        check(p && p < end);
        return strtod(p + strlen(pattern), NULL);
}

static bool framed(void *userdata) {
        HarnessViewer **v = userdata;
        return v[0]->frames > 0 && v[1]->frames > 0;
}

/* A UDP viewer with 2% loss and a TLS one: the status carries a sane link object for each. */
static void test_status(void) {
        Harness *h;
        check(harness_new(NULL, &h) >= 0);
        uint32_t *screen = malloc((size_t) W * H * 4), *patch = malloc(256 * 192 * 4);
        paint(screen, (size_t) W * H);
        check(harness_scanout(h, W, H, screen) >= 0);

        FdDatagramOptions lossy = { .loss = 0.02, .seed = 5 };
        ClientOptions opts = { .quality = 75 };
        HarnessViewer *v[2];
        check(harness_viewer_new_udp(h, "udp", TICKET_ROLE_VIEW_ONLY, &lossy, &lossy, &opts, NULL, NULL, &v[0]) >= 0);
        check(harness_viewer_new(h, "tls", TICKET_ROLE_VIEW_ONLY, &opts, NULL, NULL, &v[1]) >= 0);
        check(harness_run_until(h, framed, v, 20 * SECOND) == 0);
        for (unsigned i = 0; i < 60; i++) { /* traffic for RTT samples and a loss estimate */
                paint(patch, 256 * 192);
                check(fake_qemu_update(h->qemu, 64, 64, 256, 192, 256 * 4, FAKE_QEMU_XRGB, patch, 256 * 192 * 4) >= 0);
                check(harness_run_until(h, NULL, NULL, 30000) == 0);
        }

        Reply r;
        status(h, &r);
        const char *udp = strstr(r.text, "\"link\":{\"transport\":\"udp\",\"measured\":true");
        const char *tls = strstr(r.text, "\"link\":{\"transport\":\"tls\",\"measured\":true");
        if (!udp || !tls)
                fprintf(stderr, "%s", r.text);
        check(udp && tls);
        udp = strstr(udp, "\"link\":");
        tls = strstr(tls, "\"link\":");

        double rtt = field(udp, "rtt_us"), min_rtt = field(udp, "min_rtt_us");
        check(rtt > 0 && rtt < 10 * SECOND && min_rtt > 0 && min_rtt <= rtt);
        check(field(udp, "queue_delay_us") == rtt - min_rtt);
        check(field(udp, "rate") > 0);
        double loss = field(udp, "loss");
        check(loss > 0 && loss < 0.5); /* 2% each way: some of it seen */
        check(field(udp, "fec_recovered") >= 0 && field(udp, "retransmits") >= 0);
        check(strstr(udp, "\"adaptive\":true"));
        check(field(udp, "quality") >= 1 && field(udp, "quality") <= 75);
        check(field(udp, "level") < ADAPT_LEVELS);

        check(field(tls, "rtt_us") > 0 && field(tls, "rtt_us") < 10 * SECOND);
        check(field(tls, "loss") >= 0 && field(tls, "loss") < 1);
        check(strstr(tls, "\"adaptive\":false"));
        check(field(tls, "quality") == 75); /* TCP stays on the viewer's settings */
        check(field(tls, "frame_interval_us") == 0 && field(tls, "frame_budget") == 0);
        printf("%s", r.text);

        /* The viewers' own indicator: the transport, and a rating from measured figures. */
        ClientLinkQuality q;
        check(client_session_quality(v[0]->session, &q) == 0);
        check(q.transport == WIRE_CONN_RUDP && q.measured && q.rtt_usec > 0 && q.level != CLIENT_QUALITY_UNKNOWN);
        check(q.loss >= 0 && q.loss < 0.5 && q.bytes_received > 0);
        check(client_session_quality(v[1]->session, &q) == 0);
        check(q.transport == WIRE_CONN_STREAM && q.measured && q.rtt_usec > 0);
        check(q.level == CLIENT_QUALITY_GOOD); /* loopback */

        harness_viewer_free(v[0]);
        harness_viewer_free(v[1]);
        harness_free(h);
        free(screen);
        free(patch);
}

int main(void) {
        test_status();
        test_follow_rate();
        test_lossless_stays_lossless();
        test_text_keeps_pace();
        return 0;
}
