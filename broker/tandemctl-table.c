/* Tables for people: one row per object, columns sized to their widest cell. Cells are cut at 40
 * characters and control characters shown as '?', so a hostile value cannot reshape the terminal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tandemctl.h"

#define CELL_MAX 40
#define COLUMNS_MAX 16

static json_t *lookup(json_t *obj, const char *path) {
        char buf[128];
        snprintf(buf, sizeof(buf), "%s", path);
        json_t *v = obj;
        for (char *save = NULL, *k = strtok_r(buf, ".", &save); k && v; k = strtok_r(NULL, ".", &save))
                v = json_object_get(v, k);
        return v;
}

static void cell(json_t *v, char out[CELL_MAX + 1]) {
        char tmp[256];
        if (!v || json_is_null(v))
                snprintf(tmp, sizeof(tmp), "-");
        else if (json_is_string(v))
                snprintf(tmp, sizeof(tmp), "%s", json_string_value(v));
        else if (json_is_integer(v))
                snprintf(tmp, sizeof(tmp), "%lld", (long long) json_integer_value(v));
        else if (json_is_real(v))
                snprintf(tmp, sizeof(tmp), "%g", json_real_value(v));
        else if (json_is_boolean(v))
                snprintf(tmp, sizeof(tmp), "%s", json_is_true(v) ? "yes" : "no");
        else {
                char *d = json_dumps(v, JSON_COMPACT);
                snprintf(tmp, sizeof(tmp), "%s", d ? d : "?");
                free(d);
        }
        size_t n = strlen(tmp);
        if (n > CELL_MAX) {
                n = CELL_MAX;
                memcpy(tmp + CELL_MAX - 3, "...", 3);
        }
        for (size_t i = 0; i < n; i++)
                out[i] = ((unsigned char) tmp[i] < 0x20 || tmp[i] == 0x7f) ? '?' : tmp[i];
        out[n] = 0;
}

void ctl_table(json_t *items, const char *const *columns) {
        size_t ncol = 0, width[COLUMNS_MAX];
        char headers[COLUMNS_MAX][32];
        const char *keys[COLUMNS_MAX];
        for (; columns[ncol] && ncol < COLUMNS_MAX; ncol++) {
                const char *eq = strchr(columns[ncol], '=');
                snprintf(headers[ncol], sizeof(headers[ncol]), "%.*s", (int) (eq - columns[ncol]), columns[ncol]);
                keys[ncol] = eq + 1;
                width[ncol] = strlen(headers[ncol]);
        }
        size_t i;
        json_t *row;
        char c[CELL_MAX + 1];
        json_array_foreach(items, i, row) for (size_t k = 0; k < ncol; k++) {
                cell(lookup(row, keys[k]), c);
                if (strlen(c) > width[k])
                        width[k] = strlen(c);
        }
        for (size_t k = 0; k < ncol; k++)
                printf("%-*s%s", (int) width[k], headers[k], k + 1 < ncol ? "  " : "\n");
        json_array_foreach(items, i, row) for (size_t k = 0; k < ncol; k++) {
                cell(lookup(row, keys[k]), c);
                printf("%-*s%s", (int) width[k], c, k + 1 < ncol ? "  " : "\n");
        }
}

static void print_flat(json_t *obj, const char *prefix) {
        const char *key;
        json_t *v;
        char c[CELL_MAX + 1], name[160];
        json_object_foreach(obj, key, v) {
                snprintf(name, sizeof(name), "%s%s", prefix, key);
                if (json_is_object(v)) {
                        char p[168];
                        snprintf(p, sizeof(p), "%s.", name);
                        print_flat(v, p);
                        continue;
                }
                cell(v, c);
                printf("%s: %s\n", name, c);
        }
}

void ctl_print_object(json_t *obj) {
        print_flat(obj, "");
}

int ctl_output(json_t *j, const char *const *columns) {
        if (ctl.json) {
                char *text = json_dumps(j, JSON_INDENT(2));
                if (text)
                        puts(text);
                free(text);
        } else if (json_is_array(j) && columns)
                ctl_table(j, columns);
        else if (json_is_object(j))
                ctl_print_object(j);
        return CTL_OK;
}
