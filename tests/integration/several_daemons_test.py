"""Several weir daemons sharing a Kafka input's consumer group and merging their lanes' partials
through a partials topic: de-duplicated by `id`, their results are one daemon's — with every
daemon running throughout, with one killed (-9) and restarted mid-run, and with a fourth
joining and leaving. The broker is librdkafka's mock cluster in its own process; kcat writes
the events."""
import json
import os
import random
import signal
import subprocess
import tempfile
import time
import unittest

from kafka_test import KAFKA_INPUT, PIPELINE, SETTINGS, two_nodes
from kafka_util import KCAT, events, test_cluster
from weir_test_util import (WEIR, http_get, http_port, log_excerpt, metric_sum,
                            read_complete_jsonl, results_by_id, wait_for, weir)

# kafka_test's pipeline, its input sharing its partials with the other daemons of its group.
SHARED_INPUT = KAFKA_INPUT + "\n    partials_topic: partials"
PARTITIONS = 6
# Two minutes after the last event (00:39:59.9): every window of the data closes.
FLUSH_TS = "2026-01-01T00:42:00.000Z"
# The windows compared: those of the data. (Empty windows after it follow how far the
# watermark moves at once, record by record in one chain, hand-over by hand-over in a merge;
# docs/pipelines.md says so.)
LAST_WINDOW = "2026-01-01T00:39:00.000Z"


def of_the_data(results):
    return {i: r for i, r in results.items()
            if r["group"].get("key") != "flush" and r["window_start"] <= LAST_WINDOW}


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def spread_keys(lines):
    """kafka_util.events() lines keyed so that every group lands in every partition."""
    return [f"k{i % 23}|" + line.split("|", 1)[1] for i, line in enumerate(lines)]


class several_daemons_test(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait(timeout=30)
        self.tmp.cleanup()

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def reference(self, lines, shape=lambda text: text):
        """Results of the same events read from a file in one --once run, without the windows
        of the flush events (which close every other window in the daemons). `shape` changes
        the pipeline's text."""
        data = write(self.path("events.jsonl"),
                     "\n".join(line.split("|", 1)[1] for line in lines) + "\n")
        out = self.path("reference.jsonl")
        pipeline = write(self.path("file.yaml"), shape(PIPELINE.format(
            input=f"    type: file\n    path: {data}", results=out)))
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                          self.path("file_data"), "--http-listen", "127.0.0.1:0", pipeline,
                          timeout=120)
        self.assertEqual(rc, 0, err)
        return results_by_id(self, read_complete_jsonl(out))

    def flush(self, cluster):
        """An event two minutes after the last in every partition: every window of the data
        closes."""
        for p in range(PARTITIONS):
            line = json.dumps({"ts": FLUSH_TS, "key": "flush", "value": 1})
            r = subprocess.run([KCAT, "-P", "-b", cluster.bootstrap, "-t", "events", "-p",
                                str(p)], input=line + "\n", text=True, capture_output=True,
                               timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)

    def start(self, cluster, name, extra=""):
        out = self.path(f"{name}.jsonl")
        pipeline = write(self.path(f"{name}.yaml"), PIPELINE.format(
            input=SHARED_INPUT.format(group="shared") + extra, results=out))
        settings = write(self.path("weir.yaml"), SETTINGS)
        env = dict(os.environ, KAFKA_BROKERS=cluster.bootstrap, WEIR_HTTP_LISTEN="127.0.0.1:0")
        log = open(self.path(f"{name}.log"), "a")
        p = subprocess.Popen([WEIR, "run", "--data-dir", self.path(f"{name}-data"), settings,
                              pipeline], env=env, stdout=subprocess.DEVNULL, stderr=log)
        log.close()
        self.procs.append(p)
        return p

    def start_alone(self, cluster, extra=""):
        """Daemon "a", alone: once it reads every input partition and merges every partition
        of the partials topic."""
        self.start(cluster, "a", extra)
        wait_for(lambda: self.owns_partitions("a") and len(self.merging("a")) == 3, 60,
                 "the daemon reading partitions and merging the partials")

    def log(self, name):
        with open(self.path(f"{name}.log")) as f:
            return f.read()

    def merged(self, names):
        """The results of every daemon, de-duplicated by id (a result written twice must be
        the same), of the data's windows."""
        lines = []
        for n in names:
            lines += read_complete_jsonl(self.path(f"{n}.jsonl"))
        return of_the_data(results_by_id(self, lines))

    def run_daemons(self, during):
        """Three daemons on a 6-partition topic whose partials go through a 3-partition topic;
        `during(cluster, chunks)` produces the events (and does what else the test does). Then
        the daemons' results, de-duplicated, must be the reference's."""
        lines = spread_keys(events(24000, groups=17))
        chunks = [lines[i:i + 3000] for i in range(0, len(lines), 3000)]
        expected = of_the_data(self.reference(lines))
        self.assertGreater(len(expected), 100)
        with test_cluster(brokers=3, topics=[("events", PARTITIONS), ("partials", 3)]) as cluster:
            names = during(cluster, chunks)
            self.flush(cluster)
            try:
                wait_for(lambda: set(self.merged(names)) >= set(expected), 180,
                         "every window's results")
            except AssertionError:
                got = self.merged(names)
                missing = sorted(set(expected) - set(got))[:5]
                logs = "\n".join(f"--- {n}\n" + log_excerpt(self.log(n)) for n in names)
                raise AssertionError(f"{len(got)} of {len(expected)} results; missing e.g. "
                                     f"{[expected[m]['window_start'] for m in missing]}\n{logs}")
            # A moment more: nothing different may follow.
            time.sleep(2)
            got = self.merged(names)
        extra = sorted(set(got) - set(expected))
        self.assertEqual(extra, [], [got[i] for i in extra[:3]])
        for i, want in expected.items():
            self.assertEqual(got[i], want, f"result {i}")
        return names

    def test_three_daemons_give_the_results_of_one(self):
        def during(cluster, chunks):
            names = ["a", "b", "c"]
            for n in names:
                self.start(cluster, n)
            for chunk in chunks:
                cluster.produce("events", chunk)
            return names

        names = self.run_daemons(during)
        for n in names:
            text = self.log(n)
            self.assertIn("shares its partials with the other daemons of its group", text)
            self.assertNotIn("run one daemon per consumer group", text)
        # Each merged a share of the partials topic.
        merging = [n for n in names if "merging partition" in self.log(n)]
        self.assertGreaterEqual(len(merging), 2)
        # Their status says which: every partition of the partials topic, merged once.
        merged = sorted(m["partition"] for n in names for m in self.merging(n))
        self.assertEqual(merged, [0, 1, 2])

    def query_status(self, name):
        """The (first) query's entry in the status API of the daemon logging to <name>.log
        ({} before it answers)."""
        queries = self.query_statuses(name)
        return queries[0] if queries else {}

    def query_statuses(self, name):
        """Every query's entry in the daemon's status API ([] before it answers)."""
        port = http_port(self.path(f"{name}.log"))
        if port is None:
            return []
        code, body = http_get(f"http://127.0.0.1:{port}/api/v1/status")
        return json.loads(body)["queries"] if code == 200 else []

    def merging(self, name):
        """The partitions of the partials topic the daemon merges:
        [{partition, position, replaying, replay_end}]."""
        return self.query_status(name).get("merging", [])

    def owns_partitions(self, name):
        """Whether the daemon reads partitions now."""
        return bool(self.query_status(name).get("sources"))

    def read_to_end(self, name):
        """Whether the daemon reads partitions and has read each to its end."""
        sources = self.query_status(name).get("sources")
        return bool(sources) and all(s.get("lag") == 0 for s in sources)

    def test_a_daemon_killed_and_restarted_mid_run_loses_and_doubles_nothing(self):
        rng = random.Random(11)

        def during(cluster, chunks):
            names = ["a", "b", "c"]
            procs = {n: self.start(cluster, n) for n in names}
            wait_for(lambda: all(self.owns_partitions(n) for n in names), 60,
                     "every daemon reading partitions")
            for k, chunk in enumerate(chunks):
                victim = {2: "a", 5: "b"}.get(k)
                if not victim:
                    cluster.produce("events", chunk)
                    # Checkpoints (every second) cut and commit while the events flow.
                    time.sleep(0.4)
                    continue
                # A commit confirms the cut before it (the next one registers its own): the
                # victim's chunk comes in two halves, each read to its end and then cut by
                # two checkpoints that commit (commits fail while the group rebalances, which
                # on a busy machine can last through many checkpoints). Its partitions then go
                # on from a commit past their start, however fast it read.
                half = len(chunk) // 2
                for part in (chunk[:half], chunk[half:]):
                    cluster.produce("events", part)
                    time.sleep(0.4)
                    wait_for(lambda v=victim: self.read_to_end(v), 60,
                             f"{victim} reading its partitions to their end")
                    committed = self.query_status(victim).get("checkpoints", 0)
                    wait_for(lambda v=victim, c=committed:
                             self.query_status(v).get("checkpoints", 0) >= c + 2, 60,
                             f"{victim} committing after its half chunk")
                time.sleep(rng.uniform(0.2, 1.5))
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait(timeout=30)
                # Its partitions move once its session times out (3 s); it comes back.
                time.sleep(4)
                procs[victim] = self.start(cluster, victim)
            return names

        names = self.run_daemons(during)
        # The partitions of the killed daemons went on from their commits, where a lane cut
        # again where the dead one had registered a cut.
        logs = "".join(self.log(n) for n in names)
        self.assertRegex(logs, r"partition events/\d from offset [1-9]")
        self.assertIn("cutting again at", logs)

    def test_a_fourth_daemon_joins_and_leaves(self):
        def during(cluster, chunks):
            names = ["a", "b", "c"]
            for n in names:
                self.start(cluster, n)
            wait_for(lambda: all(self.owns_partitions(n) for n in names), 60,
                     "every daemon reading partitions")
            fourth = None
            for k, chunk in enumerate(chunks):
                cluster.produce("events", chunk)
                if k == 2:
                    # The group rebalances: the fourth daemon is given input partitions of
                    # the three (six among four), whose windows it goes on with.
                    fourth = self.start(cluster, "d")
                    wait_for(lambda: self.owns_partitions("d"), 60,
                             "the fourth daemon reading partitions")
                if k == 5:
                    # It leaves in the middle of the events; the three take its partitions
                    # back from its last commit.
                    fourth.send_signal(signal.SIGTERM)
                    self.assertEqual(fourth.wait(timeout=60), 0, log_excerpt(self.log("d")))
            return names + ["d"]

        self.run_daemons(during)
        # It logged the partitions it was given (their windows then went on at the three).
        self.assertRegex(self.log("d"), r"partition events/\d from offset")

    def records_counted(self, name):
        """weir_node_records_total of the daemon logging to <name>.log."""
        return metric_sum(f"http://127.0.0.1:{http_port(self.path(f'{name}.log'))}",
                          "weir_node_records_total")

    def test_a_daemon_that_takes_over_merged_partitions_writes_and_counts_nothing_again(self):
        lines = spread_keys(events(6000, groups=17))
        expected = of_the_data(self.reference(lines))
        with test_cluster(brokers=3, topics=[("events", PARTITIONS), ("partials", 3)]) as cluster:
            self.start(cluster, "a")
            wait_for(lambda: self.owns_partitions("a"), 60, "the daemon reading partitions")
            cluster.produce("events", lines)
            self.flush(cluster)
            wait_for(lambda: set(self.merged(["a"])) >= set(expected), 120,
                     "every window's results")
            # Every valid record merged once, and the merge positions committed (each
            # checkpoint, every second).
            wait_for(lambda: self.records_counted("a") == len(lines) + PARTITIONS, 30,
                     "the records counted")
            time.sleep(3)
            written = len(read_complete_jsonl(self.path("a.jsonl")))
            # A second daemon takes partitions of the partials topic over: it merges them
            # from their beginning again, up to where the first had committed, silently.
            self.start(cluster, "b")
            wait_for(lambda: "of the partials topic, its results up to offset" in self.log("b"),
                     60, "the second daemon merging a partition the first merged")
            # Its status says when it has caught up with what the first merged.
            wait_for(lambda: any(m["replay_end"] > 0 and not m["replaying"]
                                 for m in self.merging("b")), 60,
                     "the second daemon caught up with the partition it took over")
            time.sleep(2)
            # Nothing was written again (by either), and the records are counted once in all.
            self.assertEqual(self.records_counted("b"), 0, log_excerpt(self.log("b")))
            self.assertEqual(self.records_counted("a"), len(lines) + PARTITIONS)
            self.assertEqual(read_complete_jsonl(self.path("b.jsonl")), [])
            self.assertEqual(len(read_complete_jsonl(self.path("a.jsonl"))), written)
        got = self.merged(["a", "b"])
        for i, want in expected.items():
            self.assertEqual(got[i], want, f"result {i}")

    def test_while_commits_fail_the_partials_held_back_stay_within_their_bound(self):
        # The partials of a cut wait until the cut is committed. While commits fail, they
        # would pile up: over partials_max_held the input pauses, and it goes on once a commit
        # goes through, with the results of one daemon in the end.
        lines = spread_keys(events(24000, groups=17))
        expected = of_the_data(self.reference(lines))
        with test_cluster(brokers=3, topics=[("events", PARTITIONS), ("partials", 3)]) as cluster:
            self.start_alone(cluster, "\n    partials_max_held: 1KiB")
            # Every OffsetCommit (API key 8) fails: GROUP_AUTHORIZATION_FAILED (30).
            cluster.command("error 8 30 1000000")
            cluster.produce("events", lines[:3000])
            paused = "reading paused until a commit goes through"
            wait_for(lambda: paused in self.log("a"), 60, "reading paused")
            cluster.produce("events", lines[3000:])

            def read():
                """The events read so far: the next offsets of the input's partitions."""
                return sum(s.get("position") or 0
                           for s in self.query_status("a").get("sources", []))
            # Paused: the events that came since stay unread.
            before = read()
            time.sleep(3)
            self.assertLess(before, len(lines), log_excerpt(self.log("a")))
            self.assertEqual(read(), before, log_excerpt(self.log("a")))
            # Every failed commit is counted; the log says a failure that repeats once a minute.
            def failures():
                return metric_sum(f"http://127.0.0.1:{http_port(self.path('a.log'))}",
                                  "weir_checkpoint_failures_total")
            wait_for(lambda: failures() >= 3, 30, "three failed commits counted")
            self.assertLess(self.log("a").count("partials not committed: "), failures())
            # Commits go through again: the held partials are published, reading goes on.
            cluster.command("clear 8")
            wait_for(lambda: "held partials published: reading resumed" in self.log("a"), 60,
                     "reading resumed")
            self.assertRegex(self.log("a"), r"partials committed again, after \d+ failed")
            self.flush(cluster)
            wait_for(lambda: set(self.merged(["a"])) >= set(expected), 120,
                     "every window's results")
            time.sleep(2)
            got = self.merged(["a"])
        self.assertEqual(sorted(set(got) - set(expected)), [])
        for i, want in expected.items():
            self.assertEqual(got[i], want, f"result {i}")

    def test_commits_refused_while_the_group_rebalances_are_tried_again_and_degrade_nothing(self):
        lines = spread_keys(events(6000, groups=17))
        expected = of_the_data(self.reference(lines))
        with test_cluster(brokers=3, topics=[("events", PARTITIONS), ("partials", 3)]) as cluster:
            self.start_alone(cluster)
            # The next OffsetCommits (API key 8) answer REBALANCE_IN_PROGRESS (27).
            cluster.command("error 8 27 3")
            cluster.produce("events", lines)
            wait_for(lambda: "partials not committed while the group rebalances" in self.log("a"),
                     60, "a commit refused")
            self.flush(cluster)
            wait_for(lambda: set(self.merged(["a"])) >= set(expected), 120,
                     "every window's results")
            got = self.merged(["a"])
            self.assertNotIn("degraded", self.log("a"))
            self.assertEqual(self.query_status("a").get("state"), "running")
        for i, want in expected.items():
            self.assertEqual(got[i], want, f"result {i}")

    def test_queries_sharing_a_partials_topic_each_merge_up_to_its_end(self):
        # Two nodes on one input: two queries, whose partials go through one topic (keyed by
        # query). Each merge moves its position past the other query's messages too, or a
        # daemon taking a partition over would read them again.
        lines = spread_keys(events(6000, groups=17))
        expected = of_the_data(self.reference(lines, two_nodes))
        self.assertEqual({r["node"] for r in expected.values()}, {"quality", "again"})
        with test_cluster(brokers=3, topics=[("events", PARTITIONS), ("partials", 3)]) as cluster:
            out = self.path("a.jsonl")
            pipeline = write(self.path("a.yaml"), two_nodes(PIPELINE.format(
                input=SHARED_INPUT.format(group="shared"), results=out)))
            env = dict(os.environ, KAFKA_BROKERS=cluster.bootstrap,
                       WEIR_HTTP_LISTEN="127.0.0.1:0")
            with open(self.path("a.log"), "w") as log:
                self.procs.append(subprocess.Popen(
                    [WEIR, "run", "--data-dir", self.path("a-data"),
                     write(self.path("weir.yaml"), SETTINGS), pipeline],
                    env=env, stdout=subprocess.DEVNULL, stderr=log))
            wait_for(lambda: len(self.query_statuses("a")) == 2 and all(
                     q.get("sources") and len(q.get("merging", [])) == 3
                     for q in self.query_statuses("a")), 60,
                     "both queries reading partitions and merging every partials partition")
            cluster.produce("events", lines)
            self.flush(cluster)
            try:
                wait_for(lambda: set(self.merged(["a"])) >= set(expected), 120,
                         "every window's results of both nodes")
            except AssertionError as e:
                # Rare on a loaded machine: what was missing, and what the daemon said.
                missing = set(expected) - set(self.merged(["a"]))
                raise AssertionError(f"{e}; {len(missing)} of {len(expected)} results missing; "
                                     f"status {self.query_statuses('a')}; "
                                     f"log:\n{log_excerpt(self.log('a'), 6000)}") from None
            got = self.merged(["a"])
            for i, want in expected.items():
                self.assertEqual(got[i], want, f"result {i}")
            # Every partition of the partials topic holds messages of both queries; each
            # query's position reaches its end, whoever wrote the last messages.
            r = subprocess.run([KCAT, "-C", "-b", cluster.bootstrap, "-t", "partials", "-e",
                                "-q", "-o", "beginning", "-f", "%p %o %k\n"],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            ends, keys = {}, {}
            for line in r.stdout.splitlines():
                part, offset, key = line.split()
                ends[int(part)] = max(ends.get(int(part), 0), int(offset) + 1)
                keys.setdefault(int(part), set()).add(key)
            self.assertEqual(sorted(ends), [0, 1, 2])
            self.assertTrue(all(len(k) == 2 for k in keys.values()), keys)

            def positions():
                return {(q["query"], m["partition"]): m["position"]
                        for q in self.query_statuses("a") for m in q.get("merging", [])}
            try:
                wait_for(lambda: all(positions().get((q, p), -1) >= end
                                     for q in ("quality", "again") for p, end in ends.items()),
                         30, "every query's merge position at the end of its partition")
            except AssertionError:
                raise AssertionError(f"positions {positions()}, ends {ends}")


if __name__ == "__main__":
    unittest.main()
