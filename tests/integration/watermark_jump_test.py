"""A gap in the event times of a grouped stream does not flood the outputs with empty windows:
when the watermark jumps over a day, each group gets a bounded share of empty windows, the rest
are skipped, counted and logged; a small step of the watermark reports silence window by window
as before."""
import json
import os
import tempfile
import unittest

from weir_test_util import weir

GROUPS = 100
SHARE = 10  # empty windows per group and jump of the watermark

PIPELINE = """
inputs:
  readings: {{type: file, path: "{data}"}}
nodes:
  quality:
    from: readings
    time: {{field: ts}}
    window: {{type: tumbling, size: 1m}}
    group_by: [device]
    group_ttl: 1d
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: "{results}"}}
"""


def reading(ts, device):
    return json.dumps({"ts": ts, "device": device}) + "\n"


class watermark_jump_test(unittest.TestCase):
    def run_once(self, lines):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "readings.jsonl")
            results = os.path.join(tmp, "results.jsonl")
            with open(data, "w") as f:
                f.writelines(lines)
            config = os.path.join(tmp, "p.yaml")
            with open(config, "w") as f:
                f.write(PIPELINE.format(data=data, results=results))
            code, _, err = weir("run", "--once", "--http-listen", "127.0.0.1:0", "--data-dir",
                                os.path.join(tmp, "d"), config, timeout=240)
            self.assertEqual(code, 0, err[-3000:])
            with open(results) as f:
                return [json.loads(line) for line in f], err

    def test_a_gap_in_the_data_gives_each_group_a_bounded_share_of_empty_windows(self):
        # Every group sends once at 10:00, then one of them once more a day later.
        lines = [reading("2026-11-20T10:00:30Z", f"d{k:03d}") for k in range(GROUPS)]
        lines.append(reading("2026-11-21T10:00:30Z", "d000"))
        results, log = self.run_once(lines)
        empty = [r for r in results if r["records"] == 0]
        full = [r for r in results if r["records"] > 0]
        self.assertEqual(len(full), GROUPS + 1)
        # Before: every group's empty window of the day, GROUPS x 1 440.
        self.assertLessEqual(len(empty), GROUPS * SHARE * 2, f"{len(empty)} empty windows")
        self.assertGreaterEqual(len(empty), GROUPS * SHARE)
        for r in empty:
            self.assertEqual(r["outcome"], "fail")
        self.assertIn("empty windows of its groups were skipped", log)

    def test_silence_in_small_steps_is_still_reported_window_by_window(self):
        # Group d001 falls silent while d000 goes on minute by minute for 30 minutes: each
        # step of the watermark is small, so d001 gets every one of its empty windows.
        lines = [reading("2026-11-20T10:00:30Z", "d001")]
        lines += [reading(f"2026-11-20T10:{m:02d}:30Z", "d000") for m in range(31)]
        results, log = self.run_once(lines)
        silent = [r for r in results if r["group"] == {"device": "d001"} and r["records"] == 0]
        self.assertEqual(len(silent), 30)
        self.assertNotIn("were skipped", log)


if __name__ == "__main__":
    unittest.main()
