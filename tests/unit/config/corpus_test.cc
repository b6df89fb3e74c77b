// The configuration corpus (tests/configs/README.md): every invalid entry reports exactly its
// expected errors; every valid entry and every shipped example loads without a diagnostic.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "config/load.h"
#include "connectors/register.h"
#include "core/params/value.h"
#include "tests/unit/config/builtin_registry.h"

namespace weir::config {
namespace {

namespace fs = std::filesystem;

const fs::path source_dir = WEIR_SOURCE_DIR;
const fs::path invalid_dir = source_dir / "tests/configs/invalid";
const fs::path valid_dir = source_dir / "tests/configs/valid";
const fs::path examples_dir = source_dir / "examples";

// Update when adding or removing entries: a lost file must fail a test.
constexpr std::size_t invalid_entries = 212;
constexpr std::size_t valid_entries = 11;
constexpr std::size_t example_pipelines = 9;

using weir::test::language_only;
using weir::test::registry;

constexpr std::string_view k_not_built = "not built into this version of weir yet";

// Every diagnostic is an error refusing a part this build does not run.
bool only_refusals(const diagnostics& d) {
    for (const auto& x : d.sorted()) {
        if (x.severity != severity::error || x.message.find(k_not_built) == std::string::npos) {
            return false;
        }
    }
    return true;
}

bool is_yaml(const fs::path& p) {
    return p.extension() == ".yaml" || p.extension() == ".yml";
}

// Corpus entries: YAML files and directories directly under `dir`, sorted.
std::vector<fs::path> entries(const fs::path& dir) {
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(dir)) {
        if (e.is_directory() || is_yaml(e.path())) out.push_back(e.path());
    }
    std::sort(out.begin(), out.end());
    return out;
}

// The files an entry loads (as load() names them in diagnostics).
std::vector<fs::path> files_of(const fs::path& entry) {
    if (!fs::is_directory(entry)) return {entry};
    std::vector<fs::path> out;
    for (const auto& e : fs::directory_iterator(entry)) {
        if (!e.is_directory() && is_yaml(e.path())) out.push_back(entry / e.path().filename());
    }
    std::sort(out.begin(), out.end());
    return out;
}

struct expectation {
    std::string file;
    int line = 0;
    int column = 0;
    severity level = severity::error;
    std::string path;  // "" for none
    std::string fragment;
    int source_line = 0;  // where the expectation is written

    std::string describe() const {
        return file + ":" + std::to_string(source_line) + ": expected " + std::to_string(line) +
               ":" + std::to_string(column) + " " +
               (level == severity::error ? "error" : "warning") + " " +
               (path.empty() ? "-" : path) + ": " + fragment;
    }
};

struct entry_spec {
    std::vector<expectation> expected;
    std::map<std::string, std::string> env;
    std::vector<std::string> malformed;  // expectation lines that do not parse
};

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t\r");
    const auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

// "# expect: 14:9 error nodes.quality.window.size: expected a duration"
std::optional<expectation> parse_expectation(const std::string& text) {
    std::istringstream in(text);
    std::string pos, level, rest;
    if (!(in >> pos >> level)) return std::nullopt;
    std::getline(in, rest);
    rest = trim(rest);
    expectation x;
    const auto colon = pos.find(':');
    if (colon == std::string::npos) return std::nullopt;
    try {
        x.line = std::stoi(pos.substr(0, colon));
        x.column = std::stoi(pos.substr(colon + 1));
    } catch (const std::exception&) {
        return std::nullopt;
    }
    if (level == "error") {
        x.level = severity::error;
    } else if (level == "warning") {
        x.level = severity::warning;
    } else {
        return std::nullopt;
    }
    const auto sep = rest.find(": ");
    if (sep == std::string::npos) return std::nullopt;
    x.path = rest.substr(0, sep);
    if (x.path == "-") x.path.clear();
    x.fragment = trim(rest.substr(sep + 2));
    if (x.fragment.empty()) return std::nullopt;
    return x;
}

entry_spec read_spec(const fs::path& entry) {
    entry_spec spec;
    for (const auto& file : files_of(entry)) {
        std::ifstream in(file, std::ios::binary);
        std::string line;
        int number = 0;
        while (std::getline(in, line)) {
            ++number;
            if (line.rfind("# expect:", 0) == 0) {
                auto x = parse_expectation(line.substr(9));
                if (!x) {
                    spec.malformed.push_back(file.string() + ":" + std::to_string(number));
                    continue;
                }
                x->file = file.string();
                x->source_line = number;
                spec.expected.push_back(std::move(*x));
            } else if (line.rfind("# env:", 0) == 0) {
                const std::string kv = trim(line.substr(6));
                const auto eq = kv.find('=');
                if (eq == std::string::npos) {
                    spec.malformed.push_back(file.string() + ":" + std::to_string(number));
                    continue;
                }
                spec.env[kv.substr(0, eq)] = kv.substr(eq + 1);
            }
        }
    }
    return spec;
}

env_lookup env_of(const entry_spec& spec) {
    return [env = spec.env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
    };
}

bool matches(const expectation& x, const diagnostic& d) {
    return fs::path(d.pos.file).lexically_normal() == fs::path(x.file).lexically_normal() &&
           d.pos.line == x.line && d.pos.column == x.column && d.severity == x.level &&
           d.path == x.path && d.message.find(x.fragment) != std::string::npos;
}

std::string listing(const std::vector<diagnostic>& all) {
    std::string out;
    for (const auto& d : all) out += "    " + format(d) + "\n";
    return out.empty() ? "    (none)\n" : out;
}

std::string test_name(const fs::path& p) {
    std::string name = p.filename().string();
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    }
    return name;
}

class invalid_corpus : public ::testing::TestWithParam<fs::path> {};

TEST_P(invalid_corpus, reports_exactly_the_expected_errors) {
    const fs::path entry = GetParam();
    const entry_spec spec = read_spec(entry);
    EXPECT_TRUE(spec.malformed.empty()) << "malformed lines: " << spec.malformed.front();
    const bool expects_error =
        std::any_of(spec.expected.begin(), spec.expected.end(),
                    [](const auto& x) { return x.level == severity::error; });
    ASSERT_TRUE(expects_error) << entry << " expects no error, so it is not an invalid config";

    const load_result r = load({entry.string()}, registry(), env_of(spec));
    const std::vector<diagnostic> all = r.diags.sorted();
    std::vector<bool> used(all.size(), false);

    for (const auto& x : spec.expected) {
        bool found = false;
        for (std::size_t i = 0; i < all.size() && !found; ++i) {
            if (!used[i] && matches(x, all[i])) used[i] = found = true;
        }
        EXPECT_TRUE(found) << x.describe() << "\n  reported:\n" << listing(all);
    }
    for (std::size_t i = 0; i < all.size(); ++i) {
        if (!used[i] && all[i].severity == severity::error) {
            ADD_FAILURE() << "unexpected: " << format(all[i]) << "\n  reported:\n" << listing(all);
        }
    }
    // Values of variables whose names say they are secrets are never echoed.
    for (const auto& [name, secret] : spec.env) {
        if (secret.size() < 4 || !params::names_a_secret(name)) continue;
        for (const auto& d : all) {
            EXPECT_EQ(format(d).find(secret), std::string::npos)
                << "the value of " << name << " appears in: " << format(d);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(corpus, invalid_corpus, ::testing::ValuesIn(entries(invalid_dir)),
                         [](const auto& info) { return test_name(info.param); });

class valid_corpus : public ::testing::TestWithParam<fs::path> {};

TEST_P(valid_corpus, loads_without_any_diagnostic) {
    const fs::path entry = GetParam();
    const entry_spec spec = read_spec(entry);
    EXPECT_TRUE(spec.expected.empty()) << "valid entries expect nothing";
    const load_result r = load({entry.string()}, registry(), env_of(spec), language_only);
    EXPECT_TRUE(r.diags.empty()) << listing(r.diags.sorted());
    EXPECT_FALSE(r.config.pipelines.empty());
    // As validate and run load it: valid and compiled to a plan, or refused only for parts this
    // build does not run (Kafka, joins).
    const load_result run = load({entry.string()}, registry(), env_of(spec));
    EXPECT_TRUE(only_refusals(run.diags)) << listing(run.diags.sorted());
    for (const auto& p : run.config.pipelines) {
        EXPECT_EQ(p.plan != nullptr, run.diags.empty()) << p.name;
    }
}

INSTANTIATE_TEST_SUITE_P(corpus, valid_corpus, ::testing::ValuesIn(entries(valid_dir)),
                         [](const auto& info) { return test_name(info.param); });

TEST(corpus, has_every_entry) {
    EXPECT_EQ(entries(invalid_dir).size(), invalid_entries);
    EXPECT_GE(entries(invalid_dir).size(), 70u);
    EXPECT_EQ(entries(valid_dir).size(), valid_entries);
}

TEST(corpus, valid_directory_reads_settings_and_skips_other_files) {
    const load_result r = load({(valid_dir / "dir_with_settings").string()}, registry(),
                               [](const std::string&) { return std::nullopt; });
    ASSERT_FALSE(r.diags.has_errors()) << listing(r.diags.sorted());
    const settings_config& s = r.config.settings;
    EXPECT_EQ(fs::path(s.file).filename(), "weir.yaml");
    EXPECT_EQ(s.data_dir.value, "/srv/weir");
    EXPECT_TRUE(s.data_dir.given);
    EXPECT_EQ(s.http_listen.value, "0.0.0.0:9100");
    EXPECT_EQ(s.log_level.value, "debug");
    EXPECT_EQ(s.log_format.value, "json");
    EXPECT_EQ(s.checkpoint_interval.value, std::chrono::seconds(30));
    EXPECT_EQ(s.shutdown_timeout.value, std::chrono::minutes(1));
    EXPECT_EQ(s.metrics_max_group_series.value, 50);
    // notes.txt and nested/ignored.yaml are not read; pipelines come sorted by name.
    ASSERT_EQ(r.config.pipelines.size(), 2u);
    EXPECT_EQ(r.config.pipelines[0].name, "alpha");
    EXPECT_EQ(r.config.pipelines[1].name, "beta_pipeline");
}

TEST(corpus, aliases_share_values) {
    const load_result r = load(
        {(valid_dir / "anchors_and_aliases.yaml").string()}, registry(),
        [](const std::string&) { return std::nullopt; }, language_only);
    ASSERT_FALSE(r.diags.has_errors()) << listing(r.diags.sorted());
    const pipeline_config& p = r.config.pipelines.at(0);
    const node_config* eu = p.find_node("eu_quality");
    const node_config* us = p.find_node("us_quality");
    ASSERT_TRUE(eu && us);
    ASSERT_EQ(us->checks.size(), 2u);
    EXPECT_EQ(us->checks[1].name.value, "completeness");
    EXPECT_EQ(us->checks[1].must_be->value, "< 5%");
    ASSERT_TRUE(us->window && us->time);
    EXPECT_EQ(us->window->size.value, std::chrono::minutes(1));
    EXPECT_EQ(us->window->allowed_lateness.value, std::chrono::seconds(10));
    EXPECT_EQ(us->time->format.value, "epoch_ms");
    EXPECT_EQ(us->outputs.at(0).value, "console");
    EXPECT_EQ(eu->checks.size(), us->checks.size());
}

TEST(corpus, environment_defaults_fill_values) {
    const load_result r = load(
        {(valid_dir / "env_defaults.yaml").string()}, registry(),
        [](const std::string&) { return std::nullopt; }, language_only);
    ASSERT_FALSE(r.diags.has_errors()) << listing(r.diags.sorted());
    const pipeline_config& p = r.config.pipelines.at(0);
    const node_config& n = p.nodes.at(0);
    EXPECT_EQ(n.window->size.value, std::chrono::minutes(5));
    EXPECT_EQ(n.checks.at(0).must_be->value, "> 10");
    EXPECT_EQ(n.transforms.at(0).expression.value, "currency == \"USD\" and label != \"$0\"");
    const params::value* group = p.inputs.at(0).params.find("group");
    ASSERT_NE(group, nullptr);
    EXPECT_EQ(group->text, "weir-dev");
    EXPECT_TRUE(group->from_env);
}

TEST(examples, every_example_loads_cleanly) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(examples_dir)) {
        if (is_yaml(e.path()) && e.path().filename() != "weir.yaml") files.push_back(e.path());
    }
    EXPECT_EQ(files.size(), example_pipelines);
    for (const auto& f : files) {
        const load_result r =
            load({f.string()}, registry(), [](const std::string&) { return std::nullopt; });
        EXPECT_TRUE(r.diags.empty()) << f << ":\n" << listing(r.diags.sorted());
        ASSERT_EQ(r.config.pipelines.size(), 1u) << f;
        EXPECT_NE(r.config.pipelines[0].plan, nullptr) << f;
    }
}

TEST(examples, directory_loads_as_one_installation) {
    const load_result r =
        load({examples_dir.string()}, registry(), [](const std::string&) { return std::nullopt; });
    EXPECT_TRUE(r.diags.empty()) << listing(r.diags.sorted());
    std::vector<std::string> names;
    for (const auto& p : r.config.pipelines) names.push_back(p.name);
    EXPECT_EQ(names,
              (std::vector<std::string>{"access_logs", "deliveries", "fx_trades", "order_balance",
                                        "order_payment_join", "order_payments", "payments",
                                        "quickstart", "seasonal"}));
    EXPECT_EQ(fs::path(r.config.settings.file).filename(), "weir.yaml");
    EXPECT_EQ(r.config.settings.http_listen.value, "127.0.0.1:9797");
}

TEST(examples, quickstart_injects_the_problems_its_checks_catch) {
    const load_result r = load({(examples_dir / "quickstart.yaml").string()}, registry(),
                               [](const std::string&) { return std::nullopt; });
    ASSERT_FALSE(r.diags.has_errors()) << listing(r.diags.sorted());
    const pipeline_config& p = r.config.pipelines.at(0);
    ASSERT_EQ(p.inputs.size(), 1u);
    EXPECT_EQ(p.inputs[0].type.value, "generator");
    std::set<std::string> problems;
    for (const auto& item : p.inputs[0].params.find("problems")->items) {
        problems.insert(item.find("type")->text);
    }
    EXPECT_TRUE(problems.count("silent_group") && problems.count("stuck_value") &&
                problems.count("out_of_range"));
    const node_config& n = p.nodes.at(0);
    EXPECT_EQ(n.window->type.value, "tumbling");
    std::set<std::string> measures;
    for (const auto& c : n.checks) measures.insert(c.measure.value);
    for (const char* m : {"count()", "missing_fraction(temperature)", "freshness()",
                          "is_frozen(temperature)", "in_range_fraction(humidity, 0, 100)"}) {
        EXPECT_TRUE(measures.count(m)) << m;
    }
    EXPECT_EQ(p.outputs.at(0).type.value, "console");
}

TEST(examples, seasonal_runs_event_time_fast_and_shifts_one_group) {
    const load_result r = load({(examples_dir / "seasonal.yaml").string()}, registry(),
                               [](const std::string&) { return std::nullopt; });
    ASSERT_FALSE(r.diags.has_errors()) << listing(r.diags.sorted());
    const pipeline_config& p = r.config.pipelines.at(0);
    ASSERT_EQ(p.inputs.size(), 1u);
    const params::value& gen = p.inputs[0].params;
    EXPECT_EQ(p.inputs[0].type.value, "generator");
    // Days of event time within seconds, from days before now: the seasonal buckets fill.
    EXPECT_TRUE(gen.find("start_time")->text.starts_with("-"));
    EXPECT_GE(params::parse_number(gen.find("speed")->text).value_or(0), 3600);
    const params::value* problems = gen.find("problems");
    ASSERT_NE(problems, nullptr);
    ASSERT_EQ(problems->items.size(), 1u);
    EXPECT_EQ(problems->items[0].find("type")->text, "level_shift");
    EXPECT_NE(problems->items[0].find("group"), nullptr);  // one server, the others pass
    const node_config& n = p.nodes.at(0);
    EXPECT_EQ(n.window->size.value, std::chrono::hours(1));
    bool seasonal = false, versus_yesterday = false;
    for (const auto& c : n.checks) {
        const std::string& test = c.must_be ? c.must_be->value : std::string();
        seasonal |= test.find("by hour_of_day") != std::string::npos;
        versus_yesterday |= test.find("change vs 1d") != std::string::npos;
    }
    EXPECT_TRUE(seasonal && versus_yesterday);
}

}  // namespace
}  // namespace weir::config
