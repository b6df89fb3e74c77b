"""One far-future event time, or a gap in the data, does not flood the outputs with empty
windows. A record far beyond the newest event time of its source is suspicious: dead-lettered,
and the watermark does not move. When the watermark does jump over a day (a gap the data
confirms), each group gets a bounded share of empty windows, the rest are skipped, counted and
logged; a small step of the watermark reports silence window by window as before."""
import json
import os
import tempfile
import unittest

from weir_test_util import log_excerpt, weir

GROUPS = 100
SHARE = 10  # empty windows per group and jump of the watermark

PIPELINE = """
inputs:
  readings: {{type: file, path: "{data}"}}
nodes:
  quality:
    from: readings
    time: {{field: ts{time_extra}}}
    window: {{type: tumbling, size: 1m}}
    group_by: [device]
    group_ttl: 1d
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [results]
    dead_letter: letters
outputs:
  results: {{type: file, path: "{results}"}}
  letters: {{type: file, path: "{letters}"}}
"""


def reading(ts, device):
    return json.dumps({"ts": ts, "device": device}) + "\n"


class watermark_jump_test(unittest.TestCase):
    def run_once(self, lines, time_extra=""):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "readings.jsonl")
            results = os.path.join(tmp, "results.jsonl")
            letters = os.path.join(tmp, "letters.jsonl")
            with open(data, "w") as f:
                f.writelines(lines)
            config = os.path.join(tmp, "p.yaml")
            with open(config, "w") as f:
                f.write(PIPELINE.format(data=data, results=results, letters=letters,
                                        time_extra=time_extra))
            code, _, err = weir("run", "--once", "--fail-on", "never", "--http-listen",
                                "127.0.0.1:0", "--data-dir",
                                os.path.join(tmp, "d"), config, timeout=240)
            self.assertEqual(code, 0, log_excerpt(err))
            with open(results) as f:
                out = [json.loads(line) for line in f]
            self.letters = []
            if os.path.exists(letters):
                with open(letters) as f:
                    self.letters = [json.loads(line) for line in f]
            return out, err

    def test_a_gap_in_the_data_gives_each_group_a_bounded_share_of_empty_windows(self):
        # Every group sends once at 10:00, then one of them once more a day later.
        lines = [reading("2026-11-20T10:00:30Z", f"d{k:03d}") for k in range(GROUPS)]
        lines.append(reading("2026-11-21T10:00:30Z", "d000"))
        results, log = self.run_once(lines, time_extra=", max_jump: 0s")
        empty = [r for r in results if r["records"] == 0]
        full = [r for r in results if r["records"] > 0]
        self.assertEqual(len(full), GROUPS + 1)
        # Before: every group's empty window of the day, GROUPS x 1 440.
        self.assertLessEqual(len(empty), GROUPS * SHARE * 2, f"{len(empty)} empty windows")
        self.assertGreaterEqual(len(empty), GROUPS * SHARE)
        for r in empty:
            self.assertEqual(r["outcome"], "fail")
        self.assertIn("empty windows of its groups were skipped", log)

    def test_one_far_future_record_is_a_dead_letter_and_closes_no_window(self):
        # Every group sends at 10:00 and 10:01; between them one record claims a year later.
        lines = [reading("2026-11-20T10:00:30Z", f"d{k:03d}") for k in range(GROUPS)]
        lines.append(reading("2027-11-20T10:00:30Z", "d000"))
        lines += [reading("2026-11-20T10:01:30Z", f"d{k:03d}") for k in range(GROUPS)]
        results, log = self.run_once(lines)
        # Before: the year closed every window of the day for every group, and the 10:01
        # records were late.
        self.assertEqual(sum(1 for r in results if r["records"] == 0), 0)
        self.assertEqual(sum(r["records"] for r in results), 2 * GROUPS)
        self.assertEqual(len(self.letters), 1, self.letters)
        self.assertEqual(self.letters[0]["reason"]["rule"], "future_time")
        self.assertIn("dropped as suspicious", log)

    def test_a_jump_that_consecutive_records_agree_on_is_accepted(self):
        # A replay resumes three days later: the first two records after the gap are dead
        # letters, the third confirms the jump and the stream goes on from there.
        lines = [reading("2026-11-20T10:00:30Z", "d000")]
        lines += [reading(f"2026-11-23T10:{m:02d}:30Z", "d000") for m in range(5)]
        results, _ = self.run_once(lines)
        self.assertEqual(len(self.letters), 2, self.letters)
        self.assertEqual(sum(r["records"] for r in results), 4)

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
