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
