/* Loading the downloaded screen content (scripts/screen-content.sh) into frames: boot screens as
 * they are, GNOME screenshots packed onto a desktop, wallpapers scaled to fill 1080p. */
#include <dirent.h>
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "ppm.h"
#include "screen-content.h"

#define DESKTOP_W 1920
#define DESKTOP_H 1080
#define DESKTOP_BACKGROUND 0x2e3436u /* Adwaita's dark slate */
#define UI_FRAMES 3
#define UI_GAP 12
#define FILE_MAX (64u << 20)

const char *content_set_name(ContentSet set) {
        static const char *const names[] = { [CONTENT_TEXT] = "text", [CONTENT_UI] = "ui", [CONTENT_PHOTO] = "photo" };
        return set >= 0 && set < _CONTENT_SET_MAX ? names[set] : NULL;
}

int content_dir(char *buf, size_t size) {
        const char *cache = getenv("TANDEM_CACHE");
        int n = snprintf(buf, size, "%s/content", cache && *cache ? cache : "/var/cache/tandem");
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

void content_frames_done(ContentFrames *f) {
        for (size_t i = 0; i < f->n; i++)
                free(f->frames[i].pixels);
        free(f->frames);
        *f = (ContentFrames) {};
}

ContentFrame *content_frames_add(ContentFrames *f, uint32_t w, uint32_t h, const char *name) {
        ContentFrame *a = realloc(f->frames, (f->n + 1) * sizeof(ContentFrame));
        if (!a)
                return NULL;
        f->frames = a;
        uint32_t *p = malloc((size_t) w * h * 4);
        if (!p)
                return NULL;
        for (size_t i = 0; i < (size_t) w * h; i++)
                p[i] = 0xff000000u;
        ContentFrame *c = &f->frames[f->n++];
        *c = (ContentFrame) { .width = w, .height = h, .stride = w * 4, .pixels = (uint8_t *) p };
        snprintf(c->name, sizeof(c->name), "%s", name);
        return c;
}

/* a/b, or -ENAMETOOLONG. */
static int join(char *buf, size_t size, const char *a, const char *b) {
        int n = snprintf(buf, size, "%s/%s", a, b);
        return n < 0 || (size_t) n >= size ? -ENAMETOOLONG : 0;
}

static int read_file(const char *path, uint8_t **ret, size_t *ret_len) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return -errno;
        size_t cap = 1 << 20, len = 0;
        uint8_t *buf = NULL;
        int r = 0;
        for (;;) {
                if (len == cap || !buf) {
                        if (buf)
                                cap *= 2;
                        uint8_t *b = cap > FILE_MAX ? NULL : realloc(buf, cap);
                        if (!b) {
                                r = cap > FILE_MAX ? -EFBIG : -ENOMEM;
                                break;
                        }
                        buf = b;
                }
                size_t n = fread(buf + len, 1, cap - len, f);
                len += n;
                if (n == 0) {
                        r = ferror(f) ? -EIO : 0;
                        break;
                }
        }
        fclose(f);
        if (r < 0) {
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = len;
        return 0;
}

/* Names in dir ending in suffix, sorted. */
static int list_dir(const char *dir, const char *suffix, char ***ret, size_t *ret_n) {
        struct dirent **list;
        int n = scandir(dir, &list, NULL, alphasort);
        if (n < 0)
                return -errno;
        char **names = calloc((size_t) n + 1, sizeof(char *));
        size_t k = 0, sl = strlen(suffix);
        for (int i = 0; i < n; i++) {
                size_t l = strlen(list[i]->d_name);
                if (names && l > sl && strcmp(list[i]->d_name + l - sl, suffix) == 0)
                        names[k++] = strdup(list[i]->d_name);
                free(list[i]);
        }
        free(list);
        if (!names)
                return -ENOMEM;
        *ret = names;
        *ret_n = k;
        return 0;
}

static void free_names(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

/* A picture as B,G,R,A rows, straight alpha. */
typedef struct Picture {
        uint32_t width, height;
        uint8_t *bgra;
} Picture;

static int load_png(const char *path, Picture *ret) {
        png_image img = { .version = PNG_IMAGE_VERSION };
        if (!png_image_begin_read_from_file(&img, path))
                return -EBADMSG;
        img.format = PNG_FORMAT_BGRA;
        if (img.width == 0 || img.height == 0 || img.width > 16384 || img.height > 16384) {
                png_image_free(&img);
                return -EBADMSG;
        }
        uint8_t *p = malloc(PNG_IMAGE_SIZE(img));
        if (!p) {
                png_image_free(&img);
                return -ENOMEM;
        }
        if (!png_image_finish_read(&img, NULL, p, 0, NULL)) {
                free(p);
                return -EBADMSG;
        }
        *ret = (Picture) { img.width, img.height, p };
        return 0;
}

/* Alpha-blends pic over the frame at (x, y), clipped. */
static void composite(ContentFrame *f, const Picture *pic, uint32_t x, uint32_t y) {
        for (uint32_t r = 0; r < pic->height && y + r < f->height; r++)
                for (uint32_t c = 0; c < pic->width && x + c < f->width; c++) {
                        const uint8_t *s = pic->bgra + ((size_t) r * pic->width + c) * 4;
                        uint8_t *d = f->pixels + (size_t) (y + r) * f->stride + (size_t) (x + c) * 4;
                        unsigned a = s[3];
                        for (int k = 0; k < 3; k++)
                                d[k] = (uint8_t) ((s[k] * a + d[k] * (255 - a) + 127) / 255);
                        d[3] = 0xff;
                }
}

/* Scales pic to cover the frame (aspect kept, the overflow cropped evenly), bilinear. */
static void cover(ContentFrame *f, const Picture *pic) {
        double scale = MAX((double) f->width / pic->width, (double) f->height / pic->height);
        double ox = (pic->width * scale - f->width) / 2, oy = (pic->height * scale - f->height) / 2;
        for (uint32_t y = 0; y < f->height; y++) {
                double sy = (y + oy + 0.5) / scale - 0.5;
                int y0 = (int) sy;
                double fy = sy - y0;
                y0 = MAX(0, MIN(y0, (int) pic->height - 1));
                int y1 = MIN(y0 + 1, (int) pic->height - 1);
                for (uint32_t x = 0; x < f->width; x++) {
                        double sx = (x + ox + 0.5) / scale - 0.5;
                        int x0 = (int) sx;
                        double fx = sx - x0;
                        x0 = MAX(0, MIN(x0, (int) pic->width - 1));
                        int x1 = MIN(x0 + 1, (int) pic->width - 1);
                        uint8_t *d = f->pixels + (size_t) y * f->stride + (size_t) x * 4;
                        for (int k = 0; k < 3; k++) {
                                double a = pic->bgra[((size_t) y0 * pic->width + x0) * 4 + k];
                                double b = pic->bgra[((size_t) y0 * pic->width + x1) * 4 + k];
                                double c = pic->bgra[((size_t) y1 * pic->width + x0) * 4 + k];
                                double e = pic->bgra[((size_t) y1 * pic->width + x1) * 4 + k];
                                double v = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + e * fx) * fy;
                                d[k] = (uint8_t) (v + 0.5);
                        }
                        d[3] = 0xff;
                }
        }
}

static void fill(ContentFrame *f, uint32_t rgb) {
        for (size_t i = 0; i < (size_t) f->width * f->height; i++)
                ((uint32_t *) f->pixels)[i] = 0xff000000u | rgb;
}

static int load_pictures(const char *dir, char **names, size_t n, Picture *pics) {
        for (size_t i = 0; i < n; i++) {
                char path[4096];
                int r = join(path, sizeof(path), dir, names[i]);
                if (r >= 0)
                        r = load_png(path, &pics[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* Shelf packing, left to right and top to bottom, starting at picture `first`; pictures that do
 * not fit are left out. */
static void pack_desktop(ContentFrame *f, const Picture *pics, size_t n, size_t first) {
        uint32_t x = UI_GAP, y = UI_GAP, shelf = 0;
        fill(f, DESKTOP_BACKGROUND);
        for (size_t k = 0; k < n; k++) {
                const Picture *p = &pics[(first + k) % n];
                if (p->width + 2 * UI_GAP > f->width || p->width < 32 || p->height < 32)
                        continue;
                if (x + p->width + UI_GAP > f->width) {
                        x = UI_GAP;
                        y += shelf + UI_GAP;
                        shelf = 0;
                }
                if (y + p->height > f->height)
                        continue; /* a shorter one may still fit on this shelf */
                composite(f, p, x, y);
                x += p->width + UI_GAP;
                shelf = MAX(shelf, p->height);
        }
}

static int load_pictures_set(ContentSet set, const char *base, ContentFrames *ret) {
        char dir[4096];
        char **names = NULL;
        size_t n = 0;
        int r = join(dir, sizeof(dir), base, set == CONTENT_UI ? "ui" : "photo");
        if (r >= 0)
                r = list_dir(dir, ".png", &names, &n);
        if (r < 0)
                return r;
        if (n == 0) {
                free_names(names, n);
                return -ENOENT;
        }

        Picture *pics = calloc(n, sizeof(Picture));
        ContentFrames out = {};
        r = pics ? load_pictures(dir, names, n, pics) : -ENOMEM;
        if (r >= 0 && set == CONTENT_UI)
                for (size_t i = 0; i < UI_FRAMES && r >= 0; i++) {
                        char name[96];
                        snprintf(name, sizeof(name), "gnome-user-docs desktop %zu", i + 1);
                        ContentFrame *f = content_frames_add(&out, DESKTOP_W, DESKTOP_H, name);
                        if (!f)
                                r = -ENOMEM;
                        else
                                pack_desktop(f, pics, n, i * n / UI_FRAMES);
                }
        else if (r >= 0)
                for (size_t i = 0; i < n && r >= 0; i++) {
                        ContentFrame *f = content_frames_add(&out, DESKTOP_W, DESKTOP_H, names[i]);
                        if (!f)
                                r = -ENOMEM;
                        else
                                cover(f, &pics[i]);
                }

        for (size_t i = 0; pics && i < n; i++)
                free(pics[i].bgra);
        free(pics);
        free_names(names, n);
        if (r < 0) {
                content_frames_done(&out);
                return r;
        }
        *ret = out;
        return 0;
}

static int load_boot_screens(const char *base, ContentFrames *ret) {
        char dir[4096];
        char **names = NULL;
        size_t n = 0;
        int r = join(dir, sizeof(dir), base, "boot");
        if (r >= 0)
                r = list_dir(dir, ".ppm", &names, &n);
        if (r < 0)
                return r;

        ContentFrames out = {};
        for (size_t i = 0; i < n && r >= 0; i++) {
                char path[4096];
                uint8_t *data = NULL;
                size_t len = 0;
                uint32_t w = 0, h = 0;
                const uint8_t *rgb = NULL;
                r = join(path, sizeof(path), dir, names[i]);
                if (r >= 0)
                        r = read_file(path, &data, &len);
                if (r >= 0)
                        r = ppm_parse(data, len, &w, &h, &rgb);
                ContentFrame *f = r >= 0 ? content_frames_add(&out, w, h, names[i]) : NULL;
                if (r >= 0 && !f)
                        r = -ENOMEM;
                for (size_t p = 0; f && p < (size_t) w * h; p++)
                        ((uint32_t *) f->pixels)[p] = 0xff000000u | (uint32_t) rgb[3 * p] << 16 |
                                                      (uint32_t) rgb[3 * p + 1] << 8 | rgb[3 * p + 2];
                free(data);
        }
        free_names(names, n);
        if (r >= 0 && out.n == 0)
                r = -ENOENT;
        if (r < 0) {
                content_frames_done(&out);
                return r;
        }
        *ret = out;
        return 0;
}

int content_load(ContentSet set, const char *dir, ContentFrames *ret) {
        char buf[4096];
        if (!dir) {
                int r = content_dir(buf, sizeof(buf));
                if (r < 0)
                        return r;
                dir = buf;
        }
        switch (set) {
        case CONTENT_TEXT: {
                int r = load_boot_screens(dir, ret);
                return r == -ENOENT ? content_synthesize(CONTENT_TEXT, ret) : r;
        }
        case CONTENT_UI:
        case CONTENT_PHOTO:
                return load_pictures_set(set, dir, ret);
        default:
                return -EINVAL;
        }
}

int content_write_ppm(const ContentFrame *f, const char *path) {
        FILE *out = fopen(path, "wb");
        if (!out)
                return -errno;
        fprintf(out, "P6\n%u %u\n255\n", f->width, f->height);
        uint8_t *row = malloc((size_t) f->width * 3);
        for (uint32_t y = 0; row && y < f->height; y++) {
                const uint8_t *p = f->pixels + (size_t) y * f->stride;
                for (uint32_t x = 0; x < f->width; x++) {
                        row[3 * x] = p[4 * x + 2];
                        row[3 * x + 1] = p[4 * x + 1];
                        row[3 * x + 2] = p[4 * x];
                }
                fwrite(row, 1, (size_t) f->width * 3, out);
        }
        int r = !row ? -ENOMEM : ferror(out) ? -EIO : 0;
        free(row);
        if (fclose(out) != 0 && r == 0)
                r = -errno;
        return r;
}
