/* TEST DOUBLE: an implementation of client-session.h with no network and no hostd, for the
 * viewer's tests only (never linked into the real tandem-viewer once the client library
 * merges). The "ticket" is a scenario, comma-separated after "fake:":
 *
 *   mode=WxH         first mode (default 64x48)     frames=N     frames to send (default 3)
 *   interval=MS      between frames (default 10)     mode2=WxH@K  switch mode before frame K
 *   role=0|1         interactive or view-only         desktop=NAME (default fake-desktop)
 *   reject=CODE      refuse the session               fail=1       connection refused
 *   hang=1           never answer                     bye-after=N  hostd says bye after frame N
 *   drop-after=N     connection reset after frame N   cursor=1     send a cursor shape
 *   input-log=PATH   append every input call (and the options) to PATH, one line each
 *   slow-after=N     client_session_quality(): good (20 ms) until frame N, then poor (400 ms, 6%)
 *   agent=HEX        agent-status right after the welcome: mode agent with these features
 *                    (client-agent.h's bits; 0: the hypervisor path, cause "agent closed")
 *   agent-lost-after=N  after frame N the agent is lost (hypervisor, cause heartbeat lost)
 *   guest-clip=TEXT  once the clipboard is on, the guest grabs TEXT (sent when asked for)
 *   windows=N        once the windows feature is on, N guest windows: id 100+i at (8i, 6i),
 *                    20x10, titled "win i" (i from 0), stacked in order
 *   media=PATH       wire frames of the media channel (as fuzz-media-seeds writes them), one a
 *                    millisecond into a real ClientMedia (client-media.h) once welcomed; what it
 *                    sends hostd is logged as "keyframe-request STREAM" and
 *                    "mic-packet STREAM SEQ PTS LEN"
 *
 * The fake guest asks for every clipboard grab of ours (text first) and logs what it got:
 * "clipboard-in FORMAT LEN TEXT" (the text's first 64 bytes, for format 0). Agent calls are
 * logged as "paste TEXT", "resize W H", "window-action ID OP X Y W H", "clipboard-grab FORMATS".
 *
 * It runs on a timerfd, so client_session_fd() can be polled like the real thing. Frame f
 * (1-based) paints pixel (x, y) as B = x + f, G = y, R = 10 f (each mod 256). */
#pragma once

#include <stdint.h>

#include "client-session.h"

/* Every input call so far, one line each: "key 0x1e down", "button 0 up", "abs 10 20",
 * "rel -5 3", "handover 42", "refresh". */
const char *fake_session_input_log(ClientSession *s);
void fake_session_pixel(uint32_t frame, uint32_t x, uint32_t y, uint8_t ret_bgr[3]);
