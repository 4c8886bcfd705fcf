#!/usr/bin/env python3
"""Pool upkeep through a real tandem-broker (Libvirt=yes) on libvirt's test driver: each simulated
host is a test:///FILE URI (a template domain with a disk in a storage pool: every provision makes
a qcow2 overlay through the storage API, defines and starts a domain). The template's disk is 1 MiB:
the test driver's pool holds 100 GiB, so 1 GiB overlays would fill a host at 99 desktops.

1. Provisions per second: a floating pool with min_ready N (no max) created on an empty fleet;
   the time until N desktops are ready (from the pool's creation through the REST API).
2. Assignment -> min_ready restored: a pool with min_ready M kept ready; a user connects (taking
   one), and the time until the pool has M ready again, repeated; p50/p99.

usage: bench-broker-pools.py [--hosts H] [--desktops N] [--min-ready M] [--rounds R]
Figures move with the machine's load (2 shared cores); build-rel/ is used when built."""

import argparse
import os
import statistics
import sys
import tempfile
import time

import benchenv  # noqa: F401  (sets up tests/ on the path and the build)
from brokertest import Broker  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
NODE = """<node>
<domain type='test' xmlns:test='http://libvirt.org/schemas/domain/test/1.0'>
  <name>tmpl</name><memory>65536</memory><os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/fake-images/tmpl.img'/><target dev='vda'/></disk>
    <interface type='network'><source network='default'/></interface>
  </devices>
  <test:runstate>5</test:runstate>
</domain>
<pool type='dir'><name>images</name><target><path>/fake-images</path></target>
  <volume type='file'><name>tmpl.img</name><capacity>1048576</capacity></volume>
</pool>
</node>
"""


def req(b, method, path, body=None, status=(200, 201)):
    r = b.request(method, path, body)
    assert r.status in status, r
    return r.json


def ready(b, pool):
    return req(b, "GET", f"/v1/pools/{pool}")["ready"]


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=10)
    ap.add_argument("--desktops", type=int, default=300)
    ap.add_argument("--min-ready", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=30)
    a = ap.parse_args()

    d = tempfile.mkdtemp(prefix="bench-broker-pools.")
    b = Broker(plain=True, extra="Libvirt=yes\nPoolCheckSeconds=1\nHangCheckSeconds=3600\nReportMaxAge=3600\n"
                                 "LogLevel=warning\n")
    b.start()
    try:
        for i in range(a.hosts):
            path = os.path.join(d, f"h{i}.xml")
            with open(path, "w") as f:
                f.write(NODE)
            req(b, "POST", "/v1/hosts", {"name": f"h{i}", "libvirt_uri": f"test://{path}",
                                         "address": f"h{i}.example:7443", "capacity": 100000})
            req(b, "POST", f"/v1/hosts/h{i}/report", {"domains": []})

        t0 = time.monotonic()
        req(b, "POST", "/v1/pools", {"name": "bulk", "kind": "floating", "template": "tmpl",
                                     "min_ready": a.desktops})
        while ready(b, "bulk") < a.desktops:
            time.sleep(0.02)
        dt = time.monotonic() - t0
        print(f"provision: {a.desktops} desktops on {a.hosts} test-driver hosts in {dt:.2f} s = "
              f"{a.desktops / dt:.0f} provisions/s (define from template + overlay + start + store)")

        req(b, "POST", "/v1/pools", {"name": "keep", "kind": "floating", "template": "tmpl",
                                     "min_ready": a.min_ready})
        while ready(b, "keep") < a.min_ready:
            time.sleep(0.02)
        times = []
        for i in range(a.rounds):
            req(b, "POST", "/v1/users", {"name": f"u{i}"})
            t0 = time.monotonic()
            req(b, "POST", "/v1/pools/keep/connect", {"user": f"u{i}"})
            while ready(b, "keep") < a.min_ready:
                time.sleep(0.002)
            times.append((time.monotonic() - t0) * 1000)
        print(f"restore: assignment -> min_ready {a.min_ready} again, {a.rounds} rounds: "
              f"p50 {statistics.median(times):.0f} ms, p99 {pct(times, 99):.0f} ms, max {max(times):.0f} ms "
              f"(PoolCheckSeconds=1; the upkeep runs at once when a job ends, else at its period)")
    finally:
        b.cleanup()


if __name__ == "__main__":
    main()
