"""Failed-value samples (`samples: N` on a check) through the real binary: `weir run --once` over
a file writes failing results with the records that made them fail (secrets masked, bounded) and
passing results without any; and the alertmanager output sends them as an annotation to Debian's
real Alertmanager."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from weir_test_util import WEIR, free_port, log_excerpt, wait_for, weir

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"

START_MS = 1_795_168_800_000  # 2026-11-20T10:00:00Z

PIPELINE = """pipeline: samples
inputs:
  readings: {{type: file, path: {data}, follow: false}}
nodes:
  quality:
    from: readings
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: completeness, measure: missing_fraction(temperature), must_be: "< 5%",
          samples: 2}}
      - {{name: plausible, measure: 'in_range_fraction(temperature, -40, 60)',
          must_be: "> 99%", samples: 5}}
      - {{name: known_keys, measure: 'count_where(api_key != "k-1")', must_be: "== 0",
          samples: 5}}
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}}}
"""

SECRET = "sk-live-0123456789abcdef"


def format_ms(ms):
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def write_readings(path):
    """Window [0 s, 10 s): 20 readings, of which 3 without a temperature (at 1 s, 2 s and 3 s),
    2 out of range (999 at 4 s, "hot" at 5 s) and one with another key (the secret, at 6 s).
    Window [10 s, 20 s): 10 good readings."""
    with open(path, "w") as f:
        for i in range(20):
            rec = {"ts": format_ms(START_MS + i * 500), "temperature": 20.5, "api_key": "k-1"}
            at = i * 500
            if at == 1000:
                del rec["temperature"]
            if at in (2000, 3000):
                rec["temperature"] = None
            if at == 4000:
                rec["temperature"] = 999
            if at == 5000:
                rec["temperature"] = "hot"
            if at == 6000:
                rec["api_key"] = SECRET
            f.write(json.dumps(rec) + "\n")
        for i in range(10):
            rec = {"ts": format_ms(START_MS + 10_000 + i * 1000), "temperature": 21,
                   "api_key": "k-1"}
            f.write(json.dumps(rec) + "\n")


class samples_test(unittest.TestCase):
    def test_failing_results_carry_their_samples_and_passing_ones_none(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "readings.jsonl")
            results = os.path.join(tmp, "results.jsonl")
            config = os.path.join(tmp, "samples.yaml")
            write_readings(data)
            with open(config, "w") as f:
                f.write(PIPELINE.format(data=data, results=results))
            rc, _, err = weir("validate", config)
            self.assertEqual(rc, 0, err)
            rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                              os.path.join(tmp, "d"), config, timeout=120)
            self.assertEqual(rc, 0, log_excerpt(err))
            with open(results) as f:
                text = f.read()
            self.assertNotIn(SECRET, text)
            by_window = {}
            for line in text.splitlines():
                r = json.loads(line)
                by_window[(r["window_start"], r["check"])] = r
            first, second = format_ms(START_MS), format_ms(START_MS + 10_000)
            self.assertEqual(len(by_window), 8, sorted(by_window))

            def t(ms):
                return format_ms(START_MS + ms)

            completeness = by_window[(first, "completeness")]
            self.assertEqual(completeness["outcome"], "fail")
            # The first two of three: samples: 2.
            self.assertEqual(completeness["samples"],
                             [{"time": t(1000), "temperature": None},
                              {"time": t(2000), "temperature": None}])
            # The key order of DESIGN.md: samples after the other optional fields, before
            # emitted_at.
            keys = list(completeness)
            self.assertEqual(keys[-2:], ["samples", "emitted_at"])

            plausible = by_window[(first, "plausible")]
            self.assertEqual(plausible["outcome"], "fail")
            self.assertEqual(plausible["samples"],
                             [{"time": t(4000), "temperature": 999},
                              {"time": t(5000), "temperature": "hot"}])

            keys_check = by_window[(first, "known_keys")]
            self.assertEqual(keys_check["outcome"], "fail")
            self.assertEqual(keys_check["samples"], [{"time": t(6000), "api_key": "***"}])

            # No samples on passing results, nor on checks without `samples`.
            self.assertNotIn("samples", by_window[(first, "volume")])
            for check in ("completeness", "plausible", "known_keys", "volume"):
                r = by_window[(second, check)]
                self.assertEqual(r["outcome"], "pass", check)
                self.assertNotIn("samples", r, check)

    def test_samples_of_a_measure_without_failing_records_are_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            config = os.path.join(tmp, "bad.yaml")
            write_readings(os.path.join(tmp, "x"))
            with open(config, "w") as f:
                f.write(PIPELINE.format(data=os.path.join(tmp, "x"), results=os.path.join(
                    tmp, "r")).replace("measure: count(), must_be: \"> 0\"",
                                       "measure: mean(temperature), must_be: \"> 0\", "
                                       "samples: 3"))
            rc, _, err = weir("validate", config)
            self.assertEqual(rc, 78, err)
            self.assertIn("nodes.quality.checks[3].samples", err)
            self.assertIn("no record fails mean() on its own", err)


ALERT_PIPELINE = """
inputs:
  sensors:
    type: generator
    seed: 5
    rate: 100
    time_step: 100ms
    start_time: "2026-11-20T10:00:00Z"
    problems:
      - {{type: out_of_range, field: humidity, after: 0s, duration: 40s, value: 140}}
nodes:
  rooms:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: humidity_range, measure: 'in_range_fraction(humidity, 0, 100)',
          must_be: "> 99%", samples: 3}}
    outputs: [alerts]
outputs:
  alerts:
    type: alertmanager
    url: http://127.0.0.1:{port}
    resend_interval: 1s
    labels: {{team: weir_samples_tests}}
"""


@unittest.skipUnless(os.path.exists(ALERTMANAGER), "prometheus-alertmanager is not installed")
class samples_alert_test(unittest.TestCase):
    def test_the_alert_carries_the_samples_annotation(self):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            with open(os.path.join(tmp, "am.yml"), "w") as f:
                f.write("route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n")
            am = subprocess.Popen(
                [ALERTMANAGER, f"--config.file={tmp}/am.yml", f"--storage.path={tmp}/am",
                 f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.addCleanup(am.wait, 10)
            self.addCleanup(am.terminate)
            base = f"http://127.0.0.1:{port}"
            wait_for(lambda: urllib.request.urlopen(base + "/-/ready", timeout=2).status == 200,
                     30, "Alertmanager to be ready")
            with open(os.path.join(tmp, "p.yaml"), "w") as f:
                f.write(ALERT_PIPELINE.format(port=port))
            proc = subprocess.Popen([WEIR, "run", "--data-dir", os.path.join(tmp, "d"),
                                     os.path.join(tmp, "p.yaml")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.addCleanup(proc.wait, 30)
            self.addCleanup(proc.terminate)

            def ours():
                with urllib.request.urlopen(base + "/api/v2/alerts", timeout=2) as r:
                    alerts = json.loads(r.read())
                return [a for a in alerts
                        if a["labels"].get("team") == "weir_samples_tests"
                        and "samples" in a["annotations"]]
            wait_for(lambda: ours(), 60, "an alert with samples")
            samples = json.loads(ours()[0]["annotations"]["samples"])
            self.assertTrue(1 <= len(samples) <= 3, samples)
            for s in samples:
                self.assertEqual(set(s), {"time", "humidity"})
                self.assertEqual(s["humidity"], 140)


if __name__ == "__main__":
    unittest.main()
