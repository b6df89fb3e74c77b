"""Schema drift through the real binary: a file whose records change shape mid-way (a new field
appears, an expected one disappears, a field changes type) fails exactly the windows that drift,
with the offending field names in the result; a daemon killed with -9 and restarted from its
checkpoint neither learns the fields again nor reports differently from an uninterrupted run."""
import datetime
import json
import os
import tempfile
import unittest

from weir_test_util import log_excerpt, wait_for, weir, weir_process

WINDOW_S = 10
WINDOWS = 20
PER_WINDOW = 5
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
NEW_FROM = 8        # `coupon` appears in every record from this window on
MISSING_IN = 12     # `amount` is absent from every record of this window
RETYPED_IN = 15     # one record has customer.id as a number
KILL_AFTER = 11     # the daemon has read windows 0..KILL_AFTER when it is killed

PIPELINE = """
pipeline: drift
inputs:
  orders: {{type: file, path: {records}, follow: true}}
nodes:
  shape:
    from: orders
    time: {{field: ts, format: rfc3339}}
    window: {{type: tumbling, size: {window}s}}
    checks:
      - {{name: new, measure: new_fields(), must_be: "== 0"}}
      - {{name: missing, measure: missing_fields(), must_be: "== 0"}}
      - {{name: types, measure: type_changes(), must_be: "== 0"}}
    outputs: [results, console]
outputs:
  results: {{type: file, path: {results}, flush_interval: 50ms}}
  console: {{type: console, emit: all}}
"""


def window_records(w):
    out = []
    for i in range(PER_WINDOW):
        t = START + datetime.timedelta(seconds=w * WINDOW_S + i * 2)
        r = {"ts": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "id": f"o-{w}-{i}",
             "customer": {"id": f"c-{i}", "tier": "gold"}}
        if w != MISSING_IN:
            r["amount"] = 10.5 + i
        if w >= NEW_FROM:
            r["coupon"] = "SAVE10"
        if w == RETYPED_IN and i == 3:
            r["customer"]["id"] = 1234
        out.append(json.dumps(r) + "\n")
    return "".join(out)


def read_results(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def window_of(result):
    t = datetime.datetime.fromisoformat(result["window_start"].replace("Z", "+00:00"))
    return int((t - START).total_seconds()) // WINDOW_S


class drift_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        with open(os.path.join(self.dir, "weir.yaml"), "w") as f:
            f.write("checkpoint: {interval: 100ms}\nshutdown_timeout: 20s\n")

    def setup_run(self, name):
        """A directory with its records file and pipeline; returns (records, results, pipeline)."""
        d = os.path.join(self.dir, name)
        os.mkdir(d)
        records = os.path.join(d, "records.jsonl")
        results = os.path.join(d, "results.jsonl")
        pipeline = os.path.join(d, "drift.yaml")
        with open(pipeline, "w") as f:
            f.write(PIPELINE.format(records=records, results=results, window=WINDOW_S))
        open(records, "w").close()
        return records, results, pipeline

    def run_once(self, data, pipeline):
        rc, out, err = weir("run", "--once", "--fail-on", "never", "--data-dir", data,
                            os.path.join(self.dir, "weir.yaml"), pipeline, timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        return out

    def uninterrupted(self):
        records, results, pipeline = self.setup_run("clean")
        with open(records, "w") as f:
            for w in range(WINDOWS):
                f.write(window_records(w))
        console = self.run_once(os.path.join(self.dir, "clean", "data"), pipeline)
        return read_results(results), console

    def test_drift_fails_exactly_the_windows_that_drift_with_the_field_names(self):
        results, console = self.uninterrupted()
        by = {(r["check"], window_of(r)): r for r in results}
        self.assertEqual(len(by), 3 * WINDOWS, "one result per check and window")
        for w in range(WINDOWS):
            new, missing, types = by[("new", w)], by[("missing", w)], by[("types", w)]
            if w >= NEW_FROM:
                self.assertEqual((new["outcome"], new["value"], new["fields"]),
                                 ("fail", 1, ["coupon"]), f"window {w}")
            else:
                self.assertEqual((new["outcome"], new["value"]), ("pass", 0), f"window {w}")
                self.assertNotIn("fields", new)
            if w == MISSING_IN:
                self.assertEqual((missing["outcome"], missing["value"], missing["fields"]),
                                 ("fail", 1, ["amount"]))
            else:
                self.assertEqual(missing["outcome"], "pass", f"window {w}")
                self.assertNotIn("fields", missing)
            if w == RETYPED_IN:
                self.assertEqual((types["outcome"], types["value"], types["fields"]),
                                 ("fail", 1, ["customer.id"]))
            else:
                self.assertEqual(types["outcome"], "pass", f"window {w}")
        # The console names the fields too.
        self.assertIn("fields: coupon", console)
        self.assertIn("fields: customer.id", console)

    def test_kill_9_and_restart_does_not_learn_again(self):
        want = {}
        for r in self.uninterrupted()[0]:
            r.pop("emitted_at")
            want[r["id"]] = r

        records, results, pipeline = self.setup_run("killed")
        data = os.path.join(self.dir, "killed", "data")
        with open(records, "w") as f:
            for w in range(KILL_AFTER + 1):
                f.write(window_records(w))
        p = weir_process(self, os.path.join(self.dir, "killed"),
                         [os.path.join(self.dir, "weir.yaml"), pipeline])
        p.wait_port()

        def closed(w):
            return any(window_of(r) == w for r in read_results(results))
        # Window KILL_AFTER - 1 closes once KILL_AFTER's records are read: the daemon has seen
        # `coupon` for a few windows; then a checkpoint written after that.
        wait_for(lambda: os.path.exists(results) and closed(KILL_AFTER - 1), 30, "the results")
        ckpt = os.path.join(data, "checkpoints", "drift", "shape.ckpt")
        wait_for(lambda: os.path.exists(ckpt), 30, "a checkpoint")
        first = os.stat(ckpt).st_mtime_ns
        wait_for(lambda: os.stat(ckpt).st_mtime_ns != first, 30, "a later checkpoint")
        p.kill()
        rc, out, err = weir("checkpoint", "inspect", ckpt)
        self.assertEqual(rc, 0, err)
        self.assertIn("drift/shape", [s["name"] for s in json.loads(out)["sections"]])

        with open(records, "a") as f:
            for w in range(KILL_AFTER + 1, WINDOWS):
                f.write(window_records(w))
        self.run_once(data, pipeline)

        got = {}
        for r in read_results(results):
            r.pop("emitted_at")
            if r["id"] in got:
                self.assertEqual(got[r["id"]], r, "a result emitted again is identical")
            got[r["id"]] = r
        self.assertEqual(set(got), set(want), "no result missing, none extra")
        for k, v in want.items():
            self.assertEqual(got[k], v)
        # A learning restart would have taken `coupon` for an expected field.
        after = [r for r in got.values() if r["check"] == "new" and window_of(r) > KILL_AFTER]
        self.assertTrue(after)
        self.assertTrue(all(r["fields"] == ["coupon"] for r in after))


if __name__ == "__main__":
    unittest.main()
