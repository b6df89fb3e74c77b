"""The SodaCL and Deequ measures through the real binary: aliases, duplicates over a composite
key, percent shorthands, entropy, mutual information and approx_quantile in `weir run --once`
over a file, against values computed by hand; and `weir validate` on their wrong calls."""
import json
import math
import os
import unittest

from weir_test_util import log_excerpt, pipeline_files, weir

PIPELINE = """
pipeline: soda
inputs:
  orders: {{type: file, path: {data}, follow: false}}
nodes:
  quality:
    from: orders
    time: {{field: ts, format: rfc3339}}
    window: {{type: tumbling, size: 1m}}
    checks:
      - {{name: rows, measure: row_count(), must_be: "> 0"}}
      - {{name: avg_x, measure: avg(x), must_be: "> 0"}}
      - {{name: avg_len, measure: avg_length(s), must_be: "> 0"}}
      - {{name: dup_lines, measure: 'duplicate_count(order, line)', must_be: "== 0"}}
      - {{name: dup_share, measure: 'duplicate_fraction(order, line)', must_be: "< 50%"}}
      - {{name: dup_pct, measure: 'duplicate_percent(order, line)', must_be: "< 50"}}
      - {{name: email_missing, measure: 'missing_percent(email, ["N/A"])', must_be: "< 5"}}
      - {{name: colour_entropy, measure: entropy(colour), must_be: "> 1"}}
      - {{name: colour_decides, measure: 'mutual_information(colour, done)', must_be: "< 0.5"}}
      - {{name: x_median, measure: 'approx_quantile(x, 0.5)', must_be: "> 0"}}
      - {{name: emails_ok, measure: 'valid_fraction(email, email)', must_be: "> 90%"}}
      - {{name: emails_bad, measure: 'invalid_count(email, email)', must_be: "== 0"}}
      - {{name: emails_bad_pct, measure: 'invalid_percent(email, email)', must_be: "< 10"}}
      - {{name: red_bad_emails, filter: 'colour == "red"',
          measure: 'invalid_count(email, email)', must_be: "== 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}}}
"""

RECORDS = [
    {"ts": "2026-11-20T10:00:01Z", "order": 1, "line": 1, "email": "a@b.co", "x": 1, "s": "ab",
     "colour": "red", "done": "yes"},
    {"ts": "2026-11-20T10:00:02Z", "order": 1, "line": 2, "email": "bad", "x": 2, "s": "abcd",
     "colour": "red", "done": "yes"},
    {"ts": "2026-11-20T10:00:03Z", "order": 1, "line": 1, "email": "N/A", "x": 6, "s": None,
     "colour": "blue", "done": "no"},
    {"ts": "2026-11-20T10:00:04Z", "order": 2, "line": 1, "email": None, "x": "n",
     "s": "\u00e9", "colour": "blue", "done": "no"},
    {"ts": "2026-11-20T10:00:05Z", "order": 1, "line": 1, "email": "c@d.org", "colour": "red",
     "done": "yes"},
    {"ts": "2026-11-20T10:00:06Z", "order": None, "line": 1, "email": "", "colour": "green",
     "done": "no"},
]

# By hand: 6 records; x numbers 1, 2, 6; string lengths 2, 4, 1 (é is one character); keys
# (1,1) (1,2) (1,1) (2,1) (1,1), the last record has no order: 2 repeats of 5 keyed records;
# email missing: "N/A", null and "": 3 of 6; colours red 3, blue 2, green 1, and done follows
# the colour: I = H(done) = 1 bit. Emails present: a@b.co, bad, N/A, c@d.org (null and "" are
# neither valid nor invalid), 2 valid; of the red records' a@b.co, bad, c@d.org, 1 invalid.
H_COLOUR = -(0.5 * math.log2(0.5) + (1 / 3) * math.log2(1 / 3) + (1 / 6) * math.log2(1 / 6))
EXPECTED = {
    "rows": (6, "pass"),
    "avg_x": (3, "pass"),
    "avg_len": (7 / 3, "pass"),
    "dup_lines": (2, "fail"),
    "dup_share": (0.4, "pass"),
    "dup_pct": (40, "pass"),
    "email_missing": (50, "fail"),
    "colour_entropy": (H_COLOUR, "pass"),
    "colour_decides": (1, "fail"),
    "emails_ok": (0.5, "fail"),
    "emails_bad": (2, "fail"),
    "emails_bad_pct": (50, "fail"),
    "red_bad_emails": (1, "fail"),
}


class soda_measures_test(unittest.TestCase):
    def setUp(self):
        pipeline_files(self, PIPELINE, "orders.jsonl", "soda.yaml")
        with open(self.data, "w") as f:
            for r in RECORDS:
                f.write(json.dumps({k: v for k, v in r.items()}) + "\n")

    def test_once_gives_the_hand_computed_values(self):
        rc, _, err = weir("run", "--once", "--fail-on", "never",
                          "--data-dir", os.path.join(self.dir, "d"), self.config, timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        with open(self.results) as f:
            got = {r["check"]: r for r in map(json.loads, f)}
        for check, (value, outcome) in EXPECTED.items():
            self.assertIn(check, got)
            self.assertAlmostEqual(got[check]["value"], value, places=9, msg=check)
            self.assertEqual(got[check]["outcome"], outcome, check)
            self.assertEqual(got[check]["records"], 6, check)
        # The nearest-rank median of 1, 2, 6 is 2; the sketch answers within 1% of it.
        self.assertAlmostEqual(got["x_median"]["value"], 2, delta=0.02)
        # A result names the measure as written, alias and all.
        self.assertEqual(got["rows"]["measure"], "row_count()")
        self.assertEqual(got["avg_x"]["measure"], "avg(x)")

    def test_validate_rejects_wrong_calls_at_their_character(self):
        with open(self.config, "w") as f:
            f.write("""inputs:
  orders: {type: file, path: /tmp/none.jsonl}
nodes:
  quality:
    from: orders
    time: {field: ts, format: rfc3339}
    window: {type: tumbling, size: 1m}
    checks:
      - {name: a, measure: row_count(x), must_be: "> 0"}
      - {name: b, measure: 'entropy()', must_be: "> 0"}
      - {name: c, measure: 'approx_quantile(x, 50)', must_be: "> 0"}
      - {name: d, measure: 'invalid_count(email, emial)', must_be: "== 0"}
      - {name: e, measure: 'valid_fraction(email) > 0', must_be: "> 0"}
    outputs: [results]
outputs:
  results: {type: console}
""")
        rc, out, err = weir("validate", self.config)
        self.assertEqual(rc, 78, out + err)
        text = out + err
        self.assertIn(f"{self.config}:9:38: error: nodes.quality.checks[0].measure: "
                      "row_count() takes 0 arguments: row_count()", text)
        self.assertIn(f"{self.config}:10:37: error: nodes.quality.checks[1].measure: "
                      "entropy() takes 1 argument: entropy(field)", text)
        self.assertIn(f"{self.config}:11:48: error: nodes.quality.checks[2].measure: "
                      "p must be between 0 and 1", text)
        self.assertIn(f"{self.config}:12:50: error: nodes.quality.checks[3].measure: "
                      "unknown keyword \"emial\" for invalid_count(): expected one of: email, "
                      "uuid, ipv4, ipv6, date, date_time, phone, url, integer, decimal, "
                      "percentage, credit_card", text)
        self.assertIn(f"{self.config}:13:49: error: nodes.quality.checks[4].measure: "
                      "valid_fraction() takes 2 arguments: valid_fraction(field, format)", text)


if __name__ == "__main__":
    unittest.main()
