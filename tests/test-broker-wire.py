#!/usr/bin/env python3
"""tandem-broker with Libvirt=yes on the real libvirtd: a tiny diskless domain (QEMU sits in its
firmware; no image needed) placed as a desktop of a pool with a 1 s grace and one reset an hour.

  - the broker samples it running and marks it healthy;
  - it is suspended behind the broker's back -> health vm-hang, a `reset' event whose evidence
    has cause vm-hang and the paused signal, the broker's reset runs it again (a new QEMU), and
    GET /metrics counts the reset by its cause;
  - it is destroyed behind the broker's back -> the cap (1 an hour) is reached: one `alert' event,
    no second reset, it stays shut off;
  - a second desktop's hostd reports input (input_age 0) while its display frames stay the same:
    health os-hang, a `reset' event with cause os-hang and the display-stuck signal, the domain
    reset (still running) and healthy again once the reports stop sending input;
  - a third desktop's QEMU stopped with SIGSTOP: libvirt calls on it miss the 5 s deadline ->
    vm-hang with the unresponsive signal, and a power cycle (a new QEMU), not virDomainReset;
  - a fourth desktop, defined and never started nor assigned: shut off is its normal state, it
    stays healthy and off; started, then shut down by its guest (QEMU quits), it stays off too;
  - a person's forced reboot (POST /v1/desktops/ID/reboot) goes through the power hook: it runs;
  - the broker restarted, the desktop paused again: the store's reset of the last hour still
    counts towards the cap -> an alert, no reset;
  - reboot-then-reset (the test plays hostd with h1's host token): an OS hang with the agent
    alive -> a `reboot' event and a power request in h1's report answer, no reset; hostd says the
    agent accepted and the display moves -> healthy, no reset. A person's graceful reboot that
    the agent cannot do, or that expires untaken -> ACPI through libvirt (`reboot-fallback').
    Another desktop: hostd says
    there is no agent -> a `graceful-failed' event and a reset at once;
  - backoff across a restart: a desktop reset a moment before the broker restarts, hung again
    right after -> held in backoff (a hang-suspect/hold, no second reset within the backoff).
"""

import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import brokertest as bt  # noqa: E402
import tandemtest as tt  # noqa: E402

URI = tt.URI


def virsh(*args, check=True):
    p = subprocess.run(["virsh", "-q", "-c", URI, *args], capture_output=True, text=True, timeout=60)
    if check and p.returncode != 0:
        raise RuntimeError(f"virsh {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout.strip()


def state(name):
    return virsh("domstate", name).strip()


def wait(what, pred, timeout=60):
    t0 = time.monotonic()
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def health(b, desktop_id):
    con = b.db()
    try:
        return con.execute("SELECT health, health_reason FROM desktops WHERE id = ?", (desktop_id,)).fetchone()
    finally:
        con.close()


def define(name):
    xml = (f"<domain type='{tt.domain_type()}'><name>{name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>"
           "<os><type arch='x86_64'>hvm</type></os><features><acpi/></features><devices></devices></domain>")
    path = os.path.join(bt.tempfile.gettempdir(), name + ".xml")
    with open(path, "w") as f:
        f.write(xml)
    virsh("define", path)
    os.unlink(path)


def report(b, name, input_age):
    d = {"name": name, "state": "running", "display_frames": 7}
    if input_age is not None:
        d["input_age"] = input_age
    r = b.request("POST", "/v1/hosts/h1/report", {"domains": [d]})
    assert r.status == 200 and r.json["known"] == 1, r


def os_hang(b, name):
    """hostd's part: input sent every report, the display's frame count never moves."""
    r = b.request("POST", "/v1/desktops", {"pool": "p", "domain": name, "host": "h1"})
    assert r.status == 201, r
    did = r.json["id"]
    wait("healthy", lambda: health(b, did)[0] == "healthy")
    report(b, name, None)

    def inputs_until_reset():
        report(b, name, 0)
        time.sleep(0.5)  # input_time has second resolution: a new second is a new input
        return b.desktop_events(did, "reset")
    resets = wait("an os-hang reset", inputs_until_reset)
    actor, ev = resets[0]
    assert ev["cause"] == "os-hang" and ev["domain_op"] == "reset", ev
    assert "display-stuck" in [e["signal"] for e in ev["decision"]["signals"]], ev
    assert state(name) == "running"
    wait("healthy after the reset", lambda: health(b, did)[0] == "healthy")
    assert len(b.desktop_events(did, "reset")) == 1


def qemu_pid(name):
    with open(f"/run/libvirt/qemu/{name}.pid") as f:
        return int(f.read().strip())


def unresponsive(b, name):
    """QEMU stopped: only a power cycle (kill it, start anew) recovers it."""
    r = b.request("POST", "/v1/desktops", {"pool": "p", "domain": name, "host": "h1"})
    assert r.status == 201, r
    did = r.json["id"]
    wait("healthy", lambda: health(b, did)[0] == "healthy")
    pid = qemu_pid(name)
    os.kill(pid, signal.SIGSTOP)
    try:
        resets = wait("a cycle", lambda: b.desktop_events(did, "reset"), timeout=90)
    finally:
        try:
            os.kill(pid, signal.SIGCONT)  # the old QEMU, if the test failed before it died
        except ProcessLookupError:
            pass
    ev = resets[0][1]
    assert ev["cause"] == "vm-hang" and ev["domain_op"] == "cycle", ev
    assert "unresponsive" in [e["signal"] for e in ev["decision"]["signals"]], ev
    wait("a new QEMU", lambda: state(name) == "running" and qemu_pid(name) != pid)
    wait("healthy after the cycle", lambda: health(b, did)[0] == "healthy")


def graceful(b, name, name2):
    host = b.token("host", "h1")

    def rep(dom, input_age=None, frames=7, results=None):
        d = {"name": dom, "state": "running", "display_frames": frames, "agent": "active", "agent_heartbeat_age": 0}
        if input_age is not None:
            d["input_age"] = input_age
        body = {"domains": [d]}
        if results:
            body["request_results"] = results
        r = b.request("POST", "/v1/hosts/h1/report", body, token=host)
        assert r.status == 200 and r.json["known"] == 1, r
        return r.json

    def hang_until_request(dom):
        j = rep(dom, 0)
        time.sleep(0.5)  # input_time has second resolution: a new second is a new input
        return j["requests"]

    ids = []
    for n in (name, name2):
        r = b.request("POST", "/v1/desktops", {"pool": "g", "domain": n, "host": "h1"})
        assert r.status == 201, r
        ids.append(r.json["id"])
        wait("healthy", lambda: health(b, ids[-1])[0] == "healthy")
        rep(n)
    did, did2 = ids

    # The agent accepts and the guest's display moves: recovered without a reset.
    reqs = wait("a power request for the agent", lambda: hang_until_request(name))
    assert len(reqs) == 1 and reqs[0]["domain"] == name and reqs[0]["action"] == "reboot", reqs
    (actor, ev), = b.desktop_events(did, "reboot")
    assert actor == "hang-detector" and ev["cause"] == "os-hang" and ev["domain_op"] == "agent-reboot", ev
    assert ev["via"] == "agent" and ev["request"] == reqs[0]["id"], ev
    assert not b.desktop_events(did, "reset")
    j = rep(name, None, 8, [{"id": reqs[0]["id"], "outcome": "ok", "detail": "rebooting"}])
    assert j["results"] == 1 and j["requests"] == [], j
    frames = iter(range(9, 1000))
    wait("healthy after the graceful reboot", lambda: rep(name, None, next(frames)) and health(b, did)[0] == "healthy")
    time.sleep(2)
    assert not b.desktop_events(did, "reset") and not b.desktop_events(did, "graceful-failed")
    assert [a for a, e in b.desktop_events(did, "power-request-done")] == ["host:h1"]

    # No agent to take it: reset at once, not after the graceful timeout.
    reqs = wait("a power request for the agent", lambda: hang_until_request(name2))
    j = rep(name2, 0, 7, [{"id": reqs[0]["id"], "outcome": "no-agent", "detail": "no agent with the power feature"}])
    assert j["results"] == 1, j
    resets = wait("a reset after the failed graceful reboot", lambda: b.desktop_events(did2, "reset"), timeout=20)
    (actor, ev), = resets
    assert ev["domain_op"] == "reset" and "graceful reboot impossible" in ev["decision"]["why"], ev
    (actor, ev), = b.desktop_events(did2, "graceful-failed")
    assert ev["outcome"] == "no-agent" and ev["request"] == reqs[0]["id"], ev
    # A person's graceful reboot the agent cannot do: ACPI through libvirt instead.
    r = b.request("POST", f"/v1/desktops/{did}/reboot", {})
    assert r.status == 202 and r.json["via"] == "agent", r
    j = rep(name, None, 1000, [{"id": r.json["request"], "outcome": "no-agent"}])
    assert j["results"] == 1, j
    (actor, ev), = b.desktop_events(did, "reboot-fallback")
    assert actor == "broker" and ev == {"request": r.json["request"], "via": "acpi"}, ev

    # One that no hostd took before it expired (written straight into the store: the real wait is
    # 2 minutes): closed by the broker, ACPI instead.
    con = b.db()
    with con:
        rid = con.execute("INSERT INTO power_requests(desktop_id, action, requester, created, expires) "
                          "VALUES (?, 'reboot', 'user:bob', ?, ?)", (did, int(time.time()) - 200,
                                                                     int(time.time()) - 80)).lastrowid
    con.close()
    fallbacks = wait("an ACPI reboot for the expired request", lambda: len(b.desktop_events(did, "reboot-fallback")) == 2
                     and b.desktop_events(did, "reboot-fallback"), timeout=20)
    assert fallbacks[1] == ("broker", {"request": rid, "via": "acpi", "cause": "expired"}), fallbacks
    assert [e for a, e in b.desktop_events(did, "power-request-done") if e["request"] == rid][0]["detail"] == "expired"

    # Its reports stop here: a silent agent would be an agent hang of its own.
    assert b.request("DELETE", f"/v1/desktops/{did}").status == 200
    print("reboot-then-reset: through the agent when it is alive, a reset at once when it cannot")
    return did2


def backoff_after_restart(b, name, did):
    """The desktop was reset a moment ago (one of 3 an hour allowed): the broker restarted and the
    desktop hung again, it waits out the backoff (60 s after that reset) instead of resetting."""
    assert len(b.desktop_events(did, "reset")) == 1
    b.stop()
    b.start()
    wait("healthy after the restart", lambda: health(b, did)[0] == "healthy")
    virsh("suspend", name)
    wait("held in backoff", lambda: health(b, did) == ("vm-hang", "backoff"))
    time.sleep(3)  # several more passes
    assert len(b.desktop_events(did, "reset")) == 1 and state(name) == "paused", state(name)
    print("backoff across a restart: a desktop reset just before is not reset again at once")


def main():
    if not shutil.which("virsh") or subprocess.run(["virsh", "-c", URI, "version"], capture_output=True).returncode:
        print(f"skip: libvirt does not answer on {URI} (./tandem libvirt-up)")
        sys.exit(tt.SKIP)
    name = tt.unique_name("broker-wire")
    name2 = name + "-os"
    name3 = name + "-stop"
    name4 = name + "-off"
    name5, name6 = name + "-gr", name + "-gr2"
    for n in (name, name2, name3, name4, name5, name6):
        define(n)
    b = bt.Broker(plain=True, extra="Libvirt=yes\nHangCheckSeconds=1\n")
    try:
        for n in (name, name2, name3, name5, name6):
            virsh("start", n)
        b.start()
        assert b.request("POST", "/v1/hosts", {"name": "h1", "libvirt_uri": URI, "address": "127.0.0.1:7443",
                                                "fingerprint": "ab" * 32, "capacity": 10}).status == 200
        assert b.request("POST", "/v1/pools", {"name": "p", "kind": "persistent", "hang_grace_seconds": 1,
                                                "max_resets_per_hour": 1, "hang_action": "reset"}).status == 201
        r = b.request("POST", "/v1/desktops", {"pool": "p", "domain": name, "host": "h1"})
        assert r.status == 201, r
        did = r.json["id"]

        wait("healthy", lambda: health(b, did)[0] == "healthy")
        assert not b.desktop_events(did, "reset")

        # Never started, nobody's: shut off is not a hang.
        r = b.request("POST", "/v1/desktops", {"pool": "p", "domain": name4, "host": "h1"})
        assert r.status == 201, r
        off = r.json["id"]
        wait("judged", lambda: health(b, off)[0] in ("healthy", "vm-hang"))
        time.sleep(2.5)  # past the grace, a few passes
        assert health(b, off)[0] == "healthy" and state(name4) == "shut off", (health(b, off), state(name4))
        assert not b.desktop_events(off, "reset") and not b.desktop_events(off, "hang-suspect")
        # Started, then shut down from inside (libvirt's reason `shutdown'): its user's doing, not
        # a hang. The guest writes S5 to ACPI's PM1a control register (PIIX4: port 0x604), as an
        # OS powering off does; a monitor `quit' would race QEMU's SHUTDOWN event against its exit,
        # and libvirt calls a lost event a crash.
        virsh("start", name4)
        wait("seen running", lambda: health(b, off)[0] == "healthy" and state(name4) == "running")
        time.sleep(1.5)  # a pass sees it running
        virsh("qemu-monitor-command", name4, "--hmp", "o /w 0x604 0x2000")
        wait("shut down", lambda: virsh("domstate", "--reason", name4) == "shut off (shutdown)")
        time.sleep(2.5)  # past the grace, a few passes
        assert health(b, off)[0] == "healthy" and state(name4) == "shut off", (health(b, off), state(name4))
        assert not b.desktop_events(off, "reset") and not b.desktop_events(off, "hang-suspect")

        # Paused behind the broker's back: a VM hang, reset after the grace.
        virsh("suspend", name)
        resets = wait("a reset event", lambda: b.desktop_events(did, "reset"))
        actor, ev = resets[0]
        assert actor == "hang-detector" and ev["cause"] == "vm-hang" and ev["domain_op"] == "reset", ev
        signals = [e["signal"] for e in ev["decision"]["signals"]]
        assert "paused" in signals, ev
        wait("running again", lambda: state(name) == "running")
        wait("healthy again", lambda: health(b, did)[0] == "healthy")
        m = b.request("GET", "/metrics").body.decode()
        assert 'tandem_resets_total{action="reset",cause="vm-hang"} 1' in m, m

        os_hang(b, name2)
        unresponsive(b, name3)
        assert b.request("POST", "/v1/pools", {"name": "g", "kind": "persistent", "hang_grace_seconds": 1,
                                                "max_resets_per_hour": 3,
                                                "hang_action": "reboot-then-reset"}).status == 201
        did6 = graceful(b, name5, name6)
        backoff_after_restart(b, name6, did6)

        # Destroyed behind its back: the hourly cap (1) is reached -> one alert, no reset.
        virsh("destroy", name)
        wait("vm-hang", lambda: health(b, did)[0] == "vm-hang")
        alerts = wait("an alert event", lambda: b.desktop_events(did, "alert"))
        assert alerts[0][1]["cause"] == "vm-hang" and alerts[0][1]["domain_op"] == "none", alerts
        assert "cap" in alerts[0][1]["decision"]["why"], alerts
        time.sleep(3)  # three more passes: still no second reset, still off, still one alert
        assert len(b.desktop_events(did, "reset")) == 1 and len(b.desktop_events(did, "alert")) == 1
        assert state(name) == "shut off", state(name)

        # A person's forced reboot goes through the libvirt power hook: the domain runs.
        r = b.request("POST", f"/v1/desktops/{did}/reboot", {"force": True})
        assert r.status == 202, r
        wait("started by the forced reboot", lambda: state(name) == "running")

        # A forced reboot of a domain libvirt does not have: accepted (it runs off the loop), its
        # failure logged; the hang pass leaves a desktop it cannot see alone.
        r = b.request("POST", "/v1/desktops", {"pool": "p", "domain": name + "-missing", "host": "h1"})
        assert r.status == 201, r
        gone = r.json["id"]
        assert b.request("POST", f"/v1/desktops/{gone}/reboot", {"force": True}).status == 202
        wait("the failure logged", lambda: f"{name}-missing on {URI}: reset failed" in b.tail(200))
        assert health(b, gone)[0] not in ("vm-hang", "healthy") and not b.desktop_events(gone, "reset")

        # The cap survives a restart: the store's reset of the last hour counts; paused again ->
        # an alert, not a reset.
        b.stop()
        b.start()
        wait("healthy after the restart", lambda: health(b, did)[0] == "healthy")
        virsh("suspend", name)
        wait("an alert after the restart", lambda: len(b.desktop_events(did, "alert")) == 2)
        assert len(b.desktop_events(did, "reset")) == 1 and state(name) == "paused", state(name)
        print("ok")
    except Exception:
        print(b.tail(60))
        raise
    finally:
        b.stop()
        b.cleanup()
        for n in (name, name2, name3, name4, name5, name6):
            virsh("destroy", n, check=False)
            virsh("undefine", n, check=False)


if __name__ == "__main__":
    main()
