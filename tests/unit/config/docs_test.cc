// Drift test of docs/pipelines.md against the declarations it documents: every measure and
// expression function, connector type, parameter, node key and setting is named, and every YAML
// example in it validates.
//
// What counts as "named": a name is mentioned in a section when an inline code span of that
// section (text between single backticks, outside fenced blocks) starts with a path of which the
// name is one segment. Segments are split at '.', '[' and ']', and the path ends at the first
// other character. So `max_records`, `count()`, `percentile(field, p)`, `buffer.when_full`,
// `depends_on[].input` and `time: processing` name max_records, count, percentile, buffer and
// when_full, depends_on and input, and time. Prose and YAML examples do not count: every name
// must be written in a table or sentence, in backticks, where a reader looks for it.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/load.h"
#include "config/test_file.h"
#include "connectors/register.h"
#include "core/expr/program.h"
#include "core/measure/catalog.h"
#include "core/measure/format.h"
#include "core/params/registry.h"
#include "core/params/spec.h"
#include "tests/unit/config/builtin_registry.h"

namespace weir::config {
namespace {

namespace fs = std::filesystem;

constexpr const char* k_doc = WEIR_SOURCE_DIR "/docs/pipelines.md";

using weir::test::registry;

const std::vector<std::string>& doc_lines() {
    static const std::vector<std::string> lines = [] {
        std::vector<std::string> out;
        std::ifstream in(k_doc);
        for (std::string line; std::getline(in, line);) out.push_back(line);
        return out;
    }();
    return lines;
}

bool is_fence(const std::string& line) {
    return line.starts_with("```");
}

// The heading level of a line (0 when it is not a heading). Callers skip fenced blocks, where
// YAML comments also start with '#'.
int heading_level(const std::string& line) {
    std::size_t n = 0;
    while (n < line.size() && line[n] == '#') ++n;
    return n > 0 && n < line.size() && line[n] == ' ' ? static_cast<int>(n) : 0;
}

struct section {
    std::string heading;  // "" when not found
    std::vector<std::string> lines;
};

// The first heading of `level` inside `within` whose text contains `title`, with the lines up
// to the next heading of the same or a higher level.
section find_section(const std::vector<std::string>& within, int level, std::string_view title) {
    section s;
    bool fenced = false;
    bool inside = false;
    for (const auto& line : within) {
        if (is_fence(line)) fenced = !fenced;
        const int h = fenced || is_fence(line) ? 0 : heading_level(line);
        if (inside && h > 0 && h <= level) break;
        if (!inside && h == level && line.find(title) != std::string::npos) {
            inside = true;
            s.heading = line;
        }
        if (inside) s.lines.push_back(line);
    }
    return s;
}

bool path_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '[' || c == ']';
}

// The names the lines mention (see the top of this file).
std::set<std::string, std::less<>> mentioned(const std::vector<std::string>& lines) {
    std::set<std::string, std::less<>> out;
    bool fenced = false;
    for (const auto& line : lines) {
        if (is_fence(line)) {
            fenced = !fenced;
            continue;
        }
        if (fenced) continue;
        std::size_t open = line.find('`');
        while (open != std::string::npos) {
            const std::size_t close = line.find('`', open + 1);
            if (close == std::string::npos) break;
            const std::string_view span(line.data() + open + 1, close - open - 1);
            std::size_t end = 0;
            while (end < span.size() && path_char(span[end])) ++end;
            std::string segment;
            for (std::size_t i = 0; i <= end; ++i) {
                if (i == end || span[i] == '.' || span[i] == '[' || span[i] == ']') {
                    if (!segment.empty()) out.insert(segment);
                    segment.clear();
                } else {
                    segment += span[i];
                }
            }
            open = line.find('`', close + 1);
        }
    }
    return out;
}

std::string where(const section& s) {
    return "docs/pipelines.md, section \"" + s.heading + "\"";
}

// Finds a section or reports it missing; an empty heading means it was not found.
section require_section(const std::vector<std::string>& within, int level, std::string_view title,
                        std::string_view what) {
    section s = find_section(within, level, title);
    if (s.heading.empty()) {
        ADD_FAILURE() << "docs/pipelines.md has no heading \"" << std::string(level, '#') << " ..."
                      << title << "...\" for " << what;
    }
    return s;
}

// Every parameter below `spec` (recursively through nested objects), as dotted paths.
void nested_params(const params::object_spec& spec, const std::string& prefix,
                   std::vector<std::pair<std::string, std::string>>& out) {
    for (const auto& p : spec.params) {
        out.emplace_back(p.name, prefix + p.name);
        if (p.object) nested_params(*p.object, prefix + p.name + ".", out);
    }
}

class docs : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_TRUE(fs::is_regular_file(k_doc)) << k_doc << " is missing";
        ASSERT_FALSE(doc_lines().empty()) << k_doc << " is empty";
    }

    const std::set<std::string, std::less<>>& everywhere() {
        static const auto names = mentioned(doc_lines());
        return names;
    }

    // Checks that `names` are mentioned in `s`; `what` describes them in messages.
    void expect_named(const section& s, const std::vector<std::string>& names,
                      const std::string& what) {
        if (s.heading.empty()) return;
        const auto found = mentioned(s.lines);
        for (const auto& name : names) {
            EXPECT_TRUE(found.contains(name))
                << where(s) << ": " << what << " `" << name << "` is not named (write `" << name
                << "` in backticks in that section)";
        }
    }

    // Top-level parameters of `spec` in `s`; nested ones anywhere in the document.
    void expect_params(const section& s, const params::object_spec& spec, const std::string& what) {
        std::vector<std::string> top;
        for (const auto& p : spec.params) top.push_back(p.name);
        expect_named(s, top, what + " parameter");
        for (const auto& p : spec.params) {
            if (!p.object) continue;
            std::vector<std::pair<std::string, std::string>> nested;
            nested_params(*p.object, p.name + ".", nested);
            for (const auto& [name, path] : nested) {
                EXPECT_TRUE(everywhere().contains(name))
                    << "docs/pipelines.md: " << what << " parameter `" << path
                    << "` is not named anywhere (write `" << name << "` or `" << path
                    << "` in backticks)";
            }
        }
    }

    void expect_components(params::component_kind kind, std::string_view title,
                           const std::string& noun) {
        const section part = require_section(doc_lines(), 2, title, noun + "s");
        if (part.heading.empty()) return;
        for (const auto* info : registry().all(kind)) {
            const std::string heading = "`" + info->type + "`";
            const section s = require_section(part.lines, 3, heading, noun + " " + info->type);
            if (s.heading.empty() || !info->spec) continue;
            expect_params(s, *info->spec, noun + " " + info->type);
        }
    }
};

TEST_F(docs, names_every_measure_function) {
    const section s = require_section(doc_lines(), 2, "Measures", "the measure functions");
    std::vector<std::string> names;
    for (const auto& f : measure::catalog()) names.emplace_back(f.name);
    ASSERT_FALSE(names.empty());
    expect_named(s, names, "measure function");
}

TEST_F(docs, names_every_value_format) {
    const section s = require_section(doc_lines(), 2, "Measures", "the value formats");
    std::vector<std::string> names;
    for (const auto& f : measure::formats()) names.emplace_back(f.name);
    ASSERT_FALSE(names.empty());
    expect_named(s, names, "value format");
}

TEST_F(docs, names_every_expression_function) {
    const section s = require_section(doc_lines(), 2, "Expressions", "the expression functions");
    const auto names = expr::function_names();
    ASSERT_FALSE(names.empty());
    expect_named(s, names, "expression function");
}

TEST_F(docs, names_every_input_type_and_its_parameters) {
    ASSERT_FALSE(registry().types(params::component_kind::input).empty());
    expect_components(params::component_kind::input, "Inputs", "input");
}

TEST_F(docs, names_every_output_type_and_its_parameters) {
    ASSERT_FALSE(registry().types(params::component_kind::output).empty());
    expect_components(params::component_kind::output, "Outputs", "output");
}

TEST_F(docs, names_every_node_key) {
    const params::param_spec* nodes = pipeline_spec(registry()).find("nodes");
    ASSERT_NE(nodes, nullptr);
    ASSERT_NE(nodes->object, nullptr);
    const section s = require_section(doc_lines(), 2, "Nodes", "the node keys");
    expect_params(s, *nodes->object, "node");
}

TEST_F(docs, names_every_setting_and_pipeline_section) {
    const section s = require_section(doc_lines(), 2, "Files", "settings and pipeline sections");
    std::vector<std::pair<std::string, std::string>> settings;
    nested_params(settings_spec(), "", settings);
    ASSERT_FALSE(settings.empty());
    std::vector<std::string> names;
    for (const auto& [name, path] : settings) names.push_back(name);
    expect_named(s, names, "weir.yaml setting");
    names.clear();
    for (const auto& p : pipeline_spec(registry()).params) names.push_back(p.name);
    expect_named(s, names, "pipeline file key");
}

// Every ```yaml block is a complete file: a pipeline (it has `nodes:`) that loads without errors
// or warnings, a test file (it starts with `pipelines:`) whose names the pipeline example before
// it has, or else a weir.yaml settings file that loads without errors or warnings.
TEST_F(docs, yaml_examples_validate) {
    // The variables the examples read without a default.
    const env_lookup env = [](const std::string& name) -> std::optional<std::string> {
        if (name == "WEBHOOK_TOKEN") return std::string("example-token");
        return std::nullopt;
    };
    struct example {
        std::size_t line;  // of the opening fence, 1-based
        std::string text;
    };
    std::vector<example> examples;
    const auto& lines = doc_lines();
    for (std::size_t i = 0; i < lines.size(); ++i) {
        if (!is_fence(lines[i])) continue;
        const bool yaml = lines[i] == "```yaml";
        example e{i + 1, {}};
        for (++i; i < lines.size() && !is_fence(lines[i]); ++i) e.text += lines[i] + "\n";
        if (yaml) examples.push_back(std::move(e));
    }
    ASSERT_GE(examples.size(), 5u) << "expected the YAML examples of docs/pipelines.md";

    char dir_template[] = "/tmp/weir-docs-test-XXXXXX";
    ASSERT_NE(::mkdtemp(dir_template), nullptr);
    const fs::path dir = dir_template;
    std::size_t pipelines = 0;
    std::string last_pipeline;
    for (const auto& e : examples) {
        const bool pipeline =
            e.text.starts_with("nodes:") || e.text.find("\nnodes:") != std::string::npos;
        if (e.text.starts_with("pipelines:")) {
            // A test file (`weir test`): it tests the pipeline example just before it.
            diagnostics d;
            auto tests = load_test_text(e.text, (dir / "example_test.yaml").string(), env, d);
            const load_result tested = load_text(last_pipeline, "orders.yaml", registry(), env);
            if (tests) check_test_file(*tests, tested.config, d);
            std::string problems;
            for (const auto& x : d.sorted()) problems += "\n  " + format(x);
            EXPECT_TRUE(tests && problems.empty())
                << "docs/pipelines.md: the test file example at line " << e.line
                << " does not validate:" << problems;
            continue;
        }
        if (pipeline) last_pipeline = e.text;
        load_result r;
        if (pipeline) {
            ++pipelines;
            const std::string name = "example_at_line_" + std::to_string(e.line) + ".yaml";
            // The language reference shows Kafka and joins, which this build refuses to run:
            // it says so, and nothing else is wrong.
            const load_result run = load_text(e.text, name, registry(), env);
            for (const auto& d : run.diags.sorted()) {
                EXPECT_NE(d.message.find("not built into this version of weir yet"),
                          std::string::npos)
                    << "docs/pipelines.md, line " << e.line << ": " << format(d);
            }
            r = load_text(e.text, name, registry(), env, test::language_only);
        } else {
            const fs::path settings = dir / "weir.yaml";
            std::ofstream(settings) << e.text;
            r = load({settings.string()}, registry(), env);
        }
        std::string problems;
        for (const auto& d : r.diags.sorted()) problems += "\n  " + format(d);
        EXPECT_TRUE(problems.empty())
            << "docs/pipelines.md: the " << (pipeline ? "pipeline" : "settings")
            << " example at line " << e.line << " does not validate:" << problems;
    }
    fs::remove_all(dir);
    EXPECT_GE(pipelines, 1u);
}

}  // namespace
}  // namespace weir::config
