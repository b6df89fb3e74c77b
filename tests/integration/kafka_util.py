"""A Kafka cluster for integration tests: tests/support/kafka_test_broker (librdkafka's mock
cluster in a process of its own) on loopback, driven through its stdin; Debian's kcat as an
independent client."""
import json
import os
import select
import shutil
import subprocess

BROKER = os.environ.get("KAFKA_TEST_BROKER", "")
KCAT = shutil.which("kcat") or "/usr/bin/kcat"


class test_cluster:
    def __init__(self, brokers=3, topics=()):
        args = [BROKER, "--brokers", str(brokers)]
        for name, partitions in topics:
            args += ["--topic", f"{name}:{partitions}"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, bufsize=1)
        line = self._line(10)
        if not line.startswith("bootstrap "):
            self.close()
            raise AssertionError(f"the test broker printed {line!r}")
        self.bootstrap = line.split(" ", 1)[1].strip()

    def _line(self, timeout):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"the test broker did not answer within {timeout} s")
        return self.proc.stdout.readline()

    def command(self, text, timeout=10):
        """Sends one command; raises unless the broker answers ok."""
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        answer = self._line(timeout).strip()
        if answer != "ok":
            raise AssertionError(f"test broker: {text}: {answer}")

    def produce(self, topic, lines, timeout=60):
        """Produces "key|value" lines with kcat (the key picks the partition)."""
        p = subprocess.run([KCAT, "-P", "-b", self.bootstrap, "-t", topic, "-K", "|"],
                           input="\n".join(lines) + "\n", text=True, capture_output=True,
                           timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"kcat -P: {p.stderr}")

    def consume(self, topic, timeout=60):
        """Every message of the topic, as (partition, key, value) tuples, read with kcat."""
        p = subprocess.run([KCAT, "-C", "-b", self.bootstrap, "-t", topic, "-e", "-q", "-o",
                            "beginning", "-f", "%p\t%k\t%s\n"],
                           text=True, capture_output=True, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError(f"kcat -C: {p.stderr}")
        out = []
        for line in p.stdout.splitlines():
            if not line:
                continue
            partition, key, value = line.split("\t", 2)
            out.append((int(partition), key, value))
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def events(n, groups=17, start_minute=0):
    """n in-order JSON events of `groups` keys, ten per second of event time, as kcat lines
    "key|json" (the key spreads them over the partitions)."""
    lines = []
    for i in range(n):
        t = i // 10
        ts = (f"2026-01-01T{t // 3600 % 24:02d}:{(start_minute + t // 60) % 60:02d}:"
              f"{t % 60:02d}.{i % 10}00Z")
        key = f"g{i % groups}"
        lines.append(key + "|" + json.dumps({"ts": ts, "key": key, "value": i % 100}))
    return lines


def results(path):
    """Result records by id, without emitted_at (the wall clock of the run)."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            r = json.loads(line)
            r.pop("emitted_at")
            out[r["id"]] = r
    return out


def result_lines(path):
    """Every result line (ids may repeat), without emitted_at."""
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            if line.strip():
                r = json.loads(line)
                r.pop("emitted_at")
                out.append(r)
    return out
