/* Session resumption (schema/wire-protocol.md, "Session resumption") between hostd's viewer
 * server and real client sessions over TLS on loopback, in one process (test-harness.h):
 *  - the connection cut under messages in flight both ways: the client resumes, and every key
 *    reaches the fake QEMU once, in order; the screen is sent again in full;
 *  - a resume while the old connection is still up (a move onto a new path) replaces it;
 *  - forged tokens and unknown sessions are refused (resume-refused), the real session goes on;
 *  - a session not resumed within ResumeSeconds= ends: its role passes on, and the client gives up
 *    with an error;
 *  - a new interactive viewer takes the role from a detached session;
 *  - a viewer whose replay buffer overflowed cannot be kept: its loss ends the session. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hostd-manager.h"
#include "hostd-viewer.h"
#include "hostd-viewer-resume.h"
#include "test-harness.h"
#include "wire.h"

#define SECOND 1000000ULL
#define WAIT (10 * SECOND)

static Harness *current;

static uint32_t *screen_of(uint32_t w, uint32_t h, uint32_t seed) {
        uint32_t *px = malloc((size_t) w * h * 4);
        check(px);
        for (size_t i = 0; i < (size_t) w * h; i++)
                px[i] = (uint32_t) (i * 2654435761u + seed) & 0xffffff;
        return px;
}

static Harness *setup(const HarnessOptions *o) {
        Harness *h;
        check(harness_new(o, &h) >= 0);
        uint32_t *px = screen_of(320, 200, 1);
        check(harness_scanout(h, 320, 200, px) >= 0);
        free(px);
        current = h;
        return h;
}

static bool welcomed(void *userdata) {
        HarnessViewer *v = userdata;
        check(!v->closed);
        return v->welcomed && v->frames > 0;
}

static bool resumed_with_frame(void *userdata) {
        HarnessViewer *v = userdata;
        check(!v->closed);
        return v->resumed > 0 && !client_session_reconnecting(v->session);
}

static bool closed(void *userdata) {
        return ((HarnessViewer *) userdata)->closed;
}

static unsigned want_keys;
static bool keys_arrived(void *userdata) {
        return current->qemu->key_calls >= want_keys;
}

typedef struct ServerCount {
        unsigned total, interactive;
        uint64_t interactive_session;
} ServerCount;

static void count_fn(void *userdata, const ViewerInfo *info, bool first) {
        ServerCount *c = userdata;
        c->total++;
        if (info->interactive) {
                c->interactive++;
                c->interactive_session = info->session;
        }
}

static ServerCount server_count(Harness *h) {
        ServerCount c = {};
        viewer_server_describe(h->manager->viewers, count_fn, &c);
        return c;
}

static Viewer *server_viewer(Harness *h, uint64_t session) {
        for (Viewer *v = h->manager->viewers->viewers; v; v = v->next)
                if (v->session == session)
                        return v;
        return NULL;
}

static bool session_detached(void *userdata) {
        uint64_t *session = userdata;
        Viewer *v = server_viewer(current, *session);
        return v && viewer_is_detached(v);
}

static bool session_gone(void *userdata) {
        uint64_t *session = userdata;
        return !server_viewer(current, *session);
}

/* Cuts the viewer's connection so that what hostd sent and it did not read is lost: the socket is
 * closed under it (hostd gets a reset) and the session reads an end of stream from /dev/null. */
static void cut(HarnessViewer *v) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        check(null >= 0);
        check(dup2(null, client_session_fd(v->session)) >= 0);
        close(null);
}

/* Keycodes 0x02.. in order, press and release each: 2 calls per key at QEMU. */
static void type_keys(HarnessViewer *v, unsigned first, unsigned n) {
        for (unsigned i = first; i < first + n; i++) {
                check(client_session_key(v->session, 0x02 + (i % 0x30), true) >= 0);
                check(client_session_key(v->session, 0x02 + (i % 0x30), false) >= 0);
        }
}

static void check_keys(Harness *h, unsigned n) {
        check(h->qemu->key_calls == 2 * n);
        /* The log holds the last FAKE_QEMU_KEY_LOG calls. */
        unsigned from = 2 * n > FAKE_QEMU_KEY_LOG ? 2 * n - FAKE_QEMU_KEY_LOG : 0;
        for (unsigned c = from; c < 2 * n; c++) {
                const FakeQemuKey *k = &h->qemu->keys[c % FAKE_QEMU_KEY_LOG];
                check(k->keycode == 0x02 + ((c / 2) % 0x30));
                check(k->press == (c % 2 == 0));
        }
}

/* Cut under traffic: keys sent and received, keys queued and not yet written, a role change for
 * the viewer while it is away. All arrive once, in order; the display starts over. */
static void test_cut(void) {
        Harness *h = setup(NULL);
        HarnessViewer *v, *other;
        ClientOptions o = { .dead_after_usec = 2 * SECOND };

        check(harness_viewer_new(h, "alice", TICKET_ROLE_INTERACTIVE, &o, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        uint64_t session = client_session_id(v->session);
        check(v->role == 0);

        type_keys(v, 0, 10);
        harness_viewer_kick(v);
        want_keys = 20;
        check(harness_run_until(h, keys_arrived, NULL, WAIT) == 0);

        /* In flight to the viewer: a cursor move it does not read before the cut (sent once:
         * only the replay can bring it after the resume). In flight from the viewer: keys queued,
         * never written before the cut. */
        harness_viewer_pause(v, true);
        check(fake_qemu_mouse_set(h->qemu, 77, 55, true) >= 0);
        harness_run_until(h, NULL, NULL, SECOND / 5);
        type_keys(v, 10, 10);
        cut(v);
        unsigned frames = v->frames, modes = v->modes;
        harness_viewer_pause(v, false);
        harness_viewer_kick(v);
        check(client_session_reconnecting(v->session) && v->reconnecting >= 1);
        check(harness_run_until(h, session_detached, &session, WAIT) == 0);

        /* While it is away: more keys typed, and hostd has a message for it (a second viewer,
         * view-only, makes hostd tell everyone about roles on leaving). */
        type_keys(v, 20, 5);
        check(harness_viewer_new(h, "bob", TICKET_ROLE_VIEW_ONLY, NULL, NULL, NULL, &other) >= 0);
        check(harness_run_until(h, welcomed, other, WAIT) == 0);

        uint64_t caps = server_viewer(h, session)->caps;
        check(caps & WIRE_CAP_MEDIA);
        check(harness_run_until(h, resumed_with_frame, v, WAIT) == 0);
        check(client_session_id(v->session) == session && v->role == 0);
        /* The resume's caps are the hello's (the media ones too: what the guest is told). */
        check(server_viewer(h, session)->caps == caps);
        type_keys(v, 25, 5);
        harness_viewer_kick(v);
        want_keys = 60;
        check(harness_run_until(h, keys_arrived, NULL, WAIT) == 0);
        harness_run_until(h, NULL, NULL, SECOND / 2); /* a duplicate would come in by now */
        check_keys(h, 30);
        const ClientCursor *cur = client_session_cursor(v->session);
        check(cur->x == 77 && cur->y == 55 && cur->visible);
        /* The display was sent again: a new mode and frames after the resume. */
        check(v->modes > modes && v->frames > frames);
        check(server_count(h).total == 2 && server_count(h).interactive_session == session);

        harness_viewer_free(other);
        harness_viewer_free(v);
        harness_free(h);
        printf("cut: ok\n");
}

/* The old connection still up (moving to a new path): the new one replaces it, nothing lost. */
static void test_replace(void) {
        Harness *h = setup(NULL);
        HarnessViewer *v;

        check(harness_viewer_new(h, "alice", TICKET_ROLE_INTERACTIVE, NULL, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        uint64_t session = client_session_id(v->session);
        type_keys(v, 0, 8); /* queued on the old connection, not written */
        check(client_session_reconnect(v->session) >= 0);
        type_keys(v, 8, 8); /* queued while resuming */
        harness_viewer_kick(v);
        check(harness_run_until(h, resumed_with_frame, v, WAIT) == 0);
        check(client_session_id(v->session) == session);
        type_keys(v, 16, 4);
        harness_viewer_kick(v);
        want_keys = 40;
        check(harness_run_until(h, keys_arrived, NULL, WAIT) == 0);
        harness_run_until(h, NULL, NULL, SECOND / 2);
        check_keys(h, 20);
        check(server_count(h).total == 1);
        check(!viewer_is_detached(server_viewer(h, session)));

        harness_viewer_free(v);
        harness_free(h);
        printf("replace: ok\n");
}

static bool raw_done(void *userdata) {
        HarnessRaw *r = userdata;
        return r->reject_code != 0 || r->error != 0;
}

/* Forged tokens and unknown sessions: resume-refused, that connection only. */
static void test_forged(void) {
        Harness *h = setup(NULL);
        HarnessViewer *v;
        HarnessRaw *raw;
        uint8_t token[32];

        check(harness_viewer_new(h, "alice", TICKET_ROLE_INTERACTIVE, NULL, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        uint64_t session = client_session_id(v->session);

        for (int i = 0; i < 3; i++) {
                memset(token, 0x41 + i, sizeof(token));
                WireResume m = { .magic = WIRE_MAGIC, .version = 1, .caps = 0x3f,
                                 .session = i == 1 ? session ^ 1 : session, .token = token,
                                 .token_len = i == 2 ? 31 : sizeof(token), .received = 0 };
                check(harness_raw_new_resume(h, &m, &raw) >= 0);
                check(harness_run_until(h, raw_done, raw, WAIT) == 0);
                check(raw->reject_code == WIRE_CODE_RESUME_REFUSED);
                harness_raw_free(raw);
        }

        /* The real session did not notice. */
        type_keys(v, 0, 3);
        harness_viewer_kick(v);
        want_keys = 6;
        check(harness_run_until(h, keys_arrived, NULL, WAIT) == 0);
        check_keys(h, 3);
        check(!v->closed && v->reconnecting == 0 && server_count(h).total == 1);
        check(!viewer_is_detached(server_viewer(h, session)));

        harness_viewer_free(v);
        harness_free(h);
        printf("forged: ok\n");
}

/* Not resumed within ResumeSeconds=: the session ends, the role passes to the viewer left; the
 * client, cut off meanwhile, gives up with an error. */
static void test_expiry(void) {
        HarnessOptions ho = { .resume_seconds = 1 };
        Harness *h = setup(&ho);
        HarnessViewer *v, *w;
        ClientOptions o = { .dead_after_usec = SECOND / 2 };

        check(harness_viewer_new(h, "alice", TICKET_ROLE_INTERACTIVE, &o, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        check(harness_viewer_new(h, "bob", TICKET_ROLE_INTERACTIVE, NULL, NULL, NULL, &w) >= 0);
        check(harness_run_until(h, welcomed, w, WAIT) == 0);
        check(v->role == 0 && w->role == 1);
        uint64_t session = client_session_id(v->session);

        /* The viewer stops reading and writing (a dead link): hostd detaches it after its
         * silence, which takes 10 s; closing hostd's side is quicker and the same to it. */
        harness_viewer_pause(v, true);
        check(shutdown(client_session_fd(v->session), SHUT_RDWR) == 0);
        check(harness_run_until(h, session_detached, &session, WAIT) == 0);
        check(server_count(h).interactive == 1); /* kept while detached */
        check(harness_run_until(h, session_gone, &session, WAIT) == 0);
        check(server_count(h).total == 1 && server_count(h).interactive_session == client_session_id(w->session));

        /* The client finds hostd has forgotten it: refused, or out of time. */
        harness_viewer_pause(v, false);
        harness_viewer_kick(v);
        check(harness_run_until(h, closed, v, WAIT) == 0);
        check(v->close_error < 0 && v->resumed == 0);

        harness_viewer_free(v);
        harness_viewer_free(w);
        harness_free(h);
        printf("expiry: ok\n");
}

/* A user whose client crashed gets the desktop back with a new ticket at once. */
static void test_takeover(void) {
        Harness *h = setup(NULL);
        HarnessViewer *v, *w;

        check(harness_viewer_new(h, "alice", TICKET_ROLE_INTERACTIVE, NULL, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        uint64_t session = client_session_id(v->session);
        v->crash = true;
        harness_viewer_free(v);
        check(harness_run_until(h, session_detached, &session, WAIT) == 0);

        check(harness_viewer_new(h, "alice", TICKET_ROLE_INTERACTIVE, NULL, NULL, NULL, &w) >= 0);
        check(harness_run_until(h, welcomed, w, WAIT) == 0);
        check(w->role == 0);
        check(server_count(h).interactive == 1 && server_count(h).interactive_session == client_session_id(w->session));

        harness_viewer_free(w);
        harness_free(h);
        printf("takeover: ok\n");
}

static bool overflowed_gone(void *userdata) {
        return session_gone(userdata);
}

/* A viewer that stops reading and acknowledging while hostd has much replayable for it (cursor
 * shapes): its replay buffer overflows, so losing it ends the session instead of detaching. */
static void test_overflow(void) {
        Harness *h = setup(NULL);
        HarnessViewer *v;
        static uint32_t argb[128 * 128];

        check(harness_viewer_new(h, "alice", TICKET_ROLE_INTERACTIVE, NULL, NULL, NULL, &v) >= 0);
        check(harness_run_until(h, welcomed, v, WAIT) == 0);
        uint64_t session = client_session_id(v->session);
        harness_viewer_pause(v, true);
        for (unsigned i = 0; i < 24; i++) { /* 24 x 64 KiB > 1 MiB */
                for (size_t k = 0; k < ELEMENTSOF(argb); k++)
                        argb[k] = 0xff000000u | (uint32_t) (k * 7 + i);
                check(fake_qemu_cursor_define(h->qemu, 128, 128, 1, 1, argb, sizeof(argb)) >= 0);
                harness_run_until(h, NULL, NULL, SECOND / 20);
        }
        v->crash = true;
        harness_viewer_free(v);
        check(harness_run_until(h, overflowed_gone, &session, WAIT) == 0);
        check(server_count(h).total == 0);

        harness_free(h);
        printf("overflow: ok\n");
}

int main(void) {
        test_cut();
        test_replace();
        test_forged();
        test_expiry();
        test_takeover();
        test_overflow();
        return 0;
}
