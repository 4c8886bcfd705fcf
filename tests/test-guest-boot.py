#!/usr/bin/python3
"""Integration: the demo desktop boots to its login prompt and its VGA screen is not blank;
also checks tandemtest's own helpers (template rendering, PNG/PPM round trips)."""

import os
import sys

import tandemtest as tt


def check_pictures(workdir):
    img = tt.Image(3, 2, bytes(range(18)))
    png = os.path.join(workdir, "t.png")
    tt.write_png(png, img)
    assert tt.read_image(png) == img, "PNG round trip"
    ppm = os.path.join(workdir, "t.ppm")
    with open(ppm, "wb") as f:
        f.write(b"P6\n# comment\n3 2\n255\n" + img.data)
    assert tt.read_ppm(ppm) == img, "PPM parse"
    assert tt.is_blank(tt.Image(2, 1, b"\1\2\3\1\2\3"))
    assert not tt.is_blank(img)


def main():
    tt.require_image()
    with tt.Domain("guest-boot") as dom:
        check_pictures(dom.dir)
        xml = dom.xml()
        assert "@" not in xml.replace("<!--", "").split("-->", 1)[1], "unsubstituted placeholder"
        dom.start(paused=True)
        assert dom.state() == "paused", dom.state()
        dom.resume()
        secs = dom.wait_serial("login:", timeout=180)
        print(f"login prompt on the serial console {secs:.1f} s after resume")
        dom.wait_serial(f"agent port {tt.AGENT_PORT_NAME} is /dev/vport", timeout=10)
        sock = dom.agent_socket()
        assert sock and os.path.exists(sock), f"agent socket {sock!r}"
        print(f"agent port socket on the host: {sock}")
        img = dom.screenshot()
        print(f"screenshot {img.width}x{img.height}")
        assert img.width >= 640 and img.height >= 400, (img.width, img.height)
        assert not tt.is_blank(img), "VGA screen is blank"
        out = os.environ.get("MESON_BUILD_ROOT")
        if out:
            tt.write_png(os.path.join(out, "meson-logs", "guest-boot.png"), img)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
