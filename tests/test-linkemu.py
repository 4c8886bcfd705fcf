#!/usr/bin/python3
"""tandem-linkemu end to end, with real tools inside two namespaces: ping's RTT for each
profile, the UDP loss rate against the configured one (and the same losses for the same seed),
TCP throughput under the rate limit, cut and restore, and UDP blackholing while TCP passes.
Assertions are on the emulated link's behaviour within statistical tolerances, never on how fast
our code runs. Skips (77) when not root or without namespaces or TUN."""

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import linkemutest as le  # noqa: E402

EXE = sys.argv[1]
PORT = 9000

UDP_RECV = r"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
s.bind((sys.argv[1], int(sys.argv[2])))
s.settimeout(float(sys.argv[3]))
print("ready", flush=True)
seen = set()
try:
    while True:
        seen.add(int.from_bytes(s.recv(2048)[:4], "big"))
except socket.timeout:
    pass
print(" ".join(map(str, sorted(seen))))
"""

UDP_SEND = r"""
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n, gap = int(sys.argv[3]), float(sys.argv[4])
t = time.monotonic()
for i in range(n):
    s.sendto(i.to_bytes(4, "big") + bytes(96), (sys.argv[1], int(sys.argv[2])))
    t += gap
    d = t - time.monotonic()
    if d > 0:
        time.sleep(d)
"""

TCP_RECV = r"""
import socket, sys, time
l = socket.socket()
l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind((sys.argv[1], int(sys.argv[2])))
l.listen(1)
l.settimeout(30)
print("ready", flush=True)
c, _ = l.accept()
c.settimeout(30)
total, first = 0, None
while True:
    d = c.recv(65536)
    if not d:
        break
    if first is None:
        first = time.monotonic()
    total += len(d)
c.sendall(b"%d" % total)
c.close()
print(total, time.monotonic() - first if first else 0.0)
"""

# Sends for argv[3] seconds, or exactly argv[4] bytes; prints what the receiver counted.
TCP_SEND = r"""
import socket, sys, time
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=30)
secs, size = float(sys.argv[3]), int(sys.argv[4])
buf, sent, end = bytes(16384), 0, time.monotonic() + secs
while (size and sent < size) or (not size and time.monotonic() < end):
    sent += c.send(buf[:size - sent] if size else buf)
c.shutdown(socket.SHUT_WR)
print(sent, c.recv(64).decode(), flush=True)
"""


def ping(link, count, interval=0.2, wait=None):
    args = ["ping", "-n", "-q", "-c", str(count), "-i", str(interval)]
    if wait:
        args += ["-W", str(wait)]
    p = link.run("a", args + [link.addr_b])
    m = re.search(r"(\d+) received", p.stdout)
    rtt = re.search(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/", p.stdout)
    received = int(m.group(1)) if m else 0
    return received, tuple(map(float, rtt.groups())) if rtt else None


def udp(link, n, gap=0.0005, idle=2.0):
    """Sends n numbered datagrams a -> b; returns the set of numbers b received."""
    recv = link.python("b", UDP_RECV, link.addr_b, PORT, idle)
    try:
        le.wait_line(recv, "ready")
        send = link.python("a", UDP_SEND, link.addr_b, PORT, n, gap)
        assert send.wait(timeout=120) == 0, "UDP sender failed"
        out, _ = recv.communicate(timeout=120)
    finally:
        if recv.poll() is None:
            recv.kill()
            recv.wait()
    return set(map(int, out.split()))


def tcp(link, secs=0.0, size=0):
    """One TCP transfer a -> b; returns (bytes the receiver got, its seconds from first byte)."""
    recv = link.python("b", TCP_RECV, link.addr_b, PORT + 1)
    try:
        le.wait_line(recv, "ready")
        send = link.python("a", TCP_SEND, link.addr_b, PORT + 1, secs, size)
        s_out, _ = send.communicate(timeout=120)
        r_out, _ = recv.communicate(timeout=120)
    finally:
        for p in (recv,):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert send.returncode == 0 and recv.returncode == 0, f"TCP transfer failed: {s_out!r} {r_out!r}"
    total, secs = r_out.split()
    assert s_out.split() == [total, total], f"sender and receiver disagree: {s_out!r} {r_out!r}"
    return int(total), float(secs)


def test_profiles(link):
    # (profile, RTT in ms, rate in bit/s): ping's 84-byte packets are serialized once each way
    for name, rtt, rate in [("lan", 0.2, 1e9), ("wan1", 60, 5e6), ("wan2", 250, 3e6),
                            ("wan3", 100, 256e3), ("wan4", 200, 1e6)]:
        link.ctl(f"profile {name}")
        want = rtt + 2 * 84 * 8 / rate * 1000
        received, r = ping(link, 12)
        assert r, f"{name}: no ping reply at all"
        print(f"{name:5} ping RTT min/avg/max {r[0]:.2f}/{r[1]:.2f}/{r[2]:.2f} ms "
              f"(configured {want:.2f} ms), {received}/12 replies")
        # never early; late only by scheduling (generous: a loaded 2-core machine, ASan)
        assert want - 0.01 <= r[0] <= want + 5, f"{name}: min RTT {r[0]} ms, want {want:.2f}"
        assert r[1] <= want + 20, f"{name}: mean RTT {r[1]} ms, want {want:.2f}"


def test_udp_loss(link):
    n = 2000
    link.ctl("profile none")
    link.ctl("set delay=1ms loss=5%")
    link.ctl("reset-stats")
    got = udp(link, n)
    st = link.stats()["a2b"]
    loss = 1 - len(got) / n
    print(f"UDP loss: configured 5.00%, measured {100 * loss:.2f}% over {n} datagrams "
          f"(emulator dropped {st['dropped_packets']['loss']})")
    assert abs(loss - 0.05) <= 0.02, f"loss {loss}"
    assert st["in_packets"] == n and st["dropped_packets"]["loss"] == n - len(got), st

    # one seed, one set of losses: the same 500 datagrams twice after `seed 7'
    link.ctl("set loss=10%")
    lost = []
    for _ in range(2):
        link.ctl("seed 7")
        lost.append(set(range(500)) - udp(link, 500, idle=1.0))
    print(f"UDP loss with seed 7: {len(lost[0])} and {len(lost[1])} of 500 lost, same datagrams: "
          f"{lost[0] == lost[1]}")
    assert lost[0] and lost[0] == lost[1]


def test_jitter(link):
    link.ctl("profile none")
    link.ctl("set delay=25ms jitter=10ms")
    received, r = ping(link, 40, interval=0.05)
    print(f"jitter: ping RTT min/avg/max {r[0]:.2f}/{r[1]:.2f}/{r[2]:.2f} ms "
          f"(configured 50 ms +- 2 x 10 ms, in order)")
    assert received == 40 and r[0] >= 30 - 0.01 and r[2] <= 70 + 20 and r[2] - r[0] > 5


def test_bursts(link):
    n = 4000
    link.ctl("profile none")
    link.ctl("set delay=1ms burst-p=1% burst-r=25%")
    got = udp(link, n, gap=0.00025)
    lost = [i for i in range(n) if i not in got]
    runs = sum(1 for i in lost if i - 1 not in lost)
    rate, mean = len(lost) / n, len(lost) / max(runs, 1)
    print(f"Gilbert-Elliott p=1% r=25%: loss {100 * rate:.2f}% (expected 3.85%), "
          f"mean burst {mean:.2f} packets (expected 4)")
    assert abs(rate - 0.0385) <= 0.02 and 2.5 <= mean <= 6


def test_tcp_rate(link):
    rate = 5e6
    link.ctl("profile none")
    link.ctl("set delay=10ms rate=5mbit queue=100ms")
    link.ctl("reset-stats")
    total, secs = tcp(link, secs=4)
    goodput = total * 8 / secs
    st = link.stats()["a2b"]
    print(f"TCP: {total} bytes in {secs:.2f} s, goodput {goodput / 1e6:.3f} Mbit/s at a 5 Mbit/s limit "
          f"({100 * goodput / rate:.1f}%), {st['dropped_packets']['queue']} queue drops")
    # the payload cannot beat the link; TCP on a clean 20 ms path should fill most of it
    assert goodput <= rate * 1.01, f"goodput {goodput} above the rate"
    assert goodput >= rate * 0.6, f"goodput {goodput} far below the rate"


def test_cut_restore(link):
    link.ctl("profile none")
    link.ctl("set delay=1ms")
    link.ctl("reset-stats")
    link.ctl("cut")
    received, _ = ping(link, 3, wait=1)
    got = udp(link, 100, idle=1.0)
    st = link.stats()
    print(f"cut: {received}/3 pings, {len(got)}/100 datagrams, "
          f"{st['a2b']['dropped_packets']['cut']} dropped as cut")
    assert received == 0 and not got
    assert st["a2b"]["dropped_packets"]["cut"] >= 103 and st["a2b"]["out_packets"] == 0
    link.ctl("restore")
    received, _ = ping(link, 3)
    got = udp(link, 100, idle=1.0)
    print(f"restored: {received}/3 pings, {len(got)}/100 datagrams")
    assert received == 3 and len(got) == 100


def test_udp_blackhole(link):
    link.ctl("profile none")
    link.ctl("set delay=5ms udp-blackhole=on")
    link.ctl("reset-stats")
    got = udp(link, 200, idle=1.0)
    total, _ = tcp(link, size=200000)
    st = link.stats()["a2b"]
    print(f"UDP blackhole: {len(got)}/200 datagrams, TCP {total} bytes through, "
          f"{st['dropped_packets']['udp']} UDP drops")
    assert not got and total == 200000 and st["dropped_packets"]["udp"] == 200
    link.ctl("set udp-blackhole=off")
    assert len(udp(link, 50, idle=1.0)) == 50


def main():
    le.require()
    try:
        with le.LinkEmu(EXE, profile="wan1", seed=1) as link:
            test_profiles(link)
            test_udp_loss(link)
            test_jitter(link)
            test_bursts(link)
            test_tcp_rate(link)
            test_cut_restore(link)
            test_udp_blackhole(link)
            name = link.name
    except le.SetupFailed as e:
        print(f"skip: cannot set up namespaces and TUN devices: {e}")
        return le.SKIP
    leftover = [ns for ns in os.listdir("/run/netns") if ns.startswith(name + "-")] \
        if os.path.isdir("/run/netns") else []
    assert not leftover, f"namespaces left behind: {leftover}"
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
