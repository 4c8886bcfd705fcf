/* What both front ends of tandem-viewer share: the session and its callbacks, the script runner,
 * the filmstrip, the timeout and the exit status. A front end owns the loop: it waits on
 * viewer_fd()/viewer_poll_events() and the deadline viewer_tick() returns, and calls
 * viewer_process() when the fd is ready. */
#pragma once

#include <stdio.h>

#include <stdbool.h>
#include <stdint.h>

#include "client-session.h"
#include "macro.h"
#include "viewer-image.h"
#include "viewer-media-out.h"
#include "viewer-mic-wav.h"
#include "viewer-script-runner.h"
#include "viewer-script.h"

#define VIEWER_FILMSTRIP_INTERVAL_DEFAULT_MS 1000

typedef struct ViewerOptions {
        ClientOptions client;
        const char *out_dir;         /* filmstrip and last image; NULL: none */
        ImageFormat format;
        uint64_t filmstrip_interval; /* usec between two filmstrip frames, at most */
        uint64_t timeout;            /* usec from viewer_connect(); 0: none */
        /* --resize: the viewer's size goes to hostd (resize-request). VIEWER_RESIZE_DEFAULT: on
         * in a window, off headless; VIEWER_RESIZE_FIXED: resize_width x resize_height once
         * welcomed (headless tests). */
        enum { VIEWER_RESIZE_DEFAULT, VIEWER_RESIZE_OFF, VIEWER_RESIZE_ON, VIEWER_RESIZE_FIXED } resize;
        uint32_t resize_width, resize_height;
        bool seamless;               /* --seamless: one window per guest window (SDL) */
        const char *media_out_dir;   /* --media-out: viewer-media-out.h's files; NULL: the lines only */
        const char *mic_wav;         /* --mic-wav: the microphone plays this WAV file (headless) */
        const char *wire_log;        /* --wire-log: one line per message received; NULL: none */
} ViewerOptions;

/* Calls into the window front end; any may be NULL. */
typedef struct ViewerFrontend {
        /* A complete frame is in client_session_framebuffer(). */
        void (*frame)(void *userdata);
        void (*mode)(uint32_t width, uint32_t height, void *userdata);
        void (*cursor)(const ClientCursor *cursor, void *userdata);
        /* The desktop's name or our role changed. */
        void (*title)(const char *desktop, int role, void *userdata);
        /* The connection quality indicator changed: "udp, good (rtt 12.3 ms, loss 0.1%)". */
        void (*link)(const char *text, void *userdata);
        /* The agent's mode or features changed: text as in "active (clipboard, windows)". */
        void (*agent)(const ClientAgentStatus *status, const char *text, void *userdata);
        /* The guest's clipboard (client-session.h's on_clipboard_*): a grab, the answer to our
         * request, hostd asking for ours (answer with client_session_clipboard_send(); return
         * false to leave it unanswered here: the core then answers with nothing). */
        void (*clipboard_grab)(uint32_t formats, void *userdata);
        void (*clipboard_data)(uint8_t format, int error, const uint8_t *data, size_t len, void *userdata);
        bool (*clipboard_request)(uint8_t format, void *userdata);
        /* The guest's window table changed. */
        void (*windows)(void *userdata);
        /* The media channel: a stream started, moved or stopped (stopped: st is gone after the
         * call), or has a new decoded frame (SDL presents by client_session_media()). */
        void (*media)(const ClientMediaStream *st, bool stopped, void *userdata);
        /* hostd wants our microphone (on) or no longer. */
        void (*mic)(bool on, uint32_t sample_rate, uint8_t channels, void *userdata);
} ViewerFrontend;

/* How often the connection quality is looked at. */
#define VIEWER_LINK_CHECK_USEC (1 * USEC_PER_SEC)

typedef struct Viewer {
        ViewerOptions options;
        ClientSession *session;
        Script *script;
        ScriptRunner *runner;
        const ViewerFrontend *frontend;
        void *frontend_data;

        char *desktop;
        int role;
        bool closing, closed;
        bool done;
        int status;
        uint64_t started;

        /* The last complete frame, kept when something reads it between callbacks (script,
         * filmstrip): the session's framebuffer may hold half of the next frame by then. */
        ClientFramebuffer picture;
        bool keep_picture;
        bool picture_new;  /* a frame not yet in the filmstrip */
        uint64_t last_shot; /* when the last filmstrip frame was written */
        unsigned shots;
        bool filmstrip_failed;

        /* The connection quality indicator (client-quality.h): said when it changes. */
        uint64_t link_checked;
        bool link_shown;
        int link_level, link_transport;
        char link_text[128];

        /* The media channel's lines, files and totals (viewer-media-out.h); --mic-wav's player. */
        MediaOut *media_out;
        MicWav *mic_wav;

        /* The agent's state as last said ("agent: ..." on stderr when it changes). */
        bool agent_shown;
        char agent_text[160];

        FILE *wire_log; /* --wire-log */
        /* --wire-log: the pixels under the last tile before it was drawn, to count those it did
         * not change once it is (the next message's turn, or the frame's end). */
        uint8_t *tile_before;
        uint32_t tile_x, tile_y, tile_w, tile_h;
        bool tile_pending;
} Viewer;

/* Takes script (may be NULL) on success. */
int viewer_new(const ViewerOptions *options, Script *script, Viewer **ret);
Viewer *viewer_free(Viewer *v);
DEFINE_TRIVIAL_CLEANUP_FUNC(Viewer *, viewer_free);

/* Starts the session. On failure the viewer is done with the status to exit with. */
void viewer_connect(Viewer *v, const char *ticket, const ViewerFrontend *frontend, void *frontend_data);

/* The session's fd and the poll(2) events to wait for (POLLIN/POLLOUT); -EBADF once closed. */
int viewer_fd(Viewer *v, short *ret_events);
/* The fd was ready: lets the session work. */
void viewer_process(Viewer *v);
/* Timers: timeout, script, filmstrip. Returns the monotonic time (usec) to be called again by. */
uint64_t viewer_tick(Viewer *v, uint64_t now);

/* Ends the run with status unless it has ended already; a message (may be NULL) goes to stderr. */
_printf_(3, 4) void viewer_quit(Viewer *v, int status, const char *fmt, ...);
/* Writes the last image, says bye to hostd and waits (a little) for it to be sent. */
void viewer_shutdown(Viewer *v);

/* "tandem-viewer: ..." on stderr. */
_printf_(1, 2) void viewer_message(const char *fmt, ...);
