"""`weir tap` and `weir top` against a running daemon: records and results of a node as JSON
lines, refusals with a reason (taps off, no such node), a reader that does not read does not
stall the daemon, the ends (--limit, Ctrl-C, a closed pipe, the daemon stopping), and one
snapshot of `weir top`."""
import datetime
import json
import os
import pty
import re
import select
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from weir_test_util import WEIR, http_get, wait_for, weir, weir_process

PIPELINE = """
pipeline: live
inputs:
  sensors: {type: generator, seed: 7, rate: 200, groups: 3}
nodes:
  quality:
    from: sensors
    time: {field: ts}
    window: {type: tumbling, size: 1s}
    checks:
      - {name: volume, measure: count(), must_be: "> 0"}
      - {name: too_cold, measure: min(temperature), must_be: "> 100"}
"""


class live_views_test(unittest.TestCase):
    def start(self, settings="http: {tap: true}\n", env=None):
        tmp = tempfile.mkdtemp(prefix="weir-live-")
        self.tmp = tmp
        with open(os.path.join(tmp, "live.yaml"), "w") as f:
            f.write(PIPELINE)
        paths = [os.path.join(tmp, "live.yaml")]
        if settings is not None:
            with open(os.path.join(tmp, "weir.yaml"), "w") as f:
                f.write(settings)
            paths.append(os.path.join(tmp, "weir.yaml"))
        d = weir_process(self, tmp, paths, env=env)
        port = d.wait_port()
        self.url = f"http://127.0.0.1:{port}"
        wait_for(lambda: http_get(self.url + "/ready")[0] == 200, 60, "weir to be ready")
        return d

    def tap(self, *args, timeout=60):
        return weir("tap", *args, "--url", self.url, timeout=timeout)

    def popen_tap(self, *args):
        p = subprocess.Popen([WEIR, "tap", *args, "--url", self.url], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        def cleanup():
            if p.poll() is None:
                p.kill()
                p.wait()
            for f in (p.stdout, p.stderr):
                if not f.closed:
                    f.close()
        self.addCleanup(cleanup)
        return p

    def test_tap_prints_records_of_a_running_node(self):
        self.start()
        rc, out, err = self.tap("live/quality", "--limit", "5")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 5, out)
        for line in lines:
            record = json.loads(line)
            self.assertIn("ts", record)
            self.assertIn("temperature", record)
            self.assertRegex(record["group"], r"^g-[123]$")
        # One record a second of 200: the rest are dropped, and weir tap says so.
        rc, out, err = self.tap("live/quality", "--rate", "1", "--limit", "2")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), 2, out)
        self.assertRegex(err, r"weir tap: \d+ records dropped \(\d+ in all\): the tap's rate limit")

    def test_tap_sees_the_records_of_a_query_spread_over_lanes(self):
        # The lanes read the records, each on its own strand: the tap takes them from there.
        d = self.start(env={"WEIR_THREADS": "2", "WEIR_SPREAD_PARTITIONS": "1"})
        # Logged as the query starts, which may come after /ready answers on a busy machine.
        wait_for(lambda: "its sources spread over 2 lanes" in d.log_text(), 60,
                 "the query's lanes in the log")
        rc, out, err = self.tap("live/quality", "--limit", "5")
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        self.assertEqual(len(lines), 5, out)
        for line in lines:
            self.assertIn("temperature", json.loads(line))
        rc, out, err = self.tap("live/quality", "--results", "--limit", "2")
        self.assertEqual(rc, 0, err)
        self.assertEqual(len(out.splitlines()), 2, out)

    def test_tap_results_prints_check_results(self):
        self.start()
        rc, out, err = self.tap("live/quality", "--results", "--limit", "4")
        self.assertEqual(rc, 0, err)
        results = [json.loads(line) for line in out.splitlines()]
        self.assertEqual(len(results), 4, out)
        for r in results:
            self.assertEqual((r["pipeline"], r["node"]), ("live", "quality"))
            self.assertIn(r["check"], ("volume", "too_cold"))
        outcomes = {r["check"]: r["outcome"] for r in results}
        if "too_cold" in outcomes:
            self.assertEqual(outcomes["too_cold"], "fail")

    def test_tap_is_refused_unless_the_settings_enable_it(self):
        self.start(settings=None)
        rc, out, err = self.tap("live/quality", "--limit", "1")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "")
        self.assertIn("answered 403", err)
        self.assertIn("http.tap: true", err)

    def test_tap_names_what_it_cannot_tap(self):
        self.start()
        rc, _, err = self.tap("live/nosuch", "--limit", "1")
        self.assertEqual(rc, 1)
        self.assertIn('pipeline "live" has no node "nosuch"', err)
        rc, _, err = self.tap("other/quality", "--limit", "1")
        self.assertEqual(rc, 1)
        self.assertIn('no pipeline "other"', err)
        rc, _, err = self.tap("quality", "--limit", "1")
        self.assertEqual(rc, 64)
        self.assertIn("PIPELINE/NODE", err)

    def test_a_reader_that_does_not_read_does_not_stall_the_daemon(self):
        self.start()
        port = int(self.url.rsplit(":", 1)[1])
        # A tap whose client sends its request and then reads nothing, with a tiny receive
        # buffer; rate=1: what the tap cannot take is dropped and counted at once.
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(30)
        s.connect(("127.0.0.1", port))
        self.addCleanup(s.close)
        s.sendall(b"GET /api/v1/tap?pipeline=live&node=quality&rate=1 HTTP/1.1\r\n"
                  b"Host: 127.0.0.1\r\n\r\n")

        def records():
            status = json.loads(http_get(self.url + "/api/v1/status", timeout=10)[1])
            return status["queries"][0]["input_records"]

        first = records()
        # The query goes on and /health answers while the tap's reader sleeps.
        wait_for(lambda: records() > first + 200, 60, "records to flow past the idle tap")
        for _ in range(5):
            self.assertEqual(http_get(self.url + "/health", timeout=10)[0], 200)
        # Then the reader reads: the first record, and how many were dropped meanwhile.
        data = b""
        deadline = time.monotonic() + 30
        while b"event: dropped" not in data and time.monotonic() < deadline:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        self.assertTrue(data.startswith(b"HTTP/1.1 200 OK\r\n"), data[:200])
        self.assertIn(b"Content-Type: text/event-stream", data)
        self.assertIn(b"event: record\ndata: {", data)
        m = re.search(rb'event: dropped\ndata: \{"dropped":(\d+)', data)
        self.assertIsNotNone(m, data[-500:])
        self.assertGreater(int(m.group(1)), 0)

    def test_tap_ends_cleanly_on_ctrl_c_and_on_a_closed_pipe(self):
        self.start()
        p = self.popen_tap("live/quality")
        self.assertTrue(json.loads(p.stdout.readline()))  # it streams
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=30), 0)

        # `weir tap ... | head -1`: the reader goes; so does weir tap, without a complaint.
        p = self.popen_tap("live/quality")
        self.assertTrue(json.loads(p.stdout.readline()))
        p.stdout.close()
        self.assertEqual(p.wait(timeout=30), 0)
        self.assertNotIn("Broken pipe", p.stderr.read())

    def test_tap_says_when_the_daemon_goes_away(self):
        d = self.start()
        p = self.popen_tap("live/quality")
        self.assertTrue(json.loads(p.stdout.readline()))
        self.assertEqual(d.stop(), 0)
        self.assertEqual(p.wait(timeout=60), 1)
        self.assertIn("closed the stream", p.stderr.read())

    def test_top_once_shows_each_query_with_its_rate(self):
        self.start()
        # A window closed, so the failing check and the lag are known.
        wait_for(lambda: '"too_cold"' in http_get(self.url + "/api/v1/status")[1], 60,
                 "a failing check")
        rc, out, err = weir("top", "--once", "--url", self.url, timeout=60)
        self.assertEqual(rc, 0, err)
        lines = out.splitlines()
        for line in lines:
            self.assertLessEqual(len(line), 100, line)
        self.assertRegex(lines[0], r"^weir: running, 1 query, 1 failing check")
        header = next(i for i, l in enumerate(lines) if l.startswith("QUERY"))
        self.assertEqual(lines[header].split(),
                         ["QUERY", "STATE", "IN/S", "RECORDS", "INVALID", "LAG", "FAIL",
                          "RESTARTS"])
        row = lines[header + 1].split()
        self.assertEqual(row[0], "live/quality")
        self.assertEqual(row[1], "running")
        # About 200 records a second; bounds wide enough for a busy machine.
        self.assertGreater(float(row[2]), 20, out)
        self.assertLess(float(row[2]), 2000, out)
        self.assertRegex(row[5], r"^-?\d+(\.\d)?s$")
        self.assertEqual(row[6], "1")
        self.assertIn("live/quality failing: too_cold", out)
        # Not a terminal: one snapshot, no escape sequences.
        self.assertNotIn("\x1b", out)

    def test_a_tap_follows_its_node_across_a_reload(self):
        d = self.start()
        p = self.popen_tap("live/quality")
        self.assertTrue(json.loads(p.stdout.readline()))
        # A new window size: the query stops and starts anew; the tap stays open.
        with open(os.path.join(self.tmp, "live.yaml"), "w") as f:
            f.write(PIPELINE.replace("size: 1s", "size: 2s"))
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload done" in d.log_text(), 60, "the reload")
        # Records of the restarted query come on the same stream: the generator's event times
        # follow the wall clock, so one stamped after the reload was read after it.
        reloaded_at = datetime.datetime.now(datetime.timezone.utc)
        deadline = time.monotonic() + 60
        while True:
            line = p.stdout.readline()
            self.assertTrue(line, "the tap ended")
            ts = datetime.datetime.fromisoformat(json.loads(line)["ts"].replace("Z", "+00:00"))
            if ts > reloaded_at:
                break
            self.assertLess(time.monotonic(), deadline, "no record after the reload")
        self.assertIsNone(p.poll())
        self.assertIn("reload: restarting query live/quality", d.log_text())

    def test_top_redraws_in_place_on_a_terminal(self):
        self.start()
        master, slave = pty.openpty()
        p = subprocess.Popen([WEIR, "top", "--interval", "0.5", "--url", self.url],
                             stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        self.addCleanup(lambda: p.poll() is None and (p.kill(), p.wait()))
        self.addCleanup(os.close, master)
        seen = b""
        deadline = time.monotonic() + 60
        # Two screens: the first, and a redraw with a rate.
        while seen.count(b"\x1b[H\x1b[2J") < 3 and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                seen += os.read(master, 65536)
        self.assertGreaterEqual(seen.count(b"\x1b[H\x1b[2J"), 3, seen[-2000:])
        self.assertIn(b"live/quality", seen)
        p.send_signal(signal.SIGINT)
        self.assertEqual(p.wait(timeout=30), 0)
        p.stderr.close()

    def test_top_says_when_the_daemon_is_not_there(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        rc, out, err = weir("top", "--once", "--url", f"http://127.0.0.1:{port}", timeout=60)
        self.assertEqual(rc, 1)
        self.assertIn("weir top: cannot reach", err)


if __name__ == "__main__":
    unittest.main()
