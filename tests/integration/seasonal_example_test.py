"""examples/seasonal.yaml as shipped, its console swapped for a file of JSON results: the checks
against history warm up first, then the server with the injected level shift (web-3, 60 hours of
event time after the start, about 20 s after weir starts) fails, and no other server fails; the
example's `weir baseline acknowledge` makes the new level web-3's baseline.

Assertions are on event time (window starts), not on the wall clock; the wall clock only bounds
the wait, generously, for a busy machine."""
import datetime
import json
import os
import tempfile
import unittest

from weir_test_util import log_excerpt, source, wait_for, weir, weir_process

HOUR = 3600.0
SEASONAL = "usual_hour"
YESTERDAY = "vs_yesterday"
HISTORY_CHECKS = (SEASONAL, YESTERDAY)
SHIFTED = "web-3"
SHIFT_AFTER = 60 * HOUR  # the example's level_shift `after`
# Event time to reach before stopping: hours of judged windows after the shift for every server.
RUN_UNTIL = 66 * HOUR


def seconds(rfc3339):
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def state(result):
    return (result.get("expected") or {}).get("state")


class seasonal_example_test(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.results = os.path.join(self.dir, "results.jsonl")
        with open(source("examples", "seasonal.yaml")) as f:
            text = f.read()
        head, sep, _ = text.partition("\noutputs:\n")
        self.assertTrue(sep, "the example ends with its outputs")
        self.assertIn("outputs: [console]", head)
        text = (head.replace("outputs: [console]", "outputs: [results]") +
                f"\noutputs:\n  results: {{type: file, path: {self.results}, "
                "flush_interval: 100ms}\n")
        self.config = os.path.join(self.dir, "seasonal.yaml")
        with open(self.config, "w") as f:
            f.write(text)

    def read_results(self):
        if not os.path.exists(self.results):
            return []
        out = []
        with open(self.results) as f:
            for line in f:
                if line.endswith("\n"):  # a line being written is read next time
                    out.append(json.loads(line))
        return out

    def hours_run(self, p):
        """Hours of event time from the first window's start to the newest one's."""
        if p.proc.poll() is not None:
            raise AssertionError("weir exited:\n" + log_excerpt(p.log_text()))
        starts = [seconds(r["window_start"]) for r in self.read_results()]
        return (max(starts) - min(starts)) / HOUR if starts else 0

    def test_the_shifted_server_fails_after_warm_up_and_the_others_pass(self):
        p = weir_process(self, self.dir, [self.config])
        port = p.wait_port()
        # 66 hours of event time are 22 s at the example's speed; a busy machine is slower.
        wait_for(lambda: self.hours_run(p) >= RUN_UNTIL / HOUR, 120,
                 "66 hours of event time in the results", interval=0.5)
        # The example's acknowledgement of web-3's new level, at this weir's address.
        rc, out, err = weir("baseline", "acknowledge", "seasonal/latency/usual_hour", "--group",
                            "host=web-3", "--url", f"http://127.0.0.1:{port}")
        self.assertEqual(rc, 0, err)
        self.assertIn("acknowledged 1 series", out)
        acknowledged = self.hours_run(p)
        wait_for(lambda: self.hours_run(p) >= acknowledged + 6, 60,
                 "6 more hours of event time", interval=0.5)
        self.assertEqual(p.stop(), 0, log_excerpt(p.log_text()))
        self.assertIn("baseline acknowledge of seasonal/latency/usual_hour", p.log_text())

        results = self.read_results()
        # Window starts relative to the first window (the generator starts within it).
        first = min(seconds(r["window_start"]) for r in results)
        series = {}
        for r in results:
            r["hour"] = (seconds(r["window_start"]) - first) / HOUR
            series.setdefault((r["check"], r["group"]["host"]), []).append(r)
        hosts = sorted({host for _, host in series})
        self.assertEqual(hosts, ["web-1", "web-2", "web-3", "web-4"])

        # Warm-up first: every history series starts with warming_up (no_data, never a pass),
        # and once judged it never warms up again.
        for check in HISTORY_CHECKS:
            for host in hosts:
                rs = sorted(series[(check, host)], key=lambda r: r["hour"])
                self.assertEqual(state(rs[0]), "warming_up", (check, host, rs[0]))
                states = [state(r) for r in rs]
                self.assertIn("judged", states, (check, host))
                judged_from = states.index("judged")
                self.assertTrue(all(s == "warming_up" for s in states[:judged_from]), (check, host))
                self.assertTrue(all(s == "judged" for s in states[judged_from:]), (check, host))
                for r in rs[:judged_from]:
                    self.assertEqual(r["outcome"], "no_data", r)
                # The same hour a day ago exists from the second day on. The seasonal check
                # expects an hour seen on 2 days (from the third day on) and knows its usual
                # error after 10 hours of the third day.
                want = 24 if check == YESTERDAY else 58
                self.assertGreaterEqual(rs[judged_from]["hour"], want - 2, (check, host))
                self.assertLessEqual(rs[judged_from]["hour"], want + 2, (check, host))

        # No server fails or warns before the shift, and no other server ever does (before or
        # after the acknowledgement).
        for r in results:
            if r["group"]["host"] != SHIFTED or r["hour"] < SHIFT_AFTER / HOUR - 1:
                self.assertNotIn(r["outcome"], ("fail", "warn"), r)

        # The shifted server fails both history checks within two windows of the shift, and
        # the fixed ceiling, which a level shift does not reach, passes.
        for check in HISTORY_CHECKS:
            fails = sorted(r["hour"] for r in series[(check, SHIFTED)] if r["outcome"] == "fail")
            self.assertTrue(fails, check)
            self.assertLessEqual(fails[0], SHIFT_AFTER / HOUR + 2, check)
        for r in series[("ceiling", SHIFTED)]:
            self.assertEqual(r["outcome"], "pass", r)
        evidence = next(r["expected"] for r in series[(SEASONAL, SHIFTED)]
                        if r["outcome"] == "fail")
        self.assertTrue(evidence["bucket"].startswith("hour_of_day="), evidence)
        # Acknowledged, the new level is web-3's baseline: its seasonal check passes again.
        last = max(series[(SEASONAL, SHIFTED)], key=lambda r: r["hour"])
        self.assertGreaterEqual(last["hour"], acknowledged + 5)
        self.assertEqual(last["outcome"], "pass", last)


if __name__ == "__main__":
    unittest.main()
