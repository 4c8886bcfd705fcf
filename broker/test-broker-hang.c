/* Hang detection and policy with a fake clock: each signal alone, combinations and precedence,
 * grace, the hourly cap and backoff, graceful reboots, recovery, evidence and its JSON. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "broker-hang.h"
#include "check.h"
#include "macro.h"

#define SEC USEC_PER_SEC

static uint64_t now;
static HangPolicy policy;

static void reset_world(HangDesktop *d) {
        now = 1000 * SEC;
        hang_policy_init(&policy);
        hang_desktop_init(d, now);
}

static HangDecision eval(HangDesktop *d) {
        HangDecision r;
        hang_evaluate(d, &policy, now, &r);
        char json[1024];
        check(hang_decision_to_json(&r, json, sizeof json) > 0); /* every decision serialises */
        return r;
}

/* A running sample with vCPU time advancing at rate_ns_per_sec since the last one. */
static uint64_t cpu_ns;
static void sample_running(HangDesktop *d, uint64_t advance_ns) {
        cpu_ns += advance_ns;
        hang_observe_libvirt(d, now, HANG_VM_RUNNING, "booted", true, cpu_ns);
}

static const HangEvidence *evidence(const HangDecision *r, HangSignal s) {
        for (unsigned i = 0; i < r->n_evidence; i++)
                if (r->evidence[i].signal == s)
                        return &r->evidence[i];
        return NULL;
}

/* Advances the clock in 1 s steps with a healthy running sample each step (1 s of vCPU time
 * per second), evaluating each time; returns the first non-healthy decision, or healthy. */
static HangDecision run_healthy(HangDesktop *d, unsigned seconds) {
        HangDecision r = { 0 };
        for (unsigned i = 0; i < seconds; i++) {
                now += SEC;
                sample_running(d, SEC);
                r = eval(d);
                if (r.verdict != HANG_VERDICT_HEALTHY)
                        return r;
        }
        return r;
}

/* Steps the clock one second at a time calling feed() before each evaluation until a decision
 * with the wanted verdict; returns it (the test fails after limit seconds). */
typedef void (*Feed)(HangDesktop *d);
static HangDecision run_until(HangDesktop *d, Feed feed, HangVerdict want, unsigned limit, unsigned *ret_seconds) {
        for (unsigned i = 1; i <= limit; i++) {
                now += SEC;
                if (feed)
                        feed(d);
                HangDecision r = eval(d);
                if (r.verdict == want) {
                        if (ret_seconds)
                                *ret_seconds = i;
                        return r;
                }
                check(r.verdict != HANG_VERDICT_RESET && r.verdict != HANG_VERDICT_REBOOT);
        }
        fprintf(stderr, "no %s within %u s\n", hang_verdict_to_string(want), limit);
        check(false);
        return (HangDecision) { 0 };
}

static void feed_paused_ioerror(HangDesktop *d) {
        hang_observe_libvirt(d, now, HANG_VM_PAUSED, "ioerror", false, 0);
}
static void feed_paused_user(HangDesktop *d) {
        hang_observe_libvirt(d, now, HANG_VM_PAUSED, "user", false, 0);
}
static void feed_crashed(HangDesktop *d) {
        hang_observe_libvirt(d, now, HANG_VM_CRASHED, "panicked", false, 0);
}
static void feed_shutoff(HangDesktop *d) {
        hang_observe_libvirt(d, now, HANG_VM_SHUTOFF, "crashed", false, 0);
}
static void feed_cpu_flat(HangDesktop *d) {
        sample_running(d, 0);
}
static void feed_unresponsive_since_start(HangDesktop *d) {
        static uint64_t started;
        if (!started || d->sig_active[HANG_SIGNAL_UNRESPONSIVE] == false)
                started = now - SEC;
        sample_running(d, SEC);
        hang_observe_unresponsive(d, now, started, "virDomainListGetStats");
}
static void feed_input_no_display(HangDesktop *d) {
        sample_running(d, SEC);
        hang_observe_input(d, now);
}
static void feed_running(HangDesktop *d) {
        sample_running(d, SEC);
}

/* Each signal alone: suspect during grace, reset exactly when grace is over, the right class. */
static void test_single(const char *name, Feed feed, HangSignal sig, HangClass class, uint64_t expect_onset_delta) {
        HangDesktop d;
        reset_world(&d);
        cpu_ns = 0;
        run_healthy(&d, 5);
        if (sig == HANG_SIGNAL_AGENT_LOST)
                hang_observe_heartbeat(&d, now); /* the agent was active, then goes silent */

        uint64_t t0 = now;
        unsigned secs;
        now += SEC;
        feed(&d);
        HangDecision r = eval(&d);
        if (sig == HANG_SIGNAL_AGENT_LOST || sig == HANG_SIGNAL_DISPLAY_STUCK || sig == HANG_SIGNAL_CPU_FLAT)
                check(r.verdict == HANG_VERDICT_HEALTHY); /* needs missed heartbeats, repeated input,
                                                           * a window of flat vCPU time */
        else {
                check(r.verdict == HANG_VERDICT_SUSPECT);
                check(r.class == class);
        }
        r = run_until(&d, feed, HANG_VERDICT_RESET, 120, &secs);
        check(r.class == class);
        check(r.record);
        check(r.n_evidence == 1); /* alone */
        const HangEvidence *e = evidence(&r, sig);
        check(e);
        check(r.onset_usec == e->since_usec);
        check(r.onset_usec == t0 + expect_onset_delta);
        check(r.now_usec == r.onset_usec + policy.grace_usec); /* exactly at the end of grace */
        check(r.actions_last_hour == 1);
        char json[1024];
        check(hang_decision_to_json(&r, json, sizeof json) > 0);
        check(strstr(json, hang_signal_to_string(sig)));
        printf("%-14s -> %s after %u s: %s\n", name, hang_class_to_string(r.class), secs + 1, json);
}

static void test_each_signal_alone(void) {
        test_single("paused ioerror", feed_paused_ioerror, HANG_SIGNAL_PAUSED, HANG_CLASS_VM, SEC);
        test_single("paused user", feed_paused_user, HANG_SIGNAL_PAUSED, HANG_CLASS_VM, SEC);
        test_single("crashed", feed_crashed, HANG_SIGNAL_CRASHED, HANG_CLASS_VM, SEC);
        test_single("shutoff", feed_shutoff, HANG_SIGNAL_SHUTOFF, HANG_CLASS_VM, SEC);
        /* Flat since the last sample that showed progress (t0). */
        test_single("cpu flat", feed_cpu_flat, HANG_SIGNAL_CPU_FLAT, HANG_CLASS_VM, 0);
        /* Outstanding since the call started, a second before it was first reported. */
        test_single("unresponsive", feed_unresponsive_since_start, HANG_SIGNAL_UNRESPONSIVE, HANG_CLASS_VM, 0);
        /* Since the first unanswered input. */
        test_single("display stuck", feed_input_no_display, HANG_SIGNAL_DISPLAY_STUCK, HANG_CLASS_OS, SEC);
        /* Since the last heartbeat (t0). */
        test_single("agent lost", feed_running, HANG_SIGNAL_AGENT_LOST, HANG_CLASS_AGENT, 0);
}

static void test_agent_lost_needs_missed_heartbeats(void) {
        HangDesktop d;
        reset_world(&d);
        /* Never active: no signal however long. */
        check(run_healthy(&d, 300).verdict == HANG_VERDICT_HEALTHY);
        /* Beating every 5 s: never lost. */
        for (int i = 0; i < 60; i++) {
                if (i % 5 == 0)
                        hang_observe_heartbeat(&d, now);
                check(run_healthy(&d, 1).verdict == HANG_VERDICT_HEALTHY);
        }
        /* Silent: lost only once 2 intervals (10 s) have passed without a beat. */
        uint64_t last = now - 5 * SEC; /* the loop's last beat was at i = 55 */
        HangDecision r = { 0 };
        while (now < last + 10 * SEC) {
                r = run_healthy(&d, 1);
                check(now > last + 10 * SEC || r.verdict == HANG_VERDICT_HEALTHY);
        }
        r = run_healthy(&d, 1);
        check(r.verdict == HANG_VERDICT_SUSPECT && r.class == HANG_CLASS_AGENT);
        check(r.onset_usec == last);
        check(evidence(&r, HANG_SIGNAL_AGENT_LOST)->value == (int64_t) ((now - last) / 1000));
        /* A heartbeat clears it at once. */
        hang_observe_heartbeat(&d, now);
        check(eval(&d).verdict == HANG_VERDICT_HEALTHY);
}

static void test_display_needs_repeated_input(void) {
        HangDesktop d;
        reset_world(&d);
        /* Two unanswered inputs (a Shift, a key at a password prompt) for a long time: not a hang. */
        hang_observe_input(&d, now);
        hang_observe_input(&d, now);
        check(run_healthy(&d, 120).verdict == HANG_VERDICT_HEALTHY);
        /* Input answered by the display: the count starts again. */
        hang_observe_display(&d, now);
        for (int i = 0; i < 100; i++) {
                hang_observe_input(&d, now);
                hang_observe_input(&d, now);
                hang_observe_display(&d, now);
                check(run_healthy(&d, 1).verdict == HANG_VERDICT_HEALTHY);
        }
        /* Three unanswered: stuck since the first of them. */
        uint64_t first = now;
        hang_observe_input(&d, now);
        now += SEC;
        hang_observe_input(&d, now);
        hang_observe_input(&d, now);
        HangDecision r = eval(&d);
        check(r.verdict == HANG_VERDICT_SUSPECT && r.class == HANG_CLASS_OS && r.onset_usec == first);
        check(evidence(&r, HANG_SIGNAL_DISPLAY_STUCK)->value == 3);
        hang_observe_display(&d, now);
        check(eval(&d).verdict == HANG_VERDICT_HEALTHY);
}

static void test_no_signal_when_not_a_hang(void) {
        HangDesktop d;
        reset_world(&d);
        /* Transient pauses (migration, snapshot) and other states raise nothing. */
        for (int i = 0; i < 300; i++) {
                now += SEC;
                hang_observe_libvirt(&d, now, i % 2 ? HANG_VM_PAUSED_TRANSIENT : HANG_VM_OTHER, "migration", false, 0);
                check(eval(&d).verdict == HANG_VERDICT_HEALTHY);
        }
        /* An idle guest well above the flat rate (2 ms/s against 1 ms/s) is not flat. */
        for (int i = 0; i < 300; i++) {
                now += SEC;
                sample_running(&d, 2000000);
                check(eval(&d).verdict == HANG_VERDICT_HEALTHY);
        }
        /* A slow trickle below it is: vCPU time flat is a rate over the whole window. */
        HangDecision r = { 0 };
        for (int i = 0; i < 40 && r.verdict != HANG_VERDICT_RESET; i++) {
                now += SEC;
                sample_running(&d, 500000);
                r = eval(&d);
        }
        check(r.verdict == HANG_VERDICT_RESET && evidence(&r, HANG_SIGNAL_CPU_FLAT));

        /* A new QEMU restarts the counter: no flat, a new anchor. */
        reset_world(&d);
        cpu_ns = 50 * SEC;
        sample_running(&d, 0);
        now += SEC;
        cpu_ns = 0;
        sample_running(&d, SEC / 10);
        check(run_healthy(&d, 60).verdict == HANG_VERDICT_HEALTHY);

        /* Shut off, paused, crashed while the broker does not want it running: nothing. */
        reset_world(&d);
        hang_desktop_set_expected_running(&d, false, now);
        for (int i = 0; i < 300; i++) {
                now += SEC;
                hang_observe_libvirt(&d, now, (HangVmState[]) { HANG_VM_SHUTOFF, HANG_VM_PAUSED, HANG_VM_CRASHED }[i % 3],
                                     "destroyed", false, 0);
                hang_observe_input(&d, now);
                HangDecision q = eval(&d);
                check(q.verdict == HANG_VERDICT_HEALTHY && q.n_evidence == 0);
        }
        /* Wanted again: a shut-off domain is a signal from then on, with a fresh onset. */
        hang_desktop_set_expected_running(&d, true, now);
        uint64_t t = now;
        feed_shutoff(&d);
        r = eval(&d);
        check(r.verdict == HANG_VERDICT_SUSPECT && r.onset_usec == t);
}

/* An idle guest's vCPU time moves in 10 ms ticks: many 0.5 s samples see no change at all. Flat
 * is judged over the window, never over one sample. */
static void test_cpu_window(void) {
        HangDesktop d;
        reset_world(&d);
        cpu_ns = 0;
        for (int i = 0; i < 1200; i++) {
                now += SEC / 2;
                sample_running(&d, i % 6 == 0 ? 10000000 : 0); /* 10 ms every 3 s: 3.3 ms/s */
                check(eval(&d).verdict == HANG_VERDICT_HEALTHY);
        }
        /* Really flat: nothing for the first 10 s, suspect from then on with the onset at the
         * last progress, reset a grace after that onset. */
        now += SEC / 2;
        sample_running(&d, 10000000);
        check(eval(&d).verdict == HANG_VERDICT_HEALTHY);
        uint64_t anchor = now;
        HangDecision r;
        for (;;) {
                now += SEC / 2;
                sample_running(&d, 0);
                r = eval(&d);
                if (now < anchor + policy.cpu_window_usec)
                        check(r.verdict == HANG_VERDICT_HEALTHY);
                else if (now < anchor + policy.grace_usec)
                        check(r.verdict == HANG_VERDICT_SUSPECT && r.onset_usec == anchor);
                else
                        break;
        }
        check(r.verdict == HANG_VERDICT_RESET && r.now_usec == anchor + policy.grace_usec);
        check(evidence(&r, HANG_SIGNAL_CPU_FLAT)->value == 0);
}

static void test_grace(void) {
        HangDesktop d;
        reset_world(&d);
        /* Paused 29 s, then running again: never acted on. */
        for (int i = 0; i < 29; i++) {
                now += SEC;
                feed_paused_user(&d);
                check(eval(&d).verdict == HANG_VERDICT_SUSPECT);
        }
        check(run_healthy(&d, 60).verdict == HANG_VERDICT_HEALTHY);
        /* Paused again: the grace starts over from the new onset. */
        unsigned secs;
        run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 60, &secs);
        check(secs == 31); /* raised on the first step, acted on 30 s later */

        /* A grace of its own per pool. */
        reset_world(&d);
        policy.grace_usec = 5 * SEC;
        run_until(&d, feed_paused_ioerror, HANG_VERDICT_RESET, 60, &secs);
        check(secs == 6);
}

static void test_precedence(void) {
        HangDesktop d;
        reset_world(&d);
        hang_observe_heartbeat(&d, now);
        /* The agent goes silent first, then the display stops answering, then the VM pauses:
         * each time the more fundamental class wins, its grace counted from its own onset. */
        HangDecision r = run_until(&d, feed_running, HANG_VERDICT_SUSPECT, 60, NULL);
        check(r.class == HANG_CLASS_AGENT);
        uint64_t agent_onset = r.onset_usec;
        now += SEC;
        uint64_t os_onset = now;
        for (int i = 0; i < 3; i++)
                hang_observe_input(&d, now);
        r = eval(&d);
        check(r.verdict == HANG_VERDICT_SUSPECT && r.class == HANG_CLASS_OS && r.onset_usec == os_onset);
        check(r.n_evidence == 2 && evidence(&r, HANG_SIGNAL_AGENT_LOST)->since_usec == agent_onset);
        now += 25 * SEC;
        uint64_t vm_onset = now;
        feed_paused_ioerror(&d);
        r = eval(&d);
        check(r.verdict == HANG_VERDICT_SUSPECT && r.class == HANG_CLASS_VM && r.onset_usec == vm_onset);
        check(r.n_evidence == 3);
        /* The agent's grace is over, the OS's nearly, but the VM's has just begun: no action
         * until the VM's is over too. */
        check(now > agent_onset + policy.grace_usec);
        r = run_until(&d, feed_paused_ioerror, HANG_VERDICT_RESET, 60, NULL);
        check(r.class == HANG_CLASS_VM && r.onset_usec == vm_onset && r.now_usec == vm_onset + policy.grace_usec);

        /* vCPU flat with the display stuck: a VM hang (the vCPUs do not run). */
        reset_world(&d);
        cpu_ns = 0;
        run_healthy(&d, 3);
        for (int i = 0; i < 5; i++)
                hang_observe_input(&d, now);
        r = run_until(&d, feed_cpu_flat, HANG_VERDICT_RESET, 60, NULL);
        check(r.class == HANG_CLASS_VM && evidence(&r, HANG_SIGNAL_DISPLAY_STUCK) && evidence(&r, HANG_SIGNAL_CPU_FLAT));

        /* Unresponsive QEMU outranks an OS-looking symptom, and its evidence names the call. */
        reset_world(&d);
        for (int i = 0; i < 5; i++)
                hang_observe_input(&d, now);
        r = run_until(&d, feed_unresponsive_since_start, HANG_VERDICT_RESET, 60, NULL);
        check(r.class == HANG_CLASS_VM);
        check(strcmp(evidence(&r, HANG_SIGNAL_UNRESPONSIVE)->detail, "virDomainListGetStats") == 0);
        check(evidence(&r, HANG_SIGNAL_UNRESPONSIVE)->value >= 30000);
}

/* A broker restart: the store's resets of the last hour count towards the cap (3 by default). */
static void test_seeded_actions(void) {
        HangDesktop d;
        reset_world(&d);
        hang_desktop_seed_actions(&d, 3, now);
        HangDecision r = run_until(&d, feed_paused_user, HANG_VERDICT_ALERT, 120, NULL);
        check(strcmp(r.why, "reset cap reached") == 0 && r.record && r.actions_last_hour == 3);
        /* An hour after the seeded ones, a reset is allowed again. */
        now += USEC_PER_HOUR;
        r = run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 120, NULL);
        check(r.actions_last_hour == 1);
        /* Two seeded of three: one more reset, then the cap. */
        reset_world(&d);
        hang_desktop_seed_actions(&d, 2, now);
        r = run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 120, NULL);
        check(r.actions_last_hour == 3);
}

/* A broker restart with each action's time: the backoff holds as if the old broker had carried
 * on (no reset right after the restart), the cap counts each action until an hour after it, and a
 * desktop healthy long enough is forgiven the backoff. */
static void test_restored_actions(void) {
        HangDesktop d;
        reset_world(&d);
        uint64_t one[] = { now - 10 * SEC };
        hang_desktop_restore_actions(&d, one, 1);
        unsigned secs;
        HangDecision r = run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 300, &secs);
        /* Grace (30 s) alone would act at +30 s; the backoff after the restored reset says +50 s. */
        check(now == one[0] + policy.backoff_usec && r.actions_last_hour == 2);
        check(strcmp(r.why, "grace elapsed: reset") == 0);

        /* Two restored, 100 s and 20 s ago: level 2 = 120 s after the last. */
        reset_world(&d);
        uint64_t two[] = { now - 100 * SEC, now - 20 * SEC };
        hang_desktop_restore_actions(&d, two, 2);
        HangDecision held = { 0 };
        r = run_until(&d, feed_paused_user, HANG_VERDICT_HOLD, 300, NULL);
        held = r;
        check(strcmp(held.why, "backoff") == 0 && held.not_before_usec == two[1] + 2 * policy.backoff_usec);
        r = run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 300, NULL);
        check(now == two[1] + 2 * policy.backoff_usec && r.actions_last_hour == 3);

        /* Three within the hour: the cap, until an hour after the oldest. */
        reset_world(&d);
        uint64_t three[] = { now - 900 * SEC, now - 600 * SEC, now - 300 * SEC };
        hang_desktop_restore_actions(&d, three, 3);
        r = run_until(&d, feed_paused_user, HANG_VERDICT_ALERT, 300, NULL);
        check(strcmp(r.why, "reset cap reached") == 0 && r.not_before_usec == three[0] + USEC_PER_HOUR);
        r = run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 3600, NULL);
        check(now >= three[0] + USEC_PER_HOUR && r.actions_last_hour == 3);

        /* Healthy for healthy_usec after the restart: the backoff is forgiven (the cap is not). */
        reset_world(&d);
        hang_desktop_restore_actions(&d, one, 1);
        run_healthy(&d, (unsigned) (policy.healthy_usec / SEC) + 1);
        uint64_t onset = now;
        r = run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 300, NULL);
        check(now == onset + policy.grace_usec + SEC && r.actions_last_hour == 2);
}

/* A desktop that stays broken: resets at grace, then backoff 60 s, 120 s, then the cap. */
static void test_cap_and_backoff(void) {
        HangDesktop d;
        reset_world(&d);
        uint64_t resets[64];
        unsigned n_resets = 0, n_alerts_recorded = 0, n_records = 0;
        uint64_t start = now;
        for (uint64_t t = 0; t < 4 * 3600; t++) {
                now += SEC;
                feed_paused_ioerror(&d);
                HangDecision r = eval(&d);
                n_records += r.record;
                if (r.verdict == HANG_VERDICT_RESET) {
                        check(n_resets < ELEMENTSOF(resets));
                        resets[n_resets++] = now;
                }
                if (r.verdict == HANG_VERDICT_ALERT && r.record) {
                        n_alerts_recorded++;
                        check(strcmp(r.why, "reset cap reached") == 0);
                        check(r.not_before_usec == resets[n_resets - 3] + USEC_PER_HOUR);
                }
                if (r.verdict == HANG_VERDICT_HOLD)
                        check(strcmp(r.why, "backoff") == 0 && r.not_before_usec > now);
        }
        /* Never more than 3 in any hour. */
        for (unsigned i = 3; i < n_resets; i++)
                check(resets[i] - resets[i - 3] >= USEC_PER_HOUR);
        /* First reset at grace; the next after max(grace, backoff) from the previous. */
        check(resets[0] == start + 31 * SEC); /* raised on the first step */
        check(resets[1] == resets[0] + 60 * SEC);
        check(resets[2] == resets[1] + 120 * SEC);
        /* Afterwards: the cap frees a slot an hour after resets[0]; the backoff (240 s) is over. */
        check(resets[3] == resets[0] + USEC_PER_HOUR);
        printf("4 h broken: %u resets at +%llu +%llu +%llu +%llu s, %u cap alerts recorded, %u records\n", n_resets,
               (unsigned long long) ((resets[0] - start) / SEC), (unsigned long long) ((resets[1] - start) / SEC),
               (unsigned long long) ((resets[2] - start) / SEC), (unsigned long long) ((resets[3] - start) / SEC),
               n_alerts_recorded, n_records);
        check(n_resets <= 3 * 4);
        /* Each cap episode alerts once, not every pass. */
        check(n_alerts_recorded >= 1 && n_alerts_recorded <= 4);
        check(n_records == n_resets + n_alerts_recorded);

        /* Backoff doubles to its maximum. */
        reset_world(&d);
        policy.max_actions_per_hour = 16;
        policy.backoff_max_usec = 300 * SEC;
        n_resets = 0;
        for (uint64_t t = 0; t < 3 * 3600 && n_resets < 8; t++) {
                now += SEC;
                feed_crashed(&d);
                HangDecision r = eval(&d);
                if (r.verdict == HANG_VERDICT_RESET)
                        resets[n_resets++] = now;
        }
        check(n_resets == 8);
        uint64_t want[] = { 60, 120, 240, 300, 300, 300, 300 };
        for (unsigned i = 1; i < n_resets; i++)
                check(resets[i] - resets[i - 1] == want[i - 1] * SEC);
}

static void test_recovery(void) {
        HangDesktop d;
        reset_world(&d);
        HangDecision r = run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 60, NULL);
        uint64_t reset_at = now;
        /* The reset worked: healthy; recovery is recorded once, a grace after the reset. */
        unsigned recovered = 0;
        for (int i = 0; i < 120; i++) {
                now += SEC;
                sample_running(&d, SEC);
                r = eval(&d);
                check(r.verdict == HANG_VERDICT_HEALTHY);
                if (r.record) {
                        recovered++;
                        check(strcmp(r.why, "recovered") == 0 && now == reset_at + policy.grace_usec);
                }
        }
        check(recovered == 1);
        /* Hung again soon: backoff from the earlier reset still applies (60 s after it, long over
         * here), and the hourly count remembers it. */
        r = run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 60, NULL);
        check(r.actions_last_hour == 2);
        /* Recovered and healthy for 10 min: the backoff is forgiven; the cap is not. */
        run_healthy(&d, 601);
        uint64_t t = now;
        r = run_until(&d, feed_paused_user, HANG_VERDICT_RESET, 60, NULL);
        check(r.now_usec == t + SEC + policy.grace_usec && r.actions_last_hour == 3);
        /* Right after a reset, a repeat needs the backoff (60 s after level 1) */
        r = run_until(&d, feed_paused_user, HANG_VERDICT_ALERT, 120, NULL); /* cap 3/h reached */
        check(strcmp(r.why, "reset cap reached") == 0 && r.record);

        /* Signals vanish when the guest reboots on its own (panic=10). */
        reset_world(&d);
        for (int i = 0; i < 5; i++)
                hang_observe_input(&d, now);
        now += 10 * SEC;
        check(eval(&d).verdict == HANG_VERDICT_SUSPECT);
        hang_observe_reboot(&d, now);
        check(run_healthy(&d, 120).verdict == HANG_VERDICT_HEALTHY);
}

static void test_graceful(void) {
        HangDesktop d;
        reset_world(&d);
        policy.action = HANG_ACTION_GRACEFUL_THEN_RESET;
        /* OS hang with the agent still beating (e.g. a hung X server): ask the agent first. */
        for (int i = 0; i < 3; i++)
                hang_observe_input(&d, now);
        HangDecision r = { 0 };
        for (int i = 0; i < 40 && r.verdict != HANG_VERDICT_REBOOT; i++) {
                now += SEC;
                hang_observe_heartbeat(&d, now);
                sample_running(&d, SEC);
                r = eval(&d);
        }
        check(r.verdict == HANG_VERDICT_REBOOT && r.class == HANG_CLASS_OS && r.record);
        uint64_t asked = now;
        /* It does not reboot: hold for the graceful timeout, then reset (no backoff in between). */
        for (;;) {
                now += SEC;
                hang_observe_heartbeat(&d, now);
                sample_running(&d, SEC);
                r = eval(&d);
                if (r.verdict != HANG_VERDICT_HOLD)
                        break;
                check(strcmp(r.why, "waiting for the graceful reboot") == 0 && !r.record);
        }
        check(r.verdict == HANG_VERDICT_RESET && now == asked + policy.graceful_timeout_usec);
        check(strcmp(r.why, "graceful reboot did not help: reset") == 0 && r.actions_last_hour == 2);

        /* The reboot works: recovered, no reset. */
        reset_world(&d);
        policy.action = HANG_ACTION_GRACEFUL_THEN_RESET;
        hang_observe_heartbeat(&d, now);
        for (int i = 0; i < 3; i++)
                hang_observe_input(&d, now);
        for (int i = 0; i < 40 && r.verdict != HANG_VERDICT_REBOOT; i++) {
                now += SEC;
                hang_observe_heartbeat(&d, now);
                r = eval(&d);
        }
        check(r.verdict == HANG_VERDICT_REBOOT);
        now += 5 * SEC;
        hang_observe_reboot(&d, now);
        unsigned recovered = 0;
        for (int i = 0; i < 120; i++) {
                now += SEC;
                hang_observe_heartbeat(&d, now);
                r = eval(&d);
                check(r.verdict == HANG_VERDICT_HEALTHY);
                recovered += r.record;
        }
        check(recovered == 1);

        /* The agent cannot do it (refused, gone, request expired): reset at once, not after the timeout. */
        reset_world(&d);
        policy.action = HANG_ACTION_GRACEFUL_THEN_RESET;
        hang_observe_heartbeat(&d, now);
        for (int i = 0; i < 3; i++)
                hang_observe_input(&d, now);
        r = (HangDecision) { 0 };
        for (int i = 0; i < 40 && r.verdict != HANG_VERDICT_REBOOT; i++) {
                now += SEC;
                hang_observe_heartbeat(&d, now);
                r = eval(&d);
        }
        check(r.verdict == HANG_VERDICT_REBOOT);
        asked = now;
        now += SEC;
        hang_observe_heartbeat(&d, now);
        check(eval(&d).verdict == HANG_VERDICT_HOLD);
        hang_observe_graceful_failed(&d, now);
        now += SEC;
        hang_observe_heartbeat(&d, now);
        r = eval(&d);
        check(r.verdict == HANG_VERDICT_RESET && now < asked + policy.graceful_timeout_usec);
        check(strcmp(r.why, "graceful reboot impossible: reset") == 0 && r.record);
        /* Only a graceful reboot being awaited can fail. */
        hang_observe_graceful_failed(&d, now);
        check(!d.graceful_failed);

        /* The agent accepted a reboot: its silence while the guest reboots is no agent hang, until
         * it is back (a heartbeat) and lost again. */
        reset_world(&d);
        policy.action = HANG_ACTION_RESET;
        hang_observe_heartbeat(&d, now);
        hang_observe_agent_leaving(&d, now);
        check(run_healthy(&d, 120).verdict == HANG_VERDICT_HEALTHY);
        hang_observe_heartbeat(&d, now);
        r = run_until(&d, feed_running, HANG_VERDICT_RESET, 120, NULL);
        check(r.class == HANG_CLASS_AGENT);
        policy.action = HANG_ACTION_GRACEFUL_THEN_RESET;

        /* Agent dead (agent hang): nobody to ask, reset directly. */
        reset_world(&d);
        policy.action = HANG_ACTION_GRACEFUL_THEN_RESET;
        hang_observe_heartbeat(&d, now);
        r = run_until(&d, feed_running, HANG_VERDICT_RESET, 120, NULL);
        check(r.class == HANG_CLASS_AGENT && strcmp(r.why, "grace elapsed, agent not alive: reset") == 0);
}

static void test_alert_only(void) {
        HangDesktop d;
        reset_world(&d);
        policy.action = HANG_ACTION_ALERT;
        unsigned alerts = 0;
        for (int i = 0; i < 600; i++) {
                now += SEC;
                feed_shutoff(&d);
                HangDecision r = eval(&d);
                check(r.verdict != HANG_VERDICT_RESET && r.verdict != HANG_VERDICT_REBOOT);
                alerts += r.record;
        }
        check(alerts == 1);
        /* Recovers (an operator started it), fails again: a new alert. */
        HangDecision r = run_healthy(&d, 60);
        check(r.verdict == HANG_VERDICT_HEALTHY);
        r = run_until(&d, feed_shutoff, HANG_VERDICT_ALERT, 60, NULL);
        check(r.record && r.actions_last_hour == 0);
}

static void test_json(void) {
        HangDesktop d;
        reset_world(&d);
        hang_observe_heartbeat(&d, now);
        for (int i = 0; i < 5; i++)
                hang_observe_input(&d, now);
        now += 20 * SEC;
        hang_observe_unresponsive(&d, now, now - 12 * SEC, "virDomainListGetStats \"quoted\"\n");
        feed_paused_ioerror(&d);
        HangDecision r = eval(&d);
        check(r.n_evidence == 4);
        char json[1024];
        int n = hang_decision_to_json(&r, json, sizeof json);
        check(n > 0 && (size_t) n == strlen(json));
        printf("%s\n", json);
        check(strstr(json, "\"verdict\":\"suspect\",\"class\":\"vm-hang\""));
        check(strstr(json, "\"signal\":\"unresponsive\",\"class\":\"vm-hang\""));
        check(strstr(json, "\"detail\":\"virDomainListGetStats \\\"quoted\\\"\\u000a\",\"outstanding_ms\":12000"));
        check(strstr(json, "\"signal\":\"display-stuck\""));
        check(strstr(json, "\"inputs_unanswered\":5"));
        check(strstr(json, "\"signal\":\"agent-lost\""));
        check(strstr(json, "\"detail\":\"ioerror\""));
        for (size_t size = 0; size < (size_t) n + 1; size++)
                check(hang_decision_to_json(&r, json, size) == -ENOBUFS);
        check(hang_decision_to_json(&r, json, (size_t) n + 1) == n);
}

static void test_policy(void) {
        HangPolicy p;
        const char *e = NULL;
        hang_policy_init(&p);
        check(hang_policy_validate(&p, &e) == 0);
        check(p.grace_usec == 30 * SEC && p.max_actions_per_hour == 3 && p.action == HANG_ACTION_RESET);
        p.max_actions_per_hour = 0;
        check(hang_policy_validate(&p, &e) == -EINVAL && strstr(e, "per hour"));
        p.max_actions_per_hour = 17;
        check(hang_policy_validate(&p, &e) == -EINVAL);
        hang_policy_init(&p);
        p.grace_usec = 0;
        check(hang_policy_validate(&p, &e) == -EINVAL && strstr(e, "grace"));
        hang_policy_init(&p);
        p.backoff_usec = p.backoff_max_usec + 1;
        check(hang_policy_validate(&p, &e) == -EINVAL);
        hang_policy_init(&p);
        p.action = (HangAction) 7;
        check(hang_policy_validate(&p, &e) == -EINVAL);
        hang_policy_init(&p);
        p.cpu_window_usec = 0;
        check(hang_policy_validate(&p, &e) == -EINVAL && strstr(e, "vCPU"));

        HangAction a;
        check(hang_action_from_string("reboot-then-reset", 17, &a) == 0 && a == HANG_ACTION_GRACEFUL_THEN_RESET);
        check(hang_action_from_string("alert", 5, &a) == 0 && a == HANG_ACTION_ALERT);
        check(hang_action_from_string("alertx", 5, &a) == 0 && a == HANG_ACTION_ALERT); /* length wins */
        check(hang_action_from_string("rese", 4, &a) == -EINVAL);
        check(hang_action_from_string("", 0, &a) == -EINVAL);
}

int main(void) {
        test_each_signal_alone();
        test_agent_lost_needs_missed_heartbeats();
        test_display_needs_repeated_input();
        test_no_signal_when_not_a_hang();
        test_cpu_window();
        test_grace();
        test_precedence();
        test_cap_and_backoff();
        test_seeded_actions();
        test_restored_actions();
        test_recovery();
        test_graceful();
        test_alert_only();
        test_json();
        test_policy();
        printf("ok\n");
        return 0;
}
