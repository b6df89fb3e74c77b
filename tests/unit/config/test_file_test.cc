// Pipeline test files (config/test_file.h): what they read into (records as JSON lines, typed
// expectations), and the diagnostics of malformed files and of names the pipelines do not have.
#include "config/test_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "tests/unit/config/builtin_registry.h"

namespace weir::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using weir::test::registry;

env_lookup no_env() {
    return [](const std::string&) { return std::optional<std::string>(); };
}

std::string listing(const diagnostics& d) {
    std::string out;
    for (const auto& x : d.sorted()) out += format(x) + "\n";
    return out;
}

const char* const k_pipeline = R"(pipeline: sensors
inputs:
  readings: {type: stdin}
  rows: {type: stdin, format: csv}
nodes:
  quality:
    from: readings
    time: {field: ts}
    window: {type: tumbling, size: 10s}
    group_by: [device]
    checks:
      - {name: volume, measure: count(), must_be: "> 2"}
      - {name: temp, measure: mean(t), must_be: "< 30"}
  table:
    from: rows
    time: {field: ts}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: volume, measure: count(), must_be: "> 2"}
)";

config_set pipelines() {
    auto r = load_text(k_pipeline, "sensors.yaml", registry(), no_env());
    EXPECT_FALSE(r.diags.has_errors()) << listing(r.diags);
    return std::move(r.config);
}

std::optional<test_file> load(const std::string& text, diagnostics& d) {
    return load_test_text(text, "/tmp/t/sensors_test.yaml", no_env(), d);
}

TEST(test_file, reads_records_lines_and_expectations) {
    diagnostics d;
    auto t = load(R"(pipelines: [sensors.yaml, ../other/more.yaml]
now: "2026-11-20T10:01:00Z"
env: {BROKERS: "localhost:9092"}
tests:
  - name: first
    inputs:
      readings:
        records:
          - {ts: "2026-11-20T10:00:01Z", device: d1, t: 21.5, ok: true, n: null, q: "7"}
          - {ts: "2026-11-20T10:00:02Z", nested: {a: [1, 2.50, 1e3, x]}, big: +5}
      sensors/rows:
        lines: |
          ts,v
          2026-11-20T10:00:01Z,1
    expect:
      - check: volume
        node: quality
        window: "2026-11-20T10:00:00Z"
        group: {device: d1}
        outcome: fail
        value: 2
        tolerance: 0.5
        relative_tolerance: 1%
        records: 2
        count: 1
      - {check: temp, window: -1, value: null}
  - name: second
    now: "2026-11-20T11:00:00Z"
    inputs:
      readings: {lines: ['{"ts": 1}', "not json"]}
    no_other_results: true
)",
                  d);
    ASSERT_TRUE(t) << listing(d);
    EXPECT_TRUE(d.empty()) << listing(d);
    EXPECT_EQ(t->pipelines,
              (std::vector<std::string>{"/tmp/t/sensors.yaml", "/tmp/other/more.yaml"}));
    ASSERT_EQ(t->env.size(), 1u);
    EXPECT_EQ(t->env[0].second, "localhost:9092");
    ASSERT_EQ(t->cases.size(), 2u);

    const test_case& c = t->cases[0];
    EXPECT_EQ(c.name, "first");
    time::timestamp_ns now = 0;
    ASSERT_TRUE(time::parse_rfc3339("2026-11-20T10:01:00Z", now));
    EXPECT_EQ(c.now, now);
    ASSERT_EQ(c.inputs.size(), 2u);
    EXPECT_TRUE(c.inputs[0].structured);
    // Unquoted scalars become JSON numbers, booleans and nulls; quoted ones strings.
    EXPECT_EQ(c.inputs[0].text,
              "{\"ts\":\"2026-11-20T10:00:01Z\",\"device\":\"d1\",\"t\":21.5,\"ok\":true,"
              "\"n\":null,\"q\":\"7\"}\n"
              "{\"ts\":\"2026-11-20T10:00:02Z\",\"nested\":{\"a\":[1,2.50,1e3,\"x\"]},"
              "\"big\":5}\n");
    EXPECT_EQ(c.inputs[1].name, "sensors/rows");
    EXPECT_FALSE(c.inputs[1].structured);
    EXPECT_EQ(c.inputs[1].text, "ts,v\n2026-11-20T10:00:01Z,1\n");

    ASSERT_EQ(c.expect.size(), 2u);
    const expected_result& x = c.expect[0];
    EXPECT_EQ(x.check.value, "volume");
    EXPECT_EQ(x.node, "quality");
    ASSERT_TRUE(x.window_start);
    EXPECT_EQ(*x.window_start, now - 60 * time::ns_per_s);
    ASSERT_TRUE(x.group);
    EXPECT_EQ((*x.group)[0].first, "device");
    EXPECT_EQ((*x.group)[0].second.text, "d1");
    EXPECT_EQ(x.expected_outcome, outcome::fail);
    EXPECT_EQ(x.value->text, "2");
    EXPECT_EQ(x.tolerance, 0.5);
    EXPECT_DOUBLE_EQ(x.relative_tolerance, 0.01);
    EXPECT_EQ(x.records, 2);
    EXPECT_EQ(x.count, 1);
    EXPECT_EQ(c.expect[1].window_index, -1);
    ASSERT_TRUE(c.expect[1].value);
    EXPECT_TRUE(c.expect[1].value->null);
    EXPECT_FALSE(c.no_other_results);

    const test_case& c2 = t->cases[1];
    EXPECT_EQ(c2.inputs[0].text, "{\"ts\": 1}\nnot json\n");
    EXPECT_TRUE(c2.no_other_results);
    EXPECT_EQ(c2.now - now, 59 * 60 * time::ns_per_s);
}

TEST(test_file, the_default_wall_clock_is_far_after_any_data) {
    diagnostics d;
    auto t = load("pipelines: p.yaml\ntests:\n  - {name: a, no_other_results: true}\n", d);
    ASSERT_TRUE(t) << listing(d);
    EXPECT_EQ(t->cases[0].now, k_default_test_now);
    EXPECT_EQ(time::format_rfc3339_ms(k_default_test_now), "2100-01-01T00:00:00.000Z");
}

TEST(test_file, records_from_a_file_relative_to_the_test_file) {
    const fs::path dir = fs::temp_directory_path() / ("weir_test_file_" + std::to_string(getpid()));
    fs::create_directories(dir / "data");
    std::ofstream(dir / "data" / "r.jsonl") << "{\"a\":1}\n{\"a\":2}";  // no final newline
    std::ofstream(dir / "x_test.yaml") << "pipelines: p.yaml\ntests:\n  - name: a\n"
                                          "    inputs: {in: {file: data/r.jsonl}}\n"
                                          "    no_other_results: true\n"
                                          "  - name: b\n"
                                          "    inputs: {in: {file: data/missing.jsonl}}\n"
                                          "    no_other_results: true\n";
    diagnostics d;
    auto t = load_test_file((dir / "x_test.yaml").string(), no_env(), d);
    EXPECT_FALSE(t);
    ASSERT_EQ(d.error_count(), 1u) << listing(d);
    EXPECT_THAT(format(d.items()[0]), HasSubstr("x_test.yaml:7:"));
    EXPECT_THAT(format(d.items()[0]), HasSubstr("data/missing.jsonl\": no such file"));

    std::ofstream(dir / "y_test.yaml") << "pipelines: p.yaml\ntests:\n  - name: a\n"
                                          "    inputs: {in: {file: data/r.jsonl}}\n"
                                          "    no_other_results: true\n";
    diagnostics d2;
    t = load_test_file((dir / "y_test.yaml").string(), no_env(), d2);
    ASSERT_TRUE(t) << listing(d2);
    EXPECT_EQ(t->cases[0].inputs[0].text, "{\"a\":1}\n{\"a\":2}\n");
    EXPECT_EQ(t->cases[0].inputs[0].origin, (dir / "data" / "r.jsonl").string());
    fs::remove_all(dir);
}

TEST(test_file, structure_errors_name_file_line_and_suggest) {
    diagnostics d;
    auto t = load(R"(pipelines: p.yaml
now: yesterday
tests:
  - name: a
    inputz: {}
    expect:
      - {check: volume, outcom: fail, window: soon, relative_tolerance: lots}
      - {check: volume, outcome: failed, tolerance: 1}
  - name: a
    inputs:
      readings: {records: [], lines: "x"}
  - name: quiet
)",
                  d);
    EXPECT_FALSE(t);
    const std::string all = listing(d);
    EXPECT_THAT(all, HasSubstr("sensors_test.yaml:5:5: error: tests[0]: unknown key \"inputz\"; "
                               "did you mean \"inputs\"?"));
    EXPECT_THAT(all, HasSubstr("sensors_test.yaml:7:25: error: tests[0].expect[0]: unknown key "
                               "\"outcom\"; did you mean \"outcome\"?"));
    EXPECT_THAT(all, HasSubstr("tests[0].expect[1].outcome: expected one of"));
    EXPECT_THAT(all, HasSubstr("did you mean \"fail\"?"));
    EXPECT_THAT(all, HasSubstr("\"records\" and \"lines\" cannot be used together"));
    // Errors of values are reported once the structure is right.
    EXPECT_EQ(d.error_count(), 4u) << all;

    diagnostics d2;
    t = load(R"(pipelines: p.yaml
now: yesterday
tests:
  - name: a
    expect:
      - {check: volume, window: soon, relative_tolerance: lots}
      - {check: volume, value: high, tolerance: 1}
  - name: a
    no_other_results: true
  - name: quiet
)",
             d2);
    EXPECT_FALSE(t);
    const std::string all2 = listing(d2);
    EXPECT_THAT(all2, HasSubstr(":2:6: error: now: expected a time such as"));
    EXPECT_THAT(all2, HasSubstr(":6:33: error: tests[0].expect[0].window: expected the window's "
                                "start (RFC 3339"));
    EXPECT_THAT(all2, HasSubstr("tests[0].expect[0].relative_tolerance: expected a fraction"));
    // expect[0] has a tolerance without a value, expect[1] one with a value that is no number.
    EXPECT_THAT(all2, HasSubstr(":6:59: error: tests[0].expect[0]: a tolerance needs a number as "
                                "`value`"));
    EXPECT_THAT(all2, HasSubstr(":7:49: error: tests[0].expect[1]: a tolerance needs a number as "
                                "`value`"));
    EXPECT_THAT(all2, HasSubstr(":8:11: error: tests[1].name: another case is named \"a\""));
    EXPECT_THAT(all2, HasSubstr(":10:5: error: tests[2]: the case asserts nothing"));
    EXPECT_EQ(d2.error_count(), 7u) << all2;
}

TEST(test_file, names_are_checked_against_the_pipelines) {
    diagnostics d;
    auto t = load(R"(pipelines: sensors.yaml
tests:
  - name: a
    inputs:
      reading: {records: [{a: 1}]}
      rows: {records: [{a: 1}]}
      sensorz/readings: {lines: "x"}
      readings: {lines: "x"}
      sensors/readings: {lines: "x"}
    expect:
      - {check: volum}
      - {check: volume}
      - {check: temp, node: qualty}
      - {check: temp, group: {devise: d1}}
      - {check: volume, node: table, group: {device: d1}}
      - {check: temp, pipeline: other}
      - {check: temp, node: quality, group: {device: d1}, outcome: pass}
)",
                  d);
    ASSERT_TRUE(t) << listing(d);
    const config_set config = pipelines();
    check_test_file(*t, config, d);
    const std::string all = listing(d);
    EXPECT_THAT(all, HasSubstr(":5:7: error: tests[0].inputs.reading: unknown input \"reading\"; "
                               "did you mean \"readings\"?"));
    EXPECT_THAT(all, HasSubstr(":6:7: error: tests[0].inputs.rows: input \"rows\" reads CSV: give "
                               "its records as `lines:`"));
    EXPECT_THAT(all, HasSubstr(":7:7: error: tests[0].inputs.sensorz/readings: unknown pipeline "
                               "\"sensorz\"; did you mean \"sensors\"?"));
    EXPECT_THAT(all, HasSubstr(":9:7: error: tests[0].inputs.sensors/readings: "
                               "\"sensors/readings\" and \"readings\" are the same input"));
    EXPECT_THAT(all, HasSubstr(":11:17: error: tests[0].expect[0]: unknown check \"volum\"; did "
                               "you mean \"volume\"?"));
    EXPECT_THAT(all, HasSubstr(":12:17: error: tests[0].expect[1]: several nodes have a check "
                               "\"volume\" (\"sensors/quality\", \"sensors/table\"): add `node:`"));
    EXPECT_THAT(all, HasSubstr("tests[0].expect[2]: unknown node \"qualty\" (with checks); did you "
                               "mean \"quality\"?"));
    EXPECT_THAT(all, HasSubstr("tests[0].expect[3].group.devise: node \"quality\" does not group "
                               "by \"devise\"; did you mean \"device\"?"));
    EXPECT_THAT(all, HasSubstr("tests[0].expect[4].group: node \"table\" has no group_by"));
    EXPECT_THAT(all, HasSubstr("tests[0].expect[5]: unknown pipeline \"other\""));
    EXPECT_EQ(d.error_count(), 10u) << all;
    // What resolved is resolved.
    EXPECT_EQ(t->cases[0].inputs[3].pipeline, "sensors");
    EXPECT_EQ(t->cases[0].inputs[3].input, "readings");
    EXPECT_EQ(t->cases[0].expect[6].pipeline, "sensors");
    EXPECT_EQ(t->cases[0].expect[6].node, "quality");
}

TEST(test_file, yaml_syntax_errors_and_missing_files_are_diagnostics) {
    diagnostics d;
    EXPECT_FALSE(load("pipelines: [a\ntests: x\n", d));
    EXPECT_THAT(listing(d), HasSubstr("YAML syntax"));
    diagnostics d2;
    EXPECT_FALSE(load("tests: []\n", d2));
    EXPECT_THAT(listing(d2), HasSubstr("missing required key \"pipelines\""));
    diagnostics d4;
    EXPECT_FALSE(load("pipelines: p.yaml\ntests: []\n", d4));
    EXPECT_THAT(listing(d4), HasSubstr(":2:8: error: tests: no test cases"));
    diagnostics d3;
    EXPECT_FALSE(load_test_file("/nonexistent/x_test.yaml", no_env(), d3));
    EXPECT_THAT(listing(d3), HasSubstr("/nonexistent/x_test.yaml: error: no such file"));
}

TEST(test_file, mutated_example_tests_give_diagnostics_never_a_crash) {
    // The shipped test files with bytes flipped, inserted or cut, and lines dropped: reading and
    // checking them never throws, and every diagnostic points into the text (or at 0:0).
    // Each with the pipeline it tests: examples/<x>_test.yaml tests examples/<x>.yaml.
    std::vector<std::string> texts;
    std::vector<config_set> configs;
    for (const auto& e :
         fs::recursive_directory_iterator(fs::path(WEIR_SOURCE_DIR) / "examples" / "tests")) {
        const std::string stem = e.path().stem().string();
        if (!stem.ends_with("_test")) continue;
        std::ifstream in(e.path());
        texts.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        const fs::path pipeline =
            fs::path(WEIR_SOURCE_DIR) / "examples" / (stem.substr(0, stem.size() - 5) + ".yaml");
        auto loaded = config::load({pipeline.string()}, registry(), no_env());
        ASSERT_FALSE(loaded.diags.has_errors()) << pipeline << ":\n" << listing(loaded.diags);
        configs.push_back(std::move(loaded.config));
    }
    ASSERT_GE(texts.size(), 1u);
    // Named as if beside the originals, so that their `file:` records are found.
    const std::string name = WEIR_SOURCE_DIR "/examples/tests/m_test.yaml";
    for (std::size_t i = 0; i < texts.size(); ++i) {
        diagnostics d;
        auto t = load_test_text(texts[i], name, no_env(), d);
        ASSERT_TRUE(t) << listing(d);
        check_test_file(*t, configs[i], d);
        EXPECT_TRUE(d.empty()) << listing(d);
    }
    std::mt19937_64 rng(18);
    int rejected = 0;
    for (int round = 0; round < 500; ++round) {
        const std::size_t which = rng() % texts.size();
        std::string text = texts[which];
        const config_set& config = configs[which];
        for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) {
            const std::size_t at = rng() % text.size();
            switch (rng() % 4) {
                case 0:
                    text[at] = static_cast<char>(rng() % 256);
                    break;
                case 1:
                    text.insert(at, 1, "{}[]:,-'\"&*!|>%@`#\t \n"[rng() % 20]);
                    break;
                case 2:
                    text.resize(at);
                    break;
                default: {
                    const std::size_t b = text.rfind('\n', at);
                    const std::size_t e = text.find('\n', at);
                    if (b != std::string::npos && e != std::string::npos) text.erase(b, e - b);
                }
            }
            if (text.empty()) text = "x";
        }
        const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
        diagnostics d;
        std::optional<test_file> t;
        ASSERT_NO_THROW(t = load_test_text(text, name, no_env(), d)) << text;
        if (t) {
            ASSERT_NO_THROW(check_test_file(*t, config, d)) << text;
        }
        if (d.has_errors()) ++rejected;
        for (const auto& x : d.sorted()) {
            EXPECT_FALSE(x.message.empty()) << format(x);
            if (x.pos.file == name) {
                EXPECT_LE(x.pos.line, lines + 1) << format(x);
            }
        }
    }
    EXPECT_GT(rejected, 250);  // most mutations break something, and all are survived
}

}  // namespace
}  // namespace weir::config
