/* The lossless tile codec (schema/display-codecs.md, codec 2): palette with packed or run-length
 * indexes for up to 256 colours, the gradient predictor for more, then one zstd level-1 frame.
 *
 * The scan writes one index byte per pixel into `content` just after HEADER_RESERVE bytes, so an
 * 8-bit palette tile is already in its final place: the header (mode, count, palette) is written
 * right-aligned in front of it, and packing to 1, 2 or 4 bits happens in place. Nothing is
 * allocated per tile. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
/* For ZSTD_c_literalCompressionMode: an experimental parameter, which libzstd accepts through the
 * stable ZSTD_CCtx_setParameter(); when a libzstd refuses it, gradient tiles are merely larger. */
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#include <tmmintrin.h>
#endif

#include "hostd-tile.h"

/* Room for the largest header: mode, count, 256 RGB entries. */
#define HEADER_RESERVE (2 + 3 * LOSSLESS_PALETTE_MAX)
/* put_rgb_row() writes one byte past the last pixel. */
#define SLACK 4
#define TILE_PIXELS_MAX (DISPLAY_TILE_MAX_DIM * DISPLAY_TILE_MAX_DIM)
#define HASH_BITS 10
#define HASH_SIZE (1u << HASH_BITS)

/* Gradient residuals are mostly noise to zstd's match finder: a negative level skips through
 * them faster, and with its literals still Huffman-coded (negative levels leave them raw by
 * default) the frames come out the same size as at level 1 on the UI and photo sets, ~1/3 faster.
 * Matches of at least 7 bytes only (zstd's longest minimum): shorter ones in residuals cost more
 * as sequences than they save as literals, and the search finds fewer to try. -30 with that is
 * smaller than -16 without it: UI set, lossless only, per pass (callgrind, encoder_encode):
 *   -16, minMatch default  190.1M instructions, 0.88M mispredicted branches, 580866 bytes/frame
 *   -16, minMatch 7        182.1M              0.84M                          572308
 *   -30, minMatch 7        180.2M              0.79M                          577334
 * (photo set: 189915 -> 187339 -> 186428 bytes/frame). Smooth synthetic gradients, where matches
 * do pay, grow (lossless-only: by default they go JPEG). */
#define GRADIENT_ZSTD_LEVEL (-30)
#define GRADIENT_ZSTD_MIN_MATCH 7

/* Palette and run tiles at level 1, but with matches of at least 6 bytes whatever the size
 * (level 1 takes 5 for small inputs): UI 176.0M -> 175.2M instructions a pass, 0.746M -> 0.738M
 * mispredicted branches, +0.04% bytes; text 6438 -> 6298 bytes/frame. 7 is faster still but
 * +0.9% on UI. */
#define PALETTE_ZSTD_MIN_MATCH 6

struct LosslessEncoder {
        ZSTD_CCtx *zc;
        ZSTD_CCtx *zc_gradient; /* GRADIENT_ZSTD_LEVEL, literals Huffman-coded */
        uint8_t *content; /* HEADER_RESERVE + 3 * TILE_PIXELS_MAX + SLACK */
        uint8_t *rle;     /* HEADER_RESERVE + TILE_PIXELS_MAX: runs are used only when smaller than one byte a pixel */
        uint8_t *out;
        size_t out_size;
        uint8_t row[4 * DISPLAY_TILE_MAX_DIM]; /* one row of gradient residuals, B,G,R,X */

        /* The palette of the last scan, in order of first appearance. */
        uint32_t palette[LOSSLESS_PALETTE_MAX];
        unsigned colours;

        /* Open-addressing colour -> index table, at most 25% full; emptied after every scan through
         * `slot` (where each palette colour sits) rather than with a memset. Colours are whole
         * 32-bit pixels: X is 0xff in hostd's framebuffer, and if it ever were not, two entries
         * with one RGB value would still decode right. values[] holds index + 1, 0 = empty; an
         * empty slot's key is empty_key(), which never matches a colour looked up there. */
        uint32_t keys[HASH_SIZE];
        uint16_t values[HASH_SIZE];
        uint16_t slot[LOSSLESS_PALETTE_MAX];

        /* The strip being scanned (lossless_strip_*): the index rows' stride, the width of the parts
         * of the current band taken so far and their count, the runs of all parts taken. */
        unsigned strip_stride, strip_width, strip_runs, strip_parts;
        unsigned band_y, band_colours, band_runs; /* rows of the bands done; colours and runs after them */
        uint32_t strip_first;
};

/* The key of an empty slot: a colour that does not hash to it, so that keys[s] == c alone says
 * that c is in slot s (hash_slot(0) is 0, hash_slot(1) is not). */
static inline uint32_t empty_key(uint32_t s) {
        return s == 0 ? 1 : 0;
}

LosslessEncoder *lossless_encoder_new(void) {
        _cleanup_(lossless_encoder_freep) LosslessEncoder *l = calloc(1, sizeof(LosslessEncoder));
        if (!l)
                return NULL;
        l->zc = ZSTD_createCCtx();
        l->zc_gradient = ZSTD_createCCtx();
        if (!l->zc || !l->zc_gradient || ZSTD_isError(ZSTD_CCtx_setParameter(l->zc, ZSTD_c_compressionLevel, LOSSLESS_ZSTD_LEVEL)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(l->zc_gradient, ZSTD_c_compressionLevel, GRADIENT_ZSTD_LEVEL)))
                return NULL;
        (void) ZSTD_CCtx_setParameter(l->zc_gradient, ZSTD_c_literalCompressionMode, ZSTD_ps_enable);
        (void) ZSTD_CCtx_setParameter(l->zc_gradient, ZSTD_c_minMatch, GRADIENT_ZSTD_MIN_MATCH);
        (void) ZSTD_CCtx_setParameter(l->zc, ZSTD_c_minMatch, PALETTE_ZSTD_MIN_MATCH);
        l->content = malloc(HEADER_RESERVE + 3 * (size_t) TILE_PIXELS_MAX + SLACK);
        l->rle = malloc(HEADER_RESERVE + (size_t) TILE_PIXELS_MAX);
        l->out_size = ZSTD_compressBound(HEADER_RESERVE + 3 * (size_t) TILE_PIXELS_MAX);
        l->out = malloc(l->out_size);
        if (!l->content || !l->rle || !l->out)
                return NULL;
        for (uint32_t s = 0; s < HASH_SIZE; s++)
                l->keys[s] = empty_key(s);
        return TAKE_PTR(l);
}

LosslessEncoder *lossless_encoder_free(LosslessEncoder *l) {
        if (!l)
                return NULL;
        ZSTD_freeCCtx(l->zc);
        ZSTD_freeCCtx(l->zc_gradient);
        free(l->content);
        free(l->rle);
        free(l->out);
        free(l);
        return NULL;
}

static inline uint32_t hash_slot(uint32_t colour) {
        return (colour * 0x9E3779B1u) >> (32 - HASH_BITS);
}

/* The index of colour, added if new; -1 when the palette is full. */
static inline int palette_index(LosslessEncoder *l, uint32_t colour) {
        uint32_t s = hash_slot(colour);
        for (; l->values[s]; s = (s + 1) & (HASH_SIZE - 1))
                if (l->keys[s] == colour)
                        return l->values[s] - 1;
        if (l->colours == LOSSLESS_PALETTE_MAX)
                return -1;
        unsigned i = l->colours++;
        l->keys[s] = colour;
        l->values[s] = (uint16_t) (i + 1);
        l->slot[i] = (uint16_t) s;
        l->palette[i] = colour;
        return (int) i;
}

/* Runs from pixel (x, y) on, after the palette overflowed: only the count is still wanted, and
 * only up to `enough` (a photo reaches it quickly, and then nothing more is to be learnt). */
static unsigned count_runs_from(const uint8_t *src, size_t stride, unsigned w, unsigned h, unsigned x, unsigned y,
                                uint32_t prev, unsigned enough) {
        unsigned runs = 0;
        for (; y < h && runs <= enough; y++, x = 0) {
                const uint32_t *row = (const uint32_t *) (src + y * stride);
                for (; x < w; x++) {
                        runs += row[x] != prev;
                        prev = row[x];
                }
        }
        return runs;
}

/* count_all: count runs past the palette's overflow (else stop there); photo_cutoff: stop a
 * quarter in on continuous-tone content (as if the palette had overflowed). */
/* index: where the indexes go, a row every istride bytes. Goes on from the palette and hash as
 * they are (empty for a tile of its own), and leaves them so. */
static inline void scan_into(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, bool count_all,
                             bool photo_cutoff, uint8_t *index, size_t istride, TileScan *ret) {
        const uint32_t *first = (const uint32_t *) src;
        uint32_t prev = ~first[0]; /* differs from the first pixel: it starts a run */
        unsigned runs = 0, inner = 0; /* inner: runs starting inside the previous row */
        bool overflow = false;

        for (unsigned y = 0; y < h && !overflow; y++) {
                const uint32_t *row = (const uint32_t *) (src + y * stride);
                uint8_t *out = index + (size_t) y * istride;

                /* A row like the one above (flat areas, vertical edges: most rows of a UI) costs a
                 * memcmp and a memcpy instead of a look at every pixel. */
                if (y > 0 && memcmp(row, (const uint8_t *) row - stride, (size_t) w * 4) == 0) {
                        memcpy(out, out - istride, w);
                        runs += (row[0] != prev) + inner;
                        continue;
                }

                unsigned before = runs + (row[0] != prev);
                /* A hash lookup at every pixel rather than at colour changes only: text and UI
                 * change colour at unpredictable places, and a mispredicted branch a change cost
                 * more than the lookups, which hit their first slot nearly always (predictably). */
                for (unsigned x = 0; x < w; x++) {
                        uint32_t c = row[x], s = hash_slot(c);
                        int i;
                        if (__builtin_expect(l->keys[s] == c, 1))
                                i = l->values[s] - 1;
                        else if ((i = palette_index(l, c)) < 0) {
                                if (count_all)
                                        runs += 1 + count_runs_from(src, stride, w, h, x + 1, y, c,
                                                                    TILE_SCAN_RUNS_ENOUGH(w, h));
                                overflow = true;
                                break;
                        }
                        runs += c != prev;
                        prev = c;
                        out[x] = (uint8_t) i;
                }
                inner = runs - before;

                /* A quarter of the tile in, already rich in colours and changing colour at every
                 * other pixel: a photo. The rest would only confirm it, at the price of a hash
                 * lookup per pixel; report it as "many colours", with the runs extrapolated. */
                size_t seen = (size_t) (y + 1) * w;
                if (photo_cutoff && !overflow && l->colours >= TILE_PHOTO_COLOURS && 4 * seen >= (size_t) w * h &&
                    y + 1 < h && 2 * (size_t) runs > seen) {
                        runs = (unsigned) ((size_t) runs * h / (y + 1));
                        overflow = true;
                }
        }

        *ret = (TileScan) {
                .colours = overflow ? 0 : l->colours,
                .runs = runs,
                .first = first[0] & 0xffffffu,
        };
}

static inline void hash_clear(LosslessEncoder *l, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                l->values[l->slot[i]] = 0;
                l->keys[l->slot[i]] = empty_key(l->slot[i]);
        }
}

/* Takes the colours from index `keep` on out of the hash again, newest first: what went in before
 * is then where it was (open addressing only fills empty slots). */
static inline void hash_forget(LosslessEncoder *l, unsigned keep) {
        for (unsigned i = l->colours; i-- > keep;) {
                l->values[l->slot[i]] = 0;
                l->keys[l->slot[i]] = empty_key(l->slot[i]);
        }
}

/* A tile of its own: an empty palette to start with, the hash emptied after. */
static inline void scan(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, bool count_all,
                        bool photo_cutoff, TileScan *ret) {
        l->colours = 0;
        scan_into(l, src, stride, w, h, count_all, photo_cutoff, l->content + HEADER_RESERVE, w, ret);
        hash_clear(l, l->colours);
}

bool lossless_looks_photo(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h) {
        unsigned rows = (h + 3) / 4, runs = 0;
        const uint32_t *first = (const uint32_t *) src;
        uint32_t prev = ~first[0];

        /* Compares only: cheap, and enough to let flat and text-like tiles go. */
        for (unsigned y = 0; y < rows; y++) {
                const uint32_t *row = (const uint32_t *) (src + y * stride);
                for (unsigned x = 0; x < w; x++) {
                        runs += row[x] != prev;
                        prev = row[x];
                }
        }
        if (2 * (size_t) runs <= (size_t) rows * w)
                return false;

        /* Then colours, only until there are TILE_PHOTO_COLOURS of them. */
        bool many = false;
        l->colours = 0;
        prev = ~first[0];
        for (unsigned y = 0; y < rows && !many; y++) {
                const uint32_t *row = (const uint32_t *) (src + y * stride);
                for (unsigned x = 0; x < w; x++)
                        if (row[x] != prev) {
                                prev = row[x];
                                (void) palette_index(l, prev);
                                if (l->colours >= TILE_PHOTO_COLOURS) {
                                        many = true;
                                        break;
                                }
                        }
        }
        hash_clear(l, l->colours);
        l->colours = 0;
        return many;
}

void lossless_scan(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, TileScan *ret) {
        scan(l, src, stride, w, h, true, true, ret);
}

void lossless_scan_colours(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, TileScan *ret) {
        scan(l, src, stride, w, h, false, true, ret);
}

bool lossless_scan_palette(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, TileScan *ret) {
        scan(l, src, stride, w, h, false, false, ret);
        return ret->colours > 0;
}

void lossless_strip_begin(LosslessEncoder *l, unsigned width) {
        l->colours = 0;
        l->strip_stride = width;
        l->strip_width = 0;
        l->strip_runs = 0;
        l->strip_parts = 0;
        l->band_y = 0;
        l->band_colours = 0;
        l->band_runs = 0;
}

bool lossless_strip_add(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, bool count_all,
                        TileScan *ret) {
        uint8_t *index = l->content + HEADER_RESERVE + (size_t) l->band_y * l->strip_stride + l->strip_width;
        unsigned before = l->colours;
        bool first = l->band_y == 0 && l->strip_parts == 0;

        assert(l->strip_width + w <= l->strip_stride);
        /* The first part exactly as a tile of its own (it may be one); the others only as long as
         * the union stays within the palette. */
        scan_into(l, src, stride, w, h, first && count_all, first, index, l->strip_stride, ret);
        if (ret->colours == 0) {
                /* Out of the hash at once: the slots' record of them goes when the next colours
                 * come in (a band below). */
                hash_forget(l, before);
                l->colours = before;
                return false;
        }
        if (first)
                l->strip_first = ret->first;
        l->strip_width += w;
        l->strip_runs += ret->runs;
        l->strip_parts++;
        return true;
}

unsigned lossless_strip_band_end(LosslessEncoder *l, unsigned h) {
        unsigned parts = l->strip_parts, w = l->strip_width;
        if (parts == 0)
                return 0;
        if (l->band_y == 0 && w < l->strip_stride) {
                /* The first band decides the width: its rows made contiguous, the bands below
                 * scanned at that width. */
                uint8_t *index = l->content + HEADER_RESERVE;
                for (unsigned y = 1; y < h; y++)
                        memmove(index + (size_t) y * w, index + (size_t) y * l->strip_stride, w);
                l->strip_stride = w;
        }
        l->band_y += h;
        l->band_colours = l->colours;
        l->band_runs = l->strip_runs;
        l->strip_width = 0;
        l->strip_parts = 0;
        return parts;
}

void lossless_strip_band_drop(LosslessEncoder *l) {
        hash_forget(l, l->band_colours);
        l->colours = l->band_colours;
        l->strip_runs = l->band_runs;
        l->strip_width = 0;
        l->strip_parts = 0;
}

unsigned lossless_strip_end(LosslessEncoder *l, TileScan *ret) {
        hash_clear(l, l->colours);
        /* Runs are the parts' own, counted down each part's rows rather than along the strip's: close
         * enough for the choice between packed rows and runs. */
        *ret = (TileScan) { .colours = l->band_y > 0 ? l->colours : 0, .runs = l->strip_runs, .first = l->strip_first };
        return l->band_y;
}

/* Writes mode, count and palette so that they end exactly at `end`; returns where they start. */
static uint8_t *put_palette_header(uint8_t *end, uint8_t mode, const uint32_t *palette, unsigned n) {
        uint8_t *p = end - (2 + 3 * n);
        p[0] = mode;
        p[1] = (uint8_t) (n - 1);
        for (unsigned i = 0; i < n; i++) {
                p[2 + 3 * i + 0] = (uint8_t) (palette[i] >> 16);
                p[2 + 3 * i + 1] = (uint8_t) (palette[i] >> 8);
                p[2 + 3 * i + 2] = (uint8_t) palette[i];
        }
        return p;
}

/* Packs rows of 8-bit indexes to `bits` bits in place (output never overtakes input: a packed
 * row is no longer than an unpacked one). Returns the packed size. */
static size_t pack_in_place(uint8_t *index, unsigned w, unsigned h, unsigned bits) {
        if (bits == 8)
                return (size_t) w * h;
        unsigned per = 8 / bits, full = w / per, rest = w % per;
        uint8_t *out = index;
        for (unsigned y = 0; y < h; y++) {
                const uint8_t *in = index + (size_t) y * w;
                switch (bits) {
                case 1:
                        for (unsigned k = 0; k < full; k++, in += 8)
                                *out++ = (uint8_t) (in[0] << 7 | in[1] << 6 | in[2] << 5 | in[3] << 4 | in[4] << 3 |
                                                    in[5] << 2 | in[6] << 1 | in[7]);
                        break;
                case 2:
                        for (unsigned k = 0; k < full; k++, in += 4)
                                *out++ = (uint8_t) (in[0] << 6 | in[1] << 4 | in[2] << 2 | in[3]);
                        break;
                default:
                        for (unsigned k = 0; k < full; k++, in += 2)
                                *out++ = (uint8_t) (in[0] << 4 | in[1]);
                        break;
                }
                if (rest) {
                        unsigned byte = 0;
                        for (unsigned k = 0; k < per; k++)
                                byte = byte << bits | (k < rest ? in[k] : 0);
                        *out++ = (uint8_t) byte;
                }
        }
        return (size_t) (out - index);
}

/* Runs of indexes as (index, length-1 in LEB128); 0 if they would take more than cap bytes. */
static size_t rle_encode(const uint8_t *index, size_t pixels, uint8_t *out, size_t cap) {
        size_t n = 0;
        for (size_t i = 0; i < pixels;) {
                uint8_t v = index[i];
                size_t j = i + 1;
                /* Eight indexes a comparison: runs are long in the tiles that get here. */
                uint64_t all = v * UINT64_C(0x0101010101010101), word;
                while (j + 8 <= pixels && (memcpy(&word, index + j, 8), word == all))
                        j += 8;
                while (j < pixels && index[j] == v)
                        j++;
                size_t len = j - i - 1;
                if (n + 1 + LOSSLESS_RUN_BYTES_MAX > cap)
                        return 0;
                out[n++] = v;
                while (len >= 0x80) {
                        out[n++] = (uint8_t) (len | 0x80);
                        len >>= 7;
                }
                out[n++] = (uint8_t) len;
                i = j;
        }
        return n;
}

/* The framebuffer's B,G,R,X as the wire's R,G,B: one 32-bit load, a byte swap and one 32-bit store
 * a pixel. The store's fourth byte lands on the next pixel's first and is overwritten by it;
 * the last pixel writes one byte past 3 * w, which the buffers leave room for (SLACK). */
static inline void put_rgb_row(const uint8_t *bgrx, unsigned w, uint8_t *out) {
        for (unsigned x = 0; x < w; x++) {
                uint32_t v;
                memcpy(&v, bgrx + 4 * (size_t) x, 4);
                v = __builtin_bswap32(v) >> 8; /* B,G,R,X -> R,G,B,0 in memory order */
                memcpy(out + 3 * (size_t) x, &v, 4);
        }
}

#if defined(__x86_64__) && defined(__SSE2__)
/* Four pixels a shuffle where the CPU has SSSE3 (not in x86-64's baseline, hence the check): each
 * step stores 16 bytes for 12, the extra 4 overwritten by the next step (or SLACK). */
__attribute__((target("ssse3"))) static void put_rgb_row_ssse3(const uint8_t *bgrx, unsigned w, uint8_t *out) {
        const __m128i order = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
        unsigned x = 0;
        for (; x + 4 <= w; x += 4)
                _mm_storeu_si128((__m128i *) (out + 3 * (size_t) x),
                                 _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *) (bgrx + 4 * (size_t) x)), order));
        put_rgb_row(bgrx + 4 * (size_t) x, w - x, out + 3 * (size_t) x);
}

static void put_rgb_rows(const uint8_t *src, size_t stride, unsigned w, unsigned h, uint8_t *out) {
        static int ssse3 = -1;
        if (ssse3 < 0)
                ssse3 = __builtin_cpu_supports("ssse3") ? 1 : 0;
        for (unsigned y = 0; y < h; y++, out += 3 * (size_t) w) {
                if (ssse3)
                        put_rgb_row_ssse3(src + y * stride, w, out);
                else
                        put_rgb_row(src + y * stride, w, out);
        }
}
#else
static void put_rgb_rows(const uint8_t *src, size_t stride, unsigned w, unsigned h, uint8_t *out) {
        for (unsigned y = 0; y < h; y++, out += 3 * (size_t) w)
                put_rgb_row(src + y * stride, w, out);
}
#endif

static void put_raw(const uint8_t *src, size_t stride, unsigned w, unsigned h, uint8_t *out) {
        put_rgb_rows(src, stride, w, h, out);
}

/* clamp(L + U - UL, 0, 255) without leaving 8 bits: with d+ = U ⊖ UL and d- = UL ⊖ U (saturating
 * subtractions, one of them 0), it is (L ⊕ d+) ⊖ d-, saturating both; SSE2 has all three. */
static inline uint8_t predict_u8(uint8_t l, uint8_t u, uint8_t ul) {
        unsigned up = u > ul ? u - ul : 0, down = ul > u ? ul - u : 0, p = l + up;
        p = p > 255 ? 255 : p;
        return (uint8_t) (p > down ? p - down : 0);
}

#ifdef __SSE2__
/* Residuals of bytes i..i+15 (four pixels), i >= 4. */
static inline void gradient_step(const uint8_t *row, const uint8_t *up, size_t i, uint8_t *res) {
        __m128i l = _mm_loadu_si128((const __m128i *) (row + i - 4));
        __m128i u = _mm_loadu_si128((const __m128i *) (up + i));
        __m128i ul = _mm_loadu_si128((const __m128i *) (up + i - 4));
        __m128i v = _mm_loadu_si128((const __m128i *) (row + i));
        __m128i p = _mm_subs_epu8(_mm_adds_epu8(l, _mm_subs_epu8(u, ul)), _mm_subs_epu8(ul, u));
        _mm_storeu_si128((__m128i *) (res + i), _mm_sub_epi8(v, p));
}
#endif

/* Residuals of one row in the framebuffer's own byte order (B,G,R,X), against clamp(L + U - UL)
 * with 0 for neighbours outside the tile (up == NULL: the first row). */
static void gradient_row(const uint8_t *row, const uint8_t *up, size_t bytes, uint8_t *res) {
        if (!up) {
                for (size_t i = 0; i < 4 && i < bytes; i++)
                        res[i] = row[i];
                for (size_t i = 4; i < bytes; i++)
                        res[i] = (uint8_t) (row[i] - row[i - 4]);
                return;
        }
        for (size_t i = 0; i < 4 && i < bytes; i++)
                res[i] = (uint8_t) (row[i] - up[i]);
        size_t i = 4;
#ifdef __SSE2__
        /* Four pixels a step: x86-64's baseline, so no dispatch. */
        for (; i + 16 <= bytes; i += 16)
                gradient_step(row, up, i, res);
        /* The rest as one more step ending at the row's end, overlapping the last: a residual
         * depends on the source only, so computing some twice is harmless. */
        if (i < bytes && bytes >= 20) {
                gradient_step(row, up, bytes - 16, res);
                i = bytes;
        }
#endif
        for (; i < bytes; i++)
                res[i] = (uint8_t) (row[i] - predict_u8(row[i - 4], up[i], up[i - 4]));
}

/* Residuals against clamp(L + U - UL), computed a row at a time on BGRX bytes into `scratch`
 * (4 * w bytes), then reordered to the wire's R, G, B. */
static void put_gradient_rows(const uint8_t *src, size_t stride, unsigned w, unsigned h, uint8_t *scratch, uint8_t *out) {
        size_t bytes = 4 * (size_t) w;
        for (unsigned y = 0; y < h; y++, out += 3 * (size_t) w) {
                const uint8_t *row = src + y * stride;
                gradient_row(row, y > 0 ? row - stride : NULL, bytes, scratch);
                put_rgb_rows(scratch, bytes, w, 1, out);
        }
}

#if defined(__x86_64__) && defined(__SSE2__)
/* The same in one pass where the CPU has SSSE3: four residuals a step, reordered to R,G,B in the
 * register and stored (16 bytes for 12, the extra 4 overwritten by the next step, the next row or
 * SLACK). The first row predicts from a row of zeros, which is the rule's 0 above the tile (then
 * P = L); the first pixel of a row, with L = UL = 0, from above (P = U). */
__attribute__((target("ssse3"))) static void put_gradient_ssse3(const uint8_t *src, size_t stride, unsigned w, unsigned h,
                                                               uint8_t *out) {
        static const uint8_t zero[4 * DISPLAY_TILE_MAX_DIM];
        const __m128i order = _mm_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
        size_t bytes = 4 * (size_t) w;
        for (unsigned y = 0; y < h; y++, out += 3 * (size_t) w) {
                const uint8_t *row = src + y * stride, *up = y > 0 ? row - stride : zero;
                for (unsigned k = 0; k < 3; k++)
                        out[2 - k] = (uint8_t) (row[k] - up[k]);
                if (bytes < 20) { /* too narrow for a step after the first pixel */
                        for (size_t i = 4; i < bytes; i++)
                                if ((i & 3) != 3)
                                        out[3 * (i / 4) + 2 - (i & 3)] =
                                                (uint8_t) (row[i] - predict_u8(row[i - 4], up[i], up[i - 4]));
                        continue;
                }
                size_t i = 4;
                for (;; i += 16) {
                        if (i + 16 > bytes)
                                i = bytes - 16; /* the last step overlaps the one before: same values */
                        __m128i l = _mm_loadu_si128((const __m128i *) (row + i - 4));
                        __m128i u = _mm_loadu_si128((const __m128i *) (up + i));
                        __m128i ul = _mm_loadu_si128((const __m128i *) (up + i - 4));
                        __m128i v = _mm_loadu_si128((const __m128i *) (row + i));
                        __m128i p = _mm_subs_epu8(_mm_adds_epu8(l, _mm_subs_epu8(u, ul)), _mm_subs_epu8(ul, u));
                        _mm_storeu_si128((__m128i *) (out + 3 * (i / 4)), _mm_shuffle_epi8(_mm_sub_epi8(v, p), order));
                        if (i + 16 >= bytes)
                                break;
                }
        }
}

static void put_gradient(const uint8_t *src, size_t stride, unsigned w, unsigned h, uint8_t *scratch, uint8_t *out) {
        static int ssse3 = -1;
        if (ssse3 < 0)
                ssse3 = __builtin_cpu_supports("ssse3") ? 1 : 0;
        if (ssse3)
                put_gradient_ssse3(src, stride, w, h, out);
        else
                put_gradient_rows(src, stride, w, h, scratch, out);
}
#else
static void put_gradient(const uint8_t *src, size_t stride, unsigned w, unsigned h, uint8_t *scratch, uint8_t *out) {
        put_gradient_rows(src, stride, w, h, scratch, out);
}
#endif

/* One frame with the content size in its header (ZSTD_compress2 pledges the whole input). */
static int compress(LosslessEncoder *l, const uint8_t *content, size_t len, const uint8_t **ret, size_t *ret_len) {
        ZSTD_CCtx *zc = content[0] == LOSSLESS_GRADIENT ? l->zc_gradient : l->zc;
        size_t n = ZSTD_compress2(zc, l->out, l->out_size, content, len);
        if (ZSTD_isError(n))
                return -EIO;
        *ret = l->out;
        *ret_len = n;
        return 0;
}

int lossless_encode_mode(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h,
                         const TileScan *scan, uint8_t mode, const uint8_t **ret, size_t *ret_len) {
        uint8_t *body = l->content + HEADER_RESERVE;
        size_t pixels = (size_t) w * h;

        switch (mode) {
        case LOSSLESS_RAW:
        case LOSSLESS_GRADIENT:
                if (mode == LOSSLESS_RAW)
                        put_raw(src, stride, w, h, body);
                else
                        put_gradient(src, stride, w, h, l->row, body);
                body[-1] = mode;
                return compress(l, body - 1, 1 + 3 * pixels, ret, ret_len);

        case LOSSLESS_PALETTE: {
                if (!scan || scan->colours == 0)
                        return -EINVAL;
                size_t packed = pack_in_place(body, w, h, lossless_index_bits(scan->colours));
                uint8_t *start = put_palette_header(body, LOSSLESS_PALETTE, l->palette, scan->colours);
                return compress(l, start, (size_t) (body - start) + packed, ret, ret_len);
        }

        case LOSSLESS_PALETTE_RLE: {
                if (!scan || scan->colours == 0)
                        return -EINVAL;
                uint8_t *runs = l->rle + HEADER_RESERVE;
                size_t n = rle_encode(body, pixels, runs, TILE_PIXELS_MAX);
                if (n == 0)
                        return -EINVAL;
                uint8_t *start = put_palette_header(runs, LOSSLESS_PALETTE_RLE, l->palette, scan->colours);
                return compress(l, start, (size_t) (runs - start) + n, ret, ret_len);
        }

        default:
                return -EINVAL;
        }
}

int lossless_encode(LosslessEncoder *l, const uint8_t *src, size_t stride, unsigned w, unsigned h, const TileScan *scan,
                    const uint8_t **ret, size_t *ret_len) {
        if (scan->colours == 0)
                return lossless_encode_mode(l, src, stride, w, h, scan, LOSSLESS_GRADIENT, ret, ret_len);

        /* Runs (about two bytes each) pay only in mostly flat tiles, at under a quarter of the packed
         * rows' size: zstd finds the repeats in packed rows of text and UI by itself, in fewer
         * bytes and in less time than the run coding plus zstd over its less regular output
         * (bench/bench-encode: UI and text smaller and faster, photos' lossless tiles ~1% larger). */
        size_t packed = (size_t) h * lossless_packed_row(w, lossless_index_bits(scan->colours));
        if ((size_t) scan->runs * 8 < packed) {
                uint8_t *body = l->content + HEADER_RESERVE, *runs = l->rle + HEADER_RESERVE;
                size_t n = rle_encode(body, (size_t) w * h, runs, packed);
                if (n > 0) {
                        uint8_t *start = put_palette_header(runs, LOSSLESS_PALETTE_RLE, l->palette, scan->colours);
                        return compress(l, start, (size_t) (runs - start) + n, ret, ret_len);
                }
        }
        return lossless_encode_mode(l, src, stride, w, h, scan, LOSSLESS_PALETTE, ret, ret_len);
}
