"""Debian's Prometheus server, started on loopback by the test, scrapes a running weir: the
target is up, weir_check_results_total grows, and a check that fails shows
weir_check_failing == 1 in Prometheus's query API."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import unittest
import urllib.parse
import urllib.request

from weir_test_util import WEIR, free_port, wait_for

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

PIPELINE = """
inputs:
  sensors: {type: generator, seed: 1, rate: 100, time_step: 100ms, groups: 2,
            start_time: "2026-11-20T10:00:00Z"}
nodes:
  quality:
    from: sensors
    time: {field: ts}
    window: {type: tumbling, size: 10s}
    group_by: [group]
    checks:
      - {name: volume, measure: count(), must_be: "> 10"}
      - {name: impossible, measure: count(), must_be: "> 1000000"}
"""


def query(base, expr):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(url, timeout=2) as r:
        return json.loads(r.read())["data"]["result"]


@unittest.skipUnless(os.path.exists(PROMETHEUS), "prometheus is not installed")
class prometheus_test(unittest.TestCase):
    def test_prometheus_scrapes_weir(self):
        with tempfile.TemporaryDirectory() as tmp:
            weir_port = free_port()
            with open(os.path.join(tmp, "p.yaml"), "w") as f:
                f.write(PIPELINE)
            weir = subprocess.Popen([WEIR, "run", "--http-listen", f"127.0.0.1:{weir_port}",
                                     "--data-dir", os.path.join(tmp, "d"),
                                     os.path.join(tmp, "p.yaml")],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.addCleanup(weir.wait, 30)
            self.addCleanup(weir.send_signal, signal.SIGTERM)

            prom_port = free_port()
            with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
                f.write("global: {scrape_interval: 1s, evaluation_interval: 1s}\n"
                        "scrape_configs:\n"
                        "  - job_name: weir\n"
                        f"    static_configs: [{{targets: ['127.0.0.1:{weir_port}']}}]\n")
            prom = subprocess.Popen([PROMETHEUS, f"--config.file={tmp}/prometheus.yml",
                                     f"--storage.tsdb.path={tmp}/tsdb",
                                     f"--web.listen-address=127.0.0.1:{prom_port}"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.addCleanup(prom.wait, 30)
            self.addCleanup(prom.terminate)
            base = f"http://127.0.0.1:{prom_port}"

            # Prometheus's first scrape comes a few seconds after its start.
            wait_for(lambda: any(r["value"][1] == "1" for r in query(base, 'up{job="weir"}')),
                     40, "the weir target to be up")

            def total():
                r = query(base, 'sum(weir_check_results_total{job="weir"})')
                return float(r[0]["value"][1]) if r else 0.0
            wait_for(lambda: total() > 0, 30, "check results")
            first = total()
            wait_for(lambda: total() > first, 30, "weir_check_results_total to grow")

            failing = query(base, 'weir_check_failing{job="weir",check="impossible"}')
            self.assertTrue(failing and failing[0]["value"][1] == "1", failing)
            passing = query(base, 'weir_check_failing{job="weir",check="volume"}')
            self.assertTrue(passing and passing[0]["value"][1] == "0", passing)
            # The group_by field is a label of its own: PromQL aggregates by it directly, and
            # no series of the grouped check lacks it.
            by_group = query(base, 'sum by (group) (weir_check_failing{job="weir",'
                                   'check="impossible"})')
            self.assertEqual({r["metric"]["group"]: r["value"][1] for r in by_group},
                             {"g-1": "1", "g-2": "1"}, by_group)
            self.assertEqual(query(base, 'weir_check_value{job="weir",group=""}'), [])


if __name__ == "__main__":
    unittest.main()
