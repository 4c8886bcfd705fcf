#!/usr/bin/env python3
"""Hang scenarios with the real demo guest under TCG, watched by tandem-hang-watch (the broker's
sampler, hang detector and power operations on one host):

  - the domain suspended                  -> vm-hang (paused), reset (a new QEMU), boots again
  - QEMU killed with SIGKILL              -> vm-hang (shut off), reset (started), boots again
  - QEMU stopped with SIGSTOP             -> vm-hang (libvirt calls time out), power cycle, boots
  - kernel panic (sysrq 'c' typed at the root shell)
                                          -> os-hang (display stuck while input is sent), reset
  - a desktop that breaks after every reset: at most --max-resets resets, then one alert, and no
    more resets (no reboot loop)
  - kernel panic with the demo's panic=10: suspected, reboots by itself within the grace, not reset

This test plays hostd's part for the display: it presses Enter on the guest's console through
libvirt and compares screenshots before and after, reporting `input' and `display' to the tool
(hostd will report both to the broker). The guest's kernel gets panic=0 for the panic that must be
acted on: the demo's panic=10 reboots it by itself after 10 s, before the grace is over (the last
scenario checks exactly that).
"""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostdtest as ht  # noqa: E402
import tandemtest as tt  # noqa: E402

BUILD = os.environ.get("TANDEM_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "build"))
TOOL = os.path.join(BUILD, "broker", "tandem-hang-watch")
GRACE = 4
DISPLAY_THRESHOLD = 200  # pixels; the text cursor's blink changes 18


class HangDomain(tt.Domain):
    panic = "panic=0"

    def xml(self):
        xml = super().xml().replace("panic=10", self.panic)
        # Keep the serial log across new QEMUs, to count boots.
        return re.sub(r"<source path='([^']*)'/>", r"<source path='\1' append='on'/>", xml)

    def logins(self):
        with open(self.serial_log, errors="replace") as f:
            return f.read().count("login:")

    def wait_logins(self, n, timeout=120):
        t0 = time.monotonic()
        while self.logins() < n:
            if time.monotonic() - t0 > timeout:
                raise TimeoutError(f"{self.name}: {n} boots to login: not seen; serial:\n"
                                   f"{tt.tail(self.serial_log)}")
            time.sleep(0.2)

    def qemu_pid(self):
        with open(f"/run/libvirt/qemu/{self.name}.pid") as f:
            return int(f.read().strip())


_typing = threading.Lock()  # one line at a time: the reporter's and the test's never mix


def type_text(name, text):
    with _typing:
        for code, shifted in ht.keystrokes(text):
            tt.virsh("send-key", name, "--codeset", "xt", *([str(ht.SHIFT)] if shifted else []), str(code))


def pixels_changed(a, b):
    if (a.width, a.height) != (b.width, b.height):
        return a.width * a.height
    return sum(1 for i in range(0, len(a.data), 3) if a.data[i:i + 3] != b.data[i:i + 3])


class Watcher:
    """tandem-hang-watch watching one domain; its JSON lines collected as they come."""

    def __init__(self, dom, *args):
        self.dom = dom
        cmd = [TOOL, "watch", tt.URI, "--domain", dom.name, "--grace", str(GRACE),
               "--interval", "0.5", "--deadline", "2", *args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self.events = []
        self.cond = threading.Condition()
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        self.wait(lambda e: e["event"] == "watching", 30)

    def _read(self):
        for line in self.proc.stdout:
            ev = json.loads(line)
            print("  watch:", line.strip()[:300])
            with self.cond:
                self.events.append(ev)
                self.cond.notify_all()

    def report(self, what):
        with self.lock:
            self.proc.stdin.write(f"{what} {self.dom.name}\n")
            self.proc.stdin.flush()

    def wait(self, pred, timeout=120, start=0):
        """The first event from index start that matches; returns (index, event)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.events)):
                    if pred(self.events[i]):
                        return i, self.events[i]
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise TimeoutError(f"no matching event in {timeout} s; stderr: "
                                       f"{self.proc.stderr.read() if self.proc.poll() is not None else ''}")
                self.cond.wait(left)

    def matching(self, pred):
        with self.cond:
            return [e for e in self.events if pred(e)]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        assert self.proc.returncode == 0, f"tandem-hang-watch exited {self.proc.returncode}: {self.proc.stderr.read()}"


class DisplayReporter(threading.Thread):
    """hostd's display reports: a command typed on the console, then did the screen change? The
    command's output scrolls the whole screen in a shell that answers (an Enter alone adds a
    prompt of a few characters: too close to the cursor's blink)."""

    def __init__(self, watcher, dom):
        super().__init__(daemon=True)
        self.watcher, self.dom = watcher, dom
        self.stop_event = threading.Event()

    def run(self):
        prev = None
        while not self.stop_event.is_set():
            try:
                if prev is None:
                    prev = self.dom.screenshot("before")
                type_text(self.dom.name, "ls -1 /bin\n")
                self.watcher.report("input")
                time.sleep(0.8)
                cur = self.dom.screenshot("after")
                if pixels_changed(prev, cur) > DISPLAY_THRESHOLD:
                    self.watcher.report("display")
                prev = cur
            except (RuntimeError, ValueError, OSError):
                prev = None  # between two QEMUs: no screen for a moment
            time.sleep(0.5)

    def stop(self):
        self.stop_event.set()
        self.join(timeout=30)


def decision(verdict, cls=None, record=None):
    def pred(e):
        if e["event"] != "decision":
            return False
        d = e["decision"]
        return (d["verdict"] == verdict and (cls is None or d["class"] == cls)
                and (record is None or e["record"] == record))
    return pred


def signals(ev):
    return {s["signal"]: s for s in ev["decision"]["signals"]}


def power_ok(op):
    return lambda e: e["event"] == "power" and e.get("op") == op and e.get("result") == "ok"


def expect_reset(w, dom, cls, signal_name, op, boots_before):
    """A reset decision with its evidence once the grace is over (usually after a suspect one;
    not always: a signal dates from the last evidence of health, so on a loaded machine its first
    observation can come after the grace), the power operation done, the guest back at its login
    prompt, and the recovery recorded."""
    i, reset = w.wait(decision("reset", cls, record=True))
    assert signal_name in signals(reset), reset
    sig = signals(reset)[signal_name]
    assert reset["decision"]["for_ms"] >= GRACE * 1000, reset
    assert reset["decision"]["actions_last_hour"] == 1
    i, _ = w.wait(power_ok(op), start=i)
    dom.wait_logins(boots_before + 1)
    w.wait(lambda e: e["event"] == "decision" and e["decision"]["why"] == "recovered", start=i)
    print(f"  {cls} via {signal_name} ({sig['detail']}): reset after {reset['decision']['for_ms']} ms, "
          f"{op} done, guest back at login:")
    return sig


def scenario_suspend(dom):
    print("suspend")
    w = Watcher(dom)
    try:
        boots = dom.logins()
        tt.virsh("suspend", dom.name)
        sig = expect_reset(w, dom, "vm-hang", "paused", "reset", boots)
        assert sig["detail"] == "user"
        assert dom.state() == "running"
    finally:
        w.stop()


def scenario_sigkill(dom):
    print("SIGKILL")
    w = Watcher(dom)
    try:
        boots = dom.logins()
        os.kill(dom.qemu_pid(), signal.SIGKILL)
        sig = expect_reset(w, dom, "vm-hang", "shutoff", "reset", boots)
        assert sig["detail"] in ("crashed", "failed", "unknown", "destroyed"), sig
        assert dom.state() == "running"
    finally:
        w.stop()


def scenario_sigstop(dom):
    print("SIGSTOP")
    w = Watcher(dom)
    try:
        boots = dom.logins()
        pid = dom.qemu_pid()
        os.kill(pid, signal.SIGSTOP)
        try:
            sig = expect_reset(w, dom, "vm-hang", "unresponsive", "cycle", boots)
        finally:
            try:
                os.kill(pid, signal.SIGCONT)  # the old QEMU, if the test failed before it died
            except ProcessLookupError:
                pass
        assert sig["outstanding_ms"] >= 2000, sig
        assert dom.qemu_pid() != pid
    finally:
        w.stop()


def login(dom):
    type_text(dom.name, "root\n")
    time.sleep(1.5)
    token = f"READY{dom.logins()}"
    type_text(dom.name, f"echo {token} | tee /dev/ttyS0\n")
    dom.wait_serial(token, 60)


def scenario_panic(dom):
    print("kernel panic")
    login(dom)
    w = Watcher(dom)
    reporter = DisplayReporter(w, dom)
    reporter.start()
    try:
        boots = dom.logins()
        time.sleep(3)  # a healthy shell answers: no decision
        assert not w.matching(lambda e: e["event"] == "decision" and e["decision"]["verdict"] != "healthy"), \
            "a healthy shell was suspected"
        assert not w.matching(lambda e: e["event"] == "error")
        type_text(dom.name, "echo c > /proc/sysrq-trigger\n")
        dom.wait_serial("Kernel panic", 60)
        sig = expect_reset(w, dom, "os-hang", "display-stuck", "reset", boots)
        assert sig["inputs_unanswered"] >= 3, sig
    finally:
        reporter.stop()
        w.stop()


def scenario_panic_reboots(dom):
    """The demo's own panic=10: the kernel reboots by itself 10 s after the panic, inside a 20 s
    grace. Suspected as an OS hang, then the new boot answers: no reset."""
    print("kernel panic, panic=10")
    login(dom)
    w = Watcher(dom, "--grace", "20")
    reporter = DisplayReporter(w, dom)
    reporter.start()
    try:
        boots = dom.logins()
        time.sleep(2)
        type_text(dom.name, "echo c > /proc/sysrq-trigger\n")
        dom.wait_serial("Kernel panic", 60)
        i, suspect = w.wait(decision("suspect", "os-hang"))
        dom.wait_logins(boots + 1)  # rebooted by itself
        w.wait(decision("healthy"), start=i)
        time.sleep(25)  # past the grace counted from the suspicion
        assert not w.matching(decision("reset")), "a guest that rebooted by itself was reset"
        assert not w.matching(lambda e: e["event"] == "power")
        print(f"  suspected after {suspect['decision']['for_ms']} ms, rebooted by itself, not reset")
    finally:
        reporter.stop()
        w.stop()


def scenario_no_loop(dom):
    """Suspended again as soon as each reset has brought it back: two resets, then the cap."""
    print("no reboot loop")
    w = Watcher(dom, "--max-resets", "2", "--backoff", "2")
    try:
        tt.virsh("suspend", dom.name)
        i = 0
        resets = []
        for _ in range(2):
            i, ev = w.wait(decision("reset", "vm-hang", record=True), start=i)
            resets.append(ev["decision"]["at_usec"])
            i, _ = w.wait(power_ok("reset"), start=i)
            tt.virsh("suspend", dom.name)
        i, alert = w.wait(decision("alert", "vm-hang", record=True), start=i)
        assert alert["decision"]["why"] == "reset cap reached", alert
        assert alert["decision"]["actions_last_hour"] == 2
        # The second reset waited for the grace and at least the backoff after the first.
        assert resets[1] - resets[0] >= max(GRACE, 2) * 1000000
        # Watch a while longer: it stays suspended, alerted once, never reset again.
        time.sleep(3 * GRACE)
        assert len(w.matching(decision("reset"))) == 2
        assert len(w.matching(decision("alert", record=True))) == 1
        assert len(w.matching(lambda e: e["event"] == "power")) == 2
        assert dom.state() == "paused"
        print(f"  2 resets {(resets[1] - resets[0]) / 1e6:.1f} s apart, then one alert and no more resets")
    finally:
        w.stop()


def main():
    tt.require_image()
    if not os.access(TOOL, os.X_OK):
        print(f"skip: {TOOL} not built")
        sys.exit(tt.SKIP)
    # TANDEM_HANG_SCENARIOS=panic,sigstop runs only those (when working on one).
    only = os.environ.get("TANDEM_HANG_SCENARIOS")
    wanted = lambda name: not only or name in only.split(",")  # noqa: E731
    with HangDomain("hang") as dom:
        dom.start()
        dom.wait_logins(1)
        for name, run in (("suspend", scenario_suspend), ("sigkill", scenario_sigkill),
                          ("sigstop", scenario_sigstop), ("panic", scenario_panic),
                          ("no-loop", scenario_no_loop)):
            if wanted(name):
                run(dom)
    if wanted("panic-reboots"):
        class SelfRebooting(HangDomain):
            panic = "panic=10"
        with SelfRebooting("hang-reboot") as dom:
            dom.start()
            dom.wait_logins(1)
            scenario_panic_reboots(dom)
    print("ok")


if __name__ == "__main__":
    main()
