// Pipeline test files: their declaration, reading them into test cases (records as JSON lines,
// expectations typed), and checking their names against the loaded pipelines.
#include "config/test_file.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <limits>

#include "config/plan.h"
#include "config/yaml_reader.h"

namespace weir::config {

namespace fs = std::filesystem;
using params::object_spec;
using params::param_spec;
using params::param_type;
using params::reader;
using params::string_role;
using params::value;

namespace {

// Test data files are larger than pipeline files, but still read whole into memory.
constexpr std::uintmax_t max_data_file_size = 256 * 1024 * 1024;

std::string quoted_list(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + in_quotes(i);
    return out;
}

param_spec param(std::string name, param_type type, std::string description,
                 bool required = false) {
    param_spec p;
    p.name = std::move(name);
    p.type = type;
    p.description = std::move(description);
    p.required = required;
    return p;
}

std::shared_ptr<const object_spec> make_input_spec() {
    auto s = std::make_shared<object_spec>();
    s->name = "test input";
    s->description = "The records of one input for one case.";
    // No nested declaration: each record is any mapping.
    s->params.push_back(param("records", param_type::object_list,
                              "Records as mappings, sent to the input as JSON lines"));
    s->params.push_back(param("lines", param_type::string_list,
                              "Records as the input reads them: one a line (a block scalar "
                              "or a list), malformed ones included"));
    auto file = param("file", param_type::string,
                      "A file of records, one a line, relative to the test file");
    file.role = string_role::path;
    s->params.push_back(std::move(file));
    s->rules.push_back({params::key_rule::kind::exactly_one, {"records", "lines", "file"}});
    return s;
}

std::shared_ptr<const object_spec> make_expect_spec() {
    auto s = std::make_shared<object_spec>();
    s->name = "expected result";
    s->description = "The results of one check a case expects.";
    s->params.push_back(param("pipeline", param_type::string,
                              "The check's pipeline, when several pipelines have it"));
    s->params.push_back(
        param("node", param_type::string, "The check's node, when several nodes have it"));
    s->params.push_back(param("check", param_type::string, "The check's name", true));
    s->params.push_back(param("window", param_type::string,
                              "The window's start (RFC 3339) or its index (0 the first, -1 "
                              "the last); every window when absent"));
    s->params.push_back(param("group", param_type::string_map,
                              "The group: group_by fields and their values; any group when "
                              "absent"));
    auto outcome = param("outcome", param_type::enumeration, "The expected outcome");
    outcome.choices = {"pass", "warn", "fail", "no_data"};
    s->params.push_back(std::move(outcome));
    s->params.push_back(
        param("value", param_type::string, "The expected value (a number, string, boolean, null)"));
    auto tolerance =
        param("tolerance", param_type::number, "How far a number may be from `value` (absolute)");
    tolerance.minimum = 0;
    s->params.push_back(std::move(tolerance));
    s->params.push_back(param("relative_tolerance", param_type::string,
                              "How far a number may be from `value`, relative to it: 0.01 or "
                              "\"1%\""));
    auto records = param("records", param_type::integer, "How many records the window held");
    records.minimum = 0;
    s->params.push_back(std::move(records));
    auto count = param("count", param_type::integer,
                       "How many results this selects, exactly (default: at least one)");
    count.minimum = 0;
    s->params.push_back(std::move(count));
    return s;
}

std::shared_ptr<const object_spec> make_case_spec() {
    auto s = std::make_shared<object_spec>();
    s->name = "test case";
    s->description = "Records for the pipelines' inputs and the results expected from them.";
    s->params.push_back(param("name", param_type::string, "What the case shows", true));
    s->params.push_back(param("now", param_type::string,
                              "The wall clock during the case (RFC 3339); default: the file's"));
    auto inputs = param("inputs", param_type::object_map,
                        "Records per input (`input` or `pipeline/input`); inputs not named "
                        "get none");
    inputs.object = make_input_spec();
    inputs.role = string_role::path;  // "pipeline/input" is not a plain name
    s->params.push_back(std::move(inputs));
    auto expect = param("expect", param_type::object_list, "The results expected");
    expect.object = make_expect_spec();
    s->params.push_back(std::move(expect));
    auto exact =
        param("no_other_results", param_type::boolean, "Fail on any result no expectation selects");
    exact.default_text = "false";
    s->params.push_back(std::move(exact));
    return s;
}

std::shared_ptr<const object_spec> make_test_file_spec() {
    auto s = std::make_shared<object_spec>();
    s->name = "pipeline test file";
    s->description = "Unit tests of pipelines, run by `weir test`.";
    auto pipelines = param("pipelines", param_type::string_list,
                           "The pipeline files (or directories) under test, relative to this "
                           "file",
                           true);
    pipelines.role = string_role::path;
    s->params.push_back(std::move(pipelines));
    s->params.push_back(param("now", param_type::string,
                              "The wall clock of every case (RFC 3339); default "
                              "2100-01-01T00:00:00Z"));
    s->params.push_back(
        param("env", param_type::string_map, "Variables for the pipelines' ${VAR} references"));
    auto tests = param("tests", param_type::object_list, "The test cases", true);
    tests.object = make_case_spec();
    s->params.push_back(std::move(tests));
    return s;
}

bool is_null_word(std::string_view t) {
    return t == "null" || t == "~" || t == "Null" || t == "NULL";
}

// `value: null` and group values of null are scalars here (validation wants scalars).
void nulls_to_scalars(value& root) {
    auto fix = [](value& v) {
        if (!v.is_null()) return;
        v.type = value::kind::scalar;
        v.text = "null";
        v.quoted = false;
    };
    value* tests = nullptr;
    for (auto& e : root.entries) {
        if (e.key == "tests") tests = &e.val;
    }
    if (tests == nullptr) return;
    for (auto& c : tests->items) {
        for (auto& ce : c.entries) {
            if (ce.key != "expect") continue;
            for (auto& x : ce.val.items) {
                for (auto& xe : x.entries) {
                    if (xe.key == "value") fix(xe.val);
                    if (xe.key == "group") {
                        for (auto& g : xe.val.entries) fix(g.val);
                    }
                }
            }
        }
    }
}

test_scalar scalar_of(const value& v) {
    test_scalar s;
    s.text = v.text;
    s.quoted = v.quoted;
    s.null = v.is_null() || (!v.quoted && is_null_word(v.text));
    s.pos = v.pos;
    return s;
}

// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view t) {
    std::size_t i = 0;
    auto digits = [&] {
        const std::size_t from = i;
        while (i < t.size() && t[i] >= '0' && t[i] <= '9') ++i;
        return i > from;
    };
    if (i < t.size() && t[i] == '-') ++i;
    if (i < t.size() && t[i] == '0') {
        ++i;
    } else if (!digits()) {
        return false;
    }
    if (i < t.size() && t[i] == '.') {
        ++i;
        if (!digits()) return false;
    }
    if (i < t.size() && (t[i] == 'e' || t[i] == 'E')) {
        ++i;
        if (i < t.size() && (t[i] == '+' || t[i] == '-')) ++i;
        if (!digits()) return false;
    }
    return i == t.size();
}

// A YAML value as JSON: unquoted scalars are null, booleans or numbers when they read as one
// (YAML 1.2 core schema), else strings.
void append_json(const value& v, std::string& out) {
    switch (v.type) {
        case value::kind::null:
            out += "null";
            return;
        case value::kind::sequence:
            out += '[';
            for (std::size_t i = 0; i < v.items.size(); ++i) {
                if (i > 0) out += ',';
                append_json(v.items[i], out);
            }
            out += ']';
            return;
        case value::kind::mapping:
            out += '{';
            for (std::size_t i = 0; i < v.entries.size(); ++i) {
                if (i > 0) out += ',';
                append_json_string(v.entries[i].key, out);
                out += ':';
                append_json(v.entries[i].val, out);
            }
            out += '}';
            return;
        case value::kind::scalar:
            break;
    }
    if (v.quoted) return append_json_string(v.text, out);
    if (is_null_word(v.text)) {
        out += "null";
        return;
    }
    if (v.text == "true" || v.text == "false") {
        out += v.text;
        return;
    }
    if (is_json_number(v.text)) {
        out += v.text;
        return;
    }
    if (const auto d = params::parse_number(v.text); d && std::isfinite(*d)) {
        char buf[32];
        const auto r = std::to_chars(buf, buf + sizeof buf, *d);
        out.append(buf, r.ptr);
        return;
    }
    append_json_string(v.text, out);
}

std::optional<std::string> read_data_file(const std::string& path, source_pos pos,
                                          const std::string& at, diagnostics& out) {
    return read_whole_file(path, max_data_file_size, "too large for a test",
                           {pos, at, in_quotes(path) + ": "}, out);
}

std::string relative_to(const std::string& file, const std::string& path) {
    if (path.empty() || fs::path(path).is_absolute()) return path;
    return (fs::path(file).parent_path() / path).lexically_normal().string();
}

std::optional<time::timestamp_ns> read_time(const located<std::string>& t, const std::string& at,
                                            diagnostics& out) {
    time::timestamp_ns ns = 0;
    if (time::parse_rfc3339(t.value, ns)) return ns;
    out.error(
        t.pos, at,
        "expected a time such as \"2026-11-20T10:00:00Z\" (RFC 3339), got " + in_quotes(t.value));
    return std::nullopt;
}

void read_input(const std::string& file, const located<std::string>& name, const reader& r,
                const std::string& at, test_input& in, diagnostics& out) {
    in.name = name.value;
    in.pos = name.pos;
    if (r.has("records")) {
        in.structured = true;
        in.origin = "records";
        for (const auto& item : r.raw("records")->items) {
            append_json(item, in.text);
            in.text += '\n';
        }
    } else if (r.has("lines")) {
        in.origin = "lines";
        const value& v = *r.raw("lines");
        if (v.is_scalar()) {
            in.text = v.text;
            if (!in.text.empty() && in.text.back() != '\n') in.text += '\n';
        } else {
            for (const auto& item : v.items) in.text += item.text + '\n';
        }
    } else {
        const auto path = r.string("file");
        in.origin = relative_to(file, path.value);
        if (auto text = read_data_file(in.origin, path.pos, at + ".file", out)) {
            in.text = std::move(*text);
            if (!in.text.empty() && in.text.back() != '\n') in.text += '\n';
        }
    }
}

void read_expectation(const reader& r, std::size_t index, const std::string& at, expected_result& x,
                      diagnostics& out) {
    x.index = index;
    x.pos = r.node().pos;
    if (r.has("pipeline")) x.pipeline = r.string("pipeline").value;
    if (r.has("node")) x.node = r.string("node").value;
    x.check = r.string("check");
    if (r.has("window")) {
        const auto w = r.string("window");
        if (const auto i = params::parse_integer(w.value)) {
            x.window_index = *i;
        } else {
            time::timestamp_ns ns = 0;
            if (time::parse_rfc3339(w.value, ns)) {
                x.window_start = ns;
            } else {
                out.error(w.pos, at + ".window",
                          "expected the window's start (RFC 3339, e.g. "
                          "\"2026-11-20T10:00:00Z\") or its index (0 the first, -1 the last), "
                          "got " +
                              in_quotes(w.value));
            }
        }
    }
    if (r.has("group")) {
        x.group_pos = r.pos_of("group");
        std::vector<std::pair<std::string, test_scalar>> group;
        for (const auto& e : r.raw("group")->entries) group.emplace_back(e.key, scalar_of(e.val));
        x.group = std::move(group);
    }
    if (r.has("outcome")) {
        const std::string o = r.string("outcome").value;
        x.expected_outcome = o == "pass"   ? outcome::pass
                             : o == "warn" ? outcome::warn
                             : o == "fail" ? outcome::fail
                                           : outcome::no_data;
    }
    if (r.has("value")) x.value = scalar_of(*r.raw("value"));
    if (r.has("tolerance")) x.tolerance = r.number("tolerance").value;
    if (r.has("relative_tolerance")) {
        const auto t = r.string("relative_tolerance");
        std::string_view text = t.value;
        const bool percent = text.ends_with('%');
        if (percent) text.remove_suffix(1);
        const auto d = params::parse_number(text);
        if (!d || !std::isfinite(*d) || *d < 0) {
            out.error(t.pos, at + ".relative_tolerance",
                      "expected a fraction such as 0.01 or a percentage such as \"1%\", got " +
                          in_quotes(t.value));
        } else {
            x.relative_tolerance = percent ? *d / 100 : *d;
        }
    }
    const bool numeric_value = x.value && !x.value->null && params::parse_number(x.value->text);
    if ((r.has("tolerance") || r.has("relative_tolerance")) && !numeric_value) {
        out.error(r.pos_of(r.has("tolerance") ? "tolerance" : "relative_tolerance"), at,
                  "a tolerance needs a number as `value`");
    }
    if (r.has("records")) x.records = r.integer("records").value;
    if (r.has("count")) x.count = r.integer("count").value;
}

}  // namespace

const params::object_spec& test_file_spec() {
    static const auto spec = make_test_file_spec();
    return *spec;
}

std::optional<test_file> load_test_text(const std::string& text, const std::string& file,
                                        const env_lookup& env, diagnostics& out) {
    const std::size_t errors_before = out.error_count();
    auto root = read_yaml(text, file, env, out);
    if (!root) return std::nullopt;
    nulls_to_scalars(*root);
    if (!params::validate(test_file_spec(), *root, "", out)) return std::nullopt;

    test_file t;
    t.file = file;
    const reader r(test_file_spec(), *root);
    t.pipelines_pos = r.pos_of("pipelines");
    for (const auto& p : r.strings("pipelines")) t.pipelines.push_back(relative_to(file, p.value));
    for (const auto& [name, v] : r.string_map("env")) t.env.emplace_back(name, v.value);
    time::timestamp_ns file_now = k_default_test_now;
    if (r.has("now")) {
        if (const auto n = read_time(r.string("now"), "now", out)) file_now = *n;
    }
    const auto cases = r.object_list("tests");
    if (cases.empty()) out.error(r.pos_of("tests"), "tests", "no test cases");
    std::vector<std::string> names;
    for (std::size_t c = 0; c < cases.size(); ++c) {
        const reader& cr = cases[c];
        const std::string at = "tests[" + std::to_string(c) + "]";
        test_case tc;
        tc.name = cr.string("name").value;
        tc.pos = cr.node().pos;
        if (std::find(names.begin(), names.end(), tc.name) != names.end()) {
            out.error(cr.pos_of("name"), at + ".name",
                      "another case is named " + in_quotes(tc.name) + ": names are unique");
        }
        names.push_back(tc.name);
        tc.now = file_now;
        if (cr.has("now")) {
            if (const auto n = read_time(cr.string("now"), at + ".now", out)) tc.now = *n;
        }
        for (const auto& [name, ir] : cr.object_map("inputs")) {
            test_input in;
            read_input(file, name, ir, at + ".inputs." + name.value, in, out);
            tc.inputs.push_back(std::move(in));
        }
        const auto expect = cr.object_list("expect");
        for (std::size_t i = 0; i < expect.size(); ++i) {
            expected_result x;
            read_expectation(expect[i], i, at + ".expect[" + std::to_string(i) + "]", x, out);
            tc.expect.push_back(std::move(x));
        }
        tc.no_other_results = cr.boolean("no_other_results").value;
        if (tc.expect.empty() && !tc.no_other_results) {
            out.error(tc.pos, at,
                      "the case asserts nothing: give `expect:`, or `no_other_results: true` "
                      "for a case that expects no result");
        }
        t.cases.push_back(std::move(tc));
    }
    if (out.error_count() > errors_before) return std::nullopt;
    return t;
}

std::optional<test_file> load_test_file(const std::string& path, const env_lookup& env,
                                        diagnostics& out) {
    const auto text = read_whole_file(path, std::numeric_limits<std::uintmax_t>::max(), "",
                                      {{path, 0, 0}, "", ""}, out);
    if (!text) return std::nullopt;
    return load_test_text(*text, path, env, out);
}

namespace {

struct check_ref {
    const pipeline_config* pipeline;
    const node_config* node;
    const check_config* check;
};

// Whether input `name` of `p` decodes CSV (the compiled plan knows).
bool reads_csv(const pipeline_config& p, std::string_view name) {
    if (!p.plan) return false;
    for (const auto& q : p.plan->queries) {
        for (const auto& in : q.chain->inputs) {
            if (in.name == name) return in.decode.format == chain::record_format::csv;
        }
    }
    return false;
}

std::string names_of(const std::vector<std::string>& names) {
    return names.empty() ? "none" : quoted_list(names);
}

void resolve_input(test_input& in, const config_set& config, const std::string& at,
                   diagnostics& out) {
    const auto slash = in.name.find('/');
    std::vector<const pipeline_config*> scope;
    std::string input = in.name;
    if (slash != std::string::npos) {
        const std::string pipeline = in.name.substr(0, slash);
        input = in.name.substr(slash + 1);
        std::vector<std::string> names;
        for (const auto& p : config.pipelines) {
            names.push_back(p.name);
            if (p.name == pipeline) scope.push_back(&p);
        }
        if (scope.empty()) {
            std::string message = "unknown pipeline " + in_quotes(pipeline);
            const std::string near = nearest(pipeline, names);
            message += near.empty() ? "; the pipelines are: " + names_of(names)
                                    : "; did you mean " + in_quotes(near) + "?";
            out.error(in.pos, at, message);
            return;
        }
    } else {
        for (const auto& p : config.pipelines) scope.push_back(&p);
    }
    std::vector<const pipeline_config*> found;
    std::vector<std::string> all;
    for (const auto* p : scope) {
        for (const auto& i : p->inputs) {
            all.push_back(i.name);
            if (i.name == input) found.push_back(p);
        }
    }
    if (found.empty()) {
        std::string message = "unknown input " + in_quotes(input);
        const std::string near = nearest(input, all);
        message += near.empty() ? "; the inputs are: " + names_of(all)
                                : "; did you mean " + in_quotes(near) + "?";
        out.error(in.pos, at, message);
        return;
    }
    if (found.size() > 1) {
        std::vector<std::string> qualified;
        for (const auto* p : found) qualified.push_back(p->name + "/" + input);
        out.error(in.pos, at,
                  "several pipelines have an input " + in_quotes(input) + ": write one of " +
                      quoted_list(qualified));
        return;
    }
    in.pipeline = found[0]->name;
    in.input = input;
    if (in.structured && reads_csv(*found[0], input)) {
        out.error(in.pos, at,
                  "input " + in_quotes(input) +
                      " reads CSV: give its records as `lines:` (CSV rows, the header first "
                      "unless the input names its columns) or as a `file:`");
    }
}

void resolve_expectation(expected_result& x, const config_set& config, const std::string& at,
                         diagnostics& out) {
    std::vector<check_ref> all;
    for (const auto& p : config.pipelines) {
        for (const auto& n : p.nodes) {
            for (const auto& c : n.checks) all.push_back({&p, &n, &c});
        }
    }
    auto report_unknown = [&](const std::string& what, const std::string& name,
                              std::vector<std::string> candidates, source_pos pos,
                              const std::string& suffix) {
        std::sort(candidates.begin(), candidates.end());
        candidates.erase(std::unique(candidates.begin(), candidates.end()), candidates.end());
        std::string message = "unknown " + what + " " + in_quotes(name) + suffix;
        const std::string near = nearest(name, candidates);
        message += near.empty() ? "; the " + what + "s are: " + names_of(candidates)
                                : "; did you mean " + in_quotes(near) + "?";
        out.error(pos, at, message);
    };
    std::vector<check_ref> scope;
    if (!x.pipeline.empty()) {
        std::vector<std::string> names;
        for (const auto& r : all) {
            names.push_back(r.pipeline->name);
            if (r.pipeline->name == x.pipeline) scope.push_back(r);
        }
        if (scope.empty()) {
            return report_unknown("pipeline", x.pipeline, names, x.pos, " (with checks)");
        }
    } else {
        scope = all;
    }
    if (!x.node.empty()) {
        std::vector<std::string> names;
        std::vector<check_ref> in_node;
        for (const auto& r : scope) {
            names.push_back(r.node->name);
            if (r.node->name == x.node) in_node.push_back(r);
        }
        if (in_node.empty()) return report_unknown("node", x.node, names, x.pos, " (with checks)");
        scope = std::move(in_node);
    }
    std::vector<check_ref> found;
    std::vector<std::string> names;
    for (const auto& r : scope) {
        names.push_back(r.check->name.value);
        if (r.check->name.value == x.check.value) found.push_back(r);
    }
    if (found.empty()) {
        return report_unknown("check", x.check.value, names, x.check.pos,
                              x.node.empty() ? "" : " in node " + in_quotes(x.node));
    }
    if (found.size() > 1) {
        std::vector<std::string> where;
        bool nodes_differ = false;
        for (const auto& r : found) {
            where.push_back(r.pipeline->name + "/" + r.node->name);
            nodes_differ = nodes_differ || r.node->name != found[0].node->name;
        }
        out.error(x.check.pos, at,
                  "several nodes have a check " + in_quotes(x.check.value) + " (" +
                      quoted_list(where) + "): add " + (nodes_differ ? "`node:`" : "`pipeline:`"));
        return;
    }
    const check_ref& ref = found[0];
    x.pipeline = ref.pipeline->name;
    x.node = ref.node->name;
    if (x.group) {
        std::vector<std::string> fields;
        for (const auto& g : ref.node->group_by) fields.push_back(g.value);
        if (fields.empty()) {
            out.error(x.group_pos, at + ".group",
                      "node " + in_quotes(x.node) + " has no group_by: its results have no group");
            return;
        }
        for (const auto& [field, v] : *x.group) {
            if (std::find(fields.begin(), fields.end(), field) != fields.end()) continue;
            std::string message =
                "node " + in_quotes(x.node) + " does not group by " + in_quotes(field);
            const std::string near = nearest(field, fields);
            message += near.empty() ? "; its group_by is: " + quoted_list(fields)
                                    : "; did you mean " + in_quotes(near) + "?";
            out.error(v.pos, at + ".group." + field, message);
        }
    }
}

}  // namespace

void check_test_file(test_file& tests, const config_set& pipelines, diagnostics& out) {
    if (pipelines.pipelines.empty()) {
        out.error(tests.pipelines_pos, "pipelines", "the files named hold no pipeline");
        return;
    }
    for (std::size_t c = 0; c < tests.cases.size(); ++c) {
        test_case& tc = tests.cases[c];
        const std::string at = "tests[" + std::to_string(c) + "]";
        for (auto& in : tc.inputs) resolve_input(in, pipelines, at + ".inputs." + in.name, out);
        for (std::size_t i = 0; i < tc.inputs.size(); ++i) {
            for (std::size_t j = 0; j < i; ++j) {
                const auto& a = tc.inputs[i];
                const auto& b = tc.inputs[j];
                if (!a.input.empty() && a.pipeline == b.pipeline && a.input == b.input) {
                    out.error(a.pos, at + ".inputs." + a.name,
                              in_quotes(a.name) + " and " + in_quotes(b.name) +
                                  " are the same input: give its records once");
                }
            }
        }
        for (auto& x : tc.expect) {
            resolve_expectation(x, pipelines, at + ".expect[" + std::to_string(x.index) + "]", out);
        }
    }
}

}  // namespace weir::config
