/* hostd's side of the guest agent, in the in-process harness (test-harness.h): a fake agent on a
 * socketpair as the domain's channel (test-agent-peers.h), raw viewers with the agent caps, a
 * real client session where the display and input must go on, and the fake QEMU recording keys
 * and SetUIInfo. Detection and agent-status; heartbeat loss and re-open; a guest reboot; hostile
 * agents (garbage, oversized frames, floods, a frame that never finishes, clipboard chunk games)
 * dropped with a bye while the viewer keeps seeing and typing, re-opened with a growing backoff;
 * the clipboard relay both ways under each policy value; windows relayed to viewers (a late one
 * gets them all) and window actions back; resize through SetUIInfo and the agent, coalesced;
 * paste as keystrokes in order, capped; agent-power; the status JSON; [Agent] overrides. */
#include "check.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "hostd-agent-channel.h"
#include "hostd-agent-internal.h"
#include "hostd-conf.h"
#include "hostd-domain.h"
#include "hostd-manager.h"
#include "test-agent-peers.h"
#include "test-harness.h"

#define SECOND 1000000ULL
#define ALL_CAPS                                                                                                   \
        (AGENT_CAP_HEARTBEAT | AGENT_CAP_SESSIONS | AGENT_CAP_CLIPBOARD_TEXT | AGENT_CAP_CLIPBOARD_IMAGE |         \
         AGENT_CAP_WINDOWS | AGENT_CAP_RESIZE | AGENT_CAP_POWER)
#define VIEWER_CAPS (0x1fULL | WIRE_CAP_AGENT | WIRE_CAP_CLIPBOARD | WIRE_CAP_WINDOWS | WIRE_CAP_RESIZE)

/* A test that waits longer than 15 s has failed. */
#define WAIT_FOR(h, cond) HARNESS_WAIT_FOR(h, cond, 15)

/* Runs the loop for a while (for "nothing happens" checks). */
static void run_for(Harness *h, uint64_t usec) {
        check(harness_run_until(h, NULL, NULL, usec) >= 0);
}

typedef struct Setup {
        const char *agent_keys; /* "Key=value,..." applied to [Agent] through Overrides=*: */
        unsigned heartbeat_seconds, missed, partial_seconds, rate, burst;
} Setup;

static void configure(HostdConfig *c, void *userdata) {
        const Setup *s = userdata;
        if (s->agent_keys) {
                free(c->agent.overrides);
                check(asprintf(&c->agent.overrides, "*:%s", s->agent_keys) > 0);
        }
        if (s->heartbeat_seconds)
                c->agent.heartbeat_seconds = s->heartbeat_seconds;
        if (s->missed)
                c->agent.missed_heartbeats = s->missed;
        if (s->partial_seconds)
                c->agent.partial_frame_seconds = s->partial_seconds;
        if (s->rate)
                c->agent.message_rate = s->rate;
        if (s->burst)
                c->agent.message_burst = s->burst;
}

typedef struct World {
        Harness *h;
        FakeAgent agent;
        Setup setup;
        Agent *a;
} World;

static void world_new(World *w, const Setup *s) {
        HarnessOptions o = { .configure = configure };
        *w = (World) { .setup = s ? *s : (Setup) {} };
        o.configure_userdata = &w->setup;
        fake_agent_setup(&w->agent, &o);
        check(harness_new(&o, &w->h) >= 0);
        static uint32_t px[64 * 48];
        for (size_t i = 0; i < 64 * 48; i++)
                px[i] = 0x203040 + (uint32_t) i;
        check(harness_scanout(w->h, 64, 48, px) >= 0);
        w->a = manager_agent(w->h->manager, w->h->desktop);
        check(w->a);
        WAIT_FOR(w->h, w->agent.conn && w->agent.hellos == 1); /* hostd opened the channel and said hello */
}

static void world_free(World *w) {
        w->h = harness_free(w->h);
        fake_agent_done(&w->agent);
}

/* The agent says hello (and hostd answers it): the agent is active. */
static void world_agent_active(World *w, uint64_t caps) {
        unsigned hellos = w->agent.hellos;
        check(fake_agent_hello(&w->agent, caps) >= 0);
        WAIT_FOR(w->h, agent_state(w->a) == AGENT_ACTIVE && w->agent.hellos > hellos);
}

static RawViewer *viewer(World *w, uint64_t caps, TicketRole role) {
        RawViewer *v;
        check(raw_viewer_new(w->h, caps, role, &v) >= 0);
        WAIT_FOR(w->h, v->welcomed && v->modes > 0);
        return v;
}

/* ---- detection and modes ---- */

static void test_detection(void) {
        World w;
        world_new(&w, NULL);
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE);
        RawViewer *old = viewer(&w, 0x1f, TICKET_ROLE_VIEW_ONLY); /* no cap agent: never told */
        WAIT_FOR(w.h, v->statuses == 1);
        check(v->status.mode == WIRE_MODE_HYPERVISOR && v->status.features == 0);
        check(agent_state(w.a) == AGENT_OPEN);

        world_agent_active(&w, ALL_CAPS | AGENT_CAP_MEDIA | (UINT64_C(1) << 40));
        WAIT_FOR(w.h, v->statuses == 2);
        check(v->status.mode == WIRE_MODE_AGENT && v->status.cause == WIRE_CAUSE_AGENT_HELLO);
        /* Media is hostd's too (hostd-media.h); unknown bits are not features. */
        check(v->status.features == (ALL_CAPS | AGENT_CAP_MEDIA));
        check(agent_features(w.a) == (ALL_CAPS | AGENT_CAP_MEDIA));

        /* A repeated hello is a caps update. */
        check(fake_agent_hello(&w.agent, AGENT_CAP_HEARTBEAT | AGENT_CAP_WINDOWS) >= 0);
        WAIT_FOR(w.h, v->statuses == 3);
        check(v->status.features == (AGENT_CAP_HEARTBEAT | AGENT_CAP_WINDOWS));

        /* The agent dies: the session falls back, the viewer stays. */
        fake_agent_close(&w.agent);
        WAIT_FOR(w.h, v->statuses == 4);
        check(v->status.mode == WIRE_MODE_HYPERVISOR && v->status.cause == WIRE_CAUSE_AGENT_CLOSED);
        check(v->error == 0);
        /* ... and hostd opens the channel again after its backoff. */
        WAIT_FOR(w.h, w.agent.connects == 2 && w.agent.hellos >= 3);
        check(old->statuses == 0 && old->error == 0);
        raw_viewer_free(v);
        raw_viewer_free(old);
        world_free(&w);
}

static void test_heartbeat(void) {
        Setup s = { .heartbeat_seconds = 1, .missed = 2 };
        World w;
        world_new(&w, &s);
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE);
        world_agent_active(&w, ALL_CAPS);
        /* Heartbeats keep it: 3 s with one every 400 ms. */
        for (int i = 0; i < 8; i++) {
                check(fake_agent_heartbeat(&w.agent) >= 0);
                run_for(w.h, 400 * 1000);
        }
        check(agent_state(w.a) == AGENT_ACTIVE);
        check(w.a->heartbeats == 8 && w.a->heartbeat.seq == 8);
        /* Then none: lost after 2 missed intervals, and told. */
        WAIT_FOR(w.h, agent_state(w.a) != AGENT_ACTIVE);
        WAIT_FOR(w.h, v->status.cause == WIRE_CAUSE_HEARTBEAT_LOST);
        check(v->status.mode == WIRE_MODE_HYPERVISOR && w.a->counters.lost_heartbeat == 1);
        WAIT_FOR(w.h, w.agent.connects == 2);
        raw_viewer_free(v);
        world_free(&w);
}

static void test_reboot(void) {
        World w;
        world_new(&w, NULL);
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE);
        world_agent_active(&w, ALL_CAPS);
        AgentLogon logon = { .session = "c1", .session_len = 2, .user = "alice", .user_len = 5, .uid = 1000,
                             .tty = "tty1", .tty_len = 4, .source = AGENT_SOURCE_UTMP, .time_us = 1 };
        check(agent_encode_sessions_reset(fake_agent_out(&w.agent)) >= 0);
        check(agent_encode_logon(fake_agent_out(&w.agent), &logon) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, w.a->n_logons == 1);
        check(strcmp(w.a->logons[0].user, "alice") == 0);
        agent_guest_reset(w.a, true); /* what hostd-libvirt.c does on the domain's reboot event */
        WAIT_FOR(w.h, v->status.cause == WIRE_CAUSE_GUEST_REBOOT);
        check(w.a->n_logons == 0);
        WAIT_FOR(w.h, w.agent.connects == 2 && w.agent.conn);
        world_agent_active(&w, ALL_CAPS); /* the agent of the new boot */
        WAIT_FOR(w.h, v->status.mode == WIRE_MODE_AGENT);
        raw_viewer_free(v);
        world_free(&w);
}

/* ---- the untrusted guest ---- */

typedef struct Hostile {
        const char *name;
        void (*attack)(World *w);
        uint16_t bye; /* the code hostd's bye must carry */
} Hostile;

static void attack_garbage(World *w) {
        uint8_t junk[4096];
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t) (i * 131 + 7);
        check(fake_agent_send_raw(&w->agent, junk, sizeof(junk)) >= 0);
}

static void attack_oversized(World *w) {
        /* A hello claiming 1 MiB: over its type's maximum. */
        uint8_t header[8] = { 0, 0, 0x10, 0, AGENT_TYPE_HELLO, 0, AGENT_CHANNEL_CONTROL, 0 };
        check(fake_agent_send_raw(&w->agent, header, sizeof(header)) >= 0);
}

static void attack_flood(World *w) {
        for (int i = 0; i < 2000; i++)
                check(agent_encode_heartbeat(fake_agent_out(&w->agent), &(AgentHeartbeat) { .seq = (uint32_t) i }) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
}

static void attack_unknown_flood(World *w) {
        /* Frames of an unknown type are skipped, but they count toward the rate. */
        uint8_t frame[8 + 16] = { 16, 0, 0, 0, 0x7f, 0x0f, 9, 0 };
        for (int i = 0; i < 2000; i++)
                check(buffer_append(fake_agent_out(&w->agent), frame, sizeof(frame)) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
}

static void attack_partial(World *w) {
        uint8_t part[13] = { 42, 0, 0, 0, AGENT_TYPE_HEARTBEAT, 0, AGENT_CHANNEL_CONTROL, 0, 1, 2, 3, 4, 5 };
        check(fake_agent_send_raw(&w->agent, part, sizeof(part)) >= 0);
}

static uint8_t chunk[65536];

/* The guest grabs, the viewer asks, the guest answers with chunks out of order. */
static void attack_clipboard_offsets(World *w) {
        AgentClipboardGrab g = { .serial = 9, .formats = 1 };
        AgentClipboardData d = { .serial = 9, .format = 0, .total = 100, .offset = 10, .chunk = chunk, .chunk_len = 10 };
        check(agent_encode_clipboard_grab(fake_agent_out(&w->agent), &g) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
        /* No viewer here asks for it (the interactive one has no clipboard cap): put the request
         * hostd would have relayed straight into its relay state. */
        WAIT_FOR(w->h, w->a->clip.owner == CLIP_GUEST);
        w->a->clip.transfer = (ClipTransfer) { .active = true, .format = 0 };
        check(agent_encode_clipboard_data(fake_agent_out(&w->agent), &d) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
}

static void attack_clipboard_total(World *w) {
        AgentClipboardGrab g = { .serial = 9, .formats = 1 };
        AgentClipboardData d = { .serial = 9, .format = 0, .total = (16u << 20) + 1, .offset = 0, .chunk = chunk,
                                 .chunk_len = 65536 };
        check(agent_encode_clipboard_grab(fake_agent_out(&w->agent), &g) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
        WAIT_FOR(w->h, w->a->clip.owner == CLIP_GUEST);
        w->a->clip.transfer = (ClipTransfer) { .active = true, .format = 0 };
        check(agent_encode_clipboard_data(fake_agent_out(&w->agent), &d) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
}

static void attack_window_geometry(World *w) {
        AgentWindowUpdate u = { .id = 1, .width = 100000, .height = 10, .title = "x", .title_len = 1 };
        check(agent_encode_window_update(fake_agent_out(&w->agent), &u) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
}

static void attack_version(World *w) {
        AgentHello h;
        agent_hello_init(&h, ALL_CAPS, "future");
        h.version = 2;
        check(agent_encode_hello(fake_agent_out(&w->agent), &h) >= 0);
        check(fake_agent_flush(&w->agent) >= 0);
}

static const Hostile hostiles[] = {
        { "garbage", attack_garbage, AGENT_CODE_PROTOCOL_ERROR },
        { "oversized", attack_oversized, AGENT_CODE_PROTOCOL_ERROR },
        { "flood", attack_flood, AGENT_CODE_RATE_LIMIT },
        { "unknown-flood", attack_unknown_flood, AGENT_CODE_RATE_LIMIT },
        { "partial", attack_partial, AGENT_CODE_PROTOCOL_ERROR },
        { "clipboard-offsets", attack_clipboard_offsets, AGENT_CODE_PROTOCOL_ERROR },
        { "clipboard-total", attack_clipboard_total, AGENT_CODE_PROTOCOL_ERROR },
        { "window-geometry", attack_window_geometry, AGENT_CODE_PROTOCOL_ERROR },
        { "version", attack_version, AGENT_CODE_VERSION },
};

typedef struct Frames {
        HarnessViewer *viewer;
        unsigned frames;
} Frames;

static void test_hostile(const Hostile *x) {
        Setup s = { .partial_seconds = 1, .agent_keys = "Clipboard=both" };
        World w;
        HarnessViewer *hv;
        fprintf(stderr, "hostile agent: %s\n", x->name);
        world_new(&w, &s);
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_VIEW_ONLY);
        check(harness_viewer_new(w.h, "user", TICKET_ROLE_INTERACTIVE, NULL, NULL, NULL, &hv) >= 0);
        WAIT_FOR(w.h, hv->welcomed && hv->frames > 0);
        world_agent_active(&w, ALL_CAPS);
        unsigned misbehaved = (unsigned) w.a->counters.lost_misbehaved;
        x->attack(&w);
        WAIT_FOR(w.h, w.agent.byes == 1 && w.agent.closed == 1);
        check(w.agent.last_bye_code == x->bye);
        check(w.a->counters.lost_misbehaved == misbehaved + 1);
        WAIT_FOR(w.h, v->status.mode == WIRE_MODE_HYPERVISOR && v->status.cause == WIRE_CAUSE_AGENT_MISBEHAVED);

        /* The display and input go on. */
        unsigned frames = hv->frames, keys = w.h->qemu->key_calls;
        static uint32_t px[64 * 48];
        for (size_t i = 0; i < 64 * 48; i++)
                px[i] = 0xff0000 + (uint32_t) i;
        check(fake_qemu_update(w.h->qemu, 0, 0, 64, 48, 64 * 4, FAKE_QEMU_XRGB, px, sizeof(px)) >= 0);
        HarnessScreen want = { .viewer = hv, .w = 64, .h = 48, .px = px };
        check(harness_run_until(w.h, harness_screen_is, &want, 10 * SECOND) >= 0);
        check(hv->frames > frames);
        check(client_session_key(hv->session, 0x1e, true) >= 0 && client_session_key(hv->session, 0x1e, false) >= 0);
        harness_viewer_kick(hv);
        WAIT_FOR(w.h, w.h->qemu->key_calls == keys + 2);
        check(!hv->closed && v->error == 0);

        /* Re-opened after 1 s, then (misbehaving again) 2 s: the backoff doubles. */
        WAIT_FOR(w.h, w.agent.connects == 2 && w.agent.conn);
        check(w.a->backoff == 1);
        world_agent_active(&w, ALL_CAPS);
        attack_garbage(&w);
        WAIT_FOR(w.h, w.agent.byes == 2);
        check(w.a->backoff == 2);
        WAIT_FOR(w.h, w.agent.connects == 3);
        harness_viewer_free(hv);
        raw_viewer_free(v);
        world_free(&w);
}

/* ---- clipboard ---- */

static void test_clipboard(const char *policy) {
        char keys[64];
        bool to_guest = strcmp(policy, "to-guest") == 0 || strcmp(policy, "both") == 0;
        bool to_client = strcmp(policy, "to-client") == 0 || strcmp(policy, "both") == 0;
        World w;
        snprintf(keys, sizeof(keys), "Clipboard=%s", policy);
        Setup s = { .agent_keys = keys };
        fprintf(stderr, "clipboard policy %s\n", policy);
        world_new(&w, &s);
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE);
        world_agent_active(&w, ALL_CAPS);
        check(((agent_features(w.a) & AGENT_CAP_CLIPBOARD_TEXT) != 0) == (to_guest || to_client));

        /* guest -> viewer: grab, request, data in two chunks. */
        AgentClipboardGrab g = { .serial = 1000, .formats = (1u << AGENT_FORMAT_TEXT) | (1u << 7) };
        check(agent_encode_clipboard_grab(fake_agent_out(&w.agent), &g) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        if (to_client) {
                WAIT_FOR(w.h, v->grabs == 1);
                check(v->grab.formats == 1u << AGENT_FORMAT_TEXT); /* an unknown format is not offered */
                check(v->grab.serial != 1000); /* hostd's own serial toward the viewer */
                WireClipboardRequest q = { .serial = v->grab.serial, .format = AGENT_FORMAT_TEXT };
                check(wire_encode_clipboard_request(raw_viewer_out(v), &q) >= 0);
                raw_viewer_flush(v);
                WAIT_FOR(w.h, w.agent.requests == 1);
                check(w.agent.request.serial == 1000 && w.agent.request.format == AGENT_FORMAT_TEXT);
                AgentClipboardData d1 = { .serial = 1000, .total = 11, .offset = 0, .chunk = (const uint8_t *) "hello", .chunk_len = 5 };
                AgentClipboardData d2 = { .serial = 1000, .total = 11, .offset = 5, .chunk = (const uint8_t *) " world", .chunk_len = 6 };
                check(agent_encode_clipboard_data(fake_agent_out(&w.agent), &d1) >= 0);
                check(agent_encode_clipboard_data(fake_agent_out(&w.agent), &d2) >= 0);
                check(fake_agent_flush(&w.agent) >= 0);
                WAIT_FOR(w.h, v->datas == 2);
                check(v->data_serial == v->grab.serial && v->data_total == 11);
                check(buffer_len(&v->data) == 11 && memcmp(buffer_data(&v->data), "hello world", 11) == 0);
                /* The guest's release reaches the viewer. */
                check(agent_encode_clipboard_release(fake_agent_out(&w.agent), &(AgentClipboardRelease) { .serial = 1000 }) >= 0);
                check(fake_agent_flush(&w.agent) >= 0);
                WAIT_FOR(w.h, v->releases == 1);
        } else {
                run_for(w.h, 300 * 1000);
                check(v->grabs == 0);
                /* A request for it anyway is refused with a notice, and never reaches the guest. */
                WireClipboardRequest q = { .serial = 1, .format = AGENT_FORMAT_TEXT };
                check(wire_encode_clipboard_request(raw_viewer_out(v), &q) >= 0);
                raw_viewer_flush(v);
                WAIT_FOR(w.h, v->notices == 1);
                check(v->notice_code == WIRE_NOTICE_AGENT_REFUSED && w.agent.requests == 0);
        }

        /* viewer -> guest */
        WireClipboardGrab vg = { .serial = 5, .formats = 1u << AGENT_FORMAT_TEXT };
        check(wire_encode_clipboard_grab(raw_viewer_out(v), &vg) >= 0);
        raw_viewer_flush(v);
        if (to_guest) {
                WAIT_FOR(w.h, w.agent.grabs == 1);
                check(w.agent.grab.formats == 1u << AGENT_FORMAT_TEXT);
                AgentClipboardRequest q = { .serial = w.agent.grab.serial, .format = AGENT_FORMAT_TEXT };
                check(agent_encode_clipboard_request(fake_agent_out(&w.agent), &q) >= 0);
                check(fake_agent_flush(&w.agent) >= 0);
                WAIT_FOR(w.h, v->requests == 1);
                check(v->request.serial == 5);
                /* A 200 KiB answer in 64 KiB chunks. */
                static uint8_t big[200 * 1024];
                for (size_t i = 0; i < sizeof(big); i++)
                        big[i] = (uint8_t) (i * 7);
                for (uint32_t off = 0; off < sizeof(big); off += 65536) {
                        uint32_t n = MIN((uint32_t) sizeof(big) - off, 65536u);
                        WireClipboardData d = { .serial = 5, .total = sizeof(big), .offset = off, .chunk = big + off,
                                                .chunk_len = n };
                        check(wire_encode_clipboard_data(raw_viewer_out(v), &d) >= 0);
                }
                raw_viewer_flush(v);
                WAIT_FOR(w.h, buffer_len(&w.agent.data) == sizeof(big));
                check(memcmp(buffer_data(&w.agent.data), big, sizeof(big)) == 0);
                check(w.agent.data_serial == w.agent.grab.serial && w.agent.data_total == sizeof(big));
        } else {
                WAIT_FOR(w.h, v->notices == 1);
                run_for(w.h, 300 * 1000);
                check(w.agent.grabs == 0);
        }
        check(v->notices <= 1); /* one notice per session at most */
        check(v->error == 0 && agent_state(w.a) == AGENT_ACTIVE);
        raw_viewer_free(v);
        world_free(&w);
}

/* The guest restates its grab after every hello; a restatement that crossed the viewer's newer
 * grab leaves the viewer's in place, a stale request from the guest is answered with nothing (an X
 * client pasting must not wait on us), and a new guest grab still wins. */
static void test_clipboard_crossing(void) {
        World w;
        Setup s = { .agent_keys = "Clipboard=both" };
        world_new(&w, &s);
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE);
        world_agent_active(&w, ALL_CAPS);
        AgentClipboardGrab g = { .serial = 1000, .formats = 1u << AGENT_FORMAT_TEXT };
        check(agent_encode_clipboard_grab(fake_agent_out(&w.agent), &g) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, v->grabs == 1);
        WireClipboardGrab vg = { .serial = 5, .formats = 1u << AGENT_FORMAT_TEXT };
        check(wire_encode_clipboard_grab(raw_viewer_out(v), &vg) >= 0);
        raw_viewer_flush(v);
        WAIT_FOR(w.h, w.agent.grabs == 1);
        check(agent_encode_clipboard_grab(fake_agent_out(&w.agent), &g) >= 0); /* the restatement */
        check(fake_agent_flush(&w.agent) >= 0);
        run_for(w.h, 300 * 1000);
        check(v->grabs == 1);
        AgentClipboardRequest q = { .serial = w.agent.grab.serial, .format = AGENT_FORMAT_TEXT };
        check(agent_encode_clipboard_request(fake_agent_out(&w.agent), &q) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, v->requests == 1);
        check(v->request.serial == 5);
        /* A request for a grab that is not the current one: nothing, at once. */
        AgentClipboardRequest stale = { .serial = w.agent.grab.serial + 100, .format = AGENT_FORMAT_TEXT };
        check(agent_encode_clipboard_request(fake_agent_out(&w.agent), &stale) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, w.agent.datas == 1);
        check(w.agent.data_serial == stale.serial && w.agent.data_total == 0 && buffer_len(&w.agent.data) == 0);
        check(v->requests == 1);
        g.serial = 1001;
        check(agent_encode_clipboard_grab(fake_agent_out(&w.agent), &g) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, v->grabs == 2);
        check(v->error == 0 && agent_state(w.a) == AGENT_ACTIVE);
        raw_viewer_free(v);
        world_free(&w);
}

/* ---- windows ---- */

static void send_window(World *w, uint32_t id, const char *title) {
        AgentWindowUpdate u = { .id = id, .state = 1 | 0x100, .x = -5, .y = 10, .width = 300, .height = 200,
                                .title = title, .title_len = strlen(title) };
        check(agent_encode_window_update(fake_agent_out(&w->agent), &u) >= 0);
}

static void test_windows(void) {
        Setup s = { .rate = 100000, .burst = 5000 }; /* the cap test below sends 1034 at once */
        World w;
        world_new(&w, &s);
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE);
        RawViewer *plain = viewer(&w, 0x1f | WIRE_CAP_AGENT, TICKET_ROLE_VIEW_ONLY);
        world_agent_active(&w, ALL_CAPS);
        check(agent_encode_windows_reset(fake_agent_out(&w.agent)) >= 0);
        send_window(&w, 0x400001, "xterm");
        send_window(&w, 0x400002, "editor");
        uint8_t ids[8] = { 2, 0, 0x40, 0, 1, 0, 0x40, 0 };
        check(agent_encode_window_stack(fake_agent_out(&w.agent), &(AgentWindowStack) { .ids = ids, .ids_len = 8 }) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, v->window_stacks == 1);
        check(v->window_updates == 2 && v->window.id == 0x400002 && v->window.state == 1 && v->window.x == -5);
        check(v->n_stack == 2 && v->stack[0] == 0x400002 && v->stack[1] == 0x400001);
        check(plain->window_updates == 0); /* no cap windows */

        /* A viewer that joins now gets the table. */
        RawViewer *late = viewer(&w, VIEWER_CAPS, TICKET_ROLE_VIEW_ONLY);
        WAIT_FOR(w.h, late->window_stacks == 1);
        check(late->window_resets == 1 && late->window_updates == 2 && late->n_stack == 2);

        /* Removal is relayed; actions from the interactive viewer reach the guest, a view-only
         * viewer's do not. */
        check(agent_encode_window_remove(fake_agent_out(&w.agent), &(AgentWindowRemove) { .id = 0x400001 }) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, v->window_removes == 1 && late->window_removes == 1);
        WireWindowAction act = { .id = 0x400002, .op = AGENT_OP_MOVE_RESIZE, .x = 10, .y = 20, .width = 640, .height = 480 };
        check(wire_encode_window_action(raw_viewer_out(late), &act) >= 0);
        raw_viewer_flush(late);
        WAIT_FOR(w.h, late->notices == 1);
        check(wire_encode_window_action(raw_viewer_out(v), &act) >= 0);
        raw_viewer_flush(v);
        WAIT_FOR(w.h, w.agent.window_actions == 1);
        check(w.agent.window_action.id == 0x400002 && w.agent.window_action.width == 640);

        /* Windows over the cap are ignored, not relayed. */
        unsigned before = v->window_updates;
        for (uint32_t id = 1; id <= AGENT_WINDOWS_MAX + 10; id++)
                send_window(&w, id, "w");
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, w.a->counters.messages >= 1 && w.a->n_windows == AGENT_WINDOWS_MAX);
        WAIT_FOR(w.h, v->window_updates == before + AGENT_WINDOWS_MAX - 1);
        run_for(w.h, 200 * 1000);
        check(w.a->counters.windows_ignored == 11);

        /* The agent goes: windows-reset to every viewer with the cap. */
        unsigned resets = v->window_resets;
        fake_agent_close(&w.agent);
        WAIT_FOR(w.h, v->window_resets == resets + 1 && w.a->n_windows == 0);
        raw_viewer_free(v);
        raw_viewer_free(plain);
        raw_viewer_free(late);
        world_free(&w);
}

/* ---- resize ---- */

static void send_resize(RawViewer *v, uint32_t width, uint32_t height) {
        WireResizeRequest q = { .width = width, .height = height };
        check(wire_encode_resize_request(raw_viewer_out(v), &q) >= 0);
        raw_viewer_flush(v);
}

static void test_resize(const char *policy) {
        char keys[64];
        snprintf(keys, sizeof(keys), "Resize=%s", policy);
        Setup s = { .agent_keys = keys };
        bool hyper = strcmp(policy, "hypervisor") == 0 || strcmp(policy, "both") == 0;
        bool agent = strcmp(policy, "agent") == 0 || strcmp(policy, "both") == 0;
        World w;
        fprintf(stderr, "resize policy %s\n", policy);
        world_new(&w, &s);
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE);

        /* Without an agent: the hypervisor path only. */
        send_resize(v, 1024, 768);
        if (hyper)
                WAIT_FOR(w.h, w.h->qemu->ui_info_calls == 1);
        else
                WAIT_FOR(w.h, w.a->counters.resizes == 1 || v->notices == 1);
        check(!hyper || (w.h->qemu->ui_info_width == 1024 && w.h->qemu->ui_info_height == 768));

        world_agent_active(&w, ALL_CAPS);
        /* Three at once: coalesced, the last wins. */
        run_for(w.h, 300 * 1000);
        unsigned calls = w.h->qemu->ui_info_calls;
        send_resize(v, 800, 600);
        send_resize(v, 801, 601);
        send_resize(v, 1280, 720);
        if (hyper) {
                WAIT_FOR(w.h, w.h->qemu->ui_info_width == 1280 && w.h->qemu->ui_info_height == 720);
                check(w.h->qemu->ui_info_calls - calls <= 2);
        }
        if (agent) {
                WAIT_FOR(w.h, w.agent.resize.width == 1280 && w.agent.resize.height == 720);
                check(w.agent.resizes <= 2);
        } else {
                run_for(w.h, 400 * 1000);
                check(w.agent.resizes == 0);
        }
        if (!hyper) {
                run_for(w.h, 100 * 1000);
                check(w.h->qemu->ui_info_calls == 0);
        }
        /* A view-only viewer does not resize anything. */
        RawViewer *vo = viewer(&w, VIEWER_CAPS, TICKET_ROLE_VIEW_ONLY);
        run_for(w.h, 300 * 1000);
        calls = w.h->qemu->ui_info_calls;
        send_resize(vo, 640, 480);
        WAIT_FOR(w.h, vo->notices == 1);
        run_for(w.h, 300 * 1000);
        check(w.h->qemu->ui_info_calls == calls);
        raw_viewer_free(vo);
        raw_viewer_free(v);
        world_free(&w);
}

/* ---- paste as keystrokes ---- */

static void test_paste(void) {
        Setup s = { .agent_keys = "PasteMax=6" };
        World w;
        world_new(&w, &s);
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE);
        /* No agent at all: a login prompt. "é" has no key: skipped. Cut after 6 characters. */
        const char *text = "aB1\xc3\xa9\r\n!xyz";
        WirePasteText p = { .text = text, .text_len = strlen(text) };
        unsigned base = w.h->qemu->key_calls;
        check(wire_encode_paste_text(raw_viewer_out(v), &p) >= 0);
        raw_viewer_flush(v);
        static const FakeQemuKey want[] = {
                { 0x1e, true }, { 0x1e, false },                                 /* a */
                { 0x2a, true }, { 0x30, true }, { 0x30, false }, { 0x2a, false }, /* B */
                { 0x02, true }, { 0x02, false },                                 /* 1 */
                { 0x1c, true }, { 0x1c, false },                                 /* CRLF: one Enter */
                { 0x2a, true }, { 0x02, true }, { 0x02, false }, { 0x2a, false }, /* ! */
                { 0x2d, true }, { 0x2d, false },                                 /* x, the 6th */
        };
        WAIT_FOR(w.h, w.h->qemu->key_calls == base + ELEMENTSOF(want));
        run_for(w.h, 300 * 1000);
        check(w.h->qemu->key_calls == base + ELEMENTSOF(want));
        for (size_t i = 0; i < ELEMENTSOF(want); i++) {
                FakeQemuKey k = w.h->qemu->keys[(base + i) % FAKE_QEMU_KEY_LOG];
                check(k.keycode == want[i].keycode && k.press == want[i].press);
        }
        check(w.a->counters.paste_chars == 6 && w.a->counters.paste_skipped == 1);

        /* A view-only viewer's paste is refused. */
        RawViewer *vo = viewer(&w, VIEWER_CAPS, TICKET_ROLE_VIEW_ONLY);
        check(wire_encode_paste_text(raw_viewer_out(vo), &p) >= 0);
        raw_viewer_flush(vo);
        WAIT_FOR(w.h, vo->notices == 1);
        check(w.h->qemu->key_calls == base + ELEMENTSOF(want));
        raw_viewer_free(vo);
        raw_viewer_free(v);
        world_free(&w);
}

static void test_paste_keymap(void) {
        uint8_t code;
        bool shift;
        /* Every printable ASCII character has a key on the US layout. */
        for (uint32_t c = 0x20; c < 0x7f; c++)
                check(agent_paste_key(c, &code, &shift) == 0);
        check(agent_paste_key('A', &code, &shift) == 0 && code == 0x1e && shift);
        check(agent_paste_key('~', &code, &shift) == 0 && code == 0x29 && shift);
        check(agent_paste_key('/', &code, &shift) == 0 && code == 0x35 && !shift);
        check(agent_paste_key(0xe9, &code, &shift) == -ENOENT);
        check(agent_paste_key(0x7, &code, &shift) == -ENOENT);
}

/* ---- power, status ---- */

typedef struct PowerResult {
        bool done;
        int error;
        uint8_t status;
        char reason[64];
} PowerResult;

static void power_done(void *userdata, int error, uint8_t status, const char *reason) {
        PowerResult *p = userdata;
        p->done = true;
        p->error = error;
        p->status = status;
        snprintf(p->reason, sizeof(p->reason), "%s", reason ? reason : "");
}

static void json_append(void *userdata, const char *data, size_t len) {
        check(buffer_append(userdata, data, len) >= 0);
}

static void test_power_and_status(void) {
        World w;
        PowerResult p = {};
        world_new(&w, NULL);
        check(agent_power_request(w.a, AGENT_ACTION_REBOOT, power_done, &p) == -ENOTCONN);
        world_agent_active(&w, ALL_CAPS);
        check(fake_agent_heartbeat(&w.agent) >= 0);
        check(agent_power_request(w.a, AGENT_ACTION_SHUTDOWN, power_done, &p) == 0);
        check(agent_power_request(w.a, AGENT_ACTION_SHUTDOWN, power_done, &p) == -EBUSY);
        WAIT_FOR(w.h, w.agent.power_requests == 1);
        check(w.agent.power_action == AGENT_ACTION_SHUTDOWN);
        AgentPowerReply reply = { .action = AGENT_ACTION_SHUTDOWN, .status = AGENT_STATUS_OK, .reason = "bye",
                                  .reason_len = 3 };
        check(agent_encode_power_reply(fake_agent_out(&w.agent), &reply) >= 0);
        check(fake_agent_flush(&w.agent) >= 0);
        WAIT_FOR(w.h, p.done);
        check(p.error == 0 && p.status == AGENT_STATUS_OK && strcmp(p.reason, "bye") == 0);

        Buffer json;
        buffer_init(&json, 1 << 20);
        agent_describe_json(w.a, json_append, &json);
        check(buffer_append(&json, "", 1) >= 0);
        const char *s = (const char *) buffer_data(&json);
        check(strstr(s, "\"mode\":\"agent\"") && strstr(s, "\"cause\":\"agent-hello\""));
        check(strstr(s, "\"software\":\"fake-agent \\\"1\\\"\"")); /* guest text escaped */
        check(strstr(s, "\"clipboard\":\"to-guest\"") && strstr(s, "\"hellos\":1"));
        check(strstr(s, "\"heartbeat\":{") && strstr(s, "\"mem_total_kib\":1048576"));
        buffer_clear(&json);

        /* A pending request fails when the agent goes. */
        p = (PowerResult) {};
        check(agent_power_request(w.a, AGENT_ACTION_REBOOT, power_done, &p) == 0);
        fake_agent_close(&w.agent);
        WAIT_FOR(w.h, p.done);
        check(p.error == -ECONNRESET);

        agent_describe_json(w.a, json_append, &json);
        check(buffer_append(&json, "", 1) >= 0);
        s = (const char *) buffer_data(&json);
        check(strstr(s, "\"mode\":\"hypervisor\"") && strstr(s, "\"cause\":\"agent-closed\"") &&
              strstr(s, "\"lost_closed\":1"));
        buffer_done(&json);
        world_free(&w);
}

static void test_policy(void) {
        AgentConfig c;
        AgentPolicy p;
        const char *why = NULL;
        agent_config_init(&c);
        check(agent_overrides_check("lab-*:Clipboard=both,PasteMax=0 kiosk:Agent=off", &why) == 0);
        check(agent_overrides_check("lab-*:Clipboard=sideways", &why) < 0 && why);
        check(agent_overrides_check("lab-*", &why) < 0);
        check(agent_overrides_check("x:Clipboard=both,", &why) < 0);
        check(agent_overrides_check("x:Nope=1", &why) < 0);
        c.overrides = strdup("lab-*:Clipboard=both,PasteMax=0 kiosk:Agent=off lab-2:Resize=off");
        agent_config_policy(&c, "lab-2", &p);
        check(p.clipboard == AGENT_CLIPBOARD_BOTH && p.paste_max == 0 && p.resize == AGENT_RESIZE_BOTH); /* first match */
        agent_config_policy(&c, "kiosk", &p);
        check(!p.enabled && agent_policy_caps(&p) == 0 && p.clipboard == AGENT_CLIPBOARD_TO_GUEST);
        agent_config_policy(&c, "other", &p);
        check(p.enabled && p.paste_max == 1024 && p.clipboard == AGENT_CLIPBOARD_TO_GUEST);
        agent_config_done(&c);
}

static void test_disabled(void) {
        Setup s = { .agent_keys = "Agent=off" };
        HarnessOptions o = { .configure = configure, .configure_userdata = &s };
        FakeAgent fa;
        Harness *h;
        fake_agent_setup(&fa, &o);
        check(harness_new(&o, &h) >= 0);
        static uint32_t px[16 * 16];
        check(harness_scanout(h, 16, 16, px) >= 0);
        World w = { .h = h };
        RawViewer *v = viewer(&w, VIEWER_CAPS, TICKET_ROLE_INTERACTIVE);
        WAIT_FOR(h, v->statuses == 1);
        check(v->status.mode == WIRE_MODE_HYPERVISOR && v->status.cause == WIRE_CAUSE_AGENT_DISABLED);
        check(fa.connects == 0);
        raw_viewer_free(v);
        harness_free(h);
        fake_agent_done(&fa);
}

static void test_channel_xml(void) {
        char path[108];
        const char *xml =
                "<domain type='qemu'><devices>"
                "<channel type='pty'><target type='virtio' name='org.tandem.agent.0'/></channel>"
                "<channel type='unix'><source mode='bind' path='/var/lib/other'/>"
                "<target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
                "<channel type='unix'>\n  <source mode='bind' path='/run/libvirt/qemu/channel/1-demo/org.tandem.agent.0&amp;x'/>\n"
                "  <target type='virtio' name='org.tandem.agent.0' state='connected'/>\n</channel></devices></domain>";
        check(agent_channel_path(xml, strlen(xml), path, sizeof(path)) == 0);
        check(strcmp(path, "/run/libvirt/qemu/channel/1-demo/org.tandem.agent.0&x") == 0);
        const char *none = "<domain><devices><channel type='unix'><target type='virtio' name='x'/></channel></devices></domain>";
        check(agent_channel_path(none, strlen(none), path, sizeof(path)) == -ENOENT);
        const char *nopath = "<channel type='unix'><target type='virtio' name='org.tandem.agent.0'/></channel>";
        check(agent_channel_path(nopath, strlen(nopath), path, sizeof(path)) == -ENOENT);
        check(agent_channel_path(xml, strlen(xml), path, 10) == -ENAMETOOLONG);
}

int main(int argc, char **argv) {
        const char *only = argc > 1 ? argv[1] : NULL;
#define RUN(name, call)                                                                                            \
        do {                                                                                                       \
                if (!only || strcmp(only, name) == 0) {                                                           \
                        fprintf(stderr, "== %s\n", name);                                                          \
                        call;                                                                                      \
                }                                                                                                  \
        } while (0)
        RUN("policy", test_policy());
        RUN("keymap", test_paste_keymap());
        RUN("channel-xml", test_channel_xml());
        RUN("detection", test_detection());
        RUN("disabled", test_disabled());
        RUN("heartbeat", test_heartbeat());
        RUN("reboot", test_reboot());
        for (size_t i = 0; i < ELEMENTSOF(hostiles); i++)
                RUN("hostile", test_hostile(&hostiles[i]));
        RUN("clipboard", test_clipboard("off"); test_clipboard("to-guest"); test_clipboard("to-client");
            test_clipboard("both"); test_clipboard_crossing());
        RUN("windows", test_windows());
        RUN("resize", test_resize("off"); test_resize("hypervisor"); test_resize("agent"); test_resize("both"));
        RUN("paste", test_paste());
        RUN("power", test_power_and_status());
        printf("ok\n");
        return 0;
}
