"""The definitions a user chooses (docs/pipelines.md, "Definitions you choose") through the real
binary: `weir run --once --fail-on never` over a file, each value computed by hand below;
population statistics, a fraction over every record, `empty_is_missing: false`, regex search and
ordered_fraction by event time."""
import json
import os
import tempfile
import time
import unittest

from weir_test_util import log_excerpt, weir

START_MS = 1_795_168_800_000  # 2026-11-20T10:00:00Z

# One 10 s window. Arrival order (lines) differs from event-time order (ts):
#   line  ts  v     name   code    seq
#   1     3   4     "a"    "ab12"  3
#   2     1   2     ""     "x"     1
#   3     2   6     null   "12"    2
#   4     5   8     "bb"   -       5
#   5     4   -     ""     "zz9z"  4
RECORDS = [
    {"ts": 3, "v": 4, "name": "a", "code": "ab12", "seq": 3},
    {"ts": 1, "v": 2, "name": "", "code": "x", "seq": 1},
    {"ts": 2, "v": 6, "name": None, "code": "12", "seq": 2},
    {"ts": 5, "v": 8, "name": "bb", "seq": 5},
    {"ts": 4, "name": "", "code": "zz9z", "seq": 4},
]

PIPELINE = """pipeline: definitions
inputs:
  events: {{type: file, path: "{data}"}}
nodes:
  defaults:
    from: events
    time: {{field: ts, format: rfc3339}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: std_dev, measure: std_dev(v), must_be: ">= 0"}}
      - {{name: std_dev_pop, measure: std_dev_pop(v), must_be: ">= 0"}}
      - {{name: variance_pop, measure: variance_pop(v), must_be: ">= 0"}}
      - {{name: in_set_present, measure: "in_set_fraction(v, [2, 4])", must_be: ">= 0"}}
      - {{name: in_set_records, measure: "in_set_fraction(v, [2, 4], records)", must_be: ">= 0"}}
      - {{name: match_full, measure: 'matches_count(code, "[0-9]+")', must_be: ">= 0"}}
      - {{name: match_search, measure: 'matches_count(code, "[0-9]+", search)', must_be: ">= 0"}}
      - {{name: match_search_records,
          measure: 'matches_fraction(code, "[0-9]+", search, records)', must_be: ">= 0"}}
      - {{name: ordered_arrival, measure: ordered_fraction(seq), must_be: ">= 0"}}
      - {{name: ordered_event_time, measure: "ordered_fraction(seq, ascending, event_time)",
          must_be: ">= 0"}}
      - {{name: descending_arrival, measure: "ordered_fraction(seq, strictly_descending)",
          must_be: ">= 0"}}
      - {{name: name_missing, measure: missing_count(name), must_be: ">= 0"}}
      - {{name: name_min_length, measure: min_length(name), must_be: ">= 0"}}
    outputs: [results]
  empty_present:
    from: events
    time: {{field: ts, format: rfc3339}}
    window: {{type: tumbling, size: 10s}}
    empty_is_missing: false
    checks:
      - {{name: name_missing, measure: missing_count(name), must_be: ">= 0"}}
      - {{name: name_count, measure: count(name), must_be: ">= 0"}}
      - {{name: name_distinct, measure: distinct_count(name), must_be: ">= 0"}}
      - {{name: name_min_length, measure: min_length(name), must_be: ">= 0"}}
      - {{name: name_placeholder, measure: 'missing_count(name, [""])', must_be: ">= 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: "{results}"}}
"""

# (node, check) -> value
EXPECTED = {
    # v = 4, 2, 6, 8: mean 5, squared deviations 1 + 9 + 1 + 9 = 20.
    ("defaults", "std_dev"): (20 / 3) ** 0.5,
    ("defaults", "std_dev_pop"): 5 ** 0.5,
    ("defaults", "variance_pop"): 5,
    # 2 and 4 are in the set: of 4 present values, of 5 records.
    ("defaults", "in_set_present"): 0.5,
    ("defaults", "in_set_records"): 0.4,
    # Full match: "12". Search: "ab12", "12", "zz9z"; of 5 records.
    ("defaults", "match_full"): 1,
    ("defaults", "match_search"): 3,
    ("defaults", "match_search_records"): 0.6,
    # Arrival: 3 1 2 5 4 -> (1,2) and (2,5) ascend of 4 pairs; strictly descending: (3,1) and
    # (5,4). Event time: 1 2 3 4 5, all ascending.
    ("defaults", "ordered_arrival"): 0.5,
    ("defaults", "ordered_event_time"): 1,
    ("defaults", "descending_arrival"): 0.5,
    # "" is missing by default: "", null, "" are missing; the shortest string is "a".
    ("defaults", "name_missing"): 3,
    ("defaults", "name_min_length"): 1,
    # With empty_is_missing: false only null is missing; "" is a value of length 0, and a
    # listed "" placeholder still counts as missing.
    ("empty_present", "name_missing"): 1,
    ("empty_present", "name_count"): 4,
    ("empty_present", "name_distinct"): 3,
    ("empty_present", "name_min_length"): 0,
    ("empty_present", "name_placeholder"): 3,
}


def format_ms(ms):
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


class MeasureDefinitionsTest(unittest.TestCase):
    def test_each_definition_gives_its_hand_computed_value(self):
        with tempfile.TemporaryDirectory() as d:
            data = os.path.join(d, "events.jsonl")
            results = os.path.join(d, "results.jsonl")
            pipeline = os.path.join(d, "definitions.yaml")
            with open(data, "w") as f:
                for r in RECORDS:
                    line = {k: v for k, v in r.items() if k != "ts"}
                    line["ts"] = format_ms(START_MS + r["ts"] * 1000)
                    f.write(json.dumps(line) + "\n")
            with open(pipeline, "w") as f:
                f.write(PIPELINE.format(data=data, results=results))
            rc, _, err = weir("validate", pipeline)
            self.assertEqual(rc, 0, err)
            rc, _, err = weir("run", "--once", "--fail-on", "never", pipeline, timeout=120)
            self.assertEqual(rc, 0, log_excerpt(err))
            got = {}
            with open(results) as f:
                for line in f:
                    r = json.loads(line)
                    self.assertEqual(r["window_start"], format_ms(START_MS))
                    got[(r["node"], r["check"])] = r
            self.assertEqual(set(got), set(EXPECTED))
            for key, want in EXPECTED.items():
                with self.subTest(node=key[0], check=key[1]):
                    self.assertEqual(got[key]["records"], 5)
                    self.assertAlmostEqual(got[key]["value"], want, places=12)

    def test_a_wrong_keyword_lists_the_allowed_ones(self):
        with tempfile.TemporaryDirectory() as d:
            pipeline = os.path.join(d, "wrong.yaml")
            with open(pipeline, "w") as f:
                f.write(PIPELINE.format(data=os.path.join(d, "e.jsonl"),
                                        results=os.path.join(d, "r.jsonl"))
                        .replace("in_set_fraction(v, [2, 4], records)",
                                 "in_set_fraction(v, [2, 4], all)")
                        .replace("empty_is_missing: false", "empty_is_missing: maybe"))
            rc, _, err = weir("validate", pipeline)
            self.assertEqual(rc, 78, err)
            self.assertIn("present", err)
            self.assertIn("records", err)
            self.assertIn("empty_is_missing", err)


if __name__ == "__main__":
    unittest.main()
