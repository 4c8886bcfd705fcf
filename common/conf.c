#include "conf.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "macro.h"

static int set_error(char **error, const char *fmt, ...) _printf_(2, 3);
static int set_error(char **error, const char *fmt, ...) {
        va_list ap;
        if (!error || *error)
                return 0;
        va_start(ap, fmt);
        if (vasprintf(error, fmt, ap) < 0)
                *error = NULL;
        va_end(ap);
        return 0;
}

int conf_parse_string(const ConfItem *item, const char *value, void *target, const char **why) {
        char **p = (char **) ((char *) target + item->offset);
        char *s = strdup(value);
        if (!s)
                return -ENOMEM;
        free(*p);
        *p = s;
        return 0;
}

int conf_parse_unsigned(const ConfItem *item, const char *value, void *target, const char **why) {
        unsigned *p = (unsigned *) ((char *) target + item->offset);
        unsigned long v = 0;

        if (!*value) {
                *why = "empty";
                return -EINVAL;
        }
        for (const char *c = value; *c; c++) {
                if (!isdigit((unsigned char) *c)) {
                        *why = "not a number";
                        return -EINVAL;
                }
                v = v * 10 + (unsigned long) (*c - '0');
                if (v > 0xffffffffUL) {
                        *why = "too large";
                        return -ERANGE;
                }
        }
        if (item->max && v > item->max) {
                *why = "out of range";
                return -ERANGE;
        }
        *p = (unsigned) v;
        return 0;
}

int conf_parse_bool(const ConfItem *item, const char *value, void *target, const char **why) {
        bool *p = (bool *) ((char *) target + item->offset);
        static const char *const yes[] = { "1", "yes", "true", "on" }, *const no[] = { "0", "no", "false", "off" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                if (strcasecmp(value, yes[i]) == 0) {
                        *p = true;
                        return 0;
                }
                if (strcasecmp(value, no[i]) == 0) {
                        *p = false;
                        return 0;
                }
        }
        *why = "expected yes or no";
        return -EINVAL;
}

int conf_parse_log_level(const ConfItem *item, const char *value, void *target, const char **why) {
        int *p = (int *) ((char *) target + item->offset);
        int l = log_level_from_string(value);
        if (l < 0) {
                *why = "expected debug, info, notice, warning or error";
                return l;
        }
        *p = l;
        return 0;
}

static char *strip(char *s) {
        while (*s == ' ' || *s == '\t')
                s++;
        size_t n = strlen(s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
                s[--n] = 0;
        return s;
}

static bool printable(const char *s) {
        for (; *s; s++)
                if ((unsigned char) *s < 0x20 && *s != '\t')
                        return false;
        return true;
}

static int parse_line(const ConfItem *items, void *target, const char *name, unsigned lineno, char *line,
                      char section[static 64], char **error) {
        char *l = strip(line);

        if (!*l || *l == '#' || *l == ';')
                return 0;
        if (!printable(l))
                return set_error(error, "%s:%u: control character in line", name, lineno), -EBADMSG;
        if (*l == '[') {
                size_t n = strlen(l);
                if (n < 3 || l[n - 1] != ']' || n - 2 >= 64)
                        return set_error(error, "%s:%u: invalid section header `%s'", name, lineno, l), -EBADMSG;
                l[n - 1] = 0;
                for (const ConfItem *i = items; i->key; i++)
                        if (strcmp(i->section, l + 1) == 0) {
                                snprintf(section, 64, "%s", l + 1);
                                return 0;
                        }
                return set_error(error, "%s:%u: unknown section [%s]", name, lineno, l + 1), -EBADMSG;
        }

        char *eq = strchr(l, '=');
        if (!eq)
                return set_error(error, "%s:%u: expected Key=Value, got `%s'", name, lineno, l), -EBADMSG;
        *eq = 0;
        char *key = strip(l), *value = strip(eq + 1);
        if (!section[0])
                return set_error(error, "%s:%u: %s= outside of any section", name, lineno, key), -EBADMSG;

        for (const ConfItem *i = items; i->key; i++) {
                if (strcmp(i->section, section) != 0 || strcmp(i->key, key) != 0)
                        continue;
                const char *why = "invalid";
                int r = i->parse(i, value, target, &why);
                if (r == -ENOMEM)
                        return r;
                if (r < 0)
                        return set_error(error, "%s:%u: invalid value `%s' for %s= (%s)", name, lineno, value, key,
                                         why),
                               r;
                return 0;
        }
        return set_error(error, "%s:%u: unknown key %s= in section [%s]", name, lineno, key, section), -EBADMSG;
}

int conf_parse_buffer(const ConfItem *items, void *target, const char *name, const char *buf, size_t len,
                      char **error) {
        char section[64] = "";
        char line[CONF_LINE_MAX + 1];
        unsigned lineno = 0;
        size_t pos = 0;

        while (pos < len) {
                const char *nl = memchr(buf + pos, '\n', len - pos);
                size_t n = nl ? (size_t) (nl - (buf + pos)) : len - pos;
                lineno++;
                if (n > CONF_LINE_MAX)
                        return set_error(error, "%s:%u: line too long (over %d bytes)", name, lineno, CONF_LINE_MAX),
                               -E2BIG;
                if (memchr(buf + pos, 0, n))
                        return set_error(error, "%s:%u: NUL byte in line", name, lineno), -EBADMSG;
                memcpy(line, buf + pos, n);
                line[n] = 0;
                int r = parse_line(items, target, name, lineno, line, section, error);
                if (r < 0)
                        return r;
                pos += n + 1;
        }
        return 0;
}

/* Config files are small; anything over this is not a config file. */
#define CONF_FILE_MAX (1024 * 1024)

static int parse_file(const ConfItem *items, void *target, const char *path, bool missing_ok, char **error) {
        _cleanup_(freep) char *buf = NULL;
        FILE *f = fopen(path, "re");
        size_t len;

        if (!f) {
                if (errno == ENOENT && missing_ok)
                        return 0;
                int r = -errno;
                set_error(error, "%s: cannot open: %s", path, strerror(errno));
                return r;
        }
        buf = malloc(CONF_FILE_MAX + 1);
        if (!buf) {
                fclose(f);
                return -ENOMEM;
        }
        len = fread(buf, 1, CONF_FILE_MAX + 1, f);
        fclose(f);
        if (len > CONF_FILE_MAX)
                return set_error(error, "%s: file too large", path), -EFBIG;
        return conf_parse_buffer(items, target, path, buf, len, error);
}

static int compare_strings(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int conf_load(const ConfItem *items, void *target, const char *path, bool missing_ok, char **error) {
        char dir[4096];
        char *names[256];
        size_t n = 0;
        int r;

        r = parse_file(items, target, path, missing_ok, error);
        if (r < 0)
                return r;

        snprintf(dir, sizeof(dir), "%s.d", path);
        DIR *d = opendir(dir);
        if (!d)
                return 0;
        struct dirent *de;
        while ((de = readdir(d)) && n < ELEMENTSOF(names)) {
                size_t l = strlen(de->d_name);
                if (de->d_name[0] == '.' || l < 6 || strcmp(de->d_name + l - 5, ".conf") != 0)
                        continue;
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        closedir(d);
        qsort(names, n, sizeof(char *), compare_strings);
        for (size_t i = 0; i < n; i++) {
                if (r >= 0) {
                        char p[8192];
                        snprintf(p, sizeof(p), "%s/%s", dir, names[i]);
                        r = parse_file(items, target, p, false, error);
                }
                free(names[i]);
        }
        return r < 0 ? r : 0;
}
