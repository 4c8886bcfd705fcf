/* Runs a parsed script against a session. It owns no loop and reads no clock: the front end
 * passes the time in, reports frames, and calls script_runner_run() again by the deadline it
 * asked for, so the same runner serves the headless loop, the SDL loop and unit tests. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "client-session.h"
#include "macro.h"
#include "viewer-image.h"
#include "viewer-script.h"

/* Pause between two typed characters: QEMU's PS/2 queue holds 256 bytes and a slow (TCG) guest
 * may drain it late; pacing keeps long text from overflowing it. */
#define SCRIPT_TYPE_INTERVAL_USEC (10 * UINT64_C(1000))

typedef struct ScriptRunner ScriptRunner;

/* script, session and picture are borrowed and must outlive the runner. picture is what save
 * writes and expect-mode checks: the last complete frame, which the caller keeps up to date (the
 * session's own framebuffer may already hold part of the next frame between two callbacks).
 * default_format is used by save for paths that end neither in .png nor .ppm. */
int script_runner_new(const Script *script, ClientSession *session, const ClientFramebuffer *picture,
                      ImageFormat default_format, uint64_t now, ScriptRunner **ret);
ScriptRunner *script_runner_free(ScriptRunner *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(ScriptRunner *, script_runner_free);

/* A frame completed at now. */
void script_runner_frame(ScriptRunner *r, uint64_t now);

/* The media channel's totals (wait-media-*): video frames and milliseconds of audio decoded,
 * streams that ever started and that run now. */
typedef struct ScriptMediaTotals {
        uint64_t video_frames, audio_ms, started, running;
} ScriptMediaTotals;
void script_runner_media(ScriptRunner *r, const ScriptMediaTotals *totals);

/* The guest's clipboard, from the session's callbacks (client-session.h): a grab (formats 0: none)
 * and data. data returns true when it answered the script's own request (the front end then
 * leaves it alone). request: hostd asks for our clipboard; true when the script set it (and the
 * answer went out). */
void script_runner_clipboard_grab(ScriptRunner *r, uint32_t formats);
bool script_runner_clipboard_data(ScriptRunner *r, uint8_t format, int error, const uint8_t *data, size_t len);
bool script_runner_clipboard_request(ScriptRunner *r, uint8_t format);

/* Executes commands until one must wait or the script ends. Returns 0 while the script runs,
 * with *ret_deadline the latest time to be called again (USEC_INFINITY: only a frame moves it on),
 * or 1 once it has ended (see script_runner_result). */
int script_runner_run(ScriptRunner *r, uint64_t now, uint64_t *ret_deadline);

/* Once ended: the exit status (0 at the end, CODE for `exit CODE', VIEWER_EXIT_SCRIPT when a
 * command failed) and, for a failure, a message naming the script line. */
bool script_runner_ended(const ScriptRunner *r, int *ret_status, const char **ret_message);
