/* The libvirt event bridge (hostd-libvirt-event.h) driven through libvirt's own virEvent* calls,
 * as libvirt's client code drives it: from the loop's thread, and from another thread, as a
 * thread waiting for a reply does. Callbacks and free callbacks run on the loop's thread only;
 * a watch disabled from another thread stays quiet; a thread hammering the table while the loop
 * runs leaves it working. */
#include <assert.h>
#include <errno.h>
#include <libvirt/libvirt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "hostd-libvirt-event.h"

static sd_event *event;
static pthread_t loop_thread;
static atomic_int io_calls, timer_calls, frees, off_loop_calls;
static int pipe_fds[2];

static void note_thread(void) {
        if (!pthread_equal(pthread_self(), loop_thread))
                atomic_fetch_add(&off_loop_calls, 1);
}

static void on_io(int watch, int fd, int events, void *opaque) {
        note_thread();
        char c;
        if (events & VIR_EVENT_HANDLE_READABLE)
                (void) !read(fd, &c, 1);
        atomic_fetch_add(&io_calls, 1);
}

static void on_timer(int timer, void *opaque) {
        note_thread();
        atomic_fetch_add(&timer_calls, 1);
}

static void on_free(void *opaque) {
        note_thread();
        atomic_fetch_add(&frees, 1);
}

/* Runs the loop until pred holds; a bounded number of iterations, never a clock. */
static void run_until(bool (*pred)(int), int arg, const char *what) {
        for (int i = 0; i < 2000; i++) {
                if (pred(arg))
                        return;
                assert(sd_event_run(event, 10000) >= 0);
        }
        fprintf(stderr, "never: %s\n", what);
        assert(0);
}

static void run_iterations(int n) {
        for (int i = 0; i < n; i++)
                assert(sd_event_run(event, 10000) >= 0);
}

static bool io_reached(int n) {
        return atomic_load(&io_calls) >= n;
}

static bool timers_reached(int n) {
        return atomic_load(&timer_calls) >= n;
}

static bool frees_reached(int n) {
        return atomic_load(&frees) >= n;
}

static void poke(void) {
        assert(write(pipe_fds[1], "x", 1) == 1);
}

/* ---- one libvirt call on another thread ---- */

typedef enum { ADD_HANDLE, UPDATE_HANDLE, REMOVE_HANDLE, ADD_TIMEOUT, UPDATE_TIMEOUT, REMOVE_TIMEOUT } Op;

typedef struct Call {
        Op op;
        int id, arg, result;
} Call;

static void *call_main(void *p) {
        Call *c = p;
        switch (c->op) {
        case ADD_HANDLE:
                c->result = virEventAddHandle(pipe_fds[0], c->arg, on_io, NULL, on_free);
                break;
        case UPDATE_HANDLE:
                virEventUpdateHandle(c->id, c->arg);
                break;
        case REMOVE_HANDLE:
                c->result = virEventRemoveHandle(c->id);
                break;
        case ADD_TIMEOUT:
                c->result = virEventAddTimeout(c->arg, on_timer, NULL, on_free);
                break;
        case UPDATE_TIMEOUT:
                virEventUpdateTimeout(c->id, c->arg);
                break;
        case REMOVE_TIMEOUT:
                c->result = virEventRemoveTimeout(c->id);
                break;
        }
        return NULL;
}

static int on_other_thread(Op op, int id, int arg) {
        Call c = { .op = op, .id = id, .arg = arg };
        pthread_t t;
        assert(pthread_create(&t, NULL, call_main, &c) == 0);
        assert(pthread_join(t, NULL) == 0);
        return c.result;
}

static void test_loop_thread(void) {
        int w = virEventAddHandle(pipe_fds[0], VIR_EVENT_HANDLE_READABLE, on_io, NULL, on_free);
        assert(w > 0);
        poke();
        run_until(io_reached, 1, "a readable watch called");
        virEventUpdateHandle(w, 0);
        poke();
        run_iterations(20);
        assert(atomic_load(&io_calls) == 1);
        virEventUpdateHandle(w, VIR_EVENT_HANDLE_READABLE);
        run_until(io_reached, 2, "the watch enabled again called");
        assert(virEventRemoveHandle(w) == 0);
        assert(atomic_load(&frees) == 0); /* never inside the remove */
        run_until(frees_reached, 1, "the free callback");
}

static void test_other_thread(void) {
        int io = atomic_load(&io_calls), fr = atomic_load(&frees);
        int w = on_other_thread(ADD_HANDLE, 0, VIR_EVENT_HANDLE_READABLE);
        assert(w > 0);
        poke();
        run_until(io_reached, io + 1, "a watch added on another thread called");

        on_other_thread(UPDATE_HANDLE, w, 0);
        poke();
        run_iterations(20);
        assert(atomic_load(&io_calls) == io + 1);
        on_other_thread(UPDATE_HANDLE, w, VIR_EVENT_HANDLE_READABLE);
        run_until(io_reached, io + 2, "the watch enabled on another thread called");

        assert(on_other_thread(REMOVE_HANDLE, w, 0) == 0);
        poke();
        run_until(frees_reached, fr + 1, "the free callback of a watch removed on another thread");
        run_iterations(5);
        assert(atomic_load(&io_calls) == io + 2);
        char c;
        assert(read(pipe_fds[0], &c, 1) == 1);

        /* A watch added and removed before the loop ran: its free callback still runs, once. */
        w = on_other_thread(ADD_HANDLE, 0, VIR_EVENT_HANDLE_READABLE);
        assert(on_other_thread(REMOVE_HANDLE, w, 0) == 0);
        run_until(frees_reached, fr + 2, "the free callback of a watch the loop never saw");

        int t = on_other_thread(ADD_TIMEOUT, 0, 0); /* every iteration */
        assert(t > 0);
        int n = atomic_load(&timer_calls);
        run_until(timers_reached, n + 3, "a timer added on another thread fired");
        on_other_thread(UPDATE_TIMEOUT, t, -1);
        run_iterations(3); /* the update reaches the loop */
        n = atomic_load(&timer_calls);
        run_iterations(20);
        assert(atomic_load(&timer_calls) == n);
        assert(on_other_thread(REMOVE_TIMEOUT, t, 0) == 0);
        run_until(frees_reached, fr + 3, "the free callback of a timer removed on another thread");
}

/* ---- another thread changes the table while the loop runs ---- */

static atomic_bool hammer_done;
static int hammer_watch;

static void *hammer_main(void *p) {
        for (int i = 0; i < 5000; i++) {
                virEventUpdateHandle(hammer_watch, i % 2 ? VIR_EVENT_HANDLE_READABLE : 0);
                int t = virEventAddTimeout(i % 3 ? -1 : 0, on_timer, NULL, on_free);
                assert(t > 0);
                assert(virEventRemoveTimeout(t) == 0);
        }
        atomic_store(&hammer_done, true);
        return NULL;
}

static bool hammer_finished(int unused) {
        return atomic_load(&hammer_done);
}

static void test_hammer(void) {
        hammer_watch = virEventAddHandle(pipe_fds[0], 0, on_io, NULL, on_free);
        assert(hammer_watch > 0);
        int fr = atomic_load(&frees);
        pthread_t t;
        assert(pthread_create(&t, NULL, hammer_main, NULL) == 0);
        run_until(hammer_finished, 0, "the other thread's 5000 rounds");
        assert(pthread_join(t, NULL) == 0);
        run_until(frees_reached, fr + 5000, "every removed timer's free callback");
        int io = atomic_load(&io_calls);
        virEventUpdateHandle(hammer_watch, VIR_EVENT_HANDLE_READABLE);
        poke();
        run_until(io_reached, io + 1, "the watch works after the hammering");
        assert(virEventRemoveHandle(hammer_watch) == 0);
        run_until(frees_reached, fr + 5001, "its free callback");
}

int main(void) {
        loop_thread = pthread_self();
        assert(sd_event_new(&event) >= 0);
        assert(pipe(pipe_fds) == 0);
        assert(libvirt_event_bridge_install(event) == 0);
        assert(libvirt_event_bridge_install(event) == -EALREADY);

        test_loop_thread();
        test_other_thread();
        test_hammer();
        assert(atomic_load(&off_loop_calls) == 0);
        printf("ok: %d io callbacks, %d timer callbacks, %d free callbacks, all on the loop's thread\n",
               atomic_load(&io_calls), atomic_load(&timer_calls), atomic_load(&frees));
        sd_event_unref(event);
        return 0;
}
