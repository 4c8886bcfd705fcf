#!/usr/bin/env python3
"""Clipboard round-trip latency through tandem-guestd-session, against Xvfb with a real X client
(xclip) on the X side and the benchmark as the peer (the root daemon's side of the agent
protocol, on a socketpair).

  host -> X   from the peer's clipboard-grab until `xclip -o` has written every byte: the
              helper takes the selection, xclip asks for it, the helper requests it from the
              peer, the peer sends the chunks, the helper answers xclip (INCR for the PNG)
  X -> host   from starting `xclip -i` until the peer has every byte: xclip takes the
              selection, the helper sees the owner change, asks for TARGETS, sends the grab, the
              peer requests, the helper converts (INCR when xclip uses it) and sends the chunks
  X only      the same payload from `xclip -i` to `xclip -o` without the helper in the path:
              what xclip's start and X itself cost, to read the rows above against

Payloads: 1 KiB of text and a 1 MiB PNG. Prints p50 and p99 in milliseconds.

    TANDEM_BUILD_DIR=build bench/bench-clipboard.py [--rounds N]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
import x11test  # noqa: E402

TEXT, PNG = 0, 1


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]


def xclip_out(desk, target):
    return subprocess.Popen(["xclip", "-selection", "clipboard", "-o", "-t", target], env=desk.env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def host_to_x(desk, serial, fmt, target, data):
    peer = desk.peer
    t0 = time.perf_counter()
    peer.send("clipboard-grab", serial=serial, formats=1 << fmt)
    # The helper owns the selection once it answered what follows the grab: a resize to 0x0 is
    # refused after a few round trips.
    peer.send("resize-request", serial=serial, width=0, height=0)
    peer.wait_name("resize-done", serial=serial)
    p = xclip_out(desk, target)
    peer.serve_clipboard(serial, {fmt: data})
    out = p.communicate(timeout=60)[0]
    t1 = time.perf_counter()
    assert out == data, (len(out), len(data))
    return t1 - t0


def x_to_host(desk, fmt, target, path, data):
    peer = desk.peer
    t0 = time.perf_counter()
    desk.copy(path=path, target=target)
    grab = peer.wait_name("clipboard-grab")
    got = peer.fetch_clipboard(grab["serial"], fmt, timeout=60)
    t1 = time.perf_counter()
    assert got == data
    return t1 - t0


def x_only(desk, target, path, data):
    t0 = time.perf_counter()
    desk.copy(path=path, target=target)
    out = xclip_out(desk, target).communicate(timeout=60)[0]
    t1 = time.perf_counter()
    assert out == data
    return t1 - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    x11test.require_tools(wm=False)
    text = (b"0123456789abcdef" * 64)[:1024]
    image = x11test.png(620, 570, seed=3)
    print(f"tandem-guestd-session clipboard round trips, {args.rounds} rounds each (helper from "
          f"{os.path.normpath(x11test.build_dir())}, text {len(text)} B, PNG {len(image)} B)")
    with x11test.Desktop(wm=False, log_level="info") as desk:
        desk.peer.wait_name("hello")
        serial = 1000
        for label, fmt, target, data in (("text 1 KiB", TEXT, "UTF8_STRING", text),
                                         ("PNG 1 MiB", PNG, "image/png", image)):
            path = os.path.join(desk.tmp, "payload")
            with open(path, "wb") as f:
                f.write(data)
            for direction in ("host -> X", "X -> host", "X only"):
                ms = []
                for _ in range(args.rounds):
                    serial += 1
                    desk.peer.queue.clear()
                    if direction == "host -> X":
                        t = host_to_x(desk, serial, fmt, target, data)
                    elif direction == "X -> host":
                        t = x_to_host(desk, fmt, target, path, data)
                    else:
                        t = x_only(desk, target, path, data)
                    ms.append(t * 1000)
                print(f"  {label:10s} {direction:9s}  p50 {pct(ms, 50):7.2f} ms  p99 {pct(ms, 99):7.2f} ms  "
                      f"(mean {statistics.mean(ms):.2f}, max {max(ms):.2f})", flush=True)


if __name__ == "__main__":
    main()
