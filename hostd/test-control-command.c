/* The control socket's command parser: every verb, and the errors a client gets. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "hostd-control-command.h"

static int parse(const char *s, ControlCommand *c, const char **error) {
        return control_command_parse(s, strlen(s), c, error);
}

static void expect_error(const char *s, const char *why) {
        ControlCommand c;
        const char *error = NULL;
        assert(parse(s, &c, &error) < 0);
        if (strcmp(error, why) != 0) {
                fprintf(stderr, "%s: expected `%s', got `%s'\n", s, why, error);
                assert(0);
        }
}

int main(void) {
        ControlCommand c;
        const char *error;

        assert(parse("status", &c, &error) == 0 && c.verb == CONTROL_STATUS);
        assert(parse("  watch ", &c, &error) == 0 && c.verb == CONTROL_WATCH);
        assert(parse("dump demo 0 /tmp/a.ppm", &c, &error) == 0 && c.verb == CONTROL_DUMP &&
               strcmp(c.domain, "demo") == 0 && strcmp(c.path, "/tmp/a.ppm") == 0);
        assert(parse("key demo 0 press 28", &c, &error) == 0 && c.verb == CONTROL_KEY && c.press && c.code == 28);
        assert(parse("key demo 0 release 57416", &c, &error) == 0 && !c.press && c.code == 57416);
        assert(parse("mouse demo 1 press 2", &c, &error) == 0 && c.verb == CONTROL_MOUSE_BUTTON && c.console == 1);
        assert(parse("mouse demo 0 abs 100 200", &c, &error) == 0 && c.verb == CONTROL_MOUSE_ABS && c.x == 100 &&
               c.y == 200);
        assert(parse("mouse demo 0 rel -5 7", &c, &error) == 0 && c.verb == CONTROL_MOUSE_REL && c.x == -5 && c.y == 7);

        assert(parse("agent-power demo reboot", &c, &error) == 0 && c.verb == CONTROL_AGENT_POWER && c.code == 0 &&
               strcmp(c.domain, "demo") == 0);
        assert(parse("agent-power demo shutdown", &c, &error) == 0 && c.code == 1);
        expect_error("agent-power demo halt", "usage: agent-power DOMAIN reboot|shutdown");
        expect_error("agent-power demo", "usage: agent-power DOMAIN reboot|shutdown");

        expect_error("", "empty command");
        expect_error("reboot demo", "unknown command (status, watch, dump, key, mouse, agent-power)");
        expect_error("status now", "takes no arguments");
        expect_error("dump demo", "expected DOMAIN CONSOLE after the command");
        expect_error("dump demo 0 relative.ppm", "usage: dump DOMAIN CONSOLE /ABSOLUTE/PATH.ppm");
        expect_error("key demo 0 press 70000", "key code or button out of range");
        expect_error("key demo 0 tap 1", "usage: key DOMAIN CONSOLE press|release CODE");
        expect_error("mouse demo 0 abs -1 5", "coordinates out of range");
        expect_error("key demo\t0 press 1", "control character in command");
        expect_error("a b c d e f g h i", "too many words");
        char longline[1100];
        memset(longline, 'a', sizeof(longline));
        assert(control_command_parse(longline, sizeof(longline), &c, &error) < 0 &&
               strcmp(error, "line too long") == 0);
        printf("ok\n");
        return 0;
}
