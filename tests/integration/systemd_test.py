"""weir under systemd, without systemd: the real binary talks sd_notify to a datagram socket the
test owns (READY, WATCHDOG, RELOADING, STOPPING); the shipped unit passes `systemd-analyze
verify`; the shipped Prometheus rules pass `promtool` (check and a rules test that makes them
fire); the Grafana dashboard only queries metrics weir exports."""
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from weir_test_util import WEIR, http_get, http_port, log_excerpt, source, weir

PIPELINE = """
inputs:
  sensors: {type: generator, seed: 3, rate: 100, time_step: 100ms, groups: 2,
            start_time: "2026-11-20T10:00:00Z"}
nodes:
  quality:
    from: sensors
    critical: true
    time: {field: ts}
    window: {type: tumbling, size: 5s}
    checks:
      - {name: volume, measure: count(), must_be: "> 1"}
    outputs: [results]
outputs:
  results: {type: file, path: RESULTS}
"""


class notify_socket:
    """The service manager's end: a bound datagram socket; messages parsed into dicts."""

    def __init__(self, address):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)

    def close(self):
        self.sock.close()

    def receive(self, timeout):
        """The next message as {key: value}, or None when nothing arrives within timeout."""
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096).decode()
        except socket.timeout:
            return None
        return dict(line.split("=", 1) for line in data.split("\n") if line)

    def wait_for(self, key, timeout, seen=None):
        """Messages until one carries `key`; each one read is appended to `seen`."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {key} within {timeout} s (saw {seen})")
            m = self.receive(left)
            if m is None:
                continue
            if seen is not None:
                seen.append(m)
            if key in m:
                return m


class systemd_notify_test(unittest.TestCase):
    def start(self, tmp, env):
        path = os.path.join(tmp, "p.yaml")
        with open(path, "w") as f:
            f.write(PIPELINE.replace("RESULTS", os.path.join(tmp, "results.jsonl")))
        self.log_path = os.path.join(tmp, "log")
        log = open(self.log_path, "w")
        self.addCleanup(log.close)
        full_env = dict(os.environ)
        full_env.pop("WATCHDOG_PID", None)
        full_env.update(env)
        p = subprocess.Popen([WEIR, "run", "--http-listen", "127.0.0.1:0", "--data-dir",
                              os.path.join(tmp, "data"), path],
                             stdout=subprocess.DEVNULL, stderr=log, env=full_env)

        def cleanup():
            if p.poll() is None:
                p.kill()
                p.wait(timeout=10)
        self.addCleanup(cleanup)
        return p

    def port(self):
        return http_port(self.log_path)

    def log(self):
        with open(self.log_path) as f:
            return log_excerpt(f.read())

    def test_ready_watchdog_reload_and_stop(self):
        with tempfile.TemporaryDirectory() as tmp:
            sock = notify_socket(os.path.join(tmp, "notify"))
            self.addCleanup(sock.close)
            p = self.start(tmp, {"NOTIFY_SOCKET": os.path.join(tmp, "notify"),
                                 "WATCHDOG_USEC": "400000"})

            seen = []
            ready = sock.wait_for("READY", 20, seen)
            # The HTTP server listened before READY=1, and /ready already says 200.
            port = self.port()
            self.assertIsNotNone(port, "READY=1 before the HTTP server listened")
            self.assertEqual(http_get(f"http://127.0.0.1:{port}/ready")[0], 200)
            self.assertEqual(ready["READY"], "1")
            self.assertIn("running", ready.get("STATUS", ""))
            self.assertFalse(any("STOPPING" in m or "RELOADING" in m for m in seen), seen)

            # WATCHDOG=1 every 200 ms (half of WATCHDOG_USEC): at least 3 within 2 s.
            pings = 0
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:
                m = sock.receive(deadline - time.monotonic())
                if m is not None and m.get("WATCHDOG") == "1":
                    pings += 1
            self.assertGreaterEqual(pings, 3)
            self.assertLessEqual(pings, 12)  # not a busy loop either

            # SIGHUP: RELOADING=1 with the monotonic clock, then READY=1 again.
            before = time.monotonic()
            p.send_signal(signal.SIGHUP)
            seen = []
            reloading = sock.wait_for("RELOADING", 10, seen)
            after = time.monotonic()
            self.assertEqual(reloading["RELOADING"], "1")
            usec = int(reloading["MONOTONIC_USEC"])
            self.assertGreaterEqual(usec, int(before * 1e6) - 1000)
            self.assertLessEqual(usec, int(after * 1e6) + 1000)
            self.assertFalse(any("READY" in m for m in seen), "READY=1 before RELOADING=1")
            sock.wait_for("READY", 10)
            self.assertEqual(http_get(f"http://127.0.0.1:{port}/ready")[0], 200)

            # SIGTERM: STOPPING=1, then a clean exit.
            p.send_signal(signal.SIGTERM)
            stopping = sock.wait_for("STOPPING", 10)
            self.assertEqual(stopping["STOPPING"], "1")
            self.assertEqual(p.wait(timeout=30), 0, self.log())
            # Nothing claims readiness after STOPPING=1.
            while (m := sock.receive(0.05)) is not None:
                self.assertNotIn("READY", m)

    def test_abstract_socket_and_a_watchdog_meant_for_another_process(self):
        with tempfile.TemporaryDirectory() as tmp:
            name = f"weir-test-{os.getpid()}-{time.monotonic_ns()}"
            sock = notify_socket("\0" + name)
            self.addCleanup(sock.close)
            # WATCHDOG_PID names another process (pid 1): weir must not ping.
            p = self.start(tmp, {"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "200000",
                                 "WATCHDOG_PID": "1"})
            seen = []
            sock.wait_for("READY", 20, seen)
            deadline = time.monotonic() + 1
            while time.monotonic() < deadline:
                m = sock.receive(deadline - time.monotonic())
                if m is not None:
                    seen.append(m)
            self.assertFalse(any("WATCHDOG" in m for m in seen), seen)
            p.send_signal(signal.SIGTERM)
            sock.wait_for("STOPPING", 10)
            self.assertEqual(p.wait(timeout=30), 0, self.log())

    def test_without_notify_socket_nothing_changes(self):
        with tempfile.TemporaryDirectory() as tmp:
            env = {"WATCHDOG_USEC": "200000"}
            p = self.start(tmp, env)
            deadline = time.monotonic() + 20
            while self.port() is None and time.monotonic() < deadline:
                time.sleep(0.05)
            self.assertIsNotNone(self.port())
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=30), 0, self.log())
            self.assertNotIn("NOTIFY_SOCKET", self.log())


class systemd_unit_test(unittest.TestCase):
    def unit_text(self):
        with open(source("systemd", "weir.service")) as f:
            return f.read()

    def test_unit_passes_systemd_analyze_verify(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        # /usr/bin/weir is not installed on a build machine: verify a copy whose commands run
        # the binary just built; everything else is the shipped text.
        text = self.unit_text()
        self.assertIn("ExecStart=/usr/bin/weir run ", text)
        with tempfile.TemporaryDirectory() as tmp:
            unit = os.path.join(tmp, "weir.service")
            with open(unit, "w") as f:
                f.write(text.replace("/usr/bin/weir", WEIR))
            out = subprocess.run([analyze, "verify", unit], capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertNotIn("weir.service", out.stdout + out.stderr)

    def test_unit_runs_the_cli_that_exists(self):
        """ExecStart's arguments are what `weir run` accepts, and the shipped settings file
        with a shipped pipeline is valid."""
        text = self.unit_text()
        values = dict(re.findall(r"(?m)^(\w+)=(.*)$", text))
        self.assertEqual(values["Type"], "notify")
        self.assertEqual(values["NotifyAccess"], "main")
        args = values["ExecStart"].split()
        self.assertEqual(args[:2], ["/usr/bin/weir", "run"])
        self.assertEqual(args[2:], ["/etc/weir/weir.yaml", "/etc/weir/pipelines.d"])
        settings = source("examples", "weir.yaml")  # installed as /etc/weir/weir.yaml
        rc, out, err = weir("validate", settings, source("examples", "quickstart.yaml"))
        self.assertEqual(rc, 0, out + err)
        # TimeoutStopSec leaves weir its whole shutdown_timeout.
        with open(settings) as f:
            settings_text = f.read()
        m = re.search(r"(?m)^shutdown_timeout:\s*(\d+)s", settings_text)
        self.assertIsNotNone(m)
        self.assertGreater(int(values["TimeoutStopSec"].rstrip("s")), int(m.group(1)))
        # The state directory is weir's default data_dir.
        self.assertEqual(values["StateDirectory"], "weir")
        self.assertRegex(settings_text, r"(?m)^data_dir: /var/lib/weir\b")

    def test_sysusers_and_tmpfiles_parse(self):
        sysusers = shutil.which("systemd-sysusers")
        if not sysusers:
            self.skipTest("systemd-sysusers is not installed")
        with tempfile.TemporaryDirectory() as root:
            os.makedirs(os.path.join(root, "etc"))
            out = subprocess.run([sysusers, "--root", root,
                                  source("systemd", "weir.sysusers.conf")],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            with open(os.path.join(root, "etc", "passwd")) as f:
                self.assertRegex(f.read(), r"(?m)^weir:x:\d+:\d+:.*:/var/lib/weir:/usr/sbin/nologin$")
            tmpfiles = shutil.which("systemd-tmpfiles")
            if tmpfiles:
                out = subprocess.run([tmpfiles, "--root", root, "--create",
                                      source("systemd", "weir.tmpfiles.conf")],
                                     capture_output=True, text=True, timeout=60)
                self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
                st = os.stat(os.path.join(root, "var", "lib", "weir"))
                self.assertEqual(st.st_mode & 0o777, 0o750)


# `promtool test rules`: every alert fires on the series it watches, with the labels an
# operator routes on, and stays quiet where it should (before its `for:`, healthy series).
RULES_TEST = """
rule_files: [RULES]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - {series: 'up{job="weir", instance="a"}', values: '1 1 0x40'}
      - {series: 'up{job="weir", instance="b"}', values: '1x40'}
      - {series: 'weir_node_up{instance="a", pipeline="p", node="n"}', values: '1 0x40'}
      - {series: 'weir_node_up{instance="a", pipeline="p", node="m"}', values: '1x40'}
      - {series: 'weir_check_failing{instance="a", pipeline="p", node="n", check="c"}', values: '0 1x40'}
      - {series: 'weir_check_failing{instance="a", pipeline="p", node="n", check="d"}', values: '0x40'}
      - {series: 'weir_check_failing{instance="a", pipeline="p", node="g", check="c", host="web-3"}', values: '0 1x40'}
      - {series: 'weir_check_failing{instance="a", pipeline="p", node="g", check="c", host="web-4"}', values: '0x40'}
      - {series: 'weir_input_errors_total{instance="a", pipeline="p", node="n", input="i", error_type="decode"}', values: '0+60x40'}
      - {series: 'weir_input_errors_total{instance="a", pipeline="p", node="n", input="i", error_type="io"}', values: '5x40'}
      - {series: 'weir_output_errors_total{instance="a", pipeline="p", output="o"}', values: '0+60x40'}
      - {series: 'weir_node_dropped_records_total{instance="a", pipeline="p", node="n", reason="bad_time"}', values: '0+30x40'}
      - {series: 'weir_node_dropped_records_total{instance="a", pipeline="p", node="m", reason="late"}', values: '0+30x40'}
      - {series: 'weir_checkpoint_last_success_timestamp_seconds{instance="a", pipeline="p", node="n"}', values: '0+60x5 300x40'}
      - {series: 'weir_checkpoint_last_success_timestamp_seconds{instance="a", pipeline="p", node="m"}', values: '0+60x40'}
      - {series: 'weir_watermark_timestamp_seconds{instance="a", pipeline="p", node="n"}', values: '0x40'}
      - {series: 'weir_watermark_timestamp_seconds{instance="a", pipeline="p", node="m"}', values: '0+60x3 180x40'}
      - {series: 'weir_kafka_consumer_lag{instance="a", pipeline="p", node="n", input="k", partition="0"}', values: '60000x40'}
      - {series: 'weir_kafka_consumer_lag{instance="a", pipeline="p", node="n", input="k", partition="1"}', values: '60000x40'}
      - {series: 'weir_config_reloads_total{instance="a", result="failure"}', values: '0x20 1x20'}
      - {series: 'weir_config_reloads_total{instance="a", result="success"}', values: '0+1x40'}
      - {series: 'weir_internal_errors_total{instance="a"}', values: '0x10 1x30'}
      - {series: 'weir_internal_errors_total{instance="b"}', values: '0x40'}
      - {series: 'weir_dependency_down{instance="a", pipeline="p", node="n", input="weather"}', values: '0 1x40'}
      - {series: 'weir_dependency_down{instance="a", pipeline="p", node="n", input="orders"}', values: '0x40'}
    alert_rule_test:
      - {eval_time: 10m, alertname: WeirDependencyDown, exp_alerts: []}
      - eval_time: 20m
        alertname: WeirDependencyDown
        exp_alerts: [{exp_labels: {severity: warning, instance: a, pipeline: p, node: n, input: weather}}]
      - {eval_time: 5m, alertname: WeirInternalError, exp_alerts: []}
      - eval_time: 15m
        alertname: WeirInternalError
        exp_alerts: [{exp_labels: {severity: warning, instance: a}}]
      - {eval_time: 35m, alertname: WeirInternalError, exp_alerts: []}
      - {eval_time: 4m, alertname: WeirDown, exp_alerts: []}
      - eval_time: 8m
        alertname: WeirDown
        exp_alerts: [{exp_labels: {severity: critical, job: weir, instance: a}}]
      - eval_time: 8m
        alertname: WeirNodeDown
        exp_alerts: [{exp_labels: {severity: critical, instance: a, pipeline: p, node: n}}]
      - eval_time: 8m
        alertname: WeirCheckFailing
        exp_alerts: [{exp_labels: {severity: warning, instance: a, pipeline: p, node: n, check: c}},
                     {exp_labels: {severity: warning, instance: a, pipeline: p, node: g, check: c, host: web-3}}]
      - eval_time: 20m
        alertname: WeirInputErrors
        exp_alerts: [{exp_labels: {severity: warning, instance: a, pipeline: p, node: n, input: i, error_type: decode}}]
      - {eval_time: 8m, alertname: WeirUnreadableEventTimes, exp_alerts: []}
      - eval_time: 20m
        alertname: WeirUnreadableEventTimes
        exp_alerts: [{exp_labels: {severity: warning, instance: a, pipeline: p, node: n}}]
      - eval_time: 20m
        alertname: WeirOutputErrors
        exp_alerts: [{exp_labels: {severity: warning, instance: a, pipeline: p, output: o}}]
      - {eval_time: 9m, alertname: WeirCheckpointFailing, exp_alerts: []}
      - eval_time: 16m
        alertname: WeirCheckpointFailing
        exp_alerts: [{exp_labels: {severity: critical, instance: a, pipeline: p, node: n}}]
      - {eval_time: 20m, alertname: WeirWatermarkLag, exp_alerts: []}
      - eval_time: 30m
        alertname: WeirWatermarkLag
        exp_alerts: [{exp_labels: {severity: warning, instance: a, pipeline: p, node: m}}]
      - eval_time: 15m
        alertname: WeirKafkaConsumerLag
        exp_alerts: [{exp_labels: {severity: warning, instance: a, pipeline: p, node: n, input: k}}]
      - {eval_time: 15m, alertname: WeirConfigReloadFailed, exp_alerts: []}
      - eval_time: 25m
        alertname: WeirConfigReloadFailed
        exp_alerts: [{exp_labels: {severity: warning, instance: a, result: failure}}]
"""


class packaging_rules_test(unittest.TestCase):
    RULES = source("packaging", "prometheus", "weir-alerts.yml")

    def setUp(self):
        self.promtool = shutil.which("promtool")
        if not self.promtool:
            self.skipTest("promtool is not installed")

    def test_promtool_check_rules(self):
        out = subprocess.run([self.promtool, "check", "rules", self.RULES], capture_output=True,
                             text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

    def test_every_alert_fires_on_its_series(self):
        import yaml
        with open(self.RULES) as f:
            rules = yaml.safe_load(f)
        alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
        tested = set(re.findall(r"alertname: (\w+)", RULES_TEST))
        self.assertEqual(alerts, tested, "every shipped alert has a case here")
        for group in rules["groups"]:
            for rule in group["rules"]:
                # Annotations are templates checked by `check rules`; the cases compare labels.
                rule.pop("annotations", None)
        with tempfile.TemporaryDirectory() as tmp:
            stripped = os.path.join(tmp, "rules.yml")
            with open(stripped, "w") as f:
                yaml.safe_dump(rules, f)
            test_file = os.path.join(tmp, "test.yml")
            with open(test_file, "w") as f:
                f.write(RULES_TEST.replace("RULES", json.dumps(stripped)))
            out = subprocess.run([self.promtool, "test", "rules", test_file],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)


class grafana_dashboard_test(unittest.TestCase):
    def test_dashboard_queries_only_exported_metrics(self):
        with open(source("packaging", "grafana", "weir-dashboard.json")) as f:
            dashboard = json.load(f)
        with open(source("daemon", "metrics.cc")) as f:
            exported = set(re.findall(r'"((?:weir|process)_[a-z_]+)"', f.read()))
        exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
        self.assertGreaterEqual(len(exprs), 8)
        used = set()
        for expr in exprs:
            for name in re.findall(r"\b((?:weir|process)_[a-z_]+)", expr):
                # Histograms are queried through their _bucket/_sum/_count series.
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                self.assertTrue(name in exported or base in exported,
                                f"{name} in {expr!r} is not a metric weir exports")
                used.add(base if base in exported else name)
        for wanted in ["weir_input_records_total", "weir_check_failing",
                       "weir_checkpoint_last_success_timestamp_seconds",
                       "weir_watermark_timestamp_seconds", "weir_input_errors_total"]:
            self.assertIn(wanted, used)
        self.assertEqual(len({p["id"] for p in dashboard["panels"]}), len(dashboard["panels"]))
        # Groups are labels of their own: no query selects the composite label of old, and the
        # failing groups have a table of their own.
        for expr in exprs:
            self.assertNotRegex(expr, r"\bgroup=", expr)
        self.assertIn("Failing groups now", [p["title"] for p in dashboard["panels"]])

    def test_dashboard_queries_are_valid_promql(self):
        """Each query, with Grafana's variables filled in, parses as PromQL (promtool checks
        it as a recording rule)."""
        promtool = shutil.which("promtool")
        if not promtool:
            self.skipTest("promtool is not installed")
        with open(source("packaging", "grafana", "weir-dashboard.json")) as f:
            dashboard = json.load(f)
        rules = []
        for p in dashboard["panels"]:
            for t in p.get("targets", []):
                expr = t["expr"].replace("$__rate_interval", "5m")
                expr = re.sub(r"\$\w+", ".*", expr)
                rules.append({"record": f"weir:panel_{p['id']}_{t['refId']}", "expr": expr})
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "rules.json")
            with open(path, "w") as f:
                json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)
            out = subprocess.run([promtool, "check", "rules", path], capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertIn(f"SUCCESS: {len(rules)} rules found", out.stdout)


if __name__ == "__main__":
    unittest.main()
