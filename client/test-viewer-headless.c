/* The headless loop end to end against the session test double: every exit status, the script
 * driving real waits, the filmstrip and last image, and a mode change. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "display-codec.h"
#include "ppm.h"
#include "test-fake-session.h"
#include "viewer-exit.h"
#include "viewer-headless.h"
#include "viewer-util.h"

static char dir[] = "/tmp/test-viewer-headless.XXXXXX";

static void clean_dir(const char *path) {
        DIR *d = opendir(path);
        struct dirent *de;
        char p[512];

        if (!d)
                return;
        while ((de = readdir(d)))
                if (de->d_name[0] != '.' || (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)) {
                        snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
                        check(unlink(p) == 0);
                }
        closedir(d);
}

static unsigned count_prefix(const char *path, const char *prefix) {
        DIR *d = opendir(path);
        struct dirent *de;
        unsigned n = 0;

        check(d);
        while ((de = readdir(d)))
                n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
        closedir(d);
        return n;
}

typedef struct Case {
        const char *ticket;
        const char *script;
        const char *out;         /* NULL: no --out */
        const char *wire_log;    /* NULL: no --wire-log */
        ImageFormat format;
        uint64_t interval_ms;
        uint64_t timeout_ms;     /* 0: 20 s, so that a broken test ends */
} Case;

static int run(const Case *c) {
        ViewerOptions o = {
                .out_dir = c->out,
                .wire_log = c->wire_log,
                .format = c->format,
                .filmstrip_interval = c->interval_ms * USEC_PER_MSEC,
                .timeout = (c->timeout_ms ?: 20000) * USEC_PER_MSEC,
        };
        Script *script = NULL;
        Viewer *v = NULL;
        char *error = NULL;

        if (c->script && script_parse("t.txt", c->script, strlen(c->script), &script, &error) < 0) {
                fprintf(stderr, "%s\n", error);
                check(false);
        }
        check(viewer_new(&o, script, &v) == 0);
        viewer_connect(v, c->ticket, NULL, NULL);
        int status = viewer_headless_run(v);
        viewer_free(v);
        return status;
}

/* The frame whose pattern the picture shows (test-fake-session.h), or 0 if it shows none. */
static uint32_t frame_in_ppm(const char *path, uint32_t want_w, uint32_t want_h) {
        FILE *f = fopen(path, "rb");
        static uint8_t data[1 << 20];
        uint32_t w, h;
        const uint8_t *px;

        check(f);
        size_t len = fread(data, 1, sizeof(data), f);
        fclose(f);
        check(ppm_parse(data, len, &w, &h, &px) == 0);
        check(w == want_w && h == want_h);
        uint32_t frame = px[0] / 10;
        for (uint32_t y = 0; y < h; y++)
                for (uint32_t x = 0; x < w; x++) {
                        uint8_t bgr[3];
                        const uint8_t *p = px + ((size_t) y * w + x) * 3;
                        fake_session_pixel(frame, x, y, bgr);
                        if (p[0] != bgr[2] || p[1] != bgr[1] || p[2] != bgr[0])
                                return 0;
                }
        return frame;
}

static void test_statuses(void) {
        check(run(&(Case) { .ticket = "fake:frames=2", .script = "wait-frame\nexpect-mode 64 48\n" }) == VIEWER_EXIT_DONE);
        check(run(&(Case) { .ticket = "fake:reject=4", .script = "wait-frame\n" }) == VIEWER_EXIT_REJECTED);
        check(run(&(Case) { .ticket = "fake:fail=1" }) == VIEWER_EXIT_TRANSPORT);
        check(run(&(Case) { .ticket = "fake:frames=5,drop-after=2", .script = "sleep 10000\n" }) == VIEWER_EXIT_TRANSPORT);
        check(run(&(Case) { .ticket = "fake:frames=5,bye-after=1" }) == VIEWER_EXIT_TRANSPORT);
        check(run(&(Case) { .ticket = "fake:frames=1", .script = "wait-frame\nexpect-mode 640 480\n" }) ==
              VIEWER_EXIT_SCRIPT);
        check(run(&(Case) { .ticket = "fake:hang=1", .script = "wait-frame\n", .timeout_ms = 100 }) ==
              VIEWER_EXIT_TIMEOUT);
        /* a script that waits for a frame that never comes times out too */
        check(run(&(Case) { .ticket = "fake:frames=1", .script = "wait-frame\nwait-frame\nwait-frame\n",
                            .timeout_ms = 200 }) == VIEWER_EXIT_TIMEOUT);
        check(run(&(Case) { .ticket = "fake:frames=1", .script = "exit 9\n" }) == 9);
        check(run(&(Case) { .ticket = "not a ticket" }) == VIEWER_EXIT_USAGE);
        /* input from a script on a view-only session is sent; hostd ignores it */
        check(run(&(Case) { .ticket = "fake:role=1", .script = "type hi\n" }) == VIEWER_EXIT_DONE);
}

static void test_filmstrip(void) {
        char out[512], path[600];

        snprintf(out, sizeof(out), "%s/out", dir);
        /* interval 0: every frame */
        check(run(&(Case) { .ticket = "fake:frames=5,interval=5", .script = "wait-still 300\n", .out = out,
                            .format = IMAGE_FORMAT_PPM }) == VIEWER_EXIT_DONE);
        check(count_prefix(out, "frame-") == 5);
        for (unsigned i = 0; i < 5; i++) {
                snprintf(path, sizeof(path), "%s/frame-%05u.ppm", out, i);
                check(frame_in_ppm(path, 64, 48) == i + 1);
        }
        snprintf(path, sizeof(path), "%s/last.ppm", out);
        check(frame_in_ppm(path, 64, 48) == 5);
        check(count_prefix(out, ".") == 2); /* . and ..: no temporaries */
        clean_dir(out);

        /* a long interval: the first frame, then nothing until it passes; last.png is the latest */
        check(run(&(Case) { .ticket = "fake:frames=4,interval=5", .script = "wait-still 300\n", .out = out,
                            .format = IMAGE_FORMAT_PNG, .interval_ms = 60000 }) == VIEWER_EXIT_DONE);
        check(count_prefix(out, "frame-") == 1);
        snprintf(path, sizeof(path), "%s/frame-00000.png", out);
        check(access(path, R_OK) == 0);
        snprintf(path, sizeof(path), "%s/last.png", out);
        png_image img = { .version = PNG_IMAGE_VERSION };
        check(png_image_begin_read_from_file(&img, path));
        check(img.width == 64 && img.height == 48);
        img.format = PNG_FORMAT_BGR;
        uint8_t *bgr = malloc(PNG_IMAGE_SIZE(img));
        check(bgr && png_image_finish_read(&img, NULL, bgr, 0, NULL));
        uint8_t want[3];
        fake_session_pixel(4, 63, 47, want);
        check(memcmp(bgr + (47 * 64 + 63) * 3, want, 3) == 0);
        free(bgr);
        clean_dir(out);

        /* a timeout still leaves last.png behind */
        check(run(&(Case) { .ticket = "fake:frames=2", .out = out, .timeout_ms = 300 }) == VIEWER_EXIT_TIMEOUT);
        snprintf(path, sizeof(path), "%s/last.png", out);
        check(access(path, R_OK) == 0);
        clean_dir(out);

        /* no frame, no image */
        check(run(&(Case) { .ticket = "fake:reject=9", .out = out }) == VIEWER_EXIT_REJECTED);
        check(count_prefix(out, "last") == 0 && count_prefix(out, "frame-") == 0);
        check(rmdir(out) == 0);
}

/* --wire-log: a line per message with its type and size, tiles with codec and rectangle, each
 * followed by how many of its pixels were on screen already (the fake sends every frame's tile
 * twice: the second changes nothing). */
static void test_wire_log(void) {
        char path[512], line[256];
        unsigned tiles = 0, ends = 0, same_none = 0, same_all = 0;

        snprintf(path, sizeof(path), "%s/wire.log", dir);
        check(run(&(Case) { .ticket = "fake:frames=3,interval=5", .script = "wait-still 200\n", .wire_log = path }) ==
              VIEWER_EXIT_DONE);
        FILE *f = fopen(path, "re");
        check(f);
        while (fgets(line, sizeof(line), f)) {
                double t;
                char type[32];
                size_t size, same;
                unsigned codec, x, y, w, h;
                if (sscanf(line, "same %zu", &same) == 1) {
                        same_none += same == 0;
                        same_all += same == 64 * 48;
                        continue;
                }
                int n = sscanf(line, "%lf %31s %zu %u %u %u %u %u", &t, type, &size, &codec, &x, &y, &w, &h);
                check(n >= 3 && t > 0);
                if (strcmp(type, "tile") == 0) {
                        check(n == 8 && size == 100 && codec == DISPLAY_CODEC_LOSSLESS && x == 0 && y == 0 && w == 64 &&
                              h == 48);
                        tiles++;
                } else {
                        check(n == 3 && strcmp(type, "frame-end") == 0 && size == 20);
                        ends++;
                }
        }
        fclose(f);
        check(tiles == 6 && ends == 3 && same_none == 3 && same_all == 3);
        check(unlink(path) == 0);

        /* an unwritable log is a usage error */
        check(run(&(Case) { .ticket = "fake:frames=1", .wire_log = "/nonexistent/dir/wire.log" }) == VIEWER_EXIT_USAGE);
}

static void test_mode_change_and_save(void) {
        char script[1024], path[600];

        snprintf(script, sizeof(script),
                 "wait-still 300\n"
                 "expect-mode 32 16\n"
                 "save %s/after.ppm\n", dir);
        check(run(&(Case) { .ticket = "fake:mode=64x48,mode2=32x16@3,frames=4,interval=5", .script = script }) ==
              VIEWER_EXIT_DONE);
        snprintf(path, sizeof(path), "%s/after.ppm", dir);
        check(frame_in_ppm(path, 32, 16) == 4);
        check(unlink(path) == 0);

        /* save right after wait-frame writes a whole frame, never a mix of two */
        snprintf(script, sizeof(script), "wait-frame\nsave %s/one.ppm\n", dir);
        check(run(&(Case) { .ticket = "fake:frames=50,interval=1", .script = script }) == VIEWER_EXIT_DONE);
        snprintf(path, sizeof(path), "%s/one.ppm", dir);
        check(frame_in_ppm(path, 64, 48) > 0);
        check(unlink(path) == 0);
}

int main(void) {
        check(mkdtemp(dir));
        test_statuses();
        test_filmstrip();
        test_wire_log();
        test_mode_change_and_save();
        check(rmdir(dir) == 0);
        printf("ok\n");
        return 0;
}
