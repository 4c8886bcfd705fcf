/* The readers behind media-file.c: one set of callbacks per container. */
#pragma once

#include "media-file.h"

struct MediaFile {
        const uint8_t *data;
        size_t len;
        size_t pos;              /* the next unread byte */
        size_t first;            /* where the first packet starts (IVF: after its header) */
        MediaFileInfo info;
        uint64_t index;          /* packets handed out (video pts) */
        bool failed;

        /* Ogg */
        uint32_t serial;
        uint64_t samples;        /* 48 kHz position of the next packet */
        bool have_position;
        const uint8_t *page_segs; /* the current page's segment table, NULL before the first */
        size_t page_nsegs, page_seg; /* its length and the next segment */
        size_t page_body;        /* offset of the next segment's bytes */
        uint8_t *asm_buf;        /* a packet spanning pages */
        size_t asm_len, asm_cap;
        bool asm_open;
};

int media_ivf_open(MediaFile *f);
int media_ivf_next(MediaFile *f, MediaPacket *ret);
int media_ogg_open(MediaFile *f);
int media_ogg_next(MediaFile *f, MediaPacket *ret);
void media_ogg_rewind(MediaFile *f);
int media_h264_open(MediaFile *f, uint32_t fps);
int media_h264_next(MediaFile *f, MediaPacket *ret);
