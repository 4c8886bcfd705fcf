/* Hang detection and policy for one desktop: see broker-hang.h for the model. */
#include "broker-hang.h"

#include <errno.h>
#include <string.h>

#include "macro.h"

static const char *const signal_names[_HANG_SIGNAL_MAX] = {
        [HANG_SIGNAL_CRASHED] = "crashed",
        [HANG_SIGNAL_PAUSED] = "paused",
        [HANG_SIGNAL_SHUTOFF] = "shutoff",
        [HANG_SIGNAL_UNRESPONSIVE] = "unresponsive",
        [HANG_SIGNAL_CPU_FLAT] = "cpu-flat",
        [HANG_SIGNAL_DISPLAY_STUCK] = "display-stuck",
        [HANG_SIGNAL_AGENT_LOST] = "agent-lost",
};

/* What HangEvidence.value means, per signal (a JSON key). */
static const char *const signal_value_names[_HANG_SIGNAL_MAX] = {
        [HANG_SIGNAL_CRASHED] = NULL,
        [HANG_SIGNAL_PAUSED] = NULL,
        [HANG_SIGNAL_SHUTOFF] = NULL,
        [HANG_SIGNAL_UNRESPONSIVE] = "outstanding_ms",
        [HANG_SIGNAL_CPU_FLAT] = "cpu_ns_since",
        [HANG_SIGNAL_DISPLAY_STUCK] = "inputs_unanswered",
        [HANG_SIGNAL_AGENT_LOST] = "ms_since_heartbeat",
};

const char *hang_signal_to_string(HangSignal s) {
        return s < _HANG_SIGNAL_MAX ? signal_names[s] : NULL;
}

const char *hang_signal_value_name(HangSignal s) {
        return s < _HANG_SIGNAL_MAX ? signal_value_names[s] : NULL;
}

const char *hang_class_to_string(HangClass c) {
        switch (c) {
        case HANG_CLASS_NONE:
                return "none";
        case HANG_CLASS_AGENT:
                return "agent-hang";
        case HANG_CLASS_OS:
                return "os-hang";
        case HANG_CLASS_VM:
                return "vm-hang";
        }
        return NULL;
}

const char *hang_verdict_to_string(HangVerdict v) {
        switch (v) {
        case HANG_VERDICT_HEALTHY:
                return "healthy";
        case HANG_VERDICT_SUSPECT:
                return "suspect";
        case HANG_VERDICT_RESET:
                return "reset";
        case HANG_VERDICT_REBOOT:
                return "reboot";
        case HANG_VERDICT_ALERT:
                return "alert";
        case HANG_VERDICT_HOLD:
                return "hold";
        }
        return NULL;
}

static const char *const action_names[] = {
        [HANG_ACTION_RESET] = "reset",
        [HANG_ACTION_GRACEFUL_THEN_RESET] = "reboot-then-reset",
        [HANG_ACTION_ALERT] = "alert",
};

const char *hang_action_to_string(HangAction a) {
        return (size_t) a < ELEMENTSOF(action_names) ? action_names[a] : NULL;
}

int hang_action_from_string(const char *s, size_t len, HangAction *ret) {
        for (size_t i = 0; i < ELEMENTSOF(action_names); i++)
                if (strlen(action_names[i]) == len && memcmp(action_names[i], s, len) == 0) {
                        *ret = (HangAction) i;
                        return 0;
                }
        return -EINVAL;
}

HangClass hang_signal_class(HangSignal s) {
        switch (s) {
        case HANG_SIGNAL_CRASHED:
        case HANG_SIGNAL_PAUSED:
        case HANG_SIGNAL_SHUTOFF:
        case HANG_SIGNAL_UNRESPONSIVE:
        case HANG_SIGNAL_CPU_FLAT:
                return HANG_CLASS_VM;
        case HANG_SIGNAL_DISPLAY_STUCK:
                return HANG_CLASS_OS;
        case HANG_SIGNAL_AGENT_LOST:
                return HANG_CLASS_AGENT;
        case _HANG_SIGNAL_MAX:
                break;
        }
        return HANG_CLASS_NONE;
}

void hang_policy_init(HangPolicy *p) {
        *p = (HangPolicy) {
                .grace_usec = 30 * USEC_PER_SEC,
                .action = HANG_ACTION_RESET,
                .max_actions_per_hour = 3,
                .backoff_usec = 60 * USEC_PER_SEC,
                .backoff_max_usec = USEC_PER_HOUR,
                .graceful_timeout_usec = 60 * USEC_PER_SEC,
                .healthy_usec = 600 * USEC_PER_SEC,
                .heartbeat_usec = 5 * USEC_PER_SEC,
                .heartbeats_missed = 2,
                .cpu_flat_ns_per_sec = 1000000,
                .cpu_window_usec = 10 * USEC_PER_SEC,
                .display_min_inputs = 3,
        };
}

int hang_policy_validate(const HangPolicy *p, const char **ret_error) {
        const char *e = NULL;
        if (p->grace_usec == 0 || p->grace_usec > 24 * USEC_PER_HOUR)
                e = "grace must be between 1 us and 24 h";
        else if ((size_t) p->action >= ELEMENTSOF(action_names))
                e = "unknown action";
        else if (p->max_actions_per_hour < 1 || p->max_actions_per_hour > HANG_MAX_ACTIONS_PER_HOUR)
                e = "max resets per hour must be between 1 and 16";
        else if (p->backoff_usec > p->backoff_max_usec || p->backoff_max_usec > 24 * USEC_PER_HOUR)
                e = "backoff must be at most its maximum, and that at most 24 h";
        else if (p->action == HANG_ACTION_GRACEFUL_THEN_RESET && p->graceful_timeout_usec == 0)
                e = "graceful reboot timeout must not be 0";
        else if (p->heartbeat_usec == 0 || p->heartbeats_missed == 0 || p->heartbeats_missed > 1000)
                e = "heartbeat interval and missed heartbeats must not be 0";
        else if (p->cpu_window_usec == 0 || p->cpu_window_usec > USEC_PER_HOUR)
                e = "vCPU window must be between 1 us and 1 h";
        else if (p->display_min_inputs == 0 || p->display_min_inputs > 1000)
                e = "display minimum inputs must be between 1 and 1000";
        if (e) {
                if (ret_error)
                        *ret_error = e;
                return -EINVAL;
        }
        return 0;
}

static void signal_raise(HangDesktop *d, HangSignal s, uint64_t since, const char *detail, int64_t value) {
        if (!d->sig_active[s] || since < d->sig_since[s])
                d->sig_since[s] = since;
        d->sig_active[s] = true;
        d->sig_detail[s] = detail;
        d->sig_value[s] = value;
}

static void signal_clear(HangDesktop *d, HangSignal s) {
        d->sig_active[s] = false;
        d->sig_since[s] = 0;
        d->sig_detail[s] = NULL;
        d->sig_value[s] = 0;
}

/* Forgets what the guest's current boot showed (signals, baselines), keeps the policy history. */
static void forget_boot(HangDesktop *d, uint64_t now) {
        for (HangSignal s = 0; s < _HANG_SIGNAL_MAX; s++)
                signal_clear(d, s);
        d->cpu_known = false;
        d->display_progress_usec = now;
        d->input_first_unanswered_usec = 0;
        d->inputs_unanswered = 0;
        d->agent_active = false;
        d->agent_heartbeat_usec = 0;
}

void hang_desktop_init(HangDesktop *d, uint64_t now_usec) {
        *d = (HangDesktop) {
                .expected_running = true,
                .last_verdict = HANG_VERDICT_HEALTHY,
                .healthy_since_usec = now_usec,
        };
        forget_boot(d, now_usec);
}

void hang_desktop_set_expected_running(HangDesktop *d, bool running, uint64_t now_usec) {
        if (d->expected_running == running)
                return;
        d->expected_running = running;
        forget_boot(d, now_usec);
        d->episode = false;
        d->alerted = false;
        d->last_action = HANG_VERDICT_HEALTHY;
}

void hang_observe_libvirt(HangDesktop *d, uint64_t now, HangVmState state, const char *reason, bool cpu_valid,
                          uint64_t cpu_ns) {
        static const HangSignal state_signals[] = { HANG_SIGNAL_CRASHED, HANG_SIGNAL_PAUSED, HANG_SIGNAL_SHUTOFF };
        HangSignal raise = _HANG_SIGNAL_MAX;

        if (d->expected_running)
                switch (state) {
                case HANG_VM_CRASHED:
                        raise = HANG_SIGNAL_CRASHED;
                        break;
                case HANG_VM_PAUSED:
                        raise = HANG_SIGNAL_PAUSED;
                        break;
                case HANG_VM_SHUTOFF:
                        raise = HANG_SIGNAL_SHUTOFF;
                        break;
                default:
                        break;
                }
        for (size_t i = 0; i < ELEMENTSOF(state_signals); i++)
                if (state_signals[i] != raise)
                        signal_clear(d, state_signals[i]);
        if (raise != _HANG_SIGNAL_MAX)
                signal_raise(d, raise, now, reason, 0);

        /* vCPU time: anchored at the last sample that showed progress, judged in hang_evaluate(). */
        if (state != HANG_VM_RUNNING || !cpu_valid) {
                d->cpu_known = false;
                signal_clear(d, HANG_SIGNAL_CPU_FLAT);
                return;
        }
        if (!d->cpu_known || cpu_ns < d->cpu_progress_ns) {
                /* First running sample, or a new QEMU (its counter restarted). */
                d->cpu_known = true;
                d->cpu_progress_ns = cpu_ns;
                d->cpu_progress_usec = now;
        }
        d->cpu_ns = cpu_ns;
        d->cpu_at_usec = now;
}

void hang_observe_unresponsive(HangDesktop *d, uint64_t now, uint64_t started_usec, const char *call) {
        signal_raise(d, HANG_SIGNAL_UNRESPONSIVE, MIN(started_usec, now), call,
                     (int64_t) ((now - MIN(started_usec, now)) / 1000));
}

void hang_observe_responsive(HangDesktop *d, uint64_t now) {
        signal_clear(d, HANG_SIGNAL_UNRESPONSIVE);
}

void hang_observe_display(HangDesktop *d, uint64_t now) {
        d->display_progress_usec = now;
        d->input_first_unanswered_usec = 0;
        d->inputs_unanswered = 0;
        signal_clear(d, HANG_SIGNAL_DISPLAY_STUCK);
}

void hang_observe_input(HangDesktop *d, uint64_t now) {
        if (d->inputs_unanswered == 0)
                d->input_first_unanswered_usec = now;
        if (d->inputs_unanswered < UINT32_MAX)
                d->inputs_unanswered++;
}

void hang_observe_heartbeat(HangDesktop *d, uint64_t now) {
        d->agent_active = true;
        d->agent_heartbeat_usec = now;
        signal_clear(d, HANG_SIGNAL_AGENT_LOST);
}

void hang_observe_reboot(HangDesktop *d, uint64_t now) {
        forget_boot(d, now);
}

void hang_observe_agent_leaving(HangDesktop *d, uint64_t now) {
        d->agent_active = false;
        signal_clear(d, HANG_SIGNAL_AGENT_LOST);
}

void hang_observe_graceful_failed(HangDesktop *d, uint64_t now) {
        if (d->last_action == HANG_VERDICT_REBOOT)
                d->graceful_failed = true;
}

/* Signals that are judged against the policy rather than observed directly. */
static void derive_signals(HangDesktop *d, const HangPolicy *p, uint64_t now) {
        if (d->cpu_known && d->cpu_at_usec > d->cpu_progress_usec) {
                uint64_t elapsed = d->cpu_at_usec - d->cpu_progress_usec;
                uint64_t used = d->cpu_ns - d->cpu_progress_ns;
                /* used / elapsed_s >= rate, in integers: used * 1e6 >= rate * elapsed_us. */
                if ((__uint128_t) used * USEC_PER_SEC >= (__uint128_t) p->cpu_flat_ns_per_sec * elapsed) {
                        d->cpu_progress_ns = d->cpu_ns;
                        d->cpu_progress_usec = d->cpu_at_usec;
                        signal_clear(d, HANG_SIGNAL_CPU_FLAT);
                } else if (elapsed >= p->cpu_window_usec)
                        signal_raise(d, HANG_SIGNAL_CPU_FLAT, d->cpu_progress_usec, "vcpu time", (int64_t) used);
                else
                        signal_clear(d, HANG_SIGNAL_CPU_FLAT); /* too short a window to judge */
        }

        if (d->inputs_unanswered >= p->display_min_inputs)
                signal_raise(d, HANG_SIGNAL_DISPLAY_STUCK, d->input_first_unanswered_usec, "input without display update",
                             d->inputs_unanswered);
        else
                signal_clear(d, HANG_SIGNAL_DISPLAY_STUCK);

        uint64_t lost_after = p->heartbeat_usec * p->heartbeats_missed;
        if (d->agent_active && now > d->agent_heartbeat_usec + lost_after)
                signal_raise(d, HANG_SIGNAL_AGENT_LOST, d->agent_heartbeat_usec, "no heartbeat",
                             (int64_t) ((now - d->agent_heartbeat_usec) / 1000));
        else
                signal_clear(d, HANG_SIGNAL_AGENT_LOST);
}

static unsigned actions_in_last_hour(HangDesktop *d, uint64_t now, uint64_t *ret_oldest) {
        unsigned n = 0;
        uint64_t oldest = UINT64_MAX;
        for (unsigned i = 0; i < d->n_actions; i++) {
                uint64_t t = d->actions[i];
                if (t + USEC_PER_HOUR > now) {
                        n++;
                        oldest = MIN(oldest, t);
                }
        }
        if (ret_oldest)
                *ret_oldest = oldest;
        return n;
}

static void push_action(HangDesktop *d, uint64_t at) {
        d->actions[d->action_head] = at;
        d->action_head = (d->action_head + 1) % HANG_MAX_ACTIONS_PER_HOUR;
        if (d->n_actions < HANG_MAX_ACTIONS_PER_HOUR)
                d->n_actions++;
}

static void record_action(HangDesktop *d, uint64_t now, HangVerdict v) {
        push_action(d, now);
        if (d->backoff_level < 63)
                d->backoff_level++;
        d->last_action_usec = now;
        d->last_action = v;
        d->graceful_failed = false;
}

void hang_desktop_seed_actions(HangDesktop *d, unsigned n, uint64_t at_usec) {
        for (unsigned i = 0; i < n && i < HANG_MAX_ACTIONS_PER_HOUR; i++)
                push_action(d, at_usec);
}

void hang_desktop_restore_actions(HangDesktop *d, const uint64_t *at_usec, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                push_action(d, at_usec[i]);
                if (d->backoff_level < 63)
                        d->backoff_level++;
                d->last_action_usec = MAX(d->last_action_usec, at_usec[i]);
        }
        /* Healthy again only once seen healthy after start (the store does not say when it was). */
        if (n > 0)
                d->healthy_since_usec = 0;
}

static uint64_t backoff_for(const HangPolicy *p, unsigned level) {
        /* Level 1 (one action taken) waits backoff_usec, each further one twice as long. */
        uint64_t b = p->backoff_usec;
        for (unsigned i = 1; i < level && b < p->backoff_max_usec; i++)
                b *= 2;
        return MIN(b, p->backoff_max_usec);
}

static bool agent_alive(const HangDesktop *d) {
        return d->agent_active && !d->sig_active[HANG_SIGNAL_AGENT_LOST];
}

void hang_evaluate(HangDesktop *d, const HangPolicy *p, uint64_t now, HangDecision *ret) {
        HangDecision r = {
                .verdict = HANG_VERDICT_HEALTHY,
                .now_usec = now,
        };

        if (!d->expected_running) {
                r.why = "not expected to run";
                d->last_verdict = r.verdict;
                *ret = r;
                return;
        }

        derive_signals(d, p, now);
        for (HangSignal s = 0; s < _HANG_SIGNAL_MAX; s++) {
                if (!d->sig_active[s])
                        continue;
                r.evidence[r.n_evidence++] = (HangEvidence) {
                        .signal = s,
                        .since_usec = d->sig_since[s],
                        .detail = d->sig_detail[s],
                        .value = d->sig_value[s],
                };
                r.class = MAX(r.class, hang_signal_class(s));
        }
        uint64_t oldest;
        r.actions_last_hour = actions_in_last_hour(d, now, &oldest);

        if (r.class == HANG_CLASS_NONE) {
                if (d->healthy_since_usec == 0)
                        d->healthy_since_usec = now;
                if (now >= d->healthy_since_usec + p->healthy_usec)
                        d->backoff_level = 0;
                r.why = "no signal";
                /* An episode ends once the desktop stayed clean for a grace period after the
                 * last action (right after a reset nothing has had time to go wrong yet). */
                if (d->episode && now >= d->last_action_usec + p->grace_usec) {
                        d->episode = false;
                        d->alerted = false;
                        d->last_action = HANG_VERDICT_HEALTHY;
                        r.record = true;
                        r.why = "recovered";
                } else if (d->episode)
                        r.why = "recovering";
                d->last_verdict = r.verdict;
                *ret = r;
                return;
        }

        d->healthy_since_usec = 0;
        r.onset_usec = UINT64_MAX;
        for (unsigned i = 0; i < r.n_evidence; i++)
                if (hang_signal_class(r.evidence[i].signal) == r.class)
                        r.onset_usec = MIN(r.onset_usec, r.evidence[i].since_usec);

        if (now < r.onset_usec + p->grace_usec) {
                r.verdict = HANG_VERDICT_SUSPECT;
                r.why = "within grace";
                r.not_before_usec = r.onset_usec + p->grace_usec;
                goto done;
        }

        d->episode = true;
        bool escalate = false;
        if (d->last_action == HANG_VERDICT_REBOOT) {
                if (!d->graceful_failed && now < d->last_action_usec + p->graceful_timeout_usec) {
                        r.verdict = HANG_VERDICT_HOLD;
                        r.why = "waiting for the graceful reboot";
                        r.not_before_usec = d->last_action_usec + p->graceful_timeout_usec;
                        goto done;
                }
                escalate = true; /* the agent's reboot did not help: reset, without backoff */
        }

        if (p->action == HANG_ACTION_ALERT) {
                r.verdict = HANG_VERDICT_ALERT;
                r.why = "policy: alert only";
                r.record = !d->alerted;
                d->alerted = true;
                goto done;
        }

        if (r.actions_last_hour >= p->max_actions_per_hour) {
                r.verdict = HANG_VERDICT_ALERT;
                r.why = "reset cap reached";
                r.not_before_usec = oldest + USEC_PER_HOUR;
                r.record = !d->alerted;
                d->alerted = true;
                goto done;
        }

        if (!escalate && d->backoff_level > 0) {
                uint64_t next = d->last_action_usec + backoff_for(p, d->backoff_level);
                if (now < next) {
                        r.verdict = HANG_VERDICT_HOLD;
                        r.why = "backoff";
                        r.not_before_usec = next;
                        goto done;
                }
        }

        if (p->action == HANG_ACTION_GRACEFUL_THEN_RESET && !escalate && agent_alive(d)) {
                r.verdict = HANG_VERDICT_REBOOT;
                r.why = "grace elapsed: graceful reboot through the agent";
        } else {
                r.verdict = HANG_VERDICT_RESET;
                r.why = escalate && d->graceful_failed                ? "graceful reboot impossible: reset"
                        : escalate                                    ? "graceful reboot did not help: reset"
                        : p->action == HANG_ACTION_GRACEFUL_THEN_RESET ? "grace elapsed, agent not alive: reset"
                                                                       : "grace elapsed: reset";
        }
        record_action(d, now, r.verdict);
        r.actions_last_hour++;
        r.record = true;
        d->alerted = false;
        if (r.verdict == HANG_VERDICT_RESET)
                /* The caller resets now: the evidence is about a boot that ends here. */
                forget_boot(d, now);

done:
        d->last_verdict = r.verdict;
        *ret = r;
}
