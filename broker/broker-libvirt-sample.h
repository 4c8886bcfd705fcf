/* Samples every domain of one libvirt connection (one host) without ever blocking the caller.
 *
 * libvirt calls block, and a QEMU that does not answer its monitor blocks every call that needs
 * the monitor (virConnectGetAllDomainStats, for one) indefinitely. So a sampler thread per host
 * makes the calls that do not need QEMU (state and reason, vCPU time from the host, the monitor's
 * control state), and probe threads (each with its own connection: libvirtd holds back a client's
 * other calls behind one stuck on a monitor) send each running domain one call that needs QEMU; a
 * probe outstanding past the deadline marks its domain unresponsive since the probe began. A
 * stuck probe thread is left to finish on its own (at most SAMPLER_MAX_PROBERS per host) and a
 * fresh one takes over the other domains. The caller requests a pass, waits for the fd to turn
 * readable (or the deadline), and takes the result; a pass still running at its deadline is
 * reported as -ETIMEDOUT for the whole host (libvirtd itself is not answering). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker-hang.h"

#define SAMPLER_MAX_PROBERS 8
#define SAMPLER_MAX_DOMAINS 4096

typedef struct DomainSample {
        char *name;
        char uuid[37];
        int state, reason;          /* libvirt's virDomainState and its reason */
        HangVmState vm_state;
        const char *reason_text;    /* static */
        bool cpu_valid;
        uint64_t cpu_ns;
        bool unresponsive;          /* a call on it is outstanding past the deadline */
        uint64_t unresponsive_since_usec;
        const char *unresponsive_call; /* static */
} DomainSample;

typedef struct HostSample {
        int error;                  /* 0, or why the host gave no data (the domains are unknown) */
        uint64_t requested_usec, finished_usec;
        size_t n;
        DomainSample *domains;
} HostSample;

HostSample *host_sample_free(HostSample *s);
static inline void host_sample_freep(HostSample **s) {
        host_sample_free(*s);
}

typedef struct HostSampler HostSampler;

/* Starts the sampler thread; connects on the first pass. deadline_usec bounds each pass and each
 * probe. */
int host_sampler_new(const char *uri, uint64_t deadline_usec, HostSampler **ret);
/* Never blocks: threads still inside libvirt finish on their own and free what they share. */
HostSampler *host_sampler_free(HostSampler *s);
static inline void host_sampler_freep(HostSampler **s) {
        host_sampler_free(*s);
}

/* Readable when a pass has finished (take() clears it). */
int host_sampler_fd(HostSampler *s);
/* Starts a pass at now_usec (CLOCK_MONOTONIC); -EBUSY while one is running (not yet overdue). */
int host_sampler_request(HostSampler *s, uint64_t now_usec);
/* The finished pass; -EAGAIN while running; an overdue pass gives a sample with error -ETIMEDOUT
 * (the next request waits until the sampler thread is back, -EBUSY). */
int host_sampler_take(HostSampler *s, uint64_t now_usec, HostSample **ret);
/* Probe threads currently stuck in libvirt past the deadline (for figures and tests). */
unsigned host_sampler_stuck_probes(HostSampler *s, uint64_t now_usec);

/* libvirt's state and reason reduced for hang detection, with the reason as text. */
HangVmState sample_vm_state(int state, int reason, const char **ret_reason_text);

uint64_t now_monotonic_usec(void);
