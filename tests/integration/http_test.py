"""The daemon's HTTP server as an operator uses it: health, readiness, Prometheus metrics
(checked with promtool when it is installed) and the status API of a running weir."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, http_get, http_port, wait_for

PIPELINE = """
inputs:
  sensors: {type: generator, seed: 1, rate: 200, time_step: 100ms, groups: 3,
            start_time: "2026-11-20T10:00:00Z"}
nodes:
  quality:
    from: sensors
    time: {field: ts}
    window: {type: tumbling, size: 10s}
    group_by: [group]
    checks:
      - {name: volume, measure: count(), must_be: "> 10"}
      - {name: impossible, measure: count(), must_be: "> 1000000"}
"""


class http_test(unittest.TestCase):
    def test_status_of_an_unreachable_daemon_exits_1(self):
        out = subprocess.run([WEIR, "status", "--url", "http://127.0.0.1:1"],
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 1)
        self.assertIn("cannot reach weir", out.stderr)

    def test_health_ready_metrics_and_status(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "p.yaml")
            with open(path, "w") as f:
                f.write(PIPELINE)
            log_path = os.path.join(tmp, "log")
            log = open(log_path, "w")
            self.addCleanup(log.close)
            p = subprocess.Popen([WEIR, "run", "--http-listen", "127.0.0.1:0", "--data-dir",
                                  os.path.join(tmp, "d"), path],
                                 stdout=subprocess.DEVNULL, stderr=log)
            try:
                wait_for(lambda: http_port(log_path) is not None, 10, "the HTTP server")
                base = f"http://127.0.0.1:{http_port(log_path)}"
                self.assertEqual(http_get(base + "/health")[0], 200)
                wait_for(lambda: http_get(base + "/ready")[0] == 200, 10, "readiness")

                def metrics():
                    return http_get(base + "/metrics")[1]
                wait_for(lambda: "weir_check_results_total" in metrics(), 20, "check results")
                text = metrics()
                self.assertRegex(text, r'weir_check_failing\{[^}]*check="impossible"[^}]*\} 1')
                self.assertRegex(text, r'weir_check_failing\{[^}]*check="volume"[^}]*\} 0')
                self.assertIn("weir_input_records_total", text)
                self.assertIn("process_resident_memory_bytes", text)
                self.assertIn("weir_build_info", text)
                promtool = shutil.which("promtool")
                if promtool:
                    check = subprocess.run([promtool, "check", "metrics"], input=text,
                                           capture_output=True, text=True, timeout=30)
                    self.assertEqual(check.returncode, 0, check.stdout + check.stderr)

                status = json.loads(http_get(base + "/api/v1/status")[1])
                self.assertEqual(status["state"], "running")
                [query] = status["queries"]
                self.assertEqual((query["pipeline"], query["query"], query["state"]),
                                 ("p", "quality", "running"))
                self.assertGreater(query["input_records"], 0)
                self.assertIsNotNone(query["watermark"])
                self.assertEqual(http_get(base + "/nope")[0], 404)

                # `weir status` prints the same as a table.
                out = subprocess.run([WEIR, "status", "--url", base], capture_output=True,
                                     text=True, timeout=10)
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertRegex(out.stdout, r"(?m)^p\s+quality\s+quality\s+running\s+no\s+"
                                             r"2026-11-20T\S+\s+-?\d+\.\ds\s+\d+\s+0\s+\d+\s+0\s+"
                                             r"impossible\(3 groups\)$")
            finally:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
            self.assertEqual(p.returncode, 0)


if __name__ == "__main__":
    unittest.main()
