"""The console output through the real binary, as a person reads it: lines of at most 100
columns, values in the unit of the assessment, and by default only failures and changes, with
a one-line count of the passes it left out."""
import os
import re
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, log_excerpt

# A quickstart-like stream: 3 sensors, 10 s windows over 2 minutes of event time. Humidity is
# absent from 30 % of sensor-2's records from 40 s on, so its completeness fails from then on;
# everything else passes.
PIPELINE = """
pipeline: console_people
inputs:
  sensors:
    type: generator
    seed: 11
    rate: 0
    count: 1200
    time_step: 100ms
    groups: 3
    group_field: sensor_id
    group_prefix: sensor-
    start_time: "2026-11-20T10:00:00Z"
    problems:
      - {{type: missing_field, field: humidity, group: sensor-2, after: 40s, fraction: 0.3}}
nodes:
  a_node_with_a_rather_long_name_for_the_console:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
    group_by: [sensor_id]
    checks:
      - {{name: volume, measure: count(), must_be: "> 10"}}
      - {{name: completeness, measure: missing_fraction(humidity), must_be: "< 5%"}}
      - {{name: a_check_whose_name_is_long_enough_to_need_some_shortening,
          measure: "fraction_where(humidity >= 0 and humidity <= 100 and temperature > -40)",
          must_be: "> 50%"}}
    outputs: [screen]
outputs:
  screen: {screen}
"""


def run_once(tmp, screen):
    path = os.path.join(tmp, "p.yaml")
    with open(path, "w") as f:
        f.write(PIPELINE.format(screen=screen))
    p = subprocess.run([WEIR, "run", "--once", "--fail-on", "never", path], capture_output=True,
                       text=True, timeout=120, env={k: v for k, v in os.environ.items()
                                                    if k != "NO_COLOR"})
    return p


class console_test(unittest.TestCase):
    def test_failures_and_changes_with_a_summary_of_passes(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = run_once(tmp, "{type: console}")
            self.assertEqual(p.returncode, 0, log_excerpt(p.stderr))
            lines = p.stdout.splitlines()
            self.assertTrue(lines, log_excerpt(p.stderr))
            for line in lines:
                self.assertLessEqual(len(line), 100, line)
                self.assertNotIn("\x1b", line, "no colour on a pipe")
            fails = [l for l in lines if " FAIL " in l]
            self.assertTrue(fails, p.stdout)
            for line in fails:
                # sensor-2's completeness, in percent as the assessment was written; to fit,
                # the measure and the pipeline are left out and the long node name is
                # shortened, while the check and the group stay whole.
                self.assertIn("Z FAIL a_node_with_a_\u2026 completeness {sensor_id=sensor-2} = ",
                              line)
                self.assertRegex(line, r" = \d+(\.\d+)? % \(must be < 5 %\)$")
            # The long check name and measure are shortened with an ellipsis, not wrapped.
            self.assertNotIn("a_check_whose_name_is_long_enough_to_need_some_shortening "
                             "fraction_where(humidity >= 0 and humidity <= 100 and "
                             "temperature > -40)", p.stdout)
            # Passes are not printed one by one: at most the first windows' changes are (none
            # here: every check starts passing, which is not a change), and one summary counts
            # them at the end.
            passes = [l for l in lines if re.search(r"Z PASS \S+/", l)]
            self.assertEqual(passes, [], p.stdout)
            summary = lines[-1]
            m = re.search(r"Z PASS (\d+) results passed \(3 checks in (\d+) windows\)$", summary)
            self.assertIsNotNone(m, p.stdout)
            # 12 windows x 3 groups x 3 checks, less the failing ones.
            self.assertEqual(int(m.group(1)) + len(fails), 12 * 3 * 3, p.stdout)
            self.assertEqual(int(m.group(2)), 12)
            # The --once summary on stderr fits too, with values in the unit.
            summary_lines = [l for l in p.stderr.splitlines() if l.startswith("weir: ")]
            self.assertTrue(any(" % (must be < 5 %)" in l for l in summary_lines), p.stderr)
            for line in summary_lines:
                self.assertLessEqual(len(line), 100, line)

    def test_emit_all_prints_every_result(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = run_once(tmp, "{type: console, emit: all, color: always}")
            self.assertEqual(p.returncode, 0, log_excerpt(p.stderr))
            lines = p.stdout.splitlines()
            self.assertEqual(len(lines), 12 * 3 * 3, p.stdout)
            plain = [re.sub("\x1b\\[[0-9;]*m", "", l) for l in lines]
            self.assertTrue(any("\x1b[32mPASS\x1b[0m" in l for l in lines))
            for line in plain:
                self.assertLessEqual(len(line), 100, line)
            self.assertTrue(any(re.search(r" a_node_with_a_rather_long\u2026 volume "
                                          r"\{sensor_id=sensor-1\} = \d+ \(must be > 10\)$", l)
                                for l in plain), p.stdout)


if __name__ == "__main__":
    unittest.main()
