/* tandem-hang-watch: hang detection and provisioning on one libvirt host, without the broker's
 * store: what the broker will run per host, as a tool for integration tests and operators.
 *
 *   watch URI --domain NAME... [options]   sample, detect, act; JSON lines on stdout; hostd's
 *                                          reports as lines on stdin (see below)
 *   provision URI TEMPLATE NAME            define NAME from TEMPLATE (overlays for its disks)
 *   power URI NAME start|reset|cycle|shutdown|destroy
 *   remove URI NAME                        destroy, undefine, delete its overlays
 *
 * watch's stdin, one report a line (hostd will send these over the REST API):
 *   input NAME | display NAME | heartbeat NAME | reboot NAME | expect NAME running|off
 * Only the named domains are ever watched or acted on. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <systemd/sd-event.h>

#include "broker-hang.h"
#include "broker-libvirt-sample.h"
#include "broker-libvirt.h"
#include "macro.h"
#include "parse-util.h"
#include "subcommand.h"

#define MAX_WATCHED 256
#define LINE_MAX_BYTES 512

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static void _printf_(1, 2) emit(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        pthread_mutex_lock(&out_lock);
        vprintf(fmt, ap);
        fputc('\n', stdout);
        fflush(stdout);
        pthread_mutex_unlock(&out_lock);
        va_end(ap);
}

typedef struct Watched {
        char *name;
        HangDesktop hang;
        /* A power operation of ours is under way: what libvirt shows meanwhile is our doing. */
        atomic_bool power_busy, power_done;
        HangVerdict last_verdict;
        HangClass last_class;
} Watched;

typedef struct Watch {
        sd_event *event;
        char *uri;
        virConnectPtr power_conn;
        HostSampler *sampler;
        HangPolicy policy;
        uint64_t interval_usec;
        Watched watched[MAX_WATCHED];
        size_t n_watched;
        char line[LINE_MAX_BYTES];
        size_t line_len;
        bool line_too_long;
} Watch;

static Watched *find_watched(Watch *w, const char *name, size_t len) {
        for (size_t i = 0; i < w->n_watched; i++)
                if (strlen(w->watched[i].name) == len && memcmp(w->watched[i].name, name, len) == 0)
                        return &w->watched[i];
        return NULL;
}

typedef struct PowerJob {
        virConnectPtr conn;
        char *name;
        BrokerPower op;
        Watched *watched;
} PowerJob;

/* Power operations block in libvirt (a reset waits for QEMU): a thread each, off the loop. */
static void *power_main(void *p) {
        PowerJob *j = p;
        int r = broker_domain_power(j->conn, j->name, j->op);
        if (r < 0)
                emit("{\"event\":\"power\",\"domain\":\"%s\",\"op\":\"%s\",\"error\":\"%s\",\"message\":\"%s\"}",
                     j->name, broker_power_to_string(j->op), strerror(-r), broker_libvirt_error());
        else
                emit("{\"event\":\"power\",\"domain\":\"%s\",\"op\":\"%s\",\"result\":\"ok\"}", j->name,
                     broker_power_to_string(j->op));
        atomic_store(&j->watched->power_done, true);
        atomic_store(&j->watched->power_busy, false);
        virConnectClose(j->conn);
        free(j->name);
        free(j);
        return NULL;
}

static void power_async(Watch *w, Watched *x, BrokerPower op) {
        const char *name = x->name;
        if (atomic_load(&x->power_busy)) {
                emit("{\"event\":\"power\",\"domain\":\"%s\",\"error\":\"busy\"}", name);
                return;
        }
        PowerJob *j = calloc(1, sizeof *j);
        if (!j || !(j->name = strdup(name))) {
                free(j);
                emit("{\"event\":\"power\",\"domain\":\"%s\",\"error\":\"out of memory\"}", name);
                return;
        }
        j->conn = w->power_conn;
        j->op = op;
        j->watched = x;
        atomic_store(&x->power_busy, true);
        virConnectRef(j->conn);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, power_main, j) != 0) {
                atomic_store(&x->power_busy, false);
                virConnectClose(j->conn);
                free(j->name);
                free(j);
                emit("{\"event\":\"power\",\"domain\":\"%s\",\"error\":\"cannot start a thread\"}", name);
        }
        pthread_attr_destroy(&attr);
}

static void evaluate_all(Watch *w, uint64_t now) {
        for (size_t i = 0; i < w->n_watched; i++) {
                Watched *x = &w->watched[i];
                HangDecision d;
                if (atomic_load(&x->power_busy))
                        continue; /* judged again once our operation is over */
                hang_evaluate(&x->hang, &w->policy, now, &d);
                if (d.record || d.verdict != x->last_verdict || d.class != x->last_class) {
                        char json[1024];
                        if (hang_decision_to_json(&d, json, sizeof json) < 0)
                                snprintf(json, sizeof json, "{}");
                        emit("{\"event\":\"decision\",\"domain\":\"%s\",\"record\":%s,\"decision\":%s}", x->name,
                             d.record ? "true" : "false", json);
                }
                x->last_verdict = d.verdict;
                x->last_class = d.class;
                if (d.verdict == HANG_VERDICT_RESET) {
                        bool unresponsive = false;
                        for (unsigned k = 0; k < d.n_evidence; k++)
                                unresponsive |= d.evidence[k].signal == HANG_SIGNAL_UNRESPONSIVE;
                        power_async(w, x, unresponsive ? BROKER_POWER_CYCLE : BROKER_POWER_RESET);
                }
        }
}

static void take_sample(Watch *w, uint64_t now) {
        _cleanup_(host_sample_freep) HostSample *s = NULL;
        if (host_sampler_take(w->sampler, now, &s) < 0)
                return;
        if (s->error < 0) {
                /* A host that gives no data: its desktops are unknown, not hung. */
                emit("{\"event\":\"host\",\"uri\":\"%s\",\"error\":\"%s\"}", w->uri, strerror(-s->error));
                return;
        }
        for (size_t i = 0; i < s->n; i++) {
                DomainSample *d = &s->domains[i];
                Watched *x = find_watched(w, d->name, strlen(d->name));
                if (!x || atomic_load(&x->power_busy))
                        continue;
                if (atomic_exchange(&x->power_done, false))
                        hang_observe_reboot(&x->hang, s->finished_usec);
                hang_observe_libvirt(&x->hang, s->finished_usec, d->vm_state, d->reason_text, d->cpu_valid, d->cpu_ns);
                if (d->unresponsive)
                        hang_observe_unresponsive(&x->hang, s->finished_usec, d->unresponsive_since_usec,
                                                  d->unresponsive_call);
                else
                        hang_observe_responsive(&x->hang, s->finished_usec);
        }
        evaluate_all(w, now);
}

static int on_sampler(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Watch *w = userdata;
        take_sample(w, now_monotonic_usec());
        return 0;
}

static int on_tick(sd_event_source *src, uint64_t usec, void *userdata) {
        Watch *w = userdata;
        uint64_t now = now_monotonic_usec();
        if (host_sampler_request(w->sampler, now) == -EBUSY)
                take_sample(w, now); /* reports an overdue pass */
        sd_event_source_set_time(src, usec + w->interval_usec);
        sd_event_source_set_enabled(src, SD_EVENT_ONESHOT);
        return 0;
}

static void handle_line(Watch *w, const char *line, size_t len) {
        uint64_t now = now_monotonic_usec();
        const char *sp = memchr(line, ' ', len);
        if (!sp) {
                emit("{\"event\":\"error\",\"message\":\"a report is: WHAT NAME\"}");
                return;
        }
        size_t verb_len = (size_t) (sp - line);
        const char *name = sp + 1;
        size_t name_len = len - verb_len - 1;
        const char *arg = memchr(name, ' ', name_len);
        if (arg) {
                name_len = (size_t) (arg - name);
                arg++;
        }
        Watched *x = find_watched(w, name, name_len);
        if (!x) {
                emit("{\"event\":\"error\",\"message\":\"not a watched domain\"}");
                return;
        }
#define VERB(s) (verb_len == sizeof(s) - 1 && memcmp(line, s, sizeof(s) - 1) == 0)
        if (VERB("input"))
                hang_observe_input(&x->hang, now);
        else if (VERB("display"))
                hang_observe_display(&x->hang, now);
        else if (VERB("heartbeat"))
                hang_observe_heartbeat(&x->hang, now);
        else if (VERB("reboot"))
                hang_observe_reboot(&x->hang, now);
        else if (VERB("expect") && arg && (size_t) (line + len - arg) == 7 && memcmp(arg, "running", 7) == 0)
                hang_desktop_set_expected_running(&x->hang, true, now);
        else if (VERB("expect") && arg && (size_t) (line + len - arg) == 3 && memcmp(arg, "off", 3) == 0)
                hang_desktop_set_expected_running(&x->hang, false, now);
        else {
                emit("{\"event\":\"error\",\"message\":\"unknown report\"}");
                return;
        }
#undef VERB
        evaluate_all(w, now);
}

static int on_stdin(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        Watch *w = userdata;
        char buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) {
                if (n == 0 || (errno != EAGAIN && errno != EINTR))
                        sd_event_source_set_enabled(src, SD_EVENT_OFF); /* keep watching without reports */
                return 0;
        }
        for (ssize_t i = 0; i < n; i++) {
                char c = buf[i];
                if (c == '\n') {
                        if (!w->line_too_long)
                                handle_line(w, w->line, w->line_len);
                        else
                                emit("{\"event\":\"error\",\"message\":\"report too long\"}");
                        w->line_len = 0;
                        w->line_too_long = false;
                } else if (w->line_len < sizeof w->line)
                        w->line[w->line_len++] = c;
                else
                        w->line_too_long = true;
        }
        return 0;
}

/* Seconds with up to 3 decimals: "30", "0.5". */
static int parse_seconds(const char *s, uint64_t *ret) {
        uint64_t whole, ms = 0;
        const char *dot = strchr(s, '.');
        char buf[32];
        size_t whole_len = dot ? (size_t) (dot - s) : strlen(s);
        if (whole_len >= sizeof buf)
                return -EINVAL;
        memcpy(buf, s, whole_len);
        buf[whole_len] = 0;
        if (parse_u64(buf, 86400, &whole) < 0)
                return -EINVAL;
        if (dot) {
                size_t n = 0;
                for (const char *f = dot + 1; *f; f++, n++) {
                        if (!is_digit(*f) || n == 3)
                                return -EINVAL;
                        ms = ms * 10 + (uint64_t) (*f - '0');
                }
                if (n == 0)
                        return -EINVAL;
                for (; n < 3; n++)
                        ms *= 10;
        }
        *ret = whole * USEC_PER_SEC + ms * 1000;
        return 0;
}

static int run_watch(int argc, char **argv) {
        static const struct option opts[] = {
                { "domain", required_argument, NULL, 'd' },   { "grace", required_argument, NULL, 'g' },
                { "interval", required_argument, NULL, 'i' }, { "deadline", required_argument, NULL, 't' },
                { "max-resets", required_argument, NULL, 'm' }, { "backoff", required_argument, NULL, 'b' },
                { "action", required_argument, NULL, 'a' },   { "heartbeat", required_argument, NULL, 'h' },
                { "min-inputs", required_argument, NULL, 'n' }, {},
        };
        static Watch w;
        uint64_t deadline = 5 * USEC_PER_SEC, v;
        int c;
        sigset_t ss;
        sigemptyset(&ss);
        sigaddset(&ss, SIGTERM);
        sigaddset(&ss, SIGINT);
        pthread_sigmask(SIG_BLOCK, &ss, NULL); /* before any thread of ours or libvirt's */
        hang_policy_init(&w.policy);
        w.interval_usec = USEC_PER_SEC;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                int r = 0;
                switch (c) {
                case 'd':
                        if (w.n_watched >= MAX_WATCHED || !(w.watched[w.n_watched].name = strdup(optarg)))
                                r = -ENOMEM;
                        else
                                hang_desktop_init(&w.watched[w.n_watched++].hang, now_monotonic_usec());
                        break;
                case 'g':
                        r = parse_seconds(optarg, &w.policy.grace_usec);
                        break;
                case 'i':
                        r = parse_seconds(optarg, &w.interval_usec);
                        r = r < 0 || w.interval_usec == 0 ? -EINVAL : 0;
                        break;
                case 't':
                        r = parse_seconds(optarg, &deadline);
                        break;
                case 'b':
                        r = parse_seconds(optarg, &w.policy.backoff_usec);
                        break;
                case 'h':
                        r = parse_seconds(optarg, &w.policy.heartbeat_usec);
                        break;
                case 'm':
                        r = parse_u64(optarg, HANG_MAX_ACTIONS_PER_HOUR, &v);
                        w.policy.max_actions_per_hour = (unsigned) v;
                        break;
                case 'n':
                        r = parse_u64(optarg, 1000, &v);
                        w.policy.display_min_inputs = (unsigned) v;
                        break;
                case 'a':
                        r = hang_action_from_string(optarg, strlen(optarg), &w.policy.action);
                        break;
                default:
                        return 2;
                }
                if (r < 0) {
                        const char *opt = "?";
                        for (const struct option *o = opts; o->name; o++)
                                if (o->val == c)
                                        opt = o->name;
                        fprintf(stderr, "Invalid value `%s' for --%s\n", optarg, opt);
                        return 2;
                }
        }
        const char *err;
        if (optind + 1 != argc || w.n_watched == 0) {
                fprintf(stderr, "Usage: tandem-hang-watch watch URI --domain NAME... [--grace S] [--interval S]\n"
                                "       [--deadline S] [--max-resets N] [--backoff S] [--action A] [--heartbeat S]\n");
                return 2;
        }
        if (hang_policy_validate(&w.policy, &err) < 0) {
                fprintf(stderr, "Invalid policy: %s\n", err);
                return 2;
        }
        w.uri = argv[optind];
        w.power_conn = virConnectOpen(w.uri);
        if (!w.power_conn) {
                fprintf(stderr, "Cannot connect to %s: %s\n", w.uri, broker_libvirt_error());
                return 1;
        }
        int r = host_sampler_new(w.uri, deadline, &w.sampler);
        if (r < 0) {
                fprintf(stderr, "Cannot start the sampler: %s\n", strerror(-r));
                return 1;
        }
        if (sd_event_default(&w.event) < 0 || sd_event_add_signal(w.event, NULL, SIGTERM, NULL, NULL) < 0 ||
            sd_event_add_signal(w.event, NULL, SIGINT, NULL, NULL) < 0 ||
            sd_event_add_io(w.event, NULL, host_sampler_fd(w.sampler), EPOLLIN, on_sampler, &w) < 0 ||
            sd_event_add_io(w.event, NULL, STDIN_FILENO, EPOLLIN, on_stdin, &w) < 0 ||
            sd_event_add_time(w.event, NULL, CLOCK_MONOTONIC, now_monotonic_usec(), 1000, on_tick, &w) < 0) {
                fprintf(stderr, "Cannot set up the event loop\n");
                return 1;
        }
        emit("{\"event\":\"watching\",\"uri\":\"%s\",\"domains\":%zu,\"grace_ms\":%llu,\"max_resets\":%u}", w.uri,
             w.n_watched, (unsigned long long) (w.policy.grace_usec / 1000), w.policy.max_actions_per_hour);
        r = sd_event_loop(w.event);
        host_sampler_free(w.sampler);
        sd_event_unref(w.event);
        for (size_t i = 0; i < w.n_watched; i++)
                free(w.watched[i].name);
        virConnectClose(w.power_conn);
        return r < 0 ? 1 : 0;
}

static virConnectPtr connect_or_say(const char *uri) {
        virConnectPtr c = virConnectOpen(uri);
        if (!c)
                fprintf(stderr, "Cannot connect to %s: %s\n", uri, broker_libvirt_error());
        return c;
}

static int run_provision(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "Usage: tandem-hang-watch provision URI TEMPLATE NAME\n");
                return 2;
        }
        virConnectPtr c = connect_or_say(argv[1]);
        if (!c)
                return 1;
        ProvisionResult res = { 0 };
        int r = broker_desktop_provision(c, argv[2], argv[3], NULL, &res);
        if (r < 0)
                fprintf(stderr, "Cannot provision %s from %s: %s (%s)\n", argv[3], argv[2], strerror(-r),
                        broker_libvirt_error());
        else {
                printf("{\"name\":\"%s\",\"uuid\":\"%s\",\"mac\":\"%s\",\"overlays\":[", argv[3], res.uuid, res.mac);
                for (size_t i = 0; i < res.n_overlays; i++)
                        printf("%s\"%s\"", i ? "," : "", res.overlays[i]);
                printf("]}\n");
        }
        provision_result_done(&res);
        virConnectClose(c);
        return r < 0 ? 1 : 0;
}

static int run_power(int argc, char **argv) {
        static const BrokerPower ops[] = { BROKER_POWER_START, BROKER_POWER_RESET, BROKER_POWER_CYCLE,
                                           BROKER_POWER_SHUTDOWN, BROKER_POWER_DESTROY };
        if (argc != 4) {
                fprintf(stderr, "Usage: tandem-hang-watch power URI NAME start|reset|cycle|shutdown|destroy\n");
                return 2;
        }
        size_t i;
        for (i = 0; i < ELEMENTSOF(ops); i++)
                if (strcmp(argv[3], broker_power_to_string(ops[i])) == 0)
                        break;
        if (i == ELEMENTSOF(ops)) {
                fprintf(stderr, "Invalid power operation `%s'\n", argv[3]);
                return 2;
        }
        virConnectPtr c = connect_or_say(argv[1]);
        if (!c)
                return 1;
        int r = broker_domain_power(c, argv[2], ops[i]);
        if (r < 0)
                fprintf(stderr, "Cannot %s %s: %s (%s)\n", argv[3], argv[2], strerror(-r), broker_libvirt_error());
        virConnectClose(c);
        return r < 0 ? 1 : 0;
}

static int run_remove(int argc, char **argv) {
        if (argc != 3) {
                fprintf(stderr, "Usage: tandem-hang-watch remove URI NAME\n");
                return 2;
        }
        virConnectPtr c = connect_or_say(argv[1]);
        if (!c)
                return 1;
        int r = broker_desktop_remove(c, argv[2]);
        if (r < 0)
                fprintf(stderr, "Cannot remove %s: %s (%s)\n", argv[2], strerror(-r), broker_libvirt_error());
        virConnectClose(c);
        return r < 0 ? 1 : 0;
}

int main(int argc, char **argv) {
        static const Subcommand commands[] = {
                { "watch", run_watch, "sample a host's domains, detect hangs, act per policy (JSON lines)" },
                { "provision", run_provision, "define a desktop from a template domain" },
                { "power", run_power, "start, reset, cycle, shutdown or destroy a domain" },
                { "remove", run_remove, "destroy and undefine a desktop, delete its overlays" },
        };
        broker_libvirt_quiet();
        return subcommand_dispatch("tandem-hang-watch", commands, ELEMENTSOF(commands), NULL, 2, argc, argv);
}
