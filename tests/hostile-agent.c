/* A hostile guest agent for tests/test-agent-hostile.py: installed in a test image in place of
 * tandem-guestd (TANDEM_GUESTD=...), it waits on the agent port for hostd's hello and then breaks
 * the agent protocol, one way per channel hostd opens, in turn: garbage, an oversized frame, a
 * frame that never finishes, a window with impossible geometry, and a flood of heartbeats. Each
 * starts with a valid hello, so hostd sees an active agent go bad. It says on stdout (the serial
 * log) which attack it runs. Plain libc only, statically linked: the image has no shared libraries.
 *
 * The port: $TANDEM_AGENT_PORT, else the first argument, else found by name under
 * /sys/class/virtio-ports. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PORT_NAME "org.tandem.agent.0"
#define MAGIC 0x41444e54u

static int port = -1;

static void put16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}

static void put32(uint8_t *p, uint32_t v) {
        put16(p, (uint16_t) v);
        put16(p + 2, (uint16_t) (v >> 16));
}

static void put64(uint8_t *p, uint64_t v) {
        put32(p, (uint32_t) v);
        put32(p + 4, (uint32_t) (v >> 32));
}

/* Writes all of it, waiting up to 5 s for room; a channel hostd closed just swallows the rest. */
static void send_all(const void *data, size_t len) {
        const uint8_t *p = data;
        for (int waited = 0; len > 0 && waited < 50;) {
                ssize_t n = write(port, p, len);
                if (n > 0) {
                        p += n;
                        len -= (size_t) n;
                        continue;
                }
                if (n < 0 && errno != EAGAIN && errno != EINTR)
                        return;
                struct pollfd pfd = { .fd = port, .events = POLLOUT };
                if (poll(&pfd, 1, 100) == 0)
                        waited++;
        }
}

static size_t frame(uint8_t *buf, uint16_t type, uint8_t channel, uint32_t size) {
        put32(buf, size);
        put16(buf + 4, type);
        buf[6] = channel;
        buf[7] = 0;
        return 8;
}

static void send_hello(void) {
        uint8_t buf[8 + 4 + 2 + 8 + 4 + 13];
        size_t n = frame(buf, 0x0001, 0, sizeof(buf) - 8);
        put32(buf + n, MAGIC);
        put16(buf + n + 4, 1);
        put64(buf + n + 6, 0x3f); /* heartbeat .. resize */
        put32(buf + n + 14, 13);
        memcpy(buf + n + 18, "hostile-agent", 13);
        send_all(buf, sizeof(buf));
}

static size_t heartbeat(uint8_t *buf, uint32_t seq) {
        size_t n = frame(buf, 0x0002, 0, 42);
        memset(buf + n, 0, 42);
        put32(buf + n, seq);
        return n + 42;
}

/* Reads hostd's frames until one of type a or b arrives (its type) or seconds pass (-1; 0 s:
 * forever). hostd sends hello when it opens the channel, answers our first hello with one, and
 * says bye when it drops us for misbehaving (not when it gives up on heartbeats). */
static int wait_frame(uint16_t a, uint16_t b, unsigned seconds) {
        static uint8_t header[8], buf[4096];
        static size_t have, skip, pos, len; /* what was read and not yet looked at stays for the next call */
        time_t end = time(NULL) + seconds;
        for (;;) {
                if (pos == len) {
                        if (seconds && time(NULL) > end)
                                return -1;
                        struct pollfd pfd = { .fd = port, .events = POLLIN };
                        if (poll(&pfd, 1, 1000) <= 0)
                                continue;
                        ssize_t n = read(port, buf, sizeof(buf));
                        if (n <= 0) {
                                /* No host on the other end: wait for one, who starts at a frame. */
                                have = skip = 0;
                                struct timespec ts = { 0, 200 * 1000 * 1000 };
                                nanosleep(&ts, NULL);
                                continue;
                        }
                        pos = 0;
                        len = (size_t) n;
                }
                while (pos < len) {
                        uint8_t c = buf[pos++];
                        if (skip > 0) {
                                skip--;
                                continue;
                        }
                        header[have++] = c;
                        if (have < 8)
                                continue;
                        have = 0;
                        uint32_t size = header[0] | header[1] << 8 | header[2] << 16 | (uint32_t) header[3] << 24;
                        uint16_t t = (uint16_t) (header[4] | header[5] << 8);
                        skip = size <= (1u << 20) ? size : 0; /* out of step: start over */
                        if ((t == a || t == b) && size <= (1u << 20))
                                return t;
                }
        }
}

static void attack_garbage(void) {
        uint8_t junk[4096];
        for (size_t i = 0; i < sizeof(junk); i++)
                junk[i] = (uint8_t) (i * 131 + 7);
        send_all(junk, sizeof(junk));
}

static void attack_oversized(void) {
        uint8_t buf[8];
        frame(buf, 0x0001, 0, 1u << 20); /* a hello of 1 MiB */
        send_all(buf, sizeof(buf));
}

static void attack_flood(void) {
        static uint8_t buf[5000 * 50];
        size_t n = 0;
        for (uint32_t i = 0; i < 5000; i++)
                n += heartbeat(buf + n, i);
        send_all(buf, n);
}

static void attack_partial(void) {
        uint8_t buf[64];
        size_t n = heartbeat(buf, 1);
        send_all(buf, n - 20); /* ... and the rest never comes */
}

static void attack_window(void) {
        uint8_t buf[8 + 24 + 4 + 4];
        size_t n = frame(buf, 0x0031, 3, 24 + 4 + 4);
        put32(buf + n, 1);             /* id */
        put32(buf + n + 4, 1);         /* state: mapped */
        put32(buf + n + 8, 0);         /* x */
        put32(buf + n + 12, 0);        /* y */
        put32(buf + n + 16, 1000000);  /* width */
        put32(buf + n + 20, 10);       /* height */
        put32(buf + n + 24, 4);
        memcpy(buf + n + 28, "evil", 4);
        send_all(buf, sizeof(buf));
}

static const struct {
        const char *name;
        void (*run)(void);
} attacks[] = {
        /* The flood last: what hostd did not read of it before dropping the channel stays queued
         * in the port and reaches the next channel first, spoiling whatever attack comes next. */
        { "garbage", attack_garbage },   { "oversized", attack_oversized }, { "partial", attack_partial },
        { "window", attack_window },     { "flood", attack_flood },
};

static int find_port(char *path, size_t size) {
        DIR *d = opendir("/sys/class/virtio-ports");
        struct dirent *e;
        if (!d)
                return -1;
        while ((e = readdir(d))) {
                char p[512], name[64] = "";
                if (e->d_name[0] == '.')
                        continue;
                snprintf(p, sizeof(p), "/sys/class/virtio-ports/%s/name", e->d_name);
                FILE *f = fopen(p, "re");
                if (!f)
                        continue;
                if (fgets(name, sizeof(name), f))
                        name[strcspn(name, "\n")] = 0;
                fclose(f);
                if (strcmp(name, PORT_NAME) == 0) {
                        snprintf(path, size, "/dev/%s", e->d_name);
                        closedir(d);
                        return 0;
                }
        }
        closedir(d);
        return -1;
}

int main(int argc, char **argv) {
        char path[300];
        const char *env = getenv("TANDEM_AGENT_PORT");
        if (env && *env)
                snprintf(path, sizeof(path), "%s", env);
        else if (argc > 1)
                snprintf(path, sizeof(path), "%s", argv[1]);
        else if (find_port(path, sizeof(path)) < 0) {
                fprintf(stderr, "hostile-agent: no port %s\n", PORT_NAME);
                return 1;
        }
        port = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
        if (port < 0) {
                fprintf(stderr, "hostile-agent: cannot open %s: %s\n", path, strerror(errno));
                return 1;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        printf("hostile-agent: on %s\n", path);
        bool opened = false;
        for (unsigned round = 0;; round++) {
                if (!opened)
                        wait_frame(0x0001, 0x0001, 0);
                size_t i = round % (sizeof(attacks) / sizeof(attacks[0]));
                send_hello();
                uint8_t hb[64];
                send_all(hb, heartbeat(hb, 0));
                printf("hostile-agent: attack %s\n", attacks[i].name);
                attacks[i].run();
                /* The bye ends this channel; a second hello after hostd's answer to ours means it
                 * dropped us without one and opened the next. */
                unsigned hellos = 0;
                int t;
                opened = false;
                while ((t = wait_frame(0x0003, 0x0001, 120)) == 0x0001 && ++hellos < 2)
                        ;
                if (t == 0x0003)
                        printf("hostile-agent: hostd said bye\n");
                else if (t == 0x0001) {
                        printf("hostile-agent: hostd dropped us without a bye\n");
                        opened = true;
                } else
                        printf("hostile-agent: nothing from hostd within 120 s\n");
        }
}
