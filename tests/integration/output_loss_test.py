"""Outputs that cannot deliver for a while lose nothing, the real binary: a file output on a full
disk holds a window close larger than any queue bound until space is freed (no checkpoint passes
it, every result arrives once); a webhook that is down longer than a few retries still gets
every result (retries without end by default); a line torn by a crash is cut off at start."""
import errno
import http.server
import json
import os
import subprocess
import tempfile
import threading
import unittest

from weir_test_util import WEIR, http_get, log_excerpt, metric_sum, wait_for, weir_process

# A window close of GROUPS groups x 5 checks: about 95 MB of result lines, well beyond the
# 64 MiB the file output used to hold while its writes failed.
GROUPS = 60000
CHECKS = 5


def query_status(base):
    [q] = json.loads(http_get(base + "/api/v1/status", timeout=10)[1])["queries"]
    return q


def eventually(predicate, timeout):
    """Whether predicate() became true within `timeout` seconds."""
    try:
        wait_for(predicate, timeout, "")
        return True
    except AssertionError:
        return False


def read_lines(path):
    with open(path, "rb") as f:
        return f.read().split(b"\n")


class disk_full_test(unittest.TestCase):
    """A file output whose filesystem is full when a large window closes: reading pauses, no
    checkpoint is written past the unwritten results, and once space is freed every result is
    in the file, exactly once."""

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("mounting a small tmpfs to fill needs root")
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.mount = os.path.join(self.tmp, "small")
        os.mkdir(self.mount)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160m", "tmpfs", self.mount],
                       check=True, timeout=60)
        self.addCleanup(subprocess.run, ["umount", "-l", self.mount], timeout=60)

        self.data = os.path.join(self.tmp, "readings.jsonl")
        with open(self.data, "w") as f:
            for g in range(GROUPS):
                second = g * 3600 // GROUPS
                f.write(json.dumps({"ts": f"2026-11-20T10:{second // 60:02d}:{second % 60:02d}Z",
                                    "device": f"d-{g:05d}", "v": g % 97}) + "\n")
            # Closes the window of 10:00 (tumbling 1h), for every group at once.
            f.write(json.dumps({"ts": "2026-11-20T11:00:01Z", "device": "d-00000", "v": 1}) + "\n")
        self.results = os.path.join(self.mount, "results.jsonl")
        self.pipeline = os.path.join(self.tmp, "full.yaml")
        with open(self.pipeline, "w") as f:
            f.write(f"""
pipeline: full
inputs:
  readings: {{type: file, path: "{self.data}", follow: true}}
nodes:
  quality:
    from: readings
    time: {{field: ts}}
    window: {{type: tumbling, size: 1h}}
    group_by: [device]
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
      - {{name: mean_v, measure: mean(v), must_be: "[0, 100]"}}
      - {{name: min_v, measure: min(v), must_be: ">= 0"}}
      - {{name: max_v, measure: max(v), must_be: "<= 100"}}
      - {{name: missing_v, measure: missing_fraction(v), must_be: "< 5%"}}
    outputs: [results]
outputs:
  results: {{type: file, path: "{self.results}"}}
""")
        self.settings = os.path.join(self.tmp, "weir.yaml")
        with open(self.settings, "w") as f:
            f.write("checkpoint:\n  interval: 1s\nshutdown_timeout: 5m\n")

    def fill(self):
        """Fills the tmpfs to its last byte."""
        fd = os.open(os.path.join(self.mount, "filler"), os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            for size in (1 << 20, 4096, 1):
                block = b"\0" * size
                while True:
                    try:
                        os.write(fd, block)
                    except OSError as e:
                        if e.errno != errno.ENOSPC:
                            raise
                        break
        finally:
            os.close(fd)

    def free(self):
        os.remove(os.path.join(self.mount, "filler"))

    def start(self, *flags):
        w = weir_process(self, self.tmp, [*flags, self.settings, self.pipeline])
        base = f"http://127.0.0.1:{w.wait_port(60)}"
        return w, base

    def assert_every_result_once(self):
        lines = [line for line in read_lines(self.results) if line]
        ids = [json.loads(line)["id"] for line in lines]  # every line is whole JSON
        self.assertEqual(len(set(ids)), GROUPS * CHECKS, "every result arrives")
        self.assertEqual(len(ids), GROUPS * CHECKS, "none twice")

    def test_disk_full_window_close_beyond_the_queue_bound_waits_for_space(self):
        self.fill()
        w, base = self.start()
        wait_for(lambda: query_status(base)["results"] >= GROUPS * CHECKS, 300,
                 "the window close (status `results`)")
        # Checkpoints come every second and must all be skipped while the results wait. Each
        # is counted; the log says it once a minute, not every second.
        wait_for(lambda: metric_sum(base, "weir_checkpoint_failures_total") >= 3, 120,
                 "checkpoints skipped while the disk is full")
        self.assertLess(w.log_text().count("checkpoint skipped"),
                        metric_sum(base, "weir_checkpoint_failures_total"))
        # While blocked: the output says why, and the query stopped reading (back-pressure).
        # Asserted at the end, after what matters most: that nothing is lost.
        saw_blocked = eventually(
            lambda: metric_sum(base, "weir_output_blocked", output="results") == 1, 60)
        saw_paused = eventually(lambda: query_status(base)["state"] == "degraded", 60)
        reason = query_status(base).get("degraded_reason", "")
        checkpoints = query_status(base)["checkpoints"]
        blocked_log = w.log_text()

        self.free()
        wait_for(lambda: query_status(base)["checkpoints"] > checkpoints, 300,
                 "a checkpoint once space is free")
        wait_for(lambda: query_status(base)["state"] == "running", 60, "reading to resume")
        # The checkpoint covers everything: the file holds every result, once, already.
        self.assert_every_result_once()
        self.assertEqual(w.stop(), 0, log_excerpt(w.log_text()))
        self.assert_every_result_once()
        self.assertTrue(saw_blocked, "weir_output_blocked was 1 while the disk was full")
        self.assertTrue(saw_paused, "the query was degraded (reading paused)")
        self.assertIn('output "results" blocked: cannot write', reason)
        self.assertIn("No space left on device", reason)
        self.assertIn("No space left on device", blocked_log)
        self.assertIn("output full/results blocked", blocked_log)
        self.assertRegex(w.log_text(), r"checkpoint written again, after \d+ failed")

    def test_disk_full_at_shutdown_produces_the_results_again_at_the_next_start(self):
        self.fill()
        w, base = self.start()
        wait_for(lambda: query_status(base)["results"] >= GROUPS * CHECKS, 300,
                 "the window close (status `results`)")
        wait_for(lambda: "output full/results blocked" in w.log_text(), 60,
                 "the output to say it is blocked")
        self.assertEqual(w.stop(), 0, log_excerpt(w.log_text()))
        self.assertIn("produced again at the next start", w.log_text())

        self.free()
        w2, base2 = self.start()
        wait_for(lambda: query_status(base2)["results"] >= GROUPS * CHECKS, 300,
                 "the window close again")
        self.assertEqual(w2.stop(), 0)
        self.assert_every_result_once()

    def test_disk_full_in_once_mode_waits_for_space_and_writes_every_result_once(self):
        # --once closes every window at the end: without the record of 11:00 that closes the
        # window of 10:00 earlier, which would open one more window for every group.
        with open(self.data, "rb") as f:
            lines = f.readlines()
        with open(self.data, "wb") as f:
            f.writelines(lines[:-1])
        self.fill()
        w, base = self.start("--once", "--fail-on", "never")
        wait_for(lambda: query_status(base)["results"] >= GROUPS * CHECKS, 300,
                 "the window close (status `results`)")
        wait_for(lambda: metric_sum(base, "weir_checkpoint_failures_total") >= 3, 120,
                 "checkpoints skipped while the disk is full")
        self.free()
        # Every input ended: weir exits once the results are written and checkpointed.
        try:
            code = w.proc.wait(timeout=300)
        except subprocess.TimeoutExpired:
            self.fail("weir did not finish once space was free:\n" + log_excerpt(w.log_text()))
        self.assertEqual(code, 0, log_excerpt(w.log_text()))
        self.assert_every_result_once()


class webhook_down_test(unittest.TestCase):
    """A webhook that refuses requests for longer than three retries: by default weir keeps
    retrying, and every result arrives once it is back."""

    def test_webhook_down_longer_than_three_retries_loses_nothing(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        received = []
        refused = [0]
        is_open = threading.Event()
        lock = threading.Lock()

        class handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if not is_open.is_set():
                    with lock:
                        refused[0] += 1
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                with lock:
                    received.extend(json.loads(line) for line in body.splitlines() if line)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)

        windows = 20
        data = os.path.join(tmp.name, "readings.jsonl")
        with open(data, "w") as f:
            for s in range(windows + 1):
                for i in range(5):
                    f.write(json.dumps({"ts": f"2026-11-20T10:00:{s:02d}.{i * 100:03d}Z",
                                        "v": i}) + "\n")
        path = os.path.join(tmp.name, "hook.yaml")
        with open(path, "w") as f:
            f.write(f"""
pipeline: hook
inputs:
  readings: {{type: file, path: "{data}", follow: true}}
nodes:
  quality:
    from: readings
    time: {{field: ts}}
    window: {{type: tumbling, size: 1s}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [hook]
outputs:
  hook: {{type: http, url: "http://127.0.0.1:{server.server_address[1]}/hook",
          batch_max_records: 5, batch_timeout: 20ms, retry_backoff: 10ms, timeout: 30s}}
""")
        w = weir_process(self, tmp.name, [path])
        w.wait_port(60)
        # Three retries of the first batch (10, 20, 40 ms) are long past after ten refusals,
        # and weir has been retrying for five seconds.
        wait_for(lambda: refused[0] >= 10, 60, "the webhook to refuse ten requests")
        is_open.set()
        wait_for(lambda: len(received) >= windows, 60, "every result at the webhook")
        self.assertEqual(w.stop(), 0, log_excerpt(w.log_text()))
        ids = [r["id"] for r in received]
        self.assertEqual(len(set(ids)), windows)
        self.assertEqual(len(ids), windows, "none twice")
        self.assertIn("output hook/hook blocked", w.log_text())


class torn_line_test(unittest.TestCase):
    """A file output's last line torn by kill -9 in the middle of a write is cut off at start:
    every line of the file is valid JSON afterwards."""

    def test_torn_last_line_is_cut_off_at_start(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        data = os.path.join(tmp.name, "readings.jsonl")
        with open(data, "w") as f:
            for s in range(4):
                f.write(json.dumps({"ts": f"2026-11-20T10:00:{s:02d}Z", "v": s}) + "\n")
        results = os.path.join(tmp.name, "results.jsonl")
        whole = json.dumps({"id": "0000000000000001", "pipeline": "torn", "value": 1})
        with open(results, "w") as f:
            # What kill -9 leaves: whole lines, then the start of one.
            f.write(whole + "\n" + whole.replace("1", "2") + "\n" + '{"id":"00000000000')
        path = os.path.join(tmp.name, "torn.yaml")
        with open(path, "w") as f:
            f.write(f"""
pipeline: torn
inputs:
  readings: {{type: file, path: "{data}", follow: false}}
nodes:
  quality:
    from: readings
    time: {{field: ts}}
    window: {{type: tumbling, size: 1s}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: "{results}"}}
""")
        p = subprocess.run([WEIR, "run", "--once", "--fail-on", "never", "--http-listen",
                            "127.0.0.1:0", "--data-dir",
                            os.path.join(tmp.name, "data"), path],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        lines = [line for line in read_lines(results) if line]
        parsed = []
        for line in lines:
            try:
                parsed.append(json.loads(line))
            except ValueError:
                self.fail(f"a line of the file output is not JSON: {line[:80]!r}")
        self.assertEqual(parsed[0]["id"], "0000000000000001")
        self.assertEqual(parsed[1]["id"], "0000000000000002")
        self.assertEqual(len(parsed), 2 + 4, "the old lines and one result per window")


if __name__ == "__main__":
    unittest.main()
