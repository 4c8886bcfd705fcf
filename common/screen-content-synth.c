/* Synthetic screen content, deterministic, for tests that must run without the download: a VGA
 * text console with a boot log (the built-in font), a desktop of windows with text, widgets and
 * gradient icons, and a continuous-tone landscape of fractal noise with film grain. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "macro.h"
#include "screen-content.h"

static void rect(ContentFrame *f, int x, int y, int w, int h, uint32_t rgb) {
        for (int r = MAX(y, 0); r < y + h && r < (int) f->height; r++)
                for (int c = MAX(x, 0); c < x + w && c < (int) f->width; c++)
                        ((uint32_t *) (f->pixels + (size_t) r * f->stride))[c] = 0xff000000u | rgb;
}

static uint32_t hash32(uint32_t x) {
        x ^= x >> 16;
        x *= 0x7feb352dU;
        x ^= x >> 15;
        x *= 0x846ca68bU;
        x ^= x >> 16;
        return x;
}

/* --- text ------------------------------------------------------------------------------------ */

static const char *const boot_log[] = {
        "SeaBIOS (version 1.16.2-debian-1.16.2-1)",
        "Booting from ROM...",
        "[    0.000000] Linux version 6.1.0-18-cloud-amd64 (debian-kernel@lists.debian.org)",
        "[    0.000000] Command line: console=tty0 quiet=0 rdinit=/init",
        "[    0.000000] BIOS-provided physical RAM map:",
        "[    0.000000] BIOS-e820: [mem 0x0000000000000000-0x000000000009fbff] usable",
        "[    0.000000] BIOS-e820: [mem 0x0000000000100000-0x000000001ffdffff] usable",
        "[    0.000000] NX (Execute Disable) protection: active",
        "[    0.004211] tsc: Fast TSC calibration using PIT",
        "[    0.012733] ACPI: RSDP 0x00000000000F5A10 000014 (v00 BOCHS )",
        "[    0.081260] Memory: 478212K/523640K available (12288K kernel code)",
        "[    0.112941] pid_max: default: 32768 minimum: 301",
        "[    0.204418] PCI: Using configuration type 1 for base access",
        "[    0.331702] pci 0000:00:02.0: [1234:1111] type 00 class 0x030000",
        "[    0.332011] pci 0000:00:03.0: [1af4:1003] type 00 class 0x078000",
        "[    0.498120] Serial: 8250/16550 driver, 4 ports, IRQ sharing enabled",
        "[    0.612004] Freeing unused kernel image (initmem) memory: 2764K",
        "[    0.613377] Run /init as init process",
        "Loading virtio modules: virtio_ring virtio virtio_pci virtio_console",
        "[    0.702990] virtio-pci 0000:00:03.0: enabling device (0000 -> 0003)",
        "tandem demo desktop: agent port org.tandem.agent.0 is /dev/vport0p1",
        "Starting tandem-guestd ... done.",
        "",
        "Debian GNU/Linux 12 tandem-demo tty1",
        "",
};

static void console_frame(ContentFrame *f, size_t first) {
        for (size_t row = 0; row < 25; row++) {
                size_t i = first + row;
                if (i >= ELEMENTSOF(boot_log))
                        break;
                const char *line = boot_log[i];
                uint32_t fg = 0xaaaaaa;
                if (line[0] == '[')
                        content_draw_text(f, 0, (int) row * 16, "[", fg, 0);
                content_draw_text(f, 0, (int) row * 16, line, fg, 0);
                if (line[0] == 'S' && line[1] == 't') /* "Starting": a coloured status word */
                        content_draw_text(f, 9 * 27, (int) row * 16, "done.", 0x55ff55, 0);
        }
}

static int synth_text(ContentFrames *out) {
        ContentFrame *f = content_frames_add(out, 720, 400, "synthetic console: boot log");
        if (!f)
                return -ENOMEM;
        console_frame(f, 0);

        f = content_frames_add(out, 720, 400, "synthetic console: login prompt");
        if (!f)
                return -ENOMEM;
        console_frame(f, ELEMENTSOF(boot_log) - 16);
        content_draw_text(f, 0, 16 * 16, "tandem-demo login: root", 0xaaaaaa, 0);
        content_draw_text(f, 0, 17 * 16, "root@tandem-demo:~# ls -l /dev/vport0p1", 0xaaaaaa, 0);
        content_draw_text(f, 0, 18 * 16, "crw------- 1 root root 247, 1 Jan  1 00:00 /dev/vport0p1", 0xaaaaaa, 0);
        content_draw_text(f, 0, 19 * 16, "root@tandem-demo:~# _", 0xaaaaaa, 0);
        return 0;
}

/* --- ui -------------------------------------------------------------------------------------- */

static uint32_t mix(uint32_t a, uint32_t b, double t) {
        uint32_t out = 0;
        for (int s = 0; s < 24; s += 8) {
                double v = ((a >> s) & 0xff) * (1 - t) + ((b >> s) & 0xff) * t;
                out |= (uint32_t) (v + 0.5) << s;
        }
        return out;
}

/* A round icon with a radial gradient and soft edge: hundreds of colours in a small area. */
static void icon(ContentFrame *f, int x, int y, int size, uint32_t inner, uint32_t outer, uint32_t bg) {
        double c = size / 2.0;
        for (int r = 0; r < size; r++)
                for (int k = 0; k < size; k++) {
                        double d = hypot(k + 0.5 - c, r + 0.5 - c) / c;
                        uint32_t v = mix(inner, outer, MIN(d, 1.0));
                        double edge = MIN(MAX((1.0 - d) * c, 0.0), 1.0);
                        rect(f, x + k, y + r, 1, 1, mix(bg, v, edge));
                }
}

static void button(ContentFrame *f, int x, int y, int w, const char *label) {
        for (int r = 0; r < 32; r++)
                rect(f, x, y + r, w, 1, mix(0xf6f5f4, 0xe0ddda, r / 31.0));
        rect(f, x, y, w, 1, 0xcdc7c2);
        rect(f, x, y + 31, w, 1, 0xbfb8b1);
        content_draw_text(f, x + 12, y + 8, label, 0x2e3436, UINT32_MAX);
}

static void window(ContentFrame *f, int x, int y, int w, int h, const char *title, unsigned seed) {
        rect(f, x + 4, y + 4, w, h, 0x1c1f20); /* shadow */
        rect(f, x, y, w, 46, 0xebebeb);        /* header bar */
        content_draw_text(f, x + w / 2 - (int) (9 * 12), y + 15, title, 0x2e3436, UINT32_MAX);
        rect(f, x, y + 46, w, h - 46, 0xffffff);
        rect(f, x, y + 46, 200, h - 46, 0xf6f5f4); /* sidebar */
        static const char *const items[] = { "Recent", "Home", "Documents", "Downloads", "Music",
                                             "Pictures", "Videos", "Trash", "Other Locations" };
        for (size_t i = 0; i < ELEMENTSOF(items); i++) {
                int ry = y + 60 + (int) i * 30;
                if (i == seed % ELEMENTSOF(items)) {
                        rect(f, x, ry - 6, 200, 28, 0x3584e4);
                        content_draw_text(f, x + 40, ry, items[i], 0xffffff, UINT32_MAX);
                } else
                        content_draw_text(f, x + 40, ry, items[i], 0x2e3436, UINT32_MAX);
                icon(f, x + 12, ry - 2, 20, 0x99c1f1, 0x1c71d8, i == seed % ELEMENTSOF(items) ? 0x3584e4 : 0xf6f5f4);
        }
        static const char *const words[] = { "the", "remote", "desktop", "shows", "boot", "screens", "and",
                                             "windows", "encoder", "tiles", "lossless", "palette", "JPEG", "refine" };
        for (int line = 0; y + 70 + line * 20 < y + h - 60; line++) {
                char text[128];
                size_t n = 0;
                for (unsigned k = 0; n + 12 < sizeof(text) && (int) (n * 9) < w - 300; k++) {
                        const char *word = words[hash32(seed * 977 + (unsigned) line * 31 + k) % ELEMENTSOF(words)];
                        n += (size_t) snprintf(text + n, sizeof(text) - n, "%s ", word);
                }
                content_draw_text(f, x + 220, y + 70 + line * 20, text, line % 7 == 0 ? 0x1c71d8 : 0x2e3436,
                                  UINT32_MAX);
        }
        button(f, x + w - 220, y + h - 48, 96, "Cancel");
        button(f, x + w - 112, y + h - 48, 96, "Open");
}

static int synth_ui(ContentFrames *out) {
        ContentFrame *f = content_frames_add(out, 1920, 1080, "synthetic desktop");
        if (!f)
                return -ENOMEM;
        rect(f, 0, 0, 1920, 1080, 0x2e3436);
        rect(f, 0, 0, 1920, 32, 0x000000);
        content_draw_text(f, 900, 8, "Thu 18:55", 0xffffff, UINT32_MAX);
        content_draw_text(f, 16, 8, "Activities", 0xffffff, UINT32_MAX);
        window(f, 60, 80, 900, 640, "Files", 1);
        window(f, 1000, 140, 860, 560, "Documents", 4);
        window(f, 400, 600, 1000, 420, "Downloads", 7);
        for (int i = 0; i < 6; i++)
                icon(f, 1700, 760 + i * 50, 40, 0xf8e45c, 0xe66100, 0x2e3436);
        return 0;
}

/* --- photo ----------------------------------------------------------------------------------- */

static double lattice(int x, int y, unsigned seed) {
        return (hash32((uint32_t) x * 0x8da6b343u ^ (uint32_t) y * 0xd8163841u ^ seed) & 0xffff) / 65535.0;
}

static double value_noise(double x, double y, unsigned seed) {
        int x0 = (int) floor(x), y0 = (int) floor(y);
        double fx = x - x0, fy = y - y0;
        fx = fx * fx * (3 - 2 * fx);
        fy = fy * fy * (3 - 2 * fy);
        double a = lattice(x0, y0, seed), b = lattice(x0 + 1, y0, seed);
        double c = lattice(x0, y0 + 1, seed), d = lattice(x0 + 1, y0 + 1, seed);
        return (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy;
}

static double fractal(double x, double y, unsigned seed) {
        double v = 0, amp = 0.5, freq = 1;
        for (int o = 0; o < 6; o++, amp *= 0.5, freq *= 2)
                v += amp * value_noise(x * freq, y * freq, seed + (unsigned) o);
        return v;
}

static int synth_photo(ContentFrames *out) {
        ContentFrame *f = content_frames_add(out, 1920, 1080, "synthetic landscape");
        if (!f)
                return -ENOMEM;
        for (uint32_t y = 0; y < f->height; y++)
                for (uint32_t x = 0; x < f->width; x++) {
                        double u = x / 240.0, v = y / 240.0;
                        double ridge = 420 + 180 * fractal(u * 0.5, 0.3, 7);
                        uint32_t c;
                        if (y < ridge) /* sky with clouds */
                                c = mix(mix(0x4a7bb7, 0xa8c8e8, y / ridge), 0xf4f4f4,
                                        MAX(0.0, fractal(u, v * 2, 11) - 0.45) * 1.6);
                        else { /* hills: grass and rock */
                                double t = fractal(u * 2, v * 2, 23);
                                c = mix(mix(0x2f5d1c, 0x7a8c3a, t), 0x6b5a48, MAX(0.0, fractal(u * 4, v * 4, 31) - 0.5));
                        }
                        /* film grain */
                        int grain = (int) (hash32(y * 1920 + x) % 9) - 4;
                        uint8_t *p = f->pixels + (size_t) y * f->stride + (size_t) x * 4;
                        for (int k = 0; k < 3; k++)
                                p[k] = (uint8_t) MIN(255, MAX(0, (int) ((c >> (8 * k)) & 0xff) + grain));
                        p[3] = 0xff;
                }
        return 0;
}

int content_synthesize(ContentSet set, ContentFrames *ret) {
        ContentFrames out = { .synthetic = true };
        int r;
        switch (set) {
        case CONTENT_TEXT:
                r = synth_text(&out);
                break;
        case CONTENT_UI:
                r = synth_ui(&out);
                break;
        case CONTENT_PHOTO:
                r = synth_photo(&out);
                break;
        default:
                return -EINVAL;
        }
        if (r < 0) {
                content_frames_done(&out);
                return r;
        }
        *ret = out;
        return 0;
}
