"""Hostile or unlucky input to the real binary: scalars nesting ${VAR:-...} defaults thousands
deep, in validate and in a reload."""
import os
import signal
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, http_get, metric_sum, wait_for, weir_process

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
            self.assertEqual(p.returncode, 78, p.stderr[-2000:])
            self.assertIn("references are nested too deeply (more than 32 levels)", p.stderr)

            open_ended = self.write(tmp, "open.yaml", nested_defaults(20000, terminated=False))
            p = subprocess.run([WEIR, "validate", open_ended], capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(p.returncode, 78, p.stderr[-2000:])
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
                self.assertIsNone(d.proc.poll(), d.log_text()[-3000:])
            wait_for(lambda: http_get(base + "/ready")[0] == 200, 60, "ready again")
            status = http_get(base + "/api/v1/status")[1]
            self.assertIn('"deep"', status)
            self.assertEqual(d.stop(), 0, d.log_text()[-3000:])
            self.assertIn("the running configuration stays", d.log_text())


if __name__ == "__main__":
    unittest.main()
