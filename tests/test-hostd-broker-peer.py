#!/usr/bin/python3
"""hostd's broker client against brokers that are wrong, without a guest (hostd watches no domain;
libvirt need not answer): a real broker whose certificate is not the pinned one, a real broker and
a token of the wrong role, and a fake broker (plain HTTP on loopback) that answers every request
with garbage, a key that is not a key, an endless body or nothing at all. hostd refuses each with
one clear log line, keeps no key it was not given, retries, and its control socket answers
throughout; with the right settings it registers and its (empty) reports arrive. A fake broker
that hands out power requests, hostile ones among them: the malformed ones are skipped, each good
one is run (for a domain hostd does not have: `no-agent'), its outcome is sent again after a
refused report and dropped once one is accepted."""

import http.server
import json
import os
import socket
import sys
import threading

import hostbrokertest as hb
import hostdtest as ht
from brokertest import Broker


class Fake(http.server.BaseHTTPRequestHandler):
    mode = "garbage"
    seen = []

    def log_message(self, *args):
        pass

    def answer(self):
        Fake.seen.append((self.command, self.path))
        n = int(self.headers.get("Content-Length") or 0)
        self.body = self.rfile.read(n)
        if Fake.mode == "silent":
            threading.Event().wait(30)  # accepts, reads, never answers
            return
        if Fake.mode == "requests":
            return self.requests(n)
        if Fake.mode == "endless":
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 30))
            self.end_headers()
            try:
                for _ in range(4096):
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
            return
        body = {"garbage": b"\x00\xff{not json", "notakey": b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"}[Fake.mode]
        self.send_response(200 if self.command == "GET" else 500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # Hostile entries first (skipped), then two good ones until their outcomes came in.
    HOSTILE = [{"id": -1, "domain": "ghost", "action": "reboot"}, {"id": 5, "domain": "bad name", "action": "reboot"},
               {"id": 6, "domain": "ghost", "action": "halt"}, {"id": 9, "domain": "g" * 64, "action": "reboot"},
               {"id": "10", "domain": "ghost", "action": "reboot"}, "not an object", {"id": 11}]
    results = []
    reports = 0

    def requests(self, n):
        status, body = 200, {}
        if self.command == "POST" and self.path.endswith("/report"):
            Fake.reports += 1
            got = json.loads(self.body).get("request_results", [])
            if got and not Fake.results:
                Fake.results.append(None)  # the first report with outcomes is refused: hostd keeps them
                status, body = 500, {"error": {"code": "store-error", "message": "try again"}}
            else:
                Fake.results.extend(got)
                done = {r["id"] for r in Fake.results if r}
                body = {"known": 0, "requests": Fake.HOSTILE + [q for q in (
                    {"id": 7, "domain": "ghost", "action": "reboot"},
                    {"id": 8, "domain": "ghost", "action": "shutdown"}) if q["id"] not in done]}
        elif self.command == "GET":
            status, body = 404, {"error": {"code": "not-found", "message": "no key here"}}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = answer


def start_fake():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def hostd_with(broker, host, extra="", **kw):
    h = hb.BrokerHostd("no-such-domain-*", broker, host, **kw)
    if extra:
        with open(h.config) as f:
            text = f.read()
        for line in extra.splitlines():
            key = line.split("=", 1)[0]
            text = "\n".join(ln for ln in text.splitlines() if not ln.startswith(key + "=")) + "\n"
        with open(h.config, "w") as f:
            f.write(text + extra + "\n")
    return h


def main():
    b = Broker().start()
    fake = start_fake()
    try:
        # Pinned to another certificate: no registration, no key, one line saying why.
        wrong_pin = "00" * 32
        with ht.context(hostd_with(b, "h-pin", f"Fingerprint={wrong_pin}").start()) as h:
            st = hb.wait_for("refused the certificate", lambda: (lambda s: "pinned" in s["last_error"] and s)(
                h.broker_status()), 30)
            assert not st["registered"] and st["ticket_key"] == "none", st
            assert b.request("GET", "/v1/hosts/h-pin").status == 404
            assert h.log().count("unreachable") == 1, h.log()
        print("a broker whose certificate is not the pinned one is refused, once in the log")

        # A token of the wrong role: the broker's refusal, logged once, retried quietly.
        b.request("POST", "/v1/users", {"name": "mallory"})
        user_token = b.token("user", "mallory")
        with ht.context(hostd_with(b, "h-role", token=user_token).start()) as h:
            st = hb.wait_for("refused by the broker", lambda: (lambda s: "403" in s["last_error"] and s)(
                h.broker_status()), 30)
            assert not st["registered"] and st["reachable"], st
            hb.wait_for("a retry", lambda: h.log().count("POST /v1/hosts") >= 1, 10)
            assert h.log().count("refused POST /v1/hosts") == 1, h.log()
        print("a token of the wrong role: the broker's 403 logged once, not registered")

        # A fake broker: garbage, a key that is not a key, an endless body, silence.
        for mode, what in [("garbage", "not"), ("notakey", "not an Ed25519"), ("endless", "too large"),
                           ("silent", "")]:
            Fake.mode = mode
            Fake.seen.clear()
            h = hostd_with(b, "h-" + mode, f"URL=http://127.0.0.1:{fake.server_port}")
            with ht.context(h.start()):
                hb.wait_for(f"{mode}: requests reach the fake", lambda: len(Fake.seen) >= 2, 30)
                if mode == "silent":
                    st = hb.wait_for("silent: timed out", lambda: (lambda s: "imed out" in s["last_error"] and s)(
                        h.broker_status()), 40)
                else:
                    st = hb.wait_for(f"{mode}: said why", lambda: (lambda s: s["last_error"] and s)(
                        h.broker_status()), 30)
                    if mode == "notakey":
                        assert "not an Ed25519" in h.log(), h.log()
                assert not st["registered"] and st["ticket_key"] == "none", st
                assert h.alive()
            print(f"fake broker ({mode}): refused, hostd runs on: {st['last_error'][:90]}")

        # Power requests, hostile ones among them.
        Fake.mode = "requests"
        h = hostd_with(b, "h-requests", f"URL=http://127.0.0.1:{fake.server_port}")
        with ht.context(h.start()):
            hb.wait_for("both outcomes accepted", lambda: len([r for r in Fake.results if r]) >= 2, 30)
            seen = Fake.reports
            hb.wait_for("three more reports", lambda: Fake.reports >= seen + 3, 30)
            got = sorted((r["id"], r["outcome"]) for r in Fake.results if r)
            assert Fake.results[0] is None and got == [(7, "no-agent"), (8, "no-agent")], Fake.results
            assert all(r["detail"] == "no such domain on this host" for r in Fake.results if r), Fake.results
            st = h.broker_status()
            assert st["power_requests_running"] == 0 and st["power_results_unreported"] == 0, st
            assert h.alive()
        print("power requests: malformed ones skipped, each good one run, its outcome sent again after "
              "a refused report")

        # And right: registered, the key taken, reports (of no domain) arrive.
        with ht.context(hostd_with(b, "h-good").start()) as h:
            hb.wait_for("reports", lambda: (lambda r: r.status == 200 and r.json["last_report"])(
                b.request("GET", "/v1/hosts/h-good")), 30)
            st = h.broker_status()
            assert st["registered"] and st["ticket_key"] == "broker" and st["reachable"], st
        print("with the right pin and token: registered, the broker's key taken, reports arrive")
    finally:
        fake.shutdown()
        b.cleanup()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
