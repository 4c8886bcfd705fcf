#!/usr/bin/python3
"""Integration: a headless viewer logs in at the demo's login prompt and runs `echo` of a random
token: the token reaches the guest's serial log and shows on the viewer's own screen."""

import os
import secrets
import sys

import hostdtest as ht
import tandemtest as tt
import viewertest as vt


def main():
    tt.require_image()
    keys = vt.Keys()
    token = secrets.token_hex(6)
    with tt.Domain("viewer-input") as dom, ht.context(vt.ViewerHostd(dom.name, keys).start()) as hostd:
        dom.start()
        dom.wait_serial("login:", timeout=180)
        shot = os.path.join(dom.dir, "after.ppm")
        script = (f"wait-frame\ntype root\\n\nsleep 1500\ntype echo {token} | tee /dev/ttyS0\\n\nsleep 2000\n"
                  f"save {shot}\nexit 0\n")
        code, log = vt.finish(vt.viewer(hostd.ticket(dom.name), script, args=["--lossless"]))
        assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}"
        dom.wait_serial(token, timeout=30)
        print(f"token {token} typed through the viewer reached the serial log")
        assert vt.echoed_on_screen(tt.read_ppm(shot), token), "the echoed token is not on the viewer's screen"
        print("and shows on the viewer's screen below the command that typed it")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
