/* Ogg Opus (RFC 3533, RFC 7845): pages of a 27-byte header and a segment table (lacing values:
 * 255 continues a packet), the first logical stream's packets OpusHead, OpusTags, then audio.
 * pts comes from the first audio page's granule position (the 48 kHz sample position at the end
 * of its last complete packet) less the durations of the packets ending on that page, then from
 * each packet's duration (its TOC byte). Other logical streams are skipped. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "media-file-internal.h"
#include "unaligned.h"

#define PAGE_HEADER 27
#define FLAG_CONTINUED 1
#define FLAG_BOS 2
#define ASM_MAX (MEDIA_FILE_PACKET_MAX + 65536)

/* Loads the next page of our stream; 1, 0 at the end, -EBADMSG. */
static int load_page(MediaFile *f) {
        for (;;) {
                size_t left = f->len - f->pos;
                if (left == 0)
                        return 0;
                const uint8_t *h = f->data + f->pos;
                if (left < PAGE_HEADER || memcmp(h, "OggS", 4) != 0 || h[4] != 0)
                        return -EBADMSG;
                size_t nsegs = h[26];
                if (left - PAGE_HEADER < nsegs)
                        return -EBADMSG;
                size_t body = 0;
                for (size_t i = 0; i < nsegs; i++)
                        body += h[PAGE_HEADER + i];
                if (left - PAGE_HEADER - nsegs < body)
                        return -EBADMSG;
                f->pos += PAGE_HEADER + nsegs + body;
                if (get_le32(h + 14) != f->serial)
                        continue;
                f->page_segs = h + PAGE_HEADER;
                f->page_nsegs = nsegs;
                f->page_seg = 0;
                f->page_body = (size_t) (h + PAGE_HEADER + nsegs - f->data);
                bool continued = h[5] & FLAG_CONTINUED;
                if (f->asm_open && !continued)
                        return -EBADMSG; /* the page that should end a packet starts a new one */
                if (!f->asm_open && continued) {
                        /* The rest of a packet we never saw the start of: skip it. */
                        while (f->page_seg < nsegs) {
                                uint8_t v = f->page_segs[f->page_seg++];
                                f->page_body += v;
                                if (v < 255)
                                        break;
                        }
                }
                return 1;
        }
}

/* The granule of the page whose segment table is f->page_segs. */
static uint64_t page_granule(const MediaFile *f) {
        return get_le64(f->page_segs - PAGE_HEADER + 6);
}

/* On the first audio page: the position of its first packet from its granule. */
static void take_position(MediaFile *f) {
        uint64_t granule = page_granule(f), sum = 0;
        size_t off = f->page_body, start = off;
        bool ok = granule != UINT64_MAX && !f->asm_open;
        for (size_t i = f->page_seg; ok && i < f->page_nsegs; i++) {
                off += f->page_segs[i];
                if (f->page_segs[i] == 255)
                        continue;
                if (off > start) {
                        int n = media_opus_packet_samples(f->data + start, off - start);
                        if (n < 0)
                                ok = false;
                        else
                                sum += (uint64_t) n;
                }
                start = off;
        }
        f->samples = ok && sum <= granule ? granule - sum : 0;
        f->have_position = true;
}

/* The next whole packet of our stream: 1, 0 at the end, <0. */
static int next_raw(MediaFile *f, const uint8_t **ret, size_t *ret_len, bool audio) {
        if (!f->asm_open)
                f->asm_len = 0;
        for (;;) {
                if (!f->page_segs || f->page_seg >= f->page_nsegs) {
                        int r = load_page(f);
                        if (r <= 0)
                                return r == 0 && f->asm_open ? -EBADMSG : r;
                        if (audio && !f->have_position)
                                take_position(f);
                        continue;
                }
                size_t start = f->page_body, total = 0;
                bool done = false;
                while (f->page_seg < f->page_nsegs) {
                        uint8_t v = f->page_segs[f->page_seg++];
                        total += v;
                        if (v < 255) {
                                done = true;
                                break;
                        }
                }
                f->page_body += total;
                if (done && !f->asm_open) {
                        *ret = f->data + start;
                        *ret_len = total;
                        return 1;
                }
                if (f->asm_len + total > ASM_MAX)
                        return -EFBIG;
                if (f->asm_len + total > f->asm_cap) {
                        size_t cap = MAX(f->asm_cap * 2, f->asm_len + total);
                        uint8_t *b = realloc(f->asm_buf, MIN(cap, (size_t) ASM_MAX));
                        if (!b)
                                return -ENOMEM;
                        f->asm_buf = b;
                        f->asm_cap = MIN(cap, (size_t) ASM_MAX);
                }
                if (total)
                        memcpy(f->asm_buf + f->asm_len, f->data + start, total);
                f->asm_len += total;
                f->asm_open = !done;
                if (done) {
                        *ret = f->asm_buf;
                        *ret_len = f->asm_len;
                        return 1;
                }
        }
}

static int read_headers(MediaFile *f) {
        const uint8_t *p;
        size_t n;
        f->pos = 0;
        f->page_segs = NULL;
        f->asm_open = false;
        f->have_position = false;
        f->samples = 0;
        int r = next_raw(f, &p, &n, false);
        if (r <= 0)
                return -EBADMSG;
        if (n < 19 || memcmp(p, "OpusHead", 8) != 0)
                return -EMEDIUMTYPE;
        if ((p[8] >> 4) != 0 || p[9] == 0)
                return -EBADMSG; /* major version 0; at least one channel */
        f->info = (MediaFileInfo) {
                .codec = MEDIA_CODEC_OPUS,
                .kind = MEDIA_KIND_AUDIO,
                .sample_rate = 48000,
                .input_rate = get_le32(p + 12),
                .channels = p[9],
                .pre_skip = get_le16(p + 10),
        };
        r = next_raw(f, &p, &n, false);
        if (r <= 0 || n < 8 || memcmp(p, "OpusTags", 8) != 0)
                return -EBADMSG;
        return 0;
}

int media_ogg_open(MediaFile *f) {
        const uint8_t *h = f->data;
        if (f->len < PAGE_HEADER || !(h[5] & FLAG_BOS))
                return -EBADMSG;
        f->serial = get_le32(h + 14);
        return read_headers(f);
}

void media_ogg_rewind(MediaFile *f) {
        (void) read_headers(f); /* it worked at open */
}

int media_ogg_next(MediaFile *f, MediaPacket *ret) {
        for (;;) {
                const uint8_t *p;
                size_t n;
                int r = next_raw(f, &p, &n, true);
                if (r <= 0)
                        return r;
                if (n == 0)
                        continue; /* an empty packet: nothing to decode */
                int samples = media_opus_packet_samples(p, n);
                if (samples < 0)
                        return samples;
                *ret = (MediaPacket) {
                        .data = p,
                        .len = n,
                        .pts_us = f->samples * 1000000u / 48000u,
                        .keyframe = true, /* every Opus packet decodes alone */
                };
                f->samples += (uint64_t) samples;
                return 1;
        }
}
