#!/usr/bin/python3
"""The queue tandem-linkemu reports for a perfectly paced sender: the floor its own timing (TUN
reads in batches after a wake-up, the serializer stamped at read time) puts under any transport's
figure on the lan profile (0.2 ms, 1 Gbit/s; queue target 0.05 ms).

bench/bench-paced-udp sends 1200-byte datagrams at each fraction of the link's rate from
namespace a to b; the emulator's a->b queue is sampled every 100 ms as bench-transport.py does.

    bench/bench-linkemu-floor.py [--seconds 10] [--fractions 0.85,0.9,0.95] [--modes spin,sleep]
                                 [--profile lan] [--no-realtime]
(the emulator runs with --realtime, SCHED_FIFO, as bench-transport.py runs it; --no-realtime keeps
it in the normal scheduling class, as the tests run it: the difference is the queue its late
wake-ups make.)"""

import argparse
import subprocess
import json
import os
import threading
import time

import benchenv  # noqa: F401  (sets up paths)
import linkemutest as le
from processes import Processes

BUILD = os.environ["TANDEM_BUILD_DIR"]
PACED = os.path.join(BUILD, "bench", "bench-paced-udp")
LINKEMU = os.path.join(BUILD, "tools", "tandem-linkemu")


def sample(link, start, end, out):
    while time.monotonic() < end:
        if time.monotonic() >= start:
            try:
                out.append(link.stats()["a2b"])
            except Exception:
                pass
        time.sleep(0.1)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--fractions", default="0.85,0.9,0.95")
    ap.add_argument("--modes", default="spin,sleep")
    ap.add_argument("--profile", default="lan")
    ap.add_argument("--no-realtime", action="store_true")
    args = ap.parse_args()
    le.require()
    print("| profile | sender | rate | queue ms mean | queue ms max sample | link drops | sent | late mean us | late p99 us | emulator CPU |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with Processes() as procs:
        for mode in args.modes.split(","):
            for frac in map(float, args.fractions.split(",")):
                with le.LinkEmu(LINKEMU, profile=args.profile, realtime=not args.no_realtime) as link:
                    rate = link.params()["a2b"]["rate_bps"]
                    r = procs.add(link.popen("b", [PACED, "recv", link.addr_b, "9600", str(args.seconds + 3)],
                                             stdout=subprocess.PIPE, text=True))
                    le.wait_line(r, "listening")
                    s = procs.add(link.popen("a", [PACED, "send", link.addr_b, "9600", str(int(rate * frac)),
                                                   str(args.seconds), mode],
                                             stdout=subprocess.PIPE, text=True))
                    samples = []
                    t0 = time.monotonic()
                    c0 = cpu_seconds(link.proc.pid)
                    th = threading.Thread(target=sample, args=(link, t0 + 1, t0 + args.seconds - 0.5, samples))
                    th.start()
                    out, _ = s.communicate(timeout=args.seconds + 30)
                    th.join()
                    emu_cpu = (cpu_seconds(link.proc.pid) - c0) / (time.monotonic() - t0)
                    res = json.loads(out.strip().splitlines()[-1])
                    r.communicate(timeout=30)
                    q = [x["queue_ms"] for x in samples]
                    drops = samples[-1]["dropped_packets"] if samples else {}
                    print(f"| {args.profile}{' (emulator not realtime)' if args.no_realtime else ''} | {mode} | {frac * 100:.0f}% | {sum(q) / max(len(q), 1):.3f} | "
                          f"{max(q, default=0):.3f} | {sum(drops.values())} | {res['sent'] * 100 / (res['sent'] + res['skipped']):.0f}% | "
                          f"{res['late_mean_us']:.1f} | "
                          f"{res['late_p99_us']} | {emu_cpu * 100:.0f}% |", flush=True)


if __name__ == "__main__":
    main()
