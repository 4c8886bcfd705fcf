/* The media readers on hand-made containers: IVF frames, sizes, pts from the time base and VP8
 * keyframe bits; Ogg Opus headers (channels, pre-skip, input rate), lacing, a packet spanning
 * three pages, pts from the first audio page's granule and the TOC durations, other logical
 * streams skipped, truncation an error; H.264 Annex B cut into access units at AUDs and first
 * slices, 3- and 4-byte start codes, IDR keyframes, the SPS size with cropping and emulation
 * prevention, pts from the frame rate; rewind; unknown containers refused.
 * `test-media-file --seeds DIR` writes the fuzzers' seed files instead. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "media-file.h"
#include "unaligned.h"

typedef struct Out {
        uint8_t d[1 << 20];
        size_t n;
} Out;

static void put(Out *o, const void *p, size_t n) {
        check(o->n + n <= sizeof(o->d));
        memcpy(o->d + o->n, p, n);
        o->n += n;
}

static void put_byte(Out *o, uint8_t v) {
        put(o, &v, 1);
}

/* ---- IVF ------------------------------------------------------------------------------- */

static void ivf_header(Out *o, uint16_t w, uint16_t h, uint32_t rate, uint32_t scale) {
        uint8_t hd[32] = "DKIF";
        put_le16(hd + 6, 32);
        memcpy(hd + 8, "VP80", 4);
        put_le16(hd + 12, w);
        put_le16(hd + 14, h);
        put_le32(hd + 16, rate);
        put_le32(hd + 20, scale);
        put(o, hd, 32);
}

static void ivf_frame(Out *o, uint64_t pts, bool key, size_t size) {
        uint8_t fh[12];
        put_le32(fh, (uint32_t) size);
        put_le64(fh + 4, pts);
        put(o, fh, 12);
        for (size_t i = 0; i < size; i++)
                put_byte(o, i == 0 ? (key ? 0x10 : 0x11) : (uint8_t) (pts + i));
}

static void build_ivf(Out *o) {
        o->n = 0;
        ivf_header(o, 320, 240, 30, 1);
        ivf_frame(o, 0, true, 100);
        ivf_frame(o, 1, false, 20);
        ivf_frame(o, 2, false, 1);
        ivf_frame(o, 30, true, 7);
}

static void test_ivf(void) {
        static Out o;
        build_ivf(&o);
        _cleanup_media_file_ MediaFile *f = NULL;
        check(media_file_open(o.d, o.n, 0, &f) == 0);
        const MediaFileInfo *i = media_file_info(f);
        check(i->codec == MEDIA_CODEC_VP8 && i->kind == MEDIA_KIND_VIDEO);
        check(i->width == 320 && i->height == 240 && i->fps_num == 30 && i->fps_den == 1);
        static const struct { size_t len; uint64_t pts; bool key; } want[] = {
                { 100, 0, true }, { 20, 33333, false }, { 1, 66666, false }, { 7, 1000000, true },
        };
        for (int round = 0; round < 2; round++) {
                MediaPacket p;
                for (size_t k = 0; k < 4; k++) {
                        check(media_file_next(f, &p) == 1);
                        check(p.len == want[k].len && p.pts_us == want[k].pts && p.keyframe == want[k].key);
                        check(p.data[0] == (want[k].key ? 0x10 : 0x11));
                }
                check(media_file_next(f, &p) == 0);
                media_file_rewind(f);
        }

        /* A frame running past the end: an error, then the end. */
        MediaFile *g;
        check(media_file_open(o.d, o.n - 1, 0, &g) == 0);
        MediaPacket p;
        for (int k = 0; k < 3; k++)
                check(media_file_next(g, &p) == 1);
        check(media_file_next(g, &p) == -EBADMSG);
        check(media_file_next(g, &p) == 0);
        media_file_free(g);

        /* Not VP8, no time base, too short. */
        uint8_t bad[32];
        memcpy(bad, o.d, 32);
        memcpy(bad + 8, "VP90", 4);
        check(media_file_open(bad, 32, 0, &g) == -EMEDIUMTYPE);
        memcpy(bad + 8, "VP80", 4);
        put_le32(bad + 16, 0);
        check(media_file_open(bad, 32, 0, &g) == -EBADMSG);
        check(media_file_open(o.d, 31, 0, &g) == -EBADMSG);
}

/* ---- Ogg Opus -------------------------------------------------------------------------- */

/* One page: the packets' lacing given as segment values, body bytes following. */
static void ogg_page(Out *o, uint32_t serial, uint8_t flags, uint64_t granule, const uint8_t *segs, size_t nsegs,
                     const uint8_t *body) {
        uint8_t h[27] = "OggS";
        h[5] = flags;
        put_le64(h + 6, granule);
        put_le32(h + 14, serial);
        h[26] = (uint8_t) nsegs;
        put(o, h, 27);
        put(o, segs, nsegs);
        size_t total = 0;
        for (size_t i = 0; i < nsegs; i++)
                total += segs[i];
        put(o, body, total);
}

static void ogg_single(Out *o, uint32_t serial, uint8_t flags, uint64_t granule, const uint8_t *p, size_t len) {
        uint8_t segs[255];
        size_t n = 0;
        size_t left = len;
        while (left >= 255) {
                segs[n++] = 255;
                left -= 255;
        }
        segs[n++] = (uint8_t) left;
        ogg_page(o, serial, flags, granule, segs, n, p);
}

static uint8_t body[70000];

/* An Opus packet of config (TOC >> 3), code 0, len bytes. */
static size_t opus_packet(uint8_t *p, uint8_t config, size_t len, uint8_t fill) {
        p[0] = (uint8_t) (config << 3);
        memset(p + 1, fill, len - 1);
        return len;
}

static void build_ogg(Out *o) {
        o->n = 0;
        uint8_t head[19] = "OpusHead";
        head[8] = 1;
        head[9] = 2;
        put_le16(head + 10, 312);
        put_le32(head + 12, 44100);
        ogg_single(o, 7, 2, 0, head, 19);
        ogg_single(o, 9, 2, 0, head, 19); /* another logical stream: skipped */
        ogg_single(o, 7, 0, 0, (const uint8_t *) "OpusTags\0\0\0\0\0\0\0\0", 16);
        /* Page 3: three 20 ms CELT packets (config 31: 960 samples), the last of 300 bytes;
         * the granule at its end says the stream starts at sample 1000. */
        size_t a = opus_packet(body, 31, 10, 1);
        size_t b = opus_packet(body + a, 31, 1, 2);
        size_t c = opus_packet(body + a + b, 31, 300, 3);
        uint8_t segs[] = { (uint8_t) a, (uint8_t) b, 255, 300 - 255 };
        ogg_page(o, 7, 0, 1000 + 3 * 960, segs, 4, body);
        (void) c;
        ogg_single(o, 9, 0, 0, body, 10);
        /* A 600-byte packet (10 ms SILK, config 0: 480) over three pages. */
        opus_packet(body, 0, 600, 4);
        uint8_t s1[] = { 255 }, s2[] = { 255 }, s3[] = { 90 };
        ogg_page(o, 7, 0, UINT64_MAX, s1, 1, body);
        ogg_page(o, 7, 1, UINT64_MAX, s2, 1, body + 255);
        ogg_page(o, 7, 1, 1000 + 4 * 960 + 480, s3, 1, body + 510);
        /* An empty packet (skipped) and a code-3 packet of 3 x 2.5 ms CELT (config 16: 120). */
        uint8_t last[] = { 16 << 3 | 3, 3, 0xaa };
        uint8_t s4[] = { 0, 3 };
        ogg_page(o, 7, 4, 0, s4, 2, last);
}

static void test_ogg(void) {
        static Out o;
        build_ogg(&o);
        _cleanup_media_file_ MediaFile *f = NULL;
        check(media_file_open(o.d, o.n, 0, &f) == 0);
        const MediaFileInfo *i = media_file_info(f);
        check(i->codec == MEDIA_CODEC_OPUS && i->kind == MEDIA_KIND_AUDIO);
        check(i->channels == 2 && i->pre_skip == 312 && i->input_rate == 44100 && i->sample_rate == 48000);
        static const struct { size_t len; uint64_t samples; uint8_t second; } want[] = {
                { 10, 1000, 1 }, { 1, 1960, 0 }, { 300, 2920, 3 }, { 600, 3880, 4 }, { 3, 4360, 3 },
        };
        for (int round = 0; round < 2; round++) {
                MediaPacket p;
                for (size_t k = 0; k < 5; k++) {
                        check(media_file_next(f, &p) == 1);
                        check(p.len == want[k].len && p.keyframe);
                        check(p.pts_us == want[k].samples * 1000000 / 48000);
                        if (p.len > 1)
                                check(p.data[1] == want[k].second);
                        if (p.len == 600)
                                check(p.data[599] == 4);
                }
                check(media_file_next(f, &p) == 0);
                media_file_rewind(f);
        }

        /* Cut inside the spanning packet: an error. */
        MediaFile *g;
        size_t cut = 0;
        for (size_t k = 0; k + 4 <= o.n; k++)
                if (memcmp(o.d + k, "OggS", 4) == 0 && o.d[k + 5] == 1) {
                        cut = k; /* the first continuation page */
                        break;
                }
        check(cut > 0);
        check(media_file_open(o.d, cut, 0, &g) == 0);
        MediaPacket p;
        for (int k = 0; k < 3; k++)
                check(media_file_next(g, &p) == 1);
        check(media_file_next(g, &p) == -EBADMSG);
        media_file_free(g);

        /* Not Opus; a header over the end; a bad TOC (code 3 with 0 frames). */
        static Out v;
        v.n = 0;
        ogg_single(&v, 1, 2, 0, (const uint8_t *) "\x01vorbis\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 23);
        check(media_file_open(v.d, v.n, 0, &g) == -EMEDIUMTYPE);
        check(media_file_open(o.d, 30, 0, &g) == -EBADMSG);
        uint8_t zero[] = { 3 };
        check(media_opus_packet_samples(zero, 1) == -EBADMSG);
        uint8_t many[] = { 3, 49 }; /* 49 x 2.5 ms SILK? config 0 is 10 ms: 490 ms, too long */
        check(media_opus_packet_samples(many, 2) == -EBADMSG);
}

/* ---- H.264 ----------------------------------------------------------------------------- */

typedef struct BitOut {
        uint8_t d[64];
        size_t bits;
} BitOut;

static void bit(BitOut *b, unsigned v) {
        if (v)
                b->d[b->bits / 8] |= (uint8_t) (0x80 >> (b->bits % 8));
        b->bits++;
}

static void bits(BitOut *b, uint32_t v, unsigned n) {
        while (n--)
                bit(b, (v >> n) & 1);
}

static void ue(BitOut *b, uint32_t v) {
        uint64_t x = (uint64_t) v + 1;
        unsigned n = 0;
        while ((x >> n) > 1)
                n++;
        bits(b, 0, n);
        bits(b, (uint32_t) x, n + 1);
}

/* An SPS NAL (header included) for w x h (multiples of 2) with crop, baseline, emulation
 * prevention applied: returns its length in out. */
static size_t make_sps_id(uint8_t *out, uint32_t w, uint32_t h, uint8_t constraint, uint32_t id) {
        BitOut b = { { 0 }, 0 };
        bits(&b, 0x67, 8);
        bits(&b, 66, 8);    /* baseline */
        bits(&b, constraint, 8);
        bits(&b, 0, 8);     /* level 0 */
        ue(&b, id);         /* sps id */
        ue(&b, 0);          /* log2_max_frame_num_minus4 */
        ue(&b, 2);          /* poc type 2 */
        ue(&b, 1);          /* max_num_ref_frames */
        bit(&b, 0);
        uint32_t wm = (w + 15) / 16, hm = (h + 15) / 16;
        ue(&b, wm - 1);
        ue(&b, hm - 1);
        bit(&b, 1); /* frame_mbs_only */
        bit(&b, 1); /* direct_8x8 */
        bool crop = wm * 16 != w || hm * 16 != h;
        bit(&b, crop);
        if (crop) {
                ue(&b, 0);
                ue(&b, (wm * 16 - w) / 2);
                ue(&b, 0);
                ue(&b, (hm * 16 - h) / 2);
        }
        bit(&b, 0); /* vui */
        bit(&b, 1); /* rbsp stop bit */
        size_t n = (b.bits + 7) / 8, o = 0, zeros = 0;
        for (size_t i = 0; i < n; i++) {
                if (zeros >= 2 && b.d[i] <= 3) {
                        out[o++] = 3;
                        zeros = 0;
                }
                out[o++] = b.d[i];
                zeros = b.d[i] == 0 ? zeros + 1 : 0;
        }
        return o;
}

static size_t make_sps(uint8_t *out, uint32_t w, uint32_t h) {
        return make_sps_id(out, w, h, 0xc0, 0);
}

static void nal(Out *o, bool four, const uint8_t *p, size_t n) {
        static const uint8_t sc[] = { 0, 0, 0, 1 };
        put(o, four ? sc : sc + 1, four ? 4 : 3);
        put(o, p, n);
}

static void slice(Out *o, uint8_t type, bool first, uint8_t fill) {
        uint8_t s[8] = { (uint8_t) (0x60 | type), first ? 0x88 : 0x48, fill, fill, fill, fill, fill, 0x80 };
        nal(o, false, s, sizeof(s));
}

static void build_h264(Out *o) {
        o->n = 0;
        uint8_t sps[64];
        size_t n = make_sps(sps, 1280, 720);
        static const uint8_t aud[] = { 0x09, 0xf0 }, pps[] = { 0x68, 0xce, 0x38, 0x80 };
        nal(o, true, aud, 2);
        nal(o, true, sps, n);
        nal(o, true, pps, 4);
        slice(o, 5, true, 1);  /* AU 1: IDR in two slices */
        slice(o, 5, false, 2);
        slice(o, 1, true, 3);  /* AU 2: no delimiter, a first slice opens it */
        nal(o, true, aud, 2);  /* AU 3 */
        slice(o, 1, true, 4);
        slice(o, 1, false, 5);
}

static void test_h264(void) {
        static Out o;
        uint8_t sps[64];
        uint32_t w, h;
        size_t n = make_sps(sps, 1280, 720);
        check(media_h264_sps_size(sps, n, &w, &h) == 0 && w == 1280 && h == 720);
        n = make_sps(sps, 320, 240);
        check(media_h264_sps_size(sps, n, &w, &h) == 0 && w == 320 && h == 240);
        n = make_sps_id(sps, 16, 16, 0, 63); /* 00 00 02: an emulation prevention byte */
        check(memchr(sps + 1, 3, n - 1) != NULL);
        check(media_h264_sps_size(sps, n, &w, &h) == 0 && w == 16 && h == 16);
        check(media_h264_sps_size(sps, 5, &w, &h) == -EBADMSG);

        build_h264(&o);
        _cleanup_media_file_ MediaFile *f = NULL;
        check(media_file_open(o.d, o.n, 25, &f) == 0);
        const MediaFileInfo *i = media_file_info(f);
        check(i->codec == MEDIA_CODEC_H264 && i->width == 1280 && i->height == 720 && i->fps_num == 25);
        MediaPacket p;
        for (int round = 0; round < 2; round++) {
                check(media_file_next(f, &p) == 1);
                check(p.keyframe && p.pts_us == 0 && p.data == o.d && p.data[4] == 0x09);
                check(p.len == 4 + 2 + 4 + make_sps(sps, 1280, 720) + 4 + 4 + 2 * (3 + 8));
                check(media_file_next(f, &p) == 1);
                check(!p.keyframe && p.pts_us == 40000 && p.len == 11 && p.data[5] == 3);
                check(media_file_next(f, &p) == 1);
                check(!p.keyframe && p.pts_us == 80000 && p.data + p.len == o.d + o.n && p.len == 6 + 22);
                check(media_file_next(f, &p) == 0);
                media_file_rewind(f);
        }
        MediaFile *g;
        static const uint8_t junk[] = "hello, not media";
        check(media_file_open(junk, sizeof(junk), 0, &g) == -EMEDIUMTYPE);
        check(media_file_open(junk, 0, 0, &g) == -EMEDIUMTYPE);
}

static void test_names(void) {
        check(media_codec_from_name("vp8", 3) == MEDIA_CODEC_VP8);
        check(media_codec_from_name("opus", 4) == MEDIA_CODEC_OPUS);
        check(media_codec_from_name("h264", 4) == MEDIA_CODEC_H264);
        check(media_codec_from_name("h26", 3) == -EINVAL);
        check(strcmp(media_codec_name(MEDIA_CODEC_H264), "h264") == 0 && media_codec_name(3) == NULL);
}

/* The fuzzers put the container's magic in front of their input: seeds go without it. */
static void write_seed(const char *dir, const char *name, const Out *o, size_t magic) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        FILE *f = fopen(path, "we");
        check(f && fwrite(o->d + magic, 1, o->n - magic, f) == o->n - magic && fclose(f) == 0);
}

int main(int argc, char **argv) {
        if (argc == 3 && strcmp(argv[1], "--seeds") == 0) {
                static Out o;
                char d[4096];
                snprintf(d, sizeof(d), "%s/fuzz-media-ivf", argv[2]);
                mkdir(d, 0755);
                build_ivf(&o);
                write_seed(d, "seed-ivf", &o, 4);
                snprintf(d, sizeof(d), "%s/fuzz-media-ogg", argv[2]);
                mkdir(d, 0755);
                build_ogg(&o);
                write_seed(d, "seed-ogg", &o, 4);
                snprintf(d, sizeof(d), "%s/fuzz-media-h264", argv[2]);
                mkdir(d, 0755);
                build_h264(&o);
                write_seed(d, "seed-h264", &o, 0);
                return 0;
        }
        test_names();
        test_ivf();
        test_ogg();
        test_h264();
        printf("ok\n");
        return 0;
}
