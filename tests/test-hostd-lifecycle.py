#!/usr/bin/python3
"""Integration: hostd follows the demo desktop's life. Keys typed through hostd log in at the
login prompt and run commands; a guest reboot (typed `reboot -f`) is seen through the same
display connection; destroy + start and a QEMU killed with SIGKILL then started again each lead
to a new attachment and a new boot watched from the BIOS; the framebuffer matches the screenshot
after each."""

import os
import signal
import sys
import time

import hostdtest as ht
import tandemtest as tt


def lit_pixels(img):
    """How many pixels are not black: text on the screen, roughly."""
    data = img.data
    return sum(1 for i in range(0, len(data), 3) if data[i] | data[i + 1] | data[i + 2])


def serial_count(dom, text):
    with open(dom.serial_log, "rb") as f:
        return f.read().count(text.encode())


def wait_serial_count(dom, text, count, timeout=180):
    deadline = time.monotonic() + timeout
    while serial_count(dom, text) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{text!r} not seen {count} times; serial end:\n{tt.tail(dom.serial_log)}")
        time.sleep(0.2)


def expect_new_boot(hostd, events, dom, boots):
    """After a fresh QEMU: attached again, a first frame, the BIOS text mode, then login."""
    events.wait_kind("attached", dom.name)
    events.wait_kind("frame", dom.name)
    events.wait(lambda w: w[:2] == ["mode", dom.name] and w[3:5] == ["720", "400"], what="BIOS text mode")
    assert serial_count(dom, "Linux version") < boots, "hostd saw the BIOS only after the kernel started"
    wait_serial_count(dom, "Linux version", boots)
    wait_serial_count(dom, "login:", boots)
    ht.framebuffer_matches_screenshot(hostd, dom)


def main():
    tt.require_image()
    with tt.Domain("lifecycle") as dom, ht.context(ht.Hostd(dom.name).start()) as hostd:
        events = hostd.events()
        dom.start()
        events.wait_kind("attached", dom.name)
        dom.wait_serial("login:", timeout=180)
        logins = serial_count(dom, "login:")
        ht.wait_console(hostd, dom.name)

        # Keyboard: log in on tty1 and write to the serial console from there.
        hostd.type_text(dom.name, "root\n")
        time.sleep(1)
        hostd.type_text(dom.name, "echo typed-through-hostd >/dev/ttyS0\n")
        dom.wait_serial("typed-through-hostd", timeout=60)
        print("keys typed through hostd reached the guest's shell")

        # Guest reboot: same QEMU, same display connection, a new boot.
        attaches = hostd.domain(dom.name)["attaches"]
        frames = hostd.domain(dom.name)["consoles"][0]["frames"]
        lit_before = lit_pixels(tt.read_ppm(hostd.dump(dom.name)))
        hostd.type_text(dom.name, "reboot -f\n")
        events.wait_kind("reboot", dom.name)
        # Until the new kernel speaks, hostd must be showing the firmware's nearly empty screen,
        # not the old login screen.
        lit_min = lit_before
        while serial_count(dom, "Linux version") < 2:
            lit_min = min(lit_min, lit_pixels(tt.read_ppm(hostd.dump(dom.name))))
            time.sleep(0.05)
        print(f"lit pixels: {lit_before} on the login screen, {lit_min} during the firmware")
        assert lit_min < lit_before * 0.3, "hostd did not show the new boot's firmware screen"
        wait_serial_count(dom, "login:", logins + 1)
        after = hostd.domain(dom.name)
        assert after["attaches"] == attaches, "a reboot must not need a new attachment"
        assert after["consoles"][0]["frames"] > frames
        ht.framebuffer_matches_screenshot(hostd, dom)
        print("guest reboot seen through the same connection")

        # Destroy and start: a new QEMU.
        dom.destroy()
        events.wait_kind("detached", dom.name)
        os.truncate(dom.serial_log, 0)
        dom.start()
        expect_new_boot(hostd, events, dom, 1)
        print("destroy + start: attached again and watched the new boot")

        # QEMU killed: libvirt reports a failure; starting again gives a new QEMU to attach to.
        os.kill(ht.qemu_pid(dom.name), signal.SIGKILL)
        events.wait_kind("detached", dom.name)
        events.wait_kind("stopped", dom.name)
        os.truncate(dom.serial_log, 0)
        dom.start()
        expect_new_boot(hostd, events, dom, 1)
        print("QEMU SIGKILL + start: attached again and watched the new boot")

        attached = sum(1 for w in events.seen if w[:2] == ["attached", dom.name])
        assert attached == 3, f"expected three attachments (start, restart, after SIGKILL), saw {attached}"
        assert hostd.alive()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
