"""Every process a benchmark starts, stopped (SIGTERM, then SIGKILL) when it ends, however it ends."""

import contextlib
import signal
import subprocess


class Processes:
    def __init__(self):
        self.procs = []

    def add(self, proc):
        self.procs.append(proc)
        return proc

    def stop(self, proc, timeout=10):
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(Exception):
            proc.communicate(timeout=1)  # close its pipes
        if proc in self.procs:
            self.procs.remove(proc)

    def close(self):
        for p in reversed(list(self.procs)):
            self.stop(p)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
