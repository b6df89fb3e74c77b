"""depends_on and end_when with the real binary (docs/pipelines.md, "Dependencies" and "End of
stream"): two followed files, `weather` a dependency of the node reading `orders` and
`weather`. `weather` stops after event time 10 while `orders` goes on, then resumes.

- on_down: hold gives results identical to a run that never stopped;
- on_down: continue flags exactly the windows that closed without weather's data;
- kill -9 while holding, then a restart, loses nothing;
- under --once, a dependency still behind when the inputs end: the held windows are evaluated
  and flagged;
- end_when: a followed file ends on a marker record and --once ends with its windows closed.

The hold tests run again with the node a temporal join of orders with weather (the latest
weather version of each order's key): held, every order still finds the version of its time.
"""
import json
import os
import subprocess
import tempfile
import time
import unittest

from weir_test_util import (WEIR, http_get, read_complete_jsonl, results_by_id, wait_for,
                            weir, weir_process)

B = 1_700_000_000     # event times: epoch seconds, a multiple of the window size
WINDOWS = 21          # windows of 10 s: [0, 10) ... [200, 210)
WEATHER_STOPS = 10    # the last weather record before the outage
WAIT_S = 60           # the longest any single step may take (a busy machine)

NODE = """    time: {{field: ts, format: epoch_s}}"""

# A join node: each order with the latest weather version at or before it, none older than
# 5 s (inner: an order without one is not counted).
JOIN_NODE = """    join: {{type: temporal, left: orders, right: weather, on: {{left: k, right: k}},
            within: 5s, kind: inner}}
    time: {{field: ts, format: epoch_s}}"""

PIPELINE = """
pipeline: deps
inputs:
  orders: {{type: file, path: {orders}, follow: {follow}}}
  weather: {{type: file, path: {weather}, follow: {follow}}}
nodes:
  n:
    from: [orders, weather]
{node}
    window: {{type: tumbling, size: 10s, idle_timeout: {idle}}}
    depends_on: [{{input: weather, max_lag: 2s, on_down: {on_down}}}]
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}, flush_interval: 50ms}}
"""


def lines(source, start, end):
    return "".join(json.dumps({"ts": B + t, "source": source, "k": 1}) + "\n"
                   for t in range(start, end))


def with_records(results):
    """The results of windows that held records: once the data stops, the windows after it
    close empty as the wall clock goes on, as many as the test happened to wait for."""
    return [r for r in results if r["records"] > 0]


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


class dependency_test(unittest.TestCase):
    NODE = NODE
    PER_WINDOW = 20  # records counted in a window of the reference
    IDLE = "1s"

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        with open(os.path.join(self.dir, "weir.yaml"), "w") as f:
            f.write("checkpoint: {interval: 100ms}\nshutdown_timeout: 20s\n")

    def files(self, name, on_down, follow="true"):
        d = os.path.join(self.dir, name)
        os.mkdir(d)
        paths = {k: os.path.join(d, k + ".jsonl") for k in ("orders", "weather")}
        paths["results"] = os.path.join(d, "results.jsonl")
        pipeline = os.path.join(d, "deps.yaml")
        with open(pipeline, "w") as f:
            f.write(PIPELINE.format(node=self.NODE.format(), idle=self.IDLE, on_down=on_down,
                                    follow=follow, **paths))
        return d, paths, pipeline

    def reference(self):
        """Results of a run that never stopped: every record there from the start."""
        d, paths, pipeline = self.files("reference", "hold", follow="false")
        append(paths["orders"], lines("orders", 0, WINDOWS * 10))
        append(paths["weather"], lines("weather", 0, WINDOWS * 10))
        rc, _, err = weir("run", "--once", pipeline, timeout=120)
        self.assertEqual(rc, 0, err)
        out = results_by_id(self, read_complete_jsonl(paths["results"]))
        self.assertEqual(len(out), WINDOWS)
        self.assertTrue(all(r["value"] == self.PER_WINDOW for r in out.values()))
        self.assertTrue(all("dependency_down" not in r for r in out.values()))
        return out

    def start(self, d, pipeline):
        p = weir_process(self, d, [os.path.join(self.dir, "weir.yaml"), pipeline])
        p.wait_port(WAIT_S)
        return p

    def dependency(self, p):
        status = json.loads(http_get(f"http://127.0.0.1:{p.port}/api/v1/status")[1])
        for q in status["queries"]:
            for dep in q.get("dependencies", []):
                return dep
        return None

    def stop_weather(self, p, paths, states):
        """weather stops after WEATHER_STOPS while orders goes on, one record at a time, until
        weather is in one of `states`; then the rest of orders up to event time 200."""
        t = 30
        deadline = time.monotonic() + WAIT_S
        while True:
            dep = self.dependency(p)
            if dep is not None and dep["state"] in states:
                break
            self.assertLess(t, 200, "weather is not seen down before orders ran out")
            self.assertLess(time.monotonic(), deadline, f"weather is never down: {dep}")
            append(paths["orders"], lines("orders", t, t + 1))
            t += 1
            time.sleep(0.1)
        append(paths["orders"], lines("orders", t, 200))
        self.assertGreater(dep["lag_seconds"], 2)

    def resume_weather(self, paths):
        append(paths["weather"], lines("weather", WEATHER_STOPS + 1, WINDOWS * 10))
        append(paths["orders"], lines("orders", 200, WINDOWS * 10))

    def begin(self, name, on_down):
        d, paths, pipeline = self.files(name, on_down)
        append(paths["orders"], lines("orders", 0, 30))
        append(paths["weather"], lines("weather", 0, WEATHER_STOPS + 1))
        return d, paths, pipeline

    def held_run(self, kill):
        d, paths, pipeline = self.begin("held", "hold")
        p = self.start(d, pipeline)
        self.stop_weather(p, paths, ("held",))
        # The windows wait: only [0, 10), which weather's data reached, is out.
        wait_for(lambda: len(read_complete_jsonl(paths["results"])) >= 1, WAIT_S, "window 0")
        time.sleep(2)  # idle_timeout twice over: the stream is quiet, the hold still holds
        self.assertEqual(self.dependency(p)["state"], "held")
        self.assertEqual(len(results_by_id(self, read_complete_jsonl(paths["results"]))), 1)
        if kill:
            p.proc.kill()
            p.proc.wait()
            p = self.start(d, pipeline)
            wait_for(lambda: (self.dependency(p) or {}).get("state") == "held", WAIT_S,
                     "weather held again after the restart")
        self.resume_weather(paths)
        wait_for(lambda: len(results_by_id(
            self, with_records(read_complete_jsonl(paths["results"])))) >= WINDOWS, WAIT_S,
            "every window")
        wait_for(lambda: self.dependency(p)["state"] == "up", WAIT_S, "weather up again")
        self.assertEqual(p.stop(), 0)
        if not kill:
            self.assertIn('dependency "weather" is down', p.log_text())
            self.assertIn("the windows that waited for it are evaluated with its data",
                          p.log_text())
        return results_by_id(self, with_records(read_complete_jsonl(paths["results"])))

    def test_hold_gives_the_results_of_a_run_without_the_outage(self):
        self.assertEqual(self.held_run(kill=False), self.reference())

    def test_kill_9_while_holding_loses_nothing(self):
        self.assertEqual(self.held_run(kill=True), self.reference())

    def test_continue_flags_exactly_the_windows_closed_without_the_dependency(self):
        d, paths, pipeline = self.begin("continue", "continue")
        p = self.start(d, pipeline)
        self.stop_weather(p, paths, ("down",))
        # Every window of orders closes without weather: [0, 10) had its data, the rest not.
        wait_for(lambda: len(read_complete_jsonl(paths["results"])) >= 20, WAIT_S,
                 "the windows through 200")
        self.resume_weather(paths)
        wait_for(lambda: self.dependency(p)["state"] == "up", WAIT_S, "weather up again")
        wait_for(lambda: len(with_records(read_complete_jsonl(paths["results"]))) >= WINDOWS,
                 WAIT_S, "the window after the outage")
        metrics = http_get(f"http://127.0.0.1:{p.port}/metrics")[1]
        self.assertIn('weir_dependency_down{input="weather",node="n",pipeline="deps"} 0', metrics)
        self.assertEqual(p.stop(), 0)
        out = sorted(with_records(read_complete_jsonl(paths["results"])),
                     key=lambda r: r["window_start"])
        self.assertEqual(len(out), WINDOWS)
        for i, r in enumerate(out):
            with self.subTest(window=i):
                if 1 <= i <= 19:
                    self.assertEqual(r.get("dependency_down"), ["weather"])
                    self.assertEqual(r["value"], 11 if i == 1 else 10, "orders alone")
                else:
                    self.assertNotIn("dependency_down", r)
                    self.assertEqual(r["value"], 20)
        log = p.log_text()
        self.assertIn("results are flagged dependency_down (on_down: continue)", log)

    def test_a_hold_runs_out_after_max_hold_and_flags_the_windows(self):
        d, paths, pipeline = self.begin("expired", "hold, max_hold: 3s")
        p = self.start(d, pipeline)
        self.stop_weather(p, paths, ("held", "down"))
        wait_for(lambda: self.dependency(p)["hold_expired"], WAIT_S, "the hold to run out")
        self.assertEqual(self.dependency(p)["state"], "down")
        wait_for(lambda: len(read_complete_jsonl(paths["results"])) >= 20, WAIT_S,
                 "the windows through 200")
        metrics = http_get(f"http://127.0.0.1:{p.port}/metrics")[1]
        self.assertIn('weir_dependency_hold_expired_total{input="weather",node="n",'
                      'pipeline="deps"} 1', metrics)
        self.assertIn('weir_dependency_down{input="weather",node="n",pipeline="deps"} 1', metrics)
        self.assertEqual(p.stop(), 0)
        self.assertIn('dependency "weather" is still down after max_hold', p.log_text())
        out = sorted(with_records(read_complete_jsonl(paths["results"])),
                     key=lambda r: r["window_start"])
        self.assertNotIn("dependency_down", out[0])
        for r in out[1:20]:
            self.assertEqual(r["dependency_down"], ["weather"])

    def test_hold_under_once_evaluates_and_flags_the_held_windows(self):
        d, paths, pipeline = self.files("once", "hold", follow="false")
        append(paths["orders"], lines("orders", 0, 60))
        append(paths["weather"], lines("weather", 0, WEATHER_STOPS + 1))
        rc, _, err = weir("run", "--once", pipeline, timeout=120)
        self.assertEqual(rc, 0, err)
        out = sorted(read_complete_jsonl(paths["results"]), key=lambda r: r["window_start"])
        self.assertEqual([r["value"] for r in out], [20, 11, 10, 10, 10, 10])
        self.assertNotIn("dependency_down", out[0])
        for r in out[1:]:
            self.assertEqual(r["dependency_down"], ["weather"])
        self.assertIn('every input ended while dependency "weather" trails', err)


class join_dependency_test(dependency_test):
    """The hold tests with the node a temporal join (weather the right side): held, the
    orders wait for weather's versions of their time, so every one pairs."""
    NODE = JOIN_NODE
    PER_WINDOW = 10  # the orders, each with its weather version
    # A join's side silent for idle_timeout no longer holds the join's watermark, and its
    # records behind it are then late (docs/pipelines.md, "Joins"): orders pauses while the
    # test waits, so its idle_timeout is longer than the pause.
    IDLE = "10s"

    test_continue_flags_exactly_the_windows_closed_without_the_dependency = None
    test_a_hold_runs_out_after_max_hold_and_flags_the_windows = None
    test_hold_under_once_evaluates_and_flags_the_held_windows = None


END_PIPELINE = """
pipeline: ends
inputs:
  orders: {{type: file, path: {orders}, follow: true, end_when: 'kind == "end"'}}
nodes:
  n:
    from: orders
    time: {{field: ts, format: epoch_s}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}, flush_interval: 50ms}}
"""


GENERATOR_PIPELINE = """
pipeline: gen
inputs:
  g:
    type: generator
    seed: 3
    rate: 0
    time_field: ts
    fields:
      v: {{type: integer, min: 0, max: 1000}}
    end_when: 'v == 999'
nodes:
  n:
    from: g
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}}}
"""


class end_when_test(unittest.TestCase):
    def test_a_followed_file_ends_on_its_marker_under_once(self):
        with tempfile.TemporaryDirectory() as d:
            orders = os.path.join(d, "orders.jsonl")
            results = os.path.join(d, "results.jsonl")
            pipeline = os.path.join(d, "ends.yaml")
            with open(pipeline, "w") as f:
                f.write(END_PIPELINE.format(orders=orders, results=results))
            append(orders, lines("orders", 0, 25))
            p = subprocess.Popen([WEIR, "run", "--once", pipeline], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            self.addCleanup(lambda: p.poll() is None and p.kill())
            # A followed file: weir waits for more, and does not end at the file's end.
            time.sleep(1)
            self.assertIsNone(p.poll(), "weir ended before the marker")
            append(orders, lines("orders", 25, 30) +
                   json.dumps({"ts": B + 30, "kind": "end"}) + "\n" + lines("orders", 31, 40))
            _, err = p.communicate(timeout=WAIT_S)
            self.assertEqual(p.returncode, 0, err)
            self.assertIn('input "orders" ended its stream', err)
            out = sorted(read_complete_jsonl(results), key=lambda r: r["window_start"])
            # The marker and what follows it are not measured: three windows of 10.
            self.assertEqual([r["value"] for r in out], [10, 10, 10])

    def test_a_generator_without_count_ends_on_its_marker_under_once(self):
        # Without end_when, --once refuses a generator without count (it never ends).
        with tempfile.TemporaryDirectory() as d:
            results = os.path.join(d, "results.jsonl")
            pipeline = os.path.join(d, "gen.yaml")
            with open(pipeline, "w") as f:
                f.write(GENERATOR_PIPELINE.format(results=results))
            rc, _, err = weir("run", "--once", pipeline, timeout=120)
            self.assertEqual(rc, 0, err)
            self.assertIn('input "g" ended its stream', err)
            out = read_complete_jsonl(results)
            self.assertGreater(len(out), 0)
            self.assertTrue(all(r["value"] > 0 for r in out))
            with open(pipeline, "w") as f:
                f.write(GENERATOR_PIPELINE.format(results=results).replace(
                    "    end_when: 'v == 999'\n", ""))
            rc, _, err = weir("run", "--once", pipeline, timeout=120)
            self.assertNotEqual(rc, 0, err)
            self.assertIn("never ends, so --once cannot finish", err)

    def test_end_when_must_be_a_boolean_expression(self):
        with tempfile.TemporaryDirectory() as d:
            pipeline = os.path.join(d, "bad.yaml")
            with open(pipeline, "w") as f:
                f.write(END_PIPELINE.format(orders=os.path.join(d, "o.jsonl"),
                                            results=os.path.join(d, "r.jsonl"))
                        .replace("""'kind == "end"'""", "'kind +'"))
            rc, _, err = weir("validate", pipeline)
            self.assertEqual(rc, 78, err)
            self.assertIn("inputs.orders.end_when", err)


if __name__ == "__main__":
    unittest.main()
