/* tandem-viewer's media outputs (issue 7's fixed interface, for tests of the guest's and the
 * VM's media): the stderr lines
 *
 *   media: start N source=guest|vm kind=audio|video codec=vp8 WxH
 *   media: stop N why=closed frames=K
 *
 * (WxH: the stream's rectangle; K: frames, or audio packets concealed ones included, decoded) and
 * with a directory (--media-out DIR), per stream N: video DIR/stream-N.y4m (YUV4MPEG2, C420jpeg,
 * each decoded frame at its size; a size change starts DIR/stream-N-S.y4m, S = 1, 2, ...) and
 * DIR/stream-N.pts (a line per frame: pts_us); audio DIR/stream-N.wav (s16le at the decoded rate
 * and channels, concealed losses included) and DIR/stream-N.pts (a line per packet:
 * `pts_us samples'). The totals are what the script's wait-media-* commands wait for. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client-media.h"
#include "macro.h"
#include "viewer-script-runner.h"

typedef struct MediaOut MediaOut;

/* dir NULL: the lines and totals only. log: where the lines go (stderr). */
int media_out_new(const char *dir, FILE *log, MediaOut **ret);
/* Finishes every file (WAV sizes). */
MediaOut *media_out_free(MediaOut *o);
DEFINE_TRIVIAL_CLEANUP_FUNC(MediaOut *, media_out_free);

/* client-media.h's callbacks. A file that cannot be written is said once and left. */
void media_out_start(MediaOut *o, const ClientMediaStream *st);
void media_out_video(MediaOut *o, const ClientMediaStream *st, const ClientMediaPicture *pic);
void media_out_audio(MediaOut *o, const ClientMediaStream *st, const int16_t *pcm, size_t frames, uint64_t pts_us);
void media_out_stop(MediaOut *o, const ClientMediaStream *st, uint8_t why);

const ScriptMediaTotals *media_out_totals(const MediaOut *o);
const char *media_out_why_name(uint8_t why);
