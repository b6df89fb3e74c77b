"""SIGHUP's configuration load runs off the event loop: signals that arrive while it runs are
coalesced into one more reload, and a shutdown that arrives while it runs is not held up by it
(its result is discarded). A reload that changes only a threshold keeps the open windows."""
import datetime
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import unittest

from weir_test_util import WEIR, log_excerpt, wait_for, weir_process

# Many small files, so that a load takes long enough to signal into (hundreds of ms with the
# sanitizers, tens without).
PIPELINE = """
pipeline: p{index:03d}
inputs:
  readings: {{type: generator, seed: {index}, rate: 1, time_step: 1s,
             start_time: "2026-11-20T10:00:00Z"}}
nodes:
  quality:
    from: readings
    time: {{field: ts}}
    window: {{type: tumbling, size: {window}}}
    checks: [{{name: volume, measure: count(), must_be: "> 0"}}]
"""


# 20 records per 2 s window and group, paced by the wall clock from now on.
STEADY = """
pipeline: steady
inputs:
  sensors: {{type: generator, seed: 8, rate: 20, groups: 2}}
nodes:
  quality:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 2s}}
    group_by: [group]
    checks:
      - {{name: volume, measure: count(), must_be: "{must_be}"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}, flush_interval: 100ms}}
"""


class running_daemon:
    def __init__(self, test, tmp, files):
        self.pipelines = os.path.join(tmp, "pipelines.d")
        os.mkdir(self.pipelines)
        self.files = files
        self.write_all("10s")
        self.log_path = os.path.join(tmp, "weir.log")
        self.log = open(self.log_path, "w")
        test.addCleanup(self.log.close)
        self.proc = subprocess.Popen(
            [WEIR, "run", "--threads", "1", "--http-listen", "127.0.0.1:0", "--data-dir",
             os.path.join(tmp, "data"), self.pipelines],
            stdout=subprocess.DEVNULL, stderr=self.log)
        test.addCleanup(self.kill)
        wait_for(lambda: self.log_text().count("running (1 inputs") == files or
                 self.proc.poll() is not None, 120, f"{files} queries running", interval=0.2)
        test.assertIsNone(self.proc.poll(), log_excerpt(self.log_text()))

    def write_all(self, window):
        for i in range(self.files):
            with open(os.path.join(self.pipelines, f"p{i:03d}.yaml"), "w") as f:
                f.write(PIPELINE.format(index=i, window=window))

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class reload_lifecycle_test(unittest.TestCase):
    def test_signals_during_a_reload_make_one_more_reload(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = running_daemon(self, tmp, 100)
            d.write_all("20s")
            d.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "SIGHUP: reloading" in d.log_text(), 30, "the reload",
                     interval=0.005)
            if "reload done" in d.log_text():
                self.skipTest("the reload ended before the next signals could be sent")
            for _ in range(3):
                d.proc.send_signal(signal.SIGHUP)
                time.sleep(0.005)
            wait_for(lambda: d.log_text().count("reload done") == 2, 60, "the second reload")
            time.sleep(1)  # a third reload, were there one, would have started by now
            log = d.log_text()
            self.assertEqual(log.count("SIGHUP: reloading"), 2, log_excerpt(log))
            # The first reload restarted every query; the second found nothing changed.
            self.assertIn("reload: 0 queries kept, 100 restarted, 0 removed, 0 added", log)
            self.assertIn("reload: 100 queries kept, 0 restarted, 0 removed, 0 added", log)
            d.proc.send_signal(signal.SIGTERM)
            self.assertEqual(d.proc.wait(timeout=60), 0, log_excerpt(d.log_text()))

    def test_a_shutdown_during_a_load_is_not_held_up_and_discards_it(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = running_daemon(self, tmp, 300)
            d.write_all("20s")
            d.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "SIGHUP: reloading" in d.log_text(), 30, "the reload",
                     interval=0.005)
            d.proc.send_signal(signal.SIGTERM)
            self.assertEqual(d.proc.wait(timeout=60), 0, log_excerpt(d.log_text()))
            log = d.log_text()
            self.assertNotIn("AddressSanitizer", log)
            # The load's result never reached the queries: either the process ended before the
            # load did, or the result came during the shutdown and was dropped.
            self.assertRegex(log, "exiting without waiting for the configuration load|"
                                  "reload abandoned: the daemon is stopping")
            self.assertNotIn("reload: ", log)
            # Every query still wrote its final checkpoint.
            checkpoints = os.path.join(tmp, "data", "checkpoints")
            written = [f for _, _, files in os.walk(checkpoints) for f in files
                       if f.endswith(".ckpt")]
            self.assertEqual(len(written), 300)
            self.assertFalse(re.search(r"\berror\b", log), log_excerpt(log))

    def test_a_threshold_edit_keeps_the_open_windows(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = os.path.join(tmp, "results.jsonl")
            pipeline = os.path.join(tmp, "steady.yaml")

            def write(must_be):
                with open(pipeline, "w") as f:
                    f.write(STEADY.format(must_be=must_be, results=results))

            def windows(must_be):
                if not os.path.exists(results):
                    return 0
                with open(results) as f:
                    return sum(1 for line in f if line.endswith("\n") and
                               json.loads(line)["must_be"] == must_be)
            write("> 15")
            d = weir_process(self, tmp, [pipeline])
            wait_for(lambda: windows("> 15") >= 6 or d.proc.poll() is not None, 60,
                     "three windows before the reload", interval=0.1)
            self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
            write("> 16")
            d.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload done" in d.log_text() or d.proc.poll() is not None, 60,
                     "the reload", interval=0.1)
            wait_for(lambda: windows("> 16") >= 6 or d.proc.poll() is not None, 60,
                     "three windows after the reload", interval=0.1)
            self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
            self.assertEqual(d.stop(), 0)
            log = d.log_text()
            self.assertIn("reload: resuming query steady/quality with its open windows", log)
            self.assertNotIn("open windows of the old plan are dropped", log)

            with open(results) as f:
                rs = [json.loads(line) for line in f]
            first_start = min(r["window_start"] for r in rs)
            for group in ("g-1", "g-2"):
                mine = [r for r in rs if r["group"] == {"group": group}]
                starts = [datetime.datetime.fromisoformat(r["window_start"].replace("Z", "+00:00"))
                          for r in mine]
                # Every window once, none missing across the reload.
                steps = {(b - a).total_seconds() for a, b in zip(starts, starts[1:])}
                self.assertEqual(steps, {2.0}, [r["window_start"] for r in mine])
                for r in mine:
                    if r["window_start"] == first_start:
                        self.assertTrue(r.get("partial"), r)
                        self.assertNotIn(r["outcome"], ("fail", "warn"), r)
                        continue
                    # A whole window, judged by the threshold of its time: no record lost at
                    # the reload, no partial window after it.
                    self.assertNotIn("partial", r)
                    self.assertEqual(r["records"], 20, r)
                    self.assertEqual(r["outcome"], "pass", r)
            self.assertEqual({r["must_be"] for r in rs}, {"> 15", "> 16"})


if __name__ == "__main__":
    unittest.main()
