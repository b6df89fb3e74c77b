"""`weir schema` is a JSON Schema that an independent validator (python3-jsonschema) accepts,
that every shipped example satisfies, and that rejects invalid pipeline files."""
import glob
import json
import os
import re
import unittest

import jsonschema
import yaml

from weir_test_util import source, weir


class yaml12_loader(yaml.SafeLoader):
    """PyYAML speaks YAML 1.1, where `on:` is a boolean and dates are datetimes; weir reads
    YAML 1.2's core schema. Keep only the 1.2 spellings of booleans and no timestamps."""


yaml12_loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
yaml12_loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))


def load_yaml(path):
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=yaml12_loader)


def pipeline_files(*parts):
    """Pipeline files only: weir.yaml / weir.yml are daemon settings files."""
    return [p for p in sorted(glob.glob(source(*parts, "*.yaml")))
            if os.path.basename(p) not in ("weir.yaml", "weir.yml")]


class schema_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rc, out, err = weir("schema")
        assert rc == 0, err
        cls.schema = json.loads(out)
        cls.validator_class = jsonschema.validators.validator_for(cls.schema)
        cls.validator_class.check_schema(cls.schema)
        cls.validator = cls.validator_class(cls.schema)

    def test_schema_is_draft_2020_12(self):
        self.assertEqual(self.schema["$schema"], "https://json-schema.org/draft/2020-12/schema")
        self.assertIs(self.validator_class, jsonschema.Draft202012Validator)

    def test_every_example_satisfies_the_schema(self):
        # examples/next: parts being built (Kafka, joins), in the language the schema describes.
        examples = pipeline_files("examples") + pipeline_files("examples", "next")
        self.assertGreaterEqual(len(examples), 5)
        for path in examples:
            with self.subTest(example=path):
                errors = [e.message for e in self.validator.iter_errors(load_yaml(path))]
                self.assertEqual(errors, [])

    def test_valid_corpus_satisfies_the_schema(self):
        for path in pipeline_files("tests", "configs", "valid"):
            doc = load_yaml(path)
            if not isinstance(doc, dict) or "nodes" not in doc:
                continue  # settings files and other non-pipeline documents
            with self.subTest(file=path):
                errors = [e.message for e in self.validator.iter_errors(doc)]
                self.assertEqual(errors, [])

    def test_invalid_files_are_rejected(self):
        # Files whose problems are visible to a schema (unknown keys, wrong types, bad enum
        # values, missing keys); graph and grammar problems are beyond a JSON Schema.
        rejected = 0
        checked = 0
        for path in sorted(glob.glob(source("tests", "configs", "invalid", "*.yaml"))):
            try:
                doc = load_yaml(path)
            except (yaml.YAMLError, UnicodeDecodeError):
                continue  # YAML syntax errors and bad encodings never reach a schema
            if not isinstance(doc, dict):
                continue
            checked += 1
            if any(True for _ in self.validator.iter_errors(doc)):
                rejected += 1
        self.assertGreater(checked, 0)
        # At least a third of the corpus is schema-visible; the test names the figure.
        self.assertGreaterEqual(rejected, checked // 3, f"{rejected} of {checked} rejected")

    def test_a_known_bad_file_is_rejected(self):
        doc = {"inputs": {"gen": {"type": "generator"}},
               "nodes": {"n": {"from": "gen", "time": "processing",
                               "window": {"type": "tumbling", "sise": "60s"},
                               "checks": [{"name": "v", "measure": "count()", "must_be": "> 1"}]}}}
        messages = [e.message for e in self.validator.iter_errors(doc)]
        self.assertTrue(messages, "an unknown window key must be rejected")

    def test_assessment_mistakes_are_rejected_where_they_are(self):
        # Every invalid corpus file whose diagnostic is about the shape of a must_be/should_be
        # is rejected by the pattern at that key; the order of a range's bounds, empty ranges
        # and the kinds of measures are left to `weir validate`.
        beyond_shape = ("is greater than end", "is empty", "cannot judge",
                        # checks against history: what the node's window can carry, and
                        # units mixed in one test
                        "is shorter than the window", "is not a whole number of the window",
                        "needs windows of a fixed step", "mixes numbers with and without %")
        checked = 0
        for path in sorted(glob.glob(source("tests", "configs", "invalid", "*.yaml"))):
            expects = expected_diagnostics(path)
            wanted = {key for key, message in expects
                      if key.rsplit(".", 1)[-1] in ("must_be", "should_be")
                      and not any(b in message for b in beyond_shape)}
            if not wanted:
                continue
            checked += 1
            with self.subTest(file=path):
                found = {json_path(e) for e in self.validator.iter_errors(load_yaml(path))}
                self.assertLessEqual(wanted, found)
        self.assertGreaterEqual(checked, 8)

    def test_name_mistakes_are_rejected(self):
        for name in ("bad_component_names.yaml", "bad_pipeline_name.yaml",
                     "check_name_not_snake_case.yaml"):
            path = source("tests", "configs", "invalid", name)
            with self.subTest(file=name):
                wanted = {key for key, message in expected_diagnostics(path)
                          if "snake_case" in message}
                self.assertTrue(wanted)
                found = {json_path(e) for e in self.validator.iter_errors(load_yaml(path))
                         if e.validator == "pattern"}
                self.assertEqual(wanted, found)

    def test_schema_messages_are_written_for_people(self):
        # Every pattern has a patternErrorMessage, which editors show instead of the pattern.
        def walk(node):
            if isinstance(node, dict):
                if isinstance(node.get("pattern"), str):
                    yield node
                for value in node.values():
                    yield from walk(value)
            elif isinstance(node, list):
                for value in node:
                    yield from walk(value)
        patterns = list(walk(self.schema))
        self.assertGreater(len(patterns), 20)
        for node in patterns:
            self.assertIn("patternErrorMessage", node, node["pattern"])
            self.assertNotIn("^", node["patternErrorMessage"])


class settings_schema_test(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        rc, out, err = weir("schema", "--settings")
        assert rc == 0, err
        cls.schema = json.loads(out)
        jsonschema.Draft202012Validator.check_schema(cls.schema)
        cls.validator = jsonschema.Draft202012Validator(cls.schema)

    def test_shipped_and_valid_settings_satisfy_the_schema(self):
        # examples/weir.yaml is also the packaged /etc/weir/weir.yaml (packaging/cpack.cmake).
        files = [source("examples", "weir.yaml"),
                 source("tests", "configs", "valid", "dir_with_settings", "weir.yaml")]
        for path in files:
            with self.subTest(file=path):
                errors = [e.message for e in self.validator.iter_errors(load_yaml(path))]
                self.assertEqual(errors, [])

    def test_invalid_settings_are_rejected(self):
        path = source("tests", "configs", "invalid", "bad_settings", "weir.yaml")
        found = {json_path(e) for e in self.validator.iter_errors(load_yaml(path))}
        # The schema sees the unknown key, the bad level and the non-integer; host:port and
        # the minimum of a duration are left to `weir validate`.
        self.assertLessEqual({"log.level", "-", "metrics.max_group_series"}, found)

    def test_a_pipeline_is_not_a_settings_file(self):
        doc = load_yaml(source("examples", "quickstart.yaml"))
        self.assertTrue(list(self.validator.iter_errors(doc)))


def expected_diagnostics(path):
    """(dotted path, message) of each `# expect: L:C error PATH: MESSAGE` line of a corpus file."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"# expect: \d+:\d+ error (\S+): (.*)", line)
            if m:
                out.append((m.group(1), m.group(2)))
    return out


def json_path(error):
    """A jsonschema error's place as weir's diagnostics write it: nodes.q.checks[0].must_be;
    "-" for the document itself (an unknown top-level key is reported there)."""
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else ("." if text else "") + str(part)
    if error.validator == "additionalProperties" and not text:
        return "-"
    if "propertyNames" in error.schema_path:
        # A key of the mapping at `text`: the error's instance is the key itself.
        return (text + "." if text else "") + str(error.instance)
    return text or "-"


if __name__ == "__main__":
    unittest.main()
