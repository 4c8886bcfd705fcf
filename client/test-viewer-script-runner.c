/* The script runner against the session test double, on a clock the test moves by hand: what
 * input each command sends, when waiting commands go on, and how a script ends. */
#include <errno.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "test-fake-session.h"
#include "viewer-exit.h"
#include "viewer-script-runner.h"
#include "viewer-util.h"

#define MS USEC_PER_MSEC

static bool welcomed;
static ScriptRunner *current; /* the runner the clipboard's callbacks go to, as viewer-core does */

static void on_welcome(ClientSession *s, const char *desktop, int role, void *userdata) {
        welcomed = true;
}

static void on_clipboard_grab(ClientSession *s, uint32_t formats, void *userdata) {
        if (current)
                script_runner_clipboard_grab(current, formats);
}

static void on_clipboard_data(ClientSession *s, uint8_t format, int error, const uint8_t *data, size_t len,
                              void *userdata) {
        if (current)
                (void) script_runner_clipboard_data(current, format, error, data, len);
}

static void on_clipboard_request(ClientSession *s, uint8_t format, void *userdata) {
        if (!current || !script_runner_clipboard_request(current, format))
                (void) client_session_clipboard_send(s, format, NULL, 0);
}

static const ClientCallbacks callbacks = {
        .on_welcome = on_welcome,
        .on_clipboard_grab = on_clipboard_grab,
        .on_clipboard_data = on_clipboard_data,
        .on_clipboard_request = on_clipboard_request,
};

static const char *scenario = "fake:frames=0";

/* A fake session past its handshake (sending no frames, unless the scenario says otherwise). */
static ClientSession *connected(void) {
        ClientSession *s = NULL;

        welcomed = false;
        check(client_session_new(scenario, NULL, &callbacks, NULL, &s) == 0);
        while (!welcomed) {
                struct pollfd p = { .fd = client_session_fd(s), .events = POLLIN };
                check(poll(&p, 1, 5000) == 1);
                check(client_session_process(s) == 0);
        }
        return s;
}

typedef struct Run {
        Script *script;
        ClientSession *session;
        ScriptRunner *runner;
        ClientFramebuffer picture;
} Run;

static void start(Run *t, const char *text) {
        char *error = NULL;
        *t = (Run) {};
        if (script_parse("s.txt", text, strlen(text), &t->script, &error) < 0) {
                fprintf(stderr, "%s\n", error);
                check(false);
        }
        t->session = connected();
        check(script_runner_new(t->script, t->session, &t->picture, IMAGE_FORMAT_PNG, 0, &t->runner) == 0);
        current = t->runner;
}

static void finish(Run *t) {
        current = NULL;
        script_runner_free(t->runner);
        client_session_free(t->session);
        script_free(t->script);
        free(t->picture.pixels);
}

static const char *input(Run *t) {
        return fake_session_input_log(t->session);
}

static void check_input(Run *t, const char *want) {
        if (strcmp(input(t), want) != 0) {
                fprintf(stderr, "input:\n%s\nwant:\n%s\n", input(t), want);
                check(false);
        }
}

static int run_at(Run *t, uint64_t now, uint64_t *deadline) {
        *deadline = 12345;
        return script_runner_run(t->runner, now, deadline);
}

static void check_ended(Run *t, int status, const char *message) {
        int st = -1;
        const char *m = NULL;
        check(script_runner_ended(t->runner, &st, &m));
        if (st != status || (message ? !m || strcmp(m, message) != 0 : m != NULL)) {
                fprintf(stderr, "ended %d `%s', want %d `%s'\n", st, m ?: "(null)", status, message ?: "(null)");
                check(false);
        }
}

static void test_input_commands(void) {
        Run t;
        uint64_t d;

        start(&t, "key ret\nkey-down ctrl_r\nkey-up 0x9d\nmouse-abs 10 20\nmouse-rel -3 4\n"
                  "click left\nclick wheel-down\nhandover 77\n");
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, VIEWER_EXIT_DONE, NULL);
        check_input(&t, "key 0x1c down\nkey 0x1c up\nkey 0x9d down\nkey 0x9d up\nabs 10 20\nrel -3 4\n"
                        "button 0 down\nbutton 0 up\nbutton 4 down\nbutton 4 up\nhandover 77\n");
        finish(&t);
}

static void test_type(void) {
        Run t;
        uint64_t d;

        start(&t, "type aB\\n\nkey esc\n");
        check(run_at(&t, 1000 * MS, &d) == 0); /* 'a' at once, then a pause */
        check(d == 1000 * MS + SCRIPT_TYPE_INTERVAL_USEC);
        check_input(&t, "key 0x1e down\nkey 0x1e up\n");
        check(run_at(&t, d - 1, &d) == 0); /* early: nothing more */
        check_input(&t, "key 0x1e down\nkey 0x1e up\n");
        check(run_at(&t, d, &d) == 0);
        check_input(&t, "key 0x1e down\nkey 0x1e up\nkey 0x2a down\nkey 0x30 down\nkey 0x30 up\nkey 0x2a up\n");
        check(run_at(&t, d, &d) == 1); /* the last character, then the next command without a pause */
        check_input(&t, "key 0x1e down\nkey 0x1e up\nkey 0x2a down\nkey 0x30 down\nkey 0x30 up\nkey 0x2a up\n"
                        "key 0x1c down\nkey 0x1c up\nkey 0x01 down\nkey 0x01 up\n");
        check_ended(&t, VIEWER_EXIT_DONE, NULL);
        finish(&t);
}

static void test_waits(void) {
        Run t;
        uint64_t d;

        start(&t, "sleep 50\nkey 1\nwait-frame\nkey 2\nwait-still 100\nkey 3\n");
        check(run_at(&t, 10 * MS, &d) == 0 && d == 60 * MS);
        check(run_at(&t, 59 * MS, &d) == 0 && d == 60 * MS);
        check_input(&t, "");
        script_runner_frame(t.runner, 59 * MS); /* a frame before wait-frame began does not count */
        check(run_at(&t, 60 * MS, &d) == 0 && d == USEC_INFINITY);
        check_input(&t, "key 0x01 down\nkey 0x01 up\n");
        check(run_at(&t, 500 * MS, &d) == 0 && d == USEC_INFINITY);
        script_runner_frame(t.runner, 510 * MS);
        /* wait-frame ends; wait-still counts from the later of its start and the last frame */
        check(run_at(&t, 520 * MS, &d) == 0 && d == 620 * MS);
        check_input(&t, "key 0x01 down\nkey 0x01 up\nkey 0x02 down\nkey 0x02 up\n");
        script_runner_frame(t.runner, 600 * MS); /* the screen moved: wait longer */
        check(run_at(&t, 620 * MS, &d) == 0 && d == 700 * MS);
        check(run_at(&t, 700 * MS, &d) == 1);
        check_input(&t, "key 0x01 down\nkey 0x01 up\nkey 0x02 down\nkey 0x02 up\nkey 0x03 down\nkey 0x03 up\n");
        check_ended(&t, VIEWER_EXIT_DONE, NULL);
        finish(&t);

        /* sleep 0 and wait-still 0 do not wait */
        start(&t, "sleep 0\nwait-still 0\n");
        check(run_at(&t, 5, &d) == 1);
        finish(&t);
}

static void test_exit_and_expect(void) {
        Run t;
        uint64_t d;
        int st;

        start(&t, "key 1\nexit 7\nkey 2\n");
        check(!script_runner_ended(t.runner, &st, NULL));
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, 7, NULL);
        check_input(&t, "key 0x01 down\nkey 0x01 up\n");
        check(run_at(&t, 0, &d) == 1); /* stays ended */
        finish(&t);

        start(&t, "expect-mode 64 48\n");
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, VIEWER_EXIT_SCRIPT, "s.txt:1: expect-mode failed: expected 64x48, but no frame has arrived yet");
        finish(&t);

        start(&t, "\n# the picture is 64x48\nexpect-mode 64 48\nexpect-mode 640 480\nkey 1\n");
        t.picture = (ClientFramebuffer) { .width = 64, .height = 48, .stride = 256, .pixels = calloc(48, 256) };
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, VIEWER_EXIT_SCRIPT, "s.txt:4: expect-mode failed: expected 640x480, the mode is 64x48");
        check_input(&t, ""); /* nothing after a failure */
        finish(&t);
}

static void test_wait_mode(void) {
        Run t;
        uint64_t d;

        /* Waits through frames of other modes; goes on once the picture has that mode. */
        start(&t, "wait-mode 64 48\nkey 1\n");
        check(run_at(&t, 0, &d) == 0 && d == USEC_INFINITY);
        t.picture = (ClientFramebuffer) { .width = 32, .height = 16, .stride = 128, .pixels = calloc(16, 128) };
        script_runner_frame(t.runner, 10);
        check(run_at(&t, 10, &d) == 0);
        check_input(&t, "");
        free(t.picture.pixels);
        t.picture = (ClientFramebuffer) { .width = 64, .height = 48, .stride = 256, .pixels = calloc(48, 256) };
        script_runner_frame(t.runner, 20);
        check(run_at(&t, 20, &d) == 1);
        check_input(&t, "key 0x01 down\nkey 0x01 up\n");
        check_ended(&t, VIEWER_EXIT_DONE, NULL);
        finish(&t);
}

static void test_save(void) {
        char dir[] = "/tmp/test-viewer-runner.XXXXXX";
        char text[512], path[256];
        Run t;
        uint64_t d;

        check(mkdtemp(dir));
        snprintf(text, sizeof(text), "save %s/a.ppm\nsave %s/b\nsave %s/none/c.png\n", dir, dir, dir);
        start(&t, text);
        t.picture = (ClientFramebuffer) { .width = 2, .height = 2, .stride = 8, .pixels = calloc(2, 8) };
        check(run_at(&t, 0, &d) == 1);
        snprintf(text, sizeof(text), "s.txt:3: save failed: %s/none/c.png: No such file or directory", dir);
        check_ended(&t, VIEWER_EXIT_SCRIPT, text);

        /* a.ppm is a PPM by its name; b has none and gets the default format, PNG */
        uint8_t head[8];
        snprintf(path, sizeof(path), "%s/a.ppm", dir);
        FILE *f = fopen(path, "rb");
        check(f && fread(head, 1, 2, f) == 2 && memcmp(head, "P6", 2) == 0);
        fclose(f);
        unlink(path);
        snprintf(path, sizeof(path), "%s/b", dir);
        f = fopen(path, "rb");
        check(f && fread(head, 1, 8, f) == 8 && memcmp(head, "\x89PNG", 4) == 0);
        fclose(f);
        unlink(path);
        check(rmdir(dir) == 0);
        finish(&t);

        start(&t, "save /tmp/never-written.png\n");
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, VIEWER_EXIT_SCRIPT, "s.txt:1: save failed: /tmp/never-written.png: no frame has arrived yet");
        check(access("/tmp/never-written.png", F_OK) < 0);
        finish(&t);
}

static void test_closed_session(void) {
        Run t;
        uint64_t d;

        start(&t, "type ab\n");
        check(client_session_close(t.session) == 0);
        struct pollfd p = { .fd = client_session_fd(t.session), .events = POLLIN };
        check(poll(&p, 1, 5000) == 1);
        check(client_session_process(t.session) < 0);
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, VIEWER_EXIT_SCRIPT, "s.txt:1: type failed: the session refused the input: "
                                            "Transport endpoint is not connected");
        finish(&t);
}

/* Lets the fake session do what it has armed (the guest asking for our clipboard, frames). */
static void settle(Run *t, int rounds) {
        for (int i = 0; i < rounds; i++) {
                struct pollfd p = { .fd = client_session_fd(t->session), .events = POLLIN };
                if (poll(&p, 1, 50) == 1)
                        check(client_session_process(t->session) == 0);
        }
}

static void test_agent_commands(void) {
        Run t;
        uint64_t d;
        char path[] = "/tmp/test-viewer-script-windows-XXXXXX";
        int fd = mkstemp(path);
        check(fd >= 0);
        close(fd);
        char text[512];
        snprintf(text, sizeof(text),
                 "wait-agent active\nwait-agent clipboard\nwait-windows 2\nclipboard-expect hello guest\n"
                 "clipboard-set copied\\tby viewer\npaste-text caf\xc3\xa9 root\nresize 1024 768\ndump-windows %s\n",
                 path);

        scenario = "fake:frames=0,agent=3c,guest-clip=hello guest,windows=2";
        start(&t, text);
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, VIEWER_EXIT_DONE, NULL);
        settle(&t, 3); /* the fake guest asks for our grab */
        check_input(&t, "clipboard-grab 1\npaste caf\xc3\xa9 root\nresize 1024 768\nclipboard-in 0 16 copied\tby viewer\n");

        FILE *f = fopen(path, "re");
        check(f);
        char buf[2048] = "";
        size_t n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[n] = 0;
        const char *want = "{\"dump\":1,\"count\":2}\n"
                           "{\"id\":100,\"z\":0,\"state\":1,\"x\":0,\"y\":0,\"width\":20,\"height\":10,\"icon\":[0,0],\"title\":\"win 0\"}\n"
                           "{\"id\":101,\"z\":1,\"state\":1,\"x\":8,\"y\":6,\"width\":20,\"height\":10,\"icon\":[0,0],\"title\":\"win 1\"}\n";
        if (strcmp(buf, want) != 0) {
                fprintf(stderr, "dump:\n%s\nwant:\n%s\n", buf, want);
                check(false);
        }
        unlink(path);
        finish(&t);

        /* The wrong text: the command fails and says what the guest holds. */
        scenario = "fake:frames=0,agent=4,guest-clip=other";
        start(&t, "clipboard-expect hello\n");
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, VIEWER_EXIT_SCRIPT, "s.txt:1: clipboard-expect failed: the guest's clipboard holds 5 bytes `other'");
        finish(&t);

        /* No guest grab yet: it waits. */
        scenario = "fake:frames=0,agent=4";
        start(&t, "clipboard-expect hello\n");
        check(run_at(&t, 0, &d) == 0 && d == USEC_INFINITY);
        finish(&t);

        /* Without an agent the waits wait; the agent's loss ends wait-agent none. */
        scenario = "fake:frames=3,interval=1,agent=3c,agent-lost-after=2,windows=1";
        start(&t, "wait-agent none\nwait-windows 0\nexit 7\n");
        settle(&t, 20);
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, 7, NULL);
        finish(&t);

        scenario = "fake:frames=0";
        start(&t, "wait-agent active\n");
        check(run_at(&t, 0, &d) == 0 && d == USEC_INFINITY);
        finish(&t);
        start(&t, "clipboard-set-png /nonexistent/x.png\n");
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, VIEWER_EXIT_SCRIPT, "s.txt:1: clipboard-set-png failed: /nonexistent/x.png: No such file or directory");
        finish(&t);
        /* A grab while the clipboard is off is kept for later: no failure. */
        start(&t, "clipboard-set x\n");
        check(run_at(&t, 0, &d) == 1);
        check_ended(&t, VIEWER_EXIT_DONE, NULL);
        finish(&t);
}

int main(void) {
        test_input_commands();
        test_type();
        test_waits();
        test_exit_and_expect();
        test_wait_mode();
        test_save();
        test_closed_session();
        test_agent_commands();
        printf("ok\n");
        return 0;
}
