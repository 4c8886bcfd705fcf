/* Over UDP tiles can arrive out of order: per 64x64 cell, the newest frame whose tile was applied,
 * so an older tile never overwrites newer pixels (schema/wire-protocol.md, "Latest-wins display
 * over UDP"). Frame numbers compare in serial arithmetic (they wrap at 2^32). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define CLIENT_CELL 64

typedef struct CellFrames {
        uint32_t *frame; /* cols * rows */
        uint32_t cols, rows;
        uint32_t floor;  /* tiles of frames before it are from before the mode change: dropped */
        uint32_t newest; /* the newest frame number seen in a tile or frame-end */
        bool seen;
} CellFrames;

typedef enum CellVerdict {
        CELL_APPLY,       /* newer than everything it covers: apply it */
        CELL_STALE,       /* older than a cell it covers: drop it, ask for its area again */
        CELL_OLD_MODE,    /* from before the mode change, or outside the screen: drop it */
} CellVerdict;

/* A new mode: every cell starts at the floor, which is past every frame seen so far. */
int cell_frames_reset(CellFrames *c, uint32_t width, uint32_t height);
void cell_frames_done(CellFrames *c);
void cell_frames_seen(CellFrames *c, uint32_t frame);
/* Judges a tile of frame at (x, y, w, h) and, for CELL_APPLY, records it. */
CellVerdict cell_frames_admit(CellFrames *c, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t frame);
