"""`weir status` (and `weir top`, `weir tap`) without --url asks where the daemon listens: http.listen of the settings file
(weir.yaml) among the paths given, found as `weir run` finds it (the file itself or a directory
holding it); --url still wins, an address nobody listens on is named, and port 0 is refused
(the mapping of wildcard addresses to loopback is a unit test: the tests bind loopback only)."""
import os
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, free_port, http_get, wait_for

PIPELINE = """
pipeline: sensors
inputs:
  readings: {type: generator, seed: 5, rate: 50, time_step: 100ms, groups: 2,
             start_time: "2026-11-20T10:00:00Z"}
nodes:
  quality:
    from: readings
    time: {field: ts}
    window: {type: tumbling, size: 5s}
    checks:
      - {name: volume, measure: count(), must_be: "> 1"}
    outputs: [results]
outputs:
  results: {type: file, path: RESULTS}
"""


def clean_env():
    """The environment without the addresses the test harness sets, so the settings file is
    what tells weir (and `weir status`) the address."""
    env = dict(os.environ)
    for var in ("WEIR_HTTP_LISTEN", "WEIR_STATUS_URL"):
        env.pop(var, None)
    return env


def status(*args, timeout=30):
    return subprocess.run([WEIR, "status", *args], capture_output=True, text=True,
                          timeout=timeout, env=clean_env())


class status_settings_test(unittest.TestCase):
    def test_status_asks_http_listen_of_the_settings_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            conf = os.path.join(tmp, "etc")
            os.makedirs(os.path.join(conf, "pipelines.d"))
            port = free_port()
            with open(os.path.join(conf, "weir.yaml"), "w") as f:
                f.write(f"http:\n  listen: 127.0.0.1:{port}\ndata_dir: {tmp}/data\n")
            with open(os.path.join(conf, "pipelines.d", "sensors.yaml"), "w") as f:
                f.write(PIPELINE.replace("RESULTS", os.path.join(tmp, "results.jsonl")))
            with open(os.path.join(tmp, "weir.log"), "w") as log:
                daemon = subprocess.Popen(
                    [WEIR, "run", os.path.join(conf, "weir.yaml"),
                     os.path.join(conf, "pipelines.d")],
                    stdout=subprocess.DEVNULL, stderr=log, env=clean_env())
            try:
                base = f"http://127.0.0.1:{port}"
                wait_for(lambda: http_get(base + "/ready")[0] == 200, 30, "readiness")
                # The settings file named, and the directory holding it, as run takes them.
                for paths in ([os.path.join(conf, "weir.yaml")], [conf],
                              [os.path.join(conf, "pipelines.d"), conf]):
                    out = status(*paths)
                    self.assertEqual(out.returncode, 0, (paths, out.stderr))
                    self.assertIn("sensors", out.stdout)
                    self.assertIn("quality", out.stdout)
                # weir top and weir tap find the daemon the same way.
                out = subprocess.run([WEIR, "top", "--once", "--interval", "0.2", conf],
                                     capture_output=True, text=True, timeout=60,
                                     env=clean_env())
                self.assertEqual(out.returncode, 0, out.stderr)
                self.assertIn("quality", out.stdout)
                out = subprocess.run([WEIR, "tap", "sensors/quality", conf, "--limit", "1"],
                                     capture_output=True, text=True, timeout=60,
                                     env=clean_env())
                # Taps are off in this settings file: refused by the daemon, which was found.
                self.assertEqual(out.returncode, 1, out.stderr)
                self.assertIn("http.tap", out.stderr)
                # --url still wins over the settings file.
                out = status("--url", "http://127.0.0.1:1", conf)
                self.assertEqual(out.returncode, 1)
                self.assertIn("127.0.0.1:1", out.stderr)
            finally:
                daemon.terminate()
                try:
                    daemon.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
            with open(os.path.join(tmp, "weir.log")) as log:
                self.assertEqual(daemon.returncode, 0, log.read())

    def test_an_address_nobody_listens_on_is_named(self):
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            with open(os.path.join(tmp, "weir.yaml"), "w") as f:
                f.write(f"http: {{listen: '127.0.0.1:{port}'}}\n")
            out = status(tmp)
            self.assertEqual(out.returncode, 1)
            self.assertIn(f"127.0.0.1:{port}", out.stderr)

    def test_port_0_says_to_use_url(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "weir.yaml")
            with open(path, "w") as f:
                f.write("http: {listen: '127.0.0.1:0'}\n")
            out = status(path)
            self.assertEqual(out.returncode, 64)
            self.assertIn("--url", out.stderr)
            self.assertIn(path, out.stderr)


if __name__ == "__main__":
    unittest.main()
