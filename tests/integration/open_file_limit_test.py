"""A glob matching more files than weir may open: with its open-file limit lowered to 64, weir
follows 200 files, reads every line of every file exactly once (at start, as they grow, and
across a restart), says once that it keeps only some of them open, and its query never fails
and restarts."""
import collections
import json
import os
import resource
import signal
import subprocess
import tempfile
import time
import unittest

from weir_test_util import WEIR, log_excerpt

FILES = 200
OPEN_FILE_LIMIT = 64
WAIT_S = 120  # generous: a loaded machine, a sanitizer build

PIPELINE = """
inputs:
  app: {{type: file, path: "{glob}", follow: true, glob_interval: 200ms}}
nodes:
  copy:
    from: app
    outputs: [out]
outputs:
  out: {{type: file, path: "{out}", flush_interval: 50ms}}
"""


def lower_file_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILE_LIMIT, OPEN_FILE_LIMIT))


def record(file, seq):
    return json.dumps({"file": file, "seq": seq, "pad": "x" * (seq * 7 % 41)})


class open_file_limit_test(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.logs = os.path.join(self.dir, "logs")
        os.mkdir(self.logs)
        self.out = os.path.join(self.dir, "out.jsonl")
        self.config = os.path.join(self.dir, "p.yaml")
        with open(self.config, "w") as f:
            f.write(PIPELINE.format(glob=os.path.join(self.logs, "*.log"), out=self.out))
        self.written = collections.Counter()
        self.proc = None
        self.runs = 0

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)

    def start(self):
        self.runs += 1
        self.log_path = os.path.join(self.dir, f"log.{self.runs}")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [WEIR, "run", "--http-listen", "127.0.0.1:0", "--data-dir",
                 os.path.join(self.dir, "data"), self.config],
                stdout=subprocess.DEVNULL, stderr=log, preexec_fn=lower_file_limit)
        self.wait(lambda: "query p/copy running" in self.log(), "the query to run")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=WAIT_S), 0, log_excerpt(self.log()))
        self.proc = None

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def append_to_every_file(self, first, count):
        for k in range(FILES):
            with open(os.path.join(self.logs, f"f{k:03d}.log"), "a") as f:
                f.write("".join(record(k, i) + "\n" for i in range(first, first + count)))
            for i in range(first, first + count):
                self.written[record(k, i)] += 1

    def output(self):
        if not os.path.exists(self.out):
            return collections.Counter()
        with open(self.out) as f:
            lines = [line.rstrip("\n") for line in f if line.endswith("\n")]
        return collections.Counter(json.dumps(json.loads(line)) for line in lines)

    def wait(self, predicate, what):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                self.fail(f"weir exited with {self.proc.returncode} waiting for {what}:\n"
                          + log_excerpt(self.log()))
            if predicate():
                return
            if "restarting in" in self.log():
                self.fail(f"the query failed waiting for {what}:\n" + log_excerpt(self.log()))
            time.sleep(0.1)
        self.fail(f"timed out after {WAIT_S} s waiting for {what}\n" + log_excerpt(self.log()))

    def assert_every_line_once(self):
        try:
            self.wait(lambda: self.output() == self.written, "every written line in the output")
        finally:
            got = self.output()
            missing = self.written - got
            extra = got - self.written
            self.assertFalse(missing or extra,
                             f"lost {sum(missing.values())} lines, e.g. "
                             f"{sorted(missing.elements())[:3]}; read twice or invented "
                             f"{sum(extra.values())}, e.g. {sorted(extra.elements())[:3]}\n"
                             + log_excerpt(self.log()))

    def assert_never_restarted(self):
        self.assertNotIn("restarting in", self.log())
        self.assertNotIn("Too many open files", self.log())

    def test_a_glob_matching_more_files_than_the_open_file_limit(self):
        self.append_to_every_file(0, 20)
        self.start()
        self.assert_every_line_once()
        self.assertIn("than the 16 this input keeps open", self.log())
        self.assertIn("closed and reopened at their positions", self.log())

        # Every file grows, the closed ones too.
        self.append_to_every_file(20, 5)
        self.assert_every_line_once()
        self.assert_never_restarted()
        self.stop()

        # The positions of closed files are checkpointed as those of open ones.
        self.append_to_every_file(25, 5)
        self.start()
        self.assert_every_line_once()
        self.append_to_every_file(30, 3)
        self.assert_every_line_once()
        self.assert_never_restarted()
        self.stop()


if __name__ == "__main__":
    unittest.main()
