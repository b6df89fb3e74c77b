"""An editor that knows the language: yaml-language-server (tests/lsp, installed by
scripts/setup-deps), driven over stdio with the schemas `weir schema` prints, completes measure
functions and checks and reports mistakes in words a person reads. No network: the schemas are
local files and the server's schema store is off."""
import glob
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
import urllib.parse

from weir_test_util import log_excerpt, source, weir

TIMEOUT = 60  # seconds, for every answer of the server

SERVER = source("tests", "lsp", "node_modules", "yaml-language-server", "bin",
                "yaml-language-server")

HUMAN_ASSESSMENT = 'write a comparison such as "< 5%", "> 50" or "== true"'
HUMAN_BOOLEAN = "write true or false (or a ${VARIABLE})"
HUMAN_NAME = "names are snake_case"
HUMAN_MEASURE = "write a measure such as count()"


def file_uri(path):
    return "file://" + urllib.parse.quote(path)


class lsp_client:
    """A minimal Language Server Protocol client: Content-Length framed JSON-RPC on the
    server's stdin and stdout, requests answered by id, notifications kept by method."""

    def __init__(self, argv, settings, log_path):
        self.settings = settings
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log)
        self.next_id = 0
        self.answers = {}
        self.diagnostics = {}  # uri -> list of (version, diagnostics)
        self.cond = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self.cond:
                        self.cond.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                name, _, val = line.decode("ascii").partition(":")
                if name.lower() == "content-length":
                    length = int(val)
            message = json.loads(out.read(length))
            self._dispatch(message)

    def _dispatch(self, message):
        if "id" in message and "method" in message:
            # A request of the server's: answer the settings it pulls, acknowledge the rest.
            result = None
            if message["method"] == "workspace/configuration":
                result = [self.settings.get(item.get("section"), None)
                          for item in message["params"]["items"]]
            self._send({"jsonrpc": "2.0", "id": message["id"], "result": result})
            return
        with self.cond:
            if "id" in message:
                self.answers[message["id"]] = message
            elif message.get("method") == "textDocument/publishDiagnostics":
                params = message["params"]
                self.diagnostics.setdefault(params["uri"], []).append(
                    (params.get("version"), params["diagnostics"]))
            self.cond.notify_all()

    def _send(self, message):
        body = json.dumps(message).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method, params):
        self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method, params):
        with self.cond:
            self.next_id += 1
            rid = self.next_id
        self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        with self.cond:
            if not self.cond.wait_for(lambda: rid in self.answers or self.proc.poll() is not None,
                                      TIMEOUT):
                raise AssertionError(f"no answer to {method} within {TIMEOUT} s")
            if rid not in self.answers:
                raise AssertionError(f"the server exited during {method}: {self.stderr()}")
            answer = self.answers.pop(rid)
        if "error" in answer:
            raise AssertionError(f"{method} failed: {answer['error']}")
        return answer["result"]

    def wait_diagnostics(self, uri, version, accept=lambda diagnostics: True):
        """The first diagnostics the server published for `version` of the document `uri` that
        `accept` takes."""
        def published():
            return [d for v, d in self.diagnostics.get(uri, [])
                    if v in (version, None) and accept(d)]
        with self.cond:
            if not self.cond.wait_for(lambda: published() or self.proc.poll() is not None,
                                      TIMEOUT):
                raise AssertionError(f"no diagnostics for {uri} within {TIMEOUT} s: "
                                     f"{self.diagnostics.get(uri)}")
            if not published():
                raise AssertionError(f"the server exited: {self.stderr()}")
            return published()[0]

    def stderr(self):
        self.log.flush()
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return log_excerpt(f.read(), 2000)

    def close(self):
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None)
                self.notify("exit", None)
                self.proc.wait(timeout=10)
        except (AssertionError, OSError, subprocess.TimeoutExpired):
            pass
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
            self.log.close()


class editor_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # scripts/setup-deps installs both: their absence is a failure, not a reason to skip.
        node = shutil.which("node") or shutil.which("nodejs")
        assert node, "node is not installed: run scripts/setup-deps"
        assert os.path.isfile(SERVER), (
            f"{SERVER} is missing: run scripts/setup-deps (npm install --prefix tests/lsp)")
        cls.tmp = tempfile.mkdtemp(prefix="weir-editor-")
        cls.schema_path = os.path.join(cls.tmp, "weir.schema.json")
        cls.settings_schema_path = os.path.join(cls.tmp, "weir-settings.schema.json")
        for path, args in ((cls.schema_path, ("schema",)),
                           (cls.settings_schema_path, ("schema", "--settings"))):
            rc, out, err = weir(*args)
            assert rc == 0, err
            with open(path, "w", encoding="utf-8") as f:
                f.write(out)
        with open(cls.schema_path, encoding="utf-8") as f:
            cls.schema = json.load(f)

        # The settings file is associated by name (yaml.schemas), pipelines by a modeline.
        settings = {
            "yaml": {
                "validate": True,
                "completion": True,
                "hover": True,
                "schemaStore": {"enable": False},
                "schemas": {file_uri(cls.settings_schema_path): ["**/weir.yaml"]},
            },
            # Nothing is fetched; should anything try, it meets a closed loopback port.
            "http": {"proxy": "http://127.0.0.1:9", "proxyStrictSSL": True},
        }
        cls.client = lsp_client([node, SERVER, "--stdio"], settings,
                                os.path.join(cls.tmp, "server.log"))
        cls.client.request("initialize", {
            "processId": os.getpid(),
            "rootUri": file_uri(cls.tmp),
            "capabilities": {
                "workspace": {"configuration": True,
                              "didChangeConfiguration": {"dynamicRegistration": False}},
                "textDocument": {
                    "completion": {"completionItem": {
                        "snippetSupport": True,
                        "documentationFormat": ["markdown", "plaintext"]}},
                    "hover": {"contentFormat": ["markdown", "plaintext"]},
                    "publishDiagnostics": {"relatedInformation": True},
                },
            },
        })
        cls.client.notify("initialized", {})
        cls.client.notify("workspace/didChangeConfiguration", {"settings": settings})
        cls.documents = 0
        # Ready: both schemas are loaded and associated once a mistake in each kind of file is
        # reported. After that, a file's first diagnostics are its diagnostics.
        for text, kw in (("inputs: 5\n", {}),
                         ("log: 5\n", {"name": "weir.yaml", "modeline": False})):
            uri, _ = cls.open(text, **kw)
            cls.client.wait_diagnostics(uri, 1, accept=bool)

    @classmethod
    def tearDownClass(cls):
        cls.client.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def open(cls, text, name=None, modeline=True):
        """Opens a new document (a pipeline file unless named otherwise); returns its uri and
        its text."""
        cls.documents += 1
        name = name or f"pipeline_{cls.documents}.yaml"
        folder = os.path.join(cls.tmp, f"doc{cls.documents}")
        uri = file_uri(os.path.join(folder, name))
        if modeline:
            text = f"# yaml-language-server: $schema={file_uri(cls.schema_path)}\n" + text
        cls.client.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": text}})
        return uri, text

    def diagnostics(self, text, **kw):
        uri, _ = self.open(text, **kw)
        return self.client.wait_diagnostics(uri, 1)

    def messages(self, text, **kw):
        return [d["message"] for d in self.diagnostics(text, **kw)]

    def complete(self, text, marker="|"):
        """Completion items where `marker` stands in `text` (the marker is removed)."""
        uri, full = self.open(text.replace(marker, ""))
        before = full[:full.index(text.split(marker)[0]) + len(text.split(marker)[0])]
        line = before.count("\n")
        character = len(before) - (before.rfind("\n") + 1)
        # Completion is answered once the document is parsed; diagnostics show that it is.
        self.client.wait_diagnostics(uri, 1)
        result = self.client.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": character}})
        return result["items"] if isinstance(result, dict) else result

    @staticmethod
    def documentation(item):
        doc = item.get("documentation") or ""
        return doc["value"] if isinstance(doc, dict) else doc

    NODE = """inputs:
  gen: {type: generator}
nodes:
  quality:
    from: gen
    time: processing
    window: {type: tumbling, size: 1m}
    checks:
"""

    def check(self, check_text):
        return self.NODE + check_text

    def test_measure_completion_offers_catalogue_functions(self):
        items = self.complete(self.check(
            "      - name: completeness\n        measure: |\n        must_be: \"< 5%\"\n"))
        by_label = {i["label"]: i for i in items}
        missing = by_label.get("missing_fraction(field [, [placeholder, ...]])")
        self.assertIsNotNone(missing, sorted(by_label))
        self.assertIn("missing_count / records", self.documentation(missing))
        self.assertEqual(missing["insertText"], "missing_fraction(${1:field})")
        percentile = by_label.get("percentile(field, p [, linear|nearest])")
        self.assertIsNotNone(percentile, sorted(by_label))
        self.assertIn("p-quantile", self.documentation(percentile))
        self.assertEqual(percentile["insertText"], "percentile(${1:field}, ${2:p})")
        # Every function of the catalogue, as `weir schema` lists them, is offered.
        measure = self.schema["properties"]["nodes"]["additionalProperties"]["properties"][
            "checks"]["items"]["properties"]["measure"]
        offered = {s["label"] for s in measure["defaultSnippets"]}
        self.assertGreaterEqual(len(offered), 30)
        self.assertLessEqual(offered, set(by_label))

    def test_check_completion_offers_the_check_snippet(self):
        items = self.complete(self.check("      - |\n"))
        snippets = [i for i in items if i["label"] == "new check"]
        self.assertEqual(len(snippets), 1, [i["label"] for i in items])
        text = snippets[0]["insertText"]
        for key in ("name:", "measure:", "must_be:"):
            self.assertIn(key, text)
        self.assertIn("count()", text)
        self.assertIn("a measure", self.documentation(snippets[0]))

    def test_assessment_completion_offers_forms(self):
        items = self.complete(self.check(
            "      - name: volume\n        measure: count()\n        must_be: |\n"))
        labels = {i["label"] for i in items}
        self.assertIn("[low, high]", labels)
        self.assertIn("in {a, b}", labels)

    def test_a_bad_assessment_says_what_to_write(self):
        for bad in ('"about 5"', '"> fifty"', '"5 < x"', '"[1, 2"', '"in [a, b]"'):
            with self.subTest(must_be=bad):
                messages = self.messages(self.check(
                    f"      - name: volume\n        measure: count()\n        must_be: {bad}\n"))
                self.assertEqual(len(messages), 1, messages)
                self.assertIn(HUMAN_ASSESSMENT, messages[0])
                self.assertNotIn("pattern", messages[0])

    def test_good_assessments_pass(self):
        for good in ('"> 50"', '"< 5%"', '"[15, 35]"', '"(0, inf)"', '"in {ok, warn}"',
                     "'not in {\"n/a\", 0}'", '"== true"', '"<= 250ms"', '"${LIMIT}"'):
            with self.subTest(must_be=good):
                self.assertEqual(self.messages(self.check(
                    "      - name: volume\n        measure: count()\n"
                    f"        must_be: {good}\n        should_be: {good}\n")), [])

    def test_a_measure_without_a_function_says_what_to_write(self):
        messages = self.messages(self.check(
            "      - name: volume\n        measure: count\n        must_be: \"> 0\"\n"))
        self.assertEqual(len(messages), 1, messages)
        self.assertIn(HUMAN_MEASURE, messages[0])

    def test_yes_is_not_a_boolean_and_the_message_says_so(self):
        messages = self.messages("""inputs:
  lines: {type: file, path: /tmp/in.jsonl, follow: yes}
nodes:
  copy: {from: lines}
""")
        self.assertEqual(len(messages), 1, messages)
        self.assertIn(HUMAN_BOOLEAN, messages[0])
        self.assertNotIn("^(true|false)", messages[0])

    def test_bad_names_say_how_names_are_spelled(self):
        cases = {
            "check": self.check("      - name: Volume-1\n        measure: count()\n"
                                "        must_be: \"> 0\"\n"),
            "pipeline": "pipeline: My-Pipeline\n" + self.check(
                "      - name: volume\n        measure: count()\n        must_be: \"> 0\"\n"),
            "node": self.check("      - name: volume\n        measure: count()\n"
                               "        must_be: \"> 0\"\n").replace("quality:", "Quality:"),
        }
        for what, text in cases.items():
            with self.subTest(name=what):
                messages = self.messages(text)
                self.assertEqual(len(messages), 1, messages)
                self.assertIn(HUMAN_NAME, messages[0])

    def test_shipped_examples_have_no_diagnostics(self):
        # examples/next: parts being built (Kafka, joins), in the language the schema describes.
        examples = [p for p in sorted(glob.glob(source("examples", "*.yaml")) +
                                      glob.glob(source("examples", "next", "*.yaml")))
                    if os.path.basename(p) not in ("weir.yaml", "weir.yml")]
        self.assertGreaterEqual(len(examples), 5)
        for path in examples:
            with self.subTest(example=path), open(path, encoding="utf-8") as f:
                self.assertEqual(self.diagnostics(f.read()), [])

    def test_settings_file_is_checked_by_its_own_schema(self):
        with open(source("examples", "weir.yaml"), encoding="utf-8") as f:
            packaged = f.read()
        self.assertEqual(self.messages(packaged, name="weir.yaml", modeline=False), [])
        messages = self.messages("log:\n  level: loud\ncheckpoint:\n  interval: soon\n",
                                 name="weir.yaml", modeline=False)
        self.assertEqual(len(messages), 2, messages)
        self.assertTrue(any("write a duration such as 250ms" in m for m in messages), messages)

    def test_hover_shows_markdown_descriptions(self):
        text = self.check("      - name: volume\n        measure: count()\n        must_be: \"> 0\"\n")
        uri, full = self.open(text)
        self.client.wait_diagnostics(uri, 1)
        line = full.split("\n").index("        must_be: \"> 0\"")
        hover = self.client.request("textDocument/hover", {
            "textDocument": {"uri": uri}, "position": {"line": line, "character": 10}})
        value = hover["contents"]["value"] if isinstance(hover["contents"], dict) else str(
            hover["contents"])
        self.assertIn("| form | holds when the value is |", value)


if __name__ == "__main__":
    unittest.main()
