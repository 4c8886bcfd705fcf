/* tandem-media-gen's containers: IVF for VP8, Ogg Opus (RFC 7845) and a bare Annex B stream for
 * H.264. Small writers of our own: the readers that take these files are common/media-file*.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "macro.h"
#include "media-gen.h"

#define OGG_SERIAL 0x54616e64u /* "Tand" */

typedef struct Writer {
        FILE *f;
        MediaGenCodec codec;
        MediaGenInfo info;
        uint32_t frames;
        /* Ogg */
        uint32_t page;
        uint64_t granule;
        uint8_t *pending; /* the last packet, held back so the final page can say end-of-stream */
        size_t pending_len, pending_size;
        uint32_t pending_samples;
        bool have_pending;
} Writer;

static void le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void le32(uint8_t *p, uint32_t v) {
        le16(p, (uint16_t) v);
        le16(p + 2, (uint16_t) (v >> 16));
}

static void le64(uint8_t *p, uint64_t v) {
        le32(p, (uint32_t) v);
        le32(p + 4, (uint32_t) (v >> 32));
}

static int put(Writer *w, const void *p, size_t n) {
        return fwrite(p, 1, n, w->f) == n ? 0 : -EIO;
}

/* ---- IVF: a 32-byte file header, then per frame 4 bytes of size and 8 of pts ---- */

static int ivf_header(Writer *w, uint32_t frames) {
        uint8_t h[32] = { 'D', 'K', 'I', 'F' };
        le16(h + 4, 0);
        le16(h + 6, 32);
        memcpy(h + 8, "VP80", 4);
        le16(h + 12, (uint16_t) w->info.width);
        le16(h + 14, (uint16_t) w->info.height);
        le32(h + 16, w->info.fps); /* timebase: 1/fps */
        le32(h + 20, 1);
        le32(h + 24, frames);
        return put(w, h, sizeof(h));
}

static int ivf_frame(Writer *w, const MediaGenPacket *p) {
        uint8_t h[12];
        le32(h, (uint32_t) p->len);
        le64(h + 4, p->pts_us * w->info.fps / 1000000);
        int r = put(w, h, sizeof(h));
        return r < 0 ? r : put(w, p->data, p->len);
}

/* ---- Ogg: pages with the CRC-32 of polynomial 0x04c11db7 (unreflected, initial 0) ---- */

static uint32_t ogg_crc(const uint8_t *p, size_t n, uint32_t crc) {
        for (size_t i = 0; i < n; i++) {
                crc ^= (uint32_t) p[i] << 24;
                for (int b = 0; b < 8; b++)
                        crc = crc & 0x80000000u ? (crc << 1) ^ 0x04c11db7u : crc << 1;
        }
        return crc;
}

/* One packet per page (every packet here is < 255 * 255 bytes). */
static int ogg_page(Writer *w, const uint8_t *data, size_t len, uint8_t flags, uint64_t granule) {
        uint8_t h[27 + 255];
        size_t segments = len / 255 + 1;
        if (segments > 255)
                return -E2BIG;
        memcpy(h, "OggS", 4);
        h[4] = 0;
        h[5] = flags;
        le64(h + 6, granule);
        le32(h + 14, OGG_SERIAL);
        le32(h + 18, w->page++);
        le32(h + 22, 0);
        h[26] = (uint8_t) segments;
        for (size_t i = 0; i < segments; i++)
                h[27 + i] = i + 1 < segments ? 255 : (uint8_t) (len % 255);
        uint32_t crc = ogg_crc(h, 27 + segments, 0);
        crc = ogg_crc(data, len, crc);
        le32(h + 22, crc);
        int r = put(w, h, 27 + segments);
        return r < 0 ? r : put(w, data, len);
}

static int opus_headers(Writer *w) {
        uint8_t head[19] = { 'O', 'p', 'u', 's', 'H', 'e', 'a', 'd', 1, w->info.channels };
        le16(head + 10, (uint16_t) w->info.pre_skip);
        le32(head + 12, w->info.sample_rate);
        le16(head + 16, 0); /* output gain */
        head[18] = 0;       /* channel mapping family 0: mono or stereo */
        int r = ogg_page(w, head, sizeof(head), 0x02, 0);
        if (r < 0)
                return r;
        static const char vendor[] = "tandem-media-gen";
        uint8_t tags[8 + 4 + sizeof(vendor) - 1 + 4];
        memcpy(tags, "OpusTags", 8);
        le32(tags + 8, sizeof(vendor) - 1);
        memcpy(tags + 12, vendor, sizeof(vendor) - 1);
        le32(tags + 12 + sizeof(vendor) - 1, 0);
        return ogg_page(w, tags, sizeof(tags), 0, 0);
}

static int ogg_flush(Writer *w, bool last) {
        if (!w->have_pending)
                return 0;
        w->granule += w->pending_samples;
        w->have_pending = false;
        return ogg_page(w, w->pending, w->pending_len, last ? 0x04 : 0, w->granule);
}

static int ogg_packet(Writer *w, const MediaGenPacket *p) {
        int r = ogg_flush(w, false);
        if (r < 0)
                return r;
        if (p->len > w->pending_size) {
                uint8_t *b = realloc(w->pending, p->len);
                if (!b)
                        return -ENOMEM;
                w->pending = b;
                w->pending_size = p->len;
        }
        memcpy(w->pending, p->data, p->len);
        w->pending_len = p->len;
        w->pending_samples = p->samples;
        w->have_pending = true;
        return 0;
}

static int on_info(const MediaGenInfo *info, void *userdata) {
        Writer *w = userdata;
        w->info = *info;
        switch (w->codec) {
        case MEDIA_GEN_VP8:
                return ivf_header(w, 0); /* the count is filled in at the end */
        case MEDIA_GEN_OPUS:
                return opus_headers(w);
        default:
                return 0;
        }
}

static int on_packet(const MediaGenPacket *p, void *userdata) {
        Writer *w = userdata;
        w->frames++;
        switch (w->codec) {
        case MEDIA_GEN_VP8:
                return ivf_frame(w, p);
        case MEDIA_GEN_OPUS:
                return ogg_packet(w, p);
        default:
                return put(w, p->data, p->len); /* Annex B access units, start codes included */
        }
}

int media_gen_write(const MediaGenOptions *o, const char *path) {
        Writer w = { .codec = o->codec };
        w.f = fopen(path, "we");
        if (!w.f)
                return -errno;
        int r = media_gen_run(o, on_info, on_packet, &w);
        if (r >= 0 && o->codec == MEDIA_GEN_OPUS)
                r = ogg_flush(&w, true);
        if (r >= 0 && o->codec == MEDIA_GEN_VP8) {
                uint8_t n[4];
                le32(n, w.frames);
                if (fseek(w.f, 24, SEEK_SET) < 0 || fwrite(n, 1, 4, w.f) != 4)
                        r = -EIO;
        }
        free(w.pending);
        if (fclose(w.f) != 0 && r >= 0)
                r = -EIO;
        if (r < 0)
                unlink(path);
        return r;
}
