/* Fuzzes the viewer's session with what hostd could send: the input is the server-to-client byte
 * stream, delivered through a memory transport (client_session_new_transport()) cut at points
 * drawn from the input, to a session that sends input of its own from its callbacks. The session
 * must end (on_closed once) or wait for more, never crash or leak, and its framebuffer and cursor
 * must stay consistent.
 *
 * Input: byte 0 seeds the split points (0: whole reads), byte 1 caps a piece (0: no cap), bit 0 of
 * byte 2 keeps the stream open at the end (else it ends, as when hostd closes); the rest is the
 * stream. fuzz-session-seeds writes the seeds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "client-session.h"
#include "mem-transport.h"

#define HEAD 3

volatile uint32_t fuzz_sink;

typedef struct State {
        unsigned closed;
        unsigned frames;
} State;

static void on_welcome(ClientSession *s, const char *desktop, int role, void *userdata) {
        /* Output while input is being handled: a key and a pointer move. */
        (void) client_session_key(s, 0x1e, true);
        (void) client_session_mouse_absolute(s, 1, 2);
        fuzz_sink += (uint32_t) role + (uint32_t) desktop[0];
}

static void on_frame(ClientSession *s, uint32_t frame, void *userdata) {
        State *st = userdata;
        const ClientFramebuffer *fb = client_session_framebuffer(s);
        st->frames++;
        /* Every pixel must be readable: reads past the end trip ASan. */
        if (fb->pixels && fb->width && fb->height)
                fuzz_sink += fb->pixels[(size_t) (fb->height - 1) * fb->stride + (size_t) (fb->width - 1) * 4];
        if (st->frames % 4 == 0)
                (void) client_session_refresh(s);
}

static void on_cursor(ClientSession *s, void *userdata) {
        const ClientCursor *c = client_session_cursor(s);
        if (c->argb && c->width && c->height)
                fuzz_sink += c->argb[(size_t) c->width * c->height * 4 - 1];
}

/* The agent's callbacks do what a front end does: ask for what the guest grabbed, answer what
 * hostd asks for, act on windows, resize. */
static void on_clipboard_grab(ClientSession *s, uint32_t formats, void *userdata) {
        if (formats & CLIENT_CLIPBOARD_TEXT)
                (void) client_session_clipboard_request(s, WIRE_FORMAT_TEXT);
        (void) client_session_clipboard_grab(s, CLIENT_CLIPBOARD_TEXT);
}

static void on_clipboard_data(ClientSession *s, uint8_t format, int error, const uint8_t *data, size_t len,
                              void *userdata) {
        if (error == 0)
                fuzz_sink += data[len]; /* the NUL after the data */
}

static void on_clipboard_request(ClientSession *s, uint8_t format, void *userdata) {
        (void) client_session_clipboard_send(s, format, (const uint8_t *) "copy", 4);
}

static void on_windows(ClientSession *s, void *userdata) {
        const ClientWindows *w = client_session_windows(s);
        for (size_t i = 0; i < w->n; i++) {
                fuzz_sink += (uint32_t) strlen(w->windows[i].title);
                if (w->windows[i].icon_argb)
                        fuzz_sink += w->windows[i].icon_argb[(size_t) w->windows[i].icon_width * w->windows[i].icon_height * 4 - 1];
        }
        if (w->n > 0)
                (void) client_session_window_action(s, w->windows[0].id, WIRE_OP_ACTIVATE, 0, 0, 0, 0);
        (void) client_session_resize(s, 800 + (uint32_t) w->n, 600);
}

static void on_closed(ClientSession *s, int error, const char *reason, void *userdata) {
        State *st = userdata;
        st->closed++;
        fuzz_sink += (uint32_t) reason[0];
}

static const ClientCallbacks callbacks = {
        .on_welcome = on_welcome,
        .on_frame = on_frame,
        .on_cursor = on_cursor,
        .on_closed = on_closed,
        .on_clipboard_grab = on_clipboard_grab,
        .on_clipboard_data = on_clipboard_data,
        .on_clipboard_request = on_clipboard_request,
        .on_windows = on_windows,
};

/* Reads and drops what the session wrote. */
static void drain(ByteTransport *t) {
        uint8_t buf[4096];
        for (int i = 0; i < 64 && t->ops->read(t, buf, sizeof(buf)) > 0; i++)
                ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        ByteTransport *client, *server;
        ClientSession *s;
        State st = {};
        const ClientOptions options = { .lossless = true };

        if (size < HEAD)
                return 0;
        MemTransportOptions o = { .seed = data[0], .max_chunk = data[1] };
        bool stay_open = data[2] & 1;
        data += HEAD;
        size -= HEAD;

        if (mem_transport_pair(&o, &client, &server) < 0)
                abort();
        if (client_session_new_transport(client, NULL, 0, &options, &callbacks, &st, &s) < 0)
                abort();

        size_t written = 0;
        int r = 0;
        /* Bounded: a session must make progress on what it was given, not spin. */
        for (int i = 0; i < 100000 && r >= 0; i++) {
                while (written < size) {
                        ssize_t n = server->ops->write(server, data + written, size - written);
                        if (n <= 0)
                                break;
                        written += (size_t) n;
                }
                if (written == size && !stay_open && server) {
                        drain(server);
                        server = byte_transport_free(server); /* the end of the stream */
                }
                r = client_session_process(s);
                if (server)
                        drain(server);
                if (written == size && stay_open && i > 64)
                        break; /* everything delivered and handled, the peer still there */
        }
        /* A session that ended was told so exactly once, and one whose stream ended did end; an
         * open one waits, asking to read. */
        if (st.closed > 1 || (r < 0) != (st.closed == 1) || (!stay_open && r >= 0))
                abort();
        if (r >= 0 && !(client_session_poll_events(s) & EPOLLIN))
                abort();
        client_session_free(s);
        byte_transport_free(server);
        return 0;
}
