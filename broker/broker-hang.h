/* Hang detection for one desktop: pure logic, no I/O, no clock of its own.
 *
 * The caller feeds observations as they arrive (libvirt samples, libvirt calls that missed their
 * deadline, display progress and input from hostd, agent heartbeats), each with the monotonic
 * time in microseconds it was made, and asks hang_evaluate() for a decision at a time of its
 * choosing (a detection pass). Signals are kept apart, each with its onset time and the values
 * that raised it, and every decision carries them as evidence.
 *
 * Classification and its precedence: VM hang > OS hang > agent hang. A lower layer that fails
 * explains every symptom above it (a paused or unresponsive VM also has a frozen display and a
 * silent agent; a hung OS also silences its agent), so the most fundamental layer with an active
 * signal is the diagnosis, and its grace counts from the earliest of its own signals.
 *   VM hang:    libvirt says crashed, paused (I/O error, watchdog, by someone; not a transient
 *               pause of a migration, save or snapshot), or shut off while the desktop should run;
 *               libvirt calls on the domain miss their deadline (QEMU does not answer); vCPU time
 *               flat while libvirt says running.
 *   OS hang:    the display does not progress while input is being sent (the vCPUs run and QEMU
 *               answers, the guest does not react).
 *   agent hang: the agent's heartbeat is lost after it had been active, nothing else wrong.
 *
 * Policy (per pool): a hang is acted on once its signals have lasted the grace period. Actions:
 * reset; graceful reboot through the agent, then reset if the desktop has not recovered within
 * graceful_timeout (straight to reset when the agent is not alive to ask); or alert only. Every
 * reset and reboot counts towards max_actions_per_hour; once reached, the decision is an alert
 * (once per episode), never another reset. Between actions on a desktop that has not recovered,
 * exponential backoff: backoff_usec after the first, doubling, at most backoff_max_usec. A
 * desktop healthy for healthy_usec is forgiven its backoff (the hourly cap still counts).
 *
 * Wiring it into the broker (see tandem-hang-watch.c, which does exactly this for one host):
 *   - one HangDesktop per desktop, next to its store record; a HostSampler per host
 *     (broker-libvirt-sample.h) whose samples go to hang_observe_libvirt() and
 *     hang_observe_(un)responsive(); hostd's reports to the other observers;
 *   - a host whose sample failed (error < 0): its desktops are unknown, do not evaluate them;
 *   - evaluate after each pass (and after hostd's reports); write an event when .record is set,
 *     with hang_decision_to_json() as its evidence;
 *   - RESET: broker_domain_power(RESET), or CYCLE when the evidence has HANG_SIGNAL_UNRESPONSIVE
 *     (virDomainReset needs the QEMU that does not answer); REBOOT: ask the agent (through hostd:
 *     broker-store-power.h), and hang_observe_graceful_failed() when that cannot happen. While a
 *     reset runs, neither feed nor evaluate the desktop; afterwards hang_observe_reboot().
 *   - the state is in memory: after a broker restart every desktop starts clean (grace anew);
 *     hang_desktop_restore_actions() with the store's actions of the last hour keeps the hourly
 *     cap and the backoff across restarts. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HANG_MAX_ACTIONS_PER_HOUR 16
#ifndef USEC_PER_SEC
#define USEC_PER_SEC 1000000ULL
#endif
#define USEC_PER_HOUR (3600ULL * USEC_PER_SEC)

typedef enum HangSignal {
        HANG_SIGNAL_CRASHED,       /* libvirt: state crashed (guest panicked, on_crash=preserve) */
        HANG_SIGNAL_PAUSED,        /* libvirt: paused for a reason that does not end by itself */
        HANG_SIGNAL_SHUTOFF,       /* libvirt: shut off while the desktop should be running */
        HANG_SIGNAL_UNRESPONSIVE,  /* libvirt calls on the domain miss their deadline */
        HANG_SIGNAL_CPU_FLAT,      /* vCPU time does not advance while running */
        HANG_SIGNAL_DISPLAY_STUCK, /* no display progress while input is sent */
        HANG_SIGNAL_AGENT_LOST,    /* agent heartbeat lost after it had been active */
        _HANG_SIGNAL_MAX,
} HangSignal;

typedef enum HangClass {
        HANG_CLASS_NONE,
        HANG_CLASS_AGENT,
        HANG_CLASS_OS,
        HANG_CLASS_VM,
} HangClass;

typedef enum HangAction {
        HANG_ACTION_RESET,
        HANG_ACTION_GRACEFUL_THEN_RESET,
        HANG_ACTION_ALERT,
} HangAction;

typedef enum HangVerdict {
        HANG_VERDICT_HEALTHY,   /* no signal */
        HANG_VERDICT_SUSPECT,   /* signals, grace not over yet */
        HANG_VERDICT_RESET,     /* reset the domain now (power it on when it is shut off) */
        HANG_VERDICT_REBOOT,    /* ask the agent for a graceful reboot now */
        HANG_VERDICT_ALERT,     /* tell operators; no action (policy, or the hourly cap) */
        HANG_VERDICT_HOLD,      /* hung, but waiting: backoff, or a graceful reboot in progress */
} HangVerdict;

/* The libvirt state a sample saw, reduced to what hang detection distinguishes. */
typedef enum HangVmState {
        HANG_VM_RUNNING,          /* running or blocked */
        HANG_VM_PAUSED,           /* paused, reason not transient */
        HANG_VM_PAUSED_TRANSIENT, /* migration, save, dump, snapshot, starting up */
        HANG_VM_SHUTOFF,
        HANG_VM_CRASHED,
        HANG_VM_OTHER,            /* shutting down, pmsuspended, no state: no signal */
} HangVmState;

typedef struct HangPolicy {
        uint64_t grace_usec;            /* 30 s */
        HangAction action;              /* reset */
        unsigned max_actions_per_hour;  /* 3; 1..HANG_MAX_ACTIONS_PER_HOUR */
        uint64_t backoff_usec;          /* 60 s after the first action, doubling */
        uint64_t backoff_max_usec;      /* 1 h */
        uint64_t graceful_timeout_usec; /* 60 s for the agent's reboot to show */
        uint64_t healthy_usec;          /* 10 min healthy forgives the backoff */
        uint64_t heartbeat_usec;        /* the agent's heartbeat interval: 5 s */
        unsigned heartbeats_missed;     /* heartbeats missed before it is lost: 2 */
        uint64_t cpu_flat_ns_per_sec;   /* vCPU time below this rate is flat: 1 ms/s */
        uint64_t cpu_window_usec;       /* ... over at least this long: 10 s (an idle guest's
                                         * vCPU time moves in 10 ms ticks: 0.5 s says nothing) */
        unsigned display_min_inputs;    /* unanswered inputs before the display is stuck: 3 */
} HangPolicy;

void hang_policy_init(HangPolicy *p);
/* 0, or -EINVAL with *ret_error naming the bad field (a static string). */
int hang_policy_validate(const HangPolicy *p, const char **ret_error);

/* One signal as evidence: since when, and the values that raised it. */
typedef struct HangEvidence {
        HangSignal signal;
        uint64_t since_usec;
        const char *detail; /* static text: libvirt's reason, the call that timed out, ... */
        int64_t value;      /* per signal: see hang_signal_value_name() */
} HangEvidence;

typedef struct HangDecision {
        HangVerdict verdict;
        HangClass class;
        bool record;            /* a new event for the audit log (not a repeat of the last pass) */
        const char *why;        /* static text */
        uint64_t now_usec;
        uint64_t onset_usec;    /* earliest signal of the class; 0 when healthy */
        uint64_t not_before_usec; /* HOLD: when the next action may come */
        unsigned actions_last_hour;
        unsigned n_evidence;
        HangEvidence evidence[_HANG_SIGNAL_MAX];
} HangDecision;

/* Per-desktop state. Embed it, hang_desktop_init() it; it owns no memory. */
typedef struct HangDesktop {
        bool expected_running;

        /* Raw observations. */
        bool sig_active[_HANG_SIGNAL_MAX];
        uint64_t sig_since[_HANG_SIGNAL_MAX];
        const char *sig_detail[_HANG_SIGNAL_MAX];
        int64_t sig_value[_HANG_SIGNAL_MAX];

        bool cpu_known;
        uint64_t cpu_ns, cpu_at_usec;             /* last sample */
        uint64_t cpu_progress_ns, cpu_progress_usec; /* last sample that showed progress */

        uint64_t display_progress_usec;           /* last display update hostd reported */
        uint64_t input_first_unanswered_usec;     /* first input after it, 0 = none */
        unsigned inputs_unanswered;

        bool agent_active;                        /* a heartbeat since boot */
        uint64_t agent_heartbeat_usec;

        /* Policy bookkeeping. */
        uint64_t actions[HANG_MAX_ACTIONS_PER_HOUR]; /* times of the last actions, ring */
        unsigned n_actions, action_head;
        unsigned backoff_level;                   /* actions since the desktop was last healthy */
        uint64_t last_action_usec;
        HangVerdict last_action;                  /* RESET or REBOOT of the current episode */
        bool graceful_failed;                     /* the REBOOT asked for cannot happen */
        bool episode;                             /* hung and not yet recovered */
        bool alerted;                             /* the episode's alert was recorded */
        HangVerdict last_verdict;
        uint64_t healthy_since_usec;
} HangDesktop;

void hang_desktop_init(HangDesktop *d, uint64_t now_usec);

/* The broker's intent: a desktop it has powered off (or is provisioning) is not hung. */
void hang_desktop_set_expected_running(HangDesktop *d, bool running, uint64_t now_usec);

/* Actions taken before this state existed (a broker restart: the store's recent resets), counted
 * as taken at at_usec towards max_actions_per_hour (at most HANG_MAX_ACTIONS_PER_HOUR kept); the
 * backoff is not restored. Call right after hang_desktop_init(). */
void hang_desktop_seed_actions(HangDesktop *d, unsigned n, uint64_t at_usec);
/* The same with each action's own time (oldest first, on the caller's monotonic clock): they count
 * towards the cap until an hour after each, and restore the backoff as if this state had taken
 * them (n actions since the desktop was last healthy; the next waits backoff after the last), so a
 * restarted broker neither resets again at once nor forgets the hour's resets. */
void hang_desktop_restore_actions(HangDesktop *d, const uint64_t *at_usec, unsigned n);

/* Texts given to the observers (reason, call) are kept by pointer: pass static strings. */

/* A libvirt sample: state, libvirt's reason as text (for evidence), vCPU time in ns. */
void hang_observe_libvirt(HangDesktop *d, uint64_t now_usec, HangVmState state, const char *reason,
                          bool cpu_valid, uint64_t cpu_ns);
/* A libvirt call on the domain is outstanding since started_usec, past its deadline. */
void hang_observe_unresponsive(HangDesktop *d, uint64_t now_usec, uint64_t started_usec, const char *call);
/* A libvirt call on the domain answered in time. */
void hang_observe_responsive(HangDesktop *d, uint64_t now_usec);
/* hostd: the display changed / input was sent to the guest. */
void hang_observe_display(HangDesktop *d, uint64_t now_usec);
void hang_observe_input(HangDesktop *d, uint64_t now_usec);
/* The agent's heartbeat (hello counts as one). */
void hang_observe_heartbeat(HangDesktop *d, uint64_t now_usec);
/* The guest rebooted or was reset/started (by us or anyone): what the old boot showed is gone. */
void hang_observe_reboot(HangDesktop *d, uint64_t now_usec);
/* The agent accepted a power request (reboot, shutdown): it goes away on purpose, its silence is
 * not a lost heartbeat until it is active again (its next heartbeat). */
void hang_observe_agent_leaving(HangDesktop *d, uint64_t now_usec);
/* The graceful reboot asked for (a REBOOT decision) cannot happen: the agent refused it, is not
 * there, or the request expired undelivered. The next evaluation escalates to a reset at once
 * instead of waiting for graceful_timeout. No-op unless a graceful reboot is awaited. */
void hang_observe_graceful_failed(HangDesktop *d, uint64_t now_usec);

/* One detection step. Acting decisions (RESET, REBOOT) are counted as taken when returned:
 * the caller carries them out (a failed reset still counts, so failures cannot loop). */
void hang_evaluate(HangDesktop *d, const HangPolicy *p, uint64_t now_usec, HangDecision *ret);

const char *hang_signal_to_string(HangSignal s);
const char *hang_signal_value_name(HangSignal s);
const char *hang_class_to_string(HangClass c);
const char *hang_verdict_to_string(HangVerdict v);
const char *hang_action_to_string(HangAction a);
int hang_action_from_string(const char *s, size_t len, HangAction *ret);
HangClass hang_signal_class(HangSignal s);

/* The decision as one JSON object into buf (NUL-terminated). Times are monotonic microseconds
 * as given; durations are milliseconds. Returns the length, or -ENOBUFS (1 KiB always fits). */
int hang_decision_to_json(const HangDecision *d, char *buf, size_t size);
