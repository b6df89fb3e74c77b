"""Hostile or unlucky input to the real binary: scalars nesting ${VAR:-...} defaults thousands
deep (validate and a reload), SIGHUPs while a large configuration is still loading, and which
values from the environment the daemon hides as secrets and which it shows."""
import os
import signal
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, http_get, log_excerpt, metric_sum, wait_for, weir_process

# A pipeline that runs anywhere, cheaply: a file input following a file nobody writes.
PIPELINE = """
pipeline: {name}
inputs:
  app: {{type: file, path: "{path}", follow: true}}
nodes:
  volume:
    from: app
    time: processing
    window: {{type: tumbling, size: 1m}}
    checks:
      - {{name: records, measure: count(), must_be: "> 0"}}
"""


def nested_defaults(depth, terminated=True):
    return "${A:-" * depth + "/tmp" + ("}" * depth if terminated else "")


def sighup_caught(pid):
    """Whether process `pid` has a handler for SIGHUP (bit 0 of SigCgt)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("SigCgt:"):
                    return int(line.split()[1], 16) & 1 == 1
    except FileNotFoundError:
        pass
    return False


def bytes_read(pid):
    """What process `pid` has read through read() so far (rchar of /proc/PID/io)."""
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                if line.startswith("rchar:"):
                    return int(line.split()[1])
    except (FileNotFoundError, PermissionError):
        pass
    return 0


class deeply_nested_defaults_test(unittest.TestCase):
    """${A:-${A:-...}} 20 000 deep (a 120 KB scalar), closed or not: an error, not a crash."""

    def write(self, tmp, name, value):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(PIPELINE.format(name="deep", path=value))
        return path

    def test_deeply_nested_defaults_are_an_error_of_validate(self):
        with tempfile.TemporaryDirectory() as tmp:
            deep = self.write(tmp, "deep.yaml", nested_defaults(20000))
            p = subprocess.run([WEIR, "validate", deep], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 78, log_excerpt(p.stderr, 2000))
            self.assertIn("references are nested too deeply (more than 32 levels)", p.stderr)

            open_ended = self.write(tmp, "open.yaml", nested_defaults(20000, terminated=False))
            p = subprocess.run([WEIR, "validate", open_ended], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 78, log_excerpt(p.stderr, 2000))
            self.assertIn("unterminated \"${\"", p.stderr)

    def test_deeply_nested_defaults_in_a_reload_keep_the_running_configuration(self):
        with tempfile.TemporaryDirectory() as tmp:
            config = self.write(tmp, "weir-pipeline.yaml", os.path.join(tmp, "in.jsonl"))
            d = weir_process(self, tmp, [config])
            base = f"http://127.0.0.1:{d.wait_port()}"
            wait_for(lambda: http_get(base + "/ready")[0] == 200, 60, "ready")
            for terminated in (True, False):
                self.write(tmp, "weir-pipeline.yaml", nested_defaults(20000, terminated))
                failures = metric_sum(base, "weir_config_reloads_total", result="failure")
                d.proc.send_signal(signal.SIGHUP)
                wait_for(lambda: d.proc.poll() is not None or metric_sum(
                    base, "weir_config_reloads_total", result="failure") == failures + 1,
                    120, "the failed reload")
                self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
            wait_for(lambda: http_get(base + "/ready")[0] == 200, 60, "ready again")
            status = http_get(base + "/api/v1/status")[1]
            self.assertIn('"deep"', status)
            self.assertEqual(d.stop(), 0, log_excerpt(d.log_text()))
            self.assertIn("the running configuration stays", d.log_text())


class sighup_during_startup_test(unittest.TestCase):
    """SIGHUPs while a large configuration loads: the daemon starts, then reloads once."""

    def test_sighup_during_startup_is_coalesced_into_one_reload(self):
        with tempfile.TemporaryDirectory() as tmp:
            pipelines = os.path.join(tmp, "pipelines.d")
            os.mkdir(pipelines)
            # One node with thousands of checks: seconds of parsing and compiling under the
            # sanitizers, for a single query that costs nothing to run.
            checks = "".join(
                f"      - {{name: c{i}, measure: \"sum(v{i % 50}) / count() + mean(w)\", "
                f"must_be: \"[{i}, {i + 1000}]\", should_be: \"!= {i}\"}}\n"
                for i in range(6000))
            big = PIPELINE.format(name="big", path=os.path.join(tmp, "big.jsonl")) + checks
            with open(os.path.join(pipelines, "big.yaml"), "w") as f:
                f.write(big)
            d = weir_process(self, tmp, [pipelines])

            # As soon as weir handles SIGHUP, or has read the files (then it is loading them):
            # a weir that only takes SIGHUP over once it has loaded dies of the signal.
            wait_for(lambda: sighup_caught(d.proc.pid) or bytes_read(d.proc.pid) >= len(big)
                     or d.proc.poll() is not None, 60, "weir to start")
            # A pipeline added meanwhile: whether the first load saw it or not, the reload does.
            with open(os.path.join(pipelines, "added.yaml"), "w") as f:
                f.write(PIPELINE.format(name="added", path=os.path.join(tmp, "added.jsonl")))
            for _ in range(5):
                if d.proc.poll() is None:
                    d.proc.send_signal(signal.SIGHUP)

            self.assertEqual(d.proc.poll(), None, "weir ended:\n" + log_excerpt(d.log_text()))
            base = f"http://127.0.0.1:{d.wait_port(timeout=300)}"
            success = lambda: metric_sum(base, "weir_config_reloads_total", result="success")
            wait_for(lambda: d.proc.poll() is not None or success() >= 1, 300, "the reload")
            self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
            wait_for(lambda: http_get(base + "/ready")[0] == 200, 120, "ready")
            status = http_get(base + "/api/v1/status")[1]
            self.assertIn('"added"', status)
            self.assertIn('"big"', status)
            log = d.log_text()
            if "SIGHUP came during start-up" in log:
                # Five signals, one reload.
                self.assertEqual(success(), 1, log_excerpt(log))
            self.assertEqual(metric_sum(base, "weir_config_reloads_total", result="failure"), 0)
            self.assertEqual(d.stop(), 0, log_excerpt(log))


SECRET = "hunter2-s3cr3t-value"


class secret_masking_test(unittest.TestCase):
    """Only secrets are hidden: values of variables whose names say so and of parameters
    declared secret. Plain values from ${VAR} (paths, sizes, hosts) show where they help."""

    def test_plain_values_from_the_environment_show_and_secrets_do_not(self):
        with tempfile.TemporaryDirectory() as tmp:
            data = os.path.join(tmp, "plain-data-dir")
            config = os.path.join(tmp, "masking.yaml")
            with open(config, "w") as f:
                f.write(f"""
pipeline: masking
inputs:
  sensors: {{type: generator, seed: 1, rate: 100, time_step: 100ms,
            start_time: "2026-11-20T10:00:00Z"}}
  missing: {{type: file, path: "${{DATA_DIR}}/no-such-file.jsonl", follow: false}}
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
  hook: {{type: http, url: "http://127.0.0.1:1/hook/${{HOOK_TOKEN}}", retries: 0,
         basic_auth: {{user: weir, password: "literal-{SECRET}"}}}}
""")
            env = {"DATA_DIR": data, "HOOK_TOKEN": SECRET}
            # validate: a bad value from a plain variable is shown, from a secret one never.
            bad = os.path.join(tmp, "bad.yaml")
            with open(config) as f:
                text = f.read()
            with open(bad, "w") as f:
                f.write(text.replace("size: 1s", "size: \"${WINDOW_SIZE}\"").replace(
                    "rate: 100", "rate: \"${RATE_SECRET}\""))
            p = subprocess.run([WEIR, "validate", "--portable", bad], capture_output=True,
                               text=True, timeout=60,
                               env=dict(os.environ, WINDOW_SIZE="sixty-seconds",
                                        RATE_SECRET=SECRET, **env))
            self.assertEqual(p.returncode, 78, p.stderr)
            self.assertIn('"sixty-seconds"', p.stderr)
            self.assertIn("(a secret value)", p.stderr)
            self.assertNotIn(SECRET, p.stdout + p.stderr)

            d = weir_process(self, tmp, [config], env=env)
            d.wait_port()
            wait_for(lambda: "no-such-file" in d.log_text() and "127.0.0.1:1/hook/" in
                     d.log_text(), 60, "the connectors' errors")
            self.assertEqual(d.stop(), 0, log_excerpt(d.log_text()))
            log = d.log_text()
            # The path is no secret: it shows, as the operator needs it.
            self.assertIn(os.path.join(data, "no-such-file.jsonl"), log)
            self.assertIn("127.0.0.1:1/hook/***", log)
            self.assertNotIn(SECRET, log)


if __name__ == "__main__":
    unittest.main()
