"""Joins through the real daemon: two followed files joined by an interval join give every order
once per window, matched or not; when both inputs go silent the join's unmatched rows still
come out (idle_timeout), so the last windows close; and a kill -9 and restart resumes from the
checkpoint with the join's state, without losing or double counting a row."""
import datetime
import json
import os
import tempfile
import unittest

from weir_test_util import (http_get, log_excerpt, metric_sum, results_by_id, wait_for, weir,
                            weir_process)

PIPELINE = """
pipeline: joins
inputs:
  orders: {{type: file, path: {orders}, follow: {follow}}}
  payments: {{type: file, path: {payments}, follow: {follow}}}
nodes:
  paid:
    from: [orders, payments]
    time: {{field: ts, format: epoch_s}}
    join:
      type: interval
      left: orders
      right: payments
      on: {{left: id, right: order_id}}
      within: 2s
      kind: left
    window: {{type: tumbling, size: 10s, idle_timeout: {idle}}}
    checks:
      - {{name: orders, measure: count(), must_be: "> 0"}}
      - {{name: unpaid, measure: missing_fraction(payments.paid), must_be: "< 50%"}}
      - {{name: amount, measure: sum(orders.amount), must_be: ">= 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}, flush_interval: 100ms}}
"""

BASE = 1_767_225_600  # 2026-01-01T00:00:00Z, a window boundary


def order_lines(first, last):
    """Orders first..last-1, a second apart; every fourth one unpaid."""
    orders, payments = [], []
    for i in range(first, last):
        orders.append(json.dumps({"id": i, "ts": BASE + i, "amount": i % 7}))
        if i % 4 != 0:
            payments.append(json.dumps({"order_id": i, "ts": BASE + i + (i % 5) - 2,
                                        "paid": i % 7}))
    # Each file in event-time order (payments may be up to 2 s before their order).
    payments.sort(key=lambda line: json.loads(line)["ts"])
    return orders, payments


def expected(last):
    """window_start (Unix s) -> {check: value} for orders 0..last-1."""
    out = {}
    for start in range(0, last, 10):
        ids = range(start, min(start + 10, last))
        out[BASE + start] = {
            "orders": len(ids),
            "unpaid": sum(1 for i in ids if i % 4 == 0) / len(ids),
            "amount": sum(i % 7 for i in ids),
        }
    return out


def by_window(results):
    out = {}
    for r in results:
        start = r["window_start"]
        # RFC 3339 with milliseconds, UTC.
        t = datetime.datetime.strptime(start, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)
        out.setdefault(int(t.timestamp()), {})[r["check"]] = r["value"]
    return out


# The same join in a node without checks: its rows, {"orders": {...}, "payments": {...}}, go to
# a file and on to a node that checks them by field path.
DERIVED = """
pipeline: joins
inputs:
  orders: {{type: file, path: {orders}, follow: false}}
  payments: {{type: file, path: {payments}, follow: false}}
nodes:
  paid:
    from: [orders, payments]
    time: {{field: ts, format: epoch_s}}
    join:
      type: interval
      left: orders
      right: payments
      on: {{left: id, right: order_id}}
      within: 2s
      kind: left
    window: {{type: tumbling, size: 10s, idle_timeout: 1s}}
    outputs: [rows]
  checked:
    from: paid
    time: {{field: orders.ts, format: epoch_s}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: orders, measure: count(), must_be: "> 0"}}
      - {{name: unpaid, measure: missing_fraction(payments.paid), must_be: "< 50%"}}
      - {{name: amount, measure: sum(orders.amount), must_be: ">= 0"}}
    outputs: [results]
outputs:
  rows: {{type: file, path: {rows}}}
  results: {{type: file, path: {results}, flush_interval: 100ms}}
"""


class join_test(unittest.TestCase):
    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.dir = tmp.name
        self.orders = os.path.join(self.dir, "orders.jsonl")
        self.payments = os.path.join(self.dir, "payments.jsonl")
        self.results = os.path.join(self.dir, "results.jsonl")
        self.config = os.path.join(self.dir, "joins.yaml")
        self.settings = os.path.join(self.dir, "weir.yaml")
        with open(self.settings, "w") as f:
            f.write("checkpoint: {interval: 1s}\n")

    def write_pipeline(self, follow, idle="1s"):
        with open(self.config, "w") as f:
            f.write(PIPELINE.format(orders=self.orders, payments=self.payments,
                                    results=self.results, follow=follow, idle=idle))

    def append(self, first, last, orders=None, payments=None):
        if orders is None:
            orders, payments = order_lines(first, last)
        with open(self.orders, "a") as f:
            f.write("".join(line + "\n" for line in orders))
        with open(self.payments, "a") as f:
            f.write("".join(line + "\n" for line in payments))

    def read_results(self):
        if not os.path.exists(self.results):
            return []
        with open(self.results) as f:
            return [json.loads(line) for line in f.read().split("\n")[:-1] if line.strip()]

    maxDiff = None

    def test_validate_accepts_a_join_with_checks_and_one_without(self):
        self.append(0, 10)
        self.write_pipeline("false")
        rc, out, err = weir("validate", self.config)
        self.assertEqual(rc, 0, err)
        self.assertNotIn("warning", out + err)
        # Without an idle timeout a silent side holds the join: said, not refused.
        self.write_pipeline("false", idle="0s")
        rc, out, err = weir("validate", self.config)
        self.assertEqual(rc, 0, err)
        self.assertIn("nodes.paid.join: window.idle_timeout is 0: when one side stops sending",
                      out + err)
        # A field not named by source is missing from every joined row: said.
        self.write_pipeline("false")
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace("sum(orders.amount)", "sum(amount)"))
        rc, out, err = weir("validate", self.config)
        self.assertEqual(rc, 0, err)
        self.assertIn('nodes.paid.checks[2].measure: "amount" is no field of the joined rows, '
                      'whose fields are named by source: orders.amount or payments.amount',
                      out + err)
        self.write_pipeline("false")
        with open(self.config) as f:
            text = f.read()
        start = text.index("    window:")
        end = text.index("    outputs: [results]")
        with open(self.config, "w") as f:
            f.write(text[:start] + text[end + len("    outputs: [results]\n"):])
        rc, out, err = weir("validate", self.config)
        self.assertEqual(rc, 0, err)
        self.assertIn("nodes.paid.join: no window: the join has no idle_timeout", out + err)

    def test_a_join_node_without_checks_feeds_the_next_node(self):
        self.append(0, 60)
        rows = os.path.join(self.dir, "rows.jsonl")
        with open(self.config, "w") as f:
            f.write(DERIVED.format(orders=self.orders, payments=self.payments,
                                   results=self.results, rows=rows))
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                          os.path.join(self.dir, "data"), "--http-listen", "127.0.0.1:0",
                          self.config, timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertEqual(by_window(self.read_results()), expected(60))
        with open(rows) as f:
            joined = [json.loads(line) for line in f if line.strip()]
        self.assertEqual(len(joined), 60)
        by_id = {r["orders"]["id"]: r for r in joined}
        self.assertEqual(by_id[4], {"orders": {"id": 4, "ts": BASE + 4, "amount": 4}})
        self.assertEqual(by_id[5]["payments"], {"order_id": 5, "ts": BASE + 3, "paid": 5})

    def test_once_counts_every_order_once_matched_or_not(self):
        self.append(0, 60)
        self.write_pipeline("false")
        rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                          os.path.join(self.dir, "data"), "--http-listen", "127.0.0.1:0",
                          self.config, timeout=120)
        self.assertEqual(rc, 0, log_excerpt(err))
        self.assertEqual(by_window(self.read_results()), expected(60))

    def test_silent_inputs_let_the_unmatched_rows_out_after_idle_timeout(self):
        # The last orders are unpaid and nothing comes after them: only the idle timeout moves
        # the join's watermark past them.
        self.append(0, 41)
        self.write_pipeline("true")
        d = weir_process(self, self.dir, [self.config])
        base = f"http://127.0.0.1:{d.wait_port()}"
        want = expected(41)
        wait_for(lambda: by_window(self.read_results()).keys() >= want.keys() or
                 d.proc.poll() is not None, 90, "every window's results")
        self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
        got = by_window(self.read_results())
        self.assertEqual({k: got[k] for k in want}, want)
        self.assertEqual(got[BASE + 40]["unpaid"], 1.0, "order 40 is out, unmatched")
        # Every buffered record left the join once its rows were out.
        wait_for(lambda: metric_sum(base, "weir_join_buffered_records", node="paid") == 0, 60,
                 "an empty join")
        status, body = http_get(base + "/metrics", timeout=5)
        self.assertEqual(status, 200)
        self.assertIn('weir_join_late_records_total{node="paid",pipeline="joins",side="left"} 0',
                      body)
        self.assertEqual(d.stop(), 0)

    def test_kill_and_restart_resume_from_the_checkpoint(self):
        # No idle timeout in reach: the pause of the restart is no silence of the inputs.
        # Each file in event-time order across the restart too.
        orders, payments = order_lines(0, 52)
        self.append(0, 0, orders[:25], payments[:18])
        self.write_pipeline("true", idle="1h")
        args = [self.settings, self.config]
        d = weir_process(self, self.dir, args)
        base = f"http://127.0.0.1:{d.wait_port()}"

        def query():
            status, body = http_get(base + "/api/v1/status", timeout=5)
            if status != 200:
                return {}
            for q in json.loads(body)["queries"]:
                if q["pipeline"] == "joins":
                    return q
            return {}

        # Everything read and a checkpoint written after it, while the join holds rows.
        wait_for(lambda: query().get("input_records", 0) >= 25 + 18, 60, "the records read")
        first = query().get("checkpoints", 0)
        wait_for(lambda: query().get("checkpoints", 0) > first + 1, 60, "two more checkpoints")
        d.proc.kill()
        d.proc.wait()

        self.append(0, 0, orders[25:], payments[18:])
        # An order and its payment a minute later move the watermark past the last windows.
        with open(self.orders, "a") as f:
            f.write(json.dumps({"id": 1000, "ts": BASE + 120, "amount": 0}) + "\n")
        with open(self.payments, "a") as f:
            f.write(json.dumps({"order_id": 1000, "ts": BASE + 120, "paid": 0}) + "\n")
        d = weir_process(self, self.dir, args)
        d.wait_port()
        want = expected(52)
        wait_for(lambda: by_window(self.read_results()).keys() >= want.keys() or
                 d.proc.poll() is not None, 90, "every window's results")
        self.assertIsNone(d.proc.poll(), log_excerpt(d.log_text()))
        self.assertIn("resumed from", d.log_text())
        unique = results_by_id(self, self.read_results())
        got = by_window(unique.values())
        self.assertEqual({k: got[k] for k in want}, want)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
