/* The script parser: every command, the text escapes, and one message per mistake naming the
 * file, the line and the bad value. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "client-agent.h"
#include "viewer-script.h"

static Script *parse_ok(const char *text) {
        Script *s = NULL;
        char *error = NULL;
        int r = script_parse("script.txt", text, strlen(text), &s, &error);
        if (r < 0) {
                fprintf(stderr, "unexpected error %d: %s\n", r, error ?: "(none)");
                check(false);
        }
        check(!error);
        return s;
}

static void parse_fails(const char *text, size_t len, const char *message) {
        Script *s = (Script *) 0x1; /* must stay untouched */
        char *error = NULL;

        check(script_parse("script.txt", text, len, &s, &error) == -EINVAL);
        check(s == (Script *) 0x1);
        if (!error || strcmp(error, message) != 0) {
                fprintf(stderr, "got `%s'\nwant `%s'\n", error ?: "(null)", message);
                check(false);
        }
        free(error);
}

#define FAILS(text, message) parse_fails(text, strlen(text), message)

static void test_every_command(void) {
        Script *s = parse_ok("# boot and log in\n"
                             "\n"
                             "sleep 250\n"
                             "  wait-frame\n"
                             "wait-still 2000\n"
                             "type root\\n\n"
                             "key ret\n"
                             "key-down 0x1d\n"
                             "key-up ctrl\n"
                             "mouse-abs 320 240\n"
                             "mouse-rel -5 7\n"
                             "click right\n"
                             "click 4\n"
                             "save /tmp/a b.png  \n"
                             "expect-mode 640 480\n"
                             "handover 18446744073709551615\n"
                             "exit 3\n");
        check(strcmp(s->name, "script.txt") == 0);
        check(s->n_commands == 15);

        const ScriptCommand *c = s->commands;
        check(c[0].type == SCRIPT_SLEEP && c[0].ms == 250 && c[0].line == 3);
        check(c[1].type == SCRIPT_WAIT_FRAME && c[1].line == 4);
        check(c[2].type == SCRIPT_WAIT_STILL && c[2].ms == 2000);
        check(c[3].type == SCRIPT_TYPE && strcmp(c[3].text, "root\n") == 0);
        check(c[4].type == SCRIPT_KEY && c[4].keycode == 0x1c);
        check(c[5].type == SCRIPT_KEY_DOWN && c[5].keycode == 0x1d);
        check(c[6].type == SCRIPT_KEY_UP && c[6].keycode == 0x1d);
        check(c[7].type == SCRIPT_MOUSE_ABS && c[7].pos.x == 320 && c[7].pos.y == 240);
        check(c[8].type == SCRIPT_MOUSE_REL && c[8].pos.x == -5 && c[8].pos.y == 7);
        check(c[9].type == SCRIPT_CLICK && c[9].button == 2);
        check(c[10].type == SCRIPT_CLICK && c[10].button == 4);
        check(c[11].type == SCRIPT_SAVE && strcmp(c[11].text, "/tmp/a b.png") == 0);
        check(c[12].type == SCRIPT_EXPECT_MODE && c[12].mode.width == 640 && c[12].mode.height == 480);
        check(c[13].type == SCRIPT_HANDOVER && c[13].session == UINT64_MAX);
        check(c[14].type == SCRIPT_EXIT && c[14].exit_code == 3 && c[14].line == 17);
        for (int i = 0; i < _SCRIPT_COMMAND_MAX; i++)
                check(script_command_name((ScriptCommandType) i));
        script_free(s);
}

static void test_text(void) {
        Script *s = parse_ok("type  two  spaces \n"
                             "type a\\tb\\\\c\\n\n"
                             "type #not a comment\r\n"
                             "type \"'`~!@$%^&*()_+{}|:<>?\n"
                             "\ttype\tx");
        check(s->n_commands == 5);
        check(strcmp(s->commands[0].text, " two  spaces ") == 0); /* one blank separates */
        check(strcmp(s->commands[1].text, "a\tb\\c\n") == 0);
        check(strcmp(s->commands[2].text, "#not a comment") == 0); /* CRLF: the CR is not typed */
        check(strcmp(s->commands[3].text, "\"'`~!@$%^&*()_+{}|:<>?") == 0);
        check(strcmp(s->commands[4].text, "x") == 0); /* no final newline needed */
        script_free(s);

        s = parse_ok("");
        check(s->n_commands == 0);
        script_free(s);
        s = parse_ok("# nothing\n\n   \n");
        check(s->n_commands == 0);
        script_free(s);
}

static void test_agent_commands(void) {
        Script *s = parse_ok("wait-agent active\n"
                             "wait-agent none\n"
                             "wait-agent clipboard-text\n"
                             "clipboard-set  two\\tspaces caf\xc3\xa9\n"
                             "clipboard-set-png  /tmp/a b.png \n"
                             "clipboard-expect x\n"
                             "clipboard-expect-png p.png\n"
                             "paste-text p@ss\\n\n"
                             "resize 1920 1080\n"
                             "wait-windows 3\n"
                             "dump-windows -\n"
                             "wait-file /tmp/x y\n");
        check(s->n_commands == 12);
        const ScriptCommand *c = s->commands;
        check(c[0].type == SCRIPT_WAIT_AGENT && !c[0].agent.none && c[0].agent.features == 0);
        check(c[1].type == SCRIPT_WAIT_AGENT && c[1].agent.none);
        check(c[2].type == SCRIPT_WAIT_AGENT && c[2].agent.features == CLIENT_FEATURE_CLIPBOARD_TEXT);
        check(c[3].type == SCRIPT_CLIPBOARD_SET && strcmp(c[3].text, " two\tspaces caf\xc3\xa9") == 0);
        check(c[4].type == SCRIPT_CLIPBOARD_SET_PNG && strcmp(c[4].text, "/tmp/a b.png") == 0);
        check(c[5].type == SCRIPT_CLIPBOARD_EXPECT && strcmp(c[5].text, "x") == 0);
        check(c[6].type == SCRIPT_CLIPBOARD_EXPECT_PNG && strcmp(c[6].text, "p.png") == 0);
        check(c[7].type == SCRIPT_PASTE_TEXT && strcmp(c[7].text, "p@ss\n") == 0);
        check(c[8].type == SCRIPT_RESIZE && c[8].mode.width == 1920 && c[8].mode.height == 1080);
        check(c[9].type == SCRIPT_WAIT_WINDOWS && c[9].count == 3);
        check(c[10].type == SCRIPT_DUMP_WINDOWS && strcmp(c[10].text, "-") == 0);
        check(c[11].type == SCRIPT_WAIT_FILE && strcmp(c[11].text, "/tmp/x y") == 0);
        for (size_t i = 0; i < s->n_commands; i++)
                check(script_command_has_text(c[i].type) == (i >= 3 && i <= 7) + (i >= 10));
        script_free(s);

        FAILS("wait-agent", "script.txt:1: `wait-agent' needs 1 argument (wait-agent active|none|FEATURE)");
        FAILS("wait-agent maybe", "script.txt:1: invalid agent state `maybe' (active, none, clipboard, clipboard-text, "
                                  "clipboard-image, windows, resize, heartbeat, sessions or power)");
        FAILS("clipboard-set", "script.txt:1: `clipboard-set' needs text");
        FAILS("paste-text a\\x", "script.txt:1: unknown escape `\\x' (\\n, \\t or \\\\)");
        FAILS("clipboard-set-png  ", "script.txt:1: `clipboard-set-png' needs a path");
        FAILS("dump-windows", "script.txt:1: `dump-windows' needs a path");
        FAILS("wait-file", "script.txt:1: `wait-file' needs a path");
        FAILS("resize 0 10", "script.txt:1: invalid mode size `0' (1-16384)");
        FAILS("wait-windows 1025", "script.txt:1: invalid window count `1025' (0-1024)");
}

static void test_errors(void) {
        FAILS("sleep 1\n\ntpye root\n", "script.txt:3: unknown command `tpye'");
        FAILS("Sleep 1", "script.txt:1: unknown command `Sleep'");
        FAILS("sleep", "script.txt:1: `sleep' needs 1 argument (sleep MS)");
        FAILS("sleep 1 2", "script.txt:1: `sleep' needs 1 argument (sleep MS)");
        FAILS("sleep abc", "script.txt:1: invalid duration `abc' for sleep (milliseconds, 0-86400000)");
        FAILS("sleep -1", "script.txt:1: invalid duration `-1' for sleep (milliseconds, 0-86400000)");
        FAILS("wait-still 86400001", "script.txt:1: invalid duration `86400001' for wait-still (milliseconds, 0-86400000)");
        FAILS("wait-frame now", "script.txt:1: `wait-frame' takes no argument");
        FAILS("type", "script.txt:1: `type' needs text");
        FAILS("type ", "script.txt:1: `type' needs text");
        FAILS("type a\\qb", "script.txt:1: unknown escape `\\q' (\\n, \\t or \\\\)");
        FAILS("type ab\\", "script.txt:1: `\\' at the end of the text (write \\\\ for a backslash)");
        FAILS("type caf\xc3\xa9", "script.txt:1: cannot type byte 0xc3 (US ASCII keys only)");
        FAILS("type a\x01", "script.txt:1: cannot type byte 0x01 (US ASCII keys only)");
        FAILS("key foo", "script.txt:1: invalid key `foo' (a keycode 1-0xff or a name such as ret, f1, ctrl_r)");
        FAILS("key 0x100", "script.txt:1: invalid key `0x100' (a keycode 1-0xff or a name such as ret, f1, ctrl_r)");
        FAILS("key-down", "script.txt:1: `key-down' needs 1 argument (key-down CODE)");
        FAILS("mouse-abs 1", "script.txt:1: `mouse-abs' needs 2 arguments (mouse-abs X Y)");
        FAILS("mouse-abs -1 0", "script.txt:1: invalid coordinate `-1' (0-65535)");
        FAILS("mouse-abs 0 65536", "script.txt:1: invalid coordinate `65536' (0-65535)");
        FAILS("mouse-rel 1 -65536", "script.txt:1: invalid offset `-65536' (-65535 to 65535)");
        FAILS("mouse-rel 1 2 3", "script.txt:1: `mouse-rel' needs 2 arguments (mouse-rel DX DY)");
        FAILS("click top", "script.txt:1: invalid button `top' (left, middle, right, wheel-up, wheel-down or 0-4)");
        FAILS("click 5", "script.txt:1: invalid button `5' (left, middle, right, wheel-up, wheel-down or 0-4)");
        FAILS("save", "script.txt:1: `save' needs a path");
        FAILS("save   \t ", "script.txt:1: `save' needs a path");
        FAILS("expect-mode 640", "script.txt:1: `expect-mode' needs 2 arguments (expect-mode W H)");
        FAILS("expect-mode 0 480", "script.txt:1: invalid mode size `0' (1-16384)");
        FAILS("expect-mode 640 16385", "script.txt:1: invalid mode size `16385' (1-16384)");
        FAILS("handover x", "script.txt:1: invalid session `x' (a session id from hostd)");
        FAILS("exit 256", "script.txt:1: invalid exit code `256' (0-255)");
        FAILS("exit", "script.txt:1: `exit' needs 1 argument (exit CODE)");

        /* a long bad value is quoted, not copied whole */
        char line[200] = "tpye";
        memset(line + 4, 'x', 100);
        line[104] = '\0';
        char want[200];
        snprintf(want, sizeof(want), "script.txt:1: unknown command `tpye%.60s'", line + 4);
        parse_fails(line, strlen(line), want);

        /* NULs are an error, not the end of the script */
        parse_fails("sleep 1\nsleep\0 1\n", 17, "script.txt:2: NUL byte in the line");

        char *big = malloc(SCRIPT_LINE_MAX + 20);
        check(big);
        memcpy(big, "type ", 5);
        memset(big + 5, 'a', SCRIPT_LINE_MAX);
        parse_fails(big, SCRIPT_LINE_MAX + 5, "script.txt:1: line too long (over 4096 bytes)");
        /* exactly the maximum is fine */
        Script *s = NULL;
        check(script_parse("x", big, SCRIPT_LINE_MAX, &s, NULL) == 0);
        check(s->n_commands == 1 && strlen(s->commands[0].text) == SCRIPT_LINE_MAX - 5);
        script_free(s);
        free(big);

        /* no error message wanted: still fails cleanly */
        s = (Script *) 0x1;
        check(script_parse("x", "tpye", 4, &s, NULL) == -EINVAL && s == (Script *) 0x1);
}

static void test_load(void) {
        char path[] = "/tmp/test-viewer-script.XXXXXX";
        Script *s = NULL;
        char *error = NULL;

        int fd = mkstemp(path);
        check(fd >= 0);
        FILE *f = fdopen(fd, "w");
        check(f);
        fputs("wait-frame\nsave /tmp/x.png\n", f);
        fclose(f);
        check(script_load(path, &s, &error) == 0);
        check(s->n_commands == 2 && strcmp(s->name, path) == 0);
        script_free(s);

        f = fopen(path, "w");
        check(f);
        fputs("wait-frame\nwait-frame 2\n", f);
        fclose(f);
        s = NULL;
        check(script_load(path, &s, &error) == -EINVAL && !s);
        char want[128];
        snprintf(want, sizeof(want), "%s:2: `wait-frame' takes no argument", path);
        check(strcmp(error, want) == 0);
        free(error);
        error = NULL;
        unlink(path);

        check(script_load(path, &s, &error) == -ENOENT && !s);
        check(strstr(error, path));
        free(error);
        check(script_free(NULL) == NULL);
}

int main(void) {
        test_every_command();
        test_text();
        test_errors();
        test_agent_commands();
        test_load();
        printf("ok\n");
        return 0;
}
