#!/usr/bin/python3
"""Integration: domains hostd cannot watch through QEMU's D-Bus display. A VNC-only domain is
watched through virDomainScreenshot polling (its framebuffer ends equal to the screenshot and it
gets thumbnails); a domain whose D-Bus display refuses the graphics fd (no p2p) is logged and
falls back to the same polling. A stopped QEMU (SIGSTOP) leaves its screenshot call waiting on a
thread of its own while hostd's control socket and the other domain's screenshots go on; after
SIGCONT its screenshots resume."""

import os
import signal
import sys

import hostdtest as ht
import tandemtest as tt


def shots(status, name):
    return next(d for d in status["domains"] if d["name"] == name)["screenshot"]


def hung_qemu(hostd, hung, other):
    pid = ht.qemu_pid(hung)
    os.kill(pid, signal.SIGSTOP)
    try:
        # A call waiting this long is stuck on the stopped QEMU (one takes milliseconds); the
        # control socket answering at all is the point: the call used to hold hostd's loop.
        s = hostd.wait_status(lambda s: shots(s, hung)["waiting_ms"] >= 3000, what=f"{hung}'s call to wait")
        taken = shots(s, other)["taken"]
        s = hostd.wait_status(lambda s: shots(s, other)["taken"] >= taken + 2, what=f"{other}'s screenshots")
        assert shots(s, hung)["waiting_ms"] > 0, shots(s, hung)
        print(f"{hung} stopped: its call waits ({shots(s, hung)}), {other} goes on ({shots(s, other)})")
    finally:
        os.kill(pid, signal.SIGCONT)
    taken = shots(hostd.status(), hung)["taken"]
    hostd.wait_status(lambda s: shots(s, hung)["taken"] > taken, what=f"{hung}'s screenshots after SIGCONT")
    print(f"{hung} continued: its screenshots resume")


def main():
    tt.require_image()
    with tt.Domain("vnc", graphics="vnc") as vnc, \
            tt.Domain("nop2p", graphics="<graphics type='dbus'/>") as nop2p, \
            ht.context(ht.Hostd(f"{vnc.name} {nop2p.name}").start()) as hostd:
        events = hostd.events()
        vnc.start()
        events.wait_kind("screenshot", vnc.name)
        vnc.wait_serial("login:", timeout=180)
        ht.wait_console(hostd, vnc.name, lambda c: c["frames"] > 1)
        assert hostd.domain(vnc.name)["mode"] == "screenshot"
        attempts = ht.framebuffer_matches_screenshot(hostd, vnc)
        print(f"VNC domain watched through screenshots; framebuffer matched (attempt {attempts})")
        ht.wait_file(hostd.domain(vnc.name)["consoles"][0]["thumbnail"])

        nop2p.start()
        events.wait_kind("screenshot", nop2p.name)
        assert f"{nop2p.name}: cannot open the D-Bus display" in hostd.log()
        ht.wait_console(hostd, nop2p.name)
        print("D-Bus display without p2p refused the graphics fd: logged, screenshots used")
        hung_qemu(hostd, vnc.name, nop2p.name)
        assert hostd.alive()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
