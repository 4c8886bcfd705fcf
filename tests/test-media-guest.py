#!/usr/bin/python3
"""Integration: org.tandem.Media1 in the demo guest under TCG (image built with TANDEM_GUESTD, so
it has dbus-daemon, tandem-guestd's Media1, tandem-media-send and the clips in
/usr/share/tandem/media), with the real hostd:
  1. no viewer connected: tandem-media-send in the guest is told to render locally (exit 3,
     "render-locally REASON" on the serial log; guestd's hello offered cap media);
  2. with hostd relaying media (its status has a `media' object: hmedia merged) and a headless
     viewer with --media-out: tandem-media-send is redirected ("redirect stream N", exit 0), the
     viewer decodes frames of the stream into stream-N.y4m. Without hostd's relay this half
     skips (exit 77 after half 1 passed), saying so."""

import os
import re
import secrets
import sys
import tempfile

import hostdtest as ht
import tandemtest as tt
import viewertest as vt

CLIP = "/usr/share/tandem/media/test.ivf"


def serial(dom):
    with open(dom.serial_log, errors="replace") as f:
        return f.read()


def main():
    tt.require_image()
    keys = vt.Keys()
    mark = secrets.token_hex(4)
    with tt.Domain("media-guest") as dom, ht.context(vt.ViewerHostd(dom.name, keys).start()) as hostd:
        dom.start(paused=True)
        at_prompt = os.path.join(dom.dir, "at-login-prompt")
        # Half 1: log in, start tandem-media-send 15 s later in the background, and leave: it
        # runs with no viewer connected.
        script = (
            "wait-frame\n"
            "wait-agent active\n"
            f"wait-file {at_prompt}\n"
            "type root\\n\nsleep 1500\n"
            f"type (sleep 15; tandem-media-send {CLIP}; echo {mark}-one=$?) >/dev/ttyS0 2>&1 &\\n\nsleep 1500\n"
            "exit 0\n")
        proc = vt.viewer(hostd.ticket(dom.name), script, args=["--lossless"], timeout=600)
        dom.resume()
        dom.wait_serial("login:", timeout=240)
        open(at_prompt, "w").close()
        code, log = vt.finish(proc, timeout=400)
        assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}"
        dom.wait_serial(f"{mark}-one=", timeout=180)
        text = serial(dom)
        assert "org.tandem.Media1 on the system bus" in text, tt.tail(dom.serial_log, 40)
        if f"Cannot read {CLIP}" in text:
            print(f"skip: the image has no {CLIP} (built without tools/tandem-media-gen, branch vmedia)")
            return 77
        m = re.search(r"render-locally (\S+)\s.*?" + mark + r"-one=(\d+)", text, re.S)
        assert m and m.group(2) == "3", f"tandem-media-send without a viewer:\n{tt.tail(dom.serial_log, 20)}"
        print(f"no viewer: tandem-media-send renders locally ({m.group(1)}), exit 3")

        d = hostd.domain(dom.name)
        if not d or "media" not in d:
            print("skip: half 2 (redirect to a viewer) needs hostd's media relay (branch hmedia): "
                  "hostd's status has no media object")
            return 77
        # Half 2: a viewer decoding media; the same clip is redirected to it.
        out = tempfile.mkdtemp(prefix="media-out-")
        script = (
            "wait-frame\n"
            "wait-agent active\n"
            f"type tandem-media-send {CLIP} >/dev/ttyS0 2>&1; echo {mark}-two=$? >/dev/ttyS0\\n\n"
            "wait-media-frames 20\n"
            "wait-media-stop\n"
            "exit 0\n")
        proc = vt.viewer(hostd.ticket(dom.name), script, args=["--lossless", "--media-out", out], timeout=600)
        code, log = vt.finish(proc, timeout=400)
        assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}"
        dom.wait_serial(f"{mark}-two=", timeout=120)
        text = serial(dom)
        m = re.search(r"redirect stream (\d+)\s.*?" + mark + r"-two=(\d+)", text, re.S)
        assert m and m.group(2) == "0", f"tandem-media-send with a viewer:\n{tt.tail(dom.serial_log, 20)}"
        starts = re.findall(r"media: start (\d+) source=guest kind=video codec=vp8", log)
        assert starts, f"the viewer never started the stream:\n{log}"
        y4m = os.path.join(out, f"stream-{starts[0]}.y4m")
        assert os.path.getsize(y4m) > 0, y4m
        print(f"viewer connected: redirected (guest stream {m.group(1)}, viewer stream {starts[0]}), "
              f"{os.path.getsize(y4m)} bytes of decoded video")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
