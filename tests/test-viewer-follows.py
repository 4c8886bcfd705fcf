#!/usr/bin/python3
"""Integration: a viewer stays connected while its desktop's QEMU goes away and comes back
(destroy, then start): it is shown the new boot from the firmware on, with no reconnection."""

import sys

import hostdtest as ht
import tandemtest as tt
import viewertest as vt


def main():
    tt.require_image()
    keys = vt.Keys()
    with tt.Domain("viewer-follows") as dom, ht.context(vt.ViewerHostd(dom.name, keys).start()) as hostd:
        events = hostd.events()
        dom.start()
        dom.wait_serial("login:", timeout=180)
        # The first boot ends in text mode; the new QEMU starts at 640x480 and goes back to text.
        script = "wait-mode 720 400\nwait-mode 640 480\nwait-mode 720 400\nexit 0\n"
        proc = vt.viewer(hostd.ticket(dom.name), script, args=["--lossless"])
        events.wait_kind("viewer", dom.name)
        dom.destroy()
        events.wait_kind("detached", dom.name)
        # Paused until hostd is attached: a loaded machine must not let the new QEMU leave its
        # 640x480 start before hostd (and so the viewer) can see it.
        dom.start(paused=True)
        events.wait_kind("attached", dom.name)
        dom.resume()
        code, log = vt.finish(proc)
        assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}"
        assert sum(1 for w in events.seen if w[:2] == ["viewer", dom.name]) == 1, "the viewer reconnected"
        print("the viewer stayed connected and was shown the new QEMU's boot from 640x480 on")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
