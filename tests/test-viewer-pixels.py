#!/usr/bin/python3
"""Integration: a headless tandem-viewer connected from power-on, lossless forced, over TLS with a
ticket. It films the boot; at the login prompt (the guest then paused so the screen holds still)
its framebuffer equals hostd's and virDomainScreenshot's, pixel for pixel."""

import os
import sys
import time

import hostdtest as ht
import tandemtest as tt
import viewertest as vt


def main():
    tt.require_image()
    keys = vt.Keys()
    with tt.Domain("viewer-pixels") as dom, ht.context(vt.ViewerHostd(dom.name, keys).start()) as hostd:
        events = hostd.events()
        dom.start(paused=True)
        events.wait_kind("frame", dom.name)
        out = os.path.join(dom.dir, "film")
        final = os.path.join(dom.dir, "viewer-final.ppm")
        script = f"wait-mode 720 400\nwait-still 1500\nsave {final}\nexit 0\n"
        proc = vt.viewer(hostd.ticket(dom.name), script, out=out, args=["--lossless", "--format", "ppm"])
        events.wait_kind("viewer", dom.name)
        dom.resume()
        dom.wait_serial("login:", timeout=180)
        time.sleep(1)
        tt.virsh("suspend", dom.name)  # a still screen: the text cursor stops blinking
        code, log = vt.finish(proc)
        assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}"

        seen = tt.read_ppm(final)
        shot = dom.screenshot()
        mine = tt.read_ppm(hostd.dump(dom.name))
        assert (seen.width, seen.height) == (shot.width, shot.height), (seen.width, seen.height)
        assert seen == mine, "viewer and hostd framebuffers differ"
        assert seen == shot, "viewer framebuffer differs from virDomainScreenshot"
        frames = sorted(f for f in os.listdir(out) if f.startswith("frame-"))
        print(f"viewer pixels equal hostd's and the screenshot; filmstrip of {len(frames)} frames")
        assert len(frames) >= 3, "the boot was not filmed"
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
