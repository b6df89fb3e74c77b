"""Two defects of the measure catalogue through the real binary (`weir run --once` over a file):
a numeric event-time field is a number to measures and expressions, for every epoch format, in
JSON and in CSV, while the event time stays exact to the nanosecond; a time field of RFC 3339
text stays text; and numeric placeholders of missing_count/missing_fraction count, by value and
by type (the number -999 is not the text "-999"), in the values and in the samples."""
import json
import math
import os
import tempfile
import time
import unittest

from weir_test_util import log_excerpt, weir

T0 = 1_795_168_800  # 2026-11-20T10:00:00Z, a multiple of the 10 s windows

# Each epoch format: its unit per second, and a time as the data writes it (exact text).
UNITS = {"epoch_s": 1, "epoch_ms": 1_000, "epoch_us": 1_000_000, "epoch_ns": 1_000_000_000}


def format_s(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + ".000Z"


class measure_defects_test(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.runs = 0

    def run_once(self, nodes, lines, fmt="json", csv=""):
        """Runs NODES (the `nodes:` section, its node reading `events` and writing `results`)
        over LINES; returns {(window_start, check): result}."""
        self.runs += 1
        name = f"run{self.runs}"
        data = os.path.join(self.dir, name + (".csv" if fmt == "csv" else ".jsonl"))
        results = os.path.join(self.dir, name + ".results.jsonl")
        config = os.path.join(self.dir, name + ".yaml")
        with open(data, "w") as f:
            f.write("".join(line + "\n" for line in lines))
        extra = f", format: csv{csv}" if fmt == "csv" else ""
        with open(config, "w") as f:
            f.write(f"pipeline: {name}\n"
                    "inputs:\n"
                    f"  events: {{type: file, path: \"{data}\", follow: false{extra}}}\n"
                    "nodes:\n" + nodes +
                    "outputs:\n"
                    f"  results: {{type: file, path: \"{results}\"}}\n")
        rc, out, err = weir("validate", config)
        self.assertEqual(rc, 0, out + err)
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                          os.path.join(self.dir, name + ".d"), config, timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        got = {}
        with open(results) as f:
            for line in f:
                r = json.loads(line)
                got[(r["window_start"], r["check"])] = r
        return got

    def assert_number(self, result, want, what):
        value = result["value"]
        self.assertIsInstance(value, (int, float), f"{what}: {result}")
        self.assertNotIsInstance(value, bool, f"{what}: {result}")
        self.assertTrue(math.isclose(value, want, rel_tol=1e-12, abs_tol=1e-9),
                        f"{what}: {value} != {want}")

    # --- A numeric event-time field reaches measures and expressions as a number ---------

    def test_the_example_of_the_issue_epoch_s_time_field_is_a_number(self):
        # time: {field: ts, format: epoch_s} over ts 1, 2, 3 (and a second 2, so that the
        # most frequent value is one value): measures and `set:` see numbers, as they do for v.
        nodes = """  prepared:
    from: events
    transforms:
      - set: {x: 'ts + 0'}
  quality:
    from: prepared
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
      - {name: mean_ts, measure: mean(ts), must_be: "> 0"}
      - {name: span_ts, measure: max(ts) - min(ts), must_be: "> 0"}
      - {name: mode_ts, measure: most_frequent(ts), must_be: "== 2"}
      - {name: sum_x, measure: sum(x), must_be: "> 0"}
      - {name: missing_x, measure: missing_count(x), must_be: "== 0"}
      - {name: mean_v, measure: mean(v), must_be: "> 0"}
    outputs: [results]
"""
        got = self.run_once(nodes, ['{"ts":1,"v":10}', '{"ts":2,"v":12}', '{"ts":3,"v":14}',
                                    '{"ts":2,"v":12}'])
        w = format_s(0)
        self.assertEqual(len(got), 7, sorted(got))
        self.assertEqual(got[(w, "volume")]["value"], 4)
        self.assert_number(got[(w, "mean_ts")], 2.0, "mean(ts)")
        self.assert_number(got[(w, "span_ts")], 2.0, "max(ts) - min(ts)")
        self.assert_number(got[(w, "mode_ts")], 2.0, "most_frequent(ts)")
        self.assertEqual(got[(w, "mode_ts")]["outcome"], "pass")
        self.assert_number(got[(w, "sum_x")], 8.0, "sum(ts + 0)")
        self.assertEqual(got[(w, "missing_x")]["value"], 0)
        self.assert_number(got[(w, "mean_v")], 12.0, "mean(v)")

    def epoch_nodes(self, fmt, schema=""):
        return f"""  quality:
    from: events
{schema}    time: {{field: ts, format: {fmt}}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
      - {{name: mean_ts, measure: mean(ts), must_be: "> 0"}}
      - {{name: span_ts, measure: max(ts) - min(ts), must_be: "> 0"}}
      - {{name: mode_ts, measure: most_frequent(ts), must_be: "> 0"}}
      - {{name: max_ts, measure: max(ts), must_be: "> 0"}}
    outputs: [results]
"""

    def epoch_times(self, fmt):
        """The times of one test, as the data writes them: T0+1 s, T0+2 s twice, the last unit
        before T0+10 s (one nanosecond for epoch_ns: a double of it rounds to T0+10 s) and
        T0+10 s; as text and as the number a double makes of it."""
        unit = UNITS[fmt]
        ints = [(T0 + 1) * unit, (T0 + 2) * unit, (T0 + 2) * unit, (T0 + 10) * unit - 1,
                (T0 + 10) * unit]
        return [str(i) for i in ints], [float(i) for i in ints]

    def check_epoch_results(self, got, numbers, what):
        first, second = format_s(T0), format_s(T0 + 10)
        self.assertEqual(len(got), 10, f"{what}: {sorted(got)}")
        # The event time is exact: the record one unit before the boundary is in the first
        # window even where its number as a double is the boundary itself.
        self.assertEqual(got[(first, "volume")]["value"], 4, what)
        self.assertEqual(got[(second, "volume")]["value"], 1, what)
        window = numbers[:4]
        self.assert_number(got[(first, "mean_ts")], math.fsum(window) / 4, what + " mean(ts)")
        self.assert_number(got[(first, "span_ts")], max(window) - min(window),
                           what + " max(ts) - min(ts)")
        self.assert_number(got[(first, "mode_ts")], numbers[1], what + " most_frequent(ts)")
        self.assert_number(got[(first, "max_ts")], numbers[3], what + " max(ts)")
        self.assert_number(got[(second, "mean_ts")], numbers[4], what + " mean(ts) (second)")

    def test_every_epoch_format_gives_numbers_and_exact_times_in_json(self):
        for fmt in UNITS:
            with self.subTest(fmt):
                texts, numbers = self.epoch_times(fmt)
                lines = [f'{{"ts":{t},"v":1}}' for t in texts]
                self.check_epoch_results(self.run_once(self.epoch_nodes(fmt), lines), numbers,
                                         fmt)

    def test_fractional_epoch_seconds_are_numbers_and_exact_times(self):
        # 1795168809.999999999 as a double is 1795168810.0, the next window's start.
        texts = [f"{T0 + 1}.25", f"{T0 + 2}.5", f"{T0 + 2}.5", f"{T0 + 9}.999999999",
                 f"{T0 + 10}.0"]
        numbers = [float(t) for t in texts]
        self.assertEqual(numbers[3], float(T0 + 10))
        lines = [f'{{"ts":{t}}}' for t in texts]
        self.check_epoch_results(self.run_once(self.epoch_nodes("epoch_s"), lines), numbers,
                                 "fractional epoch_s")

    def test_csv_time_fields_are_numbers_with_a_numeric_schema_and_times_stay_exact(self):
        schema = "    schema:\n      fields:\n        ts: {type: number}\n"
        for fmt in ("epoch_s", "epoch_ns"):
            with self.subTest(fmt):
                texts, numbers = self.epoch_times(fmt)
                lines = ["ts,v"] + [f"{t},1" for t in texts]
                got = self.run_once(self.epoch_nodes(fmt, schema), lines, fmt="csv")
                self.check_epoch_results(got, numbers, "csv " + fmt)

    def test_csv_time_fields_without_a_schema_stay_text_as_every_csv_cell(self):
        texts, _ = self.epoch_times("epoch_ns")
        got = self.run_once(self.epoch_nodes("epoch_ns"), ["ts,v"] + [f"{t},1" for t in texts],
                            fmt="csv")
        first = format_s(T0)
        self.assertEqual(got[(first, "volume")]["value"], 4)
        self.assertIsNone(got[(first, "mean_ts")]["value"])
        self.assertEqual(got[(first, "mode_ts")]["value"], texts[1])

    def test_text_time_fields_stay_text(self):
        # RFC 3339 text, and epoch seconds written as JSON strings: the field is a string to
        # measures (no mean, the most frequent value is the text), the event time reads it.
        nodes = """  rfc:
    from: events
    time: {field: at}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
      - {name: mode_at, measure: most_frequent(at), must_be: "> 0"}
      - {name: mean_at, measure: mean(at), must_be: "> 0"}
    outputs: [results]
  epoch_text:
    from: events
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: volume_ts, measure: count(), must_be: "> 0"}
      - {name: mode_ts, measure: most_frequent(ts), must_be: "> 0"}
      - {name: mean_ts, measure: mean(ts), must_be: "> 0"}
    outputs: [results]
"""
        at = [format_s(T0 + 1).replace(".000Z", "Z"), format_s(T0 + 2).replace(".000Z", "Z")]
        lines = [json.dumps({"at": at[i], "ts": str(T0 + 1 + i)}) for i in (0, 1, 1)]
        got = self.run_once(nodes, lines)
        w = format_s(T0)
        self.assertEqual(got[(w, "volume")]["value"], 3)
        self.assertEqual(got[(w, "mode_at")]["value"], at[1])
        self.assertIsNone(got[(w, "mean_at")]["value"])
        self.assertEqual(got[(w, "volume_ts")]["value"], 3)
        self.assertEqual(got[(w, "mode_ts")]["value"], str(T0 + 2))
        self.assertIsNone(got[(w, "mean_ts")]["value"])

    # --- Numeric placeholders count ------------------------------------------------------

    def placeholder_nodes(self, schema=""):
        return f"""  quality:
    from: events
{schema}    time: {{field: ts, format: epoch_s}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
      - {{name: sentinel, measure: 'missing_fraction(x, [-999])', must_be: "== 0",
          samples: 10}}
      - {{name: sentinels, measure: 'missing_count(x, [-999, 9999])', must_be: "== 0"}}
      - {{name: text_sentinel, measure: 'missing_count(x, ["-999"])', must_be: "== 0"}}
      - {{name: both, measure: 'missing_count(x, [-999, "-999", "N/A"])', must_be: "== 0"}}
      - {{name: plain, measure: missing_count(x), must_be: "== 0"}}
      - {{name: present, measure: count(x), must_be: "> 0"}}
    outputs: [results]
"""

    def test_the_example_of_the_issue_a_numeric_placeholder_counts(self):
        nodes = f"""  quality:
    from: events
    time: {{field: ts, format: epoch_s}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: sentinel, measure: 'missing_fraction(x, [-999])', must_be: "== 0"}}
    outputs: [results]
"""
        got = self.run_once(nodes, [f'{{"ts":{T0},"x":-999}}', f'{{"ts":{T0 + 1},"x":5}}'])
        result = got[(format_s(T0), "sentinel")]
        self.assertEqual(result["value"], 0.5)
        self.assertEqual(result["outcome"], "fail")

    def test_numeric_placeholders_match_numbers_by_value_not_text(self):
        values = [-999, -999.0, "-999", 5, None, 9999, "N/A", 9999.5]
        lines = [json.dumps({"ts": T0 + i, "x": v}) for i, v in enumerate(values)]
        got = self.run_once(self.placeholder_nodes(), lines)
        w = format_s(T0)
        self.assertEqual(got[(w, "volume")]["value"], 8)
        sentinel = got[(w, "sentinel")]
        self.assertEqual(sentinel["value"], 3 / 8)  # -999, -999.0 and null
        self.assertEqual(got[(w, "sentinels")]["value"], 4)  # and 9999
        self.assertEqual(got[(w, "text_sentinel")]["value"], 2)  # "-999" and null
        self.assertEqual(got[(w, "both")]["value"], 5)
        self.assertEqual(got[(w, "plain")]["value"], 1)
        self.assertEqual(got[(w, "present")]["value"], 7)
        # The samples are the records counted missing, the placeholders among them.
        self.assertEqual(sentinel["samples"],
                         [{"time": format_s(T0), "x": -999},
                          {"time": format_s(T0 + 1), "x": -999},
                          {"time": format_s(T0 + 4), "x": None}])

    def test_numeric_placeholders_match_csv_cells_a_schema_makes_numbers(self):
        cells = ["-999", "-999.0", "5", "", "9999", "N/A", "-999.5"]
        lines = ["ts,x"] + [f"{T0 + i},{c}" for i, c in enumerate(cells)]
        # With `x: number` the cells are numbers ("N/A" violates the type and is dropped,
        # "" is null); without a schema they are text, which only "-999" matches.
        schema = ("    schema:\n      fields:\n        x: {type: number}\n"
                  "      on_invalid: drop\n")
        got = self.run_once(self.placeholder_nodes(schema), lines, fmt="csv")
        w = format_s(T0)
        self.assertEqual(got[(w, "volume")]["value"], 6)
        self.assertEqual(got[(w, "sentinel")]["value"], 3 / 6)  # -999, -999.0 and null
        self.assertEqual(got[(w, "sentinels")]["value"], 4)
        self.assertEqual(got[(w, "text_sentinel")]["value"], 1)
        got = self.run_once(self.placeholder_nodes(), lines, fmt="csv")
        self.assertEqual(got[(w, "volume")]["value"], 7)
        self.assertEqual(got[(w, "sentinel")]["value"], 1 / 7)  # the empty cell (null)
        self.assertEqual(got[(w, "text_sentinel")]["value"], 2)  # "-999" and null
        self.assertEqual(got[(w, "both")]["value"], 3)  # and "N/A"


if __name__ == "__main__":
    unittest.main()
