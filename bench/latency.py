"""Result latency under W1's load (issue #17): how long after a window can close its results
are written. A feeder appends W1-shaped records (1 K keys, 10 K events per second, event time =
the wall clock less up to half the allowed lateness of disorder) to a file that `weir run`
follows; the window is tumbling 10 s, so a window can close once a record `allowed_lateness`
past its end has arrived. The default lateness is 0 (records in order): the histogram's buckets
(10 ms, 25 ms, 50 ms, 100 ms, 250 ms, ...) then resolve the delay, which they cannot on top of
seconds of lateness; `--lateness 2` measures the same from `emitted_at` with disorder. For every result written to the file output, two latencies from the moment the window could
close (window end + allowed lateness, on the wall clock): to its `emitted_at` (the record's own
timestamp), and to when its line was in the file (the benchmark watches the file's size every
2 ms). The daemon's own view, weir_window_emit_delay_seconds (window end → results leaving, one
observation per batch of results), is read from /metrics as well. All include the feeder's
20 ms batching. Used by bench/run (full) and by hand:

  bench/latency --weir build/release/daemon/weir --seconds 90
  bench/latency --keys 10        # small windows: a few results each, far from a burst
"""
import json
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone

import workloads as wl

WINDOW_S = 10


def pipeline_yaml(data_path, results_path, lateness):
    lines = [
        "pipeline: latency",
        "inputs:",
        f"  events: {{type: file, path: \"{data_path}\", format: json, follow: true}}",
        "nodes:",
        "  quality:",
        "    from: events",
        "    time: {field: ts, format: rfc3339}",
        f"    window: {{type: tumbling, size: {WINDOW_S}s, allowed_lateness: {lateness}s}}",
        "    group_by: [key]",
        "    checks:",
    ]
    for c in wl.W1_CHECKS:
        lines.append(f"      - {{name: {c.name}, measure: \"{c.measure}\", "
                     f"must_be: \"{c.must_be}\"}}")
    lines += ["    outputs: [results]", "outputs:",
              f"  results: {{type: file, path: \"{results_path}\", append: false}}", ""]
    return "\n".join(lines)


def rfc3339(t):
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{int(t * 1000) % 1000:03d}Z"


def parse_ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def feed(path, seconds, rate, keys, rng, disorder):
    """Appends `rate` records per second for `seconds`, in 20 ms batches."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    start = time.time()
    sent = 0
    try:
        while True:
            now = time.time()
            if now - start >= seconds:
                break
            due = int((now - start) * rate)
            lines = []
            for _ in range(due - sent):
                t = now - disorder * rng.random()
                v = "null" if rng.random() < 0.05 else f"{rng.gauss(20, 5):.2f}"
                lines.append(f'{{"ts":"{rfc3339(t)}","key":"k-{rng.randrange(keys):04d}",'
                             f'"value":{v},"latency_ms":{max(1, int(rng.lognormvariate(4, 0.8)))}}}\n')
            if lines:
                os.write(fd, "".join(lines).encode())
            sent = due
            time.sleep(0.02)
    finally:
        os.close(fd)
    return sent


def histogram_quantile(text, name, q):
    """The q-quantile of a Prometheus histogram (summed over its label sets), by linear
    interpolation within the bucket, as Prometheus' histogram_quantile does."""
    buckets = {}
    for m in re.finditer(rf'^{name}_bucket{{[^}}]*le="([^"]+)"[^}}]*}} (\S+)$', text, re.M):
        le = float("inf") if m.group(1) == "+Inf" else float(m.group(1))
        buckets[le] = buckets.get(le, 0) + float(m.group(2))
    if not buckets:
        return None
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total == 0:
        return None
    rank = q * total
    prev_b, prev_c = 0.0, 0.0
    for b in bounds:
        c = buckets[b]
        if c >= rank:
            if b == float("inf"):
                return prev_b
            return prev_b + (b - prev_b) * (rank - prev_c) / max(c - prev_c, 1e-12)
        prev_b, prev_c = b, c
    return bounds[-1]


def pct(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def measure(weir, seconds=90, rate=10_000, keys=1000, lateness=0, work_dir=None):
    scratch = tempfile.mkdtemp(prefix="latency-", dir=work_dir)
    try:
        data = os.path.join(scratch, "events.jsonl")
        results = os.path.join(scratch, "results.jsonl")
        open(data, "w").close()
        pipeline = os.path.join(scratch, "latency.yaml")
        open(pipeline, "w").write(pipeline_yaml(data, results, lateness))
        log_path = os.path.join(scratch, "weir.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([weir, "run", "--threads", "1", "--http-listen",
                                     "127.0.0.1:0", "--data-dir", os.path.join(scratch, "d"),
                                     pipeline], stdout=subprocess.DEVNULL, stderr=log)
        try:
            port = None
            deadline = time.monotonic() + 30
            while port is None and time.monotonic() < deadline and proc.poll() is None:
                m = re.search(r"HTTP server on [0-9.]+:(\d+)", open(log_path).read())
                port = int(m.group(1)) if m else None
                time.sleep(0.1)
            if port is None:
                raise RuntimeError("weir did not start:\n" + open(log_path).read()[-2000:])
            cpu0 = _cpu(proc.pid)
            sizes, stop = [], threading.Event()
            watcher = threading.Thread(target=_watch, args=(results, sizes, stop))
            watcher.start()
            try:
                sent = feed(data, seconds, rate, keys, random.Random(17), lateness / 2)
                feed_end = time.time()
                time.sleep(lateness + 1)
            finally:
                stop.set()
                watcher.join()
            cpu = _cpu(proc.pid) - cpu0
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                             timeout=10).read().decode()
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        lat, written, per_window = [], [], {}
        offset, k = 0, 0
        for line in open(results, "rb"):
            offset += len(line)
            while k < len(sizes) and sizes[k][1] < offset:
                k += 1
            seen = sizes[k][0] if k < len(sizes) else None
            r = json.loads(line)
            due = parse_ts(r["window_end"]) + lateness
            # Skip the window weir started in (partial) and those the feed did not close
            # (their results come at shutdown).
            if r.get("partial") or due + lateness / 2 + 0.1 > feed_end:
                continue
            d = parse_ts(r["emitted_at"]) - due
            lat.append(d)
            if seen is not None:
                written.append(seen - due)
            per_window[r["window_start"]] = max(per_window.get(r["window_start"], d), d)
        emit = histogram_quantile(metrics, "weir_window_emit_delay_seconds", 0.99)
        return {
            "events": sent, "seconds": seconds, "rate": rate, "keys": keys,
            "window_s": WINDOW_S, "lateness_s": lateness,
            "results": len(lat), "windows": len(per_window),
            "weir_cpu_fraction": cpu / seconds,
            "latency_p50_s": pct(lat, 0.50), "latency_p99_s": pct(lat, 0.99),
            "latency_max_s": max(lat) if lat else None,
            "written_p50_s": pct(written, 0.50), "written_p99_s": pct(written, 0.99),
            "written_max_s": max(written) if written else None,
            "emit_delay_p99_s": None if emit is None else emit - lateness,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _watch(path, sizes, stop):
    """(wall time, size) of the file each time its size changed, polled every 2 ms."""
    last = -1
    while not stop.is_set():
        try:
            size = os.stat(path).st_size
        except FileNotFoundError:
            size = 0
        if size != last:
            sizes.append((time.time(), size))
            last = size
        time.sleep(0.002)


def _cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


if __name__ == "__main__":
    import argparse
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weir", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "build/release/daemon/weir"))
    p.add_argument("--seconds", type=float, default=90)
    p.add_argument("--rate", type=int, default=10_000)
    p.add_argument("--lateness", type=int, default=0, help="allowed lateness, seconds")
    p.add_argument("--keys", type=int, default=1000,
                   help="groups (W1: 1000, about 3 MB of results a window; 10: about 30 KB)")
    a = p.parse_args()
    print(json.dumps(measure(a.weir, a.seconds, a.rate, a.keys, a.lateness), indent=1))
