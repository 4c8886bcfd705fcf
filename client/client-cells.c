#include "client-cells.h"

#include <errno.h>
#include <stdlib.h>

static bool newer(uint32_t a, uint32_t b) {
        return (int32_t) (a - b) > 0;
}

void cell_frames_seen(CellFrames *c, uint32_t frame) {
        if (!c->seen || newer(frame, c->newest))
                c->newest = frame;
        c->seen = true;
}

int cell_frames_reset(CellFrames *c, uint32_t width, uint32_t height) {
        uint32_t cols = (width + CLIENT_CELL - 1) / CLIENT_CELL, rows = (height + CLIENT_CELL - 1) / CLIENT_CELL;
        uint32_t *f = calloc((size_t) cols * rows + 1, sizeof(uint32_t));
        if (!f)
                return -ENOMEM;
        free(c->frame);
        c->frame = f;
        c->cols = cols;
        c->rows = rows;
        c->floor = c->seen ? c->newest + 1 : 0;
        for (size_t i = 0; i < (size_t) cols * rows; i++)
                c->frame[i] = c->floor;
        return 0;
}

void cell_frames_done(CellFrames *c) {
        free(c->frame);
        *c = (CellFrames) {};
}

CellVerdict cell_frames_admit(CellFrames *c, uint32_t x, uint32_t y, uint32_t w, uint32_t h, uint32_t frame) {
        bool before_floor = c->seen && newer(c->floor, frame);
        cell_frames_seen(c, frame);
        if (before_floor || w == 0 || h == 0 || !c->frame)
                return CELL_OLD_MODE;
        uint32_t cx0 = x / CLIENT_CELL, cy0 = y / CLIENT_CELL;
        uint32_t cx1 = (x + w - 1) / CLIENT_CELL, cy1 = (y + h - 1) / CLIENT_CELL;
        if (cx1 >= c->cols || cy1 >= c->rows)
                return CELL_OLD_MODE;
        for (uint32_t cy = cy0; cy <= cy1; cy++)
                for (uint32_t cx = cx0; cx <= cx1; cx++)
                        if (newer(c->frame[cy * c->cols + cx], frame))
                                return CELL_STALE;
        for (uint32_t cy = cy0; cy <= cy1; cy++)
                for (uint32_t cx = cx0; cx <= cx1; cx++)
                        c->frame[cy * c->cols + cx] = frame;
        return CELL_APPLY;
}
