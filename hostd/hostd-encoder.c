/* Tiling, classification, merging and the lossy bookkeeping; the codecs are in hostd-tile-*.c.
 *
 * A call runs in two passes over the 64x64 grid cells the region touches. Pass one first tries
 * strips of up to four cells side by side as one lossless tile (most of a UI or a console: one
 * scan and one zstd frame for 256x64 pixels), then scans the remaining cells one by one (colours,
 * runs, indexes) and emits lossless tiles at once, while the scan's indexes are still in the
 * lossless codec's buffer; solid and JPEG cells are only marked. Pass two merges marked neighbours
 * into rectangles of up to 256x256 and emits them. */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hostd-encoder-lossy.h"
#include "hostd-encoder.h"
#include "hostd-tile.h"

/* Below this many pixels a JPEG's ~600 bytes of header and tables outweigh what it saves. */
#define SMALL_TILE_PIXELS 1024

/* CELL_GRADIENT: over 256 colours, exact (lossless gradient). Such cells merge like JPEG ones, but
 * only two side by side: one zstd frame costs a fixed ~30-50k instructions (its entropy tables),
 * so two cells a frame save that once (bench-encode, UI lossless only: 187M -> 182M instructions
 * a pass, 0.06% fewer bytes). Wider or taller merges are cheaper still but larger (256x64 +0.6%,
 * 128x128 +0.3%, 256x256 +1.2%: zstd's fast negative level skips more of a longer input and one
 * Huffman table serves unlike cells). */
typedef enum { CELL_NONE, CELL_SOLID, CELL_JPEG, CELL_GRADIENT } CellKind;
#define GRADIENT_MERGE_W (2 * ENCODER_CELL)
#define GRADIENT_MERGE_H ENCODER_CELL

typedef struct Cell {
        Rect tile; /* the change inside this cell; empty when untouched */
        uint32_t colour;
        uint8_t kind; /* CellKind */
        bool done;
} Cell;

struct Encoder {
        LosslessEncoder *lossless;
        JpegEncoder *jpeg;
        LossyMap lossy; /* also fixes the mode the grid is laid out for */
        Cell *cells;    /* lossy.cols * lossy.rows, all zero between calls */
        EncoderStats stats;
};

Encoder *encoder_new(void) {
        _cleanup_(encoder_freep) Encoder *e = calloc(1, sizeof(Encoder));
        if (!e)
                return NULL;
        e->lossless = lossless_encoder_new();
        e->jpeg = jpeg_encoder_new();
        if (!e->lossless || !e->jpeg)
                return NULL;
        return TAKE_PTR(e);
}

Encoder *encoder_free(Encoder *e) {
        if (!e)
                return NULL;
        lossless_encoder_free(e->lossless);
        jpeg_encoder_free(e->jpeg);
        lossy_map_done(&e->lossy);
        free(e->cells);
        free(e);
        return NULL;
}

void encoder_reset(Encoder *e) {
        /* Same size, so this only clears and cannot fail. */
        if (e->lossy.cells)
                (void) lossy_map_reset(&e->lossy, e->lossy.width, e->lossy.height);
}

bool encoder_has_lossy(const Encoder *e) {
        return e->lossy.count > 0;
}

size_t encoder_lossy_count(const Encoder *e) {
        return e->lossy.count;
}

void encoder_get_stats(const Encoder *e, EncoderStats *ret) {
        *ret = e->stats;
}

void encoder_reset_stats(Encoder *e) {
        e->stats = (EncoderStats) {};
}

/* Lays the grid out for fb's mode; a new mode forgets the lossy areas of the old one. */
static int encoder_fit(Encoder *e, const Framebuffer *fb) {
        if (e->cells && e->lossy.width == fb->width && e->lossy.height == fb->height)
                return 0;

        size_t n = (size_t) ((fb->width + ENCODER_CELL - 1) / ENCODER_CELL) * ((fb->height + ENCODER_CELL - 1) / ENCODER_CELL);
        Cell *cells = calloc(n, sizeof(Cell));
        if (!cells)
                return -ENOMEM;
        int r = lossy_map_reset(&e->lossy, fb->width, fb->height);
        if (r < 0) {
                free(cells);
                return r;
        }
        free(e->cells);
        e->cells = cells;
        return 0;
}

static inline const uint8_t *pixel_ptr(const Framebuffer *fb, Rect r) {
        return fb->pixels + (size_t) r.y * fb->stride + (size_t) r.x * 4;
}

static int emit(Encoder *e, TileSink sink, void *userdata, Rect r, uint8_t codec, uint8_t quality, const uint8_t *data,
                size_t len) {
        int k = sink(userdata, (uint16_t) r.x, (uint16_t) r.y, (uint16_t) r.w, (uint16_t) r.h, codec, quality, data, len);
        if (k < 0)
                return k;
        e->stats.tiles[codec]++;
        e->stats.pixels[codec] += (uint64_t) r.w * (uint64_t) r.h;
        e->stats.bytes[codec] += len;
        if (codec == DISPLAY_CODEC_JPEG)
                lossy_map_add(&e->lossy, r);
        else
                lossy_map_subtract(&e->lossy, r);
        return 0;
}

static int emit_solid(Encoder *e, TileSink sink, void *userdata, Rect r, uint32_t colour) {
        const uint8_t rgb[3] = { (uint8_t) (colour >> 16), (uint8_t) (colour >> 8), (uint8_t) colour };
        return emit(e, sink, userdata, r, DISPLAY_CODEC_SOLID, DISPLAY_QUALITY_EXACT, rgb, sizeof(rgb));
}

/* The tile just scanned, exactly: solid for one colour, else lossless. */
static int emit_exact(Encoder *e, const Framebuffer *fb, Rect r, const TileScan *scan, TileSink sink, void *userdata) {
        if (scan->colours == 1)
                return emit_solid(e, sink, userdata, r, scan->first);
        const uint8_t *data;
        size_t len;
        int k = lossless_encode(e->lossless, pixel_ptr(fb, r), fb->stride, (unsigned) r.w, (unsigned) r.h, scan, &data,
                                &len);
        if (k < 0)
                return k;
        return emit(e, sink, userdata, r, DISPLAY_CODEC_LOSSLESS, DISPLAY_QUALITY_EXACT, data, len);
}

static CellKind classify(const TileScan *scan, size_t pixels, const EncoderSettings *s) {
        if (scan->colours == 1)
                return CELL_SOLID;
        if (s->lossless_only || pixels < SMALL_TILE_PIXELS)
                return CELL_NONE;
        if (scan->colours == 0) /* over 256 colours: a photo, unless mostly flat (an icon on a panel) */
                return scan->runs <= TILE_SCAN_RUNS_ENOUGH(pixels, 1) ? CELL_NONE : CELL_JPEG;
        if (scan->colours >= TILE_PHOTO_COLOURS && (size_t) scan->runs * 2 > pixels)
                return CELL_JPEG;
        return CELL_NONE;
}

static inline Cell *cell_at(Encoder *e, uint32_t cx, uint32_t cy) {
        return &e->cells[(size_t) cy * e->lossy.cols + cx];
}

/* The widest and tallest tile the settings allow. */
static inline int32_t tile_max_dim(const EncoderSettings *s) {
        return s->single_cell ? ENCODER_CELL : (int32_t) DISPLAY_TILE_MAX_DIM;
}

/* The widest and tallest that pass two makes of a kind of cell. */
static inline int32_t merge_max_w(const EncoderSettings *s, uint8_t kind) {
        return kind == CELL_GRADIENT ? MIN(tile_max_dim(s), GRADIENT_MERGE_W) : tile_max_dim(s);
}

static inline int32_t merge_max_h(const EncoderSettings *s, uint8_t kind) {
        return kind == CELL_GRADIENT ? MIN(tile_max_dim(s), GRADIENT_MERGE_H) : tile_max_dim(s);
}

static inline bool mergeable(const Cell *a, const Cell *b) {
        return !b->done && b->kind == a->kind && (a->kind != CELL_SOLID || a->colour == b->colour);
}

/* Grows r by the row of cells cx0..cx1-1 at cy when they continue it exactly downwards. */
static bool extend_down(Encoder *e, const Cell *first, Rect *r, uint32_t cx0, uint32_t cx1, uint32_t cy,
                        const EncoderSettings *s) {
        int32_t x = r->x, h = cell_at(e, cx0, cy)->tile.h;
        if (r->h + h > merge_max_h(s, first->kind))
                return false;
        for (uint32_t cx = cx0; cx < cx1; cx++) {
                const Cell *c = cell_at(e, cx, cy);
                if (!mergeable(first, c) || c->tile.x != x || c->tile.y != r->y + r->h || c->tile.h != h)
                        return false;
                x += c->tile.w;
        }
        if (x != r->x + r->w)
                return false;
        for (uint32_t cx = cx0; cx < cx1; cx++)
                cell_at(e, cx, cy)->done = true;
        r->h += h;
        return true;
}

/* Pass two: greedy rectangles of same-kind cells, right first, then down. */
static int emit_merged(Encoder *e, const Framebuffer *fb, Rect cells, const EncoderSettings *s, TileSink sink,
                       void *userdata, int *count) {
        uint32_t cx1 = (uint32_t) (cells.x + cells.w), cy1 = (uint32_t) (cells.y + cells.h);

        for (uint32_t cy = (uint32_t) cells.y; cy < cy1; cy++)
                for (uint32_t cx = (uint32_t) cells.x; cx < cx1; cx++) {
                        Cell *c = cell_at(e, cx, cy);
                        if (c->kind == CELL_NONE || c->done)
                                continue;
                        c->done = true;

                        Rect r = c->tile;
                        uint32_t ex = cx + 1;
                        for (; ex < cx1; ex++) {
                                Cell *n = cell_at(e, ex, cy);
                                if (!mergeable(c, n) || n->tile.y != r.y || n->tile.h != r.h || n->tile.x != r.x + r.w ||
                                    r.w + n->tile.w > merge_max_w(s, c->kind))
                                        break;
                                n->done = true;
                                r.w += n->tile.w;
                        }
                        for (uint32_t ey = cy + 1; ey < cy1 && extend_down(e, c, &r, cx, ex, ey, s); ey++)
                                ;

                        int k;
                        const uint8_t *data;
                        size_t len;
                        if (c->kind == CELL_SOLID)
                                k = emit_solid(e, sink, userdata, r, c->colour);
                        else if (c->kind == CELL_GRADIENT) {
                                k = lossless_encode_mode(e->lossless, pixel_ptr(fb, r), fb->stride, (unsigned) r.w,
                                                         (unsigned) r.h, NULL, LOSSLESS_GRADIENT, &data, &len);
                                if (k >= 0)
                                        k = emit(e, sink, userdata, r, DISPLAY_CODEC_LOSSLESS, DISPLAY_QUALITY_EXACT, data,
                                                 len);
                        } else {
                                k = jpeg_encode(e->jpeg, pixel_ptr(fb, r), fb->stride, (unsigned) r.w, (unsigned) r.h,
                                                s->quality, s->subsampling, &data, &len);
                                if (k >= 0)
                                        k = emit(e, sink, userdata, r, DISPLAY_CODEC_JPEG, (uint8_t) s->quality, data, len);
                        }
                        if (k < 0)
                                return k;
                        (*count)++;
                }
        return 0;
}

/* Records region's part in each cell as that cell's tile; returns the cells touched, in cell
 * coordinates (empty when none). */
static Rect collect(Encoder *e, const Framebuffer *fb, const Region *region) {
        uint32_t cx0 = UINT32_MAX, cy0 = UINT32_MAX, cx1 = 0, cy1 = 0;

        for (size_t i = 0; i < region->n; i++) {
                Rect r = region->rects[i];
                if (!rect_clip(&r, (int32_t) fb->width, (int32_t) fb->height))
                        continue;
                uint32_t ax = (uint32_t) r.x / ENCODER_CELL, bx = (uint32_t) (r.x + r.w - 1) / ENCODER_CELL;
                uint32_t ay = (uint32_t) r.y / ENCODER_CELL, by = (uint32_t) (r.y + r.h - 1) / ENCODER_CELL;
                for (uint32_t cy = ay; cy <= by; cy++)
                        for (uint32_t cx = ax; cx <= bx; cx++) {
                                Rect cell = { (int32_t) cx * ENCODER_CELL, (int32_t) cy * ENCODER_CELL, ENCODER_CELL,
                                              ENCODER_CELL };
                                Rect part = rect_intersect(r, cell);
                                Cell *c = cell_at(e, cx, cy);
                                if (rect_is_empty(c->tile))
                                        c->tile = part;
                                else {
                                        int32_t x0 = MIN(c->tile.x, part.x), y0 = MIN(c->tile.y, part.y);
                                        int32_t x1 = MAX(c->tile.x + c->tile.w, part.x + part.w);
                                        int32_t y1 = MAX(c->tile.y + c->tile.h, part.y + part.h);
                                        c->tile = (Rect) { x0, y0, x1 - x0, y1 - y0 };
                                }
                        }
                cx0 = MIN(cx0, ax);
                cy0 = MIN(cy0, ay);
                cx1 = MAX(cx1, bx + 1);
                cy1 = MAX(cy1, by + 1);
        }
        if (cx0 == UINT32_MAX)
                return (Rect) {};
        return (Rect) { (int32_t) cx0, (int32_t) cy0, (int32_t) (cx1 - cx0), (int32_t) (cy1 - cy0) };
}

/* Marks the cell solid when its tile is one colour: checked before strips are formed, so that
 * solid cells keep merging with their neighbours in pass two. Stops at the first other pixel, so
 * it costs little on any other cell. */
static bool mark_if_solid(const Framebuffer *fb, Cell *c) {
        const uint32_t *first = (const uint32_t *) pixel_ptr(fb, c->tile);
        uint32_t v = first[0];
        for (int32_t x = 1; x < c->tile.w; x++)
                if (first[x] != v)
                        return false;
        for (int32_t y = 1; y < c->tile.h; y++)
                if (memcmp((const uint8_t *) first + (size_t) y * fb->stride, first, (size_t) c->tile.w * 4) != 0)
                        return false;
        c->kind = CELL_SOLID;
        c->colour = v & 0xffffffu;
        return true;
}

/* Whether r may go JPEG and its first quarter says it should: no full scan needed then. */
static bool looks_photo(Encoder *e, const Framebuffer *fb, Rect r, const EncoderSettings *s) {
        return !s->lossless_only && (size_t) r.w * (size_t) r.h >= SMALL_TILE_PIXELS &&
               lossless_looks_photo(e->lossless, pixel_ptr(fb, r), fb->stride, (unsigned) r.w, (unsigned) r.h);
}

/* What pass one does with a cell once scanned (the scan's indexes the lossless encoder's current
 * ones): marks it for pass two, or emits it losslessly now. */
static int settle_cell(Encoder *e, const Framebuffer *fb, Cell *c, const TileScan *scan, const EncoderSettings *s,
                       TileSink sink, void *userdata, int *count) {
        c->kind = classify(scan, (size_t) c->tile.w * (size_t) c->tile.h, s);
        c->colour = scan->first;
        if (c->kind == CELL_NONE && scan->colours == 0)
                c->kind = CELL_GRADIENT; /* merged with its like in pass two */
        if (c->kind != CELL_NONE)
                return 0;
        int k = emit_exact(e, fb, c->tile, scan, sink, userdata);
        if (k < 0)
                return k;
        c->tile = (Rect) {};
        (*count)++;
        return 0;
}

/* Pass one for one cell: scan, classify, emit it now if it is lossless. */
static int encode_cell(Encoder *e, const Framebuffer *fb, Cell *c, const EncoderSettings *s, TileSink sink,
                       void *userdata, int *count) {
        if (looks_photo(e, fb, c->tile, s)) {
                c->kind = CELL_JPEG;
                return 0;
        }
        TileScan scan;
        /* Lossless only, the runs of a cell of over 256 colours decide nothing (it is gradient
         * whatever they are): they need not be counted past the 257th colour. */
        if (s->lossless_only)
                lossless_scan_colours(e->lossless, pixel_ptr(fb, c->tile), fb->stride, (unsigned) c->tile.w,
                                      (unsigned) c->tile.h, &scan);
        else
                lossless_scan(e->lossless, pixel_ptr(fb, c->tile), fb->stride, (unsigned) c->tile.w, (unsigned) c->tile.h,
                              &scan);
        return settle_cell(e, fb, c, &scan, s, sink, userdata, count);
}

/* The strip just scanned (cells cx.. cx+n-1 at cy, r its tile) grows down by bands of the cells
 * below while they continue it exactly (same columns, same widths, the next rows, not solid) and
 * still fit in its palette, up to the tile's largest height: one frame instead of several (zstd's
 * fixed cost a frame), and rows that repeat the ones above cost the compressor little. A band that
 * does not fit is dropped whole (its cells are scanned again in their own row). Returns the bands
 * added. */
static uint32_t strip_extend_down(Encoder *e, const Framebuffer *fb, uint32_t cx, uint32_t cy, uint32_t cy1, uint32_t n,
                                  Rect *r, const EncoderSettings *s) {
        uint32_t added = 0;
        for (uint32_t y = cy + 1; y < cy1; y++) {
                int32_t h = cell_at(e, cx, y)->tile.h;
                if (r->h + h > tile_max_dim(s))
                        break;
                bool fits = true;
                for (uint32_t i = 0; i < n && fits; i++) {
                        const Cell *above = cell_at(e, cx + i, y - 1);
                        Cell *c = cell_at(e, cx + i, y);
                        fits = c->kind == CELL_NONE && !rect_is_empty(c->tile) && c->tile.x == above->tile.x &&
                               c->tile.w == above->tile.w && c->tile.y == r->y + r->h && c->tile.h == h &&
                               !mark_if_solid(fb, c);
                }
                TileScan scan;
                for (uint32_t i = 0; i < n && fits; i++) {
                        Rect t = cell_at(e, cx + i, y)->tile;
                        fits = lossless_strip_add(e->lossless, pixel_ptr(fb, t), fb->stride, (unsigned) t.w, (unsigned) t.h,
                                                  false, &scan);
                }
                if (!fits) {
                        lossless_strip_band_drop(e->lossless);
                        break;
                }
                (void) lossless_strip_band_end(e->lossless, (unsigned) h);
                r->h += h;
                added++;
        }
        return added;
}

/* Pass one from a cell that has neighbours to its right whose tiles continue its own: as many of
 * them as fit in 256 colours together (up to 256 pixels wide) are one lossless tile (one zstd frame
 * instead of several, one palette), or JPEG cells when continuous-tone all along. The cells are
 * scanned one after the other into one palette (lossless_strip_*), so a strip that stops short
 * costs no second scan of the cells it took; a first cell of over 256 colours goes its own way from
 * its scan. Returns the cells handled (0: none, *tried says how many were looked at, not to be tried
 * again as strips). */
static int encode_strip(Encoder *e, const Framebuffer *fb, uint32_t cx, uint32_t cy, uint32_t cx1, uint32_t cy1,
                        const EncoderSettings *s, TileSink sink, void *userdata, int *count, uint32_t *tried) {
        Cell *first = cell_at(e, cx, cy);
        Rect r = first->tile;
        uint32_t n = 1;
        for (; cx + n < cx1; n++) {
                Cell *c = cell_at(e, cx + n, cy);
                if (c->tile.y != r.y || c->tile.h != r.h || c->tile.x != r.x + r.w ||
                    r.w + c->tile.w > tile_max_dim(s) || mark_if_solid(fb, c))
                        break;
                r.w += c->tile.w;
        }
        *tried = n;
        if (n < 2)
                return 0;
        if (looks_photo(e, fb, r, s)) {
                for (uint32_t i = 0; i < n; i++)
                        cell_at(e, cx + i, cy)->kind = CELL_JPEG;
                return (int) n;
        }

        TileScan scan;
        lossless_strip_begin(e->lossless, (unsigned) r.w);
        for (uint32_t i = 0; i < n; i++) {
                Rect t = cell_at(e, cx + i, cy)->tile;
                if (!lossless_strip_add(e->lossless, pixel_ptr(fb, t), fb->stride, (unsigned) t.w, (unsigned) t.h,
                                        !s->lossless_only, &scan))
                        break;
        }
        TileScan first_scan = scan; /* when the first cell alone did not fit */
        uint32_t taken = lossless_strip_band_end(e->lossless, (unsigned) r.h);
        if (taken == 0) {
                (void) lossless_strip_end(e->lossless, &scan);
                int k = settle_cell(e, fb, first, &first_scan, s, sink, userdata, count);
                return k < 0 ? k : 1;
        }
        r.w = 0;
        for (uint32_t i = 0; i < taken; i++)
                r.w += cell_at(e, cx + i, cy)->tile.w;
        uint32_t rows = 1;
        if (s->lossless_only)
                rows += strip_extend_down(e, fb, cx, cy, cy1, taken, &r, s);
        (void) lossless_strip_end(e->lossless, &scan);
        if (taken == 1 && rows == 1) {
                int k = settle_cell(e, fb, first, &scan, s, sink, userdata, count);
                return k < 0 ? k : 1;
        }

        CellKind kind = classify(&scan, (size_t) r.w * (size_t) r.h, s);
        if (kind != CELL_NONE) { /* continuous tone all along (or one colour): left to pass two */
                assert(rows == 1); /* bands below are added only when lossless only */
                for (uint32_t i = 0; i < taken; i++) {
                        cell_at(e, cx + i, cy)->kind = (uint8_t) kind;
                        cell_at(e, cx + i, cy)->colour = scan.first;
                }
                return (int) taken;
        }
        int k = emit_exact(e, fb, r, &scan, sink, userdata);
        if (k < 0)
                return k;
        for (uint32_t j = 0; j < rows; j++)
                for (uint32_t i = 0; i < taken; i++)
                        cell_at(e, cx + i, cy + j)->tile = (Rect) {};
        (*count)++;
        return (int) taken;
}

static int encode_cells(Encoder *e, const Framebuffer *fb, Rect cells, const EncoderSettings *s, TileSink sink,
                        void *userdata) {
        uint32_t cx1 = (uint32_t) (cells.x + cells.w), cy1 = (uint32_t) (cells.y + cells.h);
        int count = 0, k;

        for (uint32_t cy = (uint32_t) cells.y; cy < cy1; cy++)
                for (uint32_t cx = (uint32_t) cells.x, singles_until = 0; cx < cx1; cx++) {
                        Cell *c = cell_at(e, cx, cy);
                        if (rect_is_empty(c->tile) || c->kind != CELL_NONE || mark_if_solid(fb, c))
                                continue;
                        if (cx >= singles_until) {
                                uint32_t tried = 1;
                                k = encode_strip(e, fb, cx, cy, cx1, cy1, s, sink, userdata, &count, &tried);
                                if (k < 0)
                                        return k;
                                if (k > 0) {
                                        cx += (uint32_t) k - 1;
                                        continue;
                                }
                                singles_until = cx + tried;
                        }
                        k = encode_cell(e, fb, c, s, sink, userdata, &count);
                        if (k < 0)
                                return k;
                }

        k = emit_merged(e, fb, cells, s, sink, userdata, &count);
        return k < 0 ? k : count;
}

int encoder_encode(Encoder *e, const Framebuffer *fb, const Region *region, const EncoderSettings *s, TileSink sink,
                   void *userdata) {
        if (!fb->pixels)
                return -ENODATA;
        if (s->quality < 1 || s->quality > 100 || s->subsampling < 0 || s->subsampling > 3)
                return -EINVAL;
        int r = encoder_fit(e, fb);
        if (r < 0)
                return r;

        Rect cells = collect(e, fb, region);
        if (rect_is_empty(cells))
                return 0;
        r = encode_cells(e, fb, cells, s, sink, userdata);

        /* Cells are zero between calls, whatever happened. */
        for (int32_t cy = cells.y; cy < cells.y + cells.h; cy++)
                memset(cell_at(e, (uint32_t) cells.x, (uint32_t) cy), 0, (size_t) cells.w * sizeof(Cell));
        return r;
}

static bool region_overlaps(const Region *region, Rect a) {
        for (size_t i = 0; region && i < region->n; i++)
                if (rect_overlaps(region->rects[i], a))
                        return true;
        return false;
}

int encoder_refine(Encoder *e, const Framebuffer *fb, const Region *changed_since, TileSink sink, void *userdata) {
        if (!fb->pixels)
                return -ENODATA;
        if (e->lossy.count == 0)
                return 0;
        if (e->lossy.width != fb->width || e->lossy.height != fb->height) {
                encoder_reset(e);
                return 0;
        }

        int count = 0;
        size_t n = (size_t) e->lossy.cols * e->lossy.rows;
        for (size_t i = 0; i < n && e->lossy.count > 0; i++) {
                Rect r = lossy_map_cell(&e->lossy, i);
                if (rect_is_empty(r) || region_overlaps(changed_since, r))
                        continue;
                TileScan scan;
                lossless_scan(e->lossless, pixel_ptr(fb, r), fb->stride, (unsigned) r.w, (unsigned) r.h, &scan);
                int k = emit_exact(e, fb, r, &scan, sink, userdata);
                if (k < 0)
                        return k;
                count++;
        }
        return count;
}
