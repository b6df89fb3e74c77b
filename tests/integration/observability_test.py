"""Observability of the real daemon: /ready and /health across start-up and shutdown, /health
latency under full load, misbehaving HTTP clients on raw sockets, a clean /metrics exposition,
`weir status` with failing checks, the log's formats and levels, and secrets kept out of logs."""
import collections
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from weir_test_util import WEIR, free_port, log_excerpt, wait_for, weir_process

# A grouped node whose state (distinct sets, quantile sketches of 2000 groups in a day-long
# window) makes a checkpoint of a few MB: restoring and writing it takes long enough, even in a
# release build, for /ready to be seen answering 503 at start and at shutdown.
BIG_STATE = """
pipeline: big
inputs:
  sensors: {{type: generator, seed: 2, rate: 0, time_step: 1ms, groups: 2000,
            start_time: "2026-11-20T10:00:00Z",
            fields: {{reading: {{type: integer, min: 0, max: 1000000000}}}}}}
nodes:
  distinct:
    from: sensors
    critical: true  # /ready waits for critical nodes only
    time: {{field: ts}}
    window: {{type: tumbling, size: 1d}}
    group_by: [group]
    checks: [{{name: values, measure: distinct_count(reading), must_be: "> 0"}},
             {{name: p50, measure: median(reading), must_be: "> 0"}}]
    outputs: [results]
outputs:
  results: {{type: file, path: {results}}}
"""

# Paced and windowed so that results keep arriving every few hundred ms.
STEADY = """
pipeline: steady
inputs:
  sensors: {{type: generator, seed: 1, rate: {rate}, time_step: 10ms, groups: 3,
            start_time: "2026-11-20T10:00:00Z"}}
nodes:
  quality:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 1s}}
    group_by: [group]
    checks:
      - {{name: volume, measure: count(), must_be: "> 10"}}
      - {{name: impossible, measure: count(), must_be: "> 1000000"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}}}
"""


# Ends by itself (--once) after 500 records.
BOUNDED = """
pipeline: bounded
inputs:
  sensors: {type: generator, seed: 1, rate: 0, count: 500, time_step: 10ms,
            start_time: "2026-11-20T10:00:00Z"}
nodes:
  quality:
    from: sensors
    time: {field: ts}
    window: {type: tumbling, size: 1s}
    checks: [{name: volume, measure: count(), must_be: "> 10"}]
"""


def request(port, path, timeout=2.0, raw=None):
    """One request on a fresh connection: (status, body), or (None, reason) when the connection
    was refused, reset or closed without an answer."""
    data = raw if raw is not None else (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(data)
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except ConnectionRefusedError:
        return None, "refused"
    except (ConnectionResetError, BrokenPipeError):
        return None, "reset"
    except socket.timeout:
        return None, "timeout"
    text = b"".join(chunks)
    m = re.match(rb"HTTP/1\.[01] (\d{3}) ", text)
    if not m:
        return None, "closed" if not text else "garbled"
    return int(m.group(1)), text.split(b"\r\n\r\n", 1)[-1].decode(errors="replace")


def line_count(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for _ in f)
    except FileNotFoundError:
        return 0


class daemon(weir_process):
    """A weir run of `config_text` (written to tmp/NAME); stop() sends SIGTERM and returns the
    exit code."""

    def __init__(self, test, tmp, config_text, args=(), listen="127.0.0.1:0", env=None,
                 name="p.yaml"):
        self.tmp = tmp
        self.config = os.path.join(tmp, name)
        with open(self.config, "w") as f:
            f.write(config_text)
        super().__init__(test, tmp, [*args, self.config], listen=listen, env=env)

    def status(self):
        code, body = request(self.port, "/api/v1/status")
        return json.loads(body) if code == 200 else None

    def stop(self, timeout=60):
        return super().stop(timeout)


class ready_and_health_test(unittest.TestCase):
    def test_ready_goes_503_to_200_at_start_and_200_to_503_at_shutdown(self):
        with tempfile.TemporaryDirectory() as tmp:
            config = BIG_STATE.format(results=os.path.join(tmp, "results.jsonl"))
            # A first run builds the state and leaves it in the final checkpoint.
            first = daemon(self, tmp, config, args=["--threads", "2"])
            first.wait_port()
            wait_for(lambda: (first.status() or {"queries": [{}]})["queries"][0]
                     .get("input_records", 0) >= 150000, 120, "150000 records")
            self.assertEqual(first.stop(), 0, log_excerpt(first.log_text()))
            checkpoint = os.path.join(tmp, "data", "checkpoints", "big", "distinct.ckpt")
            self.assertGreater(os.path.getsize(checkpoint), 500000)

            # The second run restores it: not ready until then. The port is chosen up front so
            # that polling starts before weir listens.
            port = free_port()
            seen = []  # (monotonic time, status or None)
            stop_polling = threading.Event()

            def poll():
                while not stop_polling.is_set():
                    code, _ = request(port, "/ready", timeout=5)
                    seen.append((time.monotonic(), code))
                    if code is None:
                        time.sleep(0.002)

            poller = threading.Thread(target=poll)
            second = daemon(self, tmp, config, args=["--threads", "2"],
                            listen=f"127.0.0.1:{port}")
            poller.start()
            try:
                wait_for(lambda: any(c == 200 for _, c in seen), 60, "/ready 200")
                time.sleep(0.3)
                signalled = time.monotonic()
                rc = second.stop()
            finally:
                stop_polling.set()
                poller.join(timeout=30)
            self.assertEqual(rc, 0, log_excerpt(second.log_text()))
            self.assertIn("resumed from", second.log_text())

            # Refused until listening, then 503 while restoring, 200 while running, 503 while
            # stopping, and refused (or closed) once gone; never back.
            codes = [c for _, c in seen]
            shape = "".join("x" if c is None else {503: "n", 200: "y"}.get(c, "?")
                            for c in codes)
            compressed = re.sub(r"(.)\1+", r"\1", shape)
            self.assertRegex(compressed, r"^x?ny(nx?|x)$", shape[:200] + "…" + shape[-200:])
            self.assertIn("n", compressed[:3], "503 while the checkpoint was being restored")
            before = [c for t, c in seen if t < signalled]
            after = [c for t, c in seen if t > signalled + 0.001]
            self.assertEqual(before[-1], 200)
            self.assertIn(503, after, "503 between the signal and the exit")
            self.assertNotIn(200, after[after.index(503):])

    def test_health_answers_within_50ms_p99_while_a_generator_runs_flat_out(self):
        with tempfile.TemporaryDirectory() as tmp:
            results = os.path.join(tmp, "results.jsonl")
            d = daemon(self, tmp, STEADY.format(rate=0, results=results),
                       args=["--threads", "2"])
            port = d.wait_port()
            wait_for(lambda: request(port, "/ready")[0] == 200, 30, "readiness")
            records = lambda: d.status()["queries"][0]["input_records"]
            wait_for(lambda: records() > 10000, 30, "records flowing")
            start_records = records()
            latencies = []
            for _ in range(250):
                t = time.monotonic()
                code, _ = request(port, "/health", timeout=5)
                latencies.append(time.monotonic() - t)
                self.assertEqual(code, 200)
            end_records = records()
            latencies.sort()
            p99 = latencies[int(len(latencies) * 0.99) - 1]
            # The generator ran flat out all along: many more records than requests.
            self.assertGreater(end_records - start_records, 10 * len(latencies),
                               (start_records, end_records, d.status(), log_excerpt(d.log_text())))

            # The same scrape Prometheus does: promtool-clean, and no series twice.
            code, text = request(port, "/metrics")
            self.assertEqual(code, 200)
            self.assertEqual(d.stop(), 0, log_excerpt(d.log_text()))
            self.assertLess(p99, 0.050, f"p99 {p99 * 1000:.1f} ms; median "
                                        f"{latencies[len(latencies) // 2] * 1000:.1f} ms")
            assert_clean_exposition(self, text)


def assert_clean_exposition(test, text):
    promtool = shutil.which("promtool")
    test.assertIsNotNone(promtool, "promtool (Debian package prometheus) is needed")
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                           text=True, timeout=30)
    test.assertEqual(check.returncode, 0, check.stdout + check.stderr)
    series = collections.Counter()
    helps, types = set(), set()
    for line in text.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            types.add(line.split()[2])
        elif line and not line.startswith("#"):
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? \S+$", line)
            test.assertIsNotNone(m, line)
            labels = sorted(re.findall(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"', m.group(2) or ""))
            series[(m.group(1), tuple(labels))] += 1
    duplicates = [k for k, n in series.items() if n > 1]
    test.assertEqual(duplicates, [], "duplicate series")
    test.assertGreater(len(series), 20)
    test.assertEqual(types - helps, set(), "families without HELP")
    for family in ("weir_check_results_total", "weir_check_failing", "weir_node_up",
                   "weir_window_emit_delay_seconds", "process_resident_memory_bytes"):
        test.assertIn(family, types)


class misbehaving_clients_test(unittest.TestCase):
    def test_raw_socket_abuse_is_answered_or_closed_while_results_keep_coming(self):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = 4096 if hard == resource.RLIM_INFINITY else min(hard, 4096)
        if soft < wanted:
            # Inherited by weir: 1000 connections need more than the usual 1024 descriptors.
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            self.addCleanup(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
        with tempfile.TemporaryDirectory() as tmp:
            results = os.path.join(tmp, "results.jsonl")
            d = daemon(self, tmp, STEADY.format(rate=500, results=results))
            port = d.wait_port()
            wait_for(lambda: line_count(results) > 0, 30, "the first results")
            results_at_start = line_count(results)
            started = time.monotonic()

            # Slow clients: one byte of a header every 100 ms, never finishing. The server
            # closes them at its request timeout (10 s); meanwhile everything else goes on.
            slow_closed = []

            def slow_client():
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                t0 = time.monotonic()
                try:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                    while time.monotonic() - t0 < 20:
                        readable, _, _ = select.select([s], [], [], 0.1)
                        if readable and not s.recv(4096):
                            break
                        s.sendall(b"a")
                except OSError:
                    pass
                slow_closed.append(time.monotonic() - t0)
                s.close()

            slow = [threading.Thread(target=slow_client) for _ in range(3)]
            for t in slow:
                t.start()

            # Garbage, in several shapes.
            for raw in (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
                        b"HELLO WORLD\r\n\r\n",
                        b"GET /health HTTP/1.1\r\nHost x no colon\r\n\r\n",
                        b"GET /health HTTP/1.1\r\nContent-Length: -5\r\n\r\n"):
                self.assertEqual(request(port, None, raw=raw)[0], 400, raw)
            # Huge headers: one long field, and many small ones.
            big = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100000 + b"\r\n\r\n"
            self.assertEqual(request(port, None, raw=big)[0], 431)
            many = (b"GET /health HTTP/1.1\r\nHost: x\r\n" +
                    b"".join(b"X-H%d: v\r\n" % i for i in range(2000)) + b"\r\n")
            self.assertEqual(request(port, None, raw=many)[0], 431)
            # A body where none is taken, announced larger than any limit.
            body = (b"POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n" +
                    b"b" * 65536)
            self.assertEqual(request(port, None, raw=body)[0], 413)
            # Truncated: the client stops mid-request and says so (half-close). Closed at once,
            # without an answer, rather than at the timeout.
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Cut: abc")
                s.shutdown(socket.SHUT_WR)
                t0 = time.monotonic()
                self.assertEqual(s.recv(4096), b"")
                self.assertLess(time.monotonic() - t0, 2)

            # 1000 connections open at once, then a request on each.
            n = 1000
            conns = []
            for _ in range(n):
                c = socket.create_connection(("127.0.0.1", port), timeout=10)
                conns.append(c)
            health_meanwhile = request(port, "/health")[0]
            for c in conns:
                c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answers = collections.Counter()
            pending = {c.fileno(): (c, bytearray()) for c in conns}
            deadline = time.monotonic() + 30
            while pending and time.monotonic() < deadline:
                readable, _, _ = select.select(list(pending), [], [], 1)
                for fd in readable:
                    c, buf = pending[fd]
                    try:
                        chunk = c.recv(65536)
                    except ConnectionResetError:
                        chunk = b""
                        buf.clear()
                    if chunk:
                        buf += chunk
                        continue
                    m = re.match(rb"HTTP/1\.1 (\d{3}) ", bytes(buf))
                    answers[int(m.group(1)) if m else "closed"] += 1
                    del pending[fd]
                    c.close()
            for c, _ in pending.values():
                c.close()
            self.assertEqual(len(pending), 0, "connections neither answered nor closed")
            # Below the server's limit of 1024 connections: every one is served.
            self.assertEqual(dict(answers), {200: n})
            self.assertEqual(health_meanwhile, 200)

            for t in slow:
                t.join(timeout=30)
            self.assertEqual(len(slow_closed), 3)
            for elapsed in slow_closed:
                self.assertGreater(elapsed, 9)
                self.assertLess(elapsed, 15)
            # Still healthy, and results kept coming all along.
            t0 = time.monotonic()
            self.assertEqual(request(port, "/health")[0], 200)
            self.assertLess(time.monotonic() - t0, 1)
            elapsed = time.monotonic() - started
            # 5 windows a second of wall-clock time, 2 checks of 3 groups each.
            self.assertGreater(line_count(results) - results_at_start, elapsed * 5 * 6 * 0.5)
            self.assertEqual(d.stop(), 0, log_excerpt(d.log_text()))


class status_and_log_test(unittest.TestCase):
    def test_weir_status_lists_failing_checks(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = daemon(self, tmp, STEADY.format(rate=500, results=os.path.join(tmp, "r.jsonl")))
            port = d.wait_port()
            base = f"http://127.0.0.1:{port}"

            def failing():
                q = (d.status() or {"queries": [{}]})["queries"][0]
                return q.get("failing_checks")
            wait_for(lambda: failing(), 30, "a failing check")
            [f] = failing()
            self.assertEqual((f["node"], f["check"]), ("quality", "impossible"))
            self.assertEqual(f["groups"], 3, f)
            self.assertEqual([g["group"] for g in f["failing_groups"]],
                             [{"group": "g-1"}, {"group": "g-2"}, {"group": "g-3"}], f)
            out = subprocess.run([WEIR, "status", "--url", base], capture_output=True,
                                 text=True, timeout=10)
            self.assertEqual(out.returncode, 0, out.stderr)
            lines = out.stdout.splitlines()
            self.assertEqual(lines[0], "weir: running")
            self.assertRegex(lines[1], r"^PIPELINE\s+QUERY\s+NODES\s+STATE\s+CRITICAL\s+"
                                       r"WATERMARK\s+LAG\s+RECORDS\s+INVALID\s+RESULTS\s+"
                                       r"RESTARTS\s+FAILING$")
            self.assertRegex(lines[2], r"^steady\s+quality\s+quality\s+running\s+no\s+"
                                       r"2026-11-20T\S+\s+-?\d+\.\ds\s+\d+\s+0\s+\d+\s+0\s+"
                                       r"impossible\(3 groups\)$")
            self.assertRegex(lines[3], r"^steady/quality: impossible fails in 3 groups: "
                                       r"group=g-1 \(\d+\), group=g-2 \(\d+\), "
                                       r"group=g-3 \(\d+\)$")
            self.assertEqual(d.stop(), 0)

    def once(self, tmp, config_text, args=(), env=None, settings=None):
        config = os.path.join(tmp, "p.yaml")
        with open(config, "w") as f:
            f.write(config_text)
        paths = [config]
        if settings is not None:
            path = os.path.join(tmp, "weir.yaml")
            with open(path, "w") as f:
                f.write(settings)
            paths.insert(0, path)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("WEIR_LOG_")}
        full_env["WEIR_HTTP_LISTEN"] = "127.0.0.1:0"
        full_env.update(env or {})
        p = subprocess.run([WEIR, "run", "--once", "--fail-on", "never", "--data-dir",
                            tempfile.mkdtemp(dir=tmp),
                            *args, *paths],
                           capture_output=True, text=True, timeout=60, env=full_env)
        self.assertEqual(p.returncode, 0, log_excerpt(p.stderr))
        # The log lines: the summary of --once follows them, its lines starting "weir: ".
        self.assertIn("weir: --once: ", p.stderr)
        return [line for line in p.stderr.splitlines() if line and not line.startswith("weir: ")]

    def test_log_format_and_level_from_settings_env_and_flags(self):
        bounded = BOUNDED
        text_line = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (info|warning) \S")

        def is_json(lines):
            for line in lines:
                j = json.loads(line)
                # The base keys, and where they apply the fields of what the line is about.
                self.assertLessEqual({"ts", "level", "logger", "msg"}, set(j), line)
                self.assertLessEqual(set(j), {"ts", "level", "logger", "msg", "pipeline",
                                              "query", "node", "input", "error_type"}, line)
                self.assertRegex(j["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            return bool(lines)

        def is_text(lines):
            return bool(lines) and all(text_line.match(line) for line in lines)

        with tempfile.TemporaryDirectory() as tmp:
            self.assertTrue(is_text(self.once(tmp, bounded)))
            self.assertTrue(is_json(self.once(tmp, bounded, args=["--log-format", "json"])))
            settings = "log: {format: json, level: info}\n"
            self.assertTrue(is_json(self.once(tmp, bounded, settings=settings)))
            # The environment beats the settings file; a flag beats the environment.
            self.assertTrue(is_text(self.once(tmp, bounded, settings=settings,
                                              env={"WEIR_LOG_FORMAT": "text"})))
            self.assertTrue(is_json(self.once(tmp, bounded, args=["--log-format", "json"],
                                              env={"WEIR_LOG_FORMAT": "text"})))
            # Levels: warn hides the info lines of a clean run, from each source.
            no_info = lambda lines: not any(" info " in line for line in lines)
            self.assertTrue(no_info(self.once(tmp, bounded, settings="log: {level: warn}\n")))
            self.assertTrue(no_info(self.once(tmp, bounded, env={"WEIR_LOG_LEVEL": "warn"})))
            self.assertTrue(is_text(self.once(tmp, bounded, args=["--log-level", "info"],
                                              env={"WEIR_LOG_LEVEL": "warn"},
                                              settings="log: {level: error}\n")))
            lines = self.once(tmp, bounded, args=["--log-format", "json"])
            self.assertIn("query bounded/quality finished: 500 records",
                          "\n".join(json.loads(line)["msg"] for line in lines))
            # An invalid value is a usage error, before anything starts.
            p = subprocess.run([WEIR, "run", "--log-format", "xml", "x.yaml"],
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(p.returncode, 64, p.stderr)


SECRET = "hunter2-s3cr3t-value"


class secrets_test(unittest.TestCase):
    """Values of variables whose names say they are secrets never appear in logs or
    diagnostics."""

    def test_validate_and_a_failed_reload_never_show_secrets(self):
        env = dict(os.environ, BAD_SIZE_SECRET=SECRET, BAD_URL_TOKEN="ftp://" + SECRET)
        with tempfile.TemporaryDirectory() as tmp:
            bad = STEADY.format(rate=10, results=os.path.join(tmp, "r.jsonl")).replace(
                "size: 1s", "size: \"${BAD_SIZE_SECRET}\"").replace(
                "outputs:\n  results:",
                "outputs:\n  hook: {type: http, url: \"${BAD_URL_TOKEN}\"}\n  results:").replace(
                "outputs: [results]", "outputs: [results, hook]")
            path = os.path.join(tmp, "bad.yaml")
            with open(path, "w") as f:
                f.write(bad)
            for fmt in ("text", "json"):
                p = subprocess.run([WEIR, "validate", "--format", fmt, path],
                                   capture_output=True, text=True, timeout=30, env=env)
                self.assertEqual(p.returncode, 78, p.stdout + p.stderr)
                self.assertIn("window.size", p.stdout + p.stderr)
                self.assertNotIn(SECRET, p.stdout + p.stderr)

            # The same errors in a reload: logged, the old configuration stays.
            good = STEADY.format(rate=10, results=os.path.join(tmp, "r.jsonl"))
            d = daemon(self, tmp, good, env={"BAD_SIZE_SECRET": SECRET,
                                             "BAD_URL_TOKEN": "ftp://" + SECRET,
                                             "WEIR_LOG_FORMAT": "json"})
            d.wait_port()
            with open(d.config, "w") as f:
                f.write(bad)
            d.proc.send_signal(signal.SIGHUP)
            wait_for(lambda: "reload failed" in d.log_text(), 30, "the failed reload")
            self.assertEqual(d.stop(), 0)
            log = d.log_text()
            self.assertIn("window.size", log)
            self.assertNotIn(SECRET, log)

    # Connectors quote paths and URLs in their errors; values of secret variables show as
    # "***" in every log line and in what weir prints itself.
    def test_runtime_errors_of_connectors_never_show_secrets(self):
        with tempfile.TemporaryDirectory() as tmp:
            config = f"""
pipeline: leaks
inputs:
  sensors: {{type: generator, seed: 1, rate: 100, time_step: 100ms,
            start_time: "2026-11-20T10:00:00Z"}}
  missing: {{type: file, path: "{tmp}/no-${{SECRET_TOKEN}}.jsonl"}}
nodes:
  quality:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 1s}}
    checks: [{{name: volume, measure: count(), must_be: "> 1000"}}]
    outputs: [hook]
  other:
    from: missing
    time: processing
    window: {{type: tumbling, size: 1s}}
    checks: [{{name: volume, measure: count(), must_be: "> 1000"}}]
outputs:
  hook: {{type: http, url: "http://127.0.0.1:1/hook/${{SECRET_TOKEN}}", retries: 0}}
"""
            d = daemon(self, tmp, config, env={"SECRET_TOKEN": SECRET})
            d.wait_port()
            wait_for(lambda: "failed" in d.log_text(), 30, "a connector error")
            time.sleep(2)
            d.stop()
            self.assertNotIn(SECRET, d.log_text())


if __name__ == "__main__":
    unittest.main()
