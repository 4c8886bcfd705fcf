#!/usr/bin/python3
"""Integration: hostd restarts while the guest runs. The new hostd attaches to the running
domain without disturbing it (no second boot, still running) and its framebuffer matches. Then
it restarts while QEMU is stopped (SIGSTOP): opening the D-Bus display waits for QEMU's monitor,
on a thread, so hostd's control socket answers meanwhile; after SIGCONT the display attaches."""

import os
import signal
import sys

import hostdtest as ht
import tandemtest as tt


def hostd_domain(status, name):
    return next((d for d in status["domains"] if d["name"] == name), None)


def main():
    tt.require_image()
    with tt.Domain("restart") as dom:
        hostd = ht.Hostd(dom.name)
        with ht.context(hostd.start()):
            dom.start()
            dom.wait_serial("login:", timeout=180)
            ht.wait_console(hostd, dom.name)
            ht.framebuffer_matches_screenshot(hostd, dom)
            assert hostd.stop() == 0, "hostd did not exit cleanly on SIGTERM"

            assert dom.state() == "running"
            hostd.start()
            console = ht.wait_console(hostd, dom.name)
            print(f"re-attached after restart: {console['width']}x{console['height']}")
            attempts = ht.framebuffer_matches_screenshot(hostd, dom)
            print(f"framebuffer equals virDomainScreenshot again (attempt {attempts})")
            with open(dom.serial_log, "rb") as f:
                assert f.read().count(b"Linux version") == 1, "the guest rebooted"
            assert dom.state() == "running"

            assert hostd.stop() == 0
            pid = ht.qemu_pid(dom.name)
            os.kill(pid, signal.SIGSTOP)
            try:
                hostd.start()
                # Made in the loop, the call held it: the control socket never answered.
                s = hostd.wait_status(lambda s: (hostd_domain(s, dom.name) or {}).get("opening_ms", 0) >= 2000,
                                      what="the display's opening to wait for the stopped QEMU")
                d = hostd_domain(s, dom.name)
                print(f"QEMU stopped: hostd answers while the opening waits ({d['opening_ms']} ms, mode {d['mode']})")
            finally:
                os.kill(pid, signal.SIGCONT)
            hostd.wait_status(lambda s: hostd_domain(s, dom.name)["mode"] == "dbus", what="the D-Bus display")
            ht.framebuffer_matches_screenshot(hostd, dom)
            print("QEMU continued: the display attached and matches")
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
