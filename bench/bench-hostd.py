#!/usr/bin/python3
"""Measures tandem-hostd against real demo desktops under libvirt and prints the figures:
time from `virsh start` to hostd's first frame (and to the BIOS text mode and the login prompt),
hostd's CPU while the screens are static (paused guests: nothing changes) and while they sit at
the login prompt (a blinking text cursor), its wakeups, and its memory per attached desktop
beyond the framebuffer.

usage: bench/bench-hostd.py [--desktops N] [--seconds S]   (needs ./tandem image and libvirt up;
TANDEM_BUILD_DIR defaults to build/, TANDEM_IMAGE_DIR to /var/cache/tandem/image)"""

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
os.environ.setdefault("TANDEM_BUILD_DIR", os.path.join(HERE, "..", "build"))
os.environ.setdefault("TANDEM_IMAGE_DIR", "/var/cache/tandem/image")

import hostdtest as ht  # noqa: E402
import tandemtest as tt  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def measure_idle(pid, seconds):
    cpu0, sw0 = proc_cpu_seconds(pid), proc_status(pid, "voluntary_ctxt_switches")
    time.sleep(seconds)
    cpu1, sw1 = proc_cpu_seconds(pid), proc_status(pid, "voluntary_ctxt_switches")
    return 100.0 * (cpu1 - cpu0) / seconds, (sw1 - sw0) / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--desktops", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=20)
    args = ap.parse_args()
    tt.require_image()

    doms = [tt.Domain(f"bench{i}") for i in range(args.desktops)]
    for d in doms:
        d.define()
    pattern = " ".join(d.name for d in doms)
    hostd = ht.Hostd(pattern, extra="LogLevel=info\n")
    try:
        hostd.start()
        pid = hostd.proc.pid
        time.sleep(1)
        rss_empty = proc_status(pid, "VmRSS")
        events = hostd.events()

        first, text_mode, login = [], [], []
        for d in doms:
            t0 = time.monotonic()
            d.start()
            events.wait_kind("frame", d.name)
            first.append(time.monotonic() - t0)
            events.wait(lambda w, n=d.name: w[:2] == ["mode", n] and w[3:5] == ["720", "400"], what="text mode")
            text_mode.append(time.monotonic() - t0)
            d.wait_serial("login:", timeout=180)
            login.append(time.monotonic() - t0)

        time.sleep(3)  # let thumbnails and the boot's last updates settle
        rss_attached = proc_status(pid, "VmRSS")
        fb_kib = sum(c["width"] * c["height"] * 4 for d in hostd.status()["domains"] for c in d["consoles"]) / 1024
        cpu_login, wake_login = measure_idle(pid, args.seconds)
        for d in doms:
            tt.virsh("suspend", d.name)
        time.sleep(2)
        cpu_static, wake_static = measure_idle(pid, args.seconds)

        print(f"tandem-hostd with {args.desktops} demo desktop(s) under TCG")
        print(f"  virsh start -> hostd first frame: median {statistics.median(first) * 1000:.0f} ms "
              f"(max {max(first) * 1000:.0f} ms)")
        print(f"  virsh start -> BIOS text mode seen: median {statistics.median(text_mode) * 1000:.0f} ms")
        print(f"  virsh start -> login prompt (serial): median {statistics.median(login):.1f} s")
        print(f"  CPU, screens static (guests paused): {cpu_static:.3f}% of one core, "
              f"{wake_static:.2f} wakeups/s")
        print(f"  CPU, guests at the login prompt (cursor blinking): {cpu_login:.3f}% of one core, "
              f"{wake_login:.2f} wakeups/s")
        per_desktop = (rss_attached - rss_empty - fb_kib) / args.desktops
        print(f"  RSS: {rss_empty} KiB watching nothing, {rss_attached} KiB with {args.desktops} attached; "
              f"framebuffers {fb_kib:.0f} KiB; beyond them {per_desktop:.0f} KiB per desktop")
    finally:
        hostd.stop()
        for d in doms:
            d.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
