// `weir test`: finds test files, loads them and the pipelines they name, runs each case through
// the node chains of the compiled queries, and prints what differs from the expectations.
#include "daemon/test_runner.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <ostream>
#include <set>

#include "config/plan.h"
#include "core/chain/node_chain.h"
#include "core/record/padded_buffer.h"
#include "daemon/exit_codes.h"

namespace weir::daemon {

namespace fs = std::filesystem;
using config::expected_result;
using config::test_case;
using config::test_scalar;

namespace {

// Records go to the chain in deliveries of about this many bytes, cut at line ends.
constexpr std::size_t k_delivery_bytes = 1 << 20;
// Listings in a failure's diff stop after this many items.
constexpr std::size_t k_max_listed = 10;
// Without a tolerance, numbers agree when they agree to this (relative) precision: a measure
// computed in another order may differ in the last bits.
constexpr double k_default_relative_tolerance = 1e-9;

// Keeps every result of every node; derived records, late records and dead letters have no
// expectations (yet), so they go nowhere.
class collecting_sink final : public chain::chain_sink {
  public:
    explicit collecting_sink(std::vector<check_result>& results) : results_(results) {}

    std::string failure;

    bool on_decoded(std::size_t, std::size_t, std::size_t, std::size_t,
                    const chain::record_problem*) override {
        return true;
    }
    bool on_rejected(std::size_t, std::size_t, const chain::record_problem&) override {
        return true;
    }
    void on_failure(const std::string& message) override { failure = message; }
    void on_results(std::size_t, std::span<const check_result> results) override {
        results_.insert(results_.end(), results.begin(), results.end());
    }
    bool admit(std::size_t, chain::output_index, std::size_t) override { return false; }
    void write_result(chain::output_index, const check_result&) override {}
    void write_record(chain::output_index, std::string_view) override {}

  private:
    std::vector<check_result>& results_;
};

// Hands `text` (lines) to input `input` in deliveries cut at line ends.
void deliver(chain::node_chain& chain, std::size_t input, const std::string& text,
             const std::string& origin, time::timestamp_ns now) {
    padded_buffer buffer;
    std::size_t at = 0;
    while (at < text.size()) {
        std::size_t end = std::min(text.size(), at + k_delivery_bytes);
        if (end < text.size()) {
            const std::size_t nl = text.find('\n', end);
            end = nl == std::string::npos ? text.size() : nl + 1;
        }
        buffer.clear();
        buffer.append(std::string_view(text).substr(at, end - at));
        record_delivery d{buffer.view(), {}, {}};
        d.origin = origin;
        d.offset = static_cast<std::int64_t>(at);
        chain.deliver(input, "", d, now);
        at = end;
    }
}

std::string show(const measure_value& v) {
    return to_string(v);
}

std::string show(const test_scalar& s) {
    if (s.null) return "null";
    return s.quoted ? "\"" + s.text + "\"" : s.text;
}

std::string show_group(const group_key& g) {
    if (g.empty()) return "";
    std::string out = "{";
    for (std::size_t i = 0; i < g.size(); ++i) {
        if (i > 0) out += ", ";
        out += g[i].first + ": " + show(g[i].second);
    }
    return out + "}";
}

std::string show_expected_group(const std::vector<std::pair<std::string, test_scalar>>& g) {
    std::string out = "{";
    for (std::size_t i = 0; i < g.size(); ++i) {
        if (i > 0) out += ", ";
        out += g[i].first + ": " + show(g[i].second);
    }
    return out + "}";
}

std::string show_number(double d) {
    return to_string(measure_value::make_number(d));
}

std::string where(const check_result& r, bool with_pipeline) {
    std::string out = with_pipeline ? r.pipeline + "/" : "";
    out += r.node + "." + r.check + ", window " + time::format_rfc3339_ms(r.window_start);
    if (!r.group.empty()) out += ", group " + show_group(r.group);
    return out;
}

std::string describe(const check_result& r) {
    return fmt::format("{}, value {}, records {}{}", to_string(r.outcome), show(r.value), r.records,
                       r.partial ? ", partial" : "");
}

// A scalar of the test file against a value of a result, by the result's kind.
bool scalar_matches(const test_scalar& e, const measure_value& a, double tolerance,
                    double relative) {
    if (e.null) return a.is_null();
    switch (a.kind) {
        case measure_kind::null:
            return false;
        case measure_kind::string:
            return e.text == a.text;
        case measure_kind::boolean: {
            const auto b = params::parse_boolean(e.text);
            return !e.quoted && b && *b == a.boolean;
        }
        case measure_kind::number:
            break;
    }
    std::string_view text = e.text;
    const bool percent = text.ends_with('%');
    if (percent) text.remove_suffix(1);
    auto d = params::parse_number(text);
    if (!d) return false;
    const double expected = percent ? *d / 100 : *d;
    if (std::isnan(expected) || std::isnan(a.number))
        return std::isnan(expected) && std::isnan(a.number);
    if (std::isinf(expected) || std::isinf(a.number)) return expected == a.number;
    if (tolerance == 0 && relative == 0) relative = k_default_relative_tolerance;
    return std::abs(a.number - expected) <= std::max(tolerance, relative * std::abs(expected));
}

bool group_matches(const expected_result& x, const group_key& g) {
    if (!x.group) return true;
    for (const auto& [field, v] : *x.group) {
        const auto it =
            std::find_if(g.begin(), g.end(), [&](const auto& p) { return p.first == field; });
        if (it == g.end() || !scalar_matches(v, it->second, 0, 0)) return false;
    }
    return true;
}

std::string selection(const expected_result& x) {
    std::string out = x.node + "." + x.check.value;
    if (x.window_start) out += ", window " + time::format_rfc3339_ms(*x.window_start);
    if (x.window_index) out += fmt::format(", window #{}", *x.window_index);
    if (x.group) out += ", group " + show_expected_group(*x.group);
    return out;
}

std::string expected_value_text(const expected_result& x) {
    std::string out = show(*x.value);
    if (x.tolerance > 0) out += " ± " + show_number(x.tolerance);
    if (x.relative_tolerance > 0) out += " ± " + show_number(x.relative_tolerance * 100) + "%";
    return out;
}

// What the check did produce, when an expectation selected nothing.
std::string hint(const expected_result& x, const std::vector<check_result>& results) {
    std::set<time::timestamp_ns> windows;
    std::vector<std::string> groups;
    for (const auto& r : results) {
        if (r.pipeline != x.pipeline || r.node != x.node || r.check != x.check.value) continue;
        windows.insert(r.window_start);
        if (!r.group.empty()) {
            const std::string g = show_group(r.group);
            if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
        }
    }
    if (windows.empty()) {
        return fmt::format("{}.{} has no result at all (did its node get records?)", x.node,
                           x.check.value);
    }
    std::string out = fmt::format("{}.{} has results for {} window{}, {} to {}", x.node,
                                  x.check.value, windows.size(), windows.size() == 1 ? "" : "s",
                                  time::format_rfc3339_ms(*windows.begin()),
                                  time::format_rfc3339_ms(*windows.rbegin()));
    if (!groups.empty()) {
        out += ", groups ";
        for (std::size_t i = 0; i < groups.size() && i < 5; ++i) out += (i ? ", " : "") + groups[i];
        if (groups.size() > 5) out += fmt::format(" and {} more", groups.size() - 5);
    }
    return out;
}

}  // namespace

case_report match_results(const test_case& tc, const std::vector<check_result>& results) {
    case_report report;
    std::set<std::string> pipelines;
    for (const auto& r : results) pipelines.insert(r.pipeline);
    const bool with_pipeline = pipelines.size() > 1;
    std::vector<bool> selected(results.size(), false);

    for (const auto& x : tc.expect) {
        std::vector<std::size_t> sel;
        for (std::size_t i = 0; i < results.size(); ++i) {
            const auto& r = results[i];
            if (r.pipeline != x.pipeline || r.node != x.node || r.check != x.check.value) continue;
            if (!group_matches(x, r.group)) continue;
            if (x.window_start && r.window_start != *x.window_start) continue;
            sel.push_back(i);
        }
        if (x.window_index) {
            std::vector<time::timestamp_ns> starts;
            for (const auto i : sel) starts.push_back(results[i].window_start);
            std::sort(starts.begin(), starts.end());
            starts.erase(std::unique(starts.begin(), starts.end()), starts.end());
            const auto n = static_cast<std::int64_t>(starts.size());
            const std::int64_t k = *x.window_index < 0 ? n + *x.window_index : *x.window_index;
            std::vector<std::size_t> kept;
            if (k >= 0 && k < n) {
                for (const auto i : sel) {
                    if (results[i].window_start == starts[static_cast<std::size_t>(k)]) {
                        kept.push_back(i);
                    }
                }
            }
            sel = std::move(kept);
        }
        for (const auto i : sel) selected[i] = true;

        const std::string head = fmt::format("expect[{}] at {}:{}:{}: {}", x.index, x.pos.file,
                                             x.pos.line, x.pos.column, selection(x));
        if (x.count && static_cast<std::int64_t>(sel.size()) != *x.count) {
            std::string p =
                fmt::format("{}\n    count: expected {}, got {}", head, *x.count, sel.size());
            for (std::size_t k = 0; k < sel.size() && k < k_max_listed; ++k) {
                p += "\n      " + where(results[sel[k]], with_pipeline) + ": " +
                     describe(results[sel[k]]);
            }
            if (sel.size() > k_max_listed) {
                p += fmt::format("\n      … and {} more", sel.size() - k_max_listed);
            }
            if (sel.empty()) p += "\n    " + hint(x, results);
            report.problems.push_back(std::move(p));
            continue;
        }
        if (sel.empty()) {
            if (x.count) continue;  // count: 0, and none
            report.problems.push_back(head + "\n    missing: no result matches\n    " +
                                      hint(x, results));
            continue;
        }
        std::size_t listed = 0, unlisted = 0;
        for (const auto i : sel) {
            const auto& r = results[i];
            std::string diff;
            if (x.expected_outcome && r.outcome != *x.expected_outcome) {
                diff += fmt::format("\n      outcome: expected {}, got {}",
                                    to_string(*x.expected_outcome), to_string(r.outcome));
            }
            if (x.value && !scalar_matches(*x.value, r.value, x.tolerance, x.relative_tolerance)) {
                std::string got = show(r.value);
                if (r.value.is_number() && !x.value->null) {
                    if (const auto e = params::parse_number(x.value->text)) {
                        got += " (off by " + show_number(std::abs(r.value.number - *e)) + ")";
                    }
                }
                diff += fmt::format("\n      value:   expected {}, got {}", expected_value_text(x),
                                    got);
            }
            if (x.records && r.records != *x.records) {
                diff += fmt::format("\n      records: expected {}, got {}", *x.records, r.records);
            }
            if (diff.empty()) continue;
            if (listed == k_max_listed) {
                ++unlisted;
                continue;
            }
            ++listed;
            report.problems.push_back(fmt::format("expect[{}] at {}:{}:{}: {}{}", x.index,
                                                  x.pos.file, x.pos.line, x.pos.column,
                                                  where(r, with_pipeline), diff));
        }
        if (unlisted > 0) {
            report.problems.push_back(
                fmt::format("expect[{}]: … and {} more results that differ", x.index, unlisted));
        }
    }

    if (tc.no_other_results) {
        std::size_t extra = 0;
        std::string p;
        for (std::size_t i = 0; i < results.size(); ++i) {
            if (selected[i]) continue;
            if (extra++ < k_max_listed) {
                p += "\n    " + where(results[i], with_pipeline) + ": " + describe(results[i]);
            }
        }
        if (extra > 0) {
            if (extra > k_max_listed) p += fmt::format("\n    … and {} more", extra - k_max_listed);
            report.problems.push_back(fmt::format("{} unexpected result{} (no_other_results):{}",
                                                  extra, extra == 1 ? "" : "s", p));
        }
    }
    report.passed = report.problems.empty();
    return report;
}

std::vector<check_result> run_case(const test_case& tc, const config::config_set& config,
                                   std::string& error) {
    std::vector<check_result> results;
    for (const auto& p : config.pipelines) {
        if (!p.plan) continue;
        for (const auto& q : p.plan->queries) {
            const auto& plan = q.chain;
            collecting_sink sink(results);
            const std::vector<std::vector<std::string>> sources(plan->inputs.size(), {""});
            chain::node_chain chain(plan, sink, sources, tc.now);
            for (std::size_t i = 0; i < plan->inputs.size() && sink.failure.empty(); ++i) {
                for (const auto& in : tc.inputs) {
                    if (in.pipeline != p.name || in.input != plan->inputs[i].name) continue;
                    deliver(chain, i, in.text, in.origin, tc.now);
                }
                if (sink.failure.empty()) chain.end_input(i, tc.now);
            }
            if (sink.failure.empty()) chain.finish(tc.now);
            if (!sink.failure.empty()) {
                error =
                    fmt::format("pipeline {}, query {} failed: {}", p.name, q.name, sink.failure);
                return results;
            }
        }
    }
    return results;
}

namespace {

bool is_test_file_name(const fs::path& p) {
    const std::string name = p.filename().string();
    return name.ends_with("_test.yaml") || name.ends_with("_test.yml");
}

// Files as given; directories searched (recursively) for *_test.yaml / *_test.yml.
std::vector<std::string> test_files(const std::vector<std::string>& paths) {
    std::vector<std::string> files;
    for (const auto& p : paths) {
        std::error_code ec;
        if (!fs::is_directory(p, ec)) {
            files.push_back(p);
            continue;
        }
        std::vector<std::string> found;
        for (auto it = fs::recursive_directory_iterator(p, ec);
             !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
            if (it->is_regular_file(ec) && is_test_file_name(it->path())) {
                found.push_back(it->path().string());
            }
        }
        std::sort(found.begin(), found.end());
        files.insert(files.end(), found.begin(), found.end());
    }
    return files;
}

std::string plural(std::size_t n, std::string_view word) {
    return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

}  // namespace

int run_tests(const test_options& options, const params::component_registry& registry,
              const config::env_lookup& env, std::ostream& out, std::ostream& err) {
    const auto files =
        test_files(options.paths.empty() ? std::vector<std::string>{"."} : options.paths);
    if (files.empty()) {
        err << "weir: no test files (*_test.yaml, *_test.yml) under the paths given\n";
        return exit_usage;
    }
    std::size_t passed = 0, failed = 0, invalid = 0, ran_files = 0;
    for (const auto& file : files) {
        diagnostics diags;
        auto tests = config::load_test_file(file, env, diags);
        config::load_result pipelines;
        if (tests) {
            const auto& vars = tests->env;
            const config::env_lookup pipeline_env =
                [&vars, &env](const std::string& name) -> std::optional<std::string> {
                for (const auto& [k, v] : vars) {
                    if (k == name) return v;
                }
                return env(name);
            };
            pipelines = config::load(tests->pipelines, registry, pipeline_env);
            diags.append(pipelines.diags);
            if (!pipelines.diags.has_errors()) check_test_file(*tests, pipelines.config, diags);
        }
        for (const auto& d : diags.sorted()) err << format(d) << '\n';
        if (!tests || diags.has_errors()) {
            ++invalid;
            const bool pipelines_invalid = pipelines.diags.has_errors();
            err << fmt::format(
                "weir: {}: {}, its cases did not run: {}\n", file,
                pipelines_invalid ? "a pipeline it names is invalid" : "invalid test file",
                plural(diags.error_count(), "error"));
            continue;
        }
        bool header = false;
        for (const auto& tc : tests->cases) {
            if (!options.filter.empty() && tc.name.find(options.filter) == std::string::npos) {
                continue;
            }
            if (!header) {
                out << file << '\n';
                header = true;
                ++ran_files;
            }
            std::string error;
            const auto results = run_case(tc, pipelines.config, error);
            auto report = match_results(tc, results);
            if (!error.empty()) {
                report.passed = false;
                report.problems.insert(report.problems.begin(), error);
            }
            (report.passed ? passed : failed)++;
            out << fmt::format("  {}  {}", report.passed ? "PASS" : "FAIL", tc.name);
            if (!report.passed) out << fmt::format("  ({}:{})", tc.pos.file, tc.pos.line);
            out << fmt::format(" — {}\n", plural(results.size(), "result"));
            for (const auto& p : report.problems) out << "    " << p << '\n';
            if (options.verbose) {
                for (const auto& r : results) {
                    out << "      " << where(r, false) << ": " << describe(r) << '\n';
                }
            }
        }
    }
    if (passed + failed == 0 && invalid == 0) {
        err << fmt::format("weir: no case matches --filter \"{}\"\n", options.filter);
        return exit_usage;
    }
    out << fmt::format("weir test: {} passed, {} failed", passed, failed);
    if (invalid > 0) out << fmt::format(", {} invalid", plural(invalid, "file"));
    out << fmt::format(" ({} in {})\n", plural(passed + failed, "case"), plural(ran_files, "file"));
    if (invalid > 0) return exit_config;
    return failed > 0 ? exit_failure : exit_ok;
}

}  // namespace weir::daemon
