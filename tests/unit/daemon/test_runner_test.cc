// `weir test` in process (daemon/test_runner.h): a case's records through the compiled queries'
// node chains, and the comparison of results with expectations — selection by window (start or
// index) and group, outcome, value with tolerances, counts, missing and unexpected results.
#include "daemon/test_runner.h"

#include <fmt/core.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "config/plan.h"
#include "connectors/register.h"

namespace weir::daemon {
namespace {

using ::testing::HasSubstr;
using time::ns_per_s;

const params::component_registry& registry() {
    static const params::component_registry r = [] {
        params::component_registry out;
        connectors::register_builtin_connectors(out);
        return out;
    }();
    return r;
}

config::env_lookup no_env() {
    return [](const std::string&) { return std::optional<std::string>(); };
}

std::string joined(const case_report& r) {
    std::string out;
    for (const auto& p : r.problems) out += p + "\n";
    return out;
}

time::timestamp_ns at(const char* text) {
    time::timestamp_ns t = 0;
    EXPECT_TRUE(time::parse_rfc3339(text, t)) << text;
    return t;
}

check_result result(const char* check, const char* start, const char* group, double value,
                    outcome o) {
    check_result r;
    r.pipeline = "p";
    r.node = "quality";
    r.check = check;
    r.window_start = at(start);
    r.window_end = r.window_start + 10 * ns_per_s;
    if (group[0] != '\0') r.group = {{"device", measure_value::make_string(group)}};
    r.value = measure_value::make_number(value);
    r.outcome = o;
    r.records = static_cast<std::int64_t>(value);
    return r;
}

// Expectations as a loaded, checked test file would hold them.
config::expected_result expect(const char* check) {
    config::expected_result x;
    x.pipeline = "p";
    x.node = "quality";
    x.check.value = check;
    x.pos = {"t_test.yaml", 7, 9};
    return x;
}

config::test_scalar scalar(const char* text, bool quoted = false) {
    config::test_scalar s;
    s.text = text;
    s.quoted = quoted;
    s.null = !quoted && std::string_view(text) == "null";
    return s;
}

const std::vector<check_result> k_results = {
    result("volume", "2026-11-20T10:00:00Z", "d1", 12, outcome::pass),
    result("volume", "2026-11-20T10:00:00Z", "d2", 3, outcome::fail),
    result("volume", "2026-11-20T10:00:10Z", "d1", 11, outcome::pass),
    result("volume", "2026-11-20T10:00:10Z", "d2", 0, outcome::fail),
    result("mean_temp", "2026-11-20T10:00:00Z", "d1", 21.25, outcome::pass),
};

TEST(match_results, selects_by_window_start_index_and_group) {
    config::test_case tc;
    auto x = expect("volume");
    x.window_start = at("2026-11-20T10:00:10Z");
    x.group = {{{"device", scalar("d2")}}};
    x.expected_outcome = outcome::fail;
    x.value = scalar("0");
    x.records = 0;
    tc.expect.push_back(x);
    x = expect("volume");
    x.window_index = -1;  // the last window: d1's and d2's
    x.count = 2;
    tc.expect.push_back(x);
    x = expect("volume");
    x.window_index = 0;
    x.group = {{{"device", scalar("d1")}}};
    x.value = scalar("12");
    tc.expect.push_back(x);
    x = expect("volume");  // no window, no group: every result must pass, and some do not
    x.expected_outcome = outcome::pass;
    const auto r = match_results(tc, k_results);
    EXPECT_TRUE(r.passed) << joined(r);

    tc.expect.push_back(x);
    const auto r2 = match_results(tc, k_results);
    EXPECT_FALSE(r2.passed);
    ASSERT_EQ(r2.problems.size(), 2u) << joined(r2);
    EXPECT_EQ(r2.problems[0],
              "expect[0] at t_test.yaml:7:9: quality.volume, window 2026-11-20T10:00:00.000Z, "
              "group {device: \"d2\"}\n      outcome: expected pass, got fail");
    EXPECT_THAT(r2.problems[1], HasSubstr("window 2026-11-20T10:00:10.000Z, group {device: "
                                          "\"d2\"}\n      outcome: expected pass, got fail"));
}

TEST(match_results, values_within_tolerances) {
    auto check = [](const char* value, double tolerance, double relative) {
        config::test_case tc;
        auto x = expect("mean_temp");
        x.value = scalar(value);
        x.tolerance = tolerance;
        x.relative_tolerance = relative;
        tc.expect.push_back(x);
        return match_results(tc, k_results);
    };
    EXPECT_TRUE(check("21.25", 0, 0).passed);
    EXPECT_FALSE(check("21.2", 0, 0).passed);
    EXPECT_TRUE(check("21.2", 0.051, 0).passed);
    EXPECT_FALSE(check("21.2", 0.04, 0).passed);
    EXPECT_TRUE(check("21", 0, 0.012).passed);  // 1.2% of 21 = 0.252
    EXPECT_FALSE(check("21", 0, 0.01).passed);
    EXPECT_TRUE(check("21", 0.01, 0.012).passed);  // either one is enough
    EXPECT_TRUE(check("2125%", 0, 0).passed);      // a percentage: 21.25
    EXPECT_FALSE(check("warm", 0, 0).passed);
    EXPECT_FALSE(check("null", 0, 0).passed);

    const auto r = check("21", 0.1, 0.001);
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_THAT(r.problems[0], HasSubstr("value:   expected 21 ± 0.1 ± 0.1%, got 21.25 (off by "
                                         "0.25)"));
}

TEST(match_results, strings_booleans_and_nulls) {
    std::vector<check_result> results = k_results;
    results[0].value = measure_value::make_string("ok");
    results[1].value = measure_value::make_boolean(true);
    results[2].value = measure_value::make_null();
    auto check = [&](const char* group, const char* window, config::test_scalar value) {
        config::test_case tc;
        auto x = expect("volume");
        x.group = {{{"device", scalar(group)}}};
        x.window_start = at(window);
        x.value = value;
        tc.expect.push_back(x);
        return match_results(tc, results).passed;
    };
    EXPECT_TRUE(check("d1", "2026-11-20T10:00:00Z", scalar("ok")));
    EXPECT_TRUE(check("d1", "2026-11-20T10:00:00Z", scalar("ok", true)));
    EXPECT_FALSE(check("d1", "2026-11-20T10:00:00Z", scalar("OK")));
    EXPECT_TRUE(check("d2", "2026-11-20T10:00:00Z", scalar("true")));
    EXPECT_FALSE(check("d2", "2026-11-20T10:00:00Z", scalar("true", true)));
    EXPECT_FALSE(check("d2", "2026-11-20T10:00:00Z", scalar("false")));
    EXPECT_TRUE(check("d1", "2026-11-20T10:00:10Z", scalar("null")));
    EXPECT_FALSE(check("d1", "2026-11-20T10:00:10Z", scalar("0")));
    EXPECT_FALSE(check("d2", "2026-11-20T10:00:10Z", scalar("null")));
}

TEST(match_results, missing_counted_and_unexpected_results) {
    config::test_case tc;
    auto x = expect("volume");
    x.window_start = at("2026-11-20T10:00:20Z");
    tc.expect.push_back(x);
    x = expect("mean_temp");
    x.window_index = 3;
    tc.expect.push_back(x);
    x = expect("volume");
    x.group = {{{"device", scalar("d1")}}};
    x.count = 3;
    tc.expect.push_back(x);
    x = expect("volume");
    x.group = {{{"device", scalar("d9")}}};
    x.count = 0;
    tc.expect.push_back(x);
    tc.no_other_results = true;
    const auto r = match_results(tc, k_results);
    EXPECT_FALSE(r.passed);
    const std::string all = joined(r);
    ASSERT_EQ(r.problems.size(), 4u) << all;
    EXPECT_EQ(r.problems[0],
              "expect[0] at t_test.yaml:7:9: quality.volume, window 2026-11-20T10:00:20.000Z\n"
              "    missing: no result matches\n"
              "    quality.volume has results for 2 windows, 2026-11-20T10:00:00.000Z to "
              "2026-11-20T10:00:10.000Z, groups {device: \"d1\"}, {device: \"d2\"}");
    EXPECT_THAT(r.problems[1], HasSubstr("quality.mean_temp, window #3\n    missing"));
    EXPECT_THAT(r.problems[2], HasSubstr("count: expected 3, got 2\n      quality.volume, window "
                                         "2026-11-20T10:00:00.000Z, group {device: \"d1\"}: "
                                         "pass, value 12, records 12"));
    // d2's volume and d1's mean_temp were selected by nothing.
    EXPECT_EQ(r.problems[3],
              "3 unexpected results (no_other_results):\n"
              "    quality.volume, window 2026-11-20T10:00:00.000Z, group {device: \"d2\"}: fail, "
              "value 3, records 3\n"
              "    quality.volume, window 2026-11-20T10:00:10.000Z, group {device: \"d2\"}: fail, "
              "value 0, records 0\n"
              "    quality.mean_temp, window 2026-11-20T10:00:00.000Z, group {device: \"d1\"}: "
              "pass, value 21.25, records 21");
}

TEST(match_results, a_check_without_results_says_so) {
    config::test_case tc;
    tc.expect.push_back(expect("volume"));
    const auto r = match_results(tc, {});
    ASSERT_EQ(r.problems.size(), 1u);
    EXPECT_THAT(r.problems[0], HasSubstr("quality.volume has no result at all"));
}

const char* const k_pipeline = R"(pipeline: p
inputs:
  in: {type: stdin}
  other: {type: stdin}
nodes:
  quality:
    from: in
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s, allowed_lateness: 2s}
    group_by: [device]
    checks:
      - {name: volume, measure: count(), must_be: "> 1"}
      - {name: level, measure: mean(v), must_be: "< 50"}
  strict:
    from: other
    schema:
      fields:
        v: {type: number, required: true}
      on_invalid: fail
    time: {field: ts, format: epoch_s}
    window: {type: tumbling, size: 10s}
    checks:
      - {name: total, measure: sum(v), must_be: "> 0"}
)";

config::config_set compiled() {
    auto r = config::load_text(k_pipeline, "p.yaml", registry(), no_env());
    std::string all;
    for (const auto& d : r.diags.sorted()) all += format(d) + "\n";
    EXPECT_FALSE(r.diags.has_errors()) << all;
    return std::move(r.config);
}

config::test_input input(const char* name, std::string text) {
    config::test_input in;
    in.name = in.input = name;
    in.pipeline = "p";
    in.text = std::move(text);
    in.origin = "lines";
    return in;
}

TEST(run_case, records_go_through_the_chain_and_every_window_closes_at_the_end) {
    const auto config = compiled();
    config::test_case tc;
    tc.now = config::k_default_test_now;
    tc.inputs.push_back(input("in",
                              "{\"ts\": 100, \"device\": \"a\", \"v\": 10}\n"
                              "{\"ts\": 101, \"device\": \"a\", \"v\": 20}\n"
                              "not json\n"
                              "{\"ts\": 103, \"device\": \"b\", \"v\": 70}\n"
                              "{\"ts\": 115, \"device\": \"a\", \"v\": 1}\n"
                              "{\"ts\": 104, \"device\": \"a\", \"v\": 99}\n"));  // late
    std::string error;
    const auto results = run_case(tc, config, error);
    EXPECT_EQ(error, "");
    std::vector<std::string> lines;
    for (const auto& r : results) {
        lines.push_back(fmt::format("{} {}@{} {}={} {}", r.node, to_string(r.group[0].second),
                                    r.window_start / ns_per_s, r.check, to_string(r.value),
                                    to_string(r.outcome)));
    }
    EXPECT_THAT(lines,
                ::testing::UnorderedElementsAre(
                    "quality \"a\"@100 volume=2 pass", "quality \"a\"@100 level=15 pass",
                    "quality \"b\"@100 volume=1 fail", "quality \"b\"@100 level=70 fail",
                    "quality \"a\"@110 volume=1 fail", "quality \"a\"@110 level=1 pass",
                    "quality \"b\"@110 volume=0 fail", "quality \"b\"@110 level=null no_data"));
}

TEST(run_case, a_query_that_fails_is_reported) {
    const auto config = compiled();
    config::test_case tc;
    tc.now = config::k_default_test_now;
    tc.inputs.push_back(input("other", "{\"ts\": 100, \"v\": 1}\n{\"ts\": 101}\n"));
    std::string error;
    run_case(tc, config, error);
    EXPECT_THAT(error, HasSubstr("pipeline p, query strict failed: "));
}

}  // namespace
}  // namespace weir::daemon
