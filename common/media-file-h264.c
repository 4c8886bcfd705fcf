/* H.264 Annex B elementary streams: NAL units after 00 00 01 start codes, cut into access units
 * (H.264 7.4.1.2.3): an access unit delimiter, or an SPS/PPS/SEI/prefix NAL or a slice with
 * first_mb_in_slice 0 after the current unit's first slice, starts the next one. A unit with an
 * IDR slice is a keyframe; pts is frame index / frame rate (the stream carries no timing). */
#include <errno.h>
#include <string.h>

#include "media-file-internal.h"

enum {
        NAL_SLICE = 1,
        NAL_IDR = 5,
        NAL_SEI = 6,
        NAL_SPS = 7,
        NAL_PPS = 8,
        NAL_AUD = 9,
};

/* The offset of the next start code's first zero at or after from, and its length; len if none. */
static size_t find_start(const uint8_t *d, size_t len, size_t from, size_t *ret_code_len) {
        for (size_t i = from; i + 3 <= len; i++) {
                if (d[i] != 0 || d[i + 1] != 0)
                        continue;
                if (d[i + 2] == 1) {
                        /* A zero before it belongs to the start code (zero_byte). */
                        if (i > from && d[i - 1] == 0) {
                                *ret_code_len = 4;
                                return i - 1;
                        }
                        *ret_code_len = 3;
                        return i;
                }
        }
        *ret_code_len = 0;
        return len;
}

/* ---- bits of an RBSP, emulation prevention bytes (00 00 03) skipped ---------------------- */

typedef struct Bits {
        const uint8_t *d;
        size_t len, byte;
        unsigned bit;
        unsigned zeros;
        bool overrun;
} Bits;

static unsigned read_bit(Bits *b) {
        if (b->bit == 0) {
                if (b->byte < b->len && b->zeros >= 2 && b->d[b->byte] == 3) {
                        b->byte++;
                        b->zeros = 0;
                }
        }
        if (b->byte >= b->len) {
                b->overrun = true;
                return 0;
        }
        uint8_t v = b->d[b->byte];
        unsigned bit = (v >> (7 - b->bit)) & 1;
        if (++b->bit == 8) {
                b->bit = 0;
                b->byte++;
                b->zeros = v == 0 ? b->zeros + 1 : 0;
        }
        return bit;
}

static uint32_t read_bits(Bits *b, unsigned n) {
        uint32_t v = 0;
        while (n--)
                v = v << 1 | read_bit(b);
        return v;
}

/* ue(v), capped at 32 leading zeros (a larger value marks the stream broken). */
static uint32_t read_ue(Bits *b) {
        unsigned zeros = 0;
        while (read_bit(b) == 0) {
                if (++zeros > 31 || b->overrun) {
                        b->overrun = true;
                        return 0;
                }
        }
        return (uint32_t) ((UINT64_C(1) << zeros) - 1 + read_bits(b, zeros));
}

static int32_t read_se(Bits *b) {
        uint32_t k = read_ue(b);
        return k & 1 ? (int32_t) ((k + 1) / 2) : -(int32_t) (k / 2);
}

static void skip_scaling_list(Bits *b, unsigned size) {
        int32_t last = 8, next = 8;
        for (unsigned j = 0; j < size && !b->overrun; j++) {
                if (next != 0)
                        next = (last + read_se(b) + 256) % 256;
                last = next == 0 ? last : next;
        }
}

int media_h264_sps_size(const uint8_t *nal, size_t len, uint32_t *ret_w, uint32_t *ret_h) {
        Bits b = { .d = nal, .len = len };
        if (len < 4 || (nal[0] & 0x1f) != NAL_SPS)
                return -EBADMSG;
        b.byte = 1;
        unsigned profile = read_bits(&b, 8);
        read_bits(&b, 16); /* constraint flags, level */
        read_ue(&b);       /* seq_parameter_set_id */
        unsigned chroma = 1;
        if (profile == 100 || profile == 110 || profile == 122 || profile == 244 || profile == 44 ||
            profile == 83 || profile == 86 || profile == 118 || profile == 128 || profile == 138 ||
            profile == 139 || profile == 134 || profile == 135) {
                chroma = read_ue(&b);
                if (chroma > 3)
                        return -EBADMSG;
                if (chroma == 3)
                        read_bit(&b); /* separate_colour_plane_flag */
                read_ue(&b);          /* bit depths */
                read_ue(&b);
                read_bit(&b);         /* qpprime_y_zero_transform_bypass_flag */
                if (read_bit(&b))     /* seq_scaling_matrix_present_flag */
                        for (unsigned i = 0; i < (chroma != 3 ? 8u : 12u) && !b.overrun; i++)
                                if (read_bit(&b))
                                        skip_scaling_list(&b, i < 6 ? 16 : 64);
        }
        read_ue(&b); /* log2_max_frame_num_minus4 */
        uint32_t poc_type = read_ue(&b);
        if (poc_type == 0)
                read_ue(&b);
        else if (poc_type == 1) {
                read_bit(&b);
                read_se(&b);
                read_se(&b);
                uint32_t n = read_ue(&b);
                if (n > 255)
                        return -EBADMSG;
                for (uint32_t i = 0; i < n && !b.overrun; i++)
                        read_se(&b);
        } else if (poc_type > 2)
                return -EBADMSG;
        read_ue(&b); /* max_num_ref_frames */
        read_bit(&b);
        uint32_t w_mbs = read_ue(&b) + 1, h_units = read_ue(&b) + 1;
        unsigned frame_mbs_only = read_bit(&b);
        if (!frame_mbs_only)
                read_bit(&b);
        read_bit(&b); /* direct_8x8_inference_flag */
        uint32_t crop[4] = { 0 };
        if (read_bit(&b))
                for (int i = 0; i < 4; i++)
                        crop[i] = read_ue(&b);
        if (b.overrun || w_mbs > 1024 || h_units > 1024)
                return -EBADMSG;
        uint64_t w = (uint64_t) w_mbs * 16, h = (uint64_t) h_units * 16 * (2 - frame_mbs_only);
        unsigned cx = chroma == 1 || chroma == 2 ? 2 : 1, cy = (chroma == 1 ? 2 : 1) * (2 - frame_mbs_only);
        uint64_t cw = (uint64_t) cx * (crop[0] + (uint64_t) crop[1]), ch = (uint64_t) cy * (crop[2] + (uint64_t) crop[3]);
        if (cw >= w || ch >= h)
                return -EBADMSG;
        *ret_w = (uint32_t) (w - cw);
        *ret_h = (uint32_t) (h - ch);
        return 0;
}

int media_h264_open(MediaFile *f, uint32_t fps) {
        f->info = (MediaFileInfo) { .codec = MEDIA_CODEC_H264, .kind = MEDIA_KIND_VIDEO, .fps_num = fps, .fps_den = 1 };
        /* The size from the first SPS, if it parses; the stream is readable without. */
        size_t code, at = find_start(f->data, f->len, 0, &code);
        while (at < f->len) {
                size_t nal = at + code, next_code;
                size_t end = find_start(f->data, f->len, nal, &next_code);
                if (end > nal && (f->data[nal] & 0x1f) == NAL_SPS) {
                        uint32_t w, h;
                        if (media_h264_sps_size(f->data + nal, end - nal, &w, &h) == 0) {
                                f->info.width = w;
                                f->info.height = h;
                        }
                        break;
                }
                at = end;
                code = next_code;
        }
        f->pos = 0;
        return 0;
}

int media_h264_next(MediaFile *f, MediaPacket *ret) {
        size_t code, start = find_start(f->data, f->len, f->pos, &code);
        if (start >= f->len)
                return 0;
        bool vcl = false, idr = false;
        size_t at = start;
        while (at < f->len) {
                size_t nal = at + code, next_code;
                size_t end = find_start(f->data, f->len, nal, &next_code);
                if (end > nal) {
                        uint8_t type = f->data[nal] & 0x1f;
                        bool slice = type == NAL_SLICE || type == NAL_IDR;
                        /* first_mb_in_slice is ue(v): 0 is a single 1 bit, the top bit after the header. */
                        bool first_slice = slice && end - nal > 1 && (f->data[nal + 1] & 0x80);
                        bool opens = type == NAL_AUD || type == NAL_SEI || type == NAL_SPS || type == NAL_PPS ||
                                     (type >= 14 && type <= 18) || first_slice;
                        if (at > start && vcl && opens)
                                break;
                        if (at > start && type == NAL_AUD)
                                break;
                        vcl |= slice;
                        idr |= type == NAL_IDR;
                }
                at = end;
                code = next_code;
        }
        *ret = (MediaPacket) {
                .data = f->data + start,
                .len = at - start,
                .pts_us = (uint64_t) ((__uint128_t) f->index * 1000000u * f->info.fps_den / f->info.fps_num),
                .keyframe = idr,
        };
        f->pos = at;
        return 1;
}
