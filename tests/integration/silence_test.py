"""Silence and false alarms through the real daemon: a group that stops sending fails its
freshness check within a window and passes again when it is back; on_no_data routes a null
measure; weir_check_value turns NaN on no data while weir_check_last_result_timestamp_seconds
keeps the time of the last value; the quickstart's first window is partial and raises nothing,
and its silent sensor fails freshness."""
import json
import math
import os
import tempfile
import time
import unittest

import yaml

from weir_test_util import http_get, log_excerpt, source, wait_for, weir, weir_process

SILENT_GROUP = """
pipeline: silence
inputs:
  sensors:
    type: generator
    seed: 3
    rate: 40                      # 20 records per second and group, paced by the wall clock
    groups: 2
    problems:
      - {{type: silent_group, group: g-2, after: 6s, duration: 8s}}
nodes:
  quality:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 2s}}
    group_by: [group]
    checks:
      - {{name: freshness, measure: freshness(), must_be: "< 3s"}}
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}, flush_interval: 100ms}}
"""

# Historical event times (no partial windows); v is absent from the second minute's records.
NO_DATA = """
pipeline: routed
inputs:
  events: {{type: file, path: {events}}}
nodes:
  strict:
    from: events
    time: {{field: ts}}
    window: {{type: tumbling, size: 1m}}
    on_no_data: fail
    checks:
      - {{name: inherits, measure: mean(v), must_be: "> 0"}}
      - {{name: ignored, measure: mean(v), must_be: "> 0", on_no_data: ignore}}
      - {{name: passes, measure: mean(v), must_be: "> 0", on_no_data: pass}}
      - {{name: warns, measure: mean(v), must_be: "> 0", on_no_data: warn}}
    outputs: [results]
  lenient:
    from: events
    time: {{field: ts}}
    window: {{type: tumbling, size: 1m}}
    checks:
      - {{name: default, measure: mean(v), must_be: "> 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}}}
"""

# An ungrouped check whose field is missing for a few windows.
GAPPY = """
pipeline: gappy
inputs:
  sensors:
    type: generator
    seed: 4
    rate: 20
    problems:
      - {{type: missing_field, field: temperature, after: 4s, duration: 4s}}
nodes:
  quality:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 1s}}
    checks:
      - {{name: mean_temp, measure: mean(temperature), must_be: "> -1000"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}, flush_interval: 100ms}}
"""


def read_results(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


def sample(body, name, check):
    """The value of metric `name` for check `check` in an exposition (None when absent)."""
    for line in body.splitlines():
        if line.startswith(name + "{") and f'check="{check}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


class silence_test(unittest.TestCase):
    def test_a_silent_group_fails_freshness_within_a_window_and_recovers(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = os.path.join(tmp, "results.jsonl")
            with open(os.path.join(tmp, "p.yaml"), "w") as f:
                f.write(SILENT_GROUP.format(results=results))
            d = weir_process(self, tmp, [os.path.join(tmp, "p.yaml")])

            def g2_freshness():
                return sorted((r for r in read_results(results)
                               if r["check"] == "freshness" and r["group"] == {"group": "g-2"}),
                              key=lambda r: r["window_start"])

            def back():  # an empty g-2 window, then one with records again
                rs = g2_freshness()
                empty = [i for i, r in enumerate(rs) if r["records"] == 0]
                return empty and any(r["records"] > 0 for r in rs[empty[-1] + 1:])
            wait_for(lambda: back() or d.proc.poll() is not None, 90, "g-2 to come back",
                     interval=0.2)
            self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
            self.assertEqual(d.stop(), 0)

            rs = g2_freshness()
            first_empty = next(i for i, r in enumerate(rs) if r["records"] == 0)
            first_fail = next(i for i, r in enumerate(rs) if r["outcome"] == "fail")
            # The first empty window may close less than 3 s after the last record; the one
            # after it cannot.
            self.assertLessEqual(first_fail, first_empty + 1, rs)
            empty = [r for r in rs if r["records"] == 0]
            self.assertGreaterEqual(len(empty), 3, rs)
            for r in empty:
                # Measured in the empty window: the age of g-2's newest record, not null.
                self.assertIsInstance(r["value"], (int, float), r)
                self.assertGreater(r["value"], 1.5, r)
            for r in rs[first_fail:]:
                if r["records"] == 0:
                    self.assertEqual(r["outcome"], "fail", r)
            returned = next(r for r in rs[first_fail:] if r["records"] > 0)
            self.assertEqual(returned["outcome"], "pass", returned)
            self.assertLess(returned["value"], 3, returned)
            # Freshness grows by a window per empty window.
            values = [r["value"] for r in empty]
            self.assertEqual(values, sorted(values), empty)

            every = read_results(results)
            volume_empty = [r for r in every if r["check"] == "volume" and r["records"] == 0]
            self.assertTrue(volume_empty)
            self.assertTrue(all(r["outcome"] == "fail" for r in volume_empty), volume_empty)
            # Only the first window (weir started inside it) is partial.
            first_start = min(r["window_start"] for r in every)
            for r in every:
                self.assertEqual(r.get("partial", False), r["window_start"] == first_start, r)

    def test_on_no_data_routes_a_null_measure(self):
        with tempfile.TemporaryDirectory() as tmp:
            events = os.path.join(tmp, "events.jsonl")
            with open(events, "w") as f:
                for minute, v in ((0, 5), (1, None), (2, 7)):
                    for second in (5, 25, 45):
                        record = {"ts": f"2026-11-20T10:0{minute}:{second:02d}Z"}
                        if v is not None:
                            record["v"] = v
                        f.write(json.dumps(record) + "\n")
            results = os.path.join(tmp, "results.jsonl")
            pipeline = os.path.join(tmp, "p.yaml")
            with open(pipeline, "w") as f:
                f.write(NO_DATA.format(events=events, results=results))
            rc, out, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                                os.path.join(tmp, "d"), pipeline,
                                timeout=120)
            self.assertEqual(rc, 0, log_excerpt(err))
            outcomes = {}
            for r in read_results(results):
                self.assertNotIn("partial", r, r)  # old event times: no partial window
                outcomes.setdefault(r["check"], []).append((r["window_start"][11:16],
                                                            r["outcome"], r["value"]))
            expected_gap = {"inherits": "fail", "ignored": "no_data", "passes": "pass",
                            "warns": "warn", "default": "no_data"}
            for check, gap in expected_gap.items():
                self.assertEqual(outcomes[check], [("10:00", "pass", 5), ("10:01", gap, None),
                                                   ("10:02", "pass", 7)], check)

            bad = os.path.join(tmp, "bad.yaml")
            with open(bad, "w") as f:
                f.write(NO_DATA.format(events=events, results=results)
                        .replace("on_no_data: warn", "on_no_data: maybe"))
            rc, out, err = weir("validate", bad)
            self.assertEqual(rc, 78, out + err)
            self.assertIn("nodes.strict.checks[3].on_no_data", out + err)

            rc, out, err = weir("schema")
            self.assertEqual(rc, 0, err)
            self.assertIn("on_no_data", out)
            self.assertIn("on_partial", out)

    def test_check_value_is_not_stale_without_data(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = os.path.join(tmp, "results.jsonl")
            with open(os.path.join(tmp, "p.yaml"), "w") as f:
                f.write(GAPPY.format(results=results))
            d = weir_process(self, tmp, [os.path.join(tmp, "p.yaml")])
            base = f"http://127.0.0.1:{d.wait_port()}"
            seen = {}

            def metrics():
                status, body = http_get(base + "/metrics", timeout=5)
                if status != 200:
                    return None, None
                return (sample(body, "weir_check_value", "mean_temp"),
                        sample(body, "weir_check_last_result_timestamp_seconds", "mean_temp"))

            def stale():
                value, last = metrics()
                if value is not None and math.isnan(value):
                    seen["nan_last"] = last
                    return True
                return d.proc.poll() is not None
            wait_for(stale, 60, "weir_check_value to be NaN", interval=0.1)
            self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
            last_at_nan = seen["nan_last"]
            self.assertGreater(last_at_nan, 0)
            self.assertLessEqual(last_at_nan, time.time())

            def fresh_again():
                value, last = metrics()
                if value is not None and not math.isnan(value) and last > last_at_nan:
                    seen["value"] = value
                    return True
                return d.proc.poll() is not None
            wait_for(fresh_again, 60, "a value again", interval=0.1)
            self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
            self.assertEqual(d.stop(), 0)

            rs = read_results(results)
            # The timestamp seen with NaN is when the last result with a value was emitted,
            # and a result without data came after it.
            with_value = [r for r in rs if r["value"] is not None]
            emitted = {r["emitted_at"] for r in with_value}
            as_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(last_at_nan))
            self.assertTrue(any(e.startswith(as_text) for e in emitted), (as_text, emitted))
            self.assertTrue(any(r["outcome"] == "no_data" and r["value"] is None for r in rs))

    def test_quickstart_first_window_is_partial_and_its_silent_sensor_fails_freshness(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = os.path.join(tmp, "results.jsonl")
            with open(source("examples", "quickstart.yaml")) as f:
                quickstart = yaml.safe_load(f)
            # The quickstart as it is, but its results as JSON lines in a file.
            quickstart["outputs"] = {"console": {"type": "file", "path": results,
                                                 "flush_interval": "100ms"}}
            pipeline = os.path.join(tmp, "quickstart.yaml")
            with open(pipeline, "w") as f:
                yaml.safe_dump(quickstart, f)
            d = weir_process(self, tmp, [pipeline])

            def sensor4_back():
                rs = [r for r in read_results(results) if r["check"] == "freshness" and
                      r["group"] == {"sensor_id": "sensor-4"}]
                failed = [i for i, r in enumerate(rs) if r["outcome"] == "fail"]
                return failed and any(r["outcome"] == "pass" for r in rs[failed[-1] + 1:])
            # sensor-4 is silent from 40 s to 70 s after the start.
            wait_for(lambda: sensor4_back() or d.proc.poll() is not None, 150,
                     "sensor-4 to fail freshness and recover", interval=0.5)
            self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
            self.assertEqual(d.stop(), 0)

            rs = read_results(results)
            starts = sorted({r["window_start"] for r in rs})
            first = [r for r in rs if r["window_start"] == starts[0]]
            self.assertTrue(first and len(first) % 6 == 0, first)  # six checks per sensor
            # The window the start fell in is partial. So is the one before it when weir
            # started within allowed_lateness (2 s) of its end: it took only stragglers.
            partial_starts = sorted({r["window_start"] for r in rs if r.get("partial")})
            self.assertIn(partial_starts, (starts[:1], starts[:2]), partial_starts)
            for r in rs:
                if r["window_start"] in partial_starts:
                    self.assertTrue(r.get("partial"), r)
                    self.assertNotIn(r["outcome"], ("fail", "warn"), r)
            silent = [r for r in rs if r["check"] == "freshness" and r["outcome"] == "fail"]
            self.assertTrue(silent)
            self.assertEqual({r["group"]["sensor_id"] for r in silent}, {"sensor-4"}, silent)
            self.assertTrue(any(r["records"] == 0 for r in silent), silent)


if __name__ == "__main__":
    unittest.main()
