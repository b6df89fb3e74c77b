"""median and percentile through the real binary (docs/pipelines.md, "Exact and approximate
quantiles"): exact while a window holds few numbers, so the median of two readings is their
mean and not a sketch artefact; past exact_quantile_limit the result says it is approximate."""
import json
import os
import tempfile
import unittest

from weir_test_util import log_excerpt, weir

PIPELINE = """pipeline: quantiles
inputs:
  events: {{type: file, path: "{data}"}}
nodes:
  quality:
    from: events
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
{limit}    checks:
      - {{name: median, measure: median(v), should_be: "> -100"}}
      - {{name: p90, measure: "percentile(v, 0.9)", should_be: "> -100"}}
      - {{name: median_nearest, measure: "median(v, nearest)", should_be: "> -100"}}
      - {{name: p90_nearest, measure: "percentile(v, 0.9, nearest)", should_be: "> -100"}}
    outputs: [results]
outputs:
  results: {{type: file, path: "{results}"}}
"""


class quantiles_test(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def run_once(self, values, limit=None):
        """Runs weir run --once over one 10 s window holding `values` (and a record of the next
        window, which closes the first); returns the first window's results by check name."""
        data = os.path.join(self.dir, "events.jsonl")
        with open(data, "w") as f:
            for i, v in enumerate(values):
                f.write(json.dumps({"ts": f"2026-11-20T10:00:0{i % 10}.{i // 10:03d}Z",
                                    "v": v}) + "\n")
            f.write(json.dumps({"ts": "2026-11-20T10:00:30Z", "v": 0}) + "\n")
        results = os.path.join(self.dir, "results.jsonl")
        if os.path.exists(results):
            os.remove(results)
        config = os.path.join(self.dir, "quantiles.yaml")
        with open(config, "w") as f:
            f.write(PIPELINE.format(
                data=data, results=results,
                limit="" if limit is None else f"    exact_quantile_limit: {limit}\n"))
        rc, _, err = weir("run", "--once", "--fail-on", "never", config, timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        out = {}
        with open(results) as f:
            for line in f:
                r = json.loads(line)
                if r["window_start"] == "2026-11-20T10:00:00.000Z":
                    out[r["check"]] = r
        return out

    def test_the_median_of_two_readings_is_their_mean(self):
        r = self.run_once([-3, 5])
        self.assertEqual(r["median"]["value"], 1)
        self.assertEqual(r["median"]["records"], 2)
        self.assertNotIn("approximate", r["median"])
        # Linear: h = (2 - 1) * 0.9 = 0.9, -3 + 0.9 * (5 - -3) = 4.2.
        self.assertAlmostEqual(r["p90"]["value"], 4.2, places=12)
        self.assertNotIn("approximate", r["p90"])
        # Nearest rank: values of the data, ranks ceil(0.5 * 2) = 1 and ceil(0.9 * 2) = 2.
        self.assertEqual(r["median_nearest"]["value"], -3)
        self.assertEqual(r["p90_nearest"]["value"], 5)

    def test_past_the_limit_the_result_says_approximate(self):
        values = [float(i) for i in range(1, 21)]  # 20 numbers: median 10.5, p90 18.1
        exact = self.run_once(values, limit=20)
        self.assertEqual(exact["median"]["value"], 10.5)
        self.assertAlmostEqual(exact["p90"]["value"], 18.1, places=12)
        self.assertNotIn("approximate", exact["median"])
        sketched = self.run_once(values, limit=19)
        for name, want in (("median", 10.5), ("p90", 18.1)):
            self.assertIs(sketched[name]["approximate"], True, sketched[name])
            self.assertLessEqual(abs(sketched[name]["value"] - want), 0.01 * want, sketched[name])


if __name__ == "__main__":
    unittest.main()
