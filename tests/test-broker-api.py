#!/usr/bin/python3
"""tandem-broker's REST API against a real broker over HTTPS on loopback: roles on every route,
bad input (malformed JSON, wrong types, unknown fields, hostile names, huge bodies and headers,
missing, wrong, expired and revoked tokens) answered with a 4xx JSON error and nothing changed,
pagination, connect with a ticket hostd's checker accepts with the served key, reports with
signals, thumbnails and logoffs, reboots, and the metrics."""

import base64
import os
import secrets
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import BUILD, Broker, token_hash  # noqa: E402

JPEG = bytes([0xFF, 0xD8, 0xFF, 0xE0]) + b"thumbnail bytes" * 10


def expect_error(b, status, code, method, path, body=None, **kw):
    before = b.snapshot()
    r = b.request(method, path, body, **kw)
    assert r.status == status, f"{method} {path} {body!r:.200}: expected {status}, got {r}"
    if code:
        assert r.error_code() == code, f"{method} {path}: expected {code}, got {r}"
    assert b.snapshot() == before, f"{method} {path}: a refused request changed the store"
    return r


def setup_fleet(b):
    fp = "ab" * 32
    assert b.request("POST", "/v1/hosts", {"name": "h1", "libvirt_uri": "qemu:///system",
                                            "address": "127.0.0.1:7443", "fingerprint": fp,
                                            "capacity": 10}).status == 200
    assert b.request("POST", "/v1/pools", {"name": "float", "kind": "floating"}).status == 201
    assert b.request("POST", "/v1/pools", {"name": "pers", "kind": "persistent",
                                            "hang_action": "alert"}).status == 201
    for u in ("alice", "bob", "carol"):
        assert b.request("POST", "/v1/users", {"name": u}).status == 201
    for i in range(2):
        assert b.request("POST", "/v1/desktops", {"pool": "float", "domain": f"float-{i}",
                                                   "host": "h1"}).status == 201
    for i in range(3):
        assert b.request("POST", "/v1/desktops", {"pool": "pers", "domain": f"pers-{i}",
                                                   "host": "h1"}).status == 201
    # The floating desktops become ready when the host reports them running.
    r = b.request("POST", "/v1/hosts/h1/report", {"domains": [
        {"name": "float-0", "state": "running"}, {"name": "float-1", "state": "running"},
        {"name": "pers-0", "state": "shutoff"}, {"name": "not-ours", "state": "running"}]})
    assert r.status == 200 and r.json["known"] == 4 - 1 and r.json["unknown"] == 1, r
    return fp


def test_roles(b, tokens):
    # (method, path, body, roles allowed)
    cases = [
        ("GET", "/v1/hosts", None, {"admin", "operator", "monitor"}),
        ("GET", "/v1/pools", None, {"admin", "operator", "monitor", "user"}),
        ("POST", "/v1/pools", {"name": "p-{role}", "kind": "floating"}, {"admin", "operator"}),
        ("GET", "/v1/users", None, {"admin"}),
        ("POST", "/v1/users", {"name": "u-{role}"}, {"admin"}),
        ("GET", "/v1/tokens", None, {"admin"}),
        ("GET", "/v1/events", None, {"admin", "operator", "monitor"}),
        ("GET", "/v1/sessions", None, {"admin", "operator", "monitor", "user"}),
        ("GET", "/v1/desktops", None, {"admin", "operator", "monitor", "user"}),
        ("GET", "/metrics", None, {"admin", "monitor"}),
        ("GET", "/v1/ticket-key", None, {"admin", "operator", "monitor", "user", "host"}),
        ("POST", "/v1/hosts/h1/report", {}, {"admin", "host"}),
        ("PATCH", "/v1/pools/float", {"min_ready": 0}, {"admin", "operator"}),
    ]
    for method, path, body, allowed in cases:
        for role, tok in tokens.items():
            bb = None if body is None else {k: (v.format(role=role) if isinstance(v, str) else v)
                                            for k, v in body.items()}
            r = b.request(method, path, bb, token=tok)
            if role in allowed:
                assert r.status < 400, f"{role} {method} {path}: {r}"
            else:
                assert r.status == 403 and r.error_code() == "forbidden", f"{role} {method} {path}: {r}"
    print(f"roles: {len(cases)} routes x {len(tokens)} roles as the table says")


def test_auth(b, tokens):
    expect_error(b, 401, "unauthenticated", "GET", "/v1/pools", token=None)
    expect_error(b, 401, "bad-token", "GET", "/v1/pools", token="tdm_" + "A" * 43)
    expect_error(b, 401, "bad-token", "GET", "/v1/pools", token="nonsense")
    expect_error(b, 401, "bad-token", "GET", "/v1/pools", headers={"Authorization": "Basic YWRtaW46YWRtaW4="},
                 token=None)
    expect_error(b, 401, "bad-token", "GET", "/v1/pools", token="tdm_" + "\u00e9" * 43)
    # Expired: a token whose expiry is in the past, put in the store directly.
    raw = "tdm_" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    con = b.db()
    con.execute("INSERT INTO api_tokens(hash, role, owner, created, expires) VALUES (?, 'admin', 'old', 1, 2)",
                (token_hash(raw),))
    con.commit()
    con.close()
    expect_error(b, 401, "token-expired", "GET", "/v1/pools", token=raw)
    # Revoked: deleted tokens stop working at once.
    tok = b.token("monitor", "grafana")
    assert b.request("GET", "/v1/pools", token=tok).status == 200
    tid = [t["id"] for t in b.request("GET", "/v1/tokens?limit=1000").json["items"] if t["owner"] == "grafana"][0]
    assert b.request("DELETE", f"/v1/tokens/{tid}").status == 200
    expect_error(b, 401, "bad-token", "GET", "/v1/pools", token=tok)
    # The token list never shows a token or its hash.
    for t in b.request("GET", "/v1/tokens").json["items"]:
        assert set(t) == {"id", "role", "owner", "created", "expires"}, t
    # A user token for a user that does not exist is refused.
    expect_error(b, 404, "not-found", "POST", "/v1/tokens", {"role": "user", "owner": "nobody"})
    # Refused from the headers alone: no body is read (or buffered) for a peer without a token, or
    # without the role, even on the report route that takes megabytes.
    for token, status in ((None, 401), (tokens["monitor"], 403)):
        c = b.connection()
        c.putrequest("POST", "/v1/hosts/h1/report")
        if token:
            c.putheader("Authorization", f"Bearer {token}")
        c.putheader("Content-Length", str(3 << 20))
        c.endheaders()
        r = c.getresponse()
        assert r.status == status, (r.status, r.read())
        c.close()
    print("auth: missing, malformed, unknown, expired and revoked tokens: 401 with a code, before any body")


def test_bad_input(b, tokens):
    cases = [
        # (status, code, method, path, raw body)
        (400, "bad-json", "POST", "/v1/pools", '{"name": "x", "kind": '),
        (400, "bad-json", "POST", "/v1/pools", '["name", "kind"]'),
        (400, "bad-json", "POST", "/v1/pools", '{"name": "a", "name": "b", "kind": "floating"}'),
        (400, "bad-json", "POST", "/v1/pools", '{"name": "a", "kind": "floating"} trailing'),
        (400, "bad-json", "POST", "/v1/pools", ''),
        (400, "bad-json", "POST", "/v1/pools", '\xff\xfe{}'),
        (422, "bad-field", "POST", "/v1/pools", '{"name": "a", "kind": 1}'),
        (422, "bad-field", "POST", "/v1/pools", '{"name": "a", "kind": "elastic"}'),
        (422, "bad-field", "POST", "/v1/pools", '{"name": "a", "kind": "floating", "min_ready": -1}'),
        (422, "bad-field", "POST", "/v1/pools", '{"name": "a", "kind": "floating", "min_ready": 1.5}'),
        (422, "bad-field", "POST", "/v1/pools", '{"name": "a", "kind": "floating", "min_ready": "2"}'),
        (422, "bad-field", "POST", "/v1/pools", '{"name": "a", "kind": "floating", "resize": "yes"}'),
        (422, "bad-field", "POST", "/v1/pools", '{"name": "a", "kind": "floating", "min_ready": 5, "max_size": 2}'),
        (400, "bad-json", "POST", "/v1/pools", '{"name": "a", "kind": "floating", "max_size": 99999999999999999999}'),
        (422, "bad-field", "POST", "/v1/pools", '{"name": "a", "kind": "floating", "max_size": 9999999999}'),
        (422, "unknown-field", "POST", "/v1/pools", '{"name": "a", "kind": "floating", "colour": "blue"}'),
        (422, "missing-field", "POST", "/v1/pools", '{"name": "a"}'),
        (422, "immutable-field", "PATCH", "/v1/pools/float", '{"kind": "persistent"}'),
        (422, "empty-update", "PATCH", "/v1/pools/float", '{}'),
        (409, "exists", "POST", "/v1/pools", '{"name": "float", "kind": "floating"}'),
        (409, "in-use", "DELETE", "/v1/pools/float", None),
        (404, "not-found", "PATCH", "/v1/pools/nope", '{"min_ready": 1}'),
        (422, "bad-field", "POST", "/v1/hosts", '{"name": "h9", "libvirt_uri": "qemu:///system", "address": "h9"}'),
        (422, "bad-field", "POST", "/v1/hosts", '{"name": "h9", "libvirt_uri": "qemu:///system", "address": "h9:99999"}'),
        (422, "bad-field", "POST", "/v1/hosts", '{"name": "h9", "libvirt_uri": "not a uri", "address": "h9:1"}'),
        (422, "bad-field", "POST", "/v1/hosts", '{"name": "h9", "libvirt_uri": "qemu:///system", "address": "h9:1", "fingerprint": "XYZ"}'),
        (422, "unknown-field", "POST", "/v1/hosts/h1/report", '{"domains": [{"name": "float-0", "mood": "sad"}]}'),
        (422, "bad-field", "POST", "/v1/hosts/h1/report", '{"domains": [{"name": "float-0", "state": "dancing"}]}'),
        (422, "bad-field", "POST", "/v1/hosts/h1/report", '{"domains": [{"name": "float-0", "viewers": 4097}]}'),
        (422, "bad-field", "POST", "/v1/hosts/h1/report", '{"domains": [{"name": "float-0", "viewers": -1}]}'),
        (422, "bad-field", "POST", "/v1/hosts/h1/report", '{"domains": [{"name": "float-0", "thumbnail": "!!!!"}]}'),
        (422, "bad-field", "POST", "/v1/hosts/h1/report", '{"domains": [{"name": "float-0", "thumbnail": "iVBORw0KGgo="}]}'),
        (422, "bad-field", "POST", "/v1/hosts/h1/report", '{"domains": {"name": "float-0"}}'),
        (422, "bad-field", "POST", "/v1/hosts/h1/report", '{"transport": {"loss_ratio": 2}}'),
        (404, "not-found", "POST", "/v1/hosts/h2/report", '{}'),
        (422, "bad-field", "POST", "/v1/tokens", '{"role": "root", "owner": "x"}'),
        (422, "bad-field", "POST", "/v1/users", '{"name": "eve", "display_name": "\\u001b[31mred"}'),
        (404, "not-found", "POST", "/v1/desktops", '{"pool": "nope", "domain": "d9"}'),
        (404, "not-found", "POST", "/v1/desktops", '{"pool": "float", "domain": "d9", "host": "nope"}'),
        (409, "exists", "POST", "/v1/desktops", '{"pool": "float", "domain": "float-0"}'),
        (400, "bad-query", "GET", "/v1/pools?limit=0", None),
        (400, "bad-query", "GET", "/v1/pools?limit=abc", None),
        (400, "bad-query", "GET", "/v1/pools?cursor=-1", None),
        (400, "bad-query", "GET", "/v1/pools?colour=blue", None),
        (404, "not-found", "GET", "/v1/nothing", None),
        (404, "not-found", "GET", "/v1//pools", None),
        (405, "method-not-allowed", "PUT", "/v1/pools", '{}'),
        (413, "body-too-large", "GET", "/v1/pools", '{}'),
    ]
    hostile = ["../etc/passwd", "a" * 64, "", "x y", "<script>", "caf\u00e9", "a\u0000b", "-lead", "1st",
               "a;rm -rf", "a/b", "\u202e", "tab\there"]
    for name in hostile:
        for path, body in (("/v1/pools", {"name": name, "kind": "floating"}), ("/v1/users", {"name": name}),
                           ("/v1/hosts", {"name": name, "libvirt_uri": "qemu:///system", "address": "a:1"}),
                           ("/v1/desktops", {"pool": "float", "domain": name})):
            if "\u0000" in name:  # jansson refuses NUL in strings outright
                expect_error(b, 400, "bad-json", "POST", path, body)
            else:
                expect_error(b, 422, "bad-name", "POST", path, body)
    for status, code, method, path, raw in cases:
        expect_error(b, status, code, method, path, raw=raw)
    # Hostile names in paths: not found, never an error of the server.
    for path in ("/v1/pools/..%2f..", "/v1/pools/%00", "/v1/users/" + "a" * 300, "/v1/desktops/-1",
                 "/v1/desktops/99999999999999999999999"):
        r = b.request("GET", path)
        assert r.status in (400, 404) and r.error_code(), f"{path}: {r}"
    # Huge bodies: refused before they are read (Content-Length) and when chunked.
    before = b.snapshot()
    c = b.connection()
    c.putrequest("POST", "/v1/pools")
    c.putheader("Authorization", f"Bearer {b.admin}")
    c.putheader("Content-Length", str(1 << 20))
    c.endheaders()  # the body is never sent: the answer comes from the headers alone
    r = c.getresponse()
    body = r.read()
    assert r.status == 413 and b"body-too-large" in body, (r.status, body)
    c.close()
    assert b.snapshot() == before
    c = b.connection()
    c.putrequest("POST", "/v1/users")
    c.putheader("Authorization", f"Bearer {b.admin}")
    c.putheader("Transfer-Encoding", "chunked")
    c.endheaders()
    chunk = b"x" * 65536
    try:
        for _ in range(3):
            c.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        c.send(b"0\r\n\r\n")
        r = c.getresponse()
        body = r.read()
        assert r.status == 413 and b"body-too-large" in body, (r.status, body)
    except (BrokenPipeError, ConnectionResetError):
        pass  # closing the connection is the other acceptable answer
    c.close()
    # Huge headers: libmicrohttpd answers 431 (its own body, not our JSON) and nothing changes.
    before = b.snapshot()
    r = b.request("POST", "/v1/users", {"name": "hugeheader"}, headers={"X-Big": "a" * 100000})
    assert r.status == 431, r
    r = b.request("POST", "/v1/users", {"name": "hugeheader"}, headers={f"X-{i}": "a" * 100 for i in range(1000)})
    assert r.status == 431, r
    assert b.snapshot() == before
    # The broker is still fine.
    assert b.request("GET", "/health", token=None).status == 200
    print(f"bad input: {len(cases)} malformed requests and {len(hostile) * 4} hostile names refused, "
          "huge bodies 413, huge headers 431, store unchanged each time")


def test_pagination(b):
    for i in range(25):
        assert b.request("POST", "/v1/users", {"name": f"page{i:02d}"}).status == 201
    seen, cursor, pages = [], None, 0
    while True:
        r = b.request("GET", "/v1/users?limit=10" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r
        seen += [u["name"] for u in r.json["items"]]
        pages += 1
        cursor = r.json["next_cursor"]
        if cursor is None:
            break
    names = [u for u in seen if u.startswith("page")]
    assert names == [f"page{i:02d}" for i in range(25)], names
    assert len(seen) == len(set(seen))
    print(f"pagination: {len(seen)} users in {pages} pages of 10, each once, in order")


def test_connect(b, fp, tokens):
    pem = b.request("GET", "/v1/ticket-key", token=tokens["host"])
    assert pem.status == 200 and pem.body.startswith(b"-----BEGIN PUBLIC KEY-----"), pem
    key_path = os.path.join(b.dir, "served.pub.pem")
    with open(key_path, "wb") as f:
        f.write(pem.body)
    alice, bob, carol = (b.token("user", u) for u in ("alice", "bob", "carol"))

    r = b.request("POST", "/v1/pools/float/connect", token=alice)
    assert r.status == 200, r
    a1 = r.json
    assert a1["address"] == "127.0.0.1:7443" and a1["hostname"] == "127.0.0.1" and a1["port"] == 7443
    assert a1["fingerprint"] == fp and a1["newly_assigned"] is True
    # hostd's checker (tandem-ticket verify runs TicketVerifier) accepts it with the served key.
    tt = os.path.join(BUILD, "tools", "tandem-ticket")
    v = subprocess.run([tt, "verify", "--public", key_path, "--desktop", a1["desktop"]["domain"],
                        "--fingerprint", fp, a1["ticket"]], capture_output=True, text=True)
    assert v.returncode == 0 and "valid" in v.stdout, v.stdout + v.stderr
    v = subprocess.run([tt, "verify", "--public", key_path, "--desktop", "float-9", "--fingerprint", fp,
                        a1["ticket"]], capture_output=True, text=True)
    assert v.returncode != 0, "a ticket for another desktop was accepted"
    # Again: the same desktop, a new ticket.
    r = b.request("POST", "/v1/pools/float/connect", token=alice)
    assert r.status == 200 and r.json["desktop"]["id"] == a1["desktop"]["id"] and not r.json["newly_assigned"]
    assert r.json["ticket"] != a1["ticket"]
    r = b.request("POST", "/v1/pools/float/connect", token=bob)
    assert r.status == 200 and r.json["desktop"]["id"] != a1["desktop"]["id"], r
    expect_error(b, 503, "pool-exhausted", "POST", "/v1/pools/float/connect", token=carol)
    # Users connect as themselves only; admins on someone's behalf.
    expect_error(b, 403, "forbidden", "POST", "/v1/pools/float/connect", {"user": "bob"}, token=alice)
    r = b.request("POST", "/v1/pools/pers/connect", {"user": "carol"})
    assert r.status == 200 and r.json["desktop"]["power_state"] == "shutoff", r
    expect_error(b, 422, "missing-field", "POST", "/v1/pools/pers/connect")
    expect_error(b, 404, "not-found", "POST", "/v1/pools/nope/connect", token=alice)
    # A user sees their own desktops and sessions only, and not others' by id.
    mine = b.request("GET", "/v1/desktops", token=alice).json["items"]
    assert [d["id"] for d in mine] == [a1["desktop"]["id"]], mine
    assert all(s["user"] == "alice" for s in b.request("GET", "/v1/sessions", token=alice).json["items"])
    bobs = b.request("GET", "/v1/desktops", token=bob).json["items"][0]["id"]
    expect_error(b, 404, "not-found", "GET", f"/v1/desktops/{bobs}", token=alice)
    expect_error(b, 404, "not-found", "POST", f"/v1/desktops/{bobs}/reboot", token=alice)
    print("connect: tickets verify with the served key; same desktop again; exhausted pool 503; "
          "users see only their own")
    return alice, bob, a1


def test_reports(b, tokens, alice, a1):
    host = tokens["host"]
    did, dom = a1["desktop"]["id"], a1["desktop"]["domain"]
    # A host token speaks for its own host only.
    other = b.token("host", "h2")
    expect_error(b, 403, "forbidden", "POST", "/v1/hosts/h1/report", {}, token=other)
    expect_error(b, 403, "forbidden", "POST", "/v1/hosts",
                 {"name": "h1", "libvirt_uri": "qemu:///system", "address": "evil:7443"}, token=other)
    r = b.request("POST", "/v1/hosts", {"name": "h2", "libvirt_uri": "qemu+ssh://h2/system",
                                        "address": "[::1]:7443"}, token=other)
    assert r.status == 200, r
    # h2 cannot take over h1's desktops by naming them.
    r = b.request("POST", "/v1/hosts/h2/report", {"domains": [{"name": dom, "state": "crashed"}]}, token=other)
    assert r.status == 200 and r.json["known"] == 0 and r.json["unknown"] == 1, r
    report = {
        "domains": [{"name": dom, "uuid": "8c2e1b7a-2f3e-4d5c-9b1a-0123456789ab", "state": "running",
                     "libvirt_state": "running", "cpu_time_ns": 5000, "display_frames": 42, "input_age": 2,
                     "agent": "active", "agent_heartbeat_age": 1, "logged_on_user": "alice",
                     "libvirt_timeouts": 0, "thumbnail": base64.b64encode(JPEG).decode()}],
        "logons": [{"domain": dom, "user": "alice"}],
        "transport": {"viewers_tcp": 1, "viewers_udp": 2, "rtt_ms": 12.5, "loss_ratio": 0.01,
                      "bytes_sent": 123456},
    }
    r = b.request("POST", "/v1/hosts/h1/report", report, token=host)
    assert r.status == 200 and r.json == {"known": 1, "unknown": 0, "thumbnails": 1, "logons": 1, "logoffs": 0,
                                          "results": 0, "results_unknown": 0, "requests": []}, r
    d = b.request("GET", f"/v1/desktops/{did}", token=alice).json
    s = d["signals"]
    assert d["power_state"] == "running" and d["uuid"].startswith("8c2e1b7a") and s["agent_state"] == "active"
    assert s["display_frames"] == 42 and s["cpu_time_ns"] == 5000 and s["logged_on_user"] == "alice"
    assert s["agent_heartbeat"] <= s["report_time"] and d["thumbnail"] is not None
    t = b.request("GET", f"/v1/desktops/{did}/thumbnail", token=alice)
    assert t.status == 200 and t.headers["Content-Type"] == "image/jpeg" and t.body == JPEG
    m = b.request("GET", "/metrics", token=tokens["monitor"]).body.decode()
    for line in ('tandem_host_viewers{host="h1",transport="udp"} 2', 'tandem_host_rtt_milliseconds{host="h1"} 12.5',
                 'tandem_host_report_age_seconds{host="h1"}', "tandem_connect_duration_seconds_count",
                 'tandem_desktops{power_state="running"', "tandem_sessions_open"):
        assert line in m, f"{line} not in metrics:\n{m}"
    # Logoff from a floating desktop: sessions end, the desktop is freed and not ready until it
    # boots again.
    r = b.request("POST", "/v1/hosts/h1/report", {"logoffs": [{"domain": dom, "user": "alice"}]}, token=host)
    assert r.status == 200 and r.json["logoffs"] == 1
    d = b.request("GET", f"/v1/desktops/{did}").json
    assert d["assigned_user"] is None and d["ready"] is False, d
    assert not [x for x in b.request("GET", "/v1/sessions?open=true&user=alice").json["items"]
                if x["desktop_id"] == did]
    ev = b.request("GET", f"/v1/events?object_kind=desktop&object_id={did}").json["items"]
    assert [e["action"] for e in ev][-3:] == ["logon", "logoff", "release"], ev
    for state in ("shutoff", "running"):
        b.request("POST", "/v1/hosts/h1/report", {"domains": [{"name": dom, "state": state}]}, token=host)
    assert b.request("GET", f"/v1/desktops/{did}").json["ready"] is True
    print("reports: signals, thumbnail served byte for byte, transport in metrics, "
          "logoff frees a floating desktop until it boots again; hosts speak only for themselves")


def test_reboot(b, tokens, bob):
    bobs = b.request("GET", "/v1/desktops", token=bob).json["items"][0]["id"]
    r = b.request("POST", f"/v1/desktops/{bobs}/reboot", token=bob)
    assert r.status == 202, r
    r = b.request("POST", f"/v1/desktops/{bobs}/reboot", {"force": True}, token=tokens["operator"])
    assert r.status == 202, r
    expect_error(b, 403, "forbidden", "POST", f"/v1/desktops/{bobs}/reboot", token=tokens["monitor"])
    expect_error(b, 422, "bad-field", "POST", f"/v1/desktops/{bobs}/reboot", {"force": "yes"}, token=bob)
    ev = b.request("GET", f"/v1/events?object_kind=desktop&object_id={bobs}&action=reboot-request").json["items"]
    assert [e["actor"] for e in ev] == ["user:bob", "operator:ops"], ev
    m = b.request("GET", "/metrics").body.decode()
    assert 'tandem_resets_total{action="reboot-request",cause="unknown"} 2' in m, m
    print("reboot: users their own, operators any, monitors none; each request in the audit trail")


def test_power_requests(b, tokens, bob):
    """A graceful reboot with a live agent waits in the store for the desktop's host: only that
    host's token reads it (in its report's answer), only that host closes it."""
    host, other = tokens["host"], b.token("host", "h2")
    d = b.request("GET", "/v1/desktops", token=bob).json["items"][0]
    bobs, dom = d["id"], d["domain"]
    r = b.request("POST", "/v1/hosts/h1/report", {"domains": [{"name": dom, "state": "running", "agent": "active",
                                                                "agent_heartbeat_age": 0}]}, token=host)
    assert r.status == 200 and r.json["requests"] == [], r
    r = b.request("POST", f"/v1/desktops/{bobs}/reboot", token=bob)
    assert r.status == 202 and r.json["via"] == "agent" and r.json["new"] is True, r
    rid = r.json["request"]
    # Asked again while open: the same request.
    r = b.request("POST", f"/v1/desktops/{bobs}/reboot", token=tokens["operator"])
    assert r.status == 202 and r.json["request"] == rid and r.json["new"] is False, r
    want = [{"id": rid, "domain": dom, "action": "reboot"}]
    # Admins may report for a host but are handed no requests; another host sees none of h1's.
    r = b.request("POST", "/v1/hosts/h1/report", {})
    assert r.status == 200 and "requests" not in r.json, r
    r = b.request("POST", "/v1/hosts/h2/report", {}, token=other)
    assert r.status == 200 and r.json["requests"] == [], r
    r = b.request("POST", "/v1/hosts/h1/report", {}, token=host)
    assert r.status == 200 and r.json["requests"] == want, r
    # Bad outcomes are refused whole; another host cannot close h1's request.
    for status, code, body in [
            (422, "bad-field", {"request_results": [{"id": rid, "outcome": "maybe"}]}),
            (422, "missing-field", {"request_results": [{"outcome": "ok"}]}),
            (422, "bad-field", {"request_results": [{"id": -1, "outcome": "ok"}]}),
            (422, "bad-field", {"request_results": [{"id": rid, "outcome": "ok", "detail": 'say "hi"'}]}),
            (422, "bad-field", {"request_results": [{"id": rid, "outcome": "ok", "detail": "x" * 201}]}),
            (422, "unknown-field", {"request_results": [{"id": rid, "outcome": "ok", "why": "x"}]}),
            (422, "bad-field", {"request_results": {"id": rid}}),
            (413, "too-many-items", {"request_results": [{"id": rid, "outcome": "ok"}] * 65})]:
        expect_error(b, status, code, "POST", "/v1/hosts/h1/report", body, token=host)
    r = b.request("POST", "/v1/hosts/h2/report", {"request_results": [{"id": rid, "outcome": "ok"}]}, token=other)
    assert r.status == 200 and r.json["results"] == 0 and r.json["results_unknown"] == 1, r
    r = b.request("POST", "/v1/hosts/h1/report", {"request_results": [{"id": rid, "outcome": "ok",
                                                                        "detail": "rebooting"}]}, token=host)
    assert r.status == 200 and r.json["results"] == 1 and r.json["requests"] == [], r
    ev = b.request("GET", f"/v1/events?object_kind=desktop&object_id={bobs}").json["items"]
    done = [e for e in ev if e["action"] == "power-request-done"]
    assert [e["actor"] for e in ev if e["action"] == "power-request"] == ["user:bob"], ev
    assert len(done) == 1 and done[0]["actor"] == "host:h1" and done[0]["evidence"]["outcome"] == "ok", ev
    # Forced: a hard reset through libvirt, never the agent.
    r = b.request("POST", f"/v1/desktops/{bobs}/reboot", {"force": True}, token=bob)
    assert r.status == 202 and "via" not in r.json, r
    r = b.request("POST", "/v1/hosts/h1/report", {}, token=host)
    assert r.json["requests"] == [], r
    print("power requests: through the agent when it is active; only the owning host reads and closes them")


def main():
    b = Broker()
    try:
        b.start()
        assert b.admin and b.admin.startswith("tdm_")
        r = b.request("GET", "/ready", token=None)
        assert r.status == 200 and r.json["status"] == "ready", r
        fp = setup_fleet(b)
        tokens = {"admin": b.admin, "operator": b.token("operator", "ops"), "monitor": b.token("monitor", "prom"),
                  "user": b.token("user", "carol"), "host": b.token("host", "h1")}
        test_roles(b, tokens)
        test_auth(b, tokens)
        test_bad_input(b, tokens)
        test_pagination(b)
        alice, bob, a1 = test_connect(b, fp, tokens)
        test_reports(b, tokens, alice, a1)
        test_reboot(b, tokens, bob)
        test_power_requests(b, tokens, bob)
        con = b.db()
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        assert b.proc.poll() is None, "the broker died"
        print("ok")
    except BaseException:
        print(b.tail(), file=sys.stderr)
        raise
    finally:
        b.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
