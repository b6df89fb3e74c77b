// Loading: paths and directories, the settings file, pipeline names, the typed model, the
// declarations and schema, and that secrets from the environment never reach a diagnostic.
#include "config/load.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>

#include "config/plan.h"
#include "config/specs.h"
#include "connectors/register.h"
#include "tests/unit/config/builtin_registry.h"
#include "tests/unit/spec_expectations.h"

namespace weir::config {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

using weir::test::language_only;
using weir::test::registry;

env_lookup no_env() {
    return [](const std::string&) { return std::optional<std::string>(); };
}

env_lookup env_of(std::map<std::string, std::string> vars) {
    return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

std::string all_text(const diagnostics& d) {
    std::string out;
    for (const auto& i : d.sorted()) out += format(i) + "\n";
    return out;
}

std::vector<std::string> errors(const diagnostics& d) {
    std::vector<std::string> out;
    for (const auto& i : d.sorted()) {
        if (i.severity == severity::error) out.push_back(format(i));
    }
    return out;
}

// A fresh directory under the system's temp directory, removed at the end of the test.
class temp_dir {
  public:
    temp_dir() {
        std::random_device rd;
        path_ = fs::temp_directory_path() / ("weir-load-test-" + std::to_string(rd()));
        fs::create_directories(path_);
    }
    ~temp_dir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string write(const std::string& name, const std::string& text) const {
        const fs::path p = path_ / name;
        fs::create_directories(p.parent_path());
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }
    std::string path() const { return path_.string(); }
    std::string operator/(const std::string& name) const { return (path_ / name).string(); }

  private:
    fs::path path_;
};

std::string pipeline_text(const std::string& name_line = "") {
    return name_line +
           "inputs:\n"
           "  lines: {type: stdin}\n"
           "nodes:\n"
           "  volume:\n"
           "    from: lines\n"
           "    time: processing\n"
           "    window: {type: tumbling, size: 1m}\n"
           "    checks:\n"
           "      - {name: records, measure: count(), must_be: \"> 0\"}\n";
}

TEST(load, settings_default_without_a_settings_file) {
    temp_dir dir;
    const auto r = load({dir.write("a.yaml", pipeline_text())}, registry(), no_env());
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    const settings_config& s = r.config.settings;
    EXPECT_EQ(s.file, "");
    EXPECT_EQ(s.data_dir.value, "/var/lib/weir");
    EXPECT_FALSE(s.data_dir.given);
    EXPECT_EQ(s.http_listen.value, "127.0.0.1:9797");
    EXPECT_EQ(s.log_level.value, "info");
    EXPECT_EQ(s.log_format.value, "text");
    EXPECT_EQ(s.checkpoint_interval.value, 10s);
    EXPECT_EQ(s.shutdown_timeout.value, 30s);
    EXPECT_EQ(s.metrics_max_group_series.value, 1000);
}

TEST(load, settings_file_by_name_and_positions) {
    temp_dir dir;
    const std::string settings =
        dir.write("weir.yml", "log:\n  level: warn\nshutdown_timeout: 2m\n");
    const auto r = load({settings, dir.write("p.yaml", pipeline_text())}, registry(), no_env());
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    EXPECT_EQ(r.config.settings.file, settings);
    EXPECT_EQ(r.config.settings.log_level.value, "warn");
    EXPECT_TRUE(r.config.settings.log_level.given);
    EXPECT_EQ(r.config.settings.log_level.pos, (source_pos{settings, 2, 10}));
    EXPECT_EQ(r.config.settings.shutdown_timeout.value, 2min);
    EXPECT_EQ(r.config.settings.log_format.value, "text");
    ASSERT_EQ(r.config.pipelines.size(), 1u);  // the settings file is not a pipeline
}

TEST(load, settings_of_live_taps_are_off_by_default_and_checked) {
    temp_dir dir;
    auto settings = [&](const std::string& text) {
        return load({dir.write("weir.yaml", text), dir.write("p.yaml", pipeline_text())},
                    registry(), no_env());
    };
    auto r = settings("log:\n  level: warn\n");
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    EXPECT_FALSE(r.config.settings.http_tap.value);
    EXPECT_FALSE(r.config.settings.http_tap_remote.value);
    EXPECT_EQ(r.config.settings.http_tap_rate.value, 100);

    r = settings("http:\n  tap: true\n  tap_remote: true\n  tap_rate: 20\n");
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    EXPECT_TRUE(r.config.settings.http_tap.value);
    EXPECT_TRUE(r.config.settings.http_tap_remote.value);
    EXPECT_EQ(r.config.settings.http_tap_rate.value, 20);

    r = settings("http:\n  tap: yes\n  tap_rate: 0\n");
    ASSERT_EQ(errors(r.diags).size(), 2u) << all_text(r.diags);
    EXPECT_THAT(all_text(r.diags), HasSubstr("http.tap"));
    EXPECT_THAT(all_text(r.diags), HasSubstr("http.tap_rate"));
}

TEST(load, empty_settings_file_means_defaults) {
    temp_dir dir;
    const auto r = load({dir.write("weir.yaml", "# nothing yet\n")}, registry(), no_env());
    EXPECT_TRUE(r.diags.empty()) << all_text(r.diags);
    EXPECT_EQ(r.config.settings.data_dir.value, "/var/lib/weir");
    EXPECT_TRUE(r.config.pipelines.empty());
}

TEST(load, a_second_settings_file_is_an_error) {
    temp_dir dir;
    const std::string first = dir.write("etc/weir.yaml", "data_dir: /a\n");
    const std::string second = dir.write("conf.d/weir.yml", "data_dir: /b\n");
    const auto r = load({first, second}, registry(), no_env());
    ASSERT_EQ(errors(r.diags).size(), 1u) << all_text(r.diags);
    EXPECT_THAT(errors(r.diags)[0], HasSubstr(second + ": error: a second settings file"));
    EXPECT_THAT(errors(r.diags)[0], HasSubstr(first));
    EXPECT_EQ(r.config.settings.data_dir.value, "/a");
}

TEST(load, directories_are_read_in_name_order_and_not_recursively_without_tests) {
    temp_dir dir;
    dir.write("pipelines/b.yml", pipeline_text("pipeline: zeta\n"));
    dir.write("pipelines/a.yaml", pipeline_text());
    dir.write("pipelines/c.json", "{not: yaml");
    dir.write("pipelines/.hidden.yaml", "broken: [");
    dir.write("pipelines/sub/d.yaml", "broken: [");
    // Pipeline tests beside the pipelines are `weir test`'s, not pipelines.
    dir.write("pipelines/a_test.yaml", "pipelines: a.yaml\ntests: []\n");
    dir.write("pipelines/b_test.yml", "pipelines: b.yml\ntests: []\n");
    fs::create_directories(dir / "pipelines/e.yaml");  // a directory with a YAML name
    const auto r = load({dir / "pipelines"}, registry(), no_env());
    EXPECT_TRUE(r.diags.empty()) << all_text(r.diags);
    ASSERT_EQ(r.config.pipelines.size(), 2u);
    EXPECT_EQ(r.config.pipelines[0].name, "a");
    EXPECT_EQ(r.config.pipelines[0].file, dir / "pipelines/a.yaml");
    EXPECT_EQ(r.config.pipelines[1].name, "zeta");
}

TEST(load, the_same_file_twice_is_read_once) {
    temp_dir dir;
    const std::string file = dir.write("p.yaml", pipeline_text());
    const auto r = load({file, dir.path(), file}, registry(), no_env());
    EXPECT_TRUE(r.diags.empty()) << all_text(r.diags);
    EXPECT_EQ(r.config.pipelines.size(), 1u);
}

TEST(load, missing_paths_and_empty_directories) {
    temp_dir dir;
    fs::create_directories(dir / "empty");
    const auto r = load({dir / "nope.yaml", dir / "empty"}, registry(), no_env());
    ASSERT_EQ(errors(r.diags).size(), 1u) << all_text(r.diags);
    EXPECT_EQ(errors(r.diags)[0], dir / "nope.yaml" + ": error: no such file or directory");
    EXPECT_THAT(all_text(r.diags),
                HasSubstr(dir / "empty" + ": warning: the directory holds no *.yaml"));
}

TEST(load, files_that_cannot_be_read) {
    temp_dir dir;
    fs::create_directories(dir / "d");
    fs::create_symlink(dir / "gone.yaml", dir / "d/dangling.yaml");
    ASSERT_EQ(::mkfifo((dir / "fifo.yaml").c_str(), 0600), 0);
    const auto r = load({dir / "d", dir / "fifo.yaml"}, registry(), no_env());
    const auto e = errors(r.diags);
    ASSERT_EQ(e.size(), 2u) << all_text(r.diags);
    EXPECT_EQ(e[0], dir / "d/dangling.yaml" + ": error: no such file or directory");
    EXPECT_EQ(e[1], dir / "fifo.yaml" + ": error: not a regular file");
}

TEST(load, duplicate_pipeline_names_across_files) {
    temp_dir dir;
    const std::string a = dir.write("one/sensors.yaml", pipeline_text());
    const std::string b = dir.write("two/other.yaml", pipeline_text("pipeline: sensors\n"));
    const auto r = load({a, b}, registry(), no_env());
    const auto e = errors(r.diags);
    ASSERT_EQ(e.size(), 1u) << all_text(r.diags);
    EXPECT_EQ(e[0], b + ":1:11: error: pipeline: pipeline \"sensors\" is already defined in " + a);
    ASSERT_EQ(r.config.pipelines.size(), 1u);
    EXPECT_EQ(r.config.pipelines[0].file, a);
}

TEST(load, names_come_from_the_stem_unless_given) {
    temp_dir dir;
    const auto r = load({dir.write("cold_storage.yaml", pipeline_text()),
                         dir.write("x.yml", pipeline_text("pipeline: warm_storage\n"))},
                        registry(), no_env());
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    ASSERT_EQ(r.config.pipelines.size(), 2u);
    EXPECT_EQ(r.config.pipelines[0].name, "cold_storage");
    EXPECT_EQ(r.config.pipelines[0].name_pos, (source_pos{dir / "cold_storage.yaml", 1, 1}));
    EXPECT_EQ(r.config.pipelines[1].name, "warm_storage");
    EXPECT_EQ(r.config.pipelines[1].name_pos, (source_pos{dir / "x.yml", 1, 11}));
}

TEST(load, a_stem_that_is_not_snake_case_suggests_a_name) {
    temp_dir dir;
    const auto r = load({dir.write("2026 Sensors-EU.yaml", pipeline_text())}, registry(), no_env());
    const auto e = errors(r.diags);
    ASSERT_EQ(e.size(), 1u) << all_text(r.diags);
    EXPECT_THAT(e[0], HasSubstr(":1:1: error: the file name \"2026 Sensors-EU\""));
    EXPECT_THAT(e[0], HasSubstr("set `pipeline: p_2026_sensors_eu`"));
}

TEST(load_text, loads_one_document) {
    const auto r = load_text(pipeline_text(), "/dev/stdin.yaml", registry(), no_env());
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    ASSERT_EQ(r.config.pipelines.size(), 1u);
    EXPECT_EQ(r.config.pipelines[0].name, "stdin");
    EXPECT_EQ(r.config.pipelines[0].nodes.at(0).checks.at(0).must_be->value, "> 0");
}

TEST(load_text, reports_every_problem_of_a_file) {
    const std::string text =
        "inputs:\n"
        "  a: {type: kafka, brokers: k:9092, topics: [t], group: g, start: first}\n"
        "nodes:\n"
        "  n:\n"
        "    from: [a, b]\n"
        "    time: {field: ts}\n"
        "    window: {type: sliding, size: 5m}\n"
        "    checks:\n"
        "      - {name: v, measure: count(), must_be: \"> 1\"}\n"
        "      - {name: v, measure: count(), must_be: \"> 2\"}\n"
        "outputs:\n"
        "  o: {type: webhook}\n";
    const auto r = load_text(text, "p.yaml", registry(), no_env());
    const auto e = errors(r.diags);
    ASSERT_EQ(e.size(), 5u) << all_text(r.diags);
    EXPECT_THAT(e[0], HasSubstr("p.yaml:2:67: error: inputs.a.start"));
    EXPECT_THAT(e[1], HasSubstr("p.yaml:5:15: error: nodes.n.from: unknown input or node \"b\""));
    EXPECT_THAT(e[2], HasSubstr("p.yaml:7:13: error: nodes.n.window: \"slide\" is required"));
    EXPECT_THAT(e[3], HasSubstr("p.yaml:10:16: error: nodes.n.checks[1].name: duplicate check"));
    EXPECT_THAT(e[4], HasSubstr("p.yaml:12:13: error: outputs.o.type: unknown output type"));
}

TEST(load_text, fills_the_model) {
    const std::string text = R"(pipeline: shop
inputs:
  orders: {type: kafka, brokers: k:9092, topics: [orders], group: g}
  payments: {type: file, path: /p.jsonl}
  fx: {type: file, path: /fx.jsonl}
nodes:
  paid:
    from: [orders, payments]
    critical: true
    transforms:
      - filter: 'amount > 0'
      - set: {cents: 'amount * 100'}
      - rename: {ts: event_time}
      - drop: [debug, trace_id]
    time: {field: event_time, format: epoch_ms}
    join: {type: interval, left: orders, right: payments, on: {left: id, right: order_id},
           within: 15m, kind: left}
    window: {type: sliding, size: 10m, slide: 2m, allowed_lateness: 30s, idle_timeout: 1m}
    group_by: [orders.region]
    max_groups: 10
    group_ttl: 2h
    empty_is_missing: false
    checks:
      - {name: volume, measure: count(), assess: "> 0", description: any orders at all}
      - {name: paid, measure: missing_fraction(payments.id), should_be: "< 5%"}
    emit: changes
    outputs: [results]
    on_error: {action: stop, max_errors: 5, per: 10s}
    buffer: {max_records: 50, when_full: drop_oldest}
    depends_on: [{input: payments, max_lag: 1h, on_down: continue}]
    late_output: rejects
outputs:
  results: {type: file, path: /r.jsonl}
  rejects: {type: file, path: /x.jsonl}
)";
    const auto r = load_text(text, "shop.yaml", registry(), no_env(), language_only);
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    const pipeline_config& p = r.config.pipelines.at(0);
    EXPECT_EQ(p.name, "shop");
    ASSERT_EQ(p.inputs.size(), 3u);
    EXPECT_EQ(p.inputs[0].name, "orders");
    EXPECT_EQ(p.inputs[0].pos, (source_pos{"shop.yaml", 3, 3}));
    EXPECT_EQ(p.inputs[0].type.value, "kafka");
    ASSERT_NE(p.inputs[0].info, nullptr);
    EXPECT_EQ(p.inputs[0].info->kind, params::component_kind::input);
    EXPECT_NE(p.inputs[0].params.find("type"), nullptr);  // the whole mapping
    EXPECT_TRUE(p.outputs[1].info->accepts_records);

    const node_config& n = p.nodes.at(0);
    EXPECT_EQ(n.name, "paid");
    EXPECT_EQ(n.pos, (source_pos{"shop.yaml", 7, 3}));
    ASSERT_EQ(n.from.size(), 2u);
    EXPECT_EQ(n.from[1].value, "payments");
    EXPECT_EQ(n.from[1].pos, (source_pos{"shop.yaml", 8, 20}));
    EXPECT_TRUE(n.critical);
    EXPECT_FALSE(n.schema);
    ASSERT_EQ(n.transforms.size(), 4u);
    EXPECT_EQ(n.transforms[0].type, transform_config::kind::filter);
    EXPECT_EQ(n.transforms[0].expression.value, "amount > 0");
    EXPECT_EQ(n.transforms[1].type, transform_config::kind::set);
    EXPECT_EQ(n.transforms[1].assignments.at(0).first.value, "cents");
    EXPECT_EQ(n.transforms[1].assignments.at(0).second.value, "amount * 100");
    EXPECT_EQ(n.transforms[2].type, transform_config::kind::rename);
    EXPECT_EQ(n.transforms[2].assignments.at(0).second.value, "event_time");
    EXPECT_EQ(n.transforms[3].type, transform_config::kind::drop);
    EXPECT_EQ(n.transforms[3].assignments.size(), 2u);
    ASSERT_TRUE(n.time);
    EXPECT_FALSE(n.time->processing);
    EXPECT_EQ(n.time->format.value, "epoch_ms");
    ASSERT_TRUE(n.join);
    EXPECT_EQ(n.join->type.value, "interval");
    EXPECT_EQ(n.join->on_left.value, "id");
    EXPECT_EQ(n.join->on_right.value, "order_id");
    EXPECT_EQ(n.join->within.value, 15min);
    EXPECT_EQ(n.join->kind.value, "left");
    ASSERT_TRUE(n.window);
    EXPECT_EQ(n.window->type.value, "sliding");
    EXPECT_EQ(n.window->size.value, 10min);
    EXPECT_EQ(n.window->slide.value, 2min);
    EXPECT_EQ(n.window->allowed_lateness.value, 30s);
    EXPECT_EQ(n.window->idle_timeout.value, 1min);
    EXPECT_EQ(n.group_by.at(0).value, "orders.region");
    EXPECT_EQ(n.max_groups.value, 10);
    EXPECT_EQ(n.group_ttl.value, 2h);
    EXPECT_FALSE(n.empty_is_missing);
    ASSERT_EQ(n.checks.size(), 2u);
    EXPECT_EQ(n.checks[0].must_be->value, "> 0");
    EXPECT_TRUE(n.checks[0].assess_alias);
    EXPECT_EQ(n.checks[0].description, "any orders at all");
    EXPECT_FALSE(n.checks[1].must_be);
    EXPECT_EQ(n.checks[1].should_be->value, "< 5%");
    EXPECT_FALSE(n.checks[1].assess_alias);
    EXPECT_EQ(n.emit.value, "changes");
    EXPECT_EQ(n.on_error.action.value, "stop");
    EXPECT_EQ(n.on_error.max_errors.value, 5);
    EXPECT_EQ(n.on_error.per.value, 10s);
    EXPECT_EQ(n.buffer.max_records.value, 50);
    EXPECT_EQ(n.buffer.when_full.value, "drop_oldest");
    ASSERT_EQ(n.depends_on.size(), 1u);
    EXPECT_EQ(n.depends_on[0].input.value, "payments");
    EXPECT_EQ(n.depends_on[0].max_lag.value, 1h);
    EXPECT_EQ(n.depends_on[0].on_down.value, "continue");
    EXPECT_EQ(n.late_output->value, "rejects");
    EXPECT_TRUE(n.emits_results());
}

TEST(load_text, reads_the_schema) {
    const std::string text = R"(inputs: {orders: {type: stdin}}
nodes:
  valid_orders:
    from: orders
    schema:
      fields:
        order_id: {type: string, required: true, pattern: "o-[0-9]+"}
        amount: {type: number, min: 0, max: 1e6}
        status: {type: string, enum: [new, paid]}
      on_invalid: keep
      dead_letter: rejects
    outputs: [results]
outputs:
  results: {type: file, path: /r.jsonl}
  rejects: {type: file, path: /x.jsonl}
)";
    const auto r = load_text(text, "p.yaml", registry(), no_env());
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    const node_config& n = r.config.pipelines.at(0).nodes.at(0);
    ASSERT_TRUE(n.schema);
    EXPECT_EQ(n.schema->pos, (source_pos{"p.yaml", 6, 7}));
    ASSERT_EQ(n.schema->fields.size(), 3u);
    EXPECT_EQ(n.schema->fields[0].name.value, "order_id");
    EXPECT_EQ(n.schema->fields[0].type.value, "string");
    EXPECT_TRUE(n.schema->fields[0].required);
    EXPECT_EQ(n.schema->fields[0].pattern->value, "o-[0-9]+");
    EXPECT_EQ(n.schema->fields[1].minimum->value, 0);
    EXPECT_EQ(n.schema->fields[1].maximum->value, 1e6);
    EXPECT_FALSE(n.schema->fields[1].required);
    EXPECT_FALSE(n.schema->fields[1].pattern);
    ASSERT_EQ(n.schema->fields[2].allowed.size(), 2u);
    EXPECT_EQ(n.schema->fields[2].allowed[1].value, "paid");
    EXPECT_EQ(n.schema->on_invalid.value, "keep");
    EXPECT_EQ(n.schema->dead_letter->value, "rejects");
    EXPECT_FALSE(n.emits_results());
}

TEST(load_text, node_defaults) {
    const auto r = load_text(pipeline_text(), "p.yaml", registry(), no_env());
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    const node_config& n = r.config.pipelines.at(0).nodes.at(0);
    EXPECT_FALSE(n.critical);
    EXPECT_TRUE(n.time->processing);
    EXPECT_EQ(n.window->allowed_lateness.value, 0ms);
    EXPECT_EQ(n.window->idle_timeout.value, 0ms);
    EXPECT_EQ(n.max_groups.value, 100000);
    EXPECT_EQ(n.group_ttl.value, 1h);
    EXPECT_TRUE(n.empty_is_missing);
    EXPECT_EQ(n.emit.value, "all");
    EXPECT_EQ(n.on_error.action.value, "continue");
    EXPECT_EQ(n.on_error.max_errors.value, 100);
    EXPECT_EQ(n.on_error.per.value, 1min);
    EXPECT_EQ(n.buffer.max_records.value, 100000);
    EXPECT_EQ(n.buffer.when_full.value, "block");
    EXPECT_FALSE(n.max_groups.given);
    EXPECT_FALSE(n.join || n.schema || n.late_output);
}

// A secret from the environment (its variable says so), written into every kind of place that
// produces a message.
TEST(load_text, secret_environment_values_never_appear_in_diagnostics) {
    const std::string secret = "hunter2-Pa55w0rd";
    const std::string text = R"(pipeline: ${S_SECRET}
inputs:
  a: {type: "${S_SECRET}"}
  b: {type: kafka, brokers: "${S_SECRET}", topics: ["${S_SECRET}"], group: "${S_SECRET}", start: "${S_SECRET}",
      max_record_size: "${S_SECRET}", kafka: {sasl.password: "${S_SECRET}"}}
  c: {type: tcp, listen: "${S_SECRET}"}
  d:
    type: generator
    groups: 2
    fields: {x: {type: number}}
    problems: [{type: stuck_value, field: "${S_SECRET}", group: "${S_SECRET}"}]
nodes:
  n:
    from: [b, c, d, "${S_SECRET}"]
    time: {field: ts, format: "${S_SECRET}"}
    window: {type: tumbling, size: "${S_SECRET}"}
    checks:
      - {name: "${S_SECRET}", measure: count(), must_be: "${S_SECRET}"}
    outputs: ["${S_SECRET}", h]
  m:
    from: b
    time: "${S_SECRET}"
    window: {type: "${S_SECRET}", size: 1m}
    checks: [{name: ok, measure: count(), must_be: "> 1"}]
    emit: "${S_SECRET}"
outputs:
  h: {type: http, url: "${S_SECRET}", bearer_token: "${S_SECRET}", timeout: "${S_SECRET}"}
  k: {type: alertmanager, url: "http://${S_SECRET}", resend_interval: "${S_SECRET}"}
)";
    const auto r = load_text(text, "secrets.yaml", registry(), env_of({{"S_SECRET", secret}}));
    const std::string printed = all_text(r.diags);
    EXPECT_GE(r.diags.error_count(), 14u) << printed;
    EXPECT_EQ(printed.find(secret), std::string::npos) << printed;
    EXPECT_EQ(printed.find("hunter2"), std::string::npos) << printed;
    EXPECT_THAT(printed, HasSubstr("(a secret value)"));
}

// Only secrets are hidden: a value from a plain variable (a path, a size) is shown as a written
// one is. Secrets are the values of variables whose names say so and of parameters declared
// secret, written or not; the load hands the latter to the daemon.
TEST(load_text, secret_masking_hides_secrets_and_shows_plain_values) {
    const std::string text = R"(inputs:
  a: {type: kafka, brokers: "${BROKERS}", topics: [t], group: g,
      kafka: {sasl.password: literal-kafka-password, client.rack: "${RACK}"}}
nodes:
  n:
    from: a
    time: {field: ts}
    window: {type: tumbling, size: "${WINDOW}"}
    checks: [{name: c, measure: count(), must_be: "> 1"}]
    outputs: [h, h2]
  m:
    from: a
    time: {field: ts}
    window: {type: tumbling, size: "${WINDOW_TOKEN}"}
    checks: [{name: c, measure: count(), must_be: "> 1"}]
outputs:
  h: {type: http, url: "http://h/${HOOK_KEY}", headers: {X-Team: a-team},
      basic_auth: {user: "${USER_NAME}", password: pw-from-file}}
  h2: {type: http, url: "http://h2/", bearer_token: literal-bearer-token}
)";
    const auto env = env_of({{"BROKERS", "k1:9092"},
                             {"RACK", "rack-1"},
                             {"WINDOW", "sixty"},
                             {"WINDOW_TOKEN", "sixty-secret"},
                             {"HOOK_KEY", "hook-key-value"},
                             {"USER_NAME", "weir-user"}});
    const auto bad = load_text(text, "masking.yaml", registry(), env);
    const std::string printed = all_text(bad.diags);
    EXPECT_THAT(printed, HasSubstr("nodes.n.window.size: expected a duration"));
    EXPECT_THAT(printed, HasSubstr("got \"sixty\""));
    EXPECT_THAT(printed, HasSubstr("(a secret value)"));
    EXPECT_EQ(printed.find("sixty-secret"), std::string::npos) << printed;

    auto good_text = text;
    for (const char* size : {"${WINDOW}", "${WINDOW_TOKEN}"}) {
        good_text.replace(good_text.find(size), std::string(size).size(), "1m");
    }
    const auto good = load_text(good_text, "masking.yaml", registry(), env);
    ASSERT_FALSE(good.diags.has_errors()) << all_text(good.diags);
    std::vector<std::string> secrets = good.secrets;
    std::sort(secrets.begin(), secrets.end());
    // (The daemon's environment lookup tracks HOOK_KEY's value itself.)
    EXPECT_EQ(secrets, (std::vector<std::string>{"a-team", "literal-bearer-token",
                                                 "literal-kafka-password", "pw-from-file"}));
}

TEST(specs, pipeline_spec_lists_the_registered_types) {
    const params::object_spec& spec = pipeline_spec(registry());
    EXPECT_EQ(&spec, &pipeline_spec(registry()));  // one declaration per set of types
    for (const char* section : {"pipeline", "inputs", "nodes", "outputs"}) {
        EXPECT_NE(spec.find(section), nullptr) << section;
    }
    const params::param_spec* inputs = spec.find("inputs");
    ASSERT_TRUE(inputs->object);
    const params::param_spec* type = inputs->object->find("type");
    ASSERT_NE(type, nullptr);
    EXPECT_EQ(type->choices, registry().types(params::component_kind::input));
    EXPECT_EQ(spec.find("nodes")->object.get(), &node_spec());
    EXPECT_TRUE(spec.find("inputs")->required);
    EXPECT_FALSE(spec.find("outputs")->required);
}

using test::expect_documented;

TEST(specs, node_and_settings_declarations_are_documented) {
    expect_documented(node_spec(), "node");
    expect_documented(settings_spec(), "settings");
}

TEST(specs, window_rules) {
    auto window_errors = [](const std::string& window) {
        const auto r = load_text(
            "inputs: {a: {type: stdin}}\nnodes:\n  n:\n    from: a\n"
            "    time: processing\n    window: " +
                window + "\n    checks: [{name: c, measure: count(), must_be: \"> 1\"}]\n",
            "w.yaml", registry(), no_env());
        return errors(r.diags);
    };
    EXPECT_TRUE(window_errors("{type: sliding, size: 10m, slide: 5m}").empty());
    EXPECT_TRUE(window_errors("{type: sliding, size: 1h, slide: 1h}").empty());
    EXPECT_TRUE(window_errors("{type: session, gap: 90s}").empty());
    EXPECT_THAT(window_errors("{type: sliding, size: 10m, slide: 3m}"),
                ::testing::ElementsAre(HasSubstr("size (10m) must be a multiple of slide (3m)")));
    EXPECT_THAT(window_errors("{type: sliding, size: 1m, slide: 90s}"),
                ::testing::ElementsAre(HasSubstr("slide (90s) must not exceed size (1m)")));
    EXPECT_THAT(window_errors("{type: tumbling, size: 0}"),
                ::testing::ElementsAre(HasSubstr("must be at least 1ms")));
    EXPECT_THAT(
        window_errors("{type: session, gap: 1m, slide: 1m}"),
        ::testing::ElementsAre(HasSubstr("\"slide\" cannot be used when type is \"session\"")));
}

TEST(schema, is_draft_2020_12_with_a_branch_per_type) {
    const auto schema = nlohmann::json::parse(pipeline_json_schema(registry()));
    EXPECT_EQ(schema["$schema"], "https://json-schema.org/draft/2020-12/schema");
    EXPECT_EQ(schema["title"], "weir pipeline");
    EXPECT_EQ(schema["additionalProperties"], false);
    EXPECT_TRUE(schema["properties"].contains("nodes"));
    EXPECT_TRUE(
        schema["properties"]["nodes"]["additionalProperties"]["properties"].contains("window"));
    for (const auto kind : {params::component_kind::input, params::component_kind::output}) {
        const std::string noun = kind == params::component_kind::input ? "input" : "output";
        const auto& component = schema["properties"][noun + "s"]["additionalProperties"];
        EXPECT_EQ(component["required"], nlohmann::json::array({"type"}));
        EXPECT_EQ(component["properties"]["type"]["enum"].size(), registry().types(kind).size());
        EXPECT_EQ(component["allOf"].size(), registry().types(kind).size());
        for (const auto& type : registry().types(kind)) {
            const auto& def = schema["$defs"][noun + "_" + type];
            ASSERT_TRUE(def.is_object()) << noun << " " << type;
            EXPECT_EQ(def["properties"]["type"]["const"], type);
            EXPECT_EQ(def["additionalProperties"], false);
        }
    }
    const auto& kafka = schema["$defs"]["input_kafka"];
    EXPECT_THAT(kafka["required"].dump(), HasSubstr("brokers"));
    EXPECT_THAT(kafka["required"].dump(), HasSubstr("group"));
    EXPECT_TRUE(kafka["properties"].contains("topic_pattern"));
    EXPECT_TRUE(schema["$defs"]["output_alertmanager"]["properties"].contains("resend_interval"));
}

}  // namespace
}  // namespace weir::config

namespace weir::config {
namespace {

// The pipeline of DESIGN.md §2 as written there: valid in the language, with the two warnings
// it deserves (the `devices` input and the `log` output are declared but unused), and this
// build runs it.
TEST(load, the_design_example_is_valid) {
    const std::string design = WEIR_SOURCE_DIR "/tests/configs/design/design_example.yaml";
    const auto built = load({design}, registry());
    EXPECT_FALSE(built.diags.has_errors()) << all_text(built.diags);
    const auto r = load({design}, registry(), process_env(), language_only);
    EXPECT_FALSE(r.diags.has_errors());
    std::vector<std::string> warnings;
    for (const auto& d : r.diags.sorted()) warnings.push_back(d.path);
    EXPECT_EQ(warnings, (std::vector<std::string>{"inputs.devices", "outputs.log"}));
    ASSERT_EQ(r.config.pipelines.size(), 1u);
    EXPECT_EQ(r.config.pipelines[0].name, "sensors");
    EXPECT_EQ(r.config.pipelines[0].nodes[0].checks.size(), 4u);
}

// What a reload compares: a query's fingerprint covers what it measures, its judgement
// fingerprint how it judges and routes results (a change there resumes the open windows).
TEST(load_text, judgements_are_fingerprinted_apart_from_what_is_measured) {
    const auto compile = [](const std::string& node_extra, const std::string& check_extra,
                            const std::string& must_be = "> 0",
                            const std::string& measure = "count()") {
        const auto r = load_text(
            "inputs: {a: {type: stdin}}\noutputs: {o: {type: console}, p: {type: console}}\n"
            "nodes:\n  n:\n    from: a\n    time: processing\n"
            "    window: {type: tumbling, size: 1m}\n" +
                node_extra + "    checks: [{name: c, measure: \"" + measure + "\", must_be: \"" +
                must_be + "\"" + check_extra + "}]\n",
            "j.yaml", registry(), no_env());
        EXPECT_FALSE(r.diags.has_errors()) << all_text(r.diags);
        return r.config.pipelines.at(0).plan->queries.at(0);
    };
    const compiled_query base = compile("    outputs: [o]\n", "");
    EXPECT_NE(base.fingerprint, base.fingerprint_before_judgements);
    for (const auto& changed : {compile("    outputs: [o]\n", "", "> 5"),
                                compile("    outputs: [o]\n", ", should_be: \"> 9\""),
                                compile("    outputs: [o]\n    emit: failures\n", ""),
                                compile("    outputs: [o]\n    on_no_data: fail\n", ""),
                                compile("    outputs: [o]\n", ", on_partial: judge"),
                                compile("    outputs: [p]\n", "")}) {
        EXPECT_EQ(changed.fingerprint, base.fingerprint);
        EXPECT_NE(changed.judgement_fingerprint, base.judgement_fingerprint);
    }
    const compiled_query measured = compile("    outputs: [o]\n", "", "> 0", "count(x)");
    EXPECT_NE(measured.fingerprint, base.fingerprint);
    // A check's filter shapes what is measured: a checkpoint of another filter cannot resume.
    const compiled_query filtered = compile("    outputs: [o]\n", ", filter: 'x > 1'");
    EXPECT_NE(filtered.fingerprint, base.fingerprint);
    EXPECT_NE(filtered.fingerprint_before_judgements, base.fingerprint_before_judgements);
    EXPECT_NE(filtered.legacy_fingerprint, base.legacy_fingerprint);
    EXPECT_EQ(filtered.judgement_fingerprint, base.judgement_fingerprint);
    EXPECT_NE(compile("    outputs: [o]\n", ", filter: 'x > 2'").fingerprint, filtered.fingerprint);
    EXPECT_NE(compile("    outputs: [o]\n", "", "> 0", "count_where(x > 2)").fingerprint,
              compile("    outputs: [o]\n", "", "> 0", "count_where(x > 1)").fingerprint);
    // Samples are state: N shapes it, 0 is the state without them; which of them a failing
    // result shows follows must_be, a judgement.
    const compiled_query sampled =
        compile("    outputs: [o]\n", ", samples: 3", "< 1", "missing_count(x)");
    EXPECT_NE(sampled.fingerprint,
              compile("    outputs: [o]\n", "", "< 1", "missing_count(x)").fingerprint);
    EXPECT_NE(sampled.fingerprint,
              compile("    outputs: [o]\n", ", samples: 4", "< 1", "missing_count(x)").fingerprint);
    EXPECT_EQ(compile("    outputs: [o]\n", ", samples: 0", "< 1", "missing_count(x)").fingerprint,
              compile("    outputs: [o]\n", "", "< 1", "missing_count(x)").fingerprint);
    const compiled_query flipped =
        compile("    outputs: [o]\n", ", samples: 3", "> 1", "missing_count(x)");
    EXPECT_EQ(flipped.fingerprint, sampled.fingerprint);
    EXPECT_NE(flipped.judgement_fingerprint, sampled.judgement_fingerprint);
    // Written out, the defaults are the same judgement.
    EXPECT_EQ(compile("    outputs: [o]\n    on_no_data: ignore\n    on_partial: no_data\n", "")
                  .judgement_fingerprint,
              base.judgement_fingerprint);
    // empty_is_missing changes what is counted; written out, the default changes nothing.
    const compiled_query empty_present =
        compile("    outputs: [o]\n    empty_is_missing: false\n", "", "> 0", "count(x)");
    EXPECT_NE(empty_present.fingerprint, measured.fingerprint);
    EXPECT_NE(empty_present.fingerprint_before_judgements, measured.fingerprint_before_judgements);
    EXPECT_EQ(empty_present.judgement_fingerprint, measured.judgement_fingerprint);
    EXPECT_EQ(compile("    outputs: [o]\n    empty_is_missing: true\n", "", "> 0", "count(x)")
                  .fingerprint,
              measured.fingerprint);
}

// An epoch time field keeps its number in the record (measures and expressions see it) and
// the event time reads its digits from a slot of its own, decoded from the same path; text
// formats and computed time fields read the field itself. The plan fingerprint stays the one
// of plans before that slot existed, so their checkpoints resume.
TEST(load_text, an_epoch_time_field_is_read_from_its_digits_in_a_slot_of_its_own) {
    const auto compile = [](const std::string& time, const std::string& transforms = "") {
        const auto r = load_text(
            "inputs: {a: {type: stdin}}\noutputs: {o: {type: console}}\n"
            "nodes:\n  n:\n    from: a\n" +
                transforms + "    time: " + time +
                "\n    window: {type: tumbling, size: 1m}\n"
                "    checks: [{name: c, measure: \"mean(ts) + mean(v)\", must_be: \"> 0\"}]\n"
                "    outputs: [o]\n",
            "t.yaml", registry(), no_env());
        EXPECT_FALSE(r.diags.has_errors()) << all_text(r.diags);
        return r.config.pipelines.at(0).plan->queries.at(0);
    };
    for (const char* format : {"epoch_s", "epoch_ms", "epoch_us", "epoch_ns"}) {
        const compiled_query q = compile(std::string("{field: ts, format: ") + format + "}");
        const chain::chain_plan& c = *q.chain;
        const chain::event_time_plan& t = *c.nodes.at(0).time;
        EXPECT_NE(t.read_slot, t.slot) << format;
        EXPECT_EQ(c.fields.at(t.read_slot), c.fields.at(t.slot)) << format;
        EXPECT_EQ(c.fields.at(t.slot), field_path{{"ts"}}) << format;
        EXPECT_EQ(c.number_text_slots, std::vector<std::size_t>{t.read_slot}) << format;
        EXPECT_EQ(t.read_slot, c.fields.size() - 1) << format;  // after every other slot
    }
    for (const char* time : {"{field: ts}", "{field: ts, format: \"%s\"}"}) {
        const compiled_query q = compile(time);
        const chain::event_time_plan& t = *q.chain->nodes.at(0).time;
        EXPECT_EQ(t.read_slot, t.slot) << time;
        EXPECT_TRUE(q.chain->number_text_slots.empty()) << time;
    }
    // A time field computed by set: has no digits to read.
    const compiled_query computed = compile("{field: ts, format: epoch_ms}",
                                            "    transforms:\n      - set: {ts: 'v * 1000'}\n");
    const chain::event_time_plan& t = *computed.chain->nodes.at(0).time;
    EXPECT_EQ(t.read_slot, t.slot);
    EXPECT_TRUE(computed.chain->number_text_slots.empty());
    // The fingerprints of weir before the digits had a slot of their own.
    EXPECT_EQ(compile("{field: ts, format: epoch_ns}").fingerprint,
              "1ac1070d9b83337a73f582fa191a9eca");
    EXPECT_EQ(compile("{field: ts, format: epoch_s}").fingerprint,
              "b30b47865c6f8bf1708028597651c1b8");
}

TEST(load_text, a_check_inherits_on_no_data_and_on_partial_from_its_node) {
    const auto r = load_text(
        "inputs: {a: {type: stdin}}\nnodes:\n  n:\n    from: a\n    time: processing\n"
        "    window: {type: tumbling, size: 1m}\n    on_no_data: warn\n"
        "    checks:\n"
        "      - {name: inherits, measure: mean(x), must_be: \"> 0\"}\n"
        "      - {name: own, measure: mean(x), must_be: \"> 0\", on_no_data: fail,"
        " on_partial: judge}\n"
        "  m:\n    from: a\n    time: processing\n    window: {type: tumbling, size: 1m}\n"
        "    checks: [{name: defaults, measure: mean(x), must_be: \"> 0\"}]\n",
        "n.yaml", registry(), no_env());
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    std::map<std::string, const engine::check_plan*> checks;
    for (const auto& q : r.config.pipelines.at(0).plan->queries) {
        for (const auto& n : q.chain->nodes) {
            for (const auto& c : n.engine->checks) checks[c.name] = &c;
        }
    }
    ASSERT_EQ(checks.size(), 3u);
    EXPECT_EQ(checks["inherits"]->on_no_data, engine::no_data_action::warn);
    EXPECT_EQ(checks["inherits"]->on_partial, engine::partial_action::no_data);
    EXPECT_EQ(checks["own"]->on_no_data, engine::no_data_action::fail);
    EXPECT_EQ(checks["own"]->on_partial, engine::partial_action::judge);
    EXPECT_EQ(checks["defaults"]->on_no_data, engine::no_data_action::ignore);
    EXPECT_EQ(checks["defaults"]->on_partial, engine::partial_action::no_data);
}

TEST(load_text, check_labels_and_annotations_reach_the_plan_as_shared_metadata) {
    const auto r = load_text(
        "inputs: {a: {type: stdin}}\nnodes:\n  n:\n    from: a\n    time: processing\n"
        "    window: {type: tumbling, size: 1m}\n    group_by: [host]\n    checks:\n"
        "      - name: server_errors\n"
        "        measure: fraction_where(status >= 500)\n"
        "        must_be: \"< 2%\"\n"
        "        description: Share of 5xx responses\n"
        "        labels: {team: payments, tier: \"1\", severity: page}\n"
        "        annotations:\n"
        "          runbook_url: https://runbooks.example/server-errors\n"
        "          owner: payments-oncall\n"
        "      - name: described\n"
        "        measure: count()\n"
        "        must_be: \"> 0\"\n"
        "        description: Ignored for the annotation\n"
        "        annotations: {description: Given}\n"
        "      - {name: bare, measure: count(), must_be: \"> 0\"}\n",
        "m.yaml", registry(), no_env());
    ASSERT_FALSE(r.diags.has_errors()) << all_text(r.diags);
    const auto& c = r.config.pipelines.at(0).nodes.at(0).checks.at(0);
    ASSERT_EQ(c.labels.size(), 3u);
    EXPECT_EQ(c.labels[0].first.value, "team");
    EXPECT_EQ(c.labels[0].first.pos.line, 13);
    EXPECT_EQ(c.labels[1].second.value, "1");
    std::map<std::string, const engine::check_plan*> checks;
    for (const auto& q : r.config.pipelines.at(0).plan->queries) {
        for (const auto& n : q.chain->nodes) {
            for (const auto& cp : n.engine->checks) checks[cp.name] = &cp;
        }
    }
    ASSERT_EQ(checks.size(), 3u);
    using entries = std::vector<std::pair<std::string, std::string>>;
    const auto& m = checks["server_errors"]->metadata;
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->labels, (entries{{"severity", "page"}, {"team", "payments"}, {"tier", "1"}}));
    EXPECT_EQ(m->annotations, (entries{{"description", "Share of 5xx responses"},
                                       {"owner", "payments-oncall"},
                                       {"runbook_url", "https://runbooks.example/server-errors"}}));
    ASSERT_NE(checks["described"]->metadata, nullptr);
    EXPECT_EQ(checks["described"]->metadata->annotations, (entries{{"description", "Given"}}));
    EXPECT_EQ(checks["bare"]->metadata, nullptr);
}

// Labels and annotations only say who to tell: a reload changing them resumes the open windows.
TEST(load_text, check_labels_and_annotations_are_judgement_not_state) {
    const auto compile = [](const std::string& check_extra) {
        const auto r = load_text(
            "inputs: {a: {type: stdin}}\noutputs: {o: {type: console}}\n"
            "nodes:\n  n:\n    from: a\n    time: processing\n"
            "    window: {type: tumbling, size: 1m}\n    outputs: [o]\n"
            "    checks: [{name: c, measure: count(), must_be: \"> 0\"" +
                check_extra + "}]\n",
            "j.yaml", registry(), no_env());
        EXPECT_FALSE(r.diags.has_errors()) << all_text(r.diags);
        return r.config.pipelines.at(0).plan->queries.at(0);
    };
    const compiled_query base = compile("");
    const compiled_query labelled = compile(", labels: {team: a}");
    for (const auto& changed :
         {labelled, compile(", labels: {team: b}"), compile(", annotations: {owner: x}"),
          compile(", description: words")}) {
        EXPECT_EQ(changed.fingerprint, base.fingerprint);
        EXPECT_EQ(changed.fingerprint_before_judgements, base.fingerprint_before_judgements);
        EXPECT_EQ(changed.legacy_fingerprint, base.legacy_fingerprint);
        EXPECT_NE(changed.judgement_fingerprint, base.judgement_fingerprint);
    }
    EXPECT_NE(compile(", labels: {team: b}").judgement_fingerprint, labelled.judgement_fingerprint);
}

TEST(load_text, mutated_examples_give_diagnostics_never_a_crash) {
    // Every example pipeline with random bytes flipped, inserted or cut, lines dropped or
    // duplicated: loading never throws or crashes, and every diagnostic points into the text
    // (or at 0:0) with a message. Run under ASan by the test command.
    std::vector<std::string> texts;
    // examples/next too: the mutations of runnable examples reach the plan's compiler.
    for (const auto& e : fs::recursive_directory_iterator(fs::path(WEIR_SOURCE_DIR) / "examples")) {
        if (e.path().extension() != ".yaml" || e.path().filename() == "weir.yaml") continue;
        // Pipeline tests (examples/tests/) are not pipelines: test_file_test.cc mutates them.
        if (e.path().stem().string().ends_with("_test")) continue;
        std::ifstream in(e.path());
        texts.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    ASSERT_GE(texts.size(), 3u);
    std::mt19937_64 rng(41);
    int rejected = 0;
    for (int round = 0; round < 2000; ++round) {
        std::string text = texts[rng() % texts.size()];
        for (int k = 1 + static_cast<int>(rng() % 3); k > 0; --k) {
            const std::size_t at = rng() % text.size();
            switch (rng() % 5) {
                case 0:
                    text[at] = static_cast<char>(rng() % 256);
                    break;
                case 1:
                    text.insert(at, 1, "{}[]:,-'\"&*!|>%@`#\t \n"[rng() % 20]);
                    break;
                case 2:
                    text.resize(at);
                    break;
                case 3: {  // drop a line
                    const std::size_t b = text.rfind('\n', at);
                    const std::size_t e = text.find('\n', at);
                    if (b != std::string::npos && e != std::string::npos) text.erase(b, e - b);
                    break;
                }
                default: {  // duplicate a line (a duplicate key, mostly)
                    const std::size_t b = text.rfind('\n', at);
                    const std::size_t e = text.find('\n', at);
                    if (b != std::string::npos && e != std::string::npos) {
                        text.insert(e, text.substr(b, e - b));
                    }
                }
            }
            if (text.empty()) text = "x";
        }
        const auto lines = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
        load_result r;
        ASSERT_NO_THROW(r = load_text(text, "m.yaml", registry(), no_env())) << text;
        if (r.diags.has_errors()) ++rejected;
        for (const auto& d : r.diags.sorted()) {
            EXPECT_FALSE(d.message.empty()) << format(d);
            EXPECT_LE(d.pos.line, lines + 1) << format(d) << "\n" << text;
            EXPECT_TRUE(d.pos.line == 0 || d.pos.column >= 1) << format(d);
        }
    }
    EXPECT_GT(rejected, 1000);  // most mutations break something, and all are survived
}

}  // namespace
}  // namespace weir::config
