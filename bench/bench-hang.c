/* bench-hang: hang detection's figures.
 *
 * 1. One detection pass over 10,000 desktops on 100 simulated hosts: 100 libvirt test:///FILE
 *    drivers of 100 domains each, one HostSampler per host (threads, as in the broker), all
 *    requested at once; then every sample fed to its desktop's detector and every desktop
 *    evaluated. Wall time of the sampling and of the detection, over several passes.
 * 2. Time from hang onset to the reset decision, per signal, with the default policy (grace 30 s,
 *    heartbeat 5 s) and the broker's cadence (a libvirt pass every 5 s, hostd's reports as they
 *    come, the user typing once a second), on a simulated clock, the onset at 1,000 random
 *    phases. Target: grace + 2 heartbeat intervals.
 *
 *    bench-hang [--hosts N] [--domains-per-host N] [--passes N]
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker-hang.h"
#include "broker-libvirt-sample.h"
#include "broker-libvirt.h"
#include "macro.h"
#include "parse-util.h"

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static int sampling_bench(unsigned n_hosts, unsigned per_host, unsigned passes) {
        char dir[] = "/tmp/bench-hang.XXXXXX";
        if (!mkdtemp(dir))
                return -errno;
        HostSampler **samplers = calloc(n_hosts, sizeof *samplers);
        HangDesktop *desks = calloc((size_t) n_hosts * per_host, sizeof *desks);
        uint64_t *sample_t = calloc(passes, sizeof *sample_t), *detect_t = calloc(passes, sizeof *detect_t);
        if (!samplers || !desks || !sample_t || !detect_t)
                return -ENOMEM;
        uint64_t t_setup = now_monotonic_usec();
        for (unsigned h = 0; h < n_hosts; h++) {
                char path[256], uri[300];
                snprintf(path, sizeof path, "%s/host%u.xml", dir, h);
                FILE *f = fopen(path, "we");
                if (!f)
                        return -errno;
                fputs("<node>\n", f);
                for (unsigned i = 0; i < per_host; i++)
                        fprintf(f,
                                "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
                                "<name>h%u-d%u</name><memory>65536</memory><os><type>hvm</type></os>"
                                "<test:runstate>%d</test:runstate></domain>\n",
                                h, i, i % 50 == 7 ? 3 : 1); /* 2% paused */
                fputs("</node>\n", f);
                fclose(f);
                snprintf(uri, sizeof uri, "test://%s", path);
                int r = host_sampler_new(uri, 10 * USEC_PER_SEC, &samplers[h]);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < (size_t) n_hosts * per_host; i++)
                hang_desktop_init(&desks[i], now_monotonic_usec());
        HangPolicy policy;
        hang_policy_init(&policy);
        printf("setup: %u hosts x %u domains written in %.2f s\n", n_hosts, per_host,
               (double) (now_monotonic_usec() - t_setup) / 1e6);

        unsigned hung = 0;
        for (unsigned pass = 0; pass < passes; pass++) {
                uint64_t t0 = now_monotonic_usec();
                for (unsigned h = 0; h < n_hosts; h++)
                        if (host_sampler_request(samplers[h], t0) < 0)
                                return -EBUSY;
                HostSample **got = calloc(n_hosts, sizeof *got);
                unsigned done = 0;
                while (done < n_hosts) {
                        struct pollfd *p = calloc(n_hosts, sizeof *p);
                        for (unsigned h = 0; h < n_hosts; h++)
                                p[h] = (struct pollfd) { .fd = got[h] ? -1 : host_sampler_fd(samplers[h]), .events = POLLIN };
                        poll(p, n_hosts, 1000);
                        free(p);
                        for (unsigned h = 0; h < n_hosts; h++)
                                if (!got[h] && host_sampler_take(samplers[h], now_monotonic_usec(), &got[h]) == 0)
                                        done++;
                }
                uint64_t t1 = now_monotonic_usec();
                /* Detection: feed and evaluate every desktop. Domain names map to indexes. */
                hung = 0;
                unsigned seen = 0;
                for (unsigned h = 0; h < n_hosts; h++) {
                        HostSample *s = got[h];
                        for (size_t i = 0; i < s->n; i++) {
                                DomainSample *d = &s->domains[i];
                                const char *dash = strrchr(d->name, 'd');
                                uint64_t idx;
                                if (!dash || parse_u64(dash + 1, per_host - 1, &idx) < 0)
                                        continue;
                                HangDesktop *x = &desks[(size_t) h * per_host + idx];
                                hang_observe_libvirt(x, s->finished_usec, d->vm_state, d->reason_text, d->cpu_valid,
                                                     d->cpu_ns);
                                if (d->unresponsive)
                                        hang_observe_unresponsive(x, s->finished_usec, d->unresponsive_since_usec,
                                                                  d->unresponsive_call);
                                else
                                        hang_observe_responsive(x, s->finished_usec);
                                seen++;
                        }
                }
                uint64_t now = now_monotonic_usec();
                for (size_t i = 0; i < (size_t) n_hosts * per_host; i++) {
                        HangDecision dec;
                        hang_evaluate(&desks[i], &policy, now, &dec);
                        hung += dec.verdict != HANG_VERDICT_HEALTHY;
                }
                uint64_t t2 = now_monotonic_usec();
                for (unsigned h = 0; h < n_hosts; h++)
                        host_sample_free(got[h]);
                free(got);
                sample_t[pass] = t1 - t0;
                detect_t[pass] = t2 - t1;
                printf("pass %u: %u desktops sampled in %.1f ms, detection %.2f ms, %u not healthy\n", pass, seen,
                       (double) sample_t[pass] / 1e3, (double) detect_t[pass] / 1e3, hung);
        }
        qsort(sample_t, passes, sizeof *sample_t, cmp_u64);
        qsort(detect_t, passes, sizeof *detect_t, cmp_u64);
        printf("detection pass over %u desktops on %u hosts: sampling p50 %.1f ms max %.1f ms; "
               "detection p50 %.2f ms max %.2f ms; total p50 %.1f ms (target <= 1000 ms)\n",
               n_hosts * per_host, n_hosts, (double) sample_t[passes / 2] / 1e3, (double) sample_t[passes - 1] / 1e3,
               (double) detect_t[passes / 2] / 1e3, (double) detect_t[passes - 1] / 1e3,
               (double) (sample_t[passes / 2] + detect_t[passes / 2]) / 1e3);

        for (unsigned h = 0; h < n_hosts; h++) {
                host_sampler_free(samplers[h]);
                char path[256];
                snprintf(path, sizeof path, "%s/host%u.xml", dir, h);
                unlink(path);
        }
        rmdir(dir);
        free(samplers);
        free(desks);
        free(sample_t);
        free(detect_t);
        return 0;
}

/* --- time to decision ------------------------------------------------------------------------ */

#define STEP (USEC_PER_SEC / 10)
#define PASS (5 * USEC_PER_SEC)     /* the broker's libvirt pass */
#define DEADLINE (5 * USEC_PER_SEC) /* a probe's */
#define TYPING USEC_PER_SEC         /* the user presses a key */

static uint64_t rnd_state = 88172645463325252ULL;
static uint64_t rnd(uint64_t n) {
        rnd_state ^= rnd_state << 13;
        rnd_state ^= rnd_state >> 7;
        rnd_state ^= rnd_state << 17;
        return rnd_state % n;
}

/* One trial: healthy until onset, then the hang of kind sig; returns onset -> reset. */
static uint64_t trial(HangSignal sig, const HangPolicy *p) {
        HangDesktop d;
        uint64_t t = 1000 * USEC_PER_SEC;
        hang_desktop_init(&d, t);
        uint64_t pass_phase = rnd(PASS), beat_phase = rnd(p->heartbeat_usec), type_phase = rnd(TYPING);
        uint64_t onset = t + 60 * USEC_PER_SEC + rnd(PASS);
        uint64_t cpu = 0, probe_started = 0;
        for (; t < onset + 10 * 60 * USEC_PER_SEC; t += STEP) {
                bool hung = t >= onset;
                /* hostd: agent heartbeats, the user's typing and the screen answering it. */
                if (t % p->heartbeat_usec == beat_phase / STEP * STEP && !hung) /* every hang silences it */
                        hang_observe_heartbeat(&d, t);
                if (t % TYPING == type_phase / STEP * STEP) {
                        hang_observe_input(&d, t);
                        if (!hung || sig == HANG_SIGNAL_AGENT_LOST)
                                hang_observe_display(&d, t + STEP / 2);
                }
                if (t % PASS != pass_phase / STEP * STEP)
                        continue;
                /* The libvirt pass, then a detection pass. */
                HangVmState st = HANG_VM_RUNNING;
                const char *why = "running";
                if (hung && sig == HANG_SIGNAL_PAUSED)
                        st = HANG_VM_PAUSED, why = "ioerror";
                else if (hung && sig == HANG_SIGNAL_CRASHED)
                        st = HANG_VM_CRASHED, why = "panicked";
                else if (hung && sig == HANG_SIGNAL_SHUTOFF)
                        st = HANG_VM_SHUTOFF, why = "crashed";
                bool vcpus_run = !hung || (sig != HANG_SIGNAL_CPU_FLAT && sig != HANG_SIGNAL_UNRESPONSIVE);
                if (vcpus_run)
                        cpu += PASS * 20; /* ns: 20 ms/s, an idle desktop */
                hang_observe_libvirt(&d, t, st, why, st == HANG_VM_RUNNING, cpu);
                if (hung && sig == HANG_SIGNAL_UNRESPONSIVE) {
                        if (!probe_started)
                                probe_started = t; /* this pass's probe never returns */
                        if (t >= probe_started + DEADLINE)
                                hang_observe_unresponsive(&d, t, probe_started, "probe");
                }
                HangDecision r;
                hang_evaluate(&d, p, t, &r);
                if (r.verdict == HANG_VERDICT_RESET && t < onset) {
                        char json[1024];
                        hang_decision_to_json(&r, json, sizeof json);
                        fprintf(stderr, "reset before the onset: %s\n", json);
                        abort();
                }
                if (r.verdict == HANG_VERDICT_RESET)
                        return t - onset;
        }
        return UINT64_MAX;
}

static void decision_bench(void) {
        static const HangSignal sigs[] = { HANG_SIGNAL_PAUSED,   HANG_SIGNAL_CRASHED,       HANG_SIGNAL_SHUTOFF,
                                           HANG_SIGNAL_UNRESPONSIVE, HANG_SIGNAL_CPU_FLAT, HANG_SIGNAL_DISPLAY_STUCK,
                                           HANG_SIGNAL_AGENT_LOST };
        enum { TRIALS = 1000 };
        static uint64_t t[TRIALS];
        HangPolicy p;
        hang_policy_init(&p);
        uint64_t target = p.grace_usec + 2 * p.heartbeat_usec;
        printf("\nonset -> reset decision, grace %llu s, heartbeat %llu s, libvirt pass every %llu s, probe deadline "
               "%llu s (target <= %llu s):\n",
               (unsigned long long) (p.grace_usec / USEC_PER_SEC), (unsigned long long) (p.heartbeat_usec / USEC_PER_SEC),
               (unsigned long long) (PASS / USEC_PER_SEC), (unsigned long long) (DEADLINE / USEC_PER_SEC),
               (unsigned long long) (target / USEC_PER_SEC));
        for (size_t s = 0; s < ELEMENTSOF(sigs); s++) {
                for (int i = 0; i < TRIALS; i++)
                        t[i] = trial(sigs[s], &p);
                qsort(t, TRIALS, sizeof t[0], cmp_u64);
                printf("  %-14s p50 %5.1f s  p99 %5.1f s  max %5.1f s  %s\n", hang_signal_to_string(sigs[s]),
                       (double) t[TRIALS / 2] / 1e6, (double) t[TRIALS * 99 / 100] / 1e6, (double) t[TRIALS - 1] / 1e6,
                       t[TRIALS - 1] <= target ? "within target" : "OVER TARGET");
        }
}

int main(int argc, char **argv) {
        static const struct option opts[] = {
                { "hosts", required_argument, NULL, 'h' },
                { "domains-per-host", required_argument, NULL, 'd' },
                { "passes", required_argument, NULL, 'p' },
                {},
        };
        uint64_t hosts = 100, per = 100, passes = 5;
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                uint64_t *v = c == 'h' ? &hosts : c == 'd' ? &per : c == 'p' ? &passes : NULL;
                if (!v || parse_u64(optarg, 100000, v) < 0 || *v == 0) {
                        fprintf(stderr, "Usage: bench-hang [--hosts N] [--domains-per-host N] [--passes N]\n");
                        return 2;
                }
        }
        broker_libvirt_quiet();
        int r = sampling_bench((unsigned) hosts, (unsigned) per, (unsigned) passes);
        if (r < 0) {
                fprintf(stderr, "sampling bench failed: %s\n", strerror(-r));
                return 1;
        }
        decision_bench();
        return 0;
}
