"""Checkpoints and the data dir, the real binary: a checkpoint of another plan (left by a crash
right after a reload, or by a change while weir was stopped) keeps the input positions; only a
regular file of bounded size is read as a checkpoint; nothing planted in the data dir steers
what weir writes, and a data dir other users can change is refused; --reset-checkpoint removes
only the checkpoint of a configured query and says what it removed; a final checkpoint that
cannot be written fails the exit, after every query wrote its results."""
import ctypes
import json
import os
import signal
import subprocess
import tempfile
import time
import unittest

from weir_test_util import WEIR, http_get, http_port, log_excerpt, wait_for, weir

START_EPOCH = 1795168800  # 2026-11-20T10:00:00Z

PIPELINE = """
pipeline: files
inputs:
  events: {{type: file, path: {events}, follow: {follow}}}
nodes:
  quality:
    from: events
    time: {{field: ts, format: epoch_s}}
    window: {{type: tumbling, size: {size}}}
    checks: [{{name: volume, measure: count(), must_be: "> 0"}}]
    outputs: [results]
outputs:
  results: {{type: file, path: {results}, flush_interval: 100ms}}
"""


def append_events(path, first, count):
    """`count` records, one a second of event time from START_EPOCH + first."""
    with open(path, "a") as f:
        for i in range(first, first + count):
            f.write(json.dumps({"ts": START_EPOCH + i, "seq": i}) + "\n")


def read_results(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.endswith("\n")]


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def run_bounded(test, args, timeout=60, max_rss=1 << 30):
    """weir ARGS, killed (and the test failed) if it takes longer than `timeout` or grows past
    `max_rss` bytes of memory; returns (exit code, stderr)."""
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen([WEIR, *args], stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        problem = None
        while p.poll() is None:
            if rss_bytes(p.pid) > max_rss:
                problem = f"weir grew past {max_rss} bytes of memory"
            elif time.monotonic() > deadline:
                problem = f"weir did not end within {timeout} s"
            if problem:
                p.kill()
                p.wait()
                break
            time.sleep(0.05)
        err.seek(0)
        text = err.read()
    if problem:
        test.fail(problem + ":\n" + log_excerpt(text))
    return p.returncode, text


def without_file_privileges():
    """For a child run as root: no CAP_DAC_OVERRIDE nor CAP_DAC_READ_SEARCH after its exec, so
    that a directory's mode binds it as it binds any user (a read-only data dir stays
    read-only)."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    pr_capbset_drop, cap_dac_override, cap_dac_read_search = 24, 1, 2
    for cap in (cap_dac_override, cap_dac_read_search):
        if libc.prctl(pr_capbset_drop, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


class daemon:
    """`weir run` in the background with its log in `log_path`."""

    def __init__(self, test, args, log_path, preexec_fn=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        test.addCleanup(self.log.close)
        self.proc = subprocess.Popen([WEIR, "run", "--http-listen", "127.0.0.1:0", *args],
                                     stdout=subprocess.DEVNULL, stderr=self.log,
                                     preexec_fn=preexec_fn)
        test.addCleanup(self.kill)
        wait_for(lambda: http_port(log_path) is not None or self.proc.poll() is not None, 60,
                 "the HTTP server")
        test.assertIsNone(self.proc.poll(), log_excerpt(self.log_text()))
        self.base = f"http://127.0.0.1:{http_port(log_path)}"

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def query(self, key="files/quality"):
        """The query's entry of /api/v1/status, or {}."""
        status, body = http_get(self.base + "/api/v1/status", timeout=5)
        if status != 200:
            return {}
        for q in json.loads(body)["queries"]:
            if f"{q['pipeline']}/{q['query']}" == key:
                return q
        return {}

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class checkpoint_store_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.addCleanup(self.tmp.cleanup)
        self.events = os.path.join(self.dir, "events.jsonl")
        self.results = os.path.join(self.dir, "results.jsonl")
        self.data = os.path.join(self.dir, "data")
        self.config = os.path.join(self.dir, "files.yaml")
        self.settings = os.path.join(self.dir, "weir.yaml")
        self.ckpt = os.path.join(self.data, "checkpoints", "files", "quality.ckpt")
        self.write_settings("10s")

    def write_settings(self, interval):
        with open(self.settings, "w") as f:
            f.write(f"checkpoint: {{interval: {interval}}}\n")

    def write_pipeline(self, size="10s", follow="false"):
        with open(self.config, "w") as f:
            f.write(PIPELINE.format(events=self.events, results=self.results, size=size,
                                    follow=follow))

    def once(self, *extra, timeout=120):
        return weir("run", "--once", "--fail-on", "never", "--data-dir", self.data,
                    "--http-listen", "127.0.0.1:0",
                    *extra, self.settings, self.config, timeout=timeout)

    def first_run(self):
        """Writes the pipeline and runs it once over 100 records: a checkpoint exists."""
        append_events(self.events, 0, 100)
        self.write_pipeline()
        rc, _, err = self.once()
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertTrue(os.path.isfile(self.ckpt))

    # ---- a checkpoint of another plan ----

    def test_a_crash_just_after_a_plan_changing_reload_keeps_the_input_position(self):
        # No checkpoint but the ones a reload and a stop write.
        self.write_settings("1h")
        append_events(self.events, 0, 100)
        self.write_pipeline(size="10s", follow="true")
        args = ["--data-dir", self.data, self.settings, self.config]
        d = daemon(self, args, os.path.join(self.dir, "first.log"))
        wait_for(lambda: d.query().get("input_records") == 100, 60, "the 100 records read")

        # What the query measures changes: the reload restarts it without its open windows.
        self.write_pipeline(size="20s", follow="true")
        d.proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload done" in d.log_text() or d.proc.poll() is not None, 60,
                 "the reload")
        self.assertIn("reload: restarting query files/quality", d.log_text())
        # The restarted query writes a checkpoint of its new plan at once, not an interval
        # (an hour) later.
        wait_for(lambda: d.query().get("checkpoints", 0) >= 1 or d.proc.poll() is not None, 60,
                 "the restarted query's first checkpoint")
        self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
        d.proc.kill()
        d.proc.wait()

        d = daemon(self, args, os.path.join(self.dir, "second.log"))
        wait_for(lambda: any(s in d.log_text() for s in ("resumed from", "plan", "failed")) or
                 d.proc.poll() is not None, 60, "the query to start")
        # The query's state once its start is over (it logs before it says running).
        wait_for(lambda: d.query().get("state") in ("running", "degraded", "failed"), 60,
                 "the query's start to end")
        log = d.log_text()
        self.assertNotIn("different plan", log)
        self.assertIn("query files/quality resumed from", log)
        self.assertEqual(d.query()["state"], "running", log_excerpt(log))
        # Where the file was read to holds: only what is appended now is read.
        append_events(self.events, 100, 10)
        wait_for(lambda: d.query().get("input_records", 0) >= 10, 60, "the 10 new records")
        self.assertEqual(d.query()["input_records"], 10)
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.proc.wait(timeout=120), 0, log_excerpt(d.log_text()))

    def test_a_checkpoint_of_another_plan_at_start_keeps_the_input_position(self):
        self.first_run()
        before = len(read_results(self.results))
        with open(self.ckpt, "rb") as f:
            old = f.read()
        # While weir is stopped, the window changes and more records arrive.
        self.write_pipeline(size="20s")
        append_events(self.events, 100, 30)
        rc, _, err = self.once()
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertRegex(
            err, r"query files/quality: checkpoint \S+quality\.ckpt was written for another "
                 r"plan of this query \([0-9a-f]+ -> [0-9a-f]+: what it measures changed while "
                 r"weir was stopped\); its open windows were dropped .*inputs: \"events\" "
                 r"resumes where it was")
        new = read_results(self.results)[before:]
        # Only the 30 new records are counted, in the new plan's windows.
        self.assertEqual(sum(r["records"] for r in new), 30, new)
        with open(self.ckpt, "rb") as f:
            self.assertNotEqual(f.read(), old, "a checkpoint of the new plan")
        # And the next start resumes that one as it is.
        rc, _, err = self.once()
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertIn("query files/quality resumed from", err)
        self.assertNotIn("another plan", err)

    # ---- only regular files of bounded size ----

    def test_a_fifo_in_place_of_a_checkpoint_is_refused(self):
        self.first_run()
        os.unlink(self.ckpt)
        os.mkfifo(self.ckpt)
        rc, err = run_bounded(self, ["run", "--once", "--fail-on", "never", "--data-dir",
                                     self.data, "--http-listen",
                                     "127.0.0.1:0", self.settings, self.config])
        self.assertEqual(rc, 1, log_excerpt(err))
        self.assertIn(self.ckpt + ": a checkpoint must be a regular file, this is a FIFO", err)
        self.assertIn("--reset-checkpoint files/quality", err)
        rc, err = run_bounded(self, ["checkpoint", "inspect", self.ckpt])
        self.assertEqual(rc, 1, err)
        self.assertIn("a checkpoint must be a regular file, this is a FIFO", err)
        # The way out the message gives works.
        rc, _, err = self.once("--reset-checkpoint", "files/quality")
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertTrue(os.path.isfile(self.ckpt))

    def test_dev_zero_in_place_of_a_checkpoint_is_refused(self):
        self.first_run()
        os.unlink(self.ckpt)
        os.symlink("/dev/zero", self.ckpt)
        rc, err = run_bounded(self, ["run", "--once", "--fail-on", "never", "--data-dir",
                                     self.data, "--http-listen",
                                     "127.0.0.1:0", self.settings, self.config])
        self.assertEqual(rc, 1, log_excerpt(err))
        self.assertIn(self.ckpt + ": a checkpoint must be a regular file, this is a symbolic "
                      "link", err)
        rc, err = run_bounded(self, ["checkpoint", "inspect", "/dev/zero"])
        self.assertEqual(rc, 1, err)
        self.assertIn("/dev/zero: a checkpoint must be a regular file, this is a character "
                      "device", err)

    def test_a_checkpoint_larger_than_the_cap_is_refused(self):
        self.first_run()
        # Sparse: 4 GiB and a byte, without the disk space.
        with open(self.ckpt, "r+b") as f:
            f.truncate((4 << 30) + 1)
        rc, err = run_bounded(self, ["run", "--once", "--fail-on", "never", "--data-dir",
                                     self.data, "--http-listen",
                                     "127.0.0.1:0", self.settings, self.config])
        self.assertEqual(rc, 1, log_excerpt(err))
        self.assertIn(f"{self.ckpt}: {(4 << 30) + 1} bytes, more than the largest checkpoint "
                      f"weir reads ({4 << 30} bytes)", err)
        rc, err = run_bounded(self, ["checkpoint", "inspect", self.ckpt])
        self.assertEqual(rc, 1, err)
        self.assertIn("more than the largest checkpoint weir reads", err)

    # ---- nothing planted steers a write ----

    def test_a_symlink_planted_at_the_temporary_checkpoint_is_not_followed(self):
        self.first_run()
        victim = os.path.join(self.dir, "precious")
        with open(victim, "w") as f:
            f.write("precious\n")
        os.symlink(victim, self.ckpt + ".tmp")
        append_events(self.events, 100, 10)
        rc, _, err = self.once()
        self.assertEqual(rc, 0, log_excerpt(err))
        with open(victim, "rb") as f:
            self.assertEqual(f.read(), b"precious\n", "the link's target was written")
        self.assertIn(self.ckpt + ".tmp: a symbolic link where weir writes its temporary "
                      "checkpoint: removed, not followed", err)
        self.assertFalse(os.path.islink(self.ckpt))
        self.assertFalse(os.path.lexists(self.ckpt + ".tmp"))
        rc, out, err = weir("checkpoint", "inspect", self.ckpt)
        self.assertEqual(rc, 0, err)

    def test_a_symlinked_checkpoint_directory_is_refused(self):
        self.first_run()
        elsewhere = os.path.join(self.dir, "elsewhere")
        os.rename(os.path.dirname(self.ckpt), elsewhere)
        os.symlink(elsewhere, os.path.dirname(self.ckpt))
        rc, _, err = self.once()
        self.assertEqual(rc, 1, log_excerpt(err))
        self.assertIn(os.path.dirname(self.ckpt) + ": expected a directory, found a symbolic "
                      "link (weir follows no symbolic link below its data dir)", err)

    def test_a_data_dir_writable_by_others_is_refused(self):
        append_events(self.events, 0, 10)
        self.write_pipeline()
        os.mkdir(self.data)
        os.chmod(self.data, 0o777)
        rc, _, err = self.once()
        self.assertEqual(rc, 78, log_excerpt(err))
        self.assertIn(f"weir: data dir {self.data}: every user may write to it (mode 0777) and "
                      "it has no sticky bit, so other users could plant files where weir writes "
                      "its checkpoints", err)
        self.assertFalse(os.path.exists(os.path.join(self.data, "checkpoints")))
        self.assertEqual(read_results(self.results), [], "nothing ran")
        # With the sticky bit, others cannot touch weir's files: accepted, and what weir makes
        # inside is its own.
        os.chmod(self.data, 0o1777)
        rc, _, err = self.once()
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertEqual(os.stat(os.path.join(self.data, "checkpoints")).st_mode & 0o007, 0,
                         "created for weir's user and group only")
        # A directory below it that everyone may write to is refused where it is used.
        os.chmod(os.path.dirname(self.ckpt), 0o777)
        rc, _, err = self.once()
        self.assertEqual(rc, 1, log_excerpt(err))
        self.assertIn(os.path.dirname(self.ckpt) + ": every user may write to it (mode 0777)",
                      err)

    @unittest.skipUnless(os.geteuid() == 0, "only root can give a directory to another user")
    def test_a_data_dir_owned_by_another_user_is_refused(self):
        append_events(self.events, 0, 10)
        self.write_pipeline()
        os.mkdir(self.data, 0o700)
        os.chown(self.data, 65534, 65534)
        rc, _, err = self.once()
        self.assertEqual(rc, 78, log_excerpt(err))
        self.assertIn(f"weir: data dir {self.data}: it belongs to uid 65534, not to uid 0 that "
                      "weir runs as", err)

    # ---- --reset-checkpoint ----

    def test_reset_checkpoint_removes_only_a_configured_querys_checkpoint(self):
        self.first_run()
        # A path, not a name: the file it would reach stays.
        victim = os.path.join(self.dir, "victim", "precious.ckpt")
        os.makedirs(os.path.dirname(victim))
        with open(victim, "w") as f:
            f.write("precious\n")
        os.makedirs(os.path.join(self.data, "checkpoints", "good"))
        rc, _, err = self.once("--reset-checkpoint", "good/../../../victim/precious")
        self.assertEqual(rc, 64, log_excerpt(err))
        self.assertIn("--reset-checkpoint good/../../../victim/precious: no such query; "
                      "expected PIPELINE/QUERY, one of: files/quality", err)
        self.assertTrue(os.path.exists(victim))
        # A mistyped name removes nothing and says so; nothing runs.
        rc, _, err = self.once("--reset-checkpoint", "files/qualty")
        self.assertEqual(rc, 64, log_excerpt(err))
        self.assertIn("--reset-checkpoint files/qualty: no such query", err)
        self.assertNotIn("starts afresh", err)
        self.assertTrue(os.path.isfile(self.ckpt))
        # The right name: the log names the file removed.
        rc, _, err = self.once("--reset-checkpoint", "files/quality")
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertIn(f"--reset-checkpoint files/quality: removed {self.ckpt}: the query starts "
                      "afresh", err)
        # Nothing to remove: said as it is.
        os.unlink(self.ckpt)
        rc, _, err = self.once("--reset-checkpoint", "files/quality")
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertIn(f"--reset-checkpoint files/quality: there was no checkpoint ({self.ckpt})",
                      err)

    # ---- a final checkpoint that cannot be written ----

    def three_queries(self):
        """Three queries over files of 10, 20 000 and 20 000 records: the first finishes long
        before the others."""
        sizes = {"small": 10, "large": 20000, "larger": 20000}
        nodes, inputs, outputs = [], [], []
        for name, count in sizes.items():
            path = os.path.join(self.dir, name + ".jsonl")
            append_events(path, 0, count)
            inputs.append(f"  {name}_in: {{type: file, path: {path}, follow: false}}")
            nodes.append(f"""  {name}:
    from: {name}_in
    time: {{field: ts, format: epoch_s}}
    window: {{type: tumbling, size: 10s}}
    checks: [{{name: volume, measure: count(), must_be: "> 0"}}]
    outputs: [{name}_out]""")
            outputs.append(f"  {name}_out: {{type: file, path: "
                           f"{os.path.join(self.dir, name + '.results.jsonl')}}}")
        with open(self.config, "w") as f:
            f.write("pipeline: files\ninputs:\n" + "\n".join(inputs) + "\nnodes:\n" +
                    "\n".join(nodes) + "\noutputs:\n" + "\n".join(outputs) + "\n")
        return sizes

    def read_only_data_dir(self):
        os.mkdir(self.data)
        os.chmod(self.data, 0o555)
        self.addCleanup(os.chmod, self.data, 0o755)

    def test_a_read_only_data_dir_fails_once_only_after_every_query_wrote_its_results(self):
        sizes = self.three_queries()
        self.read_only_data_dir()
        p = subprocess.run([WEIR, "run", "--once", "--fail-on", "never", "--data-dir", self.data,
                            "--http-listen",
                            "127.0.0.1:0", self.settings, self.config], capture_output=True,
                           text=True, timeout=300, preexec_fn=without_file_privileges)
        # Every query wrote all its results, whichever finished first.
        for name, count in sizes.items():
            results = read_results(os.path.join(self.dir, name + ".results.jsonl"))
            self.assertEqual(sum(r["records"] for r in results), count, name)
        self.assertEqual(p.returncode, 1, log_excerpt(p.stderr))
        for name in sizes:
            self.assertIn(f"weir: query files/{name}: the final checkpoint was not written",
                          p.stderr)
        self.assertIn("Permission denied", p.stderr)
        self.assertNotIn(") failed:", p.stderr)

    def test_a_final_checkpoint_that_fails_at_sigterm_exits_non_zero(self):
        append_events(self.events, 0, 100)
        self.write_pipeline(follow="true")
        self.read_only_data_dir()
        d = daemon(self, ["--data-dir", self.data, self.settings, self.config],
                   os.path.join(self.dir, "weir.log"), preexec_fn=without_file_privileges)
        wait_for(lambda: d.query().get("input_records") == 100, 60, "the 100 records read")
        d.proc.send_signal(signal.SIGTERM)
        self.assertEqual(d.proc.wait(timeout=120), 1, log_excerpt(d.log_text()))
        log = d.log_text()
        self.assertIn("weir: query files/quality: the final checkpoint was not written", log)
        self.assertIn("Permission denied", log)
        # The outputs were flushed all the same.
        self.assertTrue(read_results(self.results))


if __name__ == "__main__":
    unittest.main()
