"""Checks against a measure's own history through the real binary: a grouped node over a followed
file judges mean(x) by a rolling z-score and count() by its change against the previous window.
The first windows warm up (no_data, "expected": {"state": "warming_up"}); then every result
carries what it was judged against; a spike fails only its group and is not learned. History
survives kill -9 (results equal an uninterrupted run's), `weir baseline reset` and an
acknowledgement over HTTP change it on a running daemon (and are in its log), and a reload keeps
it unless it changes the check's own subject."""
import datetime
import json
import os
import signal
import tempfile
import unittest

from weir_test_util import (http_get, http_post, log_excerpt, read_complete_jsonl, results_by_id,
                            wait_for, weir, weir_process)

WINDOW_S = 10
PER_WINDOW = 5
HOSTS = ("a", "b")
START = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)
BASE = 100.0
# Window means cycle through BASE + these, so the history has a spread and any six consecutive
# windows average BASE exactly; a normal window is then within 1.2 deviations of it.
WIGGLE = (-1.0, 1.0, 0.0)
SPREAD = (-2, -1, 0, 1, 2)  # the records of a window around its mean
SPIKE = 130.0
SHIFTED = 150.0
# zscore(last 6) judges once it has max(3, ceil(6 / 2)) values.
WARM_UP = 3
HISTORY = 6
ZSCORE = "zscore(last 6) < 3"
WAIT = 90  # seconds: every wait is bounded, and generous for a loaded 2-core machine

PIPELINE = """
pipeline: hist
inputs:
  metrics: {{type: file, path: {records}, follow: true}}
nodes:
  hosts:
    from: metrics
    time: {{field: ts, format: rfc3339}}
    window: {{type: tumbling, size: {window}s}}
    group_by: [host]
    checks:
      - {{name: level, measure: mean(x), should_be: "{level}"}}
      - {{name: volume, measure: count(), must_be: "change in [-50%, +50%]"}}
      - {{name: rows, measure: "{rows_measure}", must_be: "{rows_must_be}"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}, flush_interval: 50ms}}
"""


def normal_level(host, w):
    return BASE + WIGGLE[w % len(WIGGLE)]


def window_records(w, level_of=normal_level):
    out = []
    for i, d in enumerate(SPREAD):
        t = START + datetime.timedelta(seconds=w * WINDOW_S + i * 2)
        for host in HOSTS:
            r = {"ts": t.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "host": host,
                 "x": level_of(host, w) + d}
            out.append(json.dumps(r) + "\n")
    return "".join(out)


def window_of(r):
    t = datetime.datetime.fromisoformat(r["window_start"].replace("Z", "+00:00"))
    return int((t - START).total_seconds()) // WINDOW_S


def host_of(r):
    return (r.get("group") or {}).get("host")


def expected(r):
    return r.get("expected") or {}


def warming_up(r):
    return expected(r).get("state") == "warming_up"


def z_of(r):
    """The z-score the result was judged by."""
    e = expected(r)
    if "z" in e:
        return e["z"]
    assert e.get("tested") == "z", e
    return e["tested_value"]


def by_key(results):
    """(check, host, window) -> result; a key seen twice must carry the same result."""
    out = {}
    for r in results:
        key = (r["check"], host_of(r), window_of(r))
        if key in out:
            a, b = dict(out[key]), dict(r)
            a.pop("emitted_at", None)
            b.pop("emitted_at", None)
            assert a == b, f"{key} emitted twice, differently:\n{a}\n{b}"
        out[key] = r
    return out


class history_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        self.settings = os.path.join(self.dir, "weir.yaml")
        with open(self.settings, "w") as f:
            f.write("checkpoint: {interval: 100ms}\nshutdown_timeout: 20s\n")

    def setup_run(self, name, level=ZSCORE, rows_measure="count()", rows_must_be="> 0",
                  window=WINDOW_S):
        """A directory with an empty records file and the pipeline; returns its paths."""
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        run = {"dir": d, "records": os.path.join(d, "records.jsonl"),
               "results": os.path.join(d, "results.jsonl"),
               "pipeline": os.path.join(d, "hist.yaml"), "data": os.path.join(d, "data")}
        self.write_pipeline(run, level, rows_measure, rows_must_be, window)
        open(run["records"], "w").close()
        return run

    def write_pipeline(self, run, level=ZSCORE, rows_measure="count()", rows_must_be="> 0",
                       window=WINDOW_S):
        with open(run["pipeline"], "w") as f:
            f.write(PIPELINE.format(records=run["records"], results=run["results"], level=level,
                                    rows_measure=rows_measure, rows_must_be=rows_must_be,
                                    window=window))

    def append(self, run, windows, level_of=normal_level):
        with open(run["records"], "a") as f:
            for w in windows:
                f.write(window_records(w, level_of))

    def run_once(self, run):
        rc, out, err = weir("run", "--once", "--fail-on", "never", "--data-dir", run["data"],
                            self.settings, run["pipeline"], timeout=300)
        self.assertEqual(rc, 0, log_excerpt(err))
        return read_complete_jsonl(run["results"])

    def start(self, run):
        p = weir_process(self, run["dir"], [self.settings, run["pipeline"]])
        p.wait_port(timeout=WAIT)
        return p

    def wait_closed(self, run, w, check="level"):
        """Until every host's result of `check` for window `w` was written."""
        def closed():
            got = by_key(read_complete_jsonl(run["results"]))
            return all((check, h, w) in got for h in HOSTS)
        wait_for(closed, WAIT, f"the results of window {w}")

    def closed_windows(self, run, check="level"):
        return {window_of(r) for r in read_complete_jsonl(run["results"])
                if r["check"] == check}

    # --- a. warm-up, evidence, a spike in one group ----------------------------------------

    def test_warm_up_then_evidence_and_a_spike_fails_only_its_group_unlearned(self):
        windows, spike_at = 16, 10

        def level_of(host, w):
            return SPIKE if (host, w) == ("b", spike_at) else normal_level(host, w)

        run = self.setup_run("a")
        self.append(run, range(windows), level_of)
        got = by_key(self.run_once(run))
        for w in range(windows):
            for h in HOSTS:
                level, volume, rows = (got[(c, h, w)] for c in ("level", "volume", "rows"))
                where = f"host {h}, window {w}"
                self.assertNotIn("expected", rows, "a plain check carries no evidence")
                self.assertEqual(rows["outcome"], "pass", where)
                # volume: change against the previous window, which the first one lacks.
                if w == 0:
                    self.assertEqual(volume["outcome"], "no_data", where)
                    self.assertTrue(warming_up(volume), volume)
                else:
                    self.assertEqual(volume["outcome"], "pass", where)
                    self.assertFalse(warming_up(volume), volume)
                    self.assertEqual(expected(volume)["value"], PER_WINDOW, volume)
                # level: warming up until it has WARM_UP values, then judged with evidence.
                if w < WARM_UP:
                    self.assertEqual(level["outcome"], "no_data", where)
                    self.assertTrue(warming_up(level), level)
                    continue
                e = expected(level)
                self.assertFalse(warming_up(level), level)
                for key in ("value", "low", "high", "history"):
                    self.assertIn(key, e, level)
                self.assertEqual(e["history"], min(w, HISTORY), level)
                self.assertLess(e["low"], e["value"])
                self.assertLess(e["value"], e["high"])
                if (h, w) == ("b", spike_at):
                    self.assertEqual(level["outcome"], "warn", level)  # a should_be warns
                    self.assertGreater(level["value"], e["high"])
                    self.assertGreater(z_of(level), 3)
                else:
                    self.assertEqual(level["outcome"], "pass", level)
                    self.assertLess(abs(z_of(level)), 3, level)
                    self.assertAlmostEqual(level["value"], level_of(h, w), places=6)
        # The spike was held out: the next window is judged against the same baseline as the
        # other host's (any six normal windows average BASE), not one the spike pulled up.
        after_b, after_a = got[("level", "b", spike_at + 1)], got[("level", "a", spike_at + 1)]
        self.assertEqual(after_b["outcome"], "pass")
        self.assertAlmostEqual(expected(after_b)["value"], BASE, delta=0.01)
        self.assertAlmostEqual(expected(after_b)["high"], expected(after_a)["high"], delta=0.5)

    # --- b. kill -9 ------------------------------------------------------------------------

    def test_kill_9_mid_run_gives_the_results_of_an_uninterrupted_run(self):
        windows, spike_at = 24, 12

        def level_of(host, w):
            return SPIKE if (host, w) == ("a", spike_at) else normal_level(host, w)

        clean = self.setup_run("clean")
        self.append(clean, range(windows), level_of)
        want = results_by_id(self, self.run_once(clean))
        self.assertEqual(len(want), 3 * len(HOSTS) * windows)

        run = self.setup_run("killed")
        ckpt = os.path.join(run["data"], "checkpoints", "hist", "hosts.ckpt")
        written = 0
        # Killed at different points: during warm-up, right after it, around the spike and
        # later; after a fresh checkpoint, or right after results were written (so that the
        # restart emits them again from an older checkpoint).
        for kill_at, after_checkpoint in ((2, True), (5, False), (12, True), (13, False),
                                          (19, True)):
            self.append(run, range(written, kill_at + 1), level_of)
            resumes = written > 0  # the first kill comes after a checkpoint
            written = kill_at + 1
            p = self.start(run)
            self.wait_closed(run, kill_at - 1)
            if resumes:
                self.assertIn("resumed from", p.log_text())
            if after_checkpoint:
                wait_for(lambda: os.path.exists(ckpt), WAIT, "a checkpoint")
                first = os.stat(ckpt).st_mtime_ns
                wait_for(lambda: os.stat(ckpt).st_mtime_ns != first, WAIT, "a later checkpoint")
            p.kill()
        # The history is a section of the checkpoint of its own.
        rc, out, err = weir("checkpoint", "inspect", ckpt)
        self.assertEqual(rc, 0, err)
        self.assertIn("history/hosts", [s["name"] for s in json.loads(out)["sections"]])
        self.append(run, range(written, windows), level_of)
        got = results_by_id(self, self.run_once(run))
        self.assertEqual(set(got), set(want), "no result missing, none extra")
        for k, v in want.items():
            self.assertEqual(got[k], v)
        # A restart that lost the history would have warmed up again.
        warm = sorted((r["check"], host_of(r), window_of(r)) for r in got.values()
                      if warming_up(r))
        self.assertEqual(warm, sorted([("level", h, w) for h in HOSTS for w in range(WARM_UP)] +
                                      [("volume", h, 0) for h in HOSTS]))

    # --- c. operator commands on a running daemon ------------------------------------------

    def test_reset_and_acknowledge_on_a_running_daemon(self):
        run = self.setup_run("commands")
        self.append(run, range(10))
        p = self.start(run)
        base = f"http://127.0.0.1:{p.port}"
        self.wait_closed(run, 8)

        # Reset host a's level (CLI): it warms up again from the next window that closes.
        first_after = max(self.closed_windows(run)) + 1
        rc, out, err = weir("baseline", "reset", "hist/hosts/level", "--group", "host=a",
                            "--url", base)
        self.assertEqual((rc, out), (0, 'reset 1 series of hist/hosts/level, group host="a"\n'),
                         err)
        wait_for(lambda: 'baseline reset of hist/hosts/level, group host="a", asked by '
                 '127.0.0.1: 1 series affected' in p.log_text(), WAIT, "the reset in the log")
        self.append(run, range(10, 16))
        self.wait_closed(run, 14)
        got = by_key(read_complete_jsonl(run["results"]))
        for w in range(first_after, 15):
            a, b = got[("level", "a", w)], got[("level", "b", w)]
            if w < first_after + WARM_UP:
                self.assertEqual(a["outcome"], "no_data", a)
                self.assertTrue(warming_up(a), a)
            else:
                self.assertEqual(a["outcome"], "pass", a)
                self.assertFalse(warming_up(a), a)
            # The other group, and the other check of the same group, keep their history.
            self.assertEqual(b["outcome"], "pass", b)
            self.assertFalse(warming_up(b), b)
            self.assertEqual(got[("volume", "a", w)]["outcome"], "pass")

        # Host a moves to a new level: held out as anomalous, it warns window after window.
        def shifted(host, w):
            return SHIFTED + WIGGLE[w % 3] if host == "a" else normal_level(host, w)

        self.append(run, range(16, 20), shifted)
        self.wait_closed(run, 18)
        got = by_key(read_complete_jsonl(run["results"]))
        for w in (16, 17, 18):
            self.assertEqual(got[("level", "a", w)]["outcome"], "warn", got[("level", "a", w)])
        # Acknowledged over HTTP: the held-out values become the baseline.
        first_after = max(self.closed_windows(run)) + 1
        status, body = http_post(base + "/api/v1/baselines/acknowledge", json.dumps(
            {"pipeline": "hist", "node": "hosts", "check": "level", "group": {"host": "a"}}))
        self.assertEqual((status, json.loads(body)), (200, {"series": 1}), body)
        wait_for(lambda: 'baseline acknowledge of hist/hosts/level, group host="a", asked by '
                 '127.0.0.1: 1 series affected' in p.log_text(), WAIT, "the acknowledgement")
        self.append(run, range(20, 26), shifted)
        self.wait_closed(run, 24)
        got = by_key(read_complete_jsonl(run["results"]))
        for w in range(first_after, 25):
            self.assertEqual(got[("level", "a", w)]["outcome"], "pass", got[("level", "a", w)])
            self.assertEqual(got[("level", "b", w)]["outcome"], "pass", got[("level", "b", w)])

        # Every check against history of the node, every group: level and volume, two hosts.
        rc, out, err = weir("baseline", "reset", "hist/hosts", "--url", base)
        self.assertEqual((rc, out),
                         (0, "reset 4 series of hist/hosts (every check against history)\n"), err)
        self.assertIsNone(p.proc.poll(), "weir keeps running")

    def test_commands_that_cannot_apply_are_refused(self):
        run = self.setup_run("refused")
        self.append(run, range(5))
        p = self.start(run)
        base = f"http://127.0.0.1:{p.port}"
        url = base + "/api/v1/baselines/reset"
        self.wait_closed(run, 3)

        # 404: what the daemon does not run, or a check that does not judge against history.
        for target, message in (("hist/hosts/nope", 'node hist/hosts has no check "nope"'),
                                ("hist/hosts/rows", 'check "rows" of node hist/hosts does not '
                                                    'judge against history'),
                                ("hist/nope", 'pipeline "hist" has no node "nope"'),
                                ("other/hosts", 'no pipeline "other" runs here')):
            rc, out, err = weir("baseline", "reset", target, "--url", base)
            self.assertEqual(rc, 1, err)
            self.assertIn("answered 404: " + message, err)
            self.assertEqual(out, "")
        status, body = http_post(url, json.dumps({"pipeline": "hist", "node": "hosts",
                                                  "check": "nope"}))
        self.assertEqual(status, 404, body)
        self.assertIn("error", json.loads(body))
        # 400: a malformed body, a missing field, a group that is not the node's.
        for bad, message in (("{", "not JSON"), ('{"pipeline": "hist"}', '"node" is missing'),
                             ('{"pipeline": "hist", "node": "hosts", "group": {"region": "eu"}}',
                              'field "host" is missing'),
                             ('{"pipeline": "hist", "node": "hosts", "group": ["a"]}',
                              '"group" must be an object')):
            status, body = http_post(url, bad)
            self.assertEqual(status, 400, bad)
            self.assertIn(message, json.loads(body)["error"])
        rc, out, err = weir("baseline", "acknowledge", "hist/hosts/level", "--group", "host=a",
                            "--group", "region=eu", "--url", base)
        self.assertEqual(rc, 64, err)
        self.assertIn('does not group by "region"', err)
        # Not JSON, not POST, too large.
        self.assertEqual(http_post(url, "{}", content_type="text/plain")[0], 415)
        status, _ = http_get(url)
        self.assertEqual(status, 405)
        self.assertEqual(http_post(url, "{" + " " * 20000 + "}")[0], 413)
        # Arguments weir baseline cannot send, and a daemon it cannot reach.
        rc, _, err = weir("baseline", "reset", "hist", "--url", base)
        self.assertEqual(rc, 64, err)
        rc, _, err = weir("baseline", "reset", "hist/hosts/level", "--group", "host",
                          "--url", base)
        self.assertEqual(rc, 64, err)
        rc, _, err = weir("baseline", "reset", "hist/hosts/level", "--url", "http://127.0.0.1:1")
        self.assertEqual(rc, 1, err)
        self.assertIn("cannot reach weir", err)
        # Nothing was applied, and the daemon runs on.
        self.assertNotIn("series affected", p.log_text())
        self.assertIsNone(p.proc.poll(), "weir keeps running")

    # --- d. reloads -----------------------------------------------------------------------

    def reload(self, p, run, count, **pipeline):
        """Rewrites the pipeline, sends SIGHUP and waits for reload number `count` to finish."""
        self.write_pipeline(run, **pipeline)
        p.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: p.log_text().count("reload done") >= count, WAIT, "the reload")

    def level_after(self, run, w):
        return sorted((r for r in read_complete_jsonl(run["results"])
                       if r["check"] == "level" and window_of(r) >= w),
                      key=lambda r: (window_of(r), host_of(r)))

    def test_a_reload_that_changes_other_checks_keeps_the_history(self):
        run = self.setup_run("reload_keep")
        self.append(run, range(10))
        p = self.start(run)
        self.wait_closed(run, 8)
        # Another check's threshold: the query resumes with its open windows.
        self.reload(p, run, 1, rows_must_be="> 1")
        self.append(run, range(10, 14))
        self.wait_closed(run, 12)
        # Another check's measure: the plan changes, the query restarts from its checkpoint.
        self.reload(p, run, 2, rows_measure="max(x)", rows_must_be="> 1")
        self.append(run, range(14, 20))
        self.wait_closed(run, 18)
        after = self.level_after(run, 9)
        self.assertTrue(after)
        for r in after:
            self.assertFalse(warming_up(r), r)
            # A first window after a restart may be partial (no_data); the others are judged.
            if r["outcome"] != "no_data":
                self.assertEqual(r["outcome"], "pass", r)
                self.assertEqual(expected(r)["history"], HISTORY, r)
        judged = [r for r in after if window_of(r) >= 15]
        self.assertTrue(judged and all(r["outcome"] == "pass" for r in judged), judged)

    def test_a_reload_that_changes_the_checks_subject_starts_it_afresh(self):
        run = self.setup_run("reload_subject")
        self.append(run, range(10))
        p = self.start(run)
        self.wait_closed(run, 8)
        first_after = max(self.closed_windows(run)) + 1
        self.reload(p, run, 1, level="relative change in [-20%, +20%]")
        self.append(run, range(10, 14))
        self.wait_closed(run, 12)
        after = self.level_after(run, first_after)
        for h in HOSTS:
            mine = [r for r in after if host_of(r) == h]
            self.assertTrue(warming_up(mine[0]), mine[0])
            self.assertEqual(mine[0]["outcome"], "no_data")
            self.assertTrue(all(not warming_up(r) and r["outcome"] == "pass" for r in mine[1:]),
                            mine)
        # The check that did not change kept its history.
        self.assertFalse(any(warming_up(r) for r in read_complete_jsonl(run["results"])
                             if r["check"] == "volume" and window_of(r) >= first_after))

    def test_a_reload_that_changes_the_window_starts_the_history_afresh(self):
        run = self.setup_run("reload_window")
        self.append(run, range(10))
        p = self.start(run)
        self.wait_closed(run, 8)
        first_after = max(self.closed_windows(run)) + 1
        self.reload(p, run, 1, window=2 * WINDOW_S)
        self.append(run, range(10, 30))
        wait_for(lambda: any(window_of(r) >= 26 for r in self.level_after(run, first_after)),
                 WAIT, "results of the new windows")
        after = self.level_after(run, first_after)
        for h in HOSTS:
            self.assertTrue(any(warming_up(r) for r in after if host_of(r) == h), after)


if __name__ == "__main__":
    unittest.main()
