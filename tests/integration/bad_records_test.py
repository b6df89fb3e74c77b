"""Records weir cannot use, the real binary: event times it cannot read (counted, logged with a
hint, dead-lettered, shown in `weir status`; `time.timezone` reads them), and dead letters for
every record a node refuses — not JSON, not a CSV row, a schema violation, an unreadable time —
each with its text or record, the input, the source, the offset and the reason."""
import json
import os
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, http_get, log_excerpt, metric_sum, wait_for, weir, weir_process

# Local times without a zone (issue 14, problem 2).
ZONELESS = [{"ts": f"2026-12-03 10:00:0{i}", "v": 1} for i in range(3)]
HINT = 'no time zone: try format: "%Y-%m-%d %H:%M:%S" and timezone:'


def read_jsonl(path):
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_lines(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        for line in lines:
            f.write((line if isinstance(line, str) else json.dumps(line)) + "\n")


def line_at(path, offset):
    """The line of `path` that starts at byte `offset`."""
    with open(path, "rb") as f:
        f.seek(offset)
        return f.readline().rstrip(b"\n").decode()


def zoneless_pipeline(data, results, dead, time_keys="field: ts", follow=False):
    return f"""
pipeline: zones
inputs:
  readings: {{type: file, path: "{data}", follow: {str(follow).lower()}}}
nodes:
  quality:
    from: readings
    time: {{{time_keys}}}
    window: {{type: tumbling, size: 1m}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [results]
    dead_letter: dead
outputs:
  results: {{type: file, path: "{results}"}}
  dead: {{type: file, path: "{dead}"}}
"""


class bad_time_test(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.data = os.path.join(self.dir, "readings.jsonl")
        self.results = os.path.join(self.dir, "results.jsonl")
        self.dead = os.path.join(self.dir, "dead.jsonl")
        self.config = os.path.join(self.dir, "zones.yaml")
        self.settings = os.path.join(self.dir, "weir.yaml")
        with open(self.settings, "w") as f:
            f.write("checkpoint: {interval: 100ms}\n")
        write_lines(self.data, ZONELESS)

    def write_config(self, **kwargs):
        with open(self.config, "w") as f:
            f.write(zoneless_pipeline(self.data, self.results, self.dead, **kwargs))

    def check_dead_letters(self):
        dead = read_jsonl(self.dead)
        self.assertEqual(len(dead), 3, dead)
        for d, want in zip(dead, ZONELESS):
            self.assertEqual(d["record"], want)
            self.assertEqual((d["pipeline"], d["node"], d["input"]),
                             ("zones", "quality", "readings"))
            self.assertEqual(d["source"], self.data)
            self.assertEqual(json.loads(line_at(self.data, d["offset"])), want)
            self.assertEqual(d["reason"]["field"], "ts")
            self.assertEqual(d["reason"]["rule"], "time")
            self.assertIn(HINT, d["reason"]["message"])
            self.assertIn(want["ts"], d["reason"]["message"])

    def test_unreadable_times_are_counted_logged_dead_lettered_and_shown_in_status(self):
        self.check_unreadable_times()

    def test_the_same_with_the_query_spread_over_lanes(self):
        # The lanes' chains read the records: their counts reach the metrics and the status.
        self.check_unreadable_times({"WEIR_THREADS": "2", "WEIR_SPREAD_PARTITIONS": "1"},
                                    spread=True)

    def check_unreadable_times(self, env=None, spread=False):
        self.write_config(follow=True)
        d = weir_process(self, self.dir, [self.settings, self.config], env=env)
        base = f"http://127.0.0.1:{d.wait_port()}"
        dropped = lambda: metric_sum(base, "weir_node_dropped_records_total",
                                     pipeline="zones", node="quality", reason="bad_time")
        wait_for(lambda: dropped() >= 3, 60, "3 records dropped for bad_time")
        self.assertEqual(dropped(), 3)
        # Not also counted as invalid: each drop has one reason.
        self.assertEqual(metric_sum(base, "weir_node_dropped_records_total", pipeline="zones",
                                    reason="invalid"), 0)

        status, body = http_get(base + "/api/v1/status", timeout=10)
        self.assertEqual(status, 200, body)
        q = json.loads(body)["queries"][0]
        self.assertEqual(q["invalid_records"], 3)
        self.assertEqual(q["bad_records"], {"bad_time": 3})
        last = q["last_bad_record"]
        self.assertEqual((last["node"], last["input"], last["source"], last["reason"],
                          last["field"]), ("quality", "readings", self.data, "bad_time", "ts"))
        self.assertIn(HINT, last["message"])
        # The example of the latest batch: its first record, which the offset points at.
        self.assertIn(json.loads(line_at(self.data, last["offset"])), ZONELESS)
        self.assertIn(json.loads(line_at(self.data, last["offset"]))["ts"], last["message"])

        out = subprocess.run([WEIR, "status", "--url", base], capture_output=True, text=True,
                             timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("zones/quality: invalid records: bad_time 3", out.stdout)
        self.assertIn(HINT, out.stdout)
        self.assertIn(self.data + " offset", out.stdout)

        self.assertEqual(d.stop(), 0)
        log = d.log_text()
        self.assertEqual("its sources spread over 2 lanes" in log, spread, log_excerpt(log))
        # One rate-limited line per delivery: the input, the file, the offset, the value, a hint.
        line = next((l for l in log.splitlines() if "event time unreadable" in l), None)
        self.assertIsNotNone(line, log_excerpt(log))
        self.assertIn('node "quality": 3 records dropped', line)
        self.assertIn('input "readings", ' + self.data + " offset 0", line)
        self.assertIn('ts: "2026-12-03 10:00:00": ' + HINT, line)
        self.check_dead_letters()
        self.assertEqual(read_jsonl(self.results), [], "no window: no record had a time")

    def test_the_same_file_with_a_pattern_and_timezone_is_read(self):
        # Without a zone, --once reads the 3 records and has nothing to show for them but the
        # log line, the dead letters and its summary.
        self.write_config()
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                          os.path.join(self.dir, "d1"),
                          self.settings, self.config, timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertIn("3 records dropped, their event time unreadable", err)
        self.check_dead_letters()

        os.remove(self.dead)
        self.write_config(time_keys='field: ts, format: "%Y-%m-%d %H:%M:%S", '
                                    'timezone: Europe/Berlin')
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                          os.path.join(self.dir, "d2"),
                          self.settings, self.config, timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertNotIn("unreadable", err)
        self.assertEqual(read_jsonl(self.dead), [])
        results = read_jsonl(self.results)
        self.assertEqual(len(results), 1, results)
        # 10:00 in Berlin in December (CET, +01:00) is 09:00 UTC.
        self.assertEqual(results[0]["window_start"], "2026-12-03T09:00:00.000Z")
        self.assertEqual(results[0]["value"], 3)

        # A fixed offset reads the same way.
        os.remove(self.results)
        self.write_config(time_keys='field: ts, format: "%Y-%m-%d %H:%M:%S", timezone: "+01:00"')
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                          os.path.join(self.dir, "d3"),
                          self.settings, self.config, timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertEqual([r["window_start"] for r in read_jsonl(self.results)],
                         ["2026-12-03T09:00:00.000Z"])

    def test_validate_refuses_unknown_zones_and_zones_nothing_reads(self):
        self.write_config(time_keys='field: ts, format: "%Y-%m-%d %H:%M:%S", '
                                    'timezone: Europe/Atlantis')
        rc, _, err = weir("validate", self.config)
        self.assertEqual(rc, 78, err)
        self.assertIn(f"{self.config}:8:", err)
        self.assertIn('nodes.quality.time.timezone: unknown time zone "Europe/Atlantis"', err)

        self.write_config(time_keys="field: ts, timezone: Europe/Berlin")
        rc, _, err = weir("validate", self.config)
        self.assertEqual(rc, 78, err)
        self.assertIn("timezone applies to a pattern without %z", err)

        rc, out, _ = weir("schema")
        self.assertEqual(rc, 0)
        self.assertIn('"timezone"', out)


class dead_letter_test(unittest.TestCase):
    """Issue 14, problem 4: every record a node cannot use reaches its dead_letter output."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name

    def test_every_unusable_record_reaches_the_dead_letter_file_with_where_and_why(self):
        events = os.path.join(self.dir, "events.jsonl")
        rows = os.path.join(self.dir, "rows.csv")
        dead = os.path.join(self.dir, "dead.jsonl")
        results = os.path.join(self.dir, "results.jsonl")
        lines, kinds = [], []
        for i in range(60):
            ts = f"2026-11-20T10:00:{i % 60:02d}Z"
            kind = ("not_json", "schema", "time", "ok", "ok")[i % 5] if i < 56 else "not_json"
            if kind == "not_json":
                lines.append(f"garbage line {i} {{")
            elif kind == "schema":
                lines.append(json.dumps({"ts": ts, "temperature": "hot", "n": i}))
            elif kind == "time":
                lines.append(json.dumps({"ts": f"2026-11-20 10:00:{i % 60:02d}", "n": i}))
            else:
                lines.append(json.dumps({"ts": ts, "temperature": 20 + i % 3, "n": i}))
            kinds.append(kind)
        write_lines(events, lines)
        with open(rows, "w") as f:
            f.write("ts,temperature\n1795168800,20\n1795168801,21,surplus\n1795168802,22\n"
                    '"unclosed,23\n')
        config = os.path.join(self.dir, "letters.yaml")
        with open(config, "w") as f:
            f.write(f"""
pipeline: letters
inputs:
  events: {{type: file, path: "{events}"}}
  rows: {{type: file, path: "{rows}", format: csv}}
nodes:
  json_quality:
    from: events
    schema:
      fields: {{temperature: {{type: number}}}}
    time: {{field: ts}}
    window: {{type: tumbling, size: 1m}}
    checks: [{{name: volume, measure: count(), must_be: "> 0"}}]
    outputs: [results]
    dead_letter: dead
  csv_quality:
    from: rows
    time: {{field: ts, format: epoch_s}}
    window: {{type: tumbling, size: 1m}}
    checks: [{{name: volume, measure: count(), must_be: "> 0"}}]
    outputs: [results]
    dead_letter: dead
outputs:
  results: {{type: file, path: "{results}"}}
  dead: {{type: file, path: "{dead}"}}
""")
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                          os.path.join(self.dir, "d"), config,
                          timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        letters = read_jsonl(dead)
        from_json = [d for d in letters if d["input"] == "events"]
        from_csv = [d for d in letters if d["input"] == "rows"]

        want = {"not_json": [], "schema": [], "time": []}
        for line, kind in zip(lines, kinds):
            if kind in want:
                want[kind].append(line)
        self.assertEqual(len(want["not_json"]), 16)
        by_rule = {"malformed": [], "type": [], "time": []}
        for d in from_json:
            self.assertEqual((d["pipeline"], d["node"], d["source"]),
                             ("letters", "json_quality", events))
            # The offset points at the very line.
            text = line_at(events, d["offset"])
            if "_raw" in d:
                self.assertEqual(d["_raw"], text)
                self.assertNotIn("record", d)
            else:
                self.assertEqual(d["record"], json.loads(text))
            by_rule[d["reason"]["rule"]].append(d.get("_raw") or json.dumps(d["record"]))
        self.assertEqual(by_rule["malformed"], want["not_json"])
        self.assertEqual([json.loads(t) for t in by_rule["type"]],
                         [json.loads(t) for t in want["schema"]])
        self.assertEqual([json.loads(t) for t in by_rule["time"]],
                         [json.loads(t) for t in want["time"]])
        schema_letter = next(d for d in from_json if d["reason"]["rule"] == "type")
        self.assertEqual(schema_letter["reason"],
                         {"field": "temperature", "rule": "type", "message": "not a number"})
        not_json = next(d for d in from_json if d["reason"]["rule"] == "malformed")
        self.assertIsNone(not_json["reason"]["field"])
        self.assertIn("not a JSON object", not_json["reason"]["message"])

        # (An unclosed quote runs to the end of the file, its line end included.)
        self.assertEqual([d["_raw"].rstrip("\n") for d in from_csv],
                         ["1795168801,21,surplus", '"unclosed,23'])
        for d in from_csv:
            self.assertEqual((d["node"], d["source"], d["reason"]["rule"]),
                             ("csv_quality", rows, "malformed"))
            self.assertEqual(line_at(rows, d["offset"]), d["_raw"].rstrip("\n"))

        # The usable records are counted, the others are not.
        volume = {r["node"]: r["value"] for r in read_jsonl(results) if r["check"] == "volume"}
        self.assertEqual(volume, {"json_quality": kinds.count("ok"), "csv_quality": 2})

        # The log names the input, the file and the offset of an example.
        first_bad = sum(len(l) + 1 for l in lines[:kinds.index("not_json")])
        self.assertIn(f'input "events", {events} offset {first_bad}', err)
        self.assertIn('input "rows", ' + rows + " offset", err)
        self.assertIn("records violate the schema (temperature: not a number)", err)


if __name__ == "__main__":
    unittest.main()
