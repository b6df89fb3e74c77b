"""`buffer.when_full` against a webhook that stalls, the real binary: `block` pauses reading
(nothing is lost, the query shows as degraded, reading resumes when the webhook answers again);
`drop_newest` keeps reading and counts what it sheds; `drop_oldest` keeps reading and sends
the newest."""
import http.server
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from weir_test_util import (WEIR, epoch_seconds, free_port, http_get, http_port, metric_sum,
                            wait_for)


def pipeline(url, when_full, max_records):
    return f"""
pipeline: bp
inputs:
  sensors:
    type: generator
    seed: 3
    rate: 20000
    start_time: "2026-11-20T10:00:00Z"
    time_step: 1ms
    groups: 50
nodes:
  quality:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 1s}}
    group_by: [group]
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
      - {{name: mean_t, measure: mean(temperature), must_be: "[-100, 200]"}}
    outputs: [hook]
    buffer: {{max_records: {max_records}, when_full: {when_full}}}
outputs:
  hook: {{type: http, url: "{url}", batch_max_records: 50, batch_timeout: 50ms,
          timeout: 60s, retries: 0}}
"""


class stalling_webhook:
    """An HTTP server on loopback (on `port`, or one the OS picks) that keeps the result lines it
    receives (and which came in which request) and, while stalled, holds every request
    without answering."""

    def __init__(self, port=0):
        self._batches = []  # the results of each request, in the order they came
        self.open = threading.Event()
        self.open.set()
        self.lock = threading.Lock()
        outer = self

        class handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.open.wait(60)
                batch = [json.loads(line) for line in body.splitlines() if line.strip()]
                with outer.lock:
                    outer._batches.append(batch)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def batches(self):
        """The results of each request so far."""
        with self.lock:
            return [list(b) for b in self._batches]

    def results(self):
        """Every result received so far, in the order the requests came."""
        return [r for b in self.batches() for r in b]

    def received(self):
        """How many results have come."""
        with self.lock:
            return sum(len(b) for b in self._batches)

    def close(self):
        self.open.set()
        self.server.shutdown()
        self.server.server_close()


class backpressure_test(unittest.TestCase):
    def start(self, when_full, max_records, settings=None):
        self.hook = stalling_webhook()
        self.addCleanup(self.hook.close)
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "bp.yaml")
        with open(path, "w") as f:
            f.write(pipeline(self.hook.url, when_full, max_records))
        log_path = os.path.join(tmp.name, "log")
        log = open(log_path, "w")
        self.addCleanup(log.close)
        files = [path]
        if settings:
            files.insert(0, os.path.join(tmp.name, "weir.yaml"))
            with open(files[0], "w") as f:
                f.write(settings)
        self.proc = subprocess.Popen([WEIR, "run", "--http-listen", "127.0.0.1:0", "--data-dir",
                                      os.path.join(tmp.name, "d"), *files],
                                     stdout=subprocess.DEVNULL, stderr=log)
        self.addCleanup(self.stop_weir)
        self.log_path = log_path

        wait_for(lambda: http_port(log_path) is not None, 15, "the HTTP server")
        self.base = f"http://127.0.0.1:{http_port(log_path)}"

    def stop_weir(self):
        if self.proc.poll() is None:
            self.hook.open.set()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def query(self):
        [q] = json.loads(http_get(self.base + "/api/v1/status", timeout=5)[1])["queries"]
        return q

    def metric(self, name, **labels):
        return metric_sum(self.base, name, **labels)

    def test_block_pauses_reading_and_loses_nothing(self):
        self.start("block", 300)
        wait_for(lambda: self.hook.received() > 0, 20, "the first results at the webhook")
        self.hook.open.clear()  # stall
        wait_for(lambda: self.query()["state"] == "degraded", 20, "back-pressure")
        self.assertIn("outputs full", self.query()["degraded_reason"])
        # Paused: the generator is not read while the webhook holds everything.
        before = self.query()["input_records"]
        time.sleep(1.0)
        self.assertEqual(self.query()["input_records"], before, "reading is paused")

        self.hook.open.set()  # answer again
        wait_for(lambda: self.query()["state"] == "running", 30, "reading to resume")
        wait_for(lambda: self.query()["input_records"] > before, 20, "new records")
        self.assertEqual(self.metric("weir_node_dropped_records_total", reason="buffer_full"), 0)

        # Nothing lost: every result produced before the stop reaches the webhook by the end
        # of the drain.
        produced = self.query()["results"]
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=60), 0)
        self.assertGreaterEqual(self.hook.received(), produced)

    def test_drop_newest_keeps_reading_and_counts_drops(self):
        self.start("drop_newest", 100)
        wait_for(lambda: self.hook.received() > 0, 20, "the first results at the webhook")
        self.hook.open.clear()
        wait_for(lambda: self.metric("weir_node_dropped_records_total",
                                     reason="buffer_full") > 0, 20, "results shed")
        before = self.query()["input_records"]
        wait_for(lambda: self.query()["input_records"] > before + 1000, 10,
                 "reading to go on while shedding")
        self.assertEqual(self.query()["state"], "degraded")
        self.hook.open.set()
        wait_for(lambda: self.query()["state"] == "running", 30, "shedding to stop")

    def test_drop_oldest_keeps_reading_and_sends_the_newest(self):
        self.start("drop_oldest", 100)
        wait_for(lambda: self.hook.received() > 0, 20, "the first results at the webhook")
        self.hook.open.clear()
        wait_for(lambda: self.metric("weir_node_dropped_records_total",
                                     reason="buffer_full") > 0, 20, "old results dropped")
        before = self.query()["input_records"]
        wait_for(lambda: self.query()["input_records"] > before + 1000, 10,
                 "reading to go on while dropping")
        dropped = self.metric("weir_node_dropped_records_total", reason="buffer_full")
        received = self.hook.received()
        self.hook.open.set()
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=60), 0)
        # The newest results were sent once the webhook answered again ...
        results = self.hook.results()
        self.assertGreater(len(results), received, "the newest results were sent")
        self.assertEqual(len({r["id"] for r in results}), len(results), "each result once")
        # ... and the dropped ones were queued after the first results sent: they are missing from
        # between the first and the last window received (each window has 50 groups x 2 checks).
        # Counting from the results themselves holds however many windows the daemon closes
        # before it stops. Which queued requests go is the unit tests' part (http_output_test).
        per_window = {}
        for r in results:
            second = epoch_seconds(r["window_start"])
            per_window[second] = per_window.get(second, 0) + 1
        first, last = min(per_window), max(per_window)
        self.assertGreaterEqual((last - first + 1) * 100 - len(results), dropped,
                                "the oldest queued results were dropped")

    def test_shutdown_timeout_quits_with_1_when_an_output_never_answers(self):
        self.start("block", 300, settings="shutdown_timeout: 2s\n")
        wait_for(lambda: self.hook.received() > 0, 20, "the first results at the webhook")
        self.hook.open.clear()  # from now on every request hangs
        time.sleep(0.5)
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 1)
        self.assertLess(time.monotonic() - started, 10)
        with open(self.log_path) as f:
            self.assertIn("shutdown_timeout passed", f.read())



class stop_with_a_dead_webhook_test(unittest.TestCase):
    """SIGTERM while the webhook is down: weir stops at once instead of waiting out the retries,
    skips the final checkpoint, and a restart sends every result, each once (same ids)."""

    def test_stop_is_prompt_and_a_restart_sends_everything(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        data = os.path.join(tmp.name, "readings.jsonl")
        seconds = 40
        with open(data, "w") as f:
            for i in range(seconds * 50):
                f.write(json.dumps({"ts": f"2026-11-20T10:00:{i // 50:02d}.{(i % 50) * 20:03d}Z",
                                    "v": i}) + "\n")
        port = free_port()  # nobody listens here during the first run
        path = os.path.join(tmp.name, "p.yaml")
        with open(path, "w") as f:
            f.write(f"""
pipeline: dead
inputs:
  readings: {{type: file, path: "{data}", follow: false}}
nodes:
  quality:
    from: readings
    time: {{field: ts}}
    window: {{type: tumbling, size: 1s}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [hook]
outputs:
  hook: {{type: http, url: "http://127.0.0.1:{port}/hook", batch_max_records: 5,
          batch_timeout: 20ms, retries: 5, timeout: 5s}}
""")
        state = os.path.join(tmp.name, "state")
        log_path = os.path.join(tmp.name, "log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([WEIR, "run", "--http-listen", "127.0.0.1:0", "--data-dir",
                                     state, path], stdout=subprocess.DEVNULL, stderr=log)
            try:
                wait_for(lambda: http_port(log_path) is not None, 15, "the HTTP server")
                base = f"http://127.0.0.1:{http_port(log_path)}"

                wait_for(lambda: metric_sum(base, "weir_input_records_total") >= seconds * 50, 20,
                         "the whole file read")
                time.sleep(0.5)  # the first deliveries are refused; their retries wait
                started = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                self.assertEqual(proc.wait(30), 0, open(log_path).read())
                self.assertLess(time.monotonic() - started, 5, "the stop waited for retries")
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        with open(log_path) as f:
            self.assertIn("not retried: weir is stopping", f.read())

        # The webhook is up now: a bounded run sends every window's result once.
        hook = stalling_webhook(port)
        self.addCleanup(hook.close)
        p = subprocess.run([WEIR, "run", "--once", "--fail-on", "never", "--http-listen",
                            "127.0.0.1:0", "--data-dir",
                            state, path], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        received = hook.results()
        ids = [r["id"] for r in received]
        self.assertEqual(len(ids), len(set(ids)), "a result was sent twice")
        self.assertEqual(len(ids), seconds, p.stderr)
        self.assertEqual(sum(r["value"] for r in received), seconds * 50)


if __name__ == "__main__":
    unittest.main()
