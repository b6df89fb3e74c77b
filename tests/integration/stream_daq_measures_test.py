"""The measures ported from Stream DaQ through the real binary: `weir run --once` over a file
whose values are worked out here by hand (and by plain formulas), one window of each kind of
value; and `weir validate` pointing at a heavy-hitter share that cannot be one."""
import json
import math
import os
import unittest

from weir_test_util import log_excerpt, pipeline_files, weir

START_EPOCH = 1795168800  # 2026-11-20T10:00:00Z

PIPELINE = """
pipeline: daq
inputs:
  events: {{type: file, path: {data}, follow: false}}
nodes:
  quality:
    from: events
    critical: true
    time: {{field: ts, format: rfc3339}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: duration, measure: window_duration(), must_be: "== 10"}}
      - {{name: median_length, measure: median_length(name), must_be: "> 0"}}
      - {{name: above_count, measure: above_mean_count(v), must_be: ">= 0"}}
      - {{name: above_fraction, measure: above_mean_fraction(v), must_be: ">= 0"}}
      - {{name: trend_time, measure: trend(v), must_be: "> -1e9"}}
      - {{name: trend_w, measure: 'trend(w, v)', must_be: "> -1e9"}}
      - {{name: min_int, measure: min_int_digits(v), must_be: ">= 0"}}
      - {{name: max_int, measure: max_int_digits(v), must_be: ">= 0"}}
      - {{name: mean_int, measure: mean_int_digits(v), must_be: ">= 0"}}
      - {{name: median_int, measure: median_int_digits(v), must_be: ">= 0"}}
      - {{name: min_frac, measure: min_frac_digits(v), must_be: ">= 0"}}
      - {{name: max_frac, measure: max_frac_digits(v), must_be: ">= 0"}}
      - {{name: mean_frac, measure: mean_frac_digits(v), must_be: ">= 0"}}
      - {{name: median_frac, measure: median_frac_digits(v), must_be: ">= 0"}}
      - {{name: benford, measure: benford_deviation(v), must_be: "< 1"}}
      - {{name: spearman, measure: 'spearman_correlation(v, w)', must_be: "> -2"}}
      - {{name: kendall, measure: 'kendall_correlation(v, w)', must_be: "> -2"}}
      - {{name: cramers, measure: 'cramers_v(cat, w)', must_be: ">= 0"}}
      - {{name: placeholders, measure: 'distinct_placeholder_count(cat, [-999, "N/A", null])',
          must_be: "== 0"}}
      - {{name: placeholder_share, measure: 'distinct_placeholder_fraction(cat, [-999, "N/A", null])',
          must_be: "< 50%"}}
      - {{name: usual_cat, measure: 'most_frequent_in_set(cat, ["x", "z"])', must_be: "== true"}}
      - {{name: usual_w, measure: 'most_frequent_in_range(w, 15, 25)', must_be: "== true"}}
      - {{name: hitters, measure: 'heavy_hitters(w, 0.4)', must_be: "== 1"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}}}
"""

V = [1, 2.5, -0.03, 10]
W = [10, 20, 20, 30]
NAMES = ["ab", "abcd", "h\u00e9llo", "x"]
CATS = ["x", "x", "y", -999]


def ranks(xs):
    """Mean ranks, ties sharing theirs."""
    return [1 + sum(y < x for y in xs) + (sum(y == x for y in xs) - 1) / 2 for x in xs]


def pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    sab = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return sab / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def slope(t, x):
    mt, mx = sum(t) / len(t), sum(x) / len(x)
    return sum((a - mt) * (b - mx) for a, b in zip(t, x)) / sum((a - mt) ** 2 for a in t)


def kendall_b(a, b):
    n = len(a)
    s = ta = tb = 0
    for i in range(n):
        for j in range(i + 1, n):
            d = (a[i] - a[j]) * (b[i] - b[j])
            s += (d > 0) - (d < 0)
            ta += a[i] == a[j]
            tb += b[i] == b[j]
    n0 = n * (n - 1) / 2
    return s / math.sqrt((n0 - ta) * (n0 - tb))


def cramers_v(a, b):
    n = len(a)
    rows, cols = sorted(set(map(repr, a))), sorted(set(map(repr, b)))
    chi2 = 0
    for r in rows:
        for c in cols:
            o = sum(1 for x, y in zip(a, b) if repr(x) == r and repr(y) == c)
            e = sum(repr(x) == r for x in a) * sum(repr(y) == c for y in b) / n
            chi2 += (o - e) ** 2 / e
    return math.sqrt(chi2 / (n * (min(len(rows), len(cols)) - 1)))


def expected():
    mean = sum(V) / len(V)
    benford = (abs(0.5 - math.log10(2)) + abs(0.25 - math.log10(1.5)) +
               abs(0.25 - math.log10(4 / 3)) + math.log10(2.5)) / 9  # digits 1, 2, 3, 1
    return {
        "duration": 10,
        "median_length": 3,  # lengths 1 2 4 5 ("héllo" is 5 characters)
        "above_count": 1,  # only 10 is above the mean 3.3675
        "above_fraction": 0.25,
        "trend_time": slope([0, 1, 2, 3], V),  # one record a second
        "trend_w": slope(V, W),
        "min_int": 1, "max_int": 2, "mean_int": 1.25, "median_int": 1,  # 1 1 1 2
        "min_frac": 0, "max_frac": 2, "mean_frac": 0.75, "median_frac": 0.5,  # 0 1 2 0
        "benford": benford,
        "spearman": pearson(ranks(V), ranks(W)),
        "kendall": kendall_b(V, W),
        "cramers": cramers_v(CATS, W),
        "placeholders": 1,  # the number -999; no "N/A", no null
        "placeholder_share": 1 / 3,
        "usual_cat": True,  # "x"
        "usual_w": True,  # 20
        "hitters": 1,  # 20 is half of the values; 10 and 30 a quarter each, below 0.4
    }, mean


class stream_daq_measures_test(unittest.TestCase):
    def setUp(self):
        pipeline_files(self, PIPELINE, "events.jsonl", "daq.yaml")

    def test_once_over_a_file_gives_the_hand_computed_values(self):
        import time
        with open(self.data, "w") as f:
            for i in range(4):
                ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START_EPOCH + i))
                f.write(json.dumps({"ts": ts, "v": V[i], "w": W[i], "name": NAMES[i],
                                    "cat": CATS[i]}) + "\n")
        rc, _, err = weir("run", "--once", "--fail-on", "never",
                          "--data-dir", os.path.join(self.dir, "d"), self.config, timeout=300)
        self.assertEqual(rc, 0, log_excerpt(err))
        got = {}
        with open(self.results) as f:
            for line in f:
                r = json.loads(line)
                self.assertEqual(r["window_start"], "2026-11-20T10:00:00.000Z")
                self.assertEqual(r["records"], 4)
                got[r["check"]] = r
        want, _ = expected()
        self.assertEqual(set(got), set(want))
        for check, value in want.items():
            have = got[check]["value"]
            if isinstance(value, bool):
                self.assertIs(have, value, check)
            else:
                self.assertAlmostEqual(have, value, places=9, msg=check)
        # The checks judge these values as any other.
        self.assertEqual(got["placeholders"]["outcome"], "fail")
        self.assertEqual(got["usual_w"]["outcome"], "pass")
        self.assertEqual(got["hitters"]["outcome"], "pass")

    def test_validate_points_at_a_share_that_is_not_one(self):
        with open(self.config, "w") as f:
            f.write("""inputs:
  events: {type: file, path: /tmp/none.jsonl}
nodes:
  quality:
    from: events
    time: {field: ts, format: rfc3339}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: a, measure: 'heavy_hitters(w, 0)', must_be: "> 0"}
    outputs: [results]
outputs:
  results: {type: console}
""")
        rc, out, err = weir("validate", self.config)
        self.assertEqual(rc, 78, out + err)
        self.assertIn(f"{self.config}:9:46: error: nodes.quality.checks[0].measure: phi of "
                      "heavy_hitters() must be greater than 0 and less than 1", out + err)


if __name__ == "__main__":
    unittest.main()
