/* The INI parser: values, overrides by drop-ins, and errors that name file, line and value. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "conf.h"
#include "log.h"

typedef struct {
        char *name;
        unsigned interval;
        bool enabled;
} Settings;

static const ConfItem items[] = {
        { "Test", "Name", conf_parse_string, offsetof(Settings, name), 0 },
        { "Test", "Interval", conf_parse_unsigned, offsetof(Settings, interval), 3600 },
        { "Test", "Enabled", conf_parse_bool, offsetof(Settings, enabled), 0 },
        {},
};

static int parse(Settings *s, const char *text, char **error) {
        return conf_parse_buffer(items, s, "t.conf", text, strlen(text), error);
}

static void expect_error(const char *text, const char *message) {
        Settings s = {};
        char *error = NULL;
        assert(parse(&s, text, &error) < 0);
        if (!error || strcmp(error, message) != 0) {
                fprintf(stderr, "expected `%s', got `%s'\n", message, error ? error : "(null)");
                abort();
        }
        free(error);
        free(s.name);
}

static void write_file(const char *path, const char *text) {
        FILE *f = fopen(path, "w");
        assert(f);
        fputs(text, f);
        fclose(f);
}

int main(void) {
        Settings s = {};
        char *error = NULL;

        assert(parse(&s, "# comment\n[Test]\n Name = desk one \r\nInterval=30\nEnabled=yes\n; end", &error) == 0);
        assert(strcmp(s.name, "desk one") == 0 && s.interval == 30 && s.enabled);
        free(s.name);

        expect_error("[Test]\nInterval=abc\n", "t.conf:2: invalid value `abc' for Interval= (not a number)");
        expect_error("[Test]\nInterval=3601\n", "t.conf:2: invalid value `3601' for Interval= (out of range)");
        expect_error("[Test]\nInterval=99999999999\n", "t.conf:2: invalid value `99999999999' for Interval= (too large)");
        expect_error("[Test]\nColour=red\n", "t.conf:2: unknown key Colour= in section [Test]");
        expect_error("[Other]\n", "t.conf:1: unknown section [Other]");
        expect_error("Name=x\n", "t.conf:1: Name= outside of any section");
        expect_error("[Test]\nName\n", "t.conf:2: expected Key=Value, got `Name'");
        expect_error("[Test]\nEnabled=maybe\n", "t.conf:2: invalid value `maybe' for Enabled= (expected yes or no)");

        /* Drop-ins override the main file, in lexical order. */
        char dir[] = "/tmp/test-conf-XXXXXX", path[256], dropins[300], p[400];
        assert(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/x.conf", dir);
        snprintf(dropins, sizeof(dropins), "%s.d", path);
        write_file(path, "[Test]\nName=main\nInterval=1\n");
        assert(mkdir(dropins, 0755) == 0);
        snprintf(p, sizeof(p), "%s/20-b.conf", dropins);
        write_file(p, "[Test]\nName=b\n");
        snprintf(p, sizeof(p), "%s/10-a.conf", dropins);
        write_file(p, "[Test]\nName=a\nInterval=7\n");
        snprintf(p, sizeof(p), "%s/README", dropins);
        write_file(p, "not a config file, ignored");
        s = (Settings) {};
        assert(conf_load(items, &s, path, false, &error) == 0);
        assert(strcmp(s.name, "b") == 0 && s.interval == 7);
        free(s.name);

        /* A bad drop-in is reported with its own path. */
        snprintf(p, sizeof(p), "%s/30-bad.conf", dropins);
        write_file(p, "[Test]\nInterval=-1\n");
        s = (Settings) {};
        assert(conf_load(items, &s, path, false, &error) < 0);
        assert(strstr(error, "30-bad.conf:2: invalid value `-1'"));
        free(error);
        free(s.name);
        error = NULL;

        s = (Settings) {};
        assert(conf_load(items, &s, "/nonexistent/x.conf", true, &error) == 0);
        assert(conf_load(items, &s, "/nonexistent/x.conf", false, &error) == -ENOENT);
        assert(strstr(error, "cannot open"));
        free(error);
        printf("ok\n");
        return 0;
}
