/* tandem-tone HZ SECONDS [DEVICE]: plays a sine of HZ for SECONDS on the guest's first sound card
 * (default /dev/snd/pcmC0D0p), 48 kHz (or 44.1 kHz) s16 stereo at half scale, through the
 * kernel's PCM ioctls: no alsa-lib, so the demo image needs no ALSA configuration files. It
 * first unmutes the card's master and PCM controls and sets them to full volume (the AC97 codec
 * driver starts muted). Says what it did on stdout; exit 0 when every frame was written.
 * tandem-tone --record SECONDS [DEVICE]: records (default /dev/snd/pcmC0D0c) and prints the
 * frames read and their peak and zero-crossing frequency: the microphone path, QEMU's Read. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <sound/asound.h>

#define CHANNELS 2

static struct snd_mask *mask(struct snd_pcm_hw_params *p, int param) {
        return &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
}

static struct snd_interval *interval(struct snd_pcm_hw_params *p, int param) {
        return &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
}

static void mask_only(struct snd_pcm_hw_params *p, int param, unsigned bit) {
        struct snd_mask *m = mask(p, param);
        memset(m, 0, sizeof(*m));
        m->bits[bit / 32] = 1u << (bit % 32);
}

static void range(struct snd_pcm_hw_params *p, int param, unsigned min, unsigned max) {
        struct snd_interval *i = interval(p, param);
        i->min = min;
        i->max = max;
}

static void hw_any(struct snd_pcm_hw_params *p) {
        memset(p, 0, sizeof(*p));
        for (int i = SNDRV_PCM_HW_PARAM_FIRST_MASK; i <= SNDRV_PCM_HW_PARAM_LAST_MASK; i++)
                memset(mask(p, i), 0xff, sizeof(struct snd_mask));
        for (int i = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; i <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; i++)
                range(p, i, 0, ~0u);
        p->rmask = ~0u;
        p->info = ~0u;
}

/* Sets a mixer control by name, if the card has it: switches on, volumes to their maximum. */
static void control_max(int ctl, const char *name) {
        struct snd_ctl_elem_info info = { 0 };
        struct snd_ctl_elem_value value = { 0 };

        info.id.iface = SNDRV_CTL_ELEM_IFACE_MIXER;
        snprintf((char *) info.id.name, sizeof(info.id.name), "%s", name);
        if (ioctl(ctl, SNDRV_CTL_IOCTL_ELEM_INFO, &info) < 0)
                return;
        value.id = info.id;
        for (unsigned i = 0; i < info.count && i < 128; i++)
                value.value.integer.value[i] = info.type == SNDRV_CTL_ELEM_TYPE_BOOLEAN ? 1 : info.value.integer.max;
        if (ioctl(ctl, SNDRV_CTL_IOCTL_ELEM_WRITE, &value) < 0)
                fprintf(stderr, "tandem-tone: cannot set %s: %s\n", name, strerror(errno));
}

static void unmute(const char *pcm_path) {
        char path[64];
        int card = 0;
        if (sscanf(pcm_path, "/dev/snd/pcmC%d", &card) != 1)
                card = 0;
        snprintf(path, sizeof(path), "/dev/snd/controlC%d", card);
        int ctl = open(path, O_RDWR | O_CLOEXEC);
        if (ctl < 0) {
                fprintf(stderr, "tandem-tone: %s: %s (mixer left as it is)\n", path, strerror(errno));
                return;
        }
        static const char *const names[] = { "Master Playback Switch", "Master Playback Volume",
                                             "PCM Playback Switch", "PCM Playback Volume" };
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
                control_max(ctl, names[i]);
        close(ctl);
}

static int set_params(int fd, unsigned rate, unsigned *period) {
        struct snd_pcm_hw_params p;
        hw_any(&p);
        mask_only(&p, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
        mask_only(&p, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
        mask_only(&p, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
        range(&p, SNDRV_PCM_HW_PARAM_CHANNELS, CHANNELS, CHANNELS);
        range(&p, SNDRV_PCM_HW_PARAM_RATE, rate, rate);
        range(&p, SNDRV_PCM_HW_PARAM_PERIOD_TIME, 20000, 50000);
        range(&p, SNDRV_PCM_HW_PARAM_BUFFER_TIME, 100000, 500000);
        if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &p) < 0)
                return -errno;
        *period = interval(&p, SNDRV_PCM_HW_PARAM_PERIOD_SIZE)->min;
        return 0;
}

static int record(double seconds, const char *dev) {
        unsigned rate = 48000, period = 0;
        int fd = open(dev, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "tandem-tone: %s: %s\n", dev, strerror(errno));
                return 1;
        }
        int r = set_params(fd, rate, &period);
        if (r < 0) {
                rate = 44100;
                r = set_params(fd, rate, &period);
        }
        if (r < 0 || ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0 || ioctl(fd, SNDRV_PCM_IOCTL_START) < 0) {
                fprintf(stderr, "tandem-tone: cannot record from %s: %s\n", dev, strerror(r < 0 ? -r : errno));
                return 1;
        }
        if (period == 0 || period > 65536)
                period = 1024;
        printf("tandem-tone: recording %.1f s at %u Hz\n", seconds, rate);
        fflush(stdout);
        int16_t *buf = malloc((size_t) period * CHANNELS * sizeof(int16_t));
        if (!buf)
                return 1;
        unsigned long total = (unsigned long) (seconds * rate), done = 0, ups = 0;
        int peak = 0, last = 0;
        while (done < total) {
                struct snd_xferi x = { .buf = buf, .frames = period };
                if (ioctl(fd, SNDRV_PCM_IOCTL_READI_FRAMES, &x) < 0) {
                        if (errno == EPIPE) {
                                ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
                                ioctl(fd, SNDRV_PCM_IOCTL_START);
                                continue;
                        }
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        fprintf(stderr, "tandem-tone: read: %s\n", strerror(errno));
                        return 1;
                }
                for (long i = 0; i < x.result; i++) {
                        int s = buf[i * CHANNELS];
                        peak = abs(s) > peak ? abs(s) : peak;
                        ups += last < 0 && s >= 0;
                        last = s;
                }
                done += (unsigned long) x.result;
        }
        close(fd);
        free(buf);
        printf("tandem-tone: recorded %lu frames, peak %.3f, %.1f Hz\n", done, peak / 32768.0,
               done ? (double) ups * rate / done : 0.0);
        return 0;
}

int main(int argc, char **argv) {
        const char *dev = argc > 3 ? argv[3] : "/dev/snd/pcmC0D0p";
        char *end;

        if (argc >= 3 && strcmp(argv[1], "--record") == 0) {
                double seconds = strtod(argv[2], &end);
                if (*end || !(seconds > 0 && seconds <= 600)) {
                        fprintf(stderr, "tandem-tone: bad duration `%s'\n", argv[2]);
                        return 2;
                }
                return record(seconds, argc > 3 ? argv[3] : "/dev/snd/pcmC0D0c");
        }

        if (argc < 3) {
                fprintf(stderr, "usage: tandem-tone HZ SECONDS [PCM-DEVICE]\n       tandem-tone --record SECONDS [PCM-DEVICE]\n");
                return 2;
        }
        double hz = strtod(argv[1], &end);
        if (*end || !(hz > 0 && hz < 20000)) {
                fprintf(stderr, "tandem-tone: bad frequency `%s'\n", argv[1]);
                return 2;
        }
        double seconds = strtod(argv[2], &end);
        if (*end || !(seconds > 0 && seconds <= 600)) {
                fprintf(stderr, "tandem-tone: bad duration `%s'\n", argv[2]);
                return 2;
        }
        unmute(dev);
        int fd = open(dev, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "tandem-tone: %s: %s\n", dev, strerror(errno));
                return 1;
        }
        unsigned rate = 48000, period = 0;
        int r = set_params(fd, rate, &period);
        if (r < 0) {
                rate = 44100;
                r = set_params(fd, rate, &period);
        }
        if (r < 0) {
                fprintf(stderr, "tandem-tone: no s16 stereo at 48 or 44.1 kHz: %s\n", strerror(-r));
                return 1;
        }
        if (period == 0 || period > 65536)
                period = 1024;
        if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
                fprintf(stderr, "tandem-tone: prepare: %s\n", strerror(errno));
                return 1;
        }
        printf("tandem-tone: %.0f Hz for %.1f s at %u Hz, period %u frames\n", hz, seconds, rate, period);
        fflush(stdout);

        int16_t *buf = malloc((size_t) period * CHANNELS * sizeof(int16_t));
        if (!buf)
                return 1;
        unsigned long total = (unsigned long) (seconds * rate), done = 0, underruns = 0;
        double phase = 0;
        while (done < total) {
                unsigned n = total - done < period ? (unsigned) (total - done) : period;
                for (unsigned i = 0; i < n; i++) {
                        int16_t s = (int16_t) lrint(sin(phase) * 0.5 * 32767.0);
                        buf[i * CHANNELS] = buf[i * CHANNELS + 1] = s;
                        phase = fmod(phase + 2.0 * M_PI * hz / rate, 2.0 * M_PI);
                }
                struct snd_xferi x = { .buf = buf, .frames = n };
                if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
                        if (errno == EPIPE) { /* underrun: start again, the frames were not taken */
                                underruns++;
                                ioctl(fd, SNDRV_PCM_IOCTL_PREPARE);
                                continue;
                        }
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        fprintf(stderr, "tandem-tone: write: %s\n", strerror(errno));
                        return 1;
                }
                done += (unsigned long) x.result;
        }
        ioctl(fd, SNDRV_PCM_IOCTL_DRAIN);
        close(fd);
        free(buf);
        printf("tandem-tone: done, %lu frames, %lu underruns\n", done, underruns);
        return 0;
}
