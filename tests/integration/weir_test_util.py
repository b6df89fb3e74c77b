"""Helpers shared by the integration tests: run the real weir binary with a bounded time, wait
for a condition with a bound, talk HTTP to it, and find the port its HTTP server took."""
import calendar
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

SOURCE_DIR = os.environ["WEIR_SOURCE_DIR"]
WEIR = os.environ["WEIR_BINARY"]


def weir(*args, env=None, timeout=60, cwd=None):
    """Runs weir with args; returns (exit code, stdout, stderr)."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    p = subprocess.run([WEIR, *args], capture_output=True, text=True, timeout=timeout,
                       env=full_env, cwd=cwd or SOURCE_DIR)
    return p.returncode, p.stdout, p.stderr


def pipeline_files(test, template, data_name, config_name):
    """A temporary directory for one test, removed after it: test.dir, test.data (the input
    file, named data_name), test.results (results.jsonl) and test.config (config_name), which
    holds `template` formatted with the data and results paths."""
    tmp = tempfile.TemporaryDirectory()
    test.addCleanup(tmp.cleanup)
    test.dir = tmp.name
    test.data = os.path.join(test.dir, data_name)
    test.results = os.path.join(test.dir, "results.jsonl")
    test.config = os.path.join(test.dir, config_name)
    with open(test.config, "w") as f:
        f.write(template.format(data=test.data, results=test.results))


def source(*parts):
    return os.path.join(SOURCE_DIR, *parts)


SANITIZER_REPORT = re.compile(r"^==\d+==ERROR: \w+Sanitizer.*?(?:^SUMMARY: .*?$|\Z)",
                              re.MULTILINE | re.DOTALL)


def log_excerpt(text, size=3000):
    """The last `size` characters of a daemon's log for a failure message, after the whole of
    any sanitizer report in it (its first lines, which say what went wrong, would otherwise be
    cut off by the shadow bytes and stacks after them)."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    reports = [m.group(0) for m in SANITIZER_REPORT.finditer(text)]
    tail = text[-size:]
    if not reports:
        return tail
    return "\n".join(reports) + "\n--- the log's end:\n" + tail


def epoch_seconds(text):
    """A result's time ("2026-11-20T10:00:10.000Z") to whole seconds since the epoch."""
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))


def wait_for(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it is true, for at most `timeout` seconds. An OSError (a server
    not listening yet) counts as not yet."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError as e:
            last_error = e
        time.sleep(interval)
    suffix = f" (last error: {last_error})" if last_error else ""
    raise AssertionError(f"timed out after {timeout} s waiting for {what}{suffix}")


def http_get(url, timeout=2):
    """(status, body) of a GET; 4xx and 5xx answers are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def http_post(url, body, content_type="application/json", timeout=30):
    """(status, body) of a POST of `body` (bytes or text); 4xx and 5xx answers are returned,
    not raised."""
    data = body.encode() if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method="POST",
                                 headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric_sum(base, name, **labels):
    """The sum of the samples of metric family `name` at base + "/metrics" whose labels include
    `labels` (0 when there are none, or the server does not answer 200)."""
    status, body = http_get(base + "/metrics", timeout=5)
    if status != 200:
        return 0.0
    total = 0.0
    for line in body.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def free_port():
    """A loopback port free now (for servers that cannot be told to pick their own)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_port(log_path):
    """The port weir's HTTP server took, from its log ("HTTP server on ADDR:PORT"), or None."""
    with open(log_path) as f:
        m = re.search(r"HTTP server on [0-9.]+:(\d+)", f.read())
    return int(m.group(1)) if m else None


class weir_process:
    """`weir run ARGS` with its data dir in `tmp` and its log in tmp/weir.log; killed at the
    test's cleanup if still running."""

    def __init__(self, test, tmp, args, listen="127.0.0.1:0", env=None, nice=0):
        """`nice`: the scheduling priority weir runs at, where the test may set it (a negative
        one needs root; without it, weir runs at the test's own)."""
        self.log_path = os.path.join(tmp, "weir.log")
        self.log = open(self.log_path, "w")
        test.addCleanup(self.log.close)
        full_env = dict(os.environ)
        full_env.update(env or {})

        def prioritise():
            try:
                os.nice(nice)
            except OSError:
                pass
        self.proc = subprocess.Popen(
            [WEIR, "run", "--http-listen", listen, "--data-dir", os.path.join(tmp, "data"),
             *args], stdout=subprocess.DEVNULL, stderr=self.log, env=full_env,
            preexec_fn=prioritise if nice else None)
        test.addCleanup(self.kill)
        self.port = None if listen.endswith(":0") else int(listen.rsplit(":", 1)[1])

    def wait_port(self, timeout=30):
        """The port its HTTP server took, once its log says; fails if weir exits first."""
        def found():
            self.port = http_port(self.log_path)
            return self.port is not None or self.proc.poll() is not None
        wait_for(found, timeout, "the HTTP server")
        if self.port is None:
            raise AssertionError("weir exited early:\n" + self.log_text()[-3000:])
        return self.port

    def log_text(self):
        self.log.flush()
        with open(self.log_path) as f:
            return f.read()

    def stop(self, timeout=120):
        """SIGTERM; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()



def read_complete_jsonl(path):
    """The JSON objects of the complete lines of `path` (a line still being written, without
    its newline, is left for later); [] when the file does not exist yet."""
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return [json.loads(line) for line in text.split("\n")[:-1] if line.strip()]


def results_by_id(test, results):
    """Check results de-duplicated by `id`, without `emitted_at`: a result emitted again (after
    a crash) must be identical to the first, which the test asserts."""
    out = {}
    for r in results:
        r = dict(r)
        r.pop("emitted_at", None)
        if r["id"] in out:
            test.assertEqual(out[r["id"]], r, "a result emitted again is identical")
        out[r["id"]] = r
    return out
