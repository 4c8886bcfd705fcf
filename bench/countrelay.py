"""A counting TCP relay for the benchmarks (Python 3 standard library only).

    relay = CountingRelay(("127.0.0.1", 7443))   # listens on 127.0.0.1:relay.port
    ... point a client at relay.port ...
    relay.snapshot()   # [ConnStats], one per accepted connection, in accept order
    relay.close()

Every accepted connection gets a connection to the target; bytes are copied both ways unchanged
(TLS passes through, so its overhead is counted) and counted per direction: `down' is target ->
client (what the client received), `up' is client -> target. Each direction also keeps the time
of its first and last byte (time.monotonic()) and, optionally, the first `keep' bytes of the
client's stream, for a benchmark that wants to read the client's protocol choices, and with
tls=True the number of TLS records each way (their 5-byte headers are in the clear). With
delay=D every chunk is held D seconds before it is passed on, each way: a round trip of 2D, but
no bandwidth limit and no loss (a relay that terminates TCP cannot emulate loss).

With tls=True and keepalive_max=N, records of at most N bytes are keepalives (a ping, a pong, an
ack: the session's liveness, sent whatever the screen does): last_activity(keepalives=False)
then ignores the chunks that carry nothing else, so a benchmark can wait for the display to go
quiet. They are still counted."""

import queue
import socket
import threading
import time


class ConnStats:
    def __init__(self, keep_up):
        self.accepted = time.monotonic()
        self.down = 0           # bytes target -> client
        self.up = 0             # bytes client -> target
        self.first_down = None  # monotonic time of the first and last byte each way
        self.last_down = None
        self.first_up = None
        self.last_up = None
        self.closed = False
        self.keep_up = keep_up
        self.up_head = bytearray()  # the first keep_up bytes the client sent
        self.records = {"down": 0, "up": 0}  # TLS records each way (tls=True)
        self.last_busy = None   # the last byte either way of a chunk with more than keepalives

    def copy(self):
        c = ConnStats(0)
        c.__dict__.update(self.__dict__)
        c.up_head = bytes(self.up_head)
        c.records = dict(self.records)
        return c


class TlsRecords:
    """Counts TLS records in one direction of a stream from their headers (type, version, length)."""

    def __init__(self, keepalive_max=0):
        self.header = b""  # a header cut across reads
        self.left = 0      # body bytes of the current record still to come
        self.keepalive_max = keepalive_max
        self.busy = False  # the last feed() carried a byte of a record over keepalive_max
        self.big = False   # the current record is over keepalive_max

    def feed(self, data):
        n, pos = 0, 0
        self.busy = False
        while pos < len(data):
            if self.left:
                take = min(self.left, len(data) - pos)
                self.left -= take
                pos += take
                self.busy = self.busy or self.big
                continue
            take = min(5 - len(self.header), len(data) - pos)
            self.header += data[pos:pos + take]
            pos += take
            if len(self.header) == 5:
                self.left = int.from_bytes(self.header[3:5], "big")
                self.big = self.left > self.keepalive_max
                self.header = b""
                n += 1
        return n


class CountingRelay:
    def __init__(self, target, keep_up=0, bufsize=262144, tls=False, delay=0.0, keepalive_max=0):
        self.target = target
        self.tls = tls
        self.keepalive_max = keepalive_max if tls else 0
        self.delay = delay  # seconds each chunk is held, each way (the round trip gains twice this)
        self.keep_up = keep_up
        self.bufsize = bufsize
        self.lock = threading.Lock()
        self.conns = []
        self.sockets = []
        self.closing = False
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._accept, name="relay-accept", daemon=True)
        self.thread.start()

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            stats = ConnStats(self.keep_up)
            with self.lock:
                if self.closing:
                    client.close()
                    server.close()
                    return
                self.conns.append(stats)
                self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(server, client, stats, "down"), daemon=True).start()
            threading.Thread(target=self._pump, args=(client, server, stats, "up"), daemon=True).start()

    def _pump(self, src, dst, stats, way):
        records = TlsRecords(self.keepalive_max) if self.tls else None
        send = dst.sendall
        if self.delay > 0:
            later = queue.SimpleQueue()
            sender = threading.Thread(target=self._delayed, args=(later, dst), daemon=True)
            sender.start()
            send = lambda data: later.put((time.monotonic() + self.delay, data))  # noqa: E731
        try:
            while True:
                data = src.recv(self.bufsize)
                if not data:
                    break
                now = time.monotonic()
                n = records.feed(data) if records else 0
                with self.lock:
                    stats.records[way] += n
                    if not records or not self.keepalive_max or records.busy:
                        stats.last_busy = now
                    if way == "down":
                        stats.down += len(data)
                        stats.first_down = stats.first_down or now
                        stats.last_down = now
                    else:
                        stats.up += len(data)
                        stats.first_up = stats.first_up or now
                        stats.last_up = now
                        if len(stats.up_head) < stats.keep_up:
                            stats.up_head += data[:stats.keep_up - len(stats.up_head)]
                send(data)
        except OSError:
            pass
        finally:
            if self.delay > 0:
                later.put((0, None))
                sender.join()
            with self.lock:
                stats.closed = True
            for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
                try:
                    s.shutdown(how)
                except OSError:
                    pass

    @staticmethod
    def _delayed(later, dst):
        """Sends what _pump queued, each chunk when its time comes, in order."""
        broken = False
        while True:
            when, data = later.get()
            if data is None:
                return
            wait = when - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            if not broken:
                try:
                    dst.sendall(data)
                except OSError:
                    broken = True

    def snapshot(self):
        """A copy of every connection's counters, in accept order."""
        with self.lock:
            return [c.copy() for c in self.conns]

    def last_activity(self, keepalives=True):
        """The monotonic time of the last byte either way on any connection (None: none yet);
        keepalives=False: of the last chunk with more than keepalives in it (see keepalive_max)."""
        with self.lock:
            if keepalives:
                times = [t for c in self.conns for t in (c.last_down, c.last_up) if t is not None]
            else:
                times = [c.last_busy for c in self.conns if c.last_busy is not None]
        return max(times) if times else None

    def close(self):
        with self.lock:
            self.closing = True
            socks = list(self.sockets)
        try:
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self.listener.close()
        self.thread.join(timeout=5)
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
