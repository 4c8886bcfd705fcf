/* The sampler against libvirt's test driver (several simulated hosts sampled at once), and
 * against a "libvirtd" that accepts the connection and never answers: the caller gets its
 * thread back, the pass is reported overdue, nothing blocks. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <libvirt/libvirt.h>

#include "broker-libvirt-sample.h"
#include "broker-libvirt.h"
#include "check.h"
#include "macro.h"

#define N_HOSTS 5
#define N_DOMAINS 50
#define DEADLINE (5 * USEC_PER_SEC)

static void test_state_mapping(void) {
        const char *t;
        check(sample_vm_state(VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED, &t) == HANG_VM_RUNNING);
        check(sample_vm_state(VIR_DOMAIN_BLOCKED, 0, &t) == HANG_VM_RUNNING);
        check(sample_vm_state(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_IOERROR, &t) == HANG_VM_PAUSED && !strcmp(t, "ioerror"));
        check(sample_vm_state(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER, &t) == HANG_VM_PAUSED && !strcmp(t, "user"));
        check(sample_vm_state(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_WATCHDOG, &t) == HANG_VM_PAUSED);
        check(sample_vm_state(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_MIGRATION, &t) == HANG_VM_PAUSED_TRANSIENT);
        check(sample_vm_state(VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_SNAPSHOT, &t) == HANG_VM_PAUSED_TRANSIENT);
        check(sample_vm_state(VIR_DOMAIN_PAUSED, 999, &t) == HANG_VM_PAUSED && !strcmp(t, "unknown"));
        check(sample_vm_state(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_CRASHED, &t) == HANG_VM_SHUTOFF && !strcmp(t, "crashed"));
        check(sample_vm_state(VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_MIGRATED, &t) == HANG_VM_OTHER);
        check(sample_vm_state(VIR_DOMAIN_CRASHED, VIR_DOMAIN_CRASHED_PANICKED, &t) == HANG_VM_CRASHED &&
              !strcmp(t, "panicked"));
        check(sample_vm_state(VIR_DOMAIN_PMSUSPENDED, 0, &t) == HANG_VM_OTHER);
        check(sample_vm_state(-1, -1, &t) == HANG_VM_OTHER);
}

/* Waits for the sampler's fd, in the caller's own poll, at most timeout_ms. */
static bool wait_fd(HostSampler *s, int timeout_ms) {
        struct pollfd p = { .fd = host_sampler_fd(s), .events = POLLIN };
        return poll(&p, 1, timeout_ms) == 1;
}

static void test_hosts(void) {
        char dir[] = "/tmp/test-broker-sample.XXXXXX";
        check(mkdtemp(dir));
        HostSampler *samplers[N_HOSTS];
        for (int h = 0; h < N_HOSTS; h++) {
                /* Each test:///FILE connection is a private driver: the domains and their states
                 * come from the file (test:runstate: 1 running, 3 paused, 5 shut off). */
                char path[256], uri[300];
                snprintf(path, sizeof path, "%s/host%d.xml", dir, h);
                FILE *f = fopen(path, "we");
                check(f);
                fputs("<node>\n", f);
                for (int i = 0; i < N_DOMAINS; i++)
                        fprintf(f,
                                "<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>"
                                "<name>h%d-d%02d</name><memory>65536</memory><os><type>hvm</type></os>"
                                "<test:runstate>%d</test:runstate></domain>\n",
                                h, i, i < 40 ? 1 : i < 45 ? 3 : 5);
                check(fputs("</node>\n", f) >= 0 && fclose(f) == 0);
                snprintf(uri, sizeof uri, "test://%s", path);
                check(host_sampler_new(uri, DEADLINE, &samplers[h]) == 0);
        }

        for (int pass = 0; pass < 3; pass++) {
                uint64_t now = now_monotonic_usec();
                for (int h = 0; h < N_HOSTS; h++)
                        check(host_sampler_request(samplers[h], now) == 0);
                for (int h = 0; h < N_HOSTS; h++) {
                        HostSample *s = NULL;
                        while (!s) {
                                int r = host_sampler_take(samplers[h], now_monotonic_usec(), &s);
                                check(r == 0 || r == -EAGAIN);
                                if (r == -EAGAIN)
                                        check(wait_fd(samplers[h], 10000));
                        }
                        check(s->error == 0);
                        check(s->n == N_DOMAINS);
                        unsigned running = 0, paused = 0, off = 0;
                        for (size_t i = 0; i < s->n; i++) {
                                DomainSample *d = &s->domains[i];
                                check(strlen(d->uuid) == 36);
                                check(!d->unresponsive);
                                int idx = (d->name[strlen(d->name) - 2] - '0') * 10 + d->name[strlen(d->name) - 1] - '0';
                                if (idx < 40) {
                                        check(d->vm_state == HANG_VM_RUNNING && d->cpu_valid);
                                        running++;
                                } else if (idx < 45) {
                                        check(d->vm_state == HANG_VM_PAUSED);
                                        paused++;
                                } else {
                                        check(d->vm_state == HANG_VM_SHUTOFF && !d->cpu_valid);
                                        off++;
                                }
                        }
                        check(running == 40 && paused == 5 && off == 5);
                        host_sample_free(s);
                }
        }
        for (int h = 0; h < N_HOSTS; h++) {
                check(host_sampler_stuck_probes(samplers[h], now_monotonic_usec()) == 0);
                host_sampler_free(samplers[h]);
                char path[256];
                snprintf(path, sizeof path, "%s/host%d.xml", dir, h);
                unlink(path);
        }
        rmdir(dir);
}

static void test_libvirtd_not_answering(void) {
        char dir[] = "/tmp/test-broker-sample.XXXXXX";
        check(mkdtemp(dir));
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock", dir);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        check(fd >= 0 && bind(fd, (struct sockaddr *) &sa, sizeof sa) == 0 && listen(fd, 16) == 0);
        /* Connections queue in the backlog; nobody ever reads or answers. */
        char uri[512];
        snprintf(uri, sizeof uri, "qemu+unix:///system?socket=%s", sa.sun_path);

        HostSampler *s;
        uint64_t deadline = 300 * 1000;
        check(host_sampler_new(uri, deadline, &s) == 0);
        uint64_t t0 = now_monotonic_usec();
        check(host_sampler_request(s, t0) == 0);
        HostSample *r = NULL;
        check(host_sampler_take(s, t0, &r) == -EAGAIN);
        check(host_sampler_request(s, t0) == -EBUSY);
        /* The pass never finishes; once its deadline is over it is reported as such. */
        while (host_sampler_take(s, now_monotonic_usec(), &r) == -EAGAIN)
                check(!wait_fd(s, 50));
        check(r && r->error == -ETIMEDOUT && r->n == 0 && r->finished_usec >= t0 + deadline);
        host_sample_free(r);
        check(host_sampler_request(s, now_monotonic_usec()) == -EBUSY); /* its thread is still inside libvirt */
        /* Freeing does not wait for it. */
        host_sampler_free(s);
        close(fd);
        unlink(sa.sun_path);
        rmdir(dir);
}

int main(void) {
        broker_libvirt_quiet();
        test_state_mapping();
        test_hosts();
        test_libvirtd_not_answering();
        printf("ok\n");
        return 0;
}
