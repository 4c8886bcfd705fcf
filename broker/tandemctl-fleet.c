/* tandemctl hosts, pools, desktops, reboot. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"
#include "tandemctl.h"

static const char *const host_columns[] = { "NAME=name", "ADDRESS=address", "STATE=state", "DESKTOPS=desktops",
                                            "LAST REPORT=last_report", "URI=libvirt_uri", NULL };
static const char *const pool_columns[] = { "NAME=name", "KIND=kind", "DESKTOPS=desktops", "READY=ready",
                                            "PROVISIONING=provisioning", "MIN READY=min_ready", "MAX=max_size",
                                            "TEMPLATE=template", "HANG=hang_action",
                                            "TRANSPORT=transport", NULL };
static const char *const desktop_columns[] = { "ID=id", "DOMAIN=domain", "POOL=pool", "HOST=host",
                                               "POWER=power_state", "HEALTH=health", "USER=assigned_user",
                                               "READY=ready", "STATE=provision_state", NULL };

/* GET/POST/... one object and print it. */
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

static int named(const char *base, const char *name, const char *suffix, char *out, size_t size) {
        char *e = ctl_escape(name);
        if (!e)
                return -1;
        snprintf(out, size, "%s/%s%s", base, e, suffix);
        free(e);
        return 0;
}

int ctl_cmd_hosts(int argc, char **argv) {
        char path[1024], doing[256];
        if (argc < 2 || strcmp(argv[1], "list") == 0)
                return list("/v1/hosts", "", "listing hosts", host_columns);
        if (strcmp(argv[1], "show") == 0 && argc == 3) {
                named("/v1/hosts", argv[2], "", path, sizeof(path));
                snprintf(doing, sizeof(doing), "showing host `%s'", argv[2]);
                return one("GET", path, NULL, doing);
        }
        return ctl_usage("tandemctl hosts [list | show NAME]");
}

/* Pool settings from options into a JSON body. */
typedef struct PoolOption {
        const char *option, *key;
        char type; /* 's' string, 'u' unsigned, 'b' yes/no */
} PoolOption;

static const PoolOption pool_options[] = {
        { "kind", "kind", 's' },
        { "template", "template", 's' },
        { "min-ready", "min_ready", 'u' },
        { "max-size", "max_size", 'u' },
        { "grace", "hang_grace_seconds", 'u' },
        { "hang-action", "hang_action", 's' },
        { "max-resets", "max_resets_per_hour", 'u' },
        { "clipboard", "clipboard", 's' },
        { "resize", "resize", 'b' },
        { "transport", "transport", 's' },
        { "disconnect-limit", "disconnect_limit_seconds", 'u' },
};

static int pool_body(int argc, char **argv, json_t *body) {
        struct option opts[ELEMENTSOF(pool_options) + 1] = {};
        for (size_t i = 0; i < ELEMENTSOF(pool_options); i++)
                opts[i] = (struct option) { pool_options[i].option, required_argument, NULL, (int) (0x100 + i) };
        int c;
        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c < 0x100)
                        return -1;
                const PoolOption *o = &pool_options[c - 0x100];
                uint64_t v;
                if (o->type == 's')
                        json_object_set_new(body, o->key, json_string(optarg));
                else if (o->type == 'b' && (strcmp(optarg, "yes") == 0 || strcmp(optarg, "no") == 0))
                        json_object_set_new(body, o->key, json_boolean(strcmp(optarg, "yes") == 0));
                else if (o->type == 'u' && parse_u64(optarg, 1000000, &v) >= 0)
                        json_object_set_new(body, o->key, json_integer((json_int_t) v));
                else {
                        fprintf(stderr, "Invalid --%s `%s' (%s)\n", o->option, optarg,
                                o->type == 'b' ? "yes or no" : "a number");
                        return -1;
                }
        }
        return optind;
}

#define POOL_OPTIONS_HELP                                                                                             \
        "  --kind persistent|floating  --template DOMAIN  --min-ready N  --max-size N\n"                              \
        "  --grace SECONDS  --hang-action reset|reboot-then-reset|alert  --max-resets N\n"                            \
        "  --clipboard off|to-guest|to-client|both  --resize yes|no  --transport auto|udp|tcp\n"                      \
        "  --disconnect-limit SECONDS"

int ctl_cmd_pools(int argc, char **argv) {
        char path[1024], doing[256];
        const char *usage = "tandemctl pools [list | show NAME | create NAME --kind KIND [OPTIONS] | "
                            "set NAME OPTIONS | delete NAME]\n" POOL_OPTIONS_HELP;
        if (argc < 2 || strcmp(argv[1], "list") == 0)
                return list("/v1/pools", "", "listing pools", pool_columns);
        const char *verb = argv[1];
        if (argc < 3)
                return ctl_usage(usage);
        const char *name = argv[2];
        named("/v1/pools", name, "", path, sizeof(path));
        if (strcmp(verb, "show") == 0 && argc == 3) {
                snprintf(doing, sizeof(doing), "showing pool `%s'", name);
                return one("GET", path, NULL, doing);
        }
        if (strcmp(verb, "delete") == 0 && argc == 3) {
                snprintf(doing, sizeof(doing), "deleting pool `%s'", name);
                return one("DELETE", path, NULL, doing);
        }
        if (strcmp(verb, "create") == 0 || strcmp(verb, "set") == 0) {
                bool create = strcmp(verb, "create") == 0;
                json_t *body = json_object();
                int k = pool_body(argc - 2, argv + 2, body);
                if (k < 0 || k != argc - 2) {
                        json_decref(body);
                        return ctl_usage(usage);
                }
                if (create)
                        json_object_set_new(body, "name", json_string(name));
                snprintf(doing, sizeof(doing), "%s pool `%s'", create ? "creating" : "changing", name);
                return one(create ? "POST" : "PATCH", create ? "/v1/pools" : path, body, doing);
        }
        return ctl_usage(usage);
}

int ctl_cmd_desktops(int argc, char **argv) {
        char path[1024], doing[256];
        const char *usage = "tandemctl desktops [list [--pool NAME] [--host NAME] | show ID|DOMAIN | "
                            "add --pool NAME --domain DOMAIN [--host NAME] [--uuid UUID] | delete ID|DOMAIN | "
                            "thumbnail ID|DOMAIN FILE.jpg]";
        if (argc < 2 || strcmp(argv[1], "list") == 0 || strcmp(argv[1], "add") == 0) {
                static const struct option opts[] = {
                        { "pool", required_argument, NULL, 'p' }, { "host", required_argument, NULL, 'H' },
                        { "domain", required_argument, NULL, 'd' }, { "uuid", required_argument, NULL, 'u' }, {},
                };
                const char *pool = NULL, *host = NULL, *domain = NULL, *uuid = NULL;
                bool add = argc >= 2 && strcmp(argv[1], "add") == 0;
                int c;
                optind = 1;
                while (argc >= 2 && (c = getopt_long(argc - 1, argv + 1, "", opts, NULL)) >= 0)
                        switch (c) {
                        case 'p':
                                pool = optarg;
                                break;
                        case 'H':
                                host = optarg;
                                break;
                        case 'd':
                                domain = optarg;
                                break;
                        case 'u':
                                uuid = optarg;
                                break;
                        default:
                                return ctl_usage(usage);
                        }
                if (argc >= 2 && optind != argc - 1)
                        return ctl_usage(usage);
                if (add) {
                        if (!pool || !domain)
                                return ctl_usage(usage);
                        json_t *body = json_pack("{s:s,s:s}", "pool", pool, "domain", domain);
                        if (host)
                                json_object_set_new(body, "host", json_string(host));
                        if (uuid)
                                json_object_set_new(body, "uuid", json_string(uuid));
                        snprintf(doing, sizeof(doing), "adding desktop `%s' to pool `%s'", domain, pool);
                        return one("POST", "/v1/desktops", body, doing);
                }
                char query[512] = "";
                char *ep = pool ? ctl_escape(pool) : NULL, *eh = host ? ctl_escape(host) : NULL;
                snprintf(query, sizeof(query), "%s%s%s%s%s%s", ep ? "pool=" : "", ep ? ep : "", ep ? "&" : "",
                         eh ? "host=" : "", eh ? eh : "", eh ? "&" : "");
                free(ep);
                free(eh);
                return list("/v1/desktops", query, "listing desktops", desktop_columns);
        }
        if (argc < 3)
                return ctl_usage(usage);
        named("/v1/desktops", argv[2], "", path, sizeof(path));
        if (strcmp(argv[1], "show") == 0 && argc == 3) {
                snprintf(doing, sizeof(doing), "showing desktop `%s'", argv[2]);
                return one("GET", path, NULL, doing);
        }
        if (strcmp(argv[1], "delete") == 0 && argc == 3) {
                snprintf(doing, sizeof(doing), "deleting desktop `%s'", argv[2]);
                return one("DELETE", path, NULL, doing);
        }
        if (strcmp(argv[1], "thumbnail") == 0 && argc == 4) {
                named("/v1/desktops", argv[2], "/thumbnail", path, sizeof(path));
                snprintf(doing, sizeof(doing), "fetching the thumbnail of `%s'", argv[2]);
                CtlResponse r;
                int k = ctl_request("GET", path, NULL, &r);
                if (k != CTL_OK)
                        return k;
                k = ctl_check(&r, doing);
                if (k == CTL_OK) {
                        FILE *f = fopen(argv[3], "wbx");
                        if (!f || fwrite(r.body, 1, r.len, f) != r.len || fclose(f) != 0) {
                                fprintf(stderr, "tandemctl: cannot write `%s' (it must not exist yet)\n", argv[3]);
                                k = CTL_REFUSED;
                        }
                }
                ctl_response_done(&r);
                return k;
        }
        return ctl_usage(usage);
}

int ctl_cmd_reboot(int argc, char **argv) {
        char path[1024], doing[256];
        bool force = argc == 3 && strcmp(argv[2], "--force") == 0;
        if (argc != 2 && !force)
                return ctl_usage("tandemctl reboot ID|DOMAIN [--force]   (--force: a hard reset)");
        named("/v1/desktops", argv[1], "/reboot", path, sizeof(path));
        snprintf(doing, sizeof(doing), "rebooting `%s'", argv[1]);
        return one("POST", path, json_pack("{s:b}", "force", force), doing);
}
