"""The file input following files like `tail -F`, the real binary: rotation by rename,
copytruncate, partial last lines, an inode reused by a different file, and restarts in the middle
of each. A node without checks copies every record to a file output, so the output must hold
exactly the lines written: none lost, none read twice."""
import collections
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

from weir_test_util import WEIR, log_excerpt

PIPELINE = """
inputs:
  app: {{type: file, path: {path}, follow: true, rotate_wait: 1s,
        glob_interval: {glob_interval}}}
nodes:
  copy:
    from: app
    outputs: [out]
outputs:
  out: {{type: file, path: {out}, flush_interval: 50ms}}
"""

WAIT_S = 15  # the longest any single step may take


def record(case, seq):
    # Lengths vary so line boundaries fall anywhere in a read.
    return json.dumps({"case": case, "seq": seq, "pad": "x" * (seq * 7 % 41)})


class file_input_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name
        self.logs = os.path.join(self.dir, "logs")
        os.mkdir(self.logs)
        self.app = os.path.join(self.logs, "app.log")
        self.out = os.path.join(self.dir, "out.jsonl")
        self.data = os.path.join(self.dir, "data")
        self.written = collections.Counter()
        self.proc = None
        self.runs = 0
        self.configure(self.app)

    def tearDown(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def configure(self, path, glob_interval="200ms"):
        self.config = os.path.join(self.dir, "p.yaml")
        with open(self.config, "w") as f:
            f.write(PIPELINE.format(path=path, out=self.out, glob_interval=glob_interval))

    # ----- the daemon

    def start(self):
        self.runs += 1
        self.log_path = os.path.join(self.dir, f"log.{self.runs}")
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [WEIR, "run", "--http-listen", "127.0.0.1:0", "--data-dir", self.data,
                 self.config], stdout=subprocess.DEVNULL, stderr=log)
        self.wait(lambda: "query p/copy running" in self.log(), "the query to run")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.assertEqual(self.proc.wait(timeout=30), 0, self.log())
        self.proc = None

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    # ----- writing and checking

    def append(self, path, case, first, count, handle=None):
        text = "".join(record(case, i) + "\n" for i in range(first, first + count))
        if handle is None:
            with open(path, "a") as f:
                f.write(text)
        else:
            handle.write(text)
            handle.flush()
        for i in range(first, first + count):
            self.written[record(case, i)] += 1

    def output(self):
        if not os.path.exists(self.out):
            return collections.Counter()
        with open(self.out) as f:
            lines = [line.rstrip("\n") for line in f if line.endswith("\n")]
        # Canonical form: the output may re-serialise a record.
        return collections.Counter(json.dumps(json.loads(line)) for line in lines)

    def wait(self, predicate, what, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                self.fail(f"weir exited with {self.proc.returncode} waiting for {what}:\n"
                          + log_excerpt(self.log()))
            if predicate():
                return
            time.sleep(0.05)
        self.fail(f"timed out after {timeout} s waiting for {what}")

    def assert_output_is_written(self, settle=0.3):
        """Waits until the output holds every written line, then a little longer: a line read
        twice would show up after the last missing one."""
        try:
            self.wait(lambda: self.output() == self.written, "every written line in the output")
        except AssertionError:
            self.assert_exact()  # says what is lost or doubled
            raise
        time.sleep(settle)
        self.assert_exact()

    def assert_exact(self):
        got = self.output()
        missing = self.written - got
        extra = got - self.written
        self.assertFalse(missing or extra,
                         f"lost {sorted(missing.elements())[:10]} ({sum(missing.values())}), "
                         f"read twice or invented {sorted(extra.elements())[:10]} "
                         f"({sum(extra.values())})\n" + log_excerpt(self.log()))

    def assert_released(self, path):
        """Waits until weir holds no descriptor of the deleted file at `path`."""
        fd_dir = f"/proc/{self.proc.pid}/fd"

        def released():
            for fd in os.listdir(fd_dir):
                try:
                    target = os.readlink(os.path.join(fd_dir, fd))
                except OSError:
                    continue
                if target == path + " (deleted)":
                    return False
            return True
        self.wait(released, f"weir to let go of the deleted {path}")

    def create_with_inode(self, path, inode, lines):
        """Creates `path` holding `lines` on the freed inode `inode`: files are made under
        other names (the input does not match them) until the filesystem hands out that inode,
        and that one is renamed into place. ext4 gives the lowest free inode of the directory's
        group, so it comes within a few tries unless another process took it first; tmpfs never
        reuses one. False when it did not come."""
        scratch = []
        try:
            for i in range(64):
                name = os.path.join(self.logs, f"scratch.{i}.tmp")
                with open(name, "w") as f:
                    f.write(lines)
                if os.stat(name).st_ino == inode:
                    os.rename(name, path)
                    return True
                scratch.append(name)  # kept, so the next file gets another inode
            return False
        finally:
            for name in scratch:
                os.unlink(name)

    # ----- the cases

    def test_rotation_by_rename(self):
        self.start()
        self.append(self.app, "rename", 0, 50)
        self.assert_output_is_written()

        # A logger rotated under it: lines just before the rename, lines still written to the
        # renamed file through the logger's old handle, then lines in the new file.
        with open(self.app, "a") as old:
            self.append(self.app, "rename", 50, 20, old)
            os.rename(self.app, self.app + ".1")
            self.append(self.app, "rename", 70, 5, old)
            self.append(self.app, "rename", 75, 30)
            self.append(self.app, "rename", 105, 5, old)
        self.assert_output_is_written()

        # Two more rotations, logrotate style (.1 -> .2, current -> .1). Each new file is left
        # at the path until weir has read it: a file renamed away before weir ever saw it at
        # its path (microseconds later) cannot be followed by path.
        for generation in range(2):
            os.rename(self.app + ".1", self.app + ".2")
            os.rename(self.app, self.app + ".1")
            self.append(self.app, "rename", 200 + generation * 10, 10)
            self.assert_output_is_written(settle=0)
        self.assert_exact()

        # Rotated while weir was down: the old file's last lines are found by inode under its
        # new name, the new file is read from its start; nothing checkpointed is read again.
        self.stop()
        self.append(self.app, "rename", 300, 7)
        os.rename(self.app + ".1", self.app + ".2")
        os.rename(self.app, self.app + ".1")
        self.append(self.app, "rename", 310, 8)
        self.start()
        self.assert_output_is_written()
        self.stop()
        self.assert_exact()

    def test_copytruncate(self):
        # No periodic re-scan to fall back on: weir must tell a truncation from an append when
        # it sees the change.
        self.configure(self.app, glob_interval="1h")
        self.start()
        self.append(self.app, "truncate", 0, 40)
        self.assert_output_is_written()

        # copytruncate: a copy nobody matches, the file cut to 0, a few new lines.
        shutil.copy(self.app, self.app + ".1")
        os.truncate(self.app, 0)
        self.append(self.app, "truncate", 40, 10)
        self.assert_output_is_written()

        # Cut and refilled beyond the old size before weir looks again (it is stopped with
        # SIGSTOP meanwhile): only the changed first bytes tell the new content from the old.
        shutil.copy(self.app, self.app + ".1")
        self.proc.send_signal(signal.SIGSTOP)
        try:
            os.truncate(self.app, 0)
            self.append(self.app, "truncate", 100, 60)
        finally:
            self.proc.send_signal(signal.SIGCONT)
        self.assert_output_is_written()

        # Truncated while weir was down: shorter than the checkpointed offset, then longer.
        self.stop()
        os.truncate(self.app, 0)
        self.append(self.app, "truncate", 200, 3)
        self.start()
        self.assert_output_is_written()
        self.stop()
        os.truncate(self.app, 0)
        self.append(self.app, "truncate", 300, 80)
        self.start()
        self.assert_output_is_written()
        self.stop()
        self.assert_exact()

    def test_partial_lines(self):
        self.start()
        self.append(self.app, "partial", 0, 10)
        head, tail = record("partial", 10)[:17], record("partial", 10)[17:]
        with open(self.app, "a") as f:
            f.write(head)
        self.assert_output_is_written(settle=0.8)  # the partial line is held back

        # Completed by a slow writer, a few bytes at a time.
        with open(self.app, "a") as f:
            for i in range(0, len(tail), 4):
                f.write(tail[i:i + 4])
                f.flush()
                time.sleep(0.05)
            f.write("\n")
        self.written[record("partial", 10)] += 1
        self.append(self.app, "partial", 11, 5)
        self.assert_output_is_written()

        # A partial line across a restart is one record once completed, not two halves.
        head, tail = record("partial", 16)[:25], record("partial", 16)[25:]
        with open(self.app, "a") as f:
            f.write(head)
        time.sleep(0.5)
        self.stop()
        self.start()
        time.sleep(0.5)
        self.assert_exact()
        with open(self.app, "a") as f:
            f.write(tail + "\n")
        self.written[record("partial", 16)] += 1
        self.append(self.app, "partial", 17, 3)
        self.assert_output_is_written()
        self.stop()
        self.assert_exact()

    def test_inode_reused_by_a_different_file(self):
        self.start()
        self.append(self.app, "first", 0, 20)
        self.assert_output_is_written()

        # Deleted, let go by weir, and the inode handed to a new, longer file.
        inode = os.stat(self.app).st_ino
        os.unlink(self.app)
        self.assert_released(self.app)
        text = "".join(record("second", i) + "\n" for i in range(40))
        if not self.create_with_inode(self.app, inode, text):
            self.skipTest("the filesystem did not hand the freed inode to a new file "
                          "(tmpfs never does)")
        self.assertEqual(os.stat(self.app).st_ino, inode)
        for i in range(40):
            self.written[record("second", i)] += 1
        self.assert_output_is_written()

        # The same while weir is down: the checkpoint names the inode and an offset inside the
        # new file; its first bytes differ, so it is read from the start, not the offset.
        self.stop()
        inode = os.stat(self.app).st_ino
        os.unlink(self.app)
        text = "".join(record("third", i) + "\n" for i in range(70))
        if not self.create_with_inode(self.app, inode, text):
            self.skipTest("the filesystem did not hand the freed inode to a new file "
                          "(tmpfs never does)")
        for i in range(70):
            self.written[record("third", i)] += 1
        self.start()
        self.assert_output_is_written()
        self.assertIn("a different file now has the inode", self.log())
        self.stop()
        self.assert_exact()

    def test_restarts_and_rotation_while_a_writer_keeps_writing(self):
        """A writer appends steadily while weir is stopped and started twice and the file is
        rotated; nothing is lost or read twice across the checkpoints. The writer rotates only
        while weir runs: a file created and rotated out of the glob entirely while weir is down
        was never seen and cannot be found (on a busy machine a restart can take that long)."""
        self.configure(os.path.join(self.logs, "*.log"))
        self.start()
        done = threading.Event()
        up = threading.Event()
        up.set()
        errors = []
        lock = threading.Lock()

        def writer():
            try:
                seq = 0
                f = open(self.app, "a")
                while not done.is_set():
                    with lock:
                        self.append(self.app, "steady", seq, 5, f)
                    seq += 5
                    if seq % 400 == 0 and up.is_set():
                        # Rotation out of the glob (app.log -> app.log.1) by the writer itself.
                        f.close()
                        os.rename(self.app, self.app + f".{seq}")
                        f = open(self.app, "a")
                    time.sleep(0.01)
                f.close()
            except Exception as e:  # reported by the main thread
                errors.append(e)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            for _ in range(2):
                time.sleep(0.7)
                with lock:
                    up.clear()
                self.stop()
                time.sleep(0.3)
                self.start()
                up.set()
            time.sleep(0.7)
        finally:
            done.set()
            thread.join(timeout=10)
        self.assertFalse(errors, errors)
        self.assertGreater(sum(self.written.values()), 300)
        self.assert_output_is_written()
        self.stop()
        self.assert_exact()

    def test_files_rotated_while_weir_is_stopped(self):
        """Rotations while weir is stopped, logrotate-style (app.log -> app.log.1 -> app.log.2).
        With a glob over `*.log` the file weir had seen is found by inode and finished, and
        weir says that a file rotated out of the glob may have been missed: the one created
        and rotated away while it was down is never seen. With a glob over rotated names
        (`app.log*`) every line is read exactly once, that file included."""
        for glob, never_seen_is_read in (("*.log", False), ("app.log*", True)):
            with self.subTest(glob=glob):
                shutil.rmtree(self.logs)
                os.mkdir(self.logs)
                shutil.rmtree(self.data, ignore_errors=True)
                if os.path.exists(self.out):
                    os.remove(self.out)
                self.written.clear()
                self.configure(os.path.join(self.logs, glob))
                self.append(self.app, "seen", 0, 50)
                self.start()
                self.assert_output_is_written(settle=0)
                self.stop()
                # While weir is stopped: the seen file grows and is rotated twice; the file
                # between the two rotations lives and leaves entirely while weir is down.
                self.append(self.app, "seen", 50, 20)
                os.rename(self.app, self.app + ".1")
                before = self.written.copy()
                self.append(self.app, "never_seen", 0, 30)
                never_seen = self.written - before
                os.rename(self.app + ".1", self.app + ".2")
                os.rename(self.app, self.app + ".1")
                self.append(self.app, "new", 0, 40)
                self.start()
                if not never_seen_is_read:
                    self.written -= never_seen
                self.assert_output_is_written()
                if never_seen_is_read:
                    self.assertNotIn("while weir was stopped", self.log())
                else:
                    self.assertIn("app.log was rotated to " + self.app + ".2 while weir was "
                                  "stopped", self.log())
                    self.assertIn('let the path match rotated names too', self.log())
                self.stop()


if __name__ == "__main__":
    unittest.main()
