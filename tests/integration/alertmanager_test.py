"""The alertmanager output against Debian's real Alertmanager, started on loopback by the test:
a failing check appears as a firing alert in its API, and disappears (resolved) once the check
passes again; so does a group that falls silent, through its freshness check."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from weir_test_util import WEIR, free_port, wait_for

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


def get_json(url):
    with urllib.request.urlopen(url, timeout=2) as r:
        return json.loads(r.read())


PIPELINE = """
inputs:
  sensors:
    type: generator
    seed: 5
    rate: 100
    time_step: 100ms          # event time runs ten times faster than the wall clock
    start_time: "2026-11-20T10:00:00Z"
    problems:
      # humidity out of range for the first 40 s of event time (about 4 s of wall time)
      - {{type: out_of_range, field: humidity, after: 0s, duration: 40s, value: 140}}
nodes:
  rooms:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: humidity_range, measure: max(humidity), must_be: "<= 100"}}
    outputs: [alerts]
outputs:
  alerts:
    type: alertmanager
    url: http://127.0.0.1:{port}
    resend_interval: 1s
    labels: {{team: weir_tests}}
"""


# g-2 falls silent for 8 s of a wall-clock-paced stream: its freshness fails, then passes again.
SILENT_PIPELINE = """
inputs:
  sensors:
    type: generator
    seed: 6
    rate: 40
    groups: 2
    problems:
      - {{type: silent_group, group: g-2, after: 4s, duration: 8s}}
nodes:
  rooms:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 2s}}
    group_by: [group]
    checks:
      - {{name: freshness, measure: freshness(), must_be: "< 3s"}}
    outputs: [alerts]
outputs:
  alerts:
    type: alertmanager
    url: http://127.0.0.1:{port}
    resend_interval: 1s
    resolve_timeout: 1m
    labels: {{team: weir_tests}}
"""


# Two outputs of one failing check: Alertmanager's routes see severity=critical by default, and
# what a severity_map says; both carry the output's labels and annotations, and a summary with the
# value in the unit of the assessment.
ROUTED_PIPELINE = """
inputs:
  sensors:
    type: generator
    seed: 7
    rate: 100
    time_step: 100ms
    start_time: "2026-11-20T10:00:00Z"
    problems:
      - {{type: out_of_range, field: humidity, after: 0s, duration: 60s, value: 140,
          fraction: 0.5}}
nodes:
  rooms:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: humid_fraction, measure: "fraction_where(humidity > 100)", must_be: "< 20%"}}
    outputs: [alerts, pager]
outputs:
  alerts:
    type: alertmanager
    url: http://127.0.0.1:{port}
    resend_interval: 1s
    labels: {{team: weir_tests, route: default}}
    annotations: {{runbook_url: "https://runbooks.example/weir/humidity", owner: facilities}}
  pager:
    type: alertmanager
    url: http://127.0.0.1:{port}
    resend_interval: 1s
    severity_map: {{fail: page}}
    labels: {{team: weir_tests, route: pager}}
"""


# Checks with their own labels and annotations: the check's team wins over the output's (so the
# test finds them by team), a check's severity label replaces the severity_map, and the runbook,
# owner and description reach Alertmanager.
CHECK_LABELS_PIPELINE = """
inputs:
  sensors:
    type: generator
    seed: 8
    rate: 100
    time_step: 100ms
    start_time: "2026-11-20T10:00:00Z"
    problems:
      - {{type: out_of_range, field: humidity, after: 0s, duration: 60s, value: 140,
          fraction: 0.5}}
nodes:
  rooms:
    from: sensors
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - name: humid_fraction
        measure: fraction_where(humidity > 100)
        must_be: "< 2%"
        labels: {{team: weir_tests, tier: "1"}}
        annotations:
          runbook_url: https://runbooks.example/humidity
          owner: facilities-oncall
          description: Share of readings above 100 % humidity
      - name: humid_max
        measure: max(humidity)
        must_be: "<= 100"
        description: The wettest reading of the window
        labels: {{team: weir_tests, severity: ticket}}
    outputs: [alerts]
outputs:
  alerts:
    type: alertmanager
    url: http://127.0.0.1:{port}
    resend_interval: 1s
    labels: {{team: someone_else, env: test}}
    annotations:
      runbook_url: https://runbooks.example/weir
      dashboard: https://grafana.example/d/weir
"""


def active(alert):
    """Whether Alertmanager lists the alert as active and its endsAt is still ahead."""
    ends = alert["endsAt"].rstrip("Z").split(".")[0]
    ends_epoch = time.mktime(time.strptime(ends, "%Y-%m-%dT%H:%M:%S")) - time.timezone
    return alert["status"]["state"] == "active" and ends_epoch > time.time()


@unittest.skipUnless(os.path.exists(ALERTMANAGER), "prometheus-alertmanager is not installed")
class alertmanager_test(unittest.TestCase):
    def start(self, tmp, pipeline):
        """Starts Alertmanager on a free port, then weir with `pipeline` (formatted with the
        port); returns (weir's process, a function listing the alerts weir sent)."""
        port = free_port()
        with open(os.path.join(tmp, "am.yml"), "w") as f:
            f.write("route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n")
        am = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={tmp}/am.yml", f"--storage.path={tmp}/am",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(am.wait, 10)
        self.addCleanup(am.terminate)
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: urllib.request.urlopen(base + "/-/ready", timeout=2).status == 200,
                 20, "Alertmanager to be ready")

        with open(os.path.join(tmp, "p.yaml"), "w") as f:
            f.write(pipeline.format(port=port))
        weir = subprocess.Popen([WEIR, "run", "--data-dir", os.path.join(tmp, "d"),
                                 os.path.join(tmp, "p.yaml")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(weir.wait, 30)
        self.addCleanup(weir.terminate)

        def ours():
            return [a for a in get_json(base + "/api/v2/alerts")
                    if a["labels"].get("team") == "weir_tests"]
        return weir, ours

    def test_failing_check_fires_then_resolves(self):
        with tempfile.TemporaryDirectory() as tmp:
            weir, ours = self.start(tmp, PIPELINE)
            wait_for(lambda: any(a["status"]["state"] == "active" for a in ours()), 20,
                     "the alert to fire")
            alert = ours()[0]
            self.assertEqual(alert["labels"]["check"], "humidity_range")
            self.assertEqual(alert["labels"]["node"], "rooms")
            self.assertEqual(alert["labels"]["severity"], "critical")

            # Once humidity is back in range the check passes and the alert is resolved:
            # Alertmanager no longer lists it as active.
            wait_for(lambda: not any(active(a) for a in ours()), 30, "the alert to resolve")
            self.assertIsNone(weir.poll(), "weir keeps running")

    def test_severities_labels_and_annotations_fit_alertmanager_routes(self):
        with tempfile.TemporaryDirectory() as tmp:
            weir, ours = self.start(tmp, ROUTED_PIPELINE)
            wait_for(lambda: len({a["labels"]["route"] for a in ours() if active(a)}) == 2, 30,
                     "both outputs' alerts to fire")
            by_route = {a["labels"]["route"]: a for a in ours() if active(a)}
            default, pager = by_route["default"], by_route["pager"]
            self.assertEqual(default["labels"]["severity"], "critical")
            self.assertEqual(pager["labels"]["severity"], "page")
            for a in (default, pager):
                self.assertEqual(a["labels"]["alertname"], "weir_check_failed")
                self.assertEqual(a["labels"]["check"], "humid_fraction")
                self.assertEqual(a["annotations"]["must_be"], "< 20%")
                # "... = 50.5 %, must be < 20 %", not 0.505 next to "< 20%".
                self.assertRegex(
                    a["annotations"]["summary"],
                    r"^check humid_fraction failed on \S+/rooms: fraction_where\(humidity > 100\) "
                    r"= \d+(\.\d+)? %, must be < 20 %$")
            self.assertEqual(default["annotations"]["runbook_url"],
                             "https://runbooks.example/weir/humidity")
            self.assertEqual(default["annotations"]["owner"], "facilities")
            self.assertNotIn("runbook_url", pager["annotations"])
            self.assertIsNone(weir.poll(), "weir keeps running")

    def test_a_checks_own_labels_and_annotations_reach_alertmanager(self):
        with tempfile.TemporaryDirectory() as tmp:
            weir, ours = self.start(tmp, CHECK_LABELS_PIPELINE)
            wait_for(lambda: len({a["labels"]["check"] for a in ours() if active(a)}) == 2, 30,
                     "both checks' alerts to fire")
            by_check = {a["labels"]["check"]: a for a in ours() if active(a)}
            fraction, maximum = by_check["humid_fraction"], by_check["humid_max"]
            # The check's team won over the output's; the output's env stays.
            self.assertEqual(fraction["labels"]["team"], "weir_tests")
            self.assertEqual(fraction["labels"]["tier"], "1")
            self.assertEqual(fraction["labels"]["env"], "test")
            self.assertEqual(fraction["labels"]["severity"], "critical")
            self.assertEqual(fraction["annotations"]["runbook_url"],
                             "https://runbooks.example/humidity")
            self.assertEqual(fraction["annotations"]["owner"], "facilities-oncall")
            self.assertEqual(fraction["annotations"]["description"],
                             "Share of readings above 100 % humidity")
            self.assertEqual(fraction["annotations"]["dashboard"], "https://grafana.example/d/weir")
            self.assertTrue(fraction["annotations"]["summary"].startswith(
                "check humid_fraction failed"), fraction["annotations"])
            # A check's severity label replaces the severity_map; its description is sent.
            self.assertEqual(maximum["labels"]["severity"], "ticket")
            self.assertNotIn("tier", maximum["labels"])
            self.assertEqual(maximum["annotations"]["description"],
                             "The wettest reading of the window")
            self.assertEqual(maximum["annotations"]["runbook_url"], "https://runbooks.example/weir")
            self.assertIsNone(weir.poll(), "weir keeps running")

    def test_a_silent_group_fires_its_freshness_alert_until_it_is_back(self):
        with tempfile.TemporaryDirectory() as tmp:
            weir, ours = self.start(tmp, SILENT_PIPELINE)
            wait_for(lambda: any(active(a) for a in ours()), 40, "the freshness alert to fire")
            alerts = [a for a in ours() if active(a)]
            self.assertEqual([(a["labels"]["check"], a["labels"]["group"]) for a in alerts],
                             [("freshness", "g-2")], alerts)
            # The resolve_timeout is a minute: only weir's resolution ends it this soon.
            # (Alertmanager lists active alerts only: a resolved one is gone from the list.)
            wait_for(lambda: not any(active(a) for a in ours()), 40,
                     "the alert to resolve when g-2 is back")
            self.assertIsNone(weir.poll(), "weir keeps running")


if __name__ == "__main__":
    unittest.main()
