"""`weir test` through the real binary: pipeline unit tests in YAML (docs/pipelines.md, "Testing
pipelines") — passing and failing cases with their diff, invalid test files with their
diagnostics and exit codes, records inline, as raw lines and from files, tolerances, groups,
--filter, and the shipped examples/tests/ and the docs' example passing."""
import os
import re
import tempfile
import textwrap
import unittest

from weir_test_util import source, weir

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CONFIG = 0, 1, 64, 78

# The pipeline's real inputs cannot be opened here (a Kafka broker nobody runs, a file that does
# not exist, a port): a test never opens them.
PIPELINE = """\
pipeline: shop
inputs:
  orders:
    type: kafka
    brokers: ${BROKERS}
    topics: [orders]
    group: weir-shop
  clicks:
    type: file
    path: /nonexistent/clicks/*.jsonl
  audit:
    type: tcp
    listen: 127.0.0.1:1
nodes:
  order_quality:
    from: orders
    time: {field: ts}
    window: {type: tumbling, size: 1m}
    group_by: [region]
    checks:
      - {name: volume, measure: count(), must_be: ">= 2"}
      - {name: mean_amount, measure: mean(amount), must_be: "[10, 100]", should_be: "[20, 80]"}
      - {name: missing_customer, measure: missing_fraction(customer), must_be: "< 10%"}
    outputs: [console]
  click_quality:
    from: clicks
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 1m}
    checks:
      - {name: clicks, measure: count(), must_be: "> 0"}
    outputs: [console]
  audit_quality:
    from: audit
    time: {field: ts}
    window: {type: tumbling, size: 1m}
    checks:
      - {name: audited, measure: count(), must_be: "> 0"}
    outputs: [console]
outputs:
  console: {type: console}
"""

# The records of input `orders` for a case, indented to sit under a case's `inputs:` in the
# test files below (their text is dedented by 12 columns).
ORDERS = textwrap.indent(textwrap.dedent("""\
    orders:
      records:
        - {ts: "2026-11-20T10:00:05Z", region: eu, customer: c1, amount: 20}
        - {ts: "2026-11-20T10:00:20Z", region: eu, customer: c2, amount: 35.5}
        - {ts: "2026-11-20T10:00:30Z", region: us, customer: c3, amount: 90}
        - {ts: "2026-11-20T10:01:10Z", region: eu, amount: 12}
    """), " " * 18)


class WeirTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="weir-test-cmd-")
        self.dir = self.tmp.name
        self.write("shop.yaml", PIPELINE)

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def write_tests(self, body, name="shop_test.yaml"):
        return self.write(name, "pipelines: shop.yaml\nenv: {BROKERS: \"127.0.0.1:1\"}\n" +
                          textwrap.dedent(body))

    def run_tests(self, *args):
        return weir("test", *args, cwd=self.dir, timeout=120)

    def test_a_passing_case(self):
        self.write_tests("""\
            tests:
              - name: eu and us orders
                inputs:
""" + ORDERS + """\
                expect:
                  - {check: volume, window: "2026-11-20T10:00:00Z", group: {region: eu},
                     outcome: pass, value: 2, records: 2}
                  - {check: volume, window: 0, group: {region: us}, outcome: fail, value: 1}
                  - {check: mean_amount, window: 0, group: {region: eu}, outcome: pass,
                     value: 27.75}
                  - {check: mean_amount, group: {region: us}, window: 0, outcome: warn, value: 90}
                  - {check: missing_customer, window: -1, group: {region: eu}, outcome: fail,
                     value: 100%}
            """)
        rc, out, err = self.run_tests("shop_test.yaml")
        self.assertEqual(rc, EXIT_OK, out + err)
        self.assertIn("shop_test.yaml\n  PASS  eu and us orders — ", out)
        self.assertIn("weir test: 1 passed, 0 failed (1 case in 1 file)", out)
        self.assertEqual(err, "")

    def test_a_failing_case_prints_a_diff(self):
        self.write_tests("""\
            tests:
              - name: right
                inputs:
""" + ORDERS + """\
                expect:
                  - {check: volume, window: 0, group: {region: eu}, value: 2}
              - name: wrong
                inputs:
""" + ORDERS + """\
                expect:
                  - {check: volume, window: 0, group: {region: eu}, outcome: fail, value: 5}
                  - {check: volume, window: "2026-11-20T10:05:00Z"}
                no_other_results: true
            """)
        rc, out, err = self.run_tests("shop_test.yaml")
        self.assertEqual(rc, EXIT_FAILURE, out + err)
        self.assertIn("  PASS  right — ", out)
        self.assertIn("  FAIL  wrong  (shop_test.yaml:14) — ", out)
        self.assertIn(
            "    expect[0] at shop_test.yaml:23:9: order_quality.volume, "
            "window 2026-11-20T10:00:00.000Z, group {region: \"eu\"}\n"
            "      outcome: expected fail, got pass\n"
            "      value:   expected 5, got 2 (off by 3)\n", out)
        self.assertIn(
            "    expect[1] at shop_test.yaml:24:9: order_quality.volume, "
            "window 2026-11-20T10:05:00.000Z\n"
            "    missing: no result matches\n"
            "    order_quality.volume has results for 2 windows, 2026-11-20T10:00:00.000Z to "
            "2026-11-20T10:01:00.000Z, groups {region: \"eu\"}, {region: \"us\"}\n", out)
        unexpected = re.search(r"    (\d+) unexpected results \(no_other_results\):\n", out)
        self.assertIsNotNone(unexpected, out)
        self.assertIn("order_quality.mean_amount, window 2026-11-20T10:00:00.000Z, group "
                      "{region: \"us\"}: warn, value 90, records 1", out)
        self.assertIn("weir test: 1 passed, 1 failed (2 cases in 1 file)", out)

    def test_value_tolerance(self):
        self.write_tests("""\
            tests:
              - name: within
                inputs:
""" + ORDERS + """\
                expect:
                  - {check: mean_amount, window: 0, group: {region: eu}, value: 27.7,
                     tolerance: 0.1}
                  - {check: mean_amount, window: 0, group: {region: eu}, value: 28,
                     relative_tolerance: 1%}
              - name: outside
                inputs:
""" + ORDERS + """\
                expect:
                  - {check: mean_amount, window: 0, group: {region: eu}, value: 27.7,
                     tolerance: 0.01}
            """)
        rc, out, err = self.run_tests("shop_test.yaml")
        self.assertEqual(rc, EXIT_FAILURE, out + err)
        self.assertIn("  PASS  within", out)
        self.assertIn("  FAIL  outside", out)
        self.assertIn("      value:   expected 27.7 ± 0.01, got 27.75 (off by 0.05", out)

    def test_grouped_results(self):
        self.write_tests("""\
            tests:
              - name: every group
                inputs:
""" + ORDERS + """\
                expect:
                  # every window of every group: eu 10:00 (2), us 10:00 (1), eu 10:01 (1) and
                  # us 10:01 (an empty window: the group was seen within group_ttl)
                  - {check: volume, count: 4}
                  - {check: volume, group: {region: us}, count: 2}
                  - {check: volume, group: {region: us}, window: 1, value: 0, records: 0,
                     outcome: fail}
                  - {check: volume, group: {region: mars}, count: 0}
                  - {check: mean_amount, group: {region: us}, window: -1, value: null,
                     outcome: no_data}
            """)
        rc, out, err = self.run_tests("-v", "shop_test.yaml")
        self.assertEqual(rc, EXIT_OK, out + err)
        # -v lists every result.
        self.assertIn("      order_quality.volume, window 2026-11-20T10:01:00.000Z, group "
                      "{region: \"us\"}: fail, value 0, records 0", out)

    def test_inputs_from_files_and_raw_lines(self):
        self.write("data/clicks.jsonl",
                   # 30 clicks within one minute, and a malformed line
                   "".join('{"ts": %d, "page": "p%d"}\n' % (1795000020 + i, i) for i in range(30)) +
                   "{broken\n")
        self.write("data/orders.jsonl",
                   '{"ts": "2026-11-20T10:00:05Z", "region": "eu", "customer": "a", "amount": 50}')
        self.write_tests("""\
            tests:
              - name: from files
                inputs:
                  clicks: {file: data/clicks.jsonl}
                  shop/orders: {file: data/orders.jsonl}   # qualified by the pipeline
                expect:
                  - {check: clicks, value: 30, records: 30, outcome: pass}
                  - {node: order_quality, check: volume, value: 1}
              - name: raw lines
                inputs:
                  audit:
                    lines:
                      - '{"ts": "2026-11-20T10:00:05Z"}'
                      - 'not json'
                      - '{"ts": "2026-11-20T10:00:06Z"}'
                expect:
                  - {check: audited, value: 2, count: 1}
                no_other_results: true
            """)
        rc, out, err = self.run_tests("shop_test.yaml")
        self.assertEqual(rc, EXIT_OK, out + err)
        self.assertIn("weir test: 2 passed, 0 failed", out)

    def test_an_invalid_test_file(self):
        self.write_tests("""\
            tests:
              - name: typos
                inputz: {}
                expect:
                  - {check: volume, outcome: fial}
              - name: unknown names
                inputs:
                  order: {records: [{a: 1}]}
                expect:
                  - {check: mean_amont}
                  - {check: volume}
                  - {node: order_quality, check: volume, group: {regoin: eu}}
            """, name="bad_test.yaml")
        self.write_tests("""\
            tests:
              - name: fine
                inputs:
""" + ORDERS + """\
                expect:
                  - {check: mean_amount, window: 0, group: {region: eu}, value: 27.75}
            """, name="good_test.yaml")
        rc, out, err = self.run_tests(".")
        self.assertEqual(rc, EXIT_CONFIG, out + err)
        # The structure first (the names are checked once it is right).
        self.assertIn("bad_test.yaml:5:5: error: tests[0]: unknown key \"inputz\"; did you mean "
                      "\"inputs\"?", err)
        self.assertIn("bad_test.yaml:7:34: error: tests[0].expect[0].outcome: expected one of",
                      err)
        self.assertIn("weir: ./bad_test.yaml: invalid test file, its cases did not run", err)
        # The valid file still ran.
        self.assertIn("  PASS  fine", out)
        self.assertIn("weir test: 1 passed, 0 failed, 1 file invalid", out)

        self.write_tests("""\
            tests:
              - name: unknown names
                inputs:
                  order: {records: [{a: 1}]}
                expect:
                  - {check: mean_amont}
                  - {node: order_quality, check: volume, group: {regoin: eu}}
            """, name="bad_test.yaml")
        rc, out, err = self.run_tests("bad_test.yaml")
        self.assertEqual(rc, EXIT_CONFIG, out + err)
        self.assertIn("bad_test.yaml:6:7: error: tests[0].inputs.order: unknown input \"order\"; "
                      "did you mean \"orders\"?", err)
        self.assertIn("bad_test.yaml:8:17: error: tests[0].expect[0]: unknown check "
                      "\"mean_amont\"; did you mean \"mean_amount\"?", err)
        self.assertIn("bad_test.yaml:9:62: error: tests[0].expect[1].group.regoin: "
                      "node \"order_quality\" does not group by "
                      "\"regoin\"; did you mean \"region\"?", err)
        self.assertIn("weir test: 0 passed, 0 failed, 1 file invalid", out)

    def test_an_invalid_pipeline(self):
        self.write("broken.yaml", PIPELINE.replace("count()", "count(", 1))
        self.write("broken_test.yaml", textwrap.dedent("""\
            pipelines: broken.yaml
            env: {BROKERS: "127.0.0.1:1"}
            tests:
              - {name: any, no_other_results: true}
            """))
        rc, out, err = self.run_tests("broken_test.yaml")
        self.assertEqual(rc, EXIT_CONFIG, out + err)
        self.assertRegex(err, r"broken\.yaml:21:\d+: error: nodes\.order_quality\.checks\[0\]")
        self.assertIn("weir: broken_test.yaml: a pipeline it names is invalid, its cases did not "
                      "run", err)
        # The pipeline's ${BROKERS} comes from the test file's env: without it, the pipeline is
        # invalid.
        self.write("noenv_test.yaml", "pipelines: shop.yaml\ntests:\n"
                   "  - {name: any, no_other_results: true}\n")
        rc, out, err = self.run_tests("noenv_test.yaml")
        self.assertEqual(rc, EXIT_CONFIG, out + err)
        self.assertIn("BROKERS", err)

    def test_filter_and_usage(self):
        self.write_tests("""\
            tests:
              - name: alpha volume
                no_other_results: true
              - name: beta volume
                inputs:
""" + ORDERS + """\
                no_other_results: true
            """)
        rc, out, _ = self.run_tests("--filter", "alpha")
        self.assertEqual(rc, EXIT_OK, out)
        self.assertIn("PASS  alpha volume", out)
        self.assertNotIn("beta", out)
        rc, out, _ = self.run_tests("--filter", "volume")
        self.assertEqual(rc, EXIT_FAILURE, out)
        self.assertIn("FAIL  beta volume", out)
        rc, _, err = self.run_tests("--filter", "gamma")
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn("no case matches --filter \"gamma\"", err)
        empty = tempfile.mkdtemp(dir=self.dir)
        rc, _, err = self.run_tests(empty)
        self.assertEqual(rc, EXIT_USAGE)
        self.assertIn("no test files", err)
        rc, _, _ = self.run_tests("--bogus")
        self.assertEqual(rc, EXIT_USAGE)

    def test_the_shipped_examples_pass(self):
        rc, out, err = weir("test", "examples/tests/", timeout=120)
        self.assertEqual(rc, EXIT_OK, out + err)
        self.assertNotIn("FAIL", out)
        self.assertRegex(out, r"weir test: [1-9]\d* passed, 0 failed")

    def test_the_docs_example_passes(self):
        # The pipeline and the test file of docs/pipelines.md, "Testing pipelines", as a reader
        # copies them.
        with open(source("docs", "pipelines.md")) as f:
            doc = f.read()
        section = doc[doc.index("## 13. Testing pipelines"):]
        blocks = re.findall(r"```yaml\n(.*?)```", section, re.S)
        self.assertGreaterEqual(len(blocks), 2)
        self.write("orders.yaml", blocks[0])
        self.write("orders_test.yaml", blocks[1])
        rc, out, err = self.run_tests("orders_test.yaml")
        self.assertEqual(rc, EXIT_OK, out + err)
        shown = re.search(r"```sh\n\$ weir test orders_test.yaml\n(.*?)```", section, re.S)
        self.assertIsNotNone(shown)
        self.assertEqual(out, shown.group(1))


if __name__ == "__main__":
    unittest.main()
