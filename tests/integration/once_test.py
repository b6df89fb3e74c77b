"""`weir run --once` as a data test (docs/pipelines.md, "weir in CI"): the exit code from the
outcomes (--fail-on), the summary on stderr, and runs that touch nothing of an installed
daemon: no HTTP server and no checkpoint unless asked, so two runs of the same file give the
same results, as a normal user, beside a daemon that holds the port and the data dir."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from weir_test_util import WEIR, log_excerpt, source, wait_for, weir, weir_process

EXIT_OK, EXIT_FAILURE, EXIT_WARN, EXIT_FAIL, EXIT_USAGE = 0, 1, 2, 3, 64

# 2026-11-20T10:00:00Z; three 10 s windows holding 10, 10 and 3 records (the last one closes
# at the end of the input).
START_MS = 1_795_168_800_000
COUNTS = (10, 10, 3)

PIPELINE = """pipeline: {name}
inputs:
  events: {{type: {input}}}
nodes:
  quality:
    from: events
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: volume, measure: count(), must_be: "{must_be}", should_be: "{should_be}"}}
      - {{name: mean_temp, measure: mean(temperature), must_be: "[0, 100]"}}
      - {{name: max_temp, measure: max(temperature), should_be: "<= 100"}}
    outputs: [results]
outputs:
  results: {results}
"""


def format_ms(ms):
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def write_events(path, temperature=20):
    with open(path, "w") as f:
        for window, n in enumerate(COUNTS):
            for i in range(n):
                ts = START_MS + window * 10_000 + i * 500
                f.write(json.dumps({"ts": format_ms(ts), "temperature": temperature}) + "\n")
    os.chmod(path, 0o644)


def read_results(path):
    """The results without emitted_at (the wall clock), by id."""
    out = {}
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            r.pop("emitted_at")
            out[r["id"]] = r
    return out


def without_weir_env():
    """The environment without WEIR_* variables (the test runner sets WEIR_HTTP_LISTEN, which
    asks for an HTTP server as --http-listen does)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("WEIR_")}


def as_normal_user():
    """The command prefix that drops root (the test may run as root), else nothing."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


def listening_sockets(pid):
    """How many TCP sockets the process holds in the LISTEN state."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    for fd in os.listdir(fd_dir):
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    listening = 0
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                        listening += 1
        except FileNotFoundError:
            pass
    return listening


class once_test(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.data = os.path.join(self.dir, "events.jsonl")
        write_events(self.data)

    def pipeline(self, name, must_be="> 5", should_be="> 8", results=None, input="file",
                 output=None):
        """A pipeline file NAME.yaml writing its results to NAME.jsonl (or `results`, or the
        output `output`), reading the events file (or `input`)."""
        path = os.path.join(self.dir, name + ".yaml")
        if input == "file":
            input = f'file, path: "{self.data}"'
        results = results or os.path.join(self.dir, name + ".jsonl")
        output = output or f'{{type: file, path: "{results}"}}'
        with open(path, "w") as f:
            f.write(PIPELINE.format(name=name, input=input, must_be=must_be, should_be=should_be,
                                    results=output))
        os.chmod(path, 0o644)
        return path

    def once(self, *args, env=None):
        return weir("run", "--once", *args, env=env, timeout=120)

    def test_fail_on_sets_the_exit_code_from_the_outcomes(self):
        # volume is 10, 10, 3: "> 1" passes all three; should_be "> 5" warns on the third;
        # must_be "> 5" fails it.
        passing = self.pipeline("passing", must_be="> 1", should_be="> 1")
        warning = self.pipeline("warning", must_be="> 1", should_be="> 5")
        failing = self.pipeline("failing", must_be="> 5", should_be="> 8")
        want = {
            passing: {None: EXIT_OK, "never": EXIT_OK, "warn": EXIT_OK, "fail": EXIT_OK},
            warning: {None: EXIT_OK, "never": EXIT_OK, "warn": EXIT_WARN, "fail": EXIT_OK},
            failing: {None: EXIT_FAIL, "never": EXIT_OK, "warn": EXIT_FAIL, "fail": EXIT_FAIL},
        }
        for path, by_policy in want.items():
            for policy, code in by_policy.items():
                with self.subTest(pipeline=os.path.basename(path), fail_on=policy):
                    args = [] if policy is None else ["--fail-on", policy]
                    rc, _, err = self.once(*args, path)
                    self.assertEqual(rc, code, log_excerpt(err))
                    # Every run wrote its nine results, whatever the exit code.
                    results = read_results(path[:-len(".yaml")] + ".jsonl")
                    self.assertEqual(len(results), 9)

    def test_the_summary_lists_the_failing_results_on_stderr(self):
        # Results on stdout (the console output) stay clean: the summary goes to stderr.
        path = self.pipeline("summary", must_be="> 5", should_be="> 10",
                             output="{type: console, format: json, target: stdout}")
        rc, out, err = self.once(path)
        self.assertEqual(rc, EXIT_FAIL, log_excerpt(err))
        lines = out.splitlines()
        self.assertEqual(len(lines), 9, out)
        for line in lines:
            self.assertEqual(json.loads(line)["pipeline"], "summary")
        self.assertNotIn("weir:", out)
        # volume is 10, 10, 3: two warns (should_be "> 10"), then a fail (must_be "> 5"),
        # listed fails first.
        window = [format_ms(START_MS + w * 10_000)[:19] + "Z (10 s)" for w in range(3)]
        self.assertIn(
            "weir: --once: 3 checks, 3 windows, 9 results: 6 pass, 2 warn, 1 fail, 0 no_data\n"
            f"weir: fail summary/quality/volume {window[2]}: 3 (must be > 5)\n"
            f"weir: warn summary/quality/volume {window[0]}: 10 (should be > 10)\n"
            f"weir: warn summary/quality/volume {window[1]}: 10 (should be > 10)\n"
            "weir: exit 3: 1 fail result (--fail-on fail)\n", err)
        self.assertNotIn("max_temp window", err)

    def test_no_data_and_checks_without_results_do_not_change_the_exit_code(self):
        # Temperatures absent: mean() has no data; an empty input closes no window at all.
        with open(self.data, "w") as f:
            for i in range(4):
                f.write(json.dumps({"ts": format_ms(START_MS + i * 1000)}) + "\n")
        path = self.pipeline("no_data", must_be="> 1", should_be="> 1")
        rc, _, err = self.once(path)
        self.assertEqual(rc, EXIT_OK, log_excerpt(err))
        self.assertIn("weir: --once: 3 checks, 1 window, 3 results: 1 pass, 0 warn, 0 fail, "
                      "2 no_data\n", err)
        open(self.data, "w").close()
        rc, _, err = self.once(path)
        self.assertEqual(rc, EXIT_OK, log_excerpt(err))
        self.assertIn("weir: --once: 3 checks, 0 windows, 0 results:", err)
        self.assertIn("weir: no result from no_data/quality/volume: no window closed", err)

    def test_flags_that_need_once_or_a_checkpoint_are_usage_errors(self):
        path = self.pipeline("usage")
        for args in (["run", "--fail-on", "warn", path], ["run", "--resume", path],
                     ["run", "--once", "--fail-on", "sometimes", path],
                     ["run", "--once", "--reset-checkpoint", "usage/quality", path]):
            with self.subTest(args=args):
                rc, _, err = weir(*args, env=without_weir_env(), timeout=60)
                self.assertEqual(rc, EXIT_USAGE, log_excerpt(err, 2000))

    def test_resume_and_data_dir_keep_checkpoints(self):
        path = self.pipeline("resumed")
        data_dir = os.path.join(self.dir, "data")
        settings = os.path.join(self.dir, "weir.yaml")
        with open(settings, "w") as f:
            f.write(f'data_dir: "{data_dir}"\n')
        ckpt = os.path.join(data_dir, "checkpoints", "resumed", "quality.ckpt")
        # The settings file's data_dir alone does not make --once keep checkpoints.
        rc, _, err = self.once(settings, path, env=without_weir_env())
        self.assertEqual(rc, EXIT_FAIL, log_excerpt(err))
        self.assertFalse(os.path.exists(data_dir))
        rc, _, err = self.once("--resume", settings, path, env=without_weir_env())
        self.assertEqual(rc, EXIT_FAIL, log_excerpt(err))
        self.assertTrue(os.path.exists(ckpt))
        # Resumed: the input is read to its end already, so nothing new and all pass.
        rc, _, err = self.once("--resume", settings, path, env=without_weir_env())
        self.assertEqual(rc, EXIT_OK, log_excerpt(err))
        self.assertIn("0 windows, 0 results", err)
        other = os.path.join(self.dir, "other")
        rc, _, err = self.once("--data-dir", other, path, env=without_weir_env())
        self.assertEqual(rc, EXIT_FAIL, log_excerpt(err))
        self.assertTrue(os.path.exists(os.path.join(other, "checkpoints", "resumed",
                                                    "quality.ckpt")))

    def test_two_runs_beside_a_running_daemon_give_the_same_results(self):
        # The installed daemon: its own data dir and an OS-chosen port, running a pipeline of
        # its own.
        daemon_dir = os.path.join(self.dir, "daemon")
        os.mkdir(daemon_dir)
        daemon_data = os.path.join(daemon_dir, "data")
        served = os.path.join(daemon_dir, "served.yaml")
        with open(served, "w") as f:
            f.write(PIPELINE.format(name="served", input=f'file, path: "{self.data}", '
                                    'follow: true', must_be="> 5", should_be="> 8",
                                    results="{type: console, target: stderr}"))
        daemon = weir_process(self, daemon_dir, ["--log-level", "debug", served])
        port = daemon.wait_port()
        wait_for(lambda: os.path.exists(os.path.join(daemon_data, "checkpoints", "served")), 60,
                 "the daemon's first checkpoint")

        # The CI job's files, where a normal user can read and write; its settings file is the
        # installed daemon's (the port and the data dir it holds), as /etc/weir/weir.yaml is.
        ci = os.path.join(self.dir, "ci")
        os.mkdir(ci)
        os.chmod(self.dir, 0o755)
        os.chmod(ci, 0o777)
        settings = os.path.join(ci, "weir.yaml")
        with open(settings, "w") as f:
            f.write(f'data_dir: "{daemon_data}"\nhttp: {{listen: "127.0.0.1:{port}"}}\n')
        os.chmod(settings, 0o644)
        results = os.path.join(ci, "results.jsonl")
        path = self.pipeline("batch", must_be="> 5", should_be="> 8", results=results)
        shutil.move(path, os.path.join(ci, "batch.yaml"))
        path = os.path.join(ci, "batch.yaml")

        runs = []
        for attempt in range(2):
            if os.path.exists(results):
                os.remove(results)
            p = subprocess.run([*as_normal_user(), WEIR, "run", "--once", settings, path],
                               capture_output=True, text=True, timeout=120,
                               env=without_weir_env(), cwd=ci)
            self.assertEqual(p.returncode, EXIT_FAIL, log_excerpt(p.stderr))
            self.assertNotIn("HTTP server on", p.stderr)
            self.assertIn("no checkpoint is read or written", p.stderr)
            self.assertIn("weir: exit 3: 1 fail result", p.stderr)
            runs.append(read_results(results))
        self.assertEqual(len(runs[0]), 9)
        self.assertEqual(runs[0], runs[1])
        # Nothing of the batch pipeline in the daemon's data dir; the daemon still serves.
        self.assertFalse(os.path.exists(os.path.join(daemon_data, "checkpoints", "batch")))
        self.assertIsNone(daemon.proc.poll(), log_excerpt(daemon.log_text()))
        self.assertEqual(daemon.stop(), EXIT_OK, log_excerpt(daemon.log_text()))

    def test_once_opens_no_listening_socket(self):
        # stdin keeps the run going until the test has looked at its sockets.
        path = self.pipeline("sockets", input="stdin")
        log_path = os.path.join(self.dir, "once.log")
        with open(log_path, "w") as log, open(self.data) as data:
            p = subprocess.Popen([WEIR, "run", "--once", path], stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=log, text=True,
                                 env=without_weir_env())
            self.addCleanup(lambda: p.poll() is None and p.kill())

            def running():
                with open(log_path) as f:
                    return "query sockets/quality running" in f.read() or p.poll() is not None
            wait_for(running, 60, "the query to start")
            self.assertIsNone(p.poll())
            self.assertEqual(listening_sockets(p.pid), 0)
            p.stdin.write(data.read())
            p.stdin.close()
            self.assertEqual(p.wait(timeout=120), EXIT_FAIL)
        with open(log_path) as f:
            err = f.read()
        self.assertNotIn("HTTP server on", err)
        self.assertIn("weir: --once: 3 checks, 3 windows, 9 results", err)

        # Asked for, it listens.
        rc, _, err = self.once("--http-listen", "127.0.0.1:0", "--fail-on", "never",
                               self.pipeline("asked"), env=without_weir_env())
        self.assertEqual(rc, EXIT_OK, log_excerpt(err))
        self.assertIn("HTTP server on 127.0.0.1:", err)


class ci_example_test(unittest.TestCase):
    """The example of docs/pipelines.md, "weir in CI", as a CI job runs it."""

    def section(self):
        with open(source("docs", "pipelines.md"), encoding="utf-8") as f:
            text = f.read()
        start = text.index("### weir in CI\n")
        return text[start:text.index("\n### ", start + 1)]

    def test_the_documented_ci_step_gates_on_the_checks(self):
        section = self.section()
        pipeline = re.search(r"^```yaml\n(.*?)^```", section, re.S | re.M)[1]
        step = re.search(r"^```sh\n(.*?)^```", section, re.S | re.M)[1]
        with tempfile.TemporaryDirectory() as job:
            os.makedirs(os.path.join(job, "ci"))
            os.makedirs(os.path.join(job, "build"))
            with open(os.path.join(job, "ci", "export_checks.yaml"), "w") as f:
                f.write(pipeline)

            def export(missing_every):
                with open(os.path.join(job, "build", "export.jsonl"), "w") as f:
                    for i in range(3600):  # 1200 records an hour, for three hours
                        rec = {"ts": format_ms(START_MS + i * 3000), "amount": i % 500}
                        if missing_every == 0 or i % missing_every:
                            rec["customer_id"] = f"c-{i % 97}"
                        f.write(json.dumps(rec) + "\n")

            def run_step():
                p = subprocess.run(["bash", "-e", "-c", step.replace("weir ", f"{WEIR} ")],
                                   capture_output=True, text=True, timeout=120, cwd=job,
                                   env=without_weir_env())
                return p.returncode, p.stderr

            export(missing_every=0)
            rc, err = run_step()
            self.assertEqual(rc, EXIT_OK, log_excerpt(err))
            self.assertIn("weir: --once: 3 checks, 3 windows, 9 results: 9 pass", err)
            with open(os.path.join(job, "build", "weir-results.jsonl")) as f:
                self.assertEqual(len(f.read().splitlines()), 9)
            export(missing_every=20)  # 5 % without a customer
            rc, err = run_step()
            self.assertEqual(rc, EXIT_FAIL, log_excerpt(err))
            self.assertIn("weir: fail export_checks/quality/completeness 2026-", err)


if __name__ == "__main__":
    unittest.main()
