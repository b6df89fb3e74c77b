"""JSON log lines (--log-format json) carry what they are about as keys of their own: the
pipeline, query, node, input and error type of a bad-records line, and those of a query that
failed; each line is one JSON object."""
import json
import os
import tempfile
import unittest

from weir_test_util import log_excerpt, weir

PIPELINE = """
pipeline: files
inputs:
  events: {{type: file, path: {data}, follow: false}}
nodes:
  quality:
    from: events
    critical: true
    time: {{field: ts, format: rfc3339}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 5"}}
    outputs: [results]
    on_error: {{action: stop, max_errors: 5, per: 1m}}
outputs:
  results: {{type: file, path: {results}}}
"""


class json_log_test(unittest.TestCase):
    def run_failing_query(self, log_format):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        data = os.path.join(tmp.name, "events.jsonl")
        with open(data, "w") as f:
            for i in range(50):
                f.write(json.dumps({"ts": f"2026-11-20T10:00:{i:02d}.000Z", "v": i}) + "\n")
                if i % 5 == 0:
                    f.write("{not json\n")  # 10 bad lines: more than on_error allows
        config = os.path.join(tmp.name, "p.yaml")
        with open(config, "w") as f:
            f.write(PIPELINE.format(data=data, results=os.path.join(tmp.name, "r.jsonl")))
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--log-format", log_format,
                          "--data-dir", os.path.join(tmp.name, "d"), config, timeout=120)
        self.assertEqual(rc, 1, log_excerpt(err))
        return err

    def test_bad_records_and_a_failed_query_carry_their_fields(self):
        err = self.run_failing_query("json")
        lines = []
        for line in err.splitlines():
            if line.startswith("weir: "):  # what weir prints itself besides its log
                continue
            lines.append(json.loads(line))  # every log line is one JSON object
        self.assertTrue(lines, err)
        for j in lines:
            self.assertLessEqual({"ts", "level", "logger", "msg"}, set(j), j)

        [bad] = [j for j in lines if "records unusable" in j["msg"]][:1]
        self.assertEqual(bad["level"], "warning", bad)
        self.assertEqual((bad["pipeline"], bad["query"], bad["node"], bad["input"],
                          bad["error_type"]), ("files", "quality", "quality", "events", "decode"),
                         bad)

        [failed] = [j for j in lines if j["level"] == "critical"]
        self.assertEqual((failed["pipeline"], failed["query"], failed["node"]),
                         ("files", "quality", "quality"), failed)
        self.assertNotIn("input", failed)
        self.assertRegex(failed["msg"], r"^query files/quality failed: .*on_error allows 5.*; "
                                        r"weir stops \(the query is critical\)$")

        # Lines about the daemon as a whole carry no query's fields.
        started = [j for j in lines if "every input ended" in j["msg"] or
                   "HTTP server on" in j["msg"]]
        for j in started:
            self.assertNotIn("pipeline", j)

        running = [j for j in lines if j["msg"].startswith("query files/quality running")]
        self.assertEqual(len(running), 1, lines)
        self.assertEqual((running[0]["pipeline"], running[0]["query"]), ("files", "quality"))
        self.assertNotIn("error_type", running[0])

    def test_the_text_log_does_not_say_critical_twice(self):
        err = self.run_failing_query("text")
        self.assertIn("query files/quality failed", err)
        self.assertNotIn("critical critical", err)


if __name__ == "__main__":
    unittest.main()
