#!/usr/bin/python3
"""tandem-hostd's CPU per connected viewer while a user types at a shell in the demo desktop.

A demo domain boots under hostd; root logs in on its console and the screen is filled (`seq'), so
that from then on every Enter scrolls the text console. Then, for each N of --viewers (default
0,1,2,4), N headless tandem-viewers connect through a counting TCP relay in this program:

  - one interactive viewer whose script types a line (--text and a line number: `echo the
    quick brown fox 00042') and Enter, one line every --interval ms (the viewer types a
    character every 10 ms), over and over; the numbers make every line differ, so that a scroll
    changes every row of the screen (identical lines would scroll onto themselves);
  - N-1 view-only watchers (no script).

With N = 0 the same lines are typed at the same pace through hostd's control socket (`key'
commands: the same Display1.Keyboard calls the viewer's input ends in), so the guest's screen
changes the same way with no viewer connected. N = 0 is measured first and again last (and in
every round, --rounds); the baseline is the mean of those.

After --warmup seconds, hostd's CPU is measured over --seconds (utime+stime from /proc/PID/stat,
as a % of one core), with the bytes each viewer received (TCP payload, TLS included), the
viewers' own CPU and the display updates hostd got from QEMU. Printed per N: hostd's CPU, its
increase over the baseline, and that increase per viewer, (CPU(N) - CPU(0)) / N.

Needs: ./tandem image, ./tandem libvirt-up, a build (TANDEM_BUILD_DIR, default build-rel/ when it
has been built, else build/). It prints figures and asserts nothing about time."""

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

import benchenv  # noqa: E402,F401  (tests/ on the path, build and image directories)

import hostdtest as ht  # noqa: E402
import tandemtest as tt  # noqa: E402
import viewertest as vt  # noqa: E402
from countrelay import CountingRelay  # noqa: E402
from processes import Processes  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
CTRL, KEY_C = 0x1D, 0x2E
CHAR_INTERVAL = 0.010  # the viewer's `type' sends a character every 10 ms (SCRIPT_TYPE_INTERVAL_USEC)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


class Lines:
    """The lines typed: TEXT and a number that goes up, over the whole run."""

    def __init__(self, text):
        self.text = text
        self.n = 0

    def next(self):
        self.n += 1
        return f"{self.text} {self.n:05d}"

    def longest(self):
        return len(self.text) + 6


class ControlTypist:
    """Types a line of LINES and Enter every INTERVAL seconds through hostd's control socket, at
    the viewer's pace of a character every 10 ms, until stopped."""

    def __init__(self, hostd, domain, lines, interval):
        self.control = hostd.control()
        self.domain = domain
        self.lines = lines
        self.interval = interval
        self.stopping = threading.Event()
        self.error = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _key(self, code, down):
        self.control.request(f"key {self.domain} 0 {'press' if down else 'release'} {code}")

    def _run(self):
        try:
            t = time.monotonic()
            while not self.stopping.is_set():
                for code, shifted in ht.keystrokes(self.lines.next() + "\n"):
                    if shifted:
                        self._key(ht.SHIFT, True)
                    self._key(code, True)
                    self._key(code, False)
                    if shifted:
                        self._key(ht.SHIFT, False)
                    time.sleep(CHAR_INTERVAL)  # whole lines only: the next phase starts on a clean one
                t += self.interval
                self.stopping.wait(max(0.0, t - time.monotonic()))
        except Exception as e:  # reported by stop()
            self.error = e

    def stop(self):
        self.stopping.set()
        self.thread.join(timeout=10)
        self.control.close()
        if self.error:
            raise RuntimeError(f"typing through the control socket failed: {self.error}")


def typing_script(lines, interval, seconds):
    """A viewer script typing a line of LINES and Enter every INTERVAL seconds for about SECONDS."""
    out = ["wait-frame\n"]
    for _ in range(int(seconds / interval) + 1):
        text = lines.next()
        pause = max(0, round((interval - (len(text) + 1) * CHAR_INTERVAL) * 1000))
        out.append(f"type {text.replace(chr(92), chr(92) * 2)}\\n\n" + (f"sleep {pause}\n" if pause else ""))
    return "".join(out) + "exit 0\n"


class Phase:
    def __init__(self, n):
        self.n = n
        self.cpu = None            # hostd, % of one core
        self.down = []             # bytes/s to each viewer (the interactive one first)
        self.up = []               # bytes/s from each viewer
        self.viewer_cpu = []       # % of one core, each viewer
        self.updates = None        # display updates hostd got from QEMU, per second
        self.frames_sent = []      # frames hostd sent each viewer, per second


def console_frames(hostd, domain):
    d = hostd.domain(domain)
    return d["consoles"][0]["frames"] if d and d["consoles"] else 0


def wait_viewers(hostd, n, timeout=30):
    hostd.wait_status(lambda s: len(s["viewers"]) == n, timeout, f"{n} viewer(s) connected")


def measure(hostd, dom, relay, conns, viewers, args, phase):
    """Measures over args.seconds: hostd's CPU, bytes through the relay's connections CONNS
    (indexes), the viewers' CPU, QEMU's updates and hostd's frames per viewer."""
    pid = hostd.proc.pid

    def frames_sent():
        return [v["frames_sent"] for v in hostd.status()["viewers"]]

    before = relay.snapshot()
    vcpu0 = [cpu_seconds(p.pid) for p in viewers]
    frames0, sent0 = console_frames(hostd, dom.name), frames_sent()
    t0, cpu0 = time.monotonic(), cpu_seconds(pid)
    time.sleep(args.seconds)
    t1, cpu1 = time.monotonic(), cpu_seconds(pid)
    frames1, sent1 = console_frames(hostd, dom.name), frames_sent()
    vcpu1 = [cpu_seconds(p.pid) for p in viewers]
    after = relay.snapshot()
    dt = t1 - t0
    phase.cpu = 100.0 * (cpu1 - cpu0) / dt
    phase.updates = (frames1 - frames0) / dt
    phase.down = [(after[i].down - before[i].down) / dt for i in conns]
    phase.up = [(after[i].up - before[i].up) / dt for i in conns]
    phase.viewer_cpu = [100.0 * (b - a) / dt for a, b in zip(vcpu0, vcpu1)]
    if len(sent0) == len(sent1):
        phase.frames_sent = [(b - a) / dt for a, b in zip(sent0, sent1)]
    for p in viewers:
        if p.poll() is not None:
            raise RuntimeError(f"a viewer ended during the measurement (exit {p.returncode}): "
                               f"{p.communicate()[1][-500:]}")


def run_phase(n, hostd, dom, keys, relay, args, lines, stack_procs):
    phase = Phase(n)
    if n == 0:
        typist = ControlTypist(hostd, dom.name, lines, args.interval / 1000)
        try:
            time.sleep(args.warmup)
            measure(hostd, dom, relay, [], [], args, phase)
        finally:
            typist.stop()
        return phase

    viewers = []
    first = len(relay.snapshot())
    try:
        extra = ["--lossless"] if args.lossless else []
        script = os.path.join(keys.dir, f"typist-{n}.txt")  # removed with the keys' directory
        with open(script, "w") as f:
            f.write(typing_script(lines, args.interval / 1000, args.warmup + args.seconds + 60))
        ticket = keys.mint(dom.name, relay.address, cert=hostd.cert, user="typist")
        viewers.append(stack_procs.add(vt.viewer(ticket, None, args=[*extra, "--script", script], timeout=3600)))
        for i in range(1, n):
            ticket = keys.mint(dom.name, relay.address, cert=hostd.cert, user=f"watcher{i}", role="view-only")
            viewers.append(stack_procs.add(vt.viewer(ticket, None, args=extra, timeout=3600)))
        wait_viewers(hostd, n)
        time.sleep(args.warmup)
        conns = list(range(first, first + n))
        if len(relay.snapshot()) != first + n:
            raise RuntimeError("the relay did not see one connection per viewer")
        measure(hostd, dom, relay, conns, viewers, args, phase)
    finally:
        for p in viewers:
            stack_procs.stop(p)
    wait_viewers(hostd, 0)
    # The typist may have been stopped in the middle of a line: Ctrl+C gives the next a clean prompt.
    c = hostd.control()
    try:
        for verb, code in (("press", CTRL), ("press", KEY_C), ("release", KEY_C), ("release", CTRL)):
            c.request(f"key {dom.name} 0 {verb} {code}")
    finally:
        c.close()
    time.sleep(0.5)
    return phase


def mean(xs):
    xs = list(xs)
    return statistics.mean(xs) if xs else None


def report(phases, args, counts):
    zeros = [p.cpu for p in phases if p.n == 0]
    baseline = statistics.mean(zeros)
    print()
    print(f"tandem-hostd CPU per viewer while root types `{args.text} NNNNN' + Enter every {args.interval} ms "
          f"at a shell (the screen scrolls on every Enter)")
    print(f"viewers: {'--lossless' if args.lossless else 'default settings'}; {args.seconds:g} s per measurement "
          f"after {args.warmup:g} s of warm-up, {args.rounds} round(s), means; CPU in % of one core")
    print()
    head = (f"{'viewers':>7} {'hostd CPU':>9} {'- base':>7} {'per viewer':>10} {'QEMU upd/s':>10} "
            f"{'frames/s each':>13} {'KB/s to typist':>14} {'KB/s to watcher':>15} {'KB/s from each':>14} "
            f"{'viewer CPU':>10}")
    print(head)
    print("-" * len(head))

    def col(value, fmt, width):
        return f"{(fmt.format(value) if value is not None else '-'):>{width}}"

    for n in counts:
        ps = [p for p in phases if p.n == n]
        cpu = mean(p.cpu for p in ps)
        delta = cpu - baseline
        print(f"{n:>7} {cpu:8.2f}% {delta:+6.2f}% "
              + col(delta / n if n else None, "{:.2f}%", 10) + " "
              + col(mean(p.updates for p in ps), "{:.1f}", 10) + " "
              + col(mean(f for p in ps for f in p.frames_sent), "{:.1f}", 13) + " "
              + col(mean(p.down[0] / 1000 for p in ps if p.down), "{:.1f}", 14) + " "
              + col(mean(d / 1000 for p in ps for d in p.down[1:]), "{:.1f}", 15) + " "
              + col(mean(u / 1000 for p in ps for u in p.up), "{:.2f}", 14) + " "
              + col(mean(c for p in ps for c in p.viewer_cpu), "{:.2f}%", 10))
    print()
    print(f"base: hostd with no viewer (typing through its control socket), mean of {len(zeros)} measurement(s): "
          f"{baseline:.2f}% ({', '.join(f'{z:.2f}%' for z in zeros)})")
    print("per viewer: (hostd CPU with N viewers - base) / N; QEMU upd/s: display updates hostd took from QEMU;")
    print("frames/s each: frames hostd sent each viewer; KB/s: TCP payload through the relay (TLS included); "
          "viewer CPU: each tandem-viewer's own, mean")
    print("Every measurement (hostd CPU): " + ", ".join(f"{p.n}: {p.cpu:.2f}%" for p in phases))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--viewers", default="0,1,2,4", help="viewer counts to measure (default 0,1,2,4)")
    ap.add_argument("--seconds", type=float, default=20, help="seconds per measurement (default 20)")
    ap.add_argument("--warmup", type=float, default=3, help="seconds before each measurement (default 3)")
    ap.add_argument("--interval", type=int, default=500, help="ms from one typed line to the next (default 500)")
    ap.add_argument("--text", default="echo the quick brown fox",
                    help="the line typed, before its number (default: %(default)s)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="measure every N this many times, in turn (default 1); figures are means")
    ap.add_argument("--lossless", action="store_true", help="run the viewers with --lossless")
    ap.add_argument("--shots", metavar="DIR", help="save `virsh screenshot' after each measurement in DIR (PNG)")
    args = ap.parse_args()
    try:
        counts = [int(x) for x in args.viewers.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--viewers: not a list of numbers: {args.viewers}")
    if not counts or min(counts) < 0 or args.seconds <= 0 or args.interval <= 0:
        ap.error("--viewers needs counts >= 0, --seconds and --interval positive values")
    if any(ch not in ht.KEYCODES and ch.lower() not in ht.KEYCODES and ch not in ht._SHIFTED for ch in args.text):
        ap.error("--text: only US-layout printable ASCII")
    lines = Lines(args.text)
    if (lines.longest() + 1) * CHAR_INTERVAL > args.interval / 1000:
        ap.error("--text takes longer to type than --interval")
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    counts = [0] + [n for n in dict.fromkeys(counts) if n != 0]
    order = counts * args.rounds + [0]  # the baseline again at the end
    tt.require_image()
    print(f"build: {os.path.relpath(os.environ['TANDEM_BUILD_DIR'])}; image: {os.environ['TANDEM_IMAGE_DIR']}; "
          f"domain type: {tt.domain_type()}; {os.cpu_count()} CPUs")

    procs = Processes()
    keys_dir = tempfile.mkdtemp(prefix="tandem-bench-keys-")
    phases = []
    try:
        with contextlib.ExitStack() as stack:
            keys = vt.Keys(keys_dir)
            dom = stack.enter_context(tt.Domain("viewer-cpu"))
            hostd = vt.ViewerHostd(dom.name, keys, extra="LogLevel=info\n")
            stack.callback(shutil.rmtree, hostd.dir, True)
            hostd.start()
            stack.callback(hostd.stop)
            dom.start()
            dom.wait_serial("login:", timeout=180)
            ht.wait_console(hostd, dom.name)
            time.sleep(1)
            hostd.type_text(dom.name, "root\n")
            time.sleep(2)
            hostd.type_text(dom.name, "seq 1 40\n")  # a full screen: every Enter from now on scrolls
            time.sleep(2)
            ht.wait_file(hostd.cert)
            relay = CountingRelay(("127.0.0.1", hostd.port))
            stack.callback(relay.close)
            stack.callback(procs.close)
            for n in order:
                phase = run_phase(n, hostd, dom, keys, relay, args, lines, procs)
                phases.append(phase)
                if args.shots:
                    os.makedirs(args.shots, exist_ok=True)
                    tt.write_png(os.path.join(args.shots, f"{len(phases):02d}-viewers-{n}.png"), dom.screenshot())
                print(f"{n} viewer(s): hostd {phase.cpu:.2f}% of a core, "
                      f"{sum(phase.down) / 1000:.1f} KB/s to the viewers, {phase.updates:.1f} QEMU updates/s",
                      flush=True)
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        procs.close()
        shutil.rmtree(keys_dir, ignore_errors=True)
    report(phases, args, counts)
    return 0


if __name__ == "__main__":
    sys.exit(main())
