/* A libvirt call that may wait for QEMU's monitor, made on a thread of its own. A QEMU that
 * stopped answering (SIGSTOP, a stuck device, a host under swap) held hostd's loop, and every
 * other desktop's display and input with it, until the VM ran again or was reset; now only that
 * domain waits. The loop learns the outcome through an eventfd. libvirt calls the event impl
 * from the calling thread: hostd-libvirt-event.c takes that. */
#pragma once

#include <libvirt/libvirt.h>
#include <stdint.h>
#include <systemd/sd-event.h>

typedef struct LibvirtCall LibvirtCall;

/* On the call's thread: the call itself; its outcome goes into job. */
typedef void (*LibvirtCallFn)(virDomainPtr dom, void *job);
/* On the loop once the call returned: job is the caller's again. */
typedef void (*LibvirtCallDoneFn)(void *userdata, void *job);
/* The job of a cancelled call, on whichever thread lets go last: frees what it holds. */
typedef void (*LibvirtCallDiscardFn)(void *job);

/* Starts call(dom, job) on a thread; done(userdata, job) runs on event's loop. The call owns
 * job from here on (the caller keeps it only when this fails). */
int libvirt_call_start(sd_event *event, virDomainPtr dom, void *job, LibvirtCallFn call, LibvirtCallDoneFn done,
                       LibvirtCallDiscardFn discard, void *userdata, LibvirtCall **ret);
/* Forgets a call: done never runs, and its job is discarded once the thread is through. */
LibvirtCall *libvirt_call_cancel(LibvirtCall *c);
/* When the call started (CLOCK_MONOTONIC usec). */
uint64_t libvirt_call_started(const LibvirtCall *c);
