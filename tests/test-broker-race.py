#!/usr/bin/python3
"""Connect under concurrency and crashes, through real brokers.

race: two broker processes share one store; client threads, each with its own connection, race
connect requests for overlapping users on one floating pool: no desktop goes to two users, no user
gets two, the pool hands out exactly what it has, and refusals are only "pool exhausted".

crash: a broker is SIGKILLed three times under a stream of connect requests; after each restart
PRAGMA integrity_check is ok, every answer a client received is in the store (nothing lost), no
desktop or user is doubled, and asking again gives each user the desktop they were told."""

import http.client
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from brokertest import Broker  # noqa: E402


class Worker(threading.Thread):
    """A thread whose exception fails the test instead of vanishing."""

    def __init__(self, target, *args):
        super().__init__()
        self.fn, self.args, self.error = target, args, None

    def run(self):
        try:
            self.fn(*self.args)
        except BaseException as e:  # noqa: B036
            self.error = e

    def finish(self):
        self.join()
        if self.error:
            raise self.error


def fill(b, pool, desktops, users, prefix):
    assert b.request("POST", "/v1/hosts", {"name": "h1", "libvirt_uri": "test:///default",
                                            "address": "h1.example:7443"}).status == 200
    assert b.request("POST", "/v1/pools", {"name": pool, "kind": "floating"}).status == 201
    con = b.db()
    with con:
        con.executemany("INSERT INTO users(name, created) VALUES (?, 0)", [(u,) for u in users])
        con.executemany("INSERT INTO desktops(pool_id, host_id, domain_name, ready, power_state) "
                        "VALUES ((SELECT id FROM pools WHERE name = ?), 1, ?, 1, 'running')",
                        [(pool, f"{prefix}-{i}") for i in range(desktops)])
    con.close()


def check_store(b, pool):
    con = b.db()
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        rows = con.execute("SELECT u.name, d.id FROM desktops d JOIN users u ON u.id = d.assigned_user_id "
                           "JOIN pools p ON p.id = d.pool_id WHERE p.name = ?", (pool,)).fetchall()
        doubled = con.execute("SELECT user_id, desktop_id, count(*) FROM sessions WHERE end IS NULL "
                              "GROUP BY 1, 2 HAVING count(*) > 1").fetchall()
        assert doubled == [], doubled
    finally:
        con.close()
    users = [u for u, _ in rows]
    desktops = [d for _, d in rows]
    assert len(users) == len(set(users)) and len(desktops) == len(set(desktops)), rows
    return dict(rows)


def race():
    a = Broker()
    a.start()
    b = Broker(database=a.database, state=a.state)
    b.start()
    b.admin = a.admin
    try:
        users = [f"r{i}" for i in range(60)]
        fill(a, "race", 40, users, "race")
        answers, errors, lock = [], [], threading.Lock()

        def client(index):
            broker = (a, b)[index % 2]
            conn = broker.connection()
            order = users[:]
            random.Random(index).shuffle(order)
            for _ in range(2):
                for u in order:
                    r = broker.request("POST", "/v1/pools/race/connect", {"user": u}, conn=conn)
                    with lock:
                        if r.status == 200:
                            answers.append((u, r.json["desktop"]["id"]))
                        else:
                            errors.append((u, r.status, r.body))
            conn.close()

        threads = [Worker(client, i) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.finish()
        by_user, by_desktop = {}, {}
        for u, d in answers:
            by_user.setdefault(u, set()).add(d)
            by_desktop.setdefault(d, set()).add(u)
        assert all(len(s) == 1 for s in by_user.values()), "a user got two desktops"
        assert all(len(s) == 1 for s in by_desktop.values()), "a desktop went to two users"
        assert len(by_desktop) == 40, len(by_desktop)
        assert all(st == 503 and b"pool-exhausted" in body for _, st, body in errors), errors[:3]
        assert all(u not in by_user for u, _, _ in errors), "a user was refused after being served"
        stored = check_store(a, "race")
        assert stored == {u: next(iter(s)) for u, s in by_user.items()}
        print(f"race: {len(answers)} answers and {len(errors)} refusals from 16 clients on 2 brokers "
              "sharing one store: 40 desktops to 40 users, none doubled")
    except BaseException:
        print(a.tail(), b.tail(), file=sys.stderr)
        raise
    finally:
        b.stop()
        a.cleanup()
        b.cleanup()


def crash():
    b = Broker()
    b.start()
    try:
        users = [f"c{i}" for i in range(400)]
        fill(b, "crash", 400, users, "crash")
        told = {}
        lock = threading.Lock()
        remaining = list(users)
        for round_ in range(3):
            stop = threading.Event()
            answered = [0]
            batch = remaining[:120]
            remaining = remaining[120:]

            def client(index):
                conn = b.connection(timeout=10)
                mine = batch[index::8]
                try:
                    for u in mine * 3:
                        if stop.is_set():
                            return
                        r = b.request("POST", "/v1/pools/crash/connect", {"user": u}, conn=conn)
                        assert r.status == 200, r
                        with lock:
                            assert told.setdefault(u, r.json["desktop"]["id"]) == r.json["desktop"]["id"]
                            answered[0] += 1
                except (OSError, http.client.HTTPException):
                    if not stop.is_set():
                        raise  # only the killed broker may fail a request
                finally:
                    conn.close()

            threads = [Worker(client, i) for i in range(8)]
            for t in threads:
                t.start()
            deadline = time.monotonic() + 120
            while answered[0] < 100:  # kill mid-stream, once some answers are out
                assert time.monotonic() < deadline and all(t.is_alive() or not t.error for t in threads), \
                    "the clients stopped getting answers"
                time.sleep(0.001)
            stop.set()  # first: from now on a failed request is the kill's
            b.kill()
            for t in threads:
                t.finish()
            b.start()
            stored = check_store(b, "crash")
            lost = {u: d for u, d in told.items() if stored.get(u) != d}
            assert not lost, f"answers lost or changed after SIGKILL: {list(lost.items())[:5]}"
            print(f"crash round {round_ + 1}: SIGKILL after {answered[0]} answers; after restart "
                  f"{len(stored)} assignments, all {len(told)} answers given so far kept, integrity ok")
        # Asking again gives each user the desktop they were told.
        conn = b.connection()
        for u, d in told.items():
            r = b.request("POST", "/v1/pools/crash/connect", {"user": u}, conn=conn)
            assert r.status == 200 and r.json["desktop"]["id"] == d and not r.json["newly_assigned"], (u, d, r)
        conn.close()
        print(f"crash: {len(told)} users asked again, each got the desktop they were told")
    except BaseException:
        print(b.tail(), file=sys.stderr)
        raise
    finally:
        b.cleanup()


def main():
    race()
    crash()
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
