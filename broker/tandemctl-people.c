/* tandemctl users, tokens, sessions, events. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse-util.h"
#include "tandemctl.h"

static int one(const char *method, const char *path, json_t *body, const char *doing) {
        CtlResponse r;
        int k = ctl_request(method, path, body, &r);
        if (k != CTL_OK)
                return k;
        k = ctl_check(&r, doing);
        if (k == CTL_OK && r.json)
                ctl_output(r.json, NULL);
        ctl_response_done(&r);
        return k;
}

static int list(const char *path, const char *query, const char *doing, const char *const *columns) {
        json_t *all;
        int k = ctl_list_all(path, query, doing, &all);
        if (k != CTL_OK)
                return k;
        ctl_output(all, columns);
        json_decref(all);
        return CTL_OK;
}

int ctl_cmd_users(int argc, char **argv) {
        static const char *const columns[] = { "NAME=name", "DISPLAY NAME=display_name", "DESKTOPS=desktops", NULL };
        const char *usage = "tandemctl users [list | show NAME | add NAME [--display-name TEXT] | delete NAME]";
        char path[512], doing[256];
        if (argc < 2 || strcmp(argv[1], "list") == 0)
                return list("/v1/users", "", "listing users", columns);
        if (argc < 3)
                return ctl_usage(usage);
        char *e = ctl_escape(argv[2]);
        snprintf(path, sizeof(path), "/v1/users/%s", e ? e : "");
        free(e);
        if (strcmp(argv[1], "show") == 0 && argc == 3) {
                snprintf(doing, sizeof(doing), "showing user `%s'", argv[2]);
                return one("GET", path, NULL, doing);
        }
        if (strcmp(argv[1], "delete") == 0 && argc == 3) {
                snprintf(doing, sizeof(doing), "deleting user `%s'", argv[2]);
                return one("DELETE", path, NULL, doing);
        }
        if (strcmp(argv[1], "add") == 0 && (argc == 3 || (argc == 5 && strcmp(argv[3], "--display-name") == 0))) {
                json_t *body = json_pack("{s:s}", "name", argv[2]);
                if (argc == 5)
                        json_object_set_new(body, "display_name", json_string(argv[4]));
                snprintf(doing, sizeof(doing), "adding user `%s'", argv[2]);
                return one("POST", "/v1/users", body, doing);
        }
        return ctl_usage(usage);
}

int ctl_cmd_tokens(int argc, char **argv) {
        static const char *const columns[] = { "ID=id", "ROLE=role", "OWNER=owner", "CREATED=created",
                                               "EXPIRES=expires", NULL };
        const char *usage = "tandemctl tokens [list | create ROLE OWNER [--expires-in SECONDS] | revoke ID]\n"
                            "  ROLE: admin, operator, user (OWNER: the user), monitor, host (OWNER: the host)\n"
                            "  create prints the token once; keep it (the broker stores only its hash)";
        char path[256], doing[256];
        if (argc < 2 || strcmp(argv[1], "list") == 0)
                return list("/v1/tokens", "", "listing tokens", columns);
        if (strcmp(argv[1], "revoke") == 0 && argc == 3) {
                uint64_t id;
                if (parse_u64(argv[2], INT64_MAX, &id) < 0) {
                        fprintf(stderr, "Invalid token id `%s' (a number from `tandemctl tokens list')\n", argv[2]);
                        return CTL_USAGE;
                }
                snprintf(path, sizeof(path), "/v1/tokens/%llu", (unsigned long long) id);
                snprintf(doing, sizeof(doing), "revoking token %llu", (unsigned long long) id);
                return one("DELETE", path, NULL, doing);
        }
        if (strcmp(argv[1], "create") == 0 && (argc == 4 || (argc == 6 && strcmp(argv[4], "--expires-in") == 0))) {
                json_t *body = json_pack("{s:s,s:s}", "role", argv[2], "owner", argv[3]);
                if (argc == 6) {
                        uint64_t s;
                        if (parse_u64(argv[5], 10ULL * 365 * 86400, &s) < 0) {
                                json_decref(body);
                                fprintf(stderr, "Invalid --expires-in `%s' (seconds)\n", argv[5]);
                                return CTL_USAGE;
                        }
                        json_object_set_new(body, "expires_in", json_integer((json_int_t) s));
                }
                snprintf(doing, sizeof(doing), "creating a %s token for `%s'", argv[2], argv[3]);
                CtlResponse r;
                int k = ctl_request("POST", "/v1/tokens", body, &r);
                if (k != CTL_OK)
                        return k;
                k = ctl_check(&r, doing);
                if (k == CTL_OK) {
                        if (ctl.json)
                                ctl_output(r.json, NULL);
                        else /* the token alone on stdout, for `T=$(tandemctl tokens create ...)' */
                                printf("%s\n", json_string_value(json_object_get(r.json, "token")));
                }
                ctl_response_done(&r);
                return k;
        }
        return ctl_usage(usage);
}

int ctl_cmd_sessions(int argc, char **argv) {
        static const char *const columns[] = { "ID=id", "USER=user", "DESKTOP=desktop", "CLIENT=client_address",
                                               "START=start", "END=end", NULL };
        if (argc == 1)
                return list("/v1/sessions", "", "listing sessions", columns);
        if (argc == 2 && strcmp(argv[1], "--open") == 0)
                return list("/v1/sessions", "open=true&", "listing open sessions", columns);
        return ctl_usage("tandemctl sessions [--open]");
}

int ctl_cmd_events(int argc, char **argv) {
        static const char *const columns[] = { "ID=id", "TIME=time", "ACTOR=actor", "ACTION=action",
                                               "KIND=object_kind", "OBJECT=object_id", "EVIDENCE=evidence", NULL };
        static const struct option opts[] = {
                { "desktop", required_argument, NULL, 'd' }, { "action", required_argument, NULL, 'a' }, {},
        };
        const char *desktop = NULL, *action = NULL;
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0)
                switch (c) {
                case 'd':
                        desktop = optarg;
                        break;
                case 'a':
                        action = optarg;
                        break;
                default:
                        return ctl_usage("tandemctl events [--desktop ID] [--action ACTION]");
                }
        if (optind != argc)
                return ctl_usage("tandemctl events [--desktop ID] [--action ACTION]");
        char query[512];
        char *ed = desktop ? ctl_escape(desktop) : NULL, *ea = action ? ctl_escape(action) : NULL;
        snprintf(query, sizeof(query), "%s%s%s%s%s%s", ed ? "object_kind=desktop&object_id=" : "", ed ? ed : "",
                 ed ? "&" : "", ea ? "action=" : "", ea ? ea : "", ea ? "&" : "");
        free(ed);
        free(ea);
        return list("/v1/events", query, "listing events", columns);
}
