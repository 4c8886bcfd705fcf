"""A real tandem-hostd that registers with and reports to a real tandem-broker (brokertest.Broker):
its [Viewers] listener on a free loopback port and its [Broker] section with a host token."""

import hashlib
import os
import ssl
import time

import hostdtest as ht
import viewertest as vt


def cert_fingerprint(path):
    """SHA-256 of a PEM certificate's DER form, hex: what tickets and Fingerprint= pin."""
    with open(path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


class BrokerHostd(ht.Hostd):
    """hostd with viewers on 127.0.0.1:PORT and [Broker] pointing at broker (already started):
    pinned by Fingerprint= unless ca is given, a host token made through the API."""

    def __init__(self, domains, broker, host_name, ca=None, report_seconds=1, token=None, **kw):
        self.port = vt.free_port()
        self.host_name = host_name
        super().__init__(domains, **kw)
        self.cert = os.path.join(self.dir, "hostd-cert.pem")
        self.token_file = os.path.join(self.dir, "host.token")
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write((token or broker.token("host", host_name)) + "\n")
        pin = f"CA={ca}" if ca else \
            f"Fingerprint={cert_fingerprint(os.path.join(broker.state, 'broker-cert.pem'))}"
        with open(self.config, "a") as f:
            f.write(f"[Viewers]\nListen=127.0.0.1:{self.port}\nCertificate={self.cert}\n"
                    f"PrivateKey={os.path.join(self.dir, 'hostd-key.pem')}\n"
                    f"[Broker]\nURL=https://127.0.0.1:{broker.port}\nTokenFile={self.token_file}\n"
                    f"HostName={host_name}\n{pin}\nReportSeconds={report_seconds}\nThumbnailSeconds=1\n")

    @property
    def address(self):
        return f"127.0.0.1:{self.port}"

    def broker_status(self):
        return self.status()["broker"]


def wait_for(what, fn, timeout=60, interval=0.2):
    """Calls fn until it returns something true; returns that. Raises TimeoutError with what."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout} s (last: {last!r})")
