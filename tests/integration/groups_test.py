"""Groups are first-class: a grouped node's group_by fields are labels of their own on
weir_check_value and weir_check_failing (no ungrouped series beside them, promtool-clean),
and /api/v1/status and `weir status` name the groups a check fails in."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, http_get, log_excerpt, wait_for, weir_process

# server_errors fails in web-2 only; volume passes everywhere. The second node groups by a
# field named like a fixed label (node), which becomes group_node.
PIPELINE = """
pipeline: groups
inputs:
  web: {type: generator, seed: 1, rate: 300, time_step: 10ms, groups: 3, group_field: host,
        group_prefix: "web-", start_time: "2026-11-20T10:00:00Z"}
  fleet: {type: generator, seed: 2, rate: 100, time_step: 10ms, groups: 2, group_field: node,
          group_prefix: "n-", start_time: "2026-11-20T10:00:00Z"}
nodes:
  errors:
    from: web
    time: {field: ts}
    window: {type: tumbling, size: 1s}
    group_by: [host]
    checks:
      - {name: volume, measure: count(), must_be: "> 5"}
      - {name: server_errors, measure: 'count_where(host == "web-2")', must_be: "< 1"}
  by_node:
    from: fleet
    time: {field: ts}
    window: {type: tumbling, size: 1s}
    group_by: [node]
    checks:
      - {name: volume, measure: count(), must_be: "> 5"}
"""

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"')


def samples(text, family):
    """[(labels dict, value)] of the family's samples."""
    out = []
    for line in text.splitlines():
        m = SAMPLE.match(line)
        if m and m.group(1) == family:
            out.append((dict(LABEL.findall(m.group(2) or "")), float(m.group(3))))
    return out


class groups_test(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.config = os.path.join(self.dir, "p.yaml")
        with open(self.config, "w") as f:
            f.write(PIPELINE)
        self.d = weir_process(self, self.dir, [self.config])
        self.base = f"http://127.0.0.1:{self.d.wait_port()}"

    def metrics(self):
        status, body = http_get(self.base + "/metrics", timeout=10)
        self.assertEqual(status, 200)
        return body

    def test_group_by_fields_are_labels_and_no_ungrouped_series_sits_beside_them(self):
        def failing_web_2():
            return any(l.get("host") == "web-2" and l["check"] == "server_errors" and v == 1
                       for l, v in samples(self.metrics(), "weir_check_failing"))
        wait_for(failing_web_2, 60, "server_errors failing for host web-2")
        # Every group of both checks has its series (a window later at the latest).
        wait_for(lambda: len([l for l, _ in samples(self.metrics(), "weir_check_failing")
                              if l["node"] == "errors"]) == 6, 30, "six group series")
        text = self.metrics()
        failing = {(l["check"], l["host"]): v
                   for l, v in samples(text, "weir_check_failing") if l["node"] == "errors"}
        self.assertEqual(failing, {("server_errors", "web-1"): 0, ("server_errors", "web-2"): 1,
                                   ("server_errors", "web-3"): 0, ("volume", "web-1"): 0,
                                   ("volume", "web-2"): 0, ("volume", "web-3"): 0})
        for family in ("weir_check_value", "weir_check_failing"):
            for labels, value in samples(text, family):
                # No composite label, and no series of a grouped check without its group.
                self.assertNotIn("group", labels, (family, labels))
                if labels["node"] == "errors":
                    self.assertEqual(set(labels), {"pipeline", "node", "check", "host"},
                                     (family, labels))
                else:
                    self.assertEqual(set(labels), {"pipeline", "node", "check", "group_node"},
                                     (family, labels))
        values = {(l["check"], l["host"]): v
                  for l, v in samples(text, "weir_check_value") if l["node"] == "errors"}
        self.assertEqual(values[("server_errors", "web-1")], 0)
        self.assertGreater(values[("server_errors", "web-2")], 5)
        self.assertGreater(values[("volume", "web-3")], 5)
        # A group_by field named like a fixed label gets a prefix, the node label stays.
        wait_for(lambda: {l.get("group_node") for l, _ in samples(self.metrics(),
                                                                  "weir_check_value")
                          if l["node"] == "by_node"} == {"n-1", "n-2"}, 30,
                 "the by_node groups")

        promtool = shutil.which("promtool")
        self.assertIsNotNone(promtool, "promtool (Debian package prometheus) is needed")
        check = subprocess.run([promtool, "check", "metrics"], input=self.metrics(),
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
        self.assertEqual(self.d.stop(), 0, log_excerpt(self.d.log_text()))

    def test_status_and_weir_status_name_the_failing_groups(self):
        def errors_query():
            status, body = http_get(self.base + "/api/v1/status", timeout=10)
            if status != 200:
                return None
            for q in json.loads(body)["queries"]:
                if q["query"] == "errors":
                    return q
            return None

        def failing():
            q = errors_query()
            return q and q["failing_checks"]
        wait_for(failing, 60, "a failing check")
        [f] = failing()
        self.assertEqual((f["node"], f["check"], f["groups"]), ("errors", "server_errors", 1))
        [g] = f["failing_groups"]
        self.assertEqual(g["group"], {"host": "web-2"})
        self.assertGreater(g["value"], 5)

        out = subprocess.run([WEIR, "status", "--url", self.base], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stdout, r"(?m)^groups\s+errors\s+errors\s+running\s.*"
                                     r"server_errors\(1 group\)$")
        self.assertRegex(out.stdout, r"(?m)^groups/errors: server_errors fails in 1 group: "
                                     r"host=web-2 \(\d+(\.\d+)?\)$")
        self.assertEqual(self.d.stop(), 0, log_excerpt(self.d.log_text()))


if __name__ == "__main__":
    unittest.main()
