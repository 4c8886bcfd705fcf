#!/usr/bin/python3
"""The display over each link profile: frames per second and bytes on the wire for a scrolling-text
workload, Tandem's UDP transport against its TLS/TCP one, through tandem-linkemu.

The demo desktop boots under hostd, which runs in the emulator's namespace a; root logs in on the
console (typed through hostd's control socket) and starts a loop printing a numbered line every
50 ms, so the text console scrolls 20 times a second. Then for each profile (lan, wan1-4, set on
the running emulator) and transport, a headless tandem-viewer in namespace b watches for
--seconds after a --warmup, and the table shows:
  fps       frames hostd sent that viewer per second (each is a complete, acknowledged update)
  KB/s      IP bytes hostd -> viewer on the link (everything: tiles, acks' replies, DTLS/TLS)
  level     the network auto-detect's level and JPEG quality at the end (UDP; TCP stays static)
  rtt/loss  hostd's view of the link at the end

    bench/bench-display-link.py [--seconds 15] [--warmup 5] [--profiles lan,wan1,wan2,wan3,wan4]
Needs root, namespaces, /dev/net/tun, ./tandem image and ./tandem libvirt-up."""

import argparse
import os
import subprocess
import time

import benchenv  # noqa: F401  (paths, build and image directories)
import hostdtest as ht
import linkemutest as le
import tandemtest as tt
import viewertest as vt
from processes import Processes

BUILD = os.environ["TANDEM_BUILD_DIR"]
LINKEMU = os.path.join(BUILD, "tools", "tandem-linkemu")
SCROLL = 'i=0; while :; do i=$((i+1)); echo "$i the quick brown fox jumps over the lazy dog"; sleep 0.05; done\n'


def viewer_status(hostd, desktop):
    for v in hostd.status().get("viewers", []):
        if v.get("desktop") == desktop and not v.get("detached"):
            return v
    return None


def wait_viewer(hostd, desktop, transport, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = viewer_status(hostd, desktop)
        if v and v.get("transport") == transport and v.get("frames_sent", 0) > 0:
            return v
        time.sleep(0.2)
    raise TimeoutError(f"no {transport} viewer of {desktop} within {timeout} s")


def run(link, hostd, dom, procs, transport, args):
    ticket = hostd.ticket(dom.name)
    total = args.warmup + args.seconds
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    cmd = [vt.tool("tandem-viewer"), "--headless", "--transport", transport, "--timeout", str(total + 60), ticket]
    proc = procs.add(link.popen("b", cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env))
    try:
        wait_viewer(hostd, dom.name, "udp" if transport == "udp" else "tls")
        time.sleep(args.warmup)
        v0, l0, t0 = viewer_status(hostd, dom.name), link.stats()["a2b"], time.monotonic()
        time.sleep(args.seconds)
        v1, l1, t1 = viewer_status(hostd, dom.name), link.stats()["a2b"], time.monotonic()
    finally:
        procs.stop(proc)
    secs = t1 - t0
    return {
        "fps": (v1["frames_sent"] - v0["frames_sent"]) / secs,
        "kbps": (l1["out_bytes"] - l0["out_bytes"]) / secs / 1000,
        "link": v1.get("link", {}),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--profiles", default="lan,wan1,wan2,wan3,wan4")
    args = ap.parse_args()
    tt.require_image()
    le.require()
    keys = vt.Keys()
    print("| profile | transport | fps | KB/s on the link | level / quality | RTT ms | loss |")
    print("|---|---|---|---|---|---|---|")
    with le.LinkEmu(LINKEMU, seed=1, realtime=True) as link, tt.Domain("bench-display-link") as dom, Processes() as procs, \
            ht.context(vt.NamespacedHostd(dom.name, keys, link).start()) as hostd:
        dom.start()
        dom.wait_serial("login:", timeout=180)
        hostd.type_text(dom.name, "root\n")
        time.sleep(2)
        hostd.type_text(dom.name, SCROLL)
        for profile in args.profiles.split(","):
            link.ctl(f"profile {profile}")
            for transport in ("udp", "tcp"):
                r = run(link, hostd, dom, procs, transport, args)
                lk = r["link"]
                level = f"{lk.get('level', '-')} / {lk.get('quality', '-')}" if lk.get("adaptive") else \
                    f"static / {lk.get('quality', '-')}"
                print(f"| {profile} | {transport} | {r['fps']:.1f} | {r['kbps']:.1f} | {level} | "
                      f"{lk.get('rtt_us', 0) / 1000:.0f} | {lk.get('loss', 0) * 100:.2f}% |", flush=True)


if __name__ == "__main__":
    main()
