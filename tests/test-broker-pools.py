#!/usr/bin/env python3
"""Pool upkeep through a real broker (Libvirt=yes) on libvirt's test driver: each simulated host is
a test:///FILE URI of its own (a private driver holding a template domain with a disk in a
storage pool, so overlays are made), registered through the API and kept reporting.

- upkeep: a pool with a template reaches min_ready (names POOL-NNN, UUID, MAC, an overlay each,
  "provision" events with evidence) and keeps it after desktops are assigned, up to max_size and
  never past it; the least-loaded reporting host is chosen and a host that never reported never;
- racing connects (and operators adding desktops) on a floating pool never take it past max_size;
- a shrunk max_size removes unassigned surplus only;
- a broker SIGKILLed while provisions hang on a host that does not answer leaves 'provisioning'
  rows; restarted, it undoes them (retrying until the host answers) and provisions anew: no
  orphan row, no second desktop for the same need;
- floating: a reported logoff -> "reset-to-template" (cause logoff: remade, same MAC, new UUID) and
  ready again; the user's sessions over for longer than disconnect_limit_seconds -> the same
  (cause disconnect-limit); a persistent pool's desktop is never reset;
- the REST pool object and tandemctl show ready/total/provisioning; /metrics counts provisions and
  resets by cause."""

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker, BUILD  # noqa: E402

TANDEMCTL = os.path.join(BUILD, "broker", "tandemctl")

NODE = """<node>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>tmpl</name><memory>65536</memory><os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/fake-images/tmpl.img'/><target dev='vda'/></disk>
    <interface type='network'><mac address='52:54:00:aa:bb:cc'/><source network='default'/></interface>
  </devices>
  <test:runstate>5</test:runstate>
</domain>
<pool type='dir'><name>images</name><target><path>/fake-images</path></target>
  <volume type='file'><name>tmpl.img</name><capacity>1073741824</capacity></volume>
</pool>
</node>
"""


def wait(what, pred, timeout=60, step=0.1):
    t0 = time.monotonic()
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(step)


def ok(r, status=200):
    assert r.status == status, r
    return r.json


class Fleet:
    def __init__(self, b, d):
        self.b, self.d = b, d
        self.uris = {}

    def host(self, name, capacity, uri=None):
        if uri is None:
            path = os.path.join(self.d, f"{name}.xml")
            with open(path, "w") as f:
                f.write(NODE)
            uri = f"test://{path}"
        self.uris[name] = uri
        ok(self.b.request("POST", "/v1/hosts", {"name": name, "libvirt_uri": uri, "address": f"{name}.example:7443",
                                                 "capacity": capacity}))

    def report(self, *names, body=None):
        for n in names:
            ok(self.b.request("POST", f"/v1/hosts/{n}/report", body or {"domains": []}))

    def pool(self, name):
        return ok(self.b.request("GET", f"/v1/pools/{name}"))

    def desktops(self, pool):
        items, cursor = [], None
        while True:
            q = f"/v1/desktops?pool={pool}&limit=100" + (f"&cursor={cursor}" if cursor else "")
            page = ok(self.b.request("GET", q))
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def events(self, action):
        con = self.b.db()
        try:
            return [dict(zip(("object_kind", "object_id", "evidence"), (k, i, json.loads(e))))
                    for k, i, e in con.execute("SELECT object_kind, object_id, evidence FROM events WHERE action = ? "
                                               "ORDER BY id", (action,))]
        finally:
            con.close()

    def count(self, sql, *args):
        con = self.b.db()
        try:
            return con.execute(sql, args).fetchone()[0]
        finally:
            con.close()

    def connect(self, pool, user):
        return self.b.request("POST", f"/v1/pools/{pool}/connect", {"user": user})


def make_broker(d, name):
    b = Broker(plain=True, extra="Libvirt=yes\nPoolCheckSeconds=1\nHangCheckSeconds=60\nReportMaxAge=3600\n")
    b.start()
    return b


def test_upkeep(f):
    b = f.b
    # h1 is busy with an operator's desktops, h2 is empty, h3 is small; h4 never reports.
    for name, cap in (("h1", 10), ("h2", 10), ("h3", 4), ("h4", 100)):
        f.host(name, cap)
    f.report("h1", "h2", "h3")
    ok(b.request("POST", "/v1/pools", {"name": "static", "kind": "persistent"}), 201)
    for i in range(3):
        ok(b.request("POST", "/v1/desktops", {"pool": "static", "domain": f"static-{i}", "host": "h1"}), 201)
    ok(b.request("POST", "/v1/desktops", {"pool": "static", "domain": "static-3", "host": "h3"}), 201)

    # One desktop: the least loaded host (h2: 0/10; h3: 1/4; h1: 3/10), never h4.
    ok(b.request("POST", "/v1/pools", {"name": "lone", "kind": "persistent", "template": "tmpl", "min_ready": 1}), 201)
    wait("lone ready", lambda: f.pool("lone")["ready"] == 1)
    [d] = f.desktops("lone")
    assert d["host"] == "h2" and d["domain"] == "lone-001", d
    assert d["provisioned"] and d["provision_state"] == "done" and d["power_state"] == "running", d
    assert d["overlays"] == ["/fake-images/lone-001-disk0.qcow2"], d
    assert d["mac"].startswith("52:54:00:") and d["mac"] != "52:54:00:aa:bb:cc" and len(d["uuid"]) == 36, d
    [ev] = [e for e in f.events("provision") if e["object_id"] == str(d["id"])]
    assert ev["evidence"]["template"] == "tmpl" and ev["evidence"]["uuid"] == d["uuid"], ev
    assert ev["evidence"]["host"] == f.uris["h2"] and ev["evidence"]["mode"] == "provision", ev

    # min_ready 2, max_size 4: two ready, then kept while users take them, until max_size.
    ok(b.request("POST", "/v1/pools", {"name": "pers", "kind": "persistent", "template": "tmpl", "min_ready": 2,
                                       "max_size": 4}), 201)
    wait("pers ready", lambda: f.pool("pers")["ready"] == 2)
    assert f.pool("pers")["desktops"] == 2
    for u in ("alice", "bob", "carol", "dave", "erin"):
        ok(b.request("POST", "/v1/users", {"name": u}), 201)
    ok(f.connect("pers", "alice"))
    ok(f.connect("pers", "bob"))
    wait("pers ready again", lambda: f.pool("pers")["ready"] == 2)
    assert f.pool("pers")["desktops"] == 4
    ok(f.connect("pers", "carol"))
    ok(f.connect("pers", "dave"))
    # Full: min_ready cannot be kept, and is not chased past max_size.
    time.sleep(3)  # three passes
    p = f.pool("pers")
    assert p["desktops"] == 4 and p["ready"] == 0 and p["provisioning"] == 0, p
    assert f.connect("pers", "erin").status == 503
    names = sorted(d["domain"] for d in f.desktops("pers"))
    assert names == ["pers-001", "pers-002", "pers-003", "pers-004"], names
    # Raised by an operator with tandemctl: the next pass takes it up.
    env = dict(os.environ, TANDEM_BROKER=f"http://127.0.0.1:{b.port}", TANDEM_TOKEN=b.admin)
    subprocess.run([TANDEMCTL, "pools", "set", "pers", "--max-size", "5"], env=env, check=True, capture_output=True)
    wait("pers grows to 5", lambda: f.pool("pers")["ready"] == 1 and f.pool("pers")["desktops"] == 5)
    out = subprocess.run([TANDEMCTL, "pools"], env=env, check=True, capture_output=True, text=True).stdout
    assert "PROVISIONING" in out and "pers" in out, out
    # The hosts that took them: every placement on a host that reports, none on h4.
    assert f.count("SELECT count(*) FROM desktops d JOIN hosts h ON h.id = d.host_id WHERE h.name = 'h4'") == 0


def test_race(f):
    """Connects race on a floating pool (with an operator adding desktops too): never past max_size."""
    b = f.b
    ok(b.request("POST", "/v1/pools", {"name": "race", "kind": "floating", "template": "tmpl", "min_ready": 3,
                                       "max_size": 5}), 201)
    users = [f"racer{i}" for i in range(10)]
    for u in users:
        ok(b.request("POST", "/v1/users", {"name": u}), 201)
    wait("race ready", lambda: f.pool("race")["ready"] == 3)
    seen_max, stop = [0], threading.Event()

    def watch():
        while not stop.is_set():
            seen_max[0] = max(seen_max[0], f.count("SELECT count(*) FROM desktops d JOIN pools p ON p.id = d.pool_id "
                                                   "WHERE p.name = 'race'"))
            time.sleep(0.005)

    got, lock = {}, threading.Lock()

    def racer(u):
        conn = b.connection()
        for _ in range(40):
            r = b.request("POST", "/v1/pools/race/connect", {"user": u}, conn=conn)
            if r.status == 200:
                with lock:
                    got[u] = r.json["desktop"]["domain"]
                return
            assert r.status == 503, r
            time.sleep(0.05)

    def operator():
        for i in range(5):
            r = b.request("POST", "/v1/desktops", {"pool": "race", "domain": f"race-op-{i}", "host": "h2"})
            assert r.status in (201, 409), r
            time.sleep(0.05)

    w = threading.Thread(target=watch)
    w.start()
    threads = [threading.Thread(target=racer, args=(u,)) for u in users] + [threading.Thread(target=operator)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(2)  # the passes after the race
    stop.set()
    w.join()
    total = f.pool("race")["desktops"]
    assert seen_max[0] <= 5 and total <= 5, (seen_max[0], total)
    assert len(set(got.values())) == len(got), got  # no desktop twice
    assigned = f.count("SELECT count(*) FROM desktops d JOIN pools p ON p.id = d.pool_id WHERE p.name = 'race' "
                       "AND d.assigned_user_id IS NOT NULL")
    assert assigned == len(got) and len(got) <= 5, (assigned, got)
    print(f"race: {len(got)} of {len(users)} users got a desktop; pool size peaked at {seen_max[0]} (max 5)")


def test_shrink(f):
    b = f.b
    ok(b.request("POST", "/v1/pools", {"name": "shrink", "kind": "floating", "template": "tmpl", "min_ready": 3,
                                       "max_size": 3}), 201)
    wait("shrink ready", lambda: f.pool("shrink")["ready"] == 3)
    ok(b.request("POST", "/v1/users", {"name": "sam"}), 201)
    mine = ok(f.connect("shrink", "sam"))["desktop"]["domain"]
    ok(b.request("PATCH", "/v1/pools/shrink", {"min_ready": 0, "max_size": 1}))
    wait("surplus removed", lambda: f.pool("shrink")["desktops"] == 1)
    [d] = f.desktops("shrink")
    assert d["domain"] == mine and d["assigned_user"] == "sam", d
    assert len([e for e in f.events("deprovision") if e["object_id"] == "shrink"]) == 2


def test_floating_reset(f):
    b = f.b
    ok(b.request("POST", "/v1/pools", {"name": "flo", "kind": "floating", "template": "tmpl", "min_ready": 1,
                                       "max_size": 2, "disconnect_limit_seconds": 2}), 201)
    ok(b.request("POST", "/v1/pools", {"name": "keep", "kind": "persistent", "template": "tmpl", "min_ready": 1,
                                       "disconnect_limit_seconds": 2}), 201)
    for u in ("fay", "gus", "kim"):
        ok(b.request("POST", "/v1/users", {"name": u}), 201)
    wait("flo ready", lambda: f.pool("flo")["ready"] == 1 and f.pool("keep")["ready"] == 1)

    # Logoff reported by the agent (through hostd's report) -> reset to template -> ready again.
    a = ok(f.connect("flo", "fay"))["desktop"]
    before = ok(b.request("GET", f"/v1/desktops/{a['id']}"))
    host = before["host"]
    f.report(host, body={"logoffs": [{"domain": a["domain"], "user": "fay"}]})
    wait("reset after logoff", lambda: any(e["object_id"] == str(a["id"]) for e in f.events("reset-to-template")))
    after = wait("ready again", lambda: (lambda d: d if d["ready"] and d["provision_state"] == "done" else None)(
        ok(b.request("GET", f"/v1/desktops/{a['id']}"))))
    assert after["assigned_user"] is None and after["domain"] == a["domain"], after
    assert after["mac"] == before["mac"] and after["uuid"] != before["uuid"], (before, after)
    [ev] = [e for e in f.events("reset-to-template") if e["object_id"] == str(a["id"])]
    assert ev["evidence"]["cause"] == "logoff" and ev["evidence"]["mode"] == "remake", ev

    # The user's viewer gone for longer than the limit -> the same, cause disconnect-limit. hostd
    # reports how many viewers watch each desktop; none ends its sessions, except one whose ticket
    # is under a minute old (its viewer may still be on its way).
    a2 = ok(f.connect("flo", "gus"))["desktop"]
    k = ok(f.connect("keep", "kim"))["desktop"]
    keep_before = ok(b.request("GET", f"/v1/desktops/{k['id']}"))
    a2_host = ok(b.request("GET", f"/v1/desktops/{a2['id']}"))["host"]

    def unwatched():
        f.report(a2_host, body={"domains": [{"name": a2["domain"], "viewers": 0}]})
        f.report(keep_before["host"], body={"domains": [{"name": k["domain"], "viewers": 0}]})

    def open_sessions():
        return f.count("SELECT count(*) FROM sessions WHERE end IS NULL AND desktop_id IN (%d, %d)" % (a2["id"], k["id"]))

    unwatched()
    assert open_sessions() == 2, "a fresh session was ended before its viewer could connect"
    con = b.db()
    con.execute("UPDATE sessions SET start = start - 120 WHERE end IS NULL")  # the tickets are old now
    con.commit()
    con.close()
    unwatched()
    assert open_sessions() == 0, "nobody watching did not end the sessions"
    wait("reset after the disconnect limit",
         lambda: any(e["object_id"] == str(a2["id"]) and e["evidence"]["cause"] == "disconnect-limit"
                     for e in f.events("reset-to-template")))
    wait("ready again", lambda: ok(b.request("GET", f"/v1/desktops/{a2['id']}"))["ready"])
    rel = [e for e in f.events("release") if e["object_id"] == str(a2["id"])]
    assert rel and rel[-1]["evidence"]["cause"] == "disconnect-limit", rel

    # The persistent pool: a logoff and a long disconnect change nothing.
    f.report(keep_before["host"], body={"logoffs": [{"domain": k["domain"], "user": "kim"}]})
    time.sleep(4)
    keep_after = ok(b.request("GET", f"/v1/desktops/{k['id']}"))
    assert keep_after["assigned_user"] == "kim" and keep_after["uuid"] == keep_before["uuid"], keep_after
    assert not [e for e in f.events("reset-to-template") if e["object_id"] == str(k["id"])]
    assert not [e for e in f.events("release") if e["object_id"] == str(k["id"])]

    text = b.request("GET", "/metrics").body.decode()
    assert 'tandem_desktops_reset_to_template_total{cause="logoff"} 1' in text, text
    assert 'tandem_desktops_reset_to_template_total{cause="disconnect-limit"} 1' in text, text
    assert 'tandem_pool_desktops{pool="flo",state="total"}' in text
    n = f.count("SELECT count(*) FROM events WHERE action = 'provision'")
    assert f"tandem_desktops_provisioned_total {n}" in text, text


def stall_server():
    """A libvirt endpoint that accepts and never answers: provisions there hang."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held = []

    def run():
        while True:
            try:
                c, _ = srv.accept()
            except OSError:
                return
            held.append(c)

    threading.Thread(target=run, daemon=True).start()
    return srv, held


def test_restart(d):
    """SIGKILL mid-provision, restart: the rows are undone and provisioned anew, once."""
    b = make_broker(d, "restart")
    f = Fleet(b, d)
    try:
        srv, held = stall_server()
        port = srv.getsockname()[1]
        f.host("slow", 10, uri=f"qemu+tcp://127.0.0.1:{port}/system")
        f.report("slow")
        ok(b.request("POST", "/v1/pools", {"name": "k", "kind": "floating", "template": "tmpl", "min_ready": 2,
                                           "max_size": 2}), 201)
        wait("provisions under way", lambda: f.count("SELECT count(*) FROM desktops WHERE provision_state = "
                                                     "'provisioning'") == 2)
        time.sleep(1.5)  # more passes: nothing more while they hang (max_size, and in flight)
        assert f.count("SELECT count(*) FROM desktops") == 2
        b.kill()
        srv.shutdown(socket.SHUT_RDWR)  # wakes its accept(): the port refuses from now on
        srv.close()
        for c in held:
            c.close()
        assert f.count("SELECT count(*) FROM desktops WHERE provision_state = 'provisioning'") == 2

        b.start()
        # The host does not answer (refused): the rows stay, counted against max_size, retried.
        time.sleep(2)
        assert f.count("SELECT count(*) FROM desktops") == 2
        # It comes back (its libvirt URI is now a test driver): undone, then provisioned anew.
        f.host("slow", 10)
        f.report("slow")
        wait("provisioned anew", lambda: f.pool("k")["ready"] == 2, timeout=120)
        time.sleep(2)
        rows = f.desktops("k")
        assert len(rows) == 2 and all(r["provision_state"] == "done" for r in rows), rows
        assert f.count("SELECT count(*) FROM desktops WHERE provision_state != 'done'") == 0
        abandoned = [e for e in f.events("provision-abandoned") if e["object_id"] == "k"]
        assert len(abandoned) == 2, abandoned
        assert len([e for e in f.events("provision") if e["evidence"]["domain"].startswith("k-")]) == 2
        assert b.db().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except BaseException:
        print(b.tail(60))
        raise
    finally:
        b.cleanup()


def test_missing_template(f):
    """A template that is not there: one failure event per backoff step, no spinning."""
    b = f.b
    ok(b.request("POST", "/v1/pools", {"name": "ghost", "kind": "floating", "template": "no-such-template",
                                       "min_ready": 2}), 201)
    wait("a failure", lambda: [e for e in f.events("provision-failed") if e["object_id"] == "ghost"])
    time.sleep(4)
    fails = [e for e in f.events("provision-failed") if e["object_id"] == "ghost"]
    # Backoff 1, 2, 4 s after the first (two in flight at once at most): a handful, not hundreds.
    assert 1 <= len(fails) <= 8, len(fails)
    assert fails[0]["evidence"]["errno"] == 2 and fails[0]["evidence"]["template"] == "no-such-template", fails[0]
    assert f.pool("ghost")["desktops"] == 0
    ok(b.request("DELETE", "/v1/pools/ghost"))


def main():
    d = tempfile.mkdtemp(prefix="tandem-test-broker-pools.")
    b = make_broker(d, "main")
    f = Fleet(b, d)
    try:
        test_upkeep(f)
        test_race(f)
        test_shrink(f)
        test_floating_reset(f)
        test_missing_template(f)
        assert b.db().execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    except BaseException:
        print(b.tail(60))
        raise
    finally:
        b.cleanup()
    test_restart(d)
    print("ok")


if __name__ == "__main__":
    main()
