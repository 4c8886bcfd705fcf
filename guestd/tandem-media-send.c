/* tandem-media-send FILE: streams an IVF (VP8), Ogg Opus or H.264 Annex B file through
 * org.tandem.Media1, paced by its timestamps (--fast: as fast as guestd takes them). Prints
 * "redirect stream N" or "render-locally REASON", then "sent N packets". Exit 0: redirected and
 * all sent; 3: told to render locally (at open or later, Closed); 1: errors. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "media-file.h"
#include "parse-util.h"
#include "tandem-media.h"

#define FILE_MAX ((size_t) 256 << 20)

typedef struct Send {
        uint32_t stream;
        bool closed;
        char reason[64];
        uint64_t keyframe_requests;
} Send;

static void on_closed(void *userdata, uint32_t stream, const char *reason) {
        Send *s = userdata;
        if (stream != s->stream)
                return;
        s->closed = true;
        snprintf(s->reason, sizeof(s->reason), "%s", reason);
}

static void on_keyframe(void *userdata, uint32_t stream) {
        Send *s = userdata;
        if (stream == s->stream)
                s->keyframe_requests++;
}

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000u + (uint64_t) ts.tv_nsec / 1000u;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len) {
        FILE *f = fopen(path, "rbe");
        if (!f)
                return -errno;
        struct stat st;
        if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t) st.st_size > FILE_MAX) {
                fclose(f);
                return -EFBIG;
        }
        size_t n = (size_t) st.st_size;
        uint8_t *d = malloc(n ? n : 1);
        if (!d || fread(d, 1, n, f) != n) {
                free(d);
                fclose(f);
                return -EIO;
        }
        fclose(f);
        *ret = d;
        *ret_len = n;
        return 0;
}

/* "X,Y,WxH" */
static int parse_rect(const char *s, TandemMediaRect *r) {
        int x, y;
        unsigned w, h;
        char end;
        if (sscanf(s, "%d,%d,%ux%u%c", &x, &y, &w, &h, &end) != 4)
                return -EINVAL;
        *r = (TandemMediaRect) { x, y, w, h };
        return 0;
}

static void usage(FILE *f) {
        fprintf(f, "Usage: tandem-media-send [--fast] [--loop] [--window ID] [--rect X,Y,WxH] [--fps N] FILE\n"
                   "Streams an IVF (VP8), Ogg Opus or H.264 Annex B file through org.tandem.Media1.\n"
                   "Exit 0: redirected and sent; 3: render locally (the reason is printed); 1: error.\n");
}

int main(int argc, char **argv) {
        static const struct option options[] = {
                { "fast", no_argument, NULL, 'f' },   { "loop", no_argument, NULL, 'l' },
                { "window", required_argument, NULL, 'w' }, { "rect", required_argument, NULL, 'r' },
                { "fps", required_argument, NULL, 'p' }, { "help", no_argument, NULL, 'h' },
                { 0 },
        };
        bool fast = false, loop = false, have_rect = false;
        uint64_t window = 0, fps = 0;
        TandemMediaRect rect = { 0 };
        int c;
        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0) {
                switch (c) {
                case 'f':
                        fast = true;
                        break;
                case 'l':
                        loop = true;
                        break;
                case 'w':
                        if (parse_u64(optarg, UINT32_MAX, &window) < 0) {
                                fprintf(stderr, "Invalid window `%s'\n", optarg);
                                return 1;
                        }
                        break;
                case 'p':
                        if (parse_u64(optarg, 1000, &fps) < 0 || fps == 0) {
                                fprintf(stderr, "Invalid frame rate `%s'\n", optarg);
                                return 1;
                        }
                        break;
                case 'r':
                        if (parse_rect(optarg, &rect) < 0) {
                                fprintf(stderr, "Invalid rectangle `%s' (X,Y,WxH)\n", optarg);
                                return 1;
                        }
                        have_rect = true;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 1;
                }
        }
        if (optind + 1 != argc) {
                usage(stderr);
                return 1;
        }
        const char *path = argv[optind];
        uint8_t *data = NULL;
        size_t len = 0;
        int r = read_file(path, &data, &len);
        if (r < 0) {
                fprintf(stderr, "Cannot read %s: %s\n", path, strerror(-r));
                return 1;
        }
        MediaFile *mf;
        r = media_file_open(data, len, (uint32_t) fps, &mf);
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", path, r == -EMEDIUMTYPE ? "not IVF VP8, Ogg Opus or H.264 Annex B" : strerror(-r));
                free(data);
                return 1;
        }
        const MediaFileInfo *info = media_file_info(mf);
        bool video = info->kind == MEDIA_KIND_VIDEO;
        if (!have_rect)
                rect = (TandemMediaRect) { 0, 0, info->width, info->height };

        Send s = { 0 };
        TandemMediaCallbacks cb = { .closed = on_closed, .keyframe_requested = on_keyframe };
        TandemMedia *tm;
        int ret = 1;
        r = tandem_media_new(NULL, &cb, &s, &tm);
        if (r < 0) {
                fprintf(stderr, "No system bus: %s\n", strerror(-r));
                printf("render-locally agent-path-down\n");
                media_file_free(mf);
                free(data);
                return 3;
        }
        TandemMediaOpen o = {
                .kind = video ? "video" : "audio",
                .codec = media_codec_name(info->codec),
                .window = (uint32_t) window,
                .rect = rect,
                .visible = true,
                .sample_rate = video ? 0 : 48000,
                .channels = info->channels,
        };
        r = tandem_media_open(tm, &o, &s.stream, s.reason, sizeof(s.reason));
        if (r < 0) {
                /* No guestd on the bus is the same as no agent path: render locally. */
                fprintf(stderr, "Open failed: %s\n", tandem_media_error(tm));
                printf("render-locally agent-path-down\n");
                ret = 3;
                goto out;
        }
        if (r == 0) {
                printf("render-locally %s\n", s.reason);
                ret = 3;
                goto out;
        }
        printf("redirect stream %u\n", s.stream);
        fflush(stdout);

        uint64_t sent = 0, offset = 0, last_pts = 0, t0 = now_us(), first = UINT64_MAX;
        MediaPacket p;
        for (;;) {
                r = media_file_next(mf, &p);
                if (r == 0 && loop && sent > 0) {
                        /* Next round after the last packet, one packet's spacing on. */
                        offset += last_pts - (first == UINT64_MAX ? 0 : first) + (video ? 1000000u * info->fps_den / info->fps_num : 20000u);
                        media_file_rewind(mf);
                        continue;
                }
                if (r <= 0)
                        break;
                if (first == UINT64_MAX)
                        first = p.pts_us;
                last_pts = p.pts_us;
                uint64_t pts = p.pts_us - first + offset;
                for (;;) {
                        uint64_t now = now_us() - t0;
                        uint64_t wait = fast || now >= pts ? 0 : pts - now;
                        if (tandem_media_process(tm, wait) < 0 || s.closed || wait == 0)
                                break;
                }
                if (s.closed)
                        break;
                r = tandem_media_push(tm, s.stream, pts, p.keyframe, p.data, p.len);
                if (r < 0) {
                        tandem_media_process(tm, 0); /* a Closed on its way explains the refusal */
                        if (s.closed)
                                break;
                        fprintf(stderr, "Push failed: %s\n", tandem_media_error(tm));
                        goto out;
                }
                sent++;
        }
        if (r < 0 && !s.closed) {
                fprintf(stderr, "%s: %s after %llu packets\n", path, strerror(-r), (unsigned long long) sent);
                printf("sent %llu packets\n", (unsigned long long) sent);
                goto out;
        }
        printf("sent %llu packets\n", (unsigned long long) sent);
        if (s.keyframe_requests)
                printf("keyframe requests %llu\n", (unsigned long long) s.keyframe_requests);
        if (s.closed) {
                printf("render-locally %s\n", s.reason);
                ret = 3;
                goto out;
        }
        r = tandem_media_close(tm, s.stream);
        if (r < 0) {
                fprintf(stderr, "Close failed: %s\n", tandem_media_error(tm));
                goto out;
        }
        ret = 0;
out:
        tandem_media_free(tm);
        media_file_free(mf);
        free(data);
        return ret;
}
