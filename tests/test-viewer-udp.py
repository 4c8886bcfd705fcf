#!/usr/bin/python3
"""Integration: a headless viewer over the UDP transport (DTLS 1.2, rudp) through tandem-linkemu
at 5% loss each way with reordering: it logs in at the demo's login prompt and types a random
token, which reaches the guest's serial log once; the viewer's screen afterwards is exactly
hostd's framebuffer; its bye reaches hostd before it exits (a UDP viewer that left first was
kept as a dropped link for 180 s). hostd runs in the emulator's namespace a, the viewer in b."""

import os
import secrets
import subprocess
import sys
import time

import hostdtest as ht
import linkemutest as le
import tandemtest as tt
import viewertest as vt

IMPAIRMENT = os.environ.get("TEST_IMPAIRMENT", "dir=both delay=10ms loss=5% reorder=10% reorder-delay=5ms")


def main():
    tt.require_image()
    le.require()
    keys = vt.Keys()
    token = secrets.token_hex(6)
    exe = os.path.join(os.environ["TANDEM_BUILD_DIR"], "tools", "tandem-linkemu")
    with le.LinkEmu(exe, seed=4) as link, tt.Domain("viewer-udp") as dom, \
            ht.context(vt.NamespacedHostd(dom.name, keys, link).start()) as hostd:
        link.ctl(f"set {IMPAIRMENT}")
        dom.start()
        dom.wait_serial("login:", timeout=180)
        shot = os.path.join(dom.dir, "after.ppm")
        path = os.path.join(dom.dir, "script.txt")
        with open(path, "w") as f:
            f.write(f"wait-frame\ntype root\\n\nsleep 2000\ntype echo {token} | tee /dev/ttyS0\\n\n"
                    f"sleep 2000\nwait-still 1500\nsave {shot}\nexit 0\n")
        cmd = [vt.tool("tandem-viewer"), "--headless", "--timeout", "240", "--transport", "udp", "--lossless",
               "--format", "ppm", "--script", path, hostd.ticket(dom.name)]
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        proc = link.popen("b", cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            dom.wait_serial(token, timeout=120)
        except TimeoutError:
            print(f"hostd's status: {hostd.status()}")
            print(f"link: {link.stats()}")
            proc.kill()
            print(vt.finish(proc)[1])
            raise
        tt.virsh("suspend", dom.name)  # a still screen: the text cursor stops blinking
        code, log = vt.finish(proc, timeout=300)
        assert code == vt.EXIT_OK, f"viewer exited {code}:\n{log}\nhostd:\n{hostd.log()[-4000:]}"
        vt.assert_typed_once(dom, token)
        deadline = time.monotonic() + 10
        while "viewer said bye" not in hostd.log() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert "viewer said bye" in hostd.log(), f"hostd never got the viewer's bye:\n{hostd.log()[-3000:]}"
        print("hostd got the viewer's bye")
        print(f"token {token} typed over UDP at 5% loss with reordering reached the serial log once")
        stats = link.stats()
        print(f"link drops: a->b {stats['a2b']['dropped_packets']}, b->a {stats['b2a']['dropped_packets']}")
        transports = [v["transport"] for v in hostd.status()["viewers"]]
        print(f"hostd's viewers: {transports}, udp listener: {hostd.status()['udp']}")
        vt.assert_screen_is_hostds(shot, hostd, dom, token)
        print("the viewer's screen is exactly hostd's, with the token on it")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
