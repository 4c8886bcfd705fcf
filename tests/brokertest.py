"""Runs a real tandem-broker for tests (HTTPS on loopback with its own certificate, or plain HTTP
when asked) and talks to its REST API; cleans up what it started."""

import atexit
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import time

BUILD = os.environ.get("TANDEM_BUILD_DIR", "build")
BROKER = os.path.join(BUILD, "broker", "tandem-broker")
_running = []


def _cleanup():
    for b in list(_running):
        b.kill()


atexit.register(_cleanup)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Response:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)

    def error_code(self):
        """The stable code of a JSON error, asserting the error's shape."""
        j = self.json
        assert set(j) == {"error"} and set(j["error"]) == {"code", "message"}, self.body
        assert isinstance(j["error"]["code"], str) and j["error"]["message"], self.body
        return j["error"]["code"]

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Broker:
    """One broker process on a state directory of its own (or a shared database)."""

    def __init__(self, plain=False, database=None, state=None, extra=""):
        self.dir = tempfile.mkdtemp(prefix="tandem-broker-test-")
        self.state = state or os.path.join(self.dir, "state")
        self.database = database or os.path.join(self.dir, "broker.db")
        self.port = free_port()
        self.plain = plain
        self.config = os.path.join(self.dir, "broker.conf")
        with open(self.config, "w") as f:
            f.write(f"[Broker]\nDatabase={self.database}\nStateDirectory={self.state}\n"
                    f"Listen=127.0.0.1:{self.port}\nPlainHTTP={'yes' if plain else 'no'}\n{extra}")
        self.proc = None
        self.log = os.path.join(self.dir, "broker.log")
        self.admin = None
        self._ctx = None

    def start(self, timeout=20):
        logf = open(self.log, "a")
        self.proc = subprocess.Popen([BROKER, "--config", self.config], stdout=logf, stderr=subprocess.STDOUT,
                                     env=dict(os.environ, TANDEM_LOG_STDERR="1"))
        logf.close()
        _running.append(self)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"broker exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if self.request("GET", "/health", token=None).status == 200:
                    break
            except (OSError, http.client.HTTPException):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"broker did not answer /health:\n{self.tail()}")
            time.sleep(0.05)
        token_file = os.path.join(self.state, "admin.token")
        if os.path.exists(token_file):
            with open(token_file) as f:
                self.admin = f.read().strip()
        return self

    def tail(self, n=30):
        try:
            with open(self.log) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=20)
        if self in _running:
            _running.remove(self)

    def kill(self):
        """SIGKILL: no clean shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=20)
        if self in _running:
            _running.remove(self)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def context(self):
        if self._ctx is None and not self.plain:
            ctx = ssl.create_default_context(cafile=os.path.join(self.state, "broker-cert.pem"))
            ctx.check_hostname = False  # the certificate names the machine; we dial 127.0.0.1
            self._ctx = ctx
        return self._ctx

    def connection(self, timeout=30):
        if self.plain:
            return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.context())

    def request(self, method, path, body=None, token="admin", headers=None, conn=None, raw=None):
        """token: "admin", None, or a token text. body: JSON-able, or bytes/str sent as is (raw)."""
        h = dict(headers or {})
        if token == "admin":
            token = self.admin
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode()
        elif body is not None:
            data = json.dumps(body).encode()
        if data is not None:
            h.setdefault("Content-Type", "application/json")
        own = conn is None
        c = conn or self.connection()
        try:
            c.request(method, path, body=data, headers=h)
            r = c.getresponse()
            return Response(r.status, dict(r.getheaders()), r.read())
        finally:
            if own:
                c.close()

    def token(self, role, owner, expires_in=None):
        body = {"role": role, "owner": owner}
        if expires_in:
            body["expires_in"] = expires_in
        r = self.request("POST", "/v1/tokens", body)
        assert r.status == 201, r
        return r.json["token"]

    def db(self):
        return sqlite3.connect(self.database, timeout=30)

    def desktop_events(self, desktop_id, action):
        """The desktop's events with this action, oldest first, as (actor, evidence) pairs."""
        con = self.db()
        try:
            rows = con.execute("SELECT actor, evidence FROM events WHERE object_kind = 'desktop' AND object_id = ? "
                               "AND action = ? ORDER BY id", (str(desktop_id), action)).fetchall()
        finally:
            con.close()
        return [(a, json.loads(e)) for a, e in rows]

    def snapshot(self):
        """The store's whole content, to show that a refused request changed nothing."""
        con = self.db()
        try:
            return "\n".join(con.iterdump())
        finally:
            con.close()


def token_hash(text):
    return hashlib.sha256(text.encode()).digest()
