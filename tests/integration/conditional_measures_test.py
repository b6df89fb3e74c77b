"""Conditional measures through the real binary: count_where, fraction_where and check filters
in `weir run --once` over a file, against values computed here; and `weir validate` pointing at
the character of an error inside a condition."""
import collections
import json
import os
import random
import unittest

from weir_test_util import epoch_seconds, log_excerpt, pipeline_files, weir

START_EPOCH = 1795168800  # 2026-11-20T10:00:00Z
WINDOW_MS = 10_000

PIPELINE = """
pipeline: conditional
inputs:
  events: {{type: file, path: {data}, follow: false}}
nodes:
  quality:
    from: events
    critical: true
    time: {{field: ts, format: rfc3339}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
      - {{name: server_errors, measure: 'fraction_where(status >= 500 and status < 600)',
          must_be: "< 20%"}}
      - {{name: error_lines, measure: 'count_where(level == "ERROR")', must_be: "< 10"}}
      - {{name: slow_share, measure: 'count_where(latency > 250) / count(latency)',
          should_be: "< 50%"}}
      - {{name: eu_volume, filter: 'region == "eu"', measure: count(), must_be: "> 0"}}
      - {{name: eu_latency, filter: 'region == "eu"', measure: mean(latency),
          must_be: "< 1000"}}
      - {{name: eu_server_errors, filter: 'region == "eu"',
          measure: fraction_where(status >= 500), must_be: "< 50%"}}
      - {{name: test_traffic, filter: 'region == "test"', measure: fraction_where(status > 0),
          must_be: "> 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}}}
"""


def format_ms(ms):
    import time
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def write_records(path, count, seed):
    """In time order (nothing late): statuses, levels, regions and latencies, some of them
    null, absent or of the wrong type."""
    rng = random.Random(seed)
    rows = []
    t = START_EPOCH * 1000
    with open(path, "w") as f:
        for _ in range(count):
            t += rng.randint(1, 60)
            rec = {"ts": format_ms(t)}
            roll = rng.random()
            if roll < 0.05:
                rec["status"] = None
            elif roll < 0.08:
                rec["status"] = "500"  # a string: status >= 500 is null, not a match
            elif roll < 0.1:
                pass  # absent
            else:
                rec["status"] = rng.choice([200, 200, 200, 201, 404, 500, 503, 599, 600])
            rec["level"] = rng.choice(["INFO", "INFO", "WARN", "ERROR", "error", None])
            region = rng.choice(["eu", "eu", "us", None, 7])
            if region is not None:
                rec["region"] = region
            if rng.random() < 0.9:
                rec["latency"] = rng.choice([rng.randint(1, 500), None])
            f.write(json.dumps(rec) + "\n")
            rows.append((t, rec))
    return rows


def number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def expected(rows):
    """Per window start (s): check -> value. A condition that is null does not match."""
    windows = collections.defaultdict(list)
    for t, rec in rows:
        windows[(t // WINDOW_MS) * WINDOW_MS // 1000].append(rec)

    def frac(hits, of):
        return None if of == 0 else hits / of

    out = {}
    for start, recs in windows.items():
        status5 = [r for r in recs if number(r.get("status")) and 500 <= r["status"] < 600]
        errors = [r for r in recs if r.get("level") == "ERROR"]
        latencies = [r for r in recs if number(r.get("latency"))]
        slow = [r for r in latencies if r["latency"] > 250]
        eu = [r for r in recs if r.get("region") == "eu"]
        eu_latencies = [r["latency"] for r in eu if number(r.get("latency"))]
        eu_5xx = [r for r in eu if number(r.get("status")) and r["status"] >= 500]
        present = [r for r in recs if "latency" in r and r["latency"] is not None]
        out[start] = {
            "volume": len(recs),
            "server_errors": frac(len(status5), len(recs)),
            "error_lines": len(errors),
            "slow_share": frac(len(slow), len(present)),
            "eu_volume": len(eu),
            "eu_latency": (sum(eu_latencies) / len(eu_latencies)) if eu_latencies else None,
            "eu_server_errors": frac(len(eu_5xx), len(eu)),
            "test_traffic": None,  # no record has region "test": no data
        }
    return out


class conditional_measures_test(unittest.TestCase):
    def setUp(self):
        pipeline_files(self, PIPELINE, "events.jsonl", "conditional.yaml")

    def test_once_over_a_file_gives_the_values_of_the_conditions(self):
        rows = write_records(self.data, 5000, seed=11)
        rc, _, err = weir("run", "--once", "--fail-on", "never",
                          "--data-dir", os.path.join(self.dir, "d"), self.config, timeout=300)
        self.assertEqual(rc, 0, log_excerpt(err))
        want = expected(rows)
        got = collections.defaultdict(dict)
        outcomes = {}
        with open(self.results) as f:
            for line in f:
                r = json.loads(line)
                got[epoch_seconds(r["window_start"])][r["check"]] = r["value"]
                outcomes[(epoch_seconds(r["window_start"]), r["check"])] = r
        self.assertEqual(set(got), set(want))
        self.assertGreater(len(want), 10)
        for start, checks in want.items():
            for check, value in checks.items():
                self.assertIn(check, got[start], f"window {start}")
                have = got[start][check]
                if value is None or have is None:
                    self.assertEqual(have, value, f"window {start} {check}")
                else:
                    self.assertAlmostEqual(have, value, places=9,
                                           msg=f"window {start} {check}")
            # The measure and `records` are reported as for any check: records is the
            # window's, also for a filtered check.
            eu = outcomes[(start, "eu_volume")]
            self.assertEqual(eu["measure"], "count()")
            self.assertEqual(eu["records"], checks["volume"])
            self.assertEqual(outcomes[(start, "test_traffic")]["outcome"], "no_data")
        # The stream really exercises the conditions.
        self.assertTrue(any(c["server_errors"] for c in want.values()))
        self.assertTrue(any(c["error_lines"] for c in want.values()))

    def test_validate_points_at_the_character_inside_a_condition(self):
        with open(self.config, "w") as f:
            f.write("""inputs:
  events: {type: file, path: /tmp/none.jsonl}
nodes:
  quality:
    from: events
    schema:
      fields:
        status: {type: integer}
        region: {type: string}
        ts: {type: timestamp}
    time: {field: ts, format: rfc3339}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: a, measure: fraction_where(status >= 500 and stauts < 600), must_be: "< 1%"}
      - {name: b, filter: 'region > 5', measure: count(), must_be: "> 0"}
    outputs: [results]
outputs:
  results: {type: console}
""")
        rc, out, err = weir("validate", self.config)
        self.assertEqual(rc, 78, out + err)
        text = out + err
        self.assertIn(f"{self.config}:14:61: error: nodes.quality.checks[0].measure: "
                      "unknown field \"stauts\"; did you mean \"status\"?", text)
        self.assertIn(f"{self.config}:15:35: error: nodes.quality.checks[1].filter: "
                      "cannot compare a string with a number", text)


if __name__ == "__main__":
    unittest.main()
