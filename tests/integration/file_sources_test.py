"""A glob's files are sources of their own, the real binary: files read in chunks one after the
other never make each other's records late, and a query over a glob spreads its files over
threads (--spread-partitions) with the same results."""
import json
import os
import signal
import subprocess
import tempfile
import unittest

from weir_test_util import WEIR, wait_for, weir

PIPELINE = """
pipeline: files
inputs:
  logs: {{type: file, path: "{path}", read_buffer_size: 4KiB, follow: {follow}}}
nodes:
  quality:
    from: logs
    time: {{field: ts, format: epoch_s}}
    window: {{type: tumbling, size: 60s, allowed_lateness: 5s}}
    group_by: [host]
    checks:
      - {{name: volume, measure: "count()", must_be: "> 0"}}
      - {{name: value_mean, measure: "mean(value)", must_be: "< 80"}}
      - {{name: value_max, measure: "max(value)", must_be: "< 99"}}
    outputs: [results]
outputs:
  results: {{type: file, path: "{results}"}}
"""


def lines(host, n, start=1_699_999_980):
    # One record a second: a 4 KiB read of one file spans about a minute of event time, far
    # beyond the 5 s of allowed lateness.
    return [json.dumps({"ts": start + i, "host": host, "value": (i * 7 + len(host)) % 100})
            for i in range(n)]


class file_sources_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = self.tmp.name

    def run_once(self, name, path, *args):
        results = os.path.join(self.dir, name + ".jsonl")
        config = os.path.join(self.dir, name + ".yaml")
        with open(config, "w") as f:
            f.write(PIPELINE.format(path=path, results=results, follow="false"))
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                          os.path.join(self.dir, name + "_data"), "--http-listen",
                          "127.0.0.1:0", *args, config, timeout=120)
        self.assertEqual(rc, 0, err)
        out = {}
        with open(results) as f:
            for line in f:
                r = json.loads(line)
                r.pop("emitted_at")
                out[r["id"]] = r
        return out, err

    def test_files_read_one_after_the_other_lose_nothing_as_late(self):
        hosts = ["h%d" % i for i in range(6)]
        logs = os.path.join(self.dir, "logs")
        os.mkdir(logs)
        merged = []
        for h in hosts:
            with open(os.path.join(logs, h + ".log"), "w") as f:
                f.write("\n".join(lines(h, 3000)) + "\n")
            merged.extend(lines(h, 3000))
        merged.sort(key=lambda l: json.loads(l)["ts"])
        one = os.path.join(self.dir, "one.log")
        with open(one, "w") as f:
            f.write("\n".join(merged) + "\n")

        expected, _ = self.run_once("one", one)
        self.assertEqual(len(expected), 3 * 6 * 50)  # 3 checks, 6 hosts, 50 minutes
        got, err = self.run_once("glob", os.path.join(logs, "*.log"))
        self.assertEqual(got, expected)
        self.assertIn("finished: 18000 records", err)

        spread, err = self.run_once("spread", os.path.join(logs, "*.log"), "--threads", "2",
                                    "--spread-partitions")
        self.assertIn("its sources spread over 2 lanes", err)
        self.assertEqual(spread, expected)

    def test_a_file_that_stopped_growing_does_not_hold_the_others_back(self):
        # Following a glob: old.log was read to its end and gets nothing more; new.log goes on.
        # Without an idle_timeout, old.log would hold the watermark where it stopped if it
        # counted as behind; caught up, it does not, and new.log's windows close as it grows.
        logs = os.path.join(self.dir, "logs")
        os.mkdir(logs)
        with open(os.path.join(logs, "old.log"), "w") as f:
            f.write("\n".join(lines("old", 120)) + "\n")
        new = os.path.join(logs, "new.log")
        with open(new, "w") as f:
            f.write("\n".join(lines("new", 120)) + "\n")
        results = os.path.join(self.dir, "results.jsonl")
        config = os.path.join(self.dir, "follow.yaml")
        with open(config, "w") as f:
            f.write(PIPELINE.format(path=os.path.join(logs, "*.log"), results=results,
                                    follow="true"))
        log = os.path.join(self.dir, "weir.log")
        with open(log, "w") as err:
            p = subprocess.Popen([WEIR, "run", "--data-dir", os.path.join(self.dir, "data"),
                                  "--http-listen", "127.0.0.1:0", config],
                                 stdout=subprocess.DEVNULL, stderr=err)
        try:
            def windows(host):
                if not os.path.exists(results):
                    return set()
                with open(results) as f:
                    return {r["window_start"] for r in map(json.loads, f)
                            if r["group"]["host"] == host and r["records"] > 0}
            # Both files' first minute closes once both passed it (+ 5 s).
            wait_for(lambda: len(windows("old")) == 1 and len(windows("new")) == 1, 60,
                     "the first minute of both files")
            # new.log alone moves on, five minutes.
            with open(new, "a") as f:
                f.write("\n".join(lines("new", 420)[120:]) + "\n")
            wait_for(lambda: len(windows("new")) == 6, 60,
                     "new.log's windows closing while old.log stays as it is")
            self.assertEqual(len(windows("old")), 2, "old.log's two minutes")
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)


if __name__ == "__main__":
    unittest.main()
