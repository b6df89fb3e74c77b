"""/health stays quick while the daemon does heavy work with a single loop thread (--threads 1):
the work adds less than 50 ms to its p99 during a SIGHUP reload of 100 pipeline files and during
checkpoints of a 50 MB query state. The latency of each request is counted from the moment it was
due, so a loop that stalls counts once for every request it held up, not once in all.

The bound is on what the work adds to the p99 of an idle daemon on the same machine: CI shares
its cores, and under ASan with a build beside it an idle /health alone has a p99 of tens of ms.
The idle p99 is the larger of the same daemon's just before the work and that of a second, idle
daemon polled during the work: a machine that gets busier while the work runs (other tests, a
build) slows both daemons' answers alike. A loop held up by the work (the defect this guards
against) adds the length of the reload or the checkpoint, hundreds of ms to seconds, to the
working daemon's answers only."""
import json
import os
import signal
import socket
import tempfile
import threading
import time
import unittest

from weir_test_util import http_get, log_excerpt, wait_for, weir_process

P99_BOUND_S = 0.050  # added to the p99 of the idle daemon
IDLE_S = 3.0  # the baseline's length: 300 requests
PERIOD_S = 0.010  # one /health request due every 10 ms
WORKERS = 5  # each sends every 50 ms
# Both daemons (the working one and the idle one beside it) run at this priority where the test
# may raise it (as root, as in CI): on a machine whose cores other processes keep busy (a build,
# other tests), a daemon that works is otherwise preempted by them for tens of ms at a time,
# which the idle one, asleep between requests, is not; the p99 then measures the machine rather
# than what the work does to the loop. Work that holds the loop still adds its whole length.
DAEMON_NICE = -10

# One of the 100 pipelines of the reload: a followed file (idle once read, so that the loop's
# only other work is the reload and the requests), a grouped node and a file output. The reload
# changes every window size, so every query stops with a checkpoint and starts anew from it.
SMALL = """
pipeline: p{index:03d}
inputs:
  readings: {{type: file, path: "{data}", follow: true}}
nodes:
  quality:
    from: readings
    time: {{field: ts}}
    window: {{type: tumbling, size: {window}}}
    group_by: [group]
    checks:
      - {{name: volume, measure: count(), must_be: "> 1"}}
      - {{name: level, measure: mean(value), must_be: ">= 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: "{results}"}}
"""
READINGS = "".join(f'{{"ts":"2026-11-20T10:00:{i:02d}Z","group":"g{i % 3}","value":{i}}}\n'
                   for i in range(20))

# One query whose open window holds GROUPS groups with long keys: its checkpoint is >= 50 MB.
# Every record is in one day-long window that never closes, so the state stays while the
# checkpoints are measured; the input is read to its end at start and then sits idle.
BIG = """
pipeline: big
inputs:
  records: {{type: file, path: "{records}", follow: true}}
nodes:
  keys:
    from: records
    time: {{field: ts}}
    window: {{type: tumbling, size: 1d}}
    group_by: [key]
    max_groups: 1000000
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
      - {{name: level, measure: median(v), must_be: ">= 0"}}
"""
GROUPS = 300_000
CHECKPOINT_MIN_BYTES = 50 * 1000 * 1000


def health_once(port, timeout=5.0):
    """GET /health on a fresh connection; the status code, or None when it failed."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            data = b""
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    return int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else None


class health_poller:
    """Requests /health every PERIOD_S on a fresh connection and keeps (due time, latency,
    status), the latency counted from the moment the request was due. The requests are spread
    over WORKERS threads in turn, so one slow answer does not hold up the next few (the load
    stays the same whatever the latency), while a stalled loop counts for every request it
    held up."""

    def __init__(self, port):
        self.port = port
        self.samples = []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self.run, args=(k,), daemon=True)
                        for k in range(WORKERS)]

    def run(self, k):
        due = self.start + k * PERIOD_S
        while not self.stopped.is_set():
            now = time.monotonic()
            if now < due:
                time.sleep(due - now)
            code = health_once(self.port)
            self.samples.append((due, time.monotonic() - due, code))
            due += WORKERS * PERIOD_S

    def __enter__(self):
        self.start = time.monotonic()
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        for t in self.threads:
            t.join(timeout=30)

    def between(self, start, end):
        return [(latency, code) for due, latency, code in list(self.samples)
                if start <= due <= end]


def summary(test, what, samples):
    """p50/p99/max in ms of `samples` (latency, code), printed; asserts every answer was 200."""
    test.assertGreater(len(samples), 100, f"{what}: too few samples to measure a p99")
    test.assertTrue(all(code == 200 for _, code in samples),
                    f"{what}: /health did not always answer 200: "
                    f"{sorted(set(code for _, code in samples), key=str)}")
    latencies = sorted(latency for latency, _ in samples)
    p50 = latencies[len(latencies) // 2]
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"\n{what}: /health over {len(latencies)} requests: p50 {p50 * 1000:.1f} ms, "
          f"p99 {p99 * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms", flush=True)
    return p99


def idle_p99(test, port, what):
    """The p99 of /health over IDLE_S with the daemon idle, as a baseline."""
    with health_poller(port) as poller:
        start = time.monotonic()
        time.sleep(IDLE_S)
        end = time.monotonic()
    return summary(test, f"{what}, idle", poller.between(start, end))


class daemon(weir_process):
    """weir run --threads 1 in `tmp`, its HTTP server found, at a higher scheduling priority
    (DAEMON_NICE) where the test may set it."""

    def __init__(self, test, tmp, paths):
        super().__init__(test, tmp, ["--threads", "1", *paths], nice=DAEMON_NICE)
        self.wait_port(60)
        self.base = f"http://127.0.0.1:{self.port}"

    def status(self):
        code, body = http_get(self.base + "/api/v1/status", timeout=10)
        return json.loads(body) if code == 200 else {"queries": []}


def control_daemon(test, tmp):
    """An idle daemon like the working one (--threads 1), in tmp/control: one of the reload's
    pipelines on a file that stays empty."""
    home = os.path.join(tmp, "control")
    os.mkdir(home)
    data = os.path.join(home, "readings.jsonl")
    open(data, "w").close()
    pipeline = os.path.join(home, "control.yaml")
    with open(pipeline, "w") as f:
        f.write(SMALL.format(index=0, window="10s", data=data,
                             results=os.path.join(home, "results.jsonl")))
    return daemon(test, home, [pipeline])


def added_p99(test, what, work, control, idle):
    """The p99 of `work` (samples of the working daemon) over the larger of `idle` (its p99 just
    before) and the p99 of `control` (samples of the idle daemon over the same time)."""
    p99 = summary(test, what, work)
    beside = summary(test, f"{what}: the idle daemon meanwhile", control)
    return p99 - max(idle, beside)


class health_latency_test(unittest.TestCase):
    def test_a_reload_of_100_pipelines_adds_under_50ms_to_the_health_p99(self):
        with tempfile.TemporaryDirectory() as tmp:
            pipelines = os.path.join(tmp, "pipelines.d")
            os.mkdir(pipelines)

            data = os.path.join(tmp, "readings.jsonl")
            with open(data, "w") as f:
                f.write(READINGS)

            def write_all(window):
                for i in range(100):
                    with open(os.path.join(pipelines, f"p{i:03d}.yaml"), "w") as f:
                        f.write(SMALL.format(index=i, window=window, data=data,
                                             results=os.path.join(tmp, f"results-{i}.jsonl")))
            write_all("10s")
            # No periodic checkpoints: 100 queries started together would write theirs together,
            # which is not what this test measures (the reload's own stops write one each).
            with open(os.path.join(pipelines, "weir.yaml"), "w") as f:
                f.write("checkpoint: {interval: 1h}\n")
            d = daemon(self, tmp, [pipelines])

            def all_running():
                queries = d.status()["queries"]
                return len(queries) == 100 and all(q["state"] == "running" for q in queries)
            wait_for(all_running, 120, "100 queries running")

            control = control_daemon(self, tmp)
            idle = idle_p99(self, d.port, "100 pipelines")
            # Three reloads, each of every file, for enough requests to make a p99.
            phases = []
            with health_poller(d.port) as poller, health_poller(control.port) as beside:
                for n, window in enumerate(["20s", "10s", "20s"], start=1):
                    write_all(window)
                    start = time.monotonic()
                    d.proc.send_signal(signal.SIGHUP)
                    wait_for(lambda: d.log_text().count("reload done") == n, 120, f"reload {n}")
                    # Seldom: the status of 100 queries is itself work for the loop.
                    wait_for(all_running, 120, "the 100 new queries running", interval=0.5)
                    phases.append((start, time.monotonic()))
            log = d.log_text()
            self.assertEqual(
                log.count("reload: 0 queries kept, 100 restarted, 0 removed, 0 added"), 3, log)
            self.assertNotIn("reload failed", log)
            added = added_p99(
                self, "reloads of 100 pipelines (" +
                ", ".join(f"{end - start:.1f} s" for start, end in phases) + ")",
                [s for start, end in phases for s in poller.between(start, end)],
                [s for start, end in phases for s in beside.between(start, end)], idle)
            self.assertEqual(d.stop(), 0, log_excerpt(d.log_text()))
            self.assertEqual(control.stop(), 0, log_excerpt(control.log_text()))
            self.assertLess(added, P99_BOUND_S)

    def test_checkpoints_of_a_50mb_state_add_under_50ms_to_the_health_p99(self):
        with tempfile.TemporaryDirectory() as tmp:
            records = os.path.join(tmp, "records.jsonl")
            open(records, "w").close()  # the records come after the baseline
            pad = "x" * 100  # long keys: a large state from few records
            settings = os.path.join(tmp, "weir.yaml")
            with open(settings, "w") as f:
                f.write("checkpoint: {interval: 1s}\n")
            pipeline = os.path.join(tmp, "big.yaml")
            with open(pipeline, "w") as f:
                f.write(BIG.format(records=records))
            d = daemon(self, tmp, [settings, pipeline])
            checkpoint = os.path.join(tmp, "data", "checkpoints", "big", "keys.ckpt")

            def query():
                [q] = d.status()["queries"]
                return q
            wait_for(lambda: query().get("state") == "running", 60, "the query running")
            control = control_daemon(self, tmp)
            # The baseline: the same daemon, its state empty, so its checkpoints are small.
            idle = idle_p99(self, d.port, "an empty state")
            with open(records, "a") as f:
                for i in range(GROUPS):
                    f.write(f'{{"ts":"2026-11-20T10:{i // 60000 % 60:02d}:{i // 1000 % 60:02d}.'
                            f'{i % 1000:03d}Z","key":"{pad}{i:07d}","v":{i % 997}}}\n')
            wait_for(lambda: query().get("input_records") == GROUPS, 180, "every record read")
            wait_for(lambda: os.path.exists(checkpoint) and
                     os.path.getsize(checkpoint) >= CHECKPOINT_MIN_BYTES, 120,
                     "a checkpoint of the whole state")

            with health_poller(d.port) as poller, health_poller(control.port) as beside:
                start = time.monotonic()
                first = query()["checkpoints"]
                wait_for(lambda: query()["checkpoints"] >= first + 4, 180, "4 more checkpoints",
                         interval=0.25)
                end = time.monotonic()
            size = os.path.getsize(checkpoint)
            self.assertGreaterEqual(size, CHECKPOINT_MIN_BYTES)
            added = added_p99(self, f"checkpoints of a {size / 1e6:.0f} MB state "
                                    f"({end - start:.1f} s)", poller.between(start, end),
                              beside.between(start, end), idle)
            self.assertEqual(d.stop(), 0, log_excerpt(d.log_text()))
            self.assertEqual(control.stop(), 0, log_excerpt(control.log_text()))
            self.assertLess(added, P99_BOUND_S)


if __name__ == "__main__":
    unittest.main()
