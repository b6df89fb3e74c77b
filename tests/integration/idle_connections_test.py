"""Idle HTTP connections cannot make weir unobservable: with more idle connections open than the
server takes, and renewed as fast as the server closes them, /health, /metrics and /ready still
answer within a few seconds."""
import os
import resource
import socket
import tempfile
import threading
import time
import unittest

from weir_test_util import http_get, log_excerpt, wait_for, weir_process

PIPELINE = """
inputs:
  sensors: {type: generator, seed: 1, rate: 100, time_step: 100ms, groups: 2,
            start_time: "2026-11-20T10:00:00Z"}
nodes:
  quality:
    from: sensors
    time: {field: ts}
    window: {type: tumbling, size: 10s}
    group_by: [group]
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
"""
IDLE_CONNECTIONS = 1100
ANSWER_WITHIN_S = 5.0
ROUNDS = 5


def raise_own_file_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


class idle_holder:
    """Keeps IDLE_CONNECTIONS connections to the port open, sending nothing, and opens a new
    one for every one the server closes (checked every few milliseconds)."""

    def __init__(self, port):
        self.port = port
        self.sockets = []
        self.opened = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def connect(self):
        try:
            s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        except OSError:
            return
        s.setblocking(False)
        self.sockets.append(s)
        self.opened += 1

    def alive(self, s):
        try:
            return s.recv(1) != b""
        except BlockingIOError:
            return True
        except OSError:
            return False

    def run(self):
        while not self.stopped.is_set():
            kept = []
            for s in self.sockets:
                if self.alive(s):
                    kept.append(s)
                else:
                    s.close()
            self.sockets = kept
            while len(self.sockets) < IDLE_CONNECTIONS and not self.stopped.is_set():
                self.connect()
            self.stopped.wait(0.005)

    def __enter__(self):
        for _ in range(IDLE_CONNECTIONS):
            self.connect()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=30)
        for s in self.sockets:
            s.close()


class idle_connections_test(unittest.TestCase):
    def test_idle_connections_leave_health_metrics_and_ready_reachable(self):
        raise_own_file_limit(4 * IDLE_CONNECTIONS)
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "p.yaml")
            with open(path, "w") as f:
                f.write(PIPELINE)
            weir = weir_process(self, tmp, [path])
            base = f"http://127.0.0.1:{weir.wait_port()}"
            wait_for(lambda: http_get(base + "/ready")[0] == 200, 60, "readiness")
            with idle_holder(weir.port) as holder:
                self.assertGreaterEqual(holder.opened, IDLE_CONNECTIONS - 10)
                for round in range(ROUNDS):
                    for route in ("/health", "/metrics", "/ready"):
                        start = time.monotonic()
                        try:
                            status, body = http_get(base + route, timeout=ANSWER_WITHIN_S)
                        except OSError as e:
                            self.fail(f"round {round}: {route} unreachable: {e!r} "
                                      f"({len(holder.sockets)} idle connections open)")
                        self.assertEqual(status, 200, f"round {round}: {route}: {body}")
                        self.assertLess(time.monotonic() - start, ANSWER_WITHIN_S)
                        if route == "/metrics":
                            self.assertIn("weir_input_records_total", body)
            self.assertIn("HTTP server:", weir.log_text())
            self.assertEqual(weir.stop(), 0, log_excerpt(weir.log_text()))


if __name__ == "__main__":
    unittest.main()
