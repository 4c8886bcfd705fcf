#include "hostd-libvirt-event.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <libvirt/libvirt.h>

#include "macro.h"

/* One libvirt watch (fd) or timer; ids are indexes + 1 into one table, reused after removal.
 *
 * libvirt calls the impl from whichever thread makes a call: a thread waiting for a reply
 * disables the connection's watch while it reads the socket itself. sd-event is not thread-safe,
 * so the table is the truth, under `lock', and only the loop thread touches sd-event: a change
 * made on another thread marks the watch dirty and wakes the loop, which catches its source up. */
typedef struct Watch {
        bool used, is_timer;
        bool dirty;     /* changed off the loop thread; its source is behind */
        bool releasing; /* removed, its old source not yet released: the slot is not reused */
        int fd, events;
        int interval_ms; /* timers: -1 disabled, 0 every iteration, else period */
        sd_event_source *source;
        virEventHandleCallback handle_cb;
        virEventTimeoutCallback timeout_cb;
        void *opaque;
        virFreeCallback ff;
} Watch;

/* A removed watch whose source and free callback wait for the loop. */
typedef struct Removed {
        size_t slot;
        sd_event_source *source;
        virFreeCallback ff;
        void *opaque;
} Removed;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_t loop_thread;
static sd_event *bridge_event;
static int wake_fd = -1;
static Watch *watches;
static size_t n_watches;
static Removed *removed;
static size_t n_removed, cap_removed;

static bool on_loop(void) {
        return pthread_equal(pthread_self(), loop_thread);
}

static void wake_loop(void) {
        uint64_t one = 1;
        (void) !write(wake_fd, &one, sizeof one);
}

static int watch_alloc(void) {
        for (size_t i = 0; i < n_watches; i++)
                if (!watches[i].used && !watches[i].releasing)
                        return (int) i;
        Watch *w = realloc(watches, (n_watches + 16) * sizeof(Watch));
        if (!w)
                return -ENOMEM;
        watches = w;
        for (size_t i = n_watches; i < n_watches + 16; i++)
                watches[i] = (Watch) {};
        n_watches += 16;
        return (int) (n_watches - 16);
}

static Watch *watch_get(int id) {
        if (id <= 0 || (size_t) id > n_watches || !watches[id - 1].used)
                return NULL;
        return &watches[id - 1];
}

static uint32_t to_epoll(int events) {
        return (events & VIR_EVENT_HANDLE_READABLE ? EPOLLIN : 0) | (events & VIR_EVENT_HANDLE_WRITABLE ? EPOLLOUT : 0);
}

static int from_epoll(uint32_t revents) {
        return (revents & EPOLLIN ? VIR_EVENT_HANDLE_READABLE : 0) | (revents & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
               (revents & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) | (revents & EPOLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata);
static int on_time(sd_event_source *s, uint64_t usec, void *userdata);

static void timer_arm(Watch *w) {
        uint64_t now;
        if (w->interval_ms < 0) {
                sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
                return;
        }
        sd_event_now(bridge_event, CLOCK_MONOTONIC, &now);
        sd_event_source_set_time(w->source, now + (uint64_t) w->interval_ms * 1000);
        sd_event_source_set_enabled(w->source, SD_EVENT_ONESHOT);
}

/* Loop thread, lock held: the watch's source as the table says (made on first use). */
static int watch_sync(Watch *w, int id) {
        w->dirty = false;
        if (!w->source) {
                int r = w->is_timer ? sd_event_add_time(bridge_event, &w->source, CLOCK_MONOTONIC, 0, 0, on_time,
                                                        (void *) (intptr_t) id)
                                    : sd_event_add_io(bridge_event, &w->source, w->fd, to_epoll(w->events), on_io,
                                                      (void *) (intptr_t) id);
                if (r < 0)
                        return r;
        }
        if (w->is_timer)
                timer_arm(w);
        else if (w->events) {
                sd_event_source_set_io_events(w->source, to_epoll(w->events));
                sd_event_source_set_enabled(w->source, SD_EVENT_ON);
        } else
                /* libvirt adds watches with no events to enable them later. */
                sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
        return 0;
}

/* Lock held: the watch changed; its source follows now on the loop thread, soon on another. */
static void watch_changed(Watch *w, int id) {
        if (on_loop())
                (void) watch_sync(w, id);
        else {
                w->dirty = true;
                wake_loop();
        }
}

/* Loop thread: releases removed watches' sources and runs their free callbacks, outside the lock
 * (libvirt requires free callbacks later than the remove, which may hold its locks). */
static void release_removed(void) {
        pthread_mutex_lock(&lock);
        Removed *list = removed;
        size_t n = n_removed;
        removed = NULL;
        n_removed = cap_removed = 0;
        for (size_t i = 0; i < n; i++) {
                sd_event_source_disable_unref(list[i].source);
                watches[list[i].slot].releasing = false;
        }
        pthread_mutex_unlock(&lock);
        for (size_t i = 0; i < n; i++)
                if (list[i].ff)
                        list[i].ff(list[i].opaque);
        free(list);
}

static int on_wake(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        uint64_t n;
        (void) !read(fd, &n, sizeof n);
        pthread_mutex_lock(&lock);
        for (size_t i = 0; i < n_watches; i++)
                if (watches[i].used && watches[i].dirty)
                        (void) watch_sync(&watches[i], (int) i + 1);
        pthread_mutex_unlock(&lock);
        release_removed();
        return 0;
}

static int on_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        int id = (int) (intptr_t) userdata;
        pthread_mutex_lock(&lock);
        Watch *w = watch_get(id);
        if (w && w->dirty)
                (void) watch_sync(w, id); /* disabled by another thread meanwhile: not for us now */
        virEventHandleCallback cb = w && w->events ? w->handle_cb : NULL;
        void *opaque = w ? w->opaque : NULL;
        pthread_mutex_unlock(&lock);
        if (cb)
                cb(id, fd, from_epoll(revents), opaque);
        return 0;
}

static int on_time(sd_event_source *s, uint64_t usec, void *userdata) {
        int id = (int) (intptr_t) userdata;
        pthread_mutex_lock(&lock);
        Watch *w = watch_get(id);
        virEventTimeoutCallback cb = NULL;
        void *opaque = NULL;
        if (w && w->dirty)
                (void) watch_sync(w, id); /* re-armed meanwhile: it fires when it now says */
        else if (w) {
                timer_arm(w); /* re-arm first: the callback may update or remove the timer */
                cb = w->timeout_cb;
                opaque = w->opaque;
        }
        pthread_mutex_unlock(&lock);
        if (cb)
                cb(id, opaque);
        return 0;
}

static int watch_add(Watch init) {
        pthread_mutex_lock(&lock);
        int i = watch_alloc();
        if (i < 0) {
                pthread_mutex_unlock(&lock);
                return -1;
        }
        int id = i + 1;
        watches[i] = init;
        watches[i].used = true;
        if (on_loop() && watch_sync(&watches[i], id) < 0) {
                watches[i] = (Watch) {};
                id = -1;
        } else if (!on_loop()) {
                watches[i].dirty = true;
                wake_loop();
        }
        pthread_mutex_unlock(&lock);
        return id;
}

static int add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
        return watch_add((Watch) { .fd = fd, .events = events, .handle_cb = cb, .opaque = opaque, .ff = ff });
}

static int add_timeout(int interval_ms, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        return watch_add((Watch) { .is_timer = true, .interval_ms = interval_ms, .timeout_cb = cb, .opaque = opaque,
                                   .ff = ff });
}

static void update_handle(int id, int events) {
        pthread_mutex_lock(&lock);
        Watch *w = watch_get(id);
        if (w && !w->is_timer) {
                w->events = events;
                watch_changed(w, id);
        }
        pthread_mutex_unlock(&lock);
}

static void update_timeout(int id, int interval_ms) {
        pthread_mutex_lock(&lock);
        Watch *w = watch_get(id);
        if (w && w->is_timer) {
                w->interval_ms = interval_ms;
                watch_changed(w, id);
        }
        pthread_mutex_unlock(&lock);
}

static int watch_remove(int id, bool want_timer) {
        pthread_mutex_lock(&lock);
        Watch *w = watch_get(id);
        if (!w || w->is_timer != want_timer) {
                pthread_mutex_unlock(&lock);
                return -1;
        }
        if (n_removed == cap_removed) {
                size_t cap = cap_removed ? cap_removed * 2 : 16;
                Removed *r = reallocarray(removed, cap, sizeof(Removed));
                if (!r) {
                        pthread_mutex_unlock(&lock);
                        return -1;
                }
                removed = r;
                cap_removed = cap;
        }
        if (w->source && on_loop())
                sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
        removed[n_removed++] = (Removed) { .slot = (size_t) (id - 1), .source = w->source, .ff = w->ff,
                                           .opaque = w->opaque };
        *w = (Watch) { .releasing = true };
        wake_loop();
        pthread_mutex_unlock(&lock);
        return 0;
}

static int remove_handle(int id) {
        return watch_remove(id, false);
}

static int remove_timeout(int id) {
        return watch_remove(id, true);
}

int libvirt_event_bridge_install(sd_event *e) {
        if (bridge_event)
                return -EALREADY;
        wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake_fd < 0)
                return -errno;
        int r = sd_event_add_io(e, NULL, wake_fd, EPOLLIN, on_wake, NULL);
        if (r < 0) {
                close(wake_fd);
                wake_fd = -1;
                return r;
        }
        bridge_event = sd_event_ref(e);
        loop_thread = pthread_self();
        virEventRegisterImpl(add_handle, update_handle, remove_handle, add_timeout, update_timeout, remove_timeout);
        return 0;
}
