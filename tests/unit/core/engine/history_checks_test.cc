// Checks against history in the node engine: warm-up as no_data with its evidence, judged
// results carrying the expectation, anomalies held out of the history, per-group series, the
// operator commands, and the history section of checkpoints (restored alone into another plan).
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/engine/node_engine.h"
#include "tests/unit/core/engine/engine_harness.h"

namespace weir::test {
namespace {

using engine::check_plan;
using engine::history_command;
using engine::node_engine;

check_plan history_check(std::string name, std::string measure, std::string should_be,
                         std::string must_be = "") {
    check_plan c;
    c.name = std::move(name);
    c.measure = std::move(measure);
    c.should_be = std::move(should_be);
    c.must_be = std::move(must_be);
    return c;
}

engine::node_plan grouped_plan(std::vector<check_plan> checks) {
    auto plan = basic_plan(tumbling(k_s));
    plan.group_by = {field_path{{"g"}}};
    plan.checks = std::move(checks);
    return plan;
}

// One record per group at the start of window `w` (value values[g]); it closes the window
// before. Records at window starts: the first window is not partial.
struct driver {
    node_engine& e;
    std::vector<check_result> out;

    // Feeds window w's records and returns the results of the windows that closed.
    std::vector<check_result> window(int w, const std::vector<double>& values) {
        out.clear();
        std::vector<test_record> recs;
        for (std::size_t g = 0; g < values.size(); ++g) {
            recs.push_back(num(w * k_s, values[g], static_cast<double>(g)));
        }
        feed(e, recs, 0, out);
        return out;
    }
    std::vector<check_result> finish() {
        out.clear();
        e.finish(0, out);
        return out;
    }
};

const check_result& of_group(const std::vector<check_result>& rs, double g) {
    for (const auto& r : rs) {
        if (!r.group.empty() && r.group[0].second.number == g) return r;
    }
    static const check_result none;
    ADD_FAILURE() << "no result for group " << g;
    return none;
}

TEST(HistoryChecks, WarmUpIsNoDataWithItsReasonThenResultsCarryTheExpectation) {
    node_engine e(grouped_plan({history_check("level", "mean(x)", "zscore(last 4) < 3")}));
    driver d{e};
    const std::vector<double> series = {10, 11, 9, 10, 10.5, 10.2};
    std::vector<check_result> all;
    for (int w = 0; w < static_cast<int>(series.size()); ++w) {
        for (auto& r : d.window(w, {series[static_cast<std::size_t>(w)]})) all.push_back(r);
    }
    for (auto& r : d.finish()) all.push_back(r);
    ASSERT_EQ(all.size(), series.size());
    // zscore(last 4) needs max(3, ceil(4 / 2)) = 3 values.
    for (std::size_t w = 0; w < 3; ++w) {
        EXPECT_EQ(all[w].outcome, outcome::no_data) << w;
        ASSERT_TRUE(all[w].expected) << w;
        EXPECT_STREQ(all[w].expected->state, "warming_up");
        EXPECT_EQ(all[w].expected->history, w);
        EXPECT_EQ(all[w].expected->needed, 3u);
        EXPECT_FALSE(all[w].expected->reason.empty());
    }
    for (std::size_t w = 3; w < series.size(); ++w) {
        EXPECT_EQ(all[w].outcome, outcome::pass) << w;
        ASSERT_TRUE(all[w].expected) << w;
        EXPECT_STREQ(all[w].expected->state, "judged");
        EXPECT_STREQ(all[w].expected->tested, "z");
        EXPECT_GE(all[w].expected->history, 3u);
        EXPECT_LT(all[w].expected->low, series[w]);
        EXPECT_GT(all[w].expected->high, series[w]);
    }
    // Window 3 against {10, 11, 9}: mean 10, sample deviation 1, z 0.
    EXPECT_DOUBLE_EQ(all[3].expected->value, 10);
    EXPECT_NEAR(all[3].expected->tested_value, 0, 1e-12);
    EXPECT_NEAR(all[3].expected->low, 7, 1e-9);
    EXPECT_NEAR(all[3].expected->high, 13, 1e-9);
}

TEST(HistoryChecks, AnAnomalyFailsItsGroupOnlyAndIsNotLearned) {
    node_engine e(grouped_plan({history_check("level", "mean(x)", "zscore(last 6) < 3")}));
    driver d{e};
    const std::vector<std::vector<double>> windows = {
        {10, 50}, {11, 52}, {9, 48}, {10, 50}, {10.5, 51}, {9.5, 49}, {40, 50},  // group 0 spikes
        {10, 50},                                                                // and is back
    };
    std::vector<std::vector<check_result>> closed;
    for (int w = 0; w < static_cast<int>(windows.size()); ++w) {
        closed.push_back(d.window(w, windows[static_cast<std::size_t>(w)]));
    }
    closed.push_back(d.finish());
    // closed[w + 1] holds window w.
    const auto& spike = closed[7];
    EXPECT_EQ(of_group(spike, 0).outcome, outcome::warn);
    EXPECT_GT(of_group(spike, 0).expected->tested_value, 3);
    EXPECT_EQ(of_group(spike, 1).outcome, outcome::pass);
    // Had the spike been learned, the history's deviation would have grown tenfold; it was
    // held out, so window 7 is judged against the same six values as window 6.
    const auto& after = closed[8];
    EXPECT_EQ(of_group(after, 0).outcome, outcome::pass);
    EXPECT_DOUBLE_EQ(of_group(after, 0).expected->value, of_group(spike, 0).expected->value);
    EXPECT_EQ(of_group(after, 0).expected->history, of_group(spike, 0).expected->history);
}

TEST(HistoryChecks, LearnAnomaliesTeachesTheBaselineEvenTheSpike) {
    auto plan = grouped_plan({history_check("level", "mean(x)", "zscore(last 6) < 3")});
    plan.checks[0].learn_anomalies = true;
    node_engine e(plan);
    driver d{e};
    for (int w = 0; w < 6; ++w) d.window(w, {10.0 + (w % 2)});
    d.window(6, {40});
    const auto spike = d.window(7, {10});
    EXPECT_EQ(of_group(spike, 0).outcome, outcome::warn);
    const auto after = d.finish();
    EXPECT_GT(of_group(after, 0).expected->value, of_group(spike, 0).expected->value);
}

TEST(HistoryChecks, MustBeAgainstHistoryFailsAndChangeComparesWithThePreviousWindow) {
    node_engine e(grouped_plan({history_check("volume", "count()", "", "change in [-2, 2]")}));
    driver d{e};
    // count() per window: 1, 1, 4 (three records in window 2), 1.
    d.window(0, {1});
    const auto w0 = d.window(1, {1});
    ASSERT_EQ(w0.size(), 1u);
    EXPECT_EQ(w0[0].outcome, outcome::no_data);  // no previous window yet
    EXPECT_STREQ(w0[0].expected->state, "warming_up");
    std::vector<check_result> out;
    feed(e, {num(2 * k_s + 1, 0), num(2 * k_s + 2, 0), num(2 * k_s + 3, 0), num(2 * k_s + 4, 0)}, 0,
         out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].outcome, outcome::pass);  // window 1: 1 vs 1
    EXPECT_DOUBLE_EQ(out[0].expected->tested_value, 0);
    out.clear();
    feed(e, {num(3 * k_s + 1, 0)}, 0, out);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].outcome, outcome::fail);  // window 2: 4 vs 1
    EXPECT_STREQ(out[0].expected->tested, "change");
    EXPECT_DOUBLE_EQ(out[0].expected->tested_value, 3);
    EXPECT_DOUBLE_EQ(out[0].expected->value, 1);
    EXPECT_DOUBLE_EQ(out[0].expected->low, -1);
    EXPECT_DOUBLE_EQ(out[0].expected->high, 3);
}

// Runs windows [from, to) of a fixed series through `e` and returns the results.
std::vector<check_result> run_series(node_engine& e, int from, int to) {
    driver d{e};
    std::vector<check_result> all;
    for (int w = from; w < to; ++w) {
        const double a = 10 + std::sin(w * 0.7) + (w == 17 ? 9 : 0);
        const double b = 100 + 3 * std::cos(w * 1.3);
        for (auto& r : d.window(w, {a, b})) all.push_back(std::move(r));
    }
    return all;
}

bool same_judgement(const check_result& a, const check_result& b) {
    return a.check == b.check && a.window_start == b.window_start && a.group == b.group &&
           a.outcome == b.outcome && a.value == b.value &&
           (a.expected && b.expected ? *a.expected == *b.expected : !a.expected && !b.expected);
}

TEST(HistoryChecks, TheHistorySectionRestoresIntoTheSamePlanAndIntoAnotherOne) {
    const auto checks = std::vector<check_plan>{
        history_check("level", "mean(x)", "zscore(last 8) < 3"),
        history_check("jump", "mean(x)", "relative change < 50%"),
    };
    node_engine whole(grouped_plan(checks));
    const auto expected = run_series(whole, 0, 30);

    node_engine first(grouped_plan(checks));
    run_series(first, 0, 15);
    byte_writer engine_bytes;
    first.snapshot(engine_bytes);
    byte_writer history_bytes;
    first.snapshot_history(history_bytes);

    // The same plan: windows and history both restored, the rest of the run is identical.
    node_engine second(grouped_plan(checks));
    byte_reader r1(engine_bytes.data());
    ASSERT_TRUE(second.restore(r1));
    byte_reader r2(history_bytes.data());
    ASSERT_TRUE(second.restore_history(r2));
    const auto rest = run_series(second, 15, 30);
    std::vector<check_result> tail;
    for (const auto& r : expected) {
        if (r.window_start >= 14 * k_s) tail.push_back(r);
    }
    ASSERT_EQ(rest.size(), tail.size());
    for (std::size_t i = 0; i < rest.size(); ++i) {
        std::string a;
        std::string b;
        append_json(rest[i], a);
        append_json(tail[i], b);
        EXPECT_TRUE(same_judgement(rest[i], tail[i])) << i << "\n" << a << "\n" << b;
    }

    // Another plan (a new check, `jump` now judged against a week): `level` keeps its
    // history, judged at once; `jump` starts afresh.
    auto other = grouped_plan({checks[0], history_check("jump", "mean(x)", "change vs 1m < 5"),
                               history_check("new", "count()", "> 0")});
    node_engine third(other);
    byte_reader r3(history_bytes.data());
    ASSERT_TRUE(third.restore_history(r3));
    driver d{third};
    d.window(40, {10, 100});
    const auto after = d.finish();
    for (const auto& r : after) {
        if (r.check == "level") {
            EXPECT_STREQ(r.expected->state, "judged");
            EXPECT_GE(r.expected->history, 8u);
        }
        if (r.check == "jump") {
            EXPECT_STREQ(r.expected->state, "warming_up");
        }
    }
}

TEST(HistoryChecks, CorruptHistoryBytesAreRefused) {
    node_engine e(grouped_plan({history_check("level", "mean(x)", "zscore(last 8) < 3")}));
    run_series(e, 0, 12);
    byte_writer w;
    e.snapshot_history(w);
    const std::string bytes = w.data();
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        node_engine f(grouped_plan({history_check("level", "mean(x)", "zscore(last 8) < 3")}));
        byte_reader r(std::string_view(bytes).substr(0, n));
        EXPECT_FALSE(f.restore_history(r)) << n;
    }
}

TEST(HistoryChecks, ResetWarmsUpAgainAndAcknowledgeLearnsTheHeldOutLevel) {
    node_engine e(grouped_plan({history_check("level", "mean(x)", "zscore(last 6) < 3")}));
    driver d{e};
    for (int w = 0; w < 8; ++w) d.window(w, {10.0 + (w % 3) * 0.5, 50.0 + (w % 2)});
    // A new level for group 0: every window warns, and none is learned.
    for (int w = 8; w < 11; ++w) {
        const auto rs = d.window(w, {20.0 + (w % 2) * 0.5, 50.0 + (w % 2)});
        if (w > 8) {
            EXPECT_EQ(of_group(rs, 0).outcome, outcome::warn) << w;
        }
    }
    group_key g0 = {{"g", measure_value::make_number(0)}};
    // Acknowledging learns the held-out values of group 0 only.
    EXPECT_EQ(e.command_history(history_command::acknowledge, "level", &g0), 1u);
    const auto acked = d.window(11, {20.2, 50});
    EXPECT_GT(of_group(acked, 0).expected->value, 10.5);
    // Reset: group 0 warms up again; group 1 is untouched.
    EXPECT_EQ(e.command_history(history_command::reset, "level", &g0), 1u);
    d.window(12, {20.1, 50});
    const auto reset = d.window(13, {20.1, 50});
    EXPECT_STREQ(of_group(reset, 0).expected->state, "warming_up");
    EXPECT_STREQ(of_group(reset, 1).expected->state, "judged");
    // Every group, every check of the node; unknown checks are not found.
    EXPECT_EQ(e.command_history(history_command::reset, "", nullptr), 2u);
    EXPECT_FALSE(e.command_history(history_command::reset, "nope", nullptr).has_value());
}

TEST(HistoryChecks, ANodeWithoutThemHasNoHistory) {
    auto plan = grouped_plan({history_check("v", "count()", "> 0")});
    node_engine e(plan);
    EXPECT_FALSE(e.has_history());
    EXPECT_FALSE(e.command_history(history_command::reset, "", nullptr).has_value());
}

TEST(HistoryChecks, ASpecThatCannotRunOnTheWindowIsRefused) {
    // A reference of 1.5 s is no multiple of a 1 s step.
    auto plan = grouped_plan({history_check("v", "count()", "change vs 1500ms < 5")});
    EXPECT_THROW(node_engine e(plan), std::invalid_argument);
}

}  // namespace
}  // namespace weir::test
