"""The weir command line as a user meets it: verbs, exit codes (DESIGN.md §1.1), report
formats, and the invalid corpus through the real binary."""
import glob
import json
import os
import re
import tempfile
import unittest

from weir_test_util import WEIR, source, weir

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_CONFIG = 0, 1, 64, 78
EXPECT = re.compile(r"^#\s*expect:\s*(\d+):(\d+)\s+(error|warning)\s+(\S*)\s*(.*)$")


def cmake_cache():
    """The CMake cache of the build directory the binary comes from (.../build/X/daemon/weir):
    its variables, without their types; empty when there is none."""
    path = os.path.join(os.path.dirname(os.path.dirname(WEIR)), "CMakeCache.txt")
    out = {}
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*):[A-Z]+=(.*)$", line.rstrip("\n"))
                if m:
                    out[m.group(1)] = m.group(2)
    return out


def expectations(path):
    """The `# expect: LINE:COL SEVERITY PATH: MESSAGE` lines of a corpus file."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = EXPECT.match(line.strip())
            if m:
                out.append((int(m[1]), int(m[2]), m[3], m[4].rstrip(":"), m[5]))
    return out


def corpus_env(path):
    """The `# env: NAME=VALUE` lines of a corpus file: variables its validation reads."""
    env = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if line.startswith("# env: "):
                name, _, value = line[len("# env: "):].rstrip("\n").partition("=")
                env[name] = value
    return env


MANY_PROBLEMS = """inputs:
  src:
    type: file
    path: {tmp}/missing/*.jsonl
    bogus_key: 1
  clean: {{type: generator, count: 10}}
nodes:
  a:
    from: src
    time: {{field: ts}}
    unknown_option: true
    window: {{type: tumbling, size: 10s}}
    group_by: [host]
    checks:
      - name: c1
        measure: missing_fractoin(temperature)
        must_be: "< 5%"
      - name: c2
        measure: count()
        must_be: "<< 5"
  b:
    from: srcc
    window: {{type: tumbling, size: 10s}}
    checks:
      - name: c3
        measure: mean(x) +
        must_be: "> 1"
  c:
    from: src
    window: {{type: tumbling, size: -10s}}
    checks:
      - name: c4
        measure: mean(x)
        must_be: "> banana"
    outputs: [out]
  d:
    from: clean
    schema:
      fields:
        level: {{type: integer, enum: [1, 2, high]}}
    time: processing
    window: {{type: tumbling, size: 1m}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [screen]
outputs:
  out: {{type: file, path: {tmp}/no_dir/out.jsonl}}
  screen: {{type: console}}
"""

MACHINE = """inputs:
  src: {input}
nodes:
  volume:
    from: src
    time: processing
    window: {{type: tumbling, size: 1m}}
    checks:
      - {{name: volume, measure: count(), must_be: "> 0"}}
    outputs: [out]
outputs:
  out: {output}
"""


class cli_test(unittest.TestCase):
    def test_version(self):
        rc, out, _ = weir("version")
        self.assertEqual(rc, EXIT_OK)
        self.assertRegex(out, r"^weir \d+\.\d+\.\d+ \(\w+ build\)")
        self.assertIn("yaml-cpp", out)
        # A sanitized build keeps the system's allocator (the sanitizer's own); any other is
        # linked with tcmalloc (WEIR_MALLOC), unless it was configured otherwise.
        allocator = cmake_cache().get("WEIR_MALLOC", "tcmalloc")
        if cmake_cache().get("WEIR_SANITIZE") or allocator == "system":
            self.assertIn("\nallocator: system\n", out)
        else:
            self.assertRegex(out, r"\nallocator: tcmalloc \d+\.\d+")
        rc, out2, _ = weir("--version")
        self.assertEqual((rc, out2), (EXIT_OK, out))

    def test_usage_errors_exit_64(self):
        for args in ([], ["bogus"], ["validate", "--nope"], ["validate", "--format", "xml"],
                     ["graph", "--format", "png", "examples"], ["schema", "extra"]):
            with self.subTest(args=args):
                rc, _, err = weir(*args)
                self.assertEqual(rc, EXIT_USAGE, err)
                self.assertTrue(err.strip(), "a usage error says what is wrong")

    def test_help_exits_0(self):
        rc, out, _ = weir("--help")
        self.assertEqual(rc, EXIT_OK)
        for verb in ("validate", "graph", "schema", "version", "run"):
            self.assertIn(verb, out)

    def test_examples_are_valid(self):
        # --portable: the examples name files of the machines they are meant for.
        rc, out, err = weir("validate", "--portable", "examples/")
        self.assertEqual(rc, EXIT_OK, err)
        self.assertIn("configuration is valid", out)
        n = len([p for p in glob.glob(source("examples", "*.yaml"))
                 if os.path.basename(p) != "weir.yaml"])
        self.assertIn(f"{n} pipelines", out)

    def test_pipelines_in_the_docs_are_valid(self):
        # Every complete pipeline (a YAML block with inputs:) in README.md and docs/*.md.
        docs = [source("README.md")] + sorted(glob.glob(source("docs", "*.md")))
        checked = 0
        with tempfile.TemporaryDirectory() as tmp:
            for doc in docs:
                with open(doc, encoding="utf-8") as f:
                    blocks = re.findall(r"^```yaml\n(.*?)^```", f.read(), re.S | re.M)
                for i, block in enumerate(blocks):
                    if not re.search(r"^inputs:", block, re.M):
                        continue
                    path = os.path.join(tmp, f"doc_{checked}.yaml")
                    with open(path, "w", encoding="utf-8") as f:
                        f.write(block)
                    with self.subTest(doc=os.path.basename(doc), block=i):
                        # The one variable the examples need without a default.
                        rc, _, err = weir("validate", "--portable", path,
                                          env={"WEBHOOK_TOKEN": "example"})
                        if rc == EXIT_CONFIG:
                            # The reference shows Kafka and joins, which this build refuses:
                            # nothing else may be wrong.
                            errors = [l for l in err.splitlines() if ": error: " in l]
                            self.assertTrue(errors, err)
                            for line in errors:
                                self.assertIn("not built into this version of weir yet", line)
                        else:
                            self.assertEqual(rc, EXIT_OK, f"{doc} block {i}:\n{block}\n{err}")
                    checked += 1
        self.assertGreaterEqual(checked, 1)

    def test_validate_reports_every_stage_in_one_run(self):
        """Structure, measure and assessment errors, in one node and across nodes, and the
        machine's problems: all of them in one run."""
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "many.yaml")
            with open(path, "w") as f:
                f.write(MANY_PROBLEMS.format(tmp=tmp))
            rc, _, err = weir("validate", path)
            self.assertEqual(rc, EXIT_CONFIG, err)
            expected = [
                (5, 5, 'inputs.src: unknown key "bogus_key"'),
                (4, 11, f"inputs.src.path: no file matches {tmp}/missing/*.jsonl"),
                (11, 5, 'nodes.a: unknown key "unknown_option"'),
                (16, 18, 'nodes.a.checks[0].measure: unknown function "missing_fractoin"'),
                (20, 19, 'nodes.a.checks[1].must_be: unknown operator "<<"'),
                (22, 11, 'nodes.b.from: unknown input or node "srcc"'),
                (26, 27, "nodes.b.checks[0].measure: expected an aggregate function call"),
                (30, 36, 'nodes.c.window.size: expected a duration such as "60s"'),
                (34, 21, 'nodes.c.checks[0].must_be: expected a number after ">"'),
                (40, 9, 'nodes.d.schema.fields.level: schema field level: enum value "high"'),
                (47, 27, f"outputs.out.path: directory {tmp}/no_dir does not exist"),
            ]
            for line, col, message in expected:
                self.assertRegex(err, rf"many.yaml:{line}:{col}: error: {re.escape(message)}",
                                 err)
            self.assertIn(f"{len(expected) + 2} errors", err)  # and two `needs time` errors
            # --portable: the language only.
            rc, _, err = weir("validate", "--portable", path)
            self.assertEqual(rc, EXIT_CONFIG)
            self.assertNotIn("no file matches", err)
            self.assertNotIn("does not exist", err)
            self.assertIn(f"{len(expected)} errors", err)

    def test_validate_refuses_what_run_refuses(self):
        """Each problem of the machine that `weir run` refuses, `weir validate` reports at its
        place, and `--portable` leaves out."""
        with tempfile.TemporaryDirectory() as tmp:
            garbage = os.path.join(tmp, "garbage.pem")
            with open(garbage, "w") as f:
                f.write("not a certificate\n")
            with open(os.path.join(tmp, "in.jsonl"), "w") as f:
                f.write('{"v": 1}\n')
            cases = {
                "input file": (f"{{type: file, path: {tmp}/nothing*.jsonl}}",
                               f"{{type: file, path: {tmp}/out.jsonl}}",
                               "inputs.src.path: no file matches"),
                "output directory": (f"{{type: file, path: {tmp}/in.jsonl}}",
                                     f"{{type: file, path: {tmp}/absent/out.jsonl}}",
                                     f"outputs.out.path: directory {tmp}/absent does not exist"),
                "output is a directory": (f"{{type: file, path: {tmp}/in.jsonl}}",
                                          f"{{type: file, path: {tmp}}}",
                                          f"outputs.out.path: {tmp} is a directory"),
                "missing CA file": (f"{{type: file, path: {tmp}/in.jsonl}}",
                                    "{type: http, url: 'https://127.0.0.1:9/x', "
                                    f"tls: {{ca_file: {tmp}/absent.pem}}}}",
                                    f"outputs.out.tls.ca_file: tls.ca_file {tmp}/absent.pem: "
                                    "No such file or directory"),
                "CA file that is no certificate": (
                    f"{{type: file, path: {tmp}/in.jsonl}}",
                    f"{{type: http, url: 'https://127.0.0.1:9/x', tls: {{ca_file: {garbage}}}}}",
                    f"outputs.out.tls.ca_file: tls.ca_file {garbage}: cannot use it"),
            }
            for name, (source_yaml, output_yaml, message) in cases.items():
                with self.subTest(case=name):
                    path = os.path.join(tmp, "p.yaml")
                    with open(path, "w") as f:
                        f.write(MACHINE.format(input=source_yaml, output=output_yaml))
                    rc, _, err = weir("validate", path)
                    self.assertEqual(rc, EXIT_CONFIG, err)
                    self.assertRegex(err, rf"p.yaml:\d+:\d+: error: {re.escape(message)}")
                    rc, _, err = weir("validate", "--portable", path)
                    self.assertEqual(rc, EXIT_OK, err)
                    rc, _, err = weir("run", "--once", "--data-dir", os.path.join(tmp, "data"),
                                      path)
                    self.assertNotEqual(rc, EXIT_OK, f"run accepted what validate refused:\n{err}")

    def test_validate_json_report(self):
        rc, out, _ = weir("validate", "--format", "json", "examples/quickstart.yaml")
        self.assertEqual(rc, EXIT_OK)
        report = json.loads(out)
        self.assertTrue(report["valid"])
        self.assertEqual(report["errors"], 0)
        self.assertEqual(len(report["pipelines"]), 1)
        self.assertGreaterEqual(len(report["pipelines"][0]["queries"]), 1)

    def test_every_invalid_file_exits_78_at_the_expected_places(self):
        files = sorted(glob.glob(source("tests", "configs", "invalid", "*.yaml")))
        self.assertGreaterEqual(len(files), 60)
        for path in files:
            with self.subTest(file=os.path.basename(path)):
                rc, _, err = weir("validate", path, env=corpus_env(path))
                self.assertEqual(rc, EXIT_CONFIG, err)
                expected = expectations(path)
                self.assertTrue(expected, "each invalid file states its diagnostics")
                for line, col, sev, _, message in expected:
                    if line == 0:  # a problem without a position, e.g. with a whole file
                        self.assertIn(f"{sev}: ", err)
                    else:
                        self.assertRegex(err, rf":{line}:{col}: {sev}: ",
                                         f"expected a {sev} at {line}:{col}")
                    self.assertIn(message.split("\"")[0][:40], err)

    def test_yaml_traps_say_what_to_write(self):
        # The corpus entries of the common YAML traps, through `weir validate`: each diagnostic
        # names the cause at its line and column and what to write instead.
        want = {
            "yaml_interpolation_in_flow_mapping.yaml": [
                ':14:32: error: YAML syntax: end of map flow not found: inside {…} or […], the '
                '"{" of an unquoted ${…} starts another mapping; quote the value: "${OUT}"'],
            "yaml_interpolation_in_flow_list.yaml": [
                ':9:30: error: YAML syntax: end of sequence flow not found: inside {…} or […], '
                'the "{" of an unquoted ${…} starts another mapping; quote the value: '
                '"orders-${REGION}"'],
            "yaml_boolean_words.yaml": [
                ':9:13: error: inputs.readings.follow: expected true or false, got "yes"; write '
                'true (yes, no, on and off are words in YAML 1.2, which weir reads, not '
                'booleans)',
                ':13:15: error: nodes.quality.critical: expected true or false, got "off"; write '
                'false (',
                'expected true or false, got "True"; write true, in lower case'],
            "yaml_tab_indentation.yaml": [
                ':5:2: error: YAML syntax: end of map not found (tabs cannot be used for '
                'indentation: indent line 5 with spaces instead of the tab at column 1)'],
        }
        for name, fragments in want.items():
            path = source("tests", "configs", "invalid", name)
            with self.subTest(file=name):
                rc, _, err = weir("validate", path, env=corpus_env(path))
                self.assertEqual(rc, EXIT_CONFIG, err)
                for fragment in fragments:
                    self.assertIn(fragment, err)
        # The same text stops `weir run` before anything starts.
        path = source("tests", "configs", "invalid", "yaml_interpolation_in_flow_mapping.yaml")
        rc, _, err = weir("run", "--once", path, env=corpus_env(path))
        self.assertEqual(rc, EXIT_CONFIG, err)
        self.assertIn('quote the value: "${OUT}"', err)

    def test_invalid_json_report_lists_every_problem(self):
        multi = [p for p in sorted(glob.glob(source("tests", "configs", "invalid", "*.yaml")))
                 if sum(1 for e in expectations(p) if e[2] == "error") >= 3]
        self.assertTrue(multi, "the corpus has files with several problems")
        for path in multi:
            with self.subTest(file=os.path.basename(path)):
                rc, out, _ = weir("validate", "--format", "json", path)
                self.assertEqual(rc, EXIT_CONFIG)
                report = json.loads(out)
                self.assertFalse(report["valid"])
                got = {(d["line"], d["column"], d["severity"]) for d in report["diagnostics"]}
                for line, col, sev, _, _ in expectations(path):
                    self.assertIn((line, col, sev), got)

    def test_deny_warnings(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "unread.yaml")
            with open(path, "w") as f:
                f.write(
                    "inputs:\n"
                    "  used: {type: generator}\n"
                    "  spare: {type: generator}\n"
                    "nodes:\n"
                    "  quality:\n"
                    "    from: used\n"
                    "    time: processing\n"
                    "    window: {type: tumbling, size: 10s}\n"
                    "    checks:\n"
                    "      - {name: volume, measure: count(), must_be: '> 0'}\n")
            rc, _, err = weir("validate", path)
            self.assertEqual(rc, EXIT_OK, err)
            self.assertRegex(err, r"unread\.yaml:3:3: warning: inputs\.spare: ")
            rc, _, err = weir("validate", "--deny-warnings", path)
            self.assertEqual(rc, EXIT_CONFIG)

    def test_missing_path_is_reported(self):
        rc, _, err = weir("validate", "/nonexistent/weir/pipelines")
        self.assertEqual(rc, EXIT_CONFIG)
        self.assertIn("/nonexistent/weir/pipelines", err)

    def test_secrets_are_never_printed(self):
        secret = "s3cr3t-Pa55word-9271"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "secret.yaml")
            with open(path, "w") as f:
                f.write(
                    "inputs:\n"
                    "  gen: {type: generator, rate: '${WEIR_TEST_SECRET}'}\n"
                    "nodes:\n"
                    "  quality:\n"
                    "    from: gen\n"
                    "    time: processing\n"
                    "    window: {type: tumbling, size: '${WEIR_TEST_SECRET}'}\n"
                    "    checks:\n"
                    "      - {name: volume, measure: count(), must_be: '${WEIR_TEST_SECRET}'}\n"
                    "outputs:\n"
                    "  hook: {type: http, url: 'http://127.0.0.1:1/${WEIR_TEST_SECRET}',\n"
                    "         retries: '${WEIR_TEST_SECRET}'}\n")
            for fmt in ("text", "json"):
                rc, out, err = weir("validate", "--format", fmt, path,
                                    env={"WEIR_TEST_SECRET": secret})
                self.assertEqual(rc, EXIT_CONFIG, err)
                self.assertNotIn(secret, out + err)
                self.assertIn("(a secret value)", out + err)

    def test_graph_formats(self):
        # The graph of a join of two Kafka topics feeding a checking node.
        rc, out, err = weir("graph", "examples/joined_stream.yaml")
        self.assertEqual(rc, EXIT_OK, err)
        self.assertIn("queries:", out)
        rc, out, _ = weir("graph", "--format", "dot", "examples/")
        self.assertEqual(rc, EXIT_OK)
        self.assertTrue(out.startswith("digraph weir {"))
        self.assertEqual(out.count("{"), out.count("}"))
        rc, out, _ = weir("graph", "--format", "mermaid", "examples/")
        self.assertEqual(rc, EXIT_OK)
        self.assertTrue(out.startswith("flowchart LR"))

    def test_graph_of_invalid_config_exits_78(self):
        path = sorted(glob.glob(source("tests", "configs", "invalid", "*.yaml")))[0]
        rc, out, _ = weir("graph", path)
        self.assertEqual(rc, EXIT_CONFIG)
        self.assertEqual(out, "")

    def test_run_with_an_invalid_config_exits_78(self):
        path = sorted(glob.glob(source("tests", "configs", "invalid", "*.yaml")))[0]
        rc, _, err = weir("run", "--once", path)
        self.assertEqual(rc, EXIT_CONFIG)
        self.assertIn("not starting", err)

    def test_checkpoint_inspect_of_a_corrupt_file_exits_1(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "q.ckpt")
            with open(path, "wb") as f:
                f.write(b"WEIRCKPT\x01\x00\x00\x00garbage")
            rc, _, err = weir("checkpoint", "inspect", path)
            self.assertEqual(rc, EXIT_FAILURE)
            self.assertIn(path, err)


if __name__ == "__main__":
    unittest.main()
