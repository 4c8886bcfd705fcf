#include "x11-randr.h"

#include <X11/extensions/Xrandr.h>
#include <stdio.h>
#include <string.h>

#include "agent.h"
#include "log.h"

/* Timings like cvt's reduced blanking at 60 Hz: drivers for real outputs want plausible
 * numbers; virtual ones (Xvfb, qxl, virtio) take anything. */
static XRRModeInfo make_mode(uint32_t w, uint32_t h, char *name, size_t name_size) {
        XRRModeInfo m = {};
        snprintf(name, name_size, "%ux%u_tandem", w, h);
        m.width = w;
        m.height = h;
        m.hSyncStart = w + 48;
        m.hSyncEnd = w + 80;
        m.hTotal = w + 160;
        m.vSyncStart = h + 3;
        m.vSyncEnd = h + 9;
        m.vTotal = h + 30;
        m.dotClock = (unsigned long) m.hTotal * m.vTotal * 60;
        m.name = name;
        m.nameLength = (unsigned) strlen(name);
        m.modeFlags = RR_HSyncPositive | RR_VSyncNegative;
        return m;
}

static void screen_size(X11 *x, uint32_t *w, uint32_t *h) {
        XWindowAttributes wa;
        if (XGetWindowAttributes(x->dpy, x->root, &wa)) {
                *w = (uint32_t) wa.width;
                *h = (uint32_t) wa.height;
        }
}

uint8_t x11_randr_resize(X11 *x, uint32_t width, uint32_t height, uint32_t *ret_width, uint32_t *ret_height) {
        uint8_t status = AGENT_STATUS_UNSUPPORTED;
        XRRScreenResources *res = NULL;
        XRROutputInfo *out = NULL;
        XRRCrtcInfo *crtc = NULL;
        RROutput output = None;

        *ret_width = *ret_height = 0;
        screen_size(x, ret_width, ret_height);
        if (!x->has_randr)
                return status;
        res = XRRGetScreenResources(x->dpy, x->root);
        if (!res)
                return status;
        for (int i = 0; i < res->noutput && !out; i++) {
                XRROutputInfo *o = XRRGetOutputInfo(x->dpy, res, res->outputs[i]);
                if (o && o->connection == RR_Connected && o->crtc != None) {
                        out = o;
                        output = res->outputs[i];
                } else if (o)
                        XRRFreeOutputInfo(o);
        }
        if (!out)
                goto done;
        crtc = XRRGetCrtcInfo(x->dpy, res, out->crtc);
        if (!crtc)
                goto done;

        status = AGENT_STATUS_FAILED;
        int min_w, min_h, max_w, max_h;
        if (!XRRGetScreenSizeRange(x->dpy, x->root, &min_w, &min_h, &max_w, &max_h) || width < (uint32_t) min_w ||
            height < (uint32_t) min_h || width > (uint32_t) max_w || height > (uint32_t) max_h) {
                log_debug("Resize to %ux%u: outside the screen's range %dx%d to %dx%d", width, height, min_w, min_h,
                          max_w, max_h);
                goto done;
        }

        /* A mode of that size: on the output, elsewhere on the server, or a new one. */
        RRMode mode = None;
        bool on_output = false;
        for (int i = 0; i < res->nmode && mode == None; i++)
                if (res->modes[i].width == width && res->modes[i].height == height)
                        mode = res->modes[i].id;
        for (int i = 0; mode != None && i < out->nmode; i++)
                on_output = on_output || out->modes[i] == mode;
        if (mode == None) {
                char name[64];
                XRRModeInfo info = make_mode(width, height, name, sizeof(name));
                mode = XRRCreateMode(x->dpy, x->root, &info);
                if (mode == None || x11_sync_errors(x)) {
                        log_debug("Resize to %ux%u: the server refused a new mode", width, height);
                        goto done;
                }
        }
        if (!on_output) {
                XRRAddOutputMode(x->dpy, output, mode);
                if (x11_sync_errors(x)) {
                        log_debug("Resize to %ux%u: the output refused the mode", width, height);
                        goto done;
                }
        }

        /* The screen must hold the CRTC at every step: grow it first, shrink it last. */
        XGrabServer(x->dpy);
        uint32_t cur_w = *ret_width, cur_h = *ret_height;
        double dpi_mm = 25.4 / 96.0;
        uint32_t grow_w = MAX(width, cur_w), grow_h = MAX(height, cur_h);
        if (grow_w != cur_w || grow_h != cur_h)
                XRRSetScreenSize(x->dpy, x->root, (int) grow_w, (int) grow_h, (int) (grow_w * dpi_mm),
                                 (int) (grow_h * dpi_mm));
        Status st = XRRSetCrtcConfig(x->dpy, res, out->crtc, CurrentTime, 0, 0, mode, crtc->rotation, &output, 1);
        if (st == RRSetConfigSuccess && (width != grow_w || height != grow_h))
                XRRSetScreenSize(x->dpy, x->root, (int) width, (int) height, (int) (width * dpi_mm),
                                 (int) (height * dpi_mm));
        XUngrabServer(x->dpy);
        unsigned long errors = x11_sync_errors(x);
        screen_size(x, ret_width, ret_height);
        if (st == RRSetConfigSuccess && !errors && *ret_width == width && *ret_height == height)
                status = AGENT_STATUS_OK;
        else
                log_debug("Resize to %ux%u failed (status %d, %lu X errors), now %ux%u", width, height, st, errors,
                          *ret_width, *ret_height);
done:
        if (crtc)
                XRRFreeCrtcInfo(crtc);
        if (out)
                XRRFreeOutputInfo(out);
        XRRFreeScreenResources(res);
        return status;
}
