/* tandem-media-gen: synthetic test clips for the media channel's tests (issue 7).
 *
 *   tandem-media-gen vp8|opus|h264 OUT [--seconds S] [--size WxH] [--fps F] [--tone HZ]
 *
 * vp8: IVF; opus: Ogg Opus (48 kHz, stereo, 20 ms packets); h264: Annex B (constrained
 * baseline, SPS/PPS at every keyframe). A keyframe every second. The same arguments give the
 * same file (single-threaded encoders). */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libavutil/log.h>

#include "media-gen.h"
#include "parse-util.h"

static int usage(FILE *f, int status) {
        fputs("Usage: tandem-media-gen vp8|opus|h264 OUT [--seconds S] [--size WxH] [--fps F] [--tone HZ]\n"
              "                        [--channels 1|2] [--bitrate BPS] [--keyframe-interval FRAMES]\n"
              "Writes a synthetic clip: a moving pattern (IVF VP8 or Annex B H.264), or a sine tone\n"
              "(Ogg Opus). Defaults: 2 seconds, 320x240, 30 fps, 440 Hz, stereo.\n", f);
        return status;
}

static int parse_double(const char *s, double *ret) {
        char *end;
        errno = 0;
        double d = strtod(s, &end);
        if (errno != 0 || end == s || *end || !isfinite(d))
                return -EINVAL;
        *ret = d;
        return 0;
}

static int parse_size(const char *s, uint32_t *w, uint32_t *h) {
        const char *x = strchr(s, 'x');
        char buf[16];
        uint64_t a, b;
        if (!x || (size_t) (x - s) >= sizeof(buf))
                return -EINVAL;
        memcpy(buf, s, (size_t) (x - s));
        buf[x - s] = 0;
        if (parse_u64(buf, 4096, &a) < 0 || parse_u64(x + 1, 4096, &b) < 0)
                return -EINVAL;
        *w = (uint32_t) a;
        *h = (uint32_t) b;
        return 0;
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "seconds", required_argument, NULL, 's' },   { "size", required_argument, NULL, 'S' },
                { "fps", required_argument, NULL, 'f' },       { "tone", required_argument, NULL, 't' },
                { "channels", required_argument, NULL, 'c' },  { "bitrate", required_argument, NULL, 'b' },
                { "keyframe-interval", required_argument, NULL, 'k' }, { "help", no_argument, NULL, 'h' },
                {},
        };
        MediaGenOptions o = {};
        uint64_t u;
        int c;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case 's':
                        if (parse_double(optarg, &o.seconds) < 0 || !(o.seconds > 0))
                                goto bad;
                        break;
                case 'S':
                        if (parse_size(optarg, &o.width, &o.height) < 0)
                                goto bad;
                        break;
                case 'f':
                        if (parse_u64(optarg, 120, &u) < 0 || u == 0)
                                goto bad;
                        o.fps = (uint32_t) u;
                        break;
                case 't':
                        if (parse_double(optarg, &o.tone_hz) < 0 || !(o.tone_hz > 0))
                                goto bad;
                        break;
                case 'c':
                        if (parse_u64(optarg, 2, &u) < 0 || u == 0)
                                goto bad;
                        o.channels = (uint8_t) u;
                        break;
                case 'b':
                        if (parse_u64(optarg, 100000000, &u) < 0 || u == 0)
                                goto bad;
                        o.bitrate = (uint32_t) u;
                        break;
                case 'k':
                        if (parse_u64(optarg, 100000, &u) < 0 || u == 0)
                                goto bad;
                        o.keyframe_interval = (uint32_t) u;
                        break;
                case 'h':
                        return usage(stdout, 0);
                default:
                        return usage(stderr, 1);
                bad:
                        for (const struct option *opt = options; opt->name; opt++)
                                if (opt->val == c)
                                        fprintf(stderr, "tandem-media-gen: invalid --%s `%s'\n", opt->name, optarg);
                        return 1;
                }
        if (argc - optind != 2)
                return usage(stderr, 1);
        const char *kind = argv[optind], *out = argv[optind + 1];
        if (strcmp(kind, "vp8") == 0)
                o.codec = MEDIA_GEN_VP8;
        else if (strcmp(kind, "opus") == 0)
                o.codec = MEDIA_GEN_OPUS;
        else if (strcmp(kind, "h264") == 0)
                o.codec = MEDIA_GEN_H264;
        else {
                fprintf(stderr, "tandem-media-gen: unknown codec `%s' (vp8, opus or h264)\n", kind);
                return 1;
        }
        av_log_set_level(AV_LOG_ERROR); /* the encoders' banners are not ours to print */
        MediaGenOptions check = o;
        if (media_gen_options_finish(&check) < 0) {
                fprintf(stderr, "tandem-media-gen: invalid values (size even and at most 4096, fps 1-120, "
                                "seconds up to 3600, tone under 20000 Hz)\n");
                return 1;
        }
        int r = media_gen_write(&o, out);
        if (r < 0) {
                fprintf(stderr, "tandem-media-gen: failed to write %s: %s%s\n", out, strerror(-r),
                        r == -ENOENT ? " (libavcodec has no such encoder)" : "");
                return 1;
        }
        return 0;
}
