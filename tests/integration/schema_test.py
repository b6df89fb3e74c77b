"""`weir schema` is a JSON Schema that an independent validator (python3-jsonschema) accepts,
that every shipped example satisfies, and that rejects invalid pipeline files."""
import glob
import json
import os
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
    "tag:yaml.org,2002:bool", __import__("re").compile(r"^(?:true|false)$"), list("tf"))


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


if __name__ == "__main__":
    unittest.main()
