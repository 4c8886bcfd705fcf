#!/usr/bin/python3
"""Integration: hostd watches the demo desktop from power-on. It attaches while the domain is
still paused, has its first frame before the guest kernel printed anything, sees the BIOS switch
to text mode, and at the login prompt its framebuffer equals virDomainScreenshot's pixels."""

import os
import sys

import hostdtest as ht
import tandemtest as tt


def main():
    tt.require_image()
    with tt.Domain("power-on") as dom, ht.context(ht.Hostd(dom.name).start()) as hostd:
        events = hostd.events()
        dom.start(paused=True)
        events.wait_kind("attached", dom.name)
        first = events.wait_kind("frame", dom.name)
        serial_at_first_frame = os.path.getsize(dom.serial_log) if os.path.exists(dom.serial_log) else 0
        print(f"first frame {first[3]}x{first[4]} while paused; serial log has {serial_at_first_frame} bytes")
        assert serial_at_first_frame == 0, "the guest printed before hostd had a frame"

        dom.resume()
        mode = events.wait_kind("mode", dom.name)
        with open(dom.serial_log, "rb") as f:
            serial = f.read()
        print(f"mode change to {mode[3]}x{mode[4]} after resume; serial log has {len(serial)} bytes")
        assert b"Linux version" not in serial, "the kernel booted before hostd saw the BIOS mode switch"
        assert (mode[3], mode[4]) == ("720", "400"), f"expected the BIOS text mode, got {mode}"

        secs = dom.wait_serial("login:", timeout=180)
        print(f"login prompt {secs:.1f} s after resume")
        attempts = ht.framebuffer_matches_screenshot(hostd, dom)
        print(f"framebuffer equals virDomainScreenshot (attempt {attempts})")

        console = hostd.domain(dom.name)["consoles"][0]
        assert console["rejected"] == 0, console
        thumb = console["thumbnail"]
        ht.wait_file(thumb)
        with open(thumb, "rb") as f:
            assert f.read(3) == b"\xff\xd8\xff", "thumbnail is not a JPEG"
        assert hostd.alive()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
