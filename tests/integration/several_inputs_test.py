"""Measures over several inputs through the real binary: one node reads two files (orders and
payments); count(orders) - count(payments), sum(orders.amount) - sum(payments.amount) and
count(payments) / count(orders) measure each input's records alone, and reconcile() writes the
two inputs' keys, with samples of the missing ones, in the JSON results, the console output
and `weir validate` refuses calls that mix inputs."""
import json
import os
import tempfile
import time
import unittest

from weir_test_util import log_excerpt, weir

START_MS = 1_795_168_800_000  # 2026-11-20T10:00:00Z

PIPELINE = """pipeline: balance
inputs:
  orders: {{type: file, path: {orders}, follow: false}}
  payments: {{type: file, path: {payments}, follow: false}}
nodes:
  balance:
    from: [orders, payments]
    time: {{field: ts}}
    window: {{type: tumbling, size: 10s}}
    checks:
      - {{name: count_gap, measure: "count(orders) - count(payments)", must_be: "== 0"}}
      - {{name: amount_gap, measure: "sum(orders.amount) - sum(payments.amount)",
          must_be: "== 0"}}
      - {{name: paid_share, measure: "count(payments) / count(orders)", must_be: ">= 1"}}
      - {{name: records, measure: "count()", should_be: "> 0"}}
      - {{name: total, measure: "sum(amount)", should_be: "> 0"}}
      - {{name: unmatched, measure: "reconcile(orders.order_id, payments.order_id)",
          must_be: "== 0"}}
      - {{name: unpaid, measure: "reconcile(orders.order_id, payments.order_id, missing_right)",
          must_be: "== 0"}}
    outputs: [results, console]
outputs:
  results: {{type: file, path: {results}}}
  console: {{type: console}}
"""


def format_ms(ms):
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def write_inputs(orders, payments):
    """Window [0 s, 10 s): orders 1..14 (amount 10 each; order 3 twice), payments of every
    order but 2, 5, 7, and a payment of order 99 that has no order; order ids of payments are
    written as 1.0 for order 1 (the same key) and "4" for order 4 (not the same key: a string).
    Window [10 s, 20 s): orders 20, 21, both paid."""
    with open(orders, "w") as f:
        ids = list(range(1, 15)) + [3]
        for i, order_id in enumerate(ids):
            f.write(json.dumps({"ts": format_ms(START_MS + i * 500), "order_id": order_id,
                                "amount": 10}) + "\n")
        for i, order_id in enumerate([20, 21]):
            f.write(json.dumps({"ts": format_ms(START_MS + 10_000 + i * 1000),
                                "order_id": order_id, "amount": 5}) + "\n")
    with open(payments, "w") as f:
        paid = [1.0, "4"] + [i for i in range(1, 15) if i not in (1, 2, 4, 5, 7)] + [99]
        for i, order_id in enumerate(paid):
            f.write(json.dumps({"ts": format_ms(START_MS + 200 + i * 500), "order_id": order_id,
                                "amount": 10}) + "\n")
        for i, order_id in enumerate([20, 21]):
            f.write(json.dumps({"ts": format_ms(START_MS + 10_500 + i * 1000),
                                "order_id": order_id, "amount": 5}) + "\n")


class several_inputs_test(unittest.TestCase):
    def test_measures_of_each_input_and_reconciliation(self):
        with tempfile.TemporaryDirectory() as tmp:
            orders = os.path.join(tmp, "orders.jsonl")
            payments = os.path.join(tmp, "payments.jsonl")
            results = os.path.join(tmp, "results.jsonl")
            config = os.path.join(tmp, "balance.yaml")
            write_inputs(orders, payments)
            with open(config, "w") as f:
                f.write(PIPELINE.format(orders=orders, payments=payments, results=results))
            rc, _, err = weir("validate", config)
            self.assertEqual(rc, 0, err)
            rc, out, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                                os.path.join(tmp, "d"), config, timeout=120)
            self.assertEqual(rc, 0, log_excerpt(err))
            by_window = {}
            with open(results) as f:
                for line in f:
                    r = json.loads(line)
                    by_window[(r["window_start"], r["check"])] = r
            first, second = format_ms(START_MS), format_ms(START_MS + 10_000)

            def value(window, check):
                return by_window[(window, check)]["value"]

            # 15 orders, 12 payments (1.0, "4", 9 of 3..14, 99).
            self.assertEqual(value(first, "count_gap"), 3)
            self.assertEqual(value(first, "amount_gap"), 30)
            self.assertAlmostEqual(value(first, "paid_share"), 12 / 15)
            self.assertEqual(value(first, "records"), 27)
            self.assertEqual(value(first, "total"), 270)
            self.assertEqual(by_window[(first, "count_gap")]["outcome"], "fail")
            # Keys: orders 1..14, payments 1, "4", 3, 6, 8..14, 99. Matched 1, 3, 6, 8..14 (10);
            # orders unpaid 2, 4, 5, 7; payments without order "4", 99.
            unmatched = by_window[(first, "unmatched")]
            self.assertEqual(unmatched["value"], 6)
            self.assertEqual(unmatched["outcome"], "fail")
            self.assertEqual(unmatched["reconciliation"],
                             {"left": "orders", "right": "payments", "matched": 10,
                              "missing_left": 2, "missing_right": 4,
                              "sample_missing_left": [99, "4"],
                              "sample_missing_right": [2, 4, 5, 7]})
            self.assertEqual(list(unmatched)[-2:], ["reconciliation", "emitted_at"])
            self.assertEqual(value(first, "unpaid"), 4)
            # Checks without reconcile() carry no reconciliation.
            self.assertNotIn("reconciliation", by_window[(first, "count_gap")])
            # The second window balances.
            for check in ("count_gap", "amount_gap", "paid_share", "unmatched", "unpaid"):
                self.assertEqual(by_window[(second, check)]["outcome"], "pass", check)
            self.assertEqual(by_window[(second, "unmatched")]["reconciliation"],
                             {"left": "orders", "right": "payments", "matched": 2,
                              "missing_left": 0, "missing_right": 0})
            # The console says which keys are missing.
            line = next(l for l in out.splitlines() if " unmatched " in l and "FAIL" in l)
            self.assertIn("[payments lack 2, 4, 5, …; orders la", line)

    def test_keys_past_the_limit_are_counted_and_the_result_says_approximate(self):
        with tempfile.TemporaryDirectory() as tmp:
            orders = os.path.join(tmp, "orders.jsonl")
            payments = os.path.join(tmp, "payments.jsonl")
            results = os.path.join(tmp, "results.jsonl")
            # 100 005 distinct orders in one window (the limit is 100 000 keys), one payment.
            with open(orders, "w") as f:
                for i in range(100_005):
                    f.write(json.dumps({"ts": format_ms(START_MS + i // 10), "order_id": i})
                            + "\n")
            with open(payments, "w") as f:
                f.write(json.dumps({"ts": format_ms(START_MS + 500), "order_id": 7}) + "\n")
            config = os.path.join(tmp, "big.yaml")
            with open(config, "w") as f:
                f.write(f"""pipeline: big
inputs:
  orders: {{type: file, path: {orders}, follow: false}}
  payments: {{type: file, path: {payments}, follow: false}}
nodes:
  balance:
    from: [orders, payments]
    time: {{field: ts}}
    window: {{type: tumbling, size: 1m}}
    checks:
      - {{name: unpaid, measure: "reconcile(orders.order_id, payments.order_id, missing_right)",
          must_be: "== 0"}}
    outputs: [results]
outputs:
  results: {{type: file, path: {results}}}
""")
            rc, _, err = weir("run", "--once", "--fail-on", "never", "--data-dir",
                              os.path.join(tmp, "d"), config, timeout=300)
            self.assertEqual(rc, 0, log_excerpt(err))
            with open(results) as f:
                (r,) = [json.loads(line) for line in f]
            self.assertIs(r["approximate"], True)
            keys = r["reconciliation"]
            self.assertEqual(keys["overflow"], 5)
            self.assertEqual(keys["matched"] + keys["missing_right"], 100_000)
            self.assertEqual(keys["sample_missing_right"][:3], [0, 1, 2])
            self.assertIn("reconcile() did not compare the keys past its limit", err)

    def test_calls_mixing_inputs_are_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            orders = os.path.join(tmp, "orders.jsonl")
            payments = os.path.join(tmp, "payments.jsonl")
            write_inputs(orders, payments)
            config = os.path.join(tmp, "mixed.yaml")
            with open(config, "w") as f:
                f.write(PIPELINE.format(orders=orders, payments=payments,
                                        results=os.path.join(tmp, "r.jsonl"))
                        .replace('"count()"', '"correlation(orders.amount, payments.amount)"'))
            rc, _, err = weir("validate", config)
            self.assertEqual(rc, 78, err)
            self.assertIn("nodes.balance.checks[3].measure: correlation(): its fields name "
                          "different inputs", err)


if __name__ == "__main__":
    unittest.main()
