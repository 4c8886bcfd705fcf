#!/usr/bin/python3
"""Tandem's UDP transport against TLS over Linux TCP (Cubic), side by side in one run, through
tandem-linkemu (packet-level: delay, random loss, a rate limit with a bounded queue) for the four
WAN profiles Microsoft used for RemoteFX and a clean LAN.

For each profile and transport, build/bench/bench-transport sends bulk messages plus a 100-byte
message every 20 ms from namespace a to namespace b for --seconds after a warm-up, and reports:
  goodput   payload delivered / link rate          targets: >= 90% at 1% loss, >= 80% at 5%
  p50, p99  one-way delay of the small messages    target p99 <= RTT/2 + 50 ms
  queue     mean queueing delay at the bottleneck, sampled from the emulator every 100 ms
                                                   target <= 25% of the minimum RTT
  CPU s/GB  each end's CPU time (user + system) in its window per GB of payload it sent or got
Then one Tandem flow and one TCP flow share the 5 Mbit/s profile (bulk only): Jain's fairness
index of their goodputs, target >= 0.9. (--fairness-pair tcp,tcp runs two Cubic flows instead, on the
same link and seeds: how much the index varies between runs when both flows are TCP. udp,udp: two
Tandem flows.)

    bench/bench-transport.py [--seconds 20] [--warmup 5] [--profiles lan,wan1,...] [--no-fairness]
                             [--transports udp,tcp] [--reverse] [--fairness-runs N]
                             [--fairness-pair udp,tcp]
(--profiles '' runs only the fairness test; the profile loopback, not in the default list, runs
both ends on 127.0.0.1 without the emulator.)
Needs root, network namespaces and /dev/net/tun (as the link emulator's tests)."""

import argparse
import json
import os
import subprocess
import tempfile
import threading
import time

import benchenv  # noqa: F401  (sets up paths)
import linkemutest as le
from processes import Processes

BUILD = os.environ["TANDEM_BUILD_DIR"]
BENCH = os.path.join(BUILD, "bench", "bench-transport")
LINKEMU = os.path.join(BUILD, "tools", "tandem-linkemu")

# name: (RTT ms, rate bit/s, loss)
PROFILES = {
    "wan1": (60, 5e6, 0.01),
    "wan2": (250, 3e6, 0.01),
    "wan3": (100, 256e3, 0.005),
    "wan4": (200, 1e6, 0.05),
    "lan": (0.2, 1e9, 0.0),
    # No emulator: both ends in this namespace on 127.0.0.1 (the rate only scales the goodput
    # column). What the transports cost per byte without the emulator's forwarder.
    "loopback": (0.0, 1e10, 0.0),
}


class Loopback:
    """Stands in for a LinkEmu: no namespaces, no link, nothing dropped."""
    addr_a = addr_b = "127.0.0.1"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def popen(self, side, args, **kw):
        return subprocess.Popen(args, **kw)

    def stats(self):
        return {"a2b": {"queue_ms": 0.0, "dropped_packets": {}}}


class QueueSampler(threading.Thread):
    """Mean of the emulator's a->b queue delay over the measured window."""

    def __init__(self, link, start, end):
        super().__init__(daemon=True)
        self.link, self.start_t, self.end_t = link, start, end
        self.samples = []
        self.first = self.last = None  # (time, a->b stats)

    def run(self):
        while time.monotonic() < self.end_t:
            if time.monotonic() >= self.start_t:
                try:
                    st = self.link.stats()["a2b"]
                    self.samples.append(st["queue_ms"])
                    self.last = (time.monotonic(), st)
                    self.first = self.first or self.last
                except Exception:
                    pass
            time.sleep(0.1)

    def busy(self, rate):
        """The fraction of the link's capacity the bottleneck carried (IP packets) while measured,
        and the a->b drops at its queue meanwhile; random loss is drawn before the queue and takes
        no capacity."""
        if not self.first or self.last[0] <= self.first[0] or not rate or "in_bytes" not in self.first[1]:
            return float("nan"), 0
        (t0, a), (t1, b) = self.first, self.last
        carried = (b["in_bytes"] - b["dropped_bytes"]) - (a["in_bytes"] - a["dropped_bytes"])
        q = lambda s: s["dropped_packets"].get("queue", 0) + s["dropped_packets"].get("overflow", 0)
        return carried * 8 / (rate * (t1 - t0)), q(b) - q(a)

    def mean(self):
        return sum(self.samples) / len(self.samples) if self.samples else float("nan")


def make_cert(d):
    crt, key = os.path.join(d, "c.pem"), os.path.join(d, "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", key, "-out", crt, "-subj", "/CN=bench", "-days", "2"], check=True,
                   capture_output=True)
    return crt, key


def flows(link, procs, specs, args, crt, key):
    """Runs one flow per (transport, port, small) together; returns the receivers' JSON and the
    queue sampler."""
    recvs = []
    for transport, port, small in specs:
        rev = ["--reverse"] if args.reverse and transport == "udp" else []
        # Reversed, the sender (in a) binds its own address and the receiver connects to it.
        addr = link.addr_a if rev else link.addr_b
        argv = [BENCH, "recv", transport, "--addr", addr, "--port", str(port), "--cert", crt, "--key", key,
                "--warmup", str(args.warmup), "--seconds", str(args.seconds)] + rev
        p = procs.add(link.popen("b", argv, stdout=subprocess.PIPE, text=True))
        le.wait_line(p, "listening")
        recvs.append(p)
    t0 = time.monotonic()
    sender_err = []
    senders = []
    for transport, port, small in specs:
        rev = ["--reverse", "--key", key] if args.reverse and transport == "udp" else []
        addr = link.addr_a if rev else link.addr_b
        argv = [BENCH, "send", transport, "--addr", addr, "--port", str(port), "--cert", crt,
                "--warmup", str(args.warmup), "--seconds", str(args.seconds)] + ([] if small else ["--no-small"]) + rev
        senders.append(procs.add(link.popen("a", argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)))
    sampler = QueueSampler(link, t0 + args.warmup + 0.5, t0 + args.warmup + args.seconds)
    sampler.start()
    results = []
    for p in recvs:
        out, _ = p.communicate(timeout=args.warmup + args.seconds + 120)
        results.append(json.loads(out.strip().splitlines()[-1]))
    for s in senders:
        try:
            _, err = s.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            procs.stop(s)
            err = ""
        sender_err.append(err)
        procs.stop(s)
    sampler.join()
    drops = link.stats()["a2b"]["dropped_packets"]
    for r in results:
        r["link_drops"] = drops
        rate = link.params()["a2b"]["rate_bps"] if hasattr(link, "params") else 0
        r["link_busy"], r["queue_drops_measured"] = sampler.busy(rate)
    for r, err in zip(results, sender_err):
        for line in err.splitlines():
            if line.startswith("{"):
                r.update(json.loads(line))
    return results, sampler.mean()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--profiles", default="wan1,wan2,wan3,wan4,lan")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-fairness", action="store_true")
    ap.add_argument("--fairness-runs", type=int, default=1, help="repeat the fairness test, seeds seed, seed+1, ...")
    ap.add_argument("--transports", default="udp,tcp", help="which of udp,tcp to run per profile")
    ap.add_argument("--fairness-pair", default="udp,tcp",
                    help="the two flows that share the link: tcp,tcp measures how fair two Cubic flows are "
                         "to each other on the same link and seeds, the yardstick for Tandem's index")
    ap.add_argument("--reverse", action="store_true",
                    help="udp: the receiver is the DTLS client and the sender the server, as viewer and hostd")
    args = ap.parse_args()
    le.require()
    for exe in (BENCH, LINKEMU):
        if not os.path.exists(exe):
            raise SystemExit(f"{exe} is missing: build first (meson compile -C {BUILD})")

    rows = []
    with tempfile.TemporaryDirectory() as d, Processes() as procs:
        crt, key = make_cert(d)
        for name in filter(None, args.profiles.split(",")):
            rtt, rate, loss = PROFILES[name]
            for transport in filter(None, args.transports.split(",")):
                link = Loopback() if name == "loopback" else le.LinkEmu(LINKEMU, profile=name, seed=args.seed, realtime=True)
                with link:
                    (res,), queue = flows(link, procs, [(transport, 9500, True)], args, crt, key)
                rows.append((name, rtt, rate, loss, transport, res, queue))
                print_row(*rows[-1], header=len(rows) == 1)
        if not args.no_fairness:
            if sorted(args.fairness_pair.split(",")) not in (["tcp", "udp"], ["tcp", "tcp"], ["udp", "udp"]):
                raise SystemExit("--fairness-pair: two of udp, tcp (udp,tcp, tcp,tcp or udp,udp)")
            jains = []
            for i in range(args.fairness_runs):
                jains.append(fairness(procs, args, crt, key, args.seed + i))
            if len(jains) > 1:
                print(f"fairness over {len(jains)} runs: Jain's index min {min(jains):.3f}, "
                      f"mean {sum(jains) / len(jains):.3f}, max {max(jains):.3f}")


def fairness(procs, args, crt, key, seed):
    kinds = args.fairness_pair.split(",")
    with le.LinkEmu(LINKEMU, profile="wan1", seed=seed, realtime=True) as link:
        (u, t), queue = flows(link, procs, [(kinds[0], 9500, False), (kinds[1], 9501, False)], args, crt, key)
    x, y = u["goodput_bps"], t["goodput_bps"]
    jain = (x + y) ** 2 / (2 * (x * x + y * y)) if x + y > 0 else 0
    names = [{"udp": "Tandem", "tcp": "TCP"}[k] for k in kinds]
    print(f"\nfairness on wan1 (60 ms, 5 Mbit/s, 1%), seed {seed}, {args.seconds:.0f} s, bulk only: "
          f"{names[0]} {x / 1e6:.2f} Mbit/s, {names[1]} {y / 1e6:.2f} Mbit/s, Jain's index {jain:.3f} "
          f"(target >= 0.9), mean queue {queue:.1f} ms, link busy {u['link_busy'] * 100:.1f}%", flush=True)
    if "rudp_sender" in u:
        s = u["rudp_sender"]
        print(f"  Tandem's view: min RTT {s['min_rtt_ms']:.0f} ms, srtt {s['srtt_ms']:.0f} ms, "
              f"bw {s['bw_bps'] / 1e6:.2f} Mbit/s, loss {s['loss'] * 100:.2f}%, sent {s['packets_sent']}, "
              f"lost {s['packets_lost']}", flush=True)
    return jain

def print_row(name, rtt, rate, loss, transport, res, queue, header=False):
    if header:
        print("| profile | transport | goodput | Mbit/s | p50 ms | p99 ms | p99 target | queue ms | "
              "queue target | CPU s/GB send | CPU s/GB recv | transport's view |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    good = res["goodput_bps"] / rate
    view = ""
    if "rudp_sender" in res:
        s = res["rudp_sender"]
        view = (f"min RTT {s['min_rtt_ms']:.{1 if s['min_rtt_ms'] < 10 else 0}f} ms, srtt {s['srtt_ms']:.1f} ms, bw {s['bw_bps'] / 1e6:.2f} Mbit/s, loss {s['loss'] * 100:.2f}%, "
                f"FEC {s['fec_k']}/{s['fec_m']}, resent {s['retransmits']}, FEC rebuilt {s['fec_peer_recovered']}")
    elif "tcp" in res:
        view = f"RTT {res['tcp']['rcv_rtt_ms']:.0f} ms (receiver's estimate)"
    drops = res.get("link_drops", {})
    view += f"; link drops a->b: random {drops.get('loss', 0)}, queue {drops.get('queue', 0) + drops.get('overflow', 0)}"
    view += f"; measured: link busy {res['link_busy'] * 100:.1f}%, queue drops {res['queue_drops_measured']}"
    sm = res["small"]

    def cpu(c):
        return f"{c['s_per_gb']:.2f}" if c else "-"

    print(f"| {name} ({rtt:g} ms, {rate / 1e6:g} Mbit/s, {loss * 100:g}%) | {transport} | {good * 100:.1f}% | "
          f"{res['goodput_bps'] / 1e6:.2f} | {sm['p50_ms']:.1f} | {sm['p99_ms']:.1f} | {rtt / 2 + 50:.0f} | "
          f"{queue:.2f} | {rtt / 4:.2f} | {cpu(res.get('sender_cpu'))} | {cpu(res.get('cpu'))} | {view} |", flush=True)


if __name__ == "__main__":
    main()
