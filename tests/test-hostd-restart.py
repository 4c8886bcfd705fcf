#!/usr/bin/python3
"""Integration: hostd restarts while the guest runs. The new hostd attaches to the running
domain without disturbing it (no second boot, still running) and its framebuffer matches."""

import sys

import hostdtest as ht
import tandemtest as tt


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
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
