// Checks against history: the grammar's history forms, the model's limits, the store's
// judgement (change, rolling and seasonal z-scores, warm-up, min_change, held-out anomalies),
// its operator commands, pruning, checkpoints, and a seeded synthetic series with seasonality,
// level shifts and spikes.
#include "core/check/history.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <new>
#include <random>

#include "core/check/assessment.h"

// Counts allocations while a test asks (judge() must not allocate for an existing series).
namespace {
std::atomic<bool> g_count_allocations{false};
std::atomic<std::size_t> g_allocations{0};
}  // namespace

// Every non-aligned form is replaced, so that none is paired with another allocator's.
namespace {
void* counted_alloc(std::size_t n) noexcept {
    if (g_count_allocations.load(std::memory_order_relaxed)) ++g_allocations;
    return std::malloc(n == 0 ? 1 : n);
}
void* counted_alloc_or_throw(std::size_t n) {
    if (void* p = counted_alloc(n)) return p;
    throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) {
    return counted_alloc_or_throw(n);
}
void* operator new[](std::size_t n) {
    return counted_alloc_or_throw(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    return counted_alloc(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
    return counted_alloc(n);
}
void operator delete(void* p) noexcept {
    std::free(p);
}
void operator delete[](void* p) noexcept {
    std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
    std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
    std::free(p);
}

namespace weir::check {
namespace {

constexpr time::timestamp_ns k_minute = 60 * time::ns_per_s;
constexpr time::timestamp_ns k_hour = 60 * k_minute;
constexpr time::timestamp_ns k_day = 24 * k_hour;
constexpr time::timestamp_ns k_week = 7 * k_day;
// 2024-01-01T00:00:00Z, a Monday.
constexpr time::timestamp_ns k_monday = 1'704'067'200 * time::ns_per_s;

assessment parse_ok(std::string_view text) {
    auto r = parse_assessment(text);
    EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message) << " at "
                        << (r.ok() ? 0 : r.error().offset);
    return r.ok() ? *r : assessment{};
}

// A store with its assessment, which the model points to.
struct fixture {
    std::unique_ptr<assessment> test;
    std::unique_ptr<history_store> store;

    fixture(std::string_view text, time::timestamp_ns step, std::size_t max_series = 1000)
        : test(std::make_unique<assessment>(parse_ok(text))),
          store(std::make_unique<history_store>(history_model(*test, step), max_series)) {}

    // Judges, then learns with the judgement as the anomaly flag.
    history_judgement step(time::timestamp_ns start, double v, std::string_view key = "",
                           bool learn_anomalies = false) {
        auto j = store->judge(key, start, v);
        const bool anomalous = j.st == history_judgement::state::judged && !j.holds;
        store->learn(key, start, v, anomalous, learn_anomalies);
        return j;
    }
};

bool judged(const history_judgement& j) {
    return j.st == history_judgement::state::judged;
}

// ---------------------------------------------------------------------------------------------
// Grammar

TEST(history_grammar, every_form_parses_to_its_canonical_spelling_and_back) {
    const std::pair<const char*, const char*> cases[] = {
        {"change < 10", "change < 10"},
        {"change vs previous in [-5, 5]", "change in [-5, 5]"},
        {"change vs 1w in [-30%, +30%]", "relative change vs 1w in [-0.3, 0.3]"},
        {"change vs 7d in [-30%, 30%]", "relative change vs 1w in [-0.3, 0.3]"},
        {"change vs 24h > -20%", "relative change vs 1d > -0.2"},
        {"relative change vs 1w in [-0.3, 0.3] min_change 10",
         "relative change vs 1w in [-0.3, 0.3] min_change 10"},
        {"relative change < 50%", "relative change < 0.5"},
        {"change vs 90m [-1, 1]", "change vs 90m in [-1, 1]"},
        {"change vs 1.5h (-1, 1)", "change vs 90m in (-1, 1)"},
        {"change vs 250ms <= 5s", "change vs 250ms <= 5"},
        {"zscore(last 24) < 3", "zscore(last 24) < 3"},
        {"zscore( last 24 , both ) < 3", "zscore(last 24) < 3"},
        {"zscore(last 24 by hour_of_day, robust, drop) < 3",
         "zscore(last 24 by hour_of_day, robust, drop) < 3"},
        {"zscore(last 4 by hour_of_week,spike,min 2)<3",
         "zscore(last 4 by hour_of_week, spike, min 2) < 3"},
        {"zscore(last 8 by day_of_week) in [-3, 3]", "zscore(last 8 by day_of_week) in [-3, 3]"},
        {"zscore(last 3 by day_of_month, robust) <= 4 min_change 0.5",
         "zscore(last 3 by day_of_month, robust) <= 4 min_change 0.5"},
        {"zscore(last 10, robust) < 3.5", "zscore(last 10, robust) < 3.5"},
        {"change == 0", "change == 0"},
    };
    for (const auto& [in, out] : cases) {
        const auto a = parse_ok(in);
        ASSERT_NE(a.history(), nullptr) << in;
        EXPECT_EQ(a.to_string(), out) << in;
        const auto back = parse_ok(a.to_string());
        ASSERT_NE(back.history(), nullptr) << in;
        EXPECT_EQ(*back.history(), *a.history()) << in;
        EXPECT_EQ(back.to_string(), out) << in;
        EXPECT_EQ(back.kind(), a.kind()) << in;
        EXPECT_EQ(back.low(), a.low()) << in;
        EXPECT_EQ(back.high(), a.high()) << in;
        EXPECT_EQ(back.operand().number, a.operand().number) << in;
        EXPECT_TRUE(a.accepts(measure_kind::number)) << in;
        EXPECT_FALSE(a.accepts(measure_kind::string)) << in;
        EXPECT_FALSE(a.accepts(measure_kind::boolean)) << in;
    }
}

TEST(history_grammar, the_spec_holds_what_was_written) {
    const auto a = parse_ok("change vs 1w in [-30%, 30%] min_change 5");
    EXPECT_EQ(a.history()->subject, history_subject::relative_change);
    EXPECT_EQ(a.history()->versus, k_week);
    EXPECT_EQ(a.history()->min_change, 5);
    EXPECT_EQ(a.kind(), assessment::form::range);
    EXPECT_DOUBLE_EQ(a.low(), -0.3);
    EXPECT_EQ(a.unit(), value_unit::percent);
    const auto z = parse_ok("zscore(last 24 by hour_of_week, robust, drop, min 5) < 3");
    EXPECT_EQ(z.history()->subject, history_subject::zscore);
    EXPECT_EQ(z.history()->last, 24u);
    EXPECT_EQ(z.history()->season, seasonality::hour_of_week);
    EXPECT_TRUE(z.history()->robust);
    EXPECT_EQ(z.history()->direction, history_direction::drop);
    EXPECT_EQ(z.history()->min_history, 5u);
    EXPECT_EQ(z.kind(), assessment::form::less);
    EXPECT_EQ(z.operand().number, 3);
    const auto c = parse_ok("change < 5m");
    EXPECT_EQ(c.history()->subject, history_subject::change);
    EXPECT_EQ(c.operand().number, 300);
    EXPECT_EQ(parse_ok("> 5").history(), nullptr);
}

struct malformed {
    const char* text;
    std::size_t offset;
    const char* message;  // a substring of the expected message
};

TEST(history_grammar, malformed_forms_are_rejected_at_the_offending_character) {
    const malformed cases[] = {
        {"zscore(last 0) < 3", 12, "N must be at least"},
        {"zscore(last 1) < 3", 12, "N must be at least 2"},
        {"zscore(last 0 by hour_of_day) < 3", 12, "N must be at least 1"},
        {"zscore(last 24 by hour_of_year) < 3", 18,
         "unknown season \"hour_of_year\"; expected hour_of_day, day_of_week, hour_of_week or "
         "day_of_month"},
        {"zscore(last 24, fast) < 3", 16,
         "unknown option \"fast\"; expected robust, spike, drop, both or min N"},
        {"zscore(last 24, spike, drop) < 3", 23, "direction is given twice"},
        {"zscore(last 24, robust, robust) < 3", 24, "\"robust\" is given twice"},
        {"zscore(last 24, min 30) < 3", 20, "min must be between 2 and N (24)"},
        {"zscore(last 24, min 1) < 3", 20, "min must be between"},
        {"zscore(last x) < 3", 12, "expected the number of values"},
        {"zscore(last 2.5) < 3", 12, "a whole number"},
        {"zscore(last 99999999) < 3", 12, "at most 65536"},
        {"zscore(24) < 3", 7, "expected \"last\""},
        {"zscore last 24 < 3", 7, "expected \"(\" after \"zscore\""},
        {"zscore(last 24 < 3", 15, "expected \",\" and an option or \")\""},
        {"zscore(last 24) < 3%", 16, "plain number of deviations"},
        {"zscore(last 24) < 3s", 16, "plain number of deviations"},
        {"zscore(last 24)", 15, "expected a test"},
        {"zscore(last 24) in {1, 2}", 19, "expected a range after \"in\""},
        {"zscore(last 24) == \"a\"", 16, "compares numbers"},
        {"change vs", 9, "expected \"previous\" or a duration"},
        {"change vs < 3", 10, "expected \"previous\" or a duration"},
        {"change vs yesterday < 3", 10, "unknown reference \"yesterday\""},
        {"change vs 1 < 3", 11, "needs a unit: ms, s, m, h, d or w"},
        {"change vs 1y < 3", 11, "unknown unit \"y\"; expected ms, s, m, h, d or w"},
        {"change vs 0d < 3", 10, "between 1ms and 3650d"},
        {"change vs 0.5ms < 3", 10, "whole number of milliseconds"},
        {"change", 6, "expected a test"},
        {"change foo < 3", 7, "expected a test, got \"foo\""},
        {"change in [-30%, 5]", 17, "mixes numbers with and without %"},
        {"change in [-5, 30%]", 11, "mixes numbers with and without %"},
        {"change vs in [-30%, 30%]", 10, "expected \"previous\" or a duration"},
        {"change < 5 min_change -1", 22, "min_change must be a finite number >= 0"},
        {"change < 5 min_change", 21, "expected a number after \"min_change\""},
        {"change < 5 max_change 3", 11, "only \"min_change\" may follow"},
        {"relative < 3", 9, "expected \"change\" after \"relative\""},
        {"change < 5 min_change 1 x", 24, "unexpected \"x\""},
        {"chnage < 5", 0, "zscore(last 24) < 3"},
    };
    for (const auto& c : cases) {
        const auto r = parse_assessment(c.text);
        ASSERT_FALSE(r.ok()) << c.text;
        EXPECT_EQ(r.error().offset, c.offset) << c.text << ": " << r.error().message;
        EXPECT_NE(r.error().message.find(c.message), std::string::npos)
            << c.text << ": " << r.error().message;
    }
}

TEST(history_grammar, percent_bounds_with_infinity_are_one_relative_change) {
    const auto a = parse_ok("change (-inf, 30%]");
    EXPECT_EQ(a.history()->subject, history_subject::relative_change);
    EXPECT_EQ(a.to_string(), "relative change in (-inf, 0.3]");
}

// ---------------------------------------------------------------------------------------------
// The model

TEST(history_model, refuses_specs_the_window_cannot_carry) {
    const auto spec = [](std::string_view text) { return *parse_ok(text).history(); };
    EXPECT_FALSE(history_model::refuse(spec("change vs 1w < 3"), k_hour));
    EXPECT_FALSE(history_model::refuse(spec("change < 3"), 0));
    EXPECT_FALSE(history_model::refuse(spec("zscore(last 24) < 3"), 0));
    EXPECT_FALSE(history_model::refuse(spec("zscore(last 4 by hour_of_week) < 3"), k_hour));
    EXPECT_FALSE(history_model::refuse(spec("zscore(last 4 by hour_of_week) < 3"), 10 * k_minute));
    const auto why_not = [&](std::string_view text, time::timestamp_ns step) {
        const auto why = history_model::refuse(spec(text), step);
        EXPECT_TRUE(why) << text;
        return why.value_or("");
    };
    EXPECT_NE(why_not("change vs 1d < 3", 7 * k_minute)
                  .find("not a whole number of the "
                        "window's step (7m)"),
              std::string::npos);
    EXPECT_NE(why_not("change vs 1d < 3", 0).find("session windows"), std::string::npos);
    EXPECT_NE(why_not("zscore(last 4 by hour_of_day) < 3", 0).find("session windows"),
              std::string::npos);
    EXPECT_NE(why_not("zscore(last 4 by hour_of_day) < 3", 2 * k_hour).find("shorter than"),
              std::string::npos);
    EXPECT_NE(why_not("zscore(last 100 by hour_of_week) < 3", k_minute).find("more than 65536"),
              std::string::npos);
    EXPECT_NE(why_not("change vs 1w < 3", time::ns_per_s).find("coarser window"),
              std::string::npos);
    const auto a = parse_ok("change vs 1d < 3");
    EXPECT_THROW(history_model(a, 7 * k_minute), std::invalid_argument);
}

TEST(history_model, capacity_and_identity) {
    const auto a = parse_ok("change vs 1w < 3");
    EXPECT_EQ(history_model(a, k_hour).capacity(), 168u);
    const auto p = parse_ok("change < 3");
    EXPECT_EQ(history_model(p, k_hour).capacity(), 1u);
    const auto z = parse_ok("zscore(last 24) < 3");
    EXPECT_EQ(history_model(z, k_hour).capacity(), 24u);
    const auto s = parse_ok("zscore(last 4 by hour_of_week) < 3");
    EXPECT_EQ(history_model(s, k_hour).capacity(), 672u);
    EXPECT_EQ(history_model(s, 10 * k_minute).capacity(), 4032u);
    // N, the test and the options may change without losing history; the reference and step
    // may not.
    const auto z2 = parse_ok("zscore(last 48, robust) < 4");
    EXPECT_EQ(history_model(z, k_hour).identity(), history_model(z2, k_hour).identity());
    EXPECT_NE(history_model(z, k_hour).identity(), history_model(z, k_minute).identity());
    EXPECT_NE(history_model(z, k_hour).identity(), history_model(s, k_hour).identity());
    const auto r = parse_ok("relative change vs 1w < 50%");
    EXPECT_EQ(history_model(a, k_hour).identity(), history_model(r, k_hour).identity());
    EXPECT_NE(history_model(a, k_hour).identity(), history_model(p, k_hour).identity());
}

// ---------------------------------------------------------------------------------------------
// change

TEST(history_store, change_vs_previous) {
    fixture f("change in [-5, 5]", k_hour);
    auto j = f.step(k_monday, 100);
    EXPECT_FALSE(judged(j));
    EXPECT_STREQ(j.evidence.state, "warming_up");
    EXPECT_EQ(j.evidence.reason, "no previous value");
    EXPECT_EQ(j.evidence.needed, 1u);
    j = f.step(k_monday + k_hour, 104);
    ASSERT_TRUE(judged(j));
    EXPECT_TRUE(j.holds);
    EXPECT_EQ(j.evidence.value, 100);
    EXPECT_EQ(j.evidence.low, 95);
    EXPECT_EQ(j.evidence.high, 105);
    EXPECT_STREQ(j.evidence.tested, "change");
    EXPECT_EQ(j.evidence.tested_value, 4);
    j = f.step(k_monday + 2 * k_hour, 110);
    EXPECT_FALSE(j.holds);
    EXPECT_EQ(j.evidence.tested_value, 6);
    // The anomaly was held out: the next value is compared with 104 still.
    j = f.step(k_monday + 3 * k_hour, 106);
    EXPECT_TRUE(j.holds);
    EXPECT_EQ(j.evidence.value, 104);
}

TEST(history_store, relative_change_vs_a_day_with_a_missing_reference_window) {
    fixture f("change vs 1d in [-30%, 30%]", k_hour);
    for (int h = 0; h < 24; ++h) {
        if (h == 5) continue;  // no value at 05:00 on the first day
        const auto j = f.step(k_monday + h * k_hour, 100 + h);
        EXPECT_FALSE(judged(j));
        EXPECT_EQ(j.evidence.reason, "no value 1d before");
        EXPECT_EQ(j.evidence.reference, k_monday + h * k_hour - k_day);
    }
    const time::timestamp_ns tue = k_monday + k_day;
    auto j = f.step(tue + 3 * k_hour, 103 * 1.2);
    ASSERT_TRUE(judged(j));
    EXPECT_TRUE(j.holds);
    EXPECT_STREQ(j.evidence.tested, "relative_change");
    EXPECT_NEAR(j.evidence.tested_value, 0.2, 1e-12);
    EXPECT_EQ(j.evidence.reference, k_monday + 3 * k_hour);
    EXPECT_EQ(j.evidence.value, 103);
    EXPECT_NEAR(j.evidence.low, 103 * 0.7, 1e-9);
    EXPECT_NEAR(j.evidence.high, 103 * 1.3, 1e-9);
    j = f.step(tue + 4 * k_hour, 104 * 0.6);
    ASSERT_TRUE(judged(j));
    EXPECT_FALSE(j.holds);
    j = f.step(tue + 5 * k_hour, 50);
    EXPECT_FALSE(judged(j));
    EXPECT_EQ(j.evidence.reason, "no value 1d before");
    EXPECT_EQ(j.evidence.needed, 1u);
    // Two days on, Monday's values were overwritten by Tuesday's: 2 days back is not 1 day.
    j = f.step(tue + k_day + 6 * k_hour, 106);
    EXPECT_FALSE(judged(j));
}

TEST(history_store, min_change_passes_small_absolute_changes) {
    fixture f("relative change in [-10%, 10%] min_change 5", k_hour);
    f.step(k_monday, 10);
    auto j = f.step(k_monday + k_hour, 14);  // +40 %, but only 4 more
    ASSERT_TRUE(judged(j));
    EXPECT_TRUE(j.holds);
    EXPECT_EQ(j.evidence.low, 5);
    EXPECT_EQ(j.evidence.high, 15);
    j = f.step(k_monday + 2 * k_hour, 20);  // +6 over 14 (the last learned)
    EXPECT_FALSE(j.holds);
    fixture g("zscore(last 5) < 3 min_change 2", k_hour);
    for (int i = 0; i < 5; ++i) g.step(k_monday + i * k_hour, 10);
    j = g.step(k_monday + 5 * k_hour, 11.5);  // z is infinite (no deviation) yet within 2
    ASSERT_TRUE(judged(j));
    EXPECT_TRUE(j.holds);
    EXPECT_TRUE(std::isinf(j.evidence.tested_value));
    EXPECT_EQ(j.evidence.low, 8);
    EXPECT_EQ(j.evidence.high, 12);
    j = g.step(k_monday + 6 * k_hour, 12.5);
    EXPECT_FALSE(j.holds);
}

// ---------------------------------------------------------------------------------------------
// z-scores

TEST(history_store, rolling_zscore_matches_a_hand_computed_reference) {
    fixture f("zscore(last 5) < 2", k_minute);
    const double values[] = {10, 12, 11, 13, 9, 14, 10};
    for (int i = 0; i < 7; ++i) f.step(i * k_minute, values[i], "", true);
    // The last 5: 11, 13, 9, 14, 10 — mean 11.4, sample variance 4.3.
    const auto j = f.store->judge("", 7 * k_minute, 16);
    ASSERT_TRUE(judged(j));
    const double sd = std::sqrt(4.3);
    EXPECT_NEAR(j.evidence.value, 11.4, 1e-12);
    EXPECT_NEAR(j.evidence.tested_value, (16 - 11.4) / sd, 1e-12);
    EXPECT_FALSE(j.holds);  // z = 2.22
    EXPECT_NEAR(j.evidence.low, 11.4 - 2 * sd, 1e-12);
    EXPECT_NEAR(j.evidence.high, 11.4 + 2 * sd, 1e-12);
    EXPECT_EQ(j.evidence.history, 5u);
    EXPECT_STREQ(j.evidence.tested, "z");
    EXPECT_TRUE(f.store->judge("", 7 * k_minute, 8).holds);  // z = -1.64
}

TEST(history_store, rolling_sums_stay_exact_over_many_values) {
    fixture f("zscore(last 24) < 3", k_minute);
    std::mt19937_64 rng(7);
    std::normal_distribution<double> noise(1e9, 3);
    std::vector<double> all;
    for (int i = 0; i < 5000; ++i) {
        all.push_back(noise(rng));
        f.store->learn("", i * k_minute, all.back(), false, false);
    }
    double mean = 0;
    for (int i = 5000 - 24; i < 5000; ++i) mean += all[i];
    mean /= 24;
    double var = 0;
    for (int i = 5000 - 24; i < 5000; ++i) var += (all[i] - mean) * (all[i] - mean);
    var /= 23;
    const auto j = f.store->judge("", 5000 * k_minute, mean + 3.5 * std::sqrt(var));
    EXPECT_NEAR(j.evidence.value, mean, 1e-6);
    EXPECT_NEAR(j.evidence.tested_value, 3.5, 1e-6);
}

TEST(history_store, robust_zscore_uses_median_and_mad) {
    fixture f("zscore(last 5, robust) < 3", k_minute);
    const double values[] = {10, 12, 11, 1000, 9};  // one outlier does not move the basis
    for (int i = 0; i < 5; ++i) f.store->learn("", i * k_minute, values[i], false, false);
    const auto j = f.store->judge("", 5 * k_minute, 14);
    ASSERT_TRUE(judged(j));
    // median 11; absolute deviations 1, 1, 0, 989, 2: MAD 1.
    EXPECT_EQ(j.evidence.value, 11);
    EXPECT_NEAR(j.evidence.tested_value, 3 / 1.4826, 1e-12);
    EXPECT_TRUE(j.holds);
    EXPECT_FALSE(f.store->judge("", 5 * k_minute, 16).holds);
}

TEST(history_store, directions_test_one_side) {
    fixture drop("zscore(last 4, drop) < 3", k_minute);
    fixture spike("zscore(last 4, spike) < 3", k_minute);
    const double values[] = {10, 11, 9, 10};
    for (int i = 0; i < 4; ++i) {
        drop.store->learn("", i * k_minute, values[i], false, false);
        spike.store->learn("", i * k_minute, values[i], false, false);
    }
    EXPECT_TRUE(drop.store->judge("", 4 * k_minute, 100).holds);
    EXPECT_FALSE(drop.store->judge("", 4 * k_minute, -100).holds);
    EXPECT_FALSE(spike.store->judge("", 4 * k_minute, 100).holds);
    EXPECT_TRUE(spike.store->judge("", 4 * k_minute, -100).holds);
    const auto j = drop.store->judge("", 4 * k_minute, 10);
    EXPECT_TRUE(std::isinf(j.evidence.high));  // any value above passes
    EXPECT_LT(j.evidence.low, 10);
}

TEST(history_store, zscore_warm_up_counts) {
    fixture f("zscore(last 10) < 3", k_minute);  // needs 5
    for (int i = 0; i < 5; ++i) {
        const auto j = f.step(i * k_minute, 10 + i % 2);
        EXPECT_FALSE(judged(j)) << i;
        EXPECT_EQ(j.evidence.history, static_cast<std::uint32_t>(i));
        EXPECT_EQ(j.evidence.needed, 5u);
        EXPECT_EQ(j.evidence.reason, std::to_string(i) + " of 5 values");
    }
    EXPECT_TRUE(judged(f.step(5 * k_minute, 10)));
    fixture g("zscore(last 10, min 8) < 3", k_minute);
    for (int i = 0; i < 8; ++i) EXPECT_FALSE(judged(g.step(i * k_minute, 10 + i % 2)));
    EXPECT_TRUE(judged(g.step(8 * k_minute, 10)));
    fixture h("zscore(last 2) < 3", k_minute);  // min(N, 3)
    EXPECT_FALSE(judged(h.step(0, 1)));
    EXPECT_FALSE(judged(h.step(k_minute, 2)));
    EXPECT_TRUE(judged(h.step(2 * k_minute, 1.5)));
}

TEST(history_store, seasonal_buckets_for_every_season) {
    struct season_case {
        const char* test;
        time::timestamp_ns step;
        time::timestamp_ns at;
        const char* bucket;
    };
    const season_case cases[] = {
        {"zscore(last 2 by hour_of_day) < 3", k_hour, k_monday + 10 * k_hour, "hour_of_day=10"},
        {"zscore(last 2 by day_of_week) < 3", k_day, k_monday + 2 * k_day, "day_of_week=wed"},
        {"zscore(last 2 by day_of_week) < 3", k_day, k_monday + 6 * k_day, "day_of_week=sun"},
        {"zscore(last 2 by hour_of_week) < 3", k_hour, k_monday + k_day + 3 * k_hour,
         "hour_of_week=27"},
        // 2024-02-29 (a leap day): k_monday + 59 days.
        {"zscore(last 2 by day_of_month) < 3", k_day, k_monday + 59 * k_day, "day_of_month=29"},
        {"zscore(last 2 by day_of_month) < 3", k_day, k_monday + 60 * k_day, "day_of_month=1"},
        // Before 1970 too.
        {"zscore(last 2 by hour_of_day) < 3", k_hour, -k_hour, "hour_of_day=23"},
        {"zscore(last 2 by day_of_week) < 3", k_day, -k_day, "day_of_week=wed"},
    };
    for (const auto& c : cases) {
        fixture f(c.test, c.step);
        const auto j = f.store->judge("", c.at, 1);
        EXPECT_EQ(j.evidence.bucket, c.bucket) << c.test << " " << c.at;
    }
}

TEST(history_store, seasonal_expectation_is_the_same_buckets_mean) {
    fixture f("zscore(last 3 by hour_of_day) < 3", k_hour);
    // Hour h of day d: 100 h + d (a daily shape), with small noise-free changes.
    for (int d = 0; d < 5; ++d) {
        for (int h = 0; h < 24; ++h) {
            const double v = 100.0 * (h + 1) + (d % 2 == 0 ? 1 : -1) * (h + 1);
            f.store->learn("", k_monday + d * k_day + h * k_hour, v, false, false);
        }
    }
    const auto j = f.store->judge("", k_monday + 5 * k_day + 7 * k_hour, 800);
    ASSERT_TRUE(judged(j));
    EXPECT_EQ(j.evidence.bucket, "hour_of_day=7");
    // days 2, 3, 4: 808, 792, 808.
    EXPECT_NEAR(j.evidence.value, (808.0 + 792 + 808) / 3, 1e-9);
    EXPECT_EQ(j.evidence.history, 3u);
    EXPECT_TRUE(j.holds);
    EXPECT_FALSE(f.store->judge("", k_monday + 5 * k_day + 7 * k_hour, 1000).holds);
}

TEST(history_store, seasonal_warm_up_needs_occurrences_and_errors) {
    fixture f("zscore(last 4 by hour_of_day) < 3", k_hour);  // 3 occurrences of the bucket
    history_judgement j;
    for (int d = 0; d < 3; ++d) {
        j = f.step(k_monday + d * k_day + 10 * k_hour, 100 + d);
        EXPECT_FALSE(judged(j));
        EXPECT_EQ(j.evidence.reason, std::to_string(d) + " of 3 values in hour_of_day=10");
    }
    // Three occurrences, but no prediction errors yet (a bucket predicts only once warm).
    j = f.step(k_monday + 3 * k_day + 10 * k_hour, 101);
    EXPECT_FALSE(judged(j));
    EXPECT_EQ(j.evidence.reason, "0 of 10 prediction errors");
    EXPECT_EQ(j.evidence.needed, k_min_seasonal_errors);
    for (int d = 4; d < 14; ++d) f.step(k_monday + d * k_day + 10 * k_hour, 100 + d % 3);
    EXPECT_TRUE(judged(f.step(k_monday + 14 * k_day + 10 * k_hour, 101)));
    // 10-minute windows by hour of day: 6 values make one occurrence.
    fixture g("zscore(last 4 by hour_of_day) < 3", 10 * k_minute);
    j = g.store->judge("", k_monday, 1);
    EXPECT_EQ(j.evidence.needed, 18u);
}

TEST(history_store, anomalies_are_held_out_unless_learned_and_acknowledge_learns_them) {
    fixture f("zscore(last 5) < 3", k_minute);
    const double base[] = {10, 11, 9, 10, 11};
    for (int i = 0; i < 5; ++i) f.step(i * k_minute, base[i]);
    // A new level: every value fails and none is learned.
    for (int i = 5; i < 10; ++i) EXPECT_FALSE(f.step(i * k_minute, 50).holds) << i;
    EXPECT_NEAR(f.store->judge("", 10 * k_minute, 10).evidence.value, 10.2, 1e-12);
    // acknowledge: the held values become the baseline.
    EXPECT_EQ(f.store->acknowledge(nullptr), 1u);
    const auto j = f.step(10 * k_minute, 50);
    ASSERT_TRUE(judged(j));
    EXPECT_NEAR(j.evidence.value, 50, 1e-12);
    EXPECT_TRUE(j.holds);
    // With learn_anomalies, failing values are learned at once.
    fixture g("zscore(last 5) < 3", k_minute);
    for (int i = 0; i < 5; ++i) g.step(i * k_minute, base[i], "", true);
    EXPECT_FALSE(g.step(5 * k_minute, 50, "", true).holds);
    EXPECT_GT(g.store->judge("", 6 * k_minute, 10).evidence.value, 10.2);
}

TEST(history_store, acknowledge_and_reset_by_group) {
    fixture f("change in [-1, 1]", k_minute);
    for (const char* key : {"a", "b"}) {
        f.step(0, 10, key);
        EXPECT_FALSE(f.step(k_minute, 20, key).holds);
    }
    const std::string a = "a";
    EXPECT_EQ(f.store->acknowledge(&a), 1u);
    EXPECT_TRUE(f.step(2 * k_minute, 20, "a").holds);
    EXPECT_FALSE(f.step(2 * k_minute, 20, "b").holds);
    EXPECT_EQ(f.store->reset(&a), 1u);
    EXPECT_EQ(f.store->series(), 1u);
    EXPECT_FALSE(judged(f.store->judge("a", 3 * k_minute, 20)));
    EXPECT_EQ(f.store->reset(nullptr), 1u);
    EXPECT_EQ(f.store->series(), 0u);
    const std::string missing = "zzz";
    EXPECT_EQ(f.store->reset(&missing), 0u);
    EXPECT_EQ(f.store->acknowledge(&missing), 0u);
}

TEST(history_store, a_window_is_learned_once) {
    fixture f("zscore(last 10) < 3", k_minute);
    for (int i = 0; i < 6; ++i) f.store->learn("", i * k_minute, 10 + i, false, false);
    const auto before = f.store->judge("", 6 * k_minute, 12).evidence;
    // Emitted again after a restore, or an older window: ignored.
    f.store->learn("", 5 * k_minute, 1000, false, false);
    f.store->learn("", 2 * k_minute, 1000, false, false);
    EXPECT_EQ(f.store->judge("", 6 * k_minute, 12).evidence, before);
}

TEST(history_store, prune_forgets_departed_groups) {
    fixture f("zscore(last 24) < 3", k_hour);
    f.store->learn("old", 0, 1, false, false);
    f.store->learn("new", 30 * k_hour, 1, false, false);
    f.store->prune(30 * k_hour);
    EXPECT_EQ(f.store->series(), 1u);
    EXPECT_FALSE(judged(f.store->judge("old", 31 * k_hour, 1)));
    EXPECT_EQ(f.store->judge("old", 31 * k_hour, 1).evidence.history, 0u);
    f.store->prune(50 * k_hour);
    EXPECT_EQ(f.store->series(), 1u);
    f.store->prune(55 * k_hour);
    EXPECT_EQ(f.store->series(), 0u);
}

TEST(history_store, max_series_bounds_the_groups) {
    fixture f("change < 5", k_minute, 2);
    f.step(0, 1, "a");
    f.step(0, 1, "b");
    const auto j = f.step(0, 1, "c");
    EXPECT_FALSE(judged(j));
    EXPECT_EQ(j.evidence.reason, "history full");
    EXPECT_EQ(f.store->series(), 2u);
    EXPECT_TRUE(judged(f.step(k_minute, 2, "a")));
}

TEST(history_store, memory_grows_with_series_and_capacity) {
    fixture f("zscore(last 24) < 3", k_hour);
    const std::size_t empty = f.store->memory_bytes();
    f.store->learn("a", 0, 1, false, false);
    const std::size_t one = f.store->memory_bytes();
    EXPECT_GT(one, empty + 24 * sizeof(double));
    fixture s("zscore(last 4 by hour_of_week) < 3", k_hour);
    s.store->learn("a", 0, 1, false, false);
    EXPECT_GT(s.store->memory_bytes(), 672 * sizeof(double));
    std::printf("memory per series: zscore(last 24) %zu bytes, hour_of_week last 4 %zu bytes\n",
                one - empty, s.store->memory_bytes() - empty);
}

TEST(history_store, judge_and_learn_do_not_allocate_for_an_existing_series) {
    const char* tests[] = {"zscore(last 24) < 3", "zscore(last 24, robust) < 3",
                           "zscore(last 4 by hour_of_day) < 3", "change vs 1w in [-30%, 30%]",
                           "change in [-5, 5]"};
    for (const char* t : tests) {
        fixture f(t, k_hour);
        std::mt19937_64 rng(5);
        std::normal_distribution<double> noise(100, 5);
        for (int i = 0; i < 400; ++i) f.step(k_monday + i * k_hour, noise(rng), "group", true);
        g_allocations = 0;
        g_count_allocations = true;
        for (int i = 400; i < 1400; ++i) {
            const double v = noise(rng);
            const auto j = f.store->judge("group", k_monday + i * k_hour, v);
            f.store->learn("group", k_monday + i * k_hour, v, !j.holds, true);
        }
        g_count_allocations = false;
        EXPECT_EQ(g_allocations.load(), 0u) << t;
    }
}

// ---------------------------------------------------------------------------------------------
// Checkpoints

// Feeds a few groups of a noisy seasonal series, with anomalies held out.
void feed(fixture& f, int windows, std::uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0, 1);
    for (int i = 0; i < windows; ++i) {
        for (const char* key : {"", "a", "bb"}) {
            double v = 100 + 20 * std::sin(i * 0.26) + 3 * noise(rng);
            if (i % 97 == 50) v *= 3;  // anomalies, some held out
            f.step(k_monday + i * k_hour, v, key);
        }
    }
}

TEST(history_store, serialize_then_deserialize_judges_the_same) {
    const char* tests[] = {
        "change < 5",
        "relative change vs 1d in [-20%, 20%]",
        "zscore(last 24) < 3",
        "zscore(last 24, robust) < 3",
        "zscore(last 2 by hour_of_week) < 3",
        "zscore(last 3 by hour_of_day, robust, drop) < 3",
    };
    for (const char* t : tests) {
        fixture f(t, k_hour);
        feed(f, 500, 3);
        byte_writer w;
        f.store->serialize(w);
        fixture g(t, k_hour);
        byte_reader r(w.data());
        ASSERT_TRUE(g.store->deserialize(r)) << t;
        EXPECT_TRUE(r.at_end()) << t;
        EXPECT_EQ(g.store->series(), 3u) << t;
        byte_writer again;
        g.store->serialize(again);
        // Series order in a hash map may differ: compare judgements instead of bytes.
        EXPECT_EQ(again.size(), w.size()) << t;
        for (int i = 500; i < 560; ++i) {
            for (const char* key : {"", "a", "bb"}) {
                const double v = 100 + 20 * std::sin(i * 0.26) + (i % 7);
                const auto a = f.step(k_monday + i * k_hour, v, key);
                const auto b = g.step(k_monday + i * k_hour, v, key);
                ASSERT_EQ(a.st, b.st) << t << " " << i;
                ASSERT_EQ(a.holds, b.holds) << t << " " << i;
                ASSERT_EQ(a.evidence.reason, b.evidence.reason) << t;
                if (judged(a)) {
                    ASSERT_NEAR(a.evidence.value, b.evidence.value, 1e-9) << t << " " << i;
                    ASSERT_NEAR(a.evidence.tested_value, b.evidence.tested_value, 1e-6)
                        << t << " " << i;
                }
            }
        }
        EXPECT_EQ(f.store->acknowledge(nullptr), g.store->acknowledge(nullptr)) << t;
    }
}

TEST(history_store, a_capacity_change_keeps_the_newest_values) {
    fixture f("zscore(last 10) < 3", k_minute);
    for (int i = 0; i < 10; ++i) f.store->learn("", i * k_minute, i, false, false);
    byte_writer w;
    f.store->serialize(w);
    fixture g("zscore(last 4) < 3", k_minute);
    byte_reader r(w.data());
    ASSERT_TRUE(g.store->deserialize(r));
    const auto j = g.store->judge("", 10 * k_minute, 0);
    EXPECT_EQ(j.evidence.value, 7.5);  // 6, 7, 8, 9
    EXPECT_EQ(j.evidence.history, 4u);
    fixture h("zscore(last 20) < 3", k_minute);
    byte_reader r2(w.data());
    ASSERT_TRUE(h.store->deserialize(r2));
    EXPECT_EQ(h.store->judge("", 10 * k_minute, 0).evidence.history, 10u);
    // Another identity is refused.
    fixture other("zscore(last 10 by hour_of_day) < 3", k_minute);
    byte_reader r3(w.data());
    EXPECT_FALSE(other.store->deserialize(r3));
}

TEST(history_store, truncated_or_corrupt_bytes_are_rejected_without_harm) {
    const char* tests[] = {"change vs 1d < 5", "zscore(last 24) < 3",
                           "zscore(last 2 by hour_of_week, robust) < 3", "change < 1"};
    for (const char* t : tests) {
        fixture f(t, k_hour);
        feed(f, 400, 5);
        byte_writer w;
        f.store->serialize(w);
        const std::string bytes = w.data();
        for (std::size_t n = 0; n < bytes.size(); ++n) {
            fixture g(t, k_hour);
            byte_reader r(std::string_view(bytes).substr(0, n));
            EXPECT_FALSE(g.store->deserialize(r)) << t << " " << n;
            EXPECT_EQ(g.store->series(), 0u);
        }
        std::mt19937_64 rng(11);
        for (int k = 0; k < 2000; ++k) {
            std::string copy = bytes;
            const std::size_t at = rng() % copy.size();
            copy[at] = static_cast<char>(copy[at] ^ static_cast<char>(1 + rng() % 255));
            fixture g(t, k_hour);
            byte_reader r(copy);
            if (g.store->deserialize(r)) {
                // Accepted bytes still make a usable store.
                g.step(k_monday + 500 * k_hour, 100, "a");
            } else {
                EXPECT_EQ(g.store->series(), 0u);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A seeded synthetic series: daily and weekly seasonality, 5 % noise, level shifts and spikes.

double daily_profile(int hour) {
    // Quiet nights, a morning rise and an evening peak.
    static constexpr double p[24] = {0.35, 0.3,  0.28, 0.27, 0.3,  0.4, 0.6,  0.85,
                                     1.1,  1.25, 1.3,  1.3,  1.25, 1.2, 1.2,  1.25,
                                     1.35, 1.5,  1.6,  1.5,  1.25, 0.9, 0.65, 0.45};
    return p[hour];
}
double weekly_profile(int weekday) {
    static constexpr double p[7] = {1.05, 1.1, 1.1, 1.05, 1.0, 0.6, 0.5};
    return p[weekday];
}

struct synthetic_figures {
    std::size_t clean = 0, false_positives = 0;
    std::size_t shifts = 0, shifts_flagged = 0;
    std::size_t spikes = 0, spikes_flagged = 0;
};

// Hourly windows over `weeks` weeks judged by `test`; `weekly` adds the weekly profile. With
// `inject`, level shifts of ±25 % (3 windows) and spikes (×2 or ×0.3, one window) every 26-34
// windows after the first four weeks.
synthetic_figures run_synthetic(const char* test, int weeks, bool weekly, bool inject,
                                std::uint64_t seed) {
    fixture f(test, k_hour);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> noise(0, 0.05);
    std::uniform_int_distribution<int> gap(26, 34);
    synthetic_figures out;
    const int windows = weeks * 168;
    int next_event = 4 * 168 + gap(rng);
    int event_left = 0;
    int event_kind = 0;  // 0 shift up, 1 shift down, 2 spike up, 3 spike down
    bool event_flagged = false;
    int event_age = 0;
    for (int i = 0; i < windows; ++i) {
        const int hour = i % 24;
        const int weekday = (i / 24) % 7;
        double v = 1000 * daily_profile(hour) * (weekly ? weekly_profile(weekday) : 1.0) *
                   (1 + noise(rng));
        bool injected = false;
        if (inject && i == next_event) {
            event_kind = static_cast<int>(rng() % 4);
            event_left = event_kind < 2 ? 3 : 1;
            event_flagged = false;
            event_age = 0;
            if (event_kind < 2) {
                ++out.shifts;
            } else {
                ++out.spikes;
            }
        }
        if (event_left > 0) {
            injected = true;
            v *= event_kind == 0 ? 1.25 : event_kind == 1 ? 0.75 : event_kind == 2 ? 2.0 : 0.3;
        }
        const auto j = f.step(k_monday + i * k_hour, v);
        const bool flagged = judged(j) && !j.holds;
        if (injected) {
            // Shifts count when flagged within their first 2 windows.
            if (flagged && event_age < 2 && !event_flagged) {
                event_flagged = true;
                if (event_kind < 2) {
                    ++out.shifts_flagged;
                } else {
                    ++out.spikes_flagged;
                }
            }
            ++event_age;
            if (--event_left == 0) next_event = i + gap(rng);
        } else if (judged(j)) {
            ++out.clean;
            if (flagged) ++out.false_positives;
        }
    }
    return out;
}

void report(const char* name, const synthetic_figures& clean, const synthetic_figures& shifted) {
    const double fp = 100.0 * static_cast<double>(clean.false_positives) /
                      static_cast<double>(std::max<std::size_t>(clean.clean, 1));
    const double detected = 100.0 * static_cast<double>(shifted.shifts_flagged) /
                            static_cast<double>(std::max<std::size_t>(shifted.shifts, 1));
    const double spikes = 100.0 * static_cast<double>(shifted.spikes_flagged) /
                          static_cast<double>(std::max<std::size_t>(shifted.spikes, 1));
    std::printf(
        "%s: false positives %zu of %zu clean windows (%.2f %%); level shifts flagged "
        "within 2 windows %zu of %zu (%.1f %%); spikes flagged %zu of %zu (%.1f %%)\n",
        name, clean.false_positives, clean.clean, fp, shifted.shifts_flagged, shifted.shifts,
        detected, shifted.spikes_flagged, shifted.spikes, spikes);
    ::testing::Test::RecordProperty("false_positive_permille",
                                    static_cast<int>(std::lround(fp * 10)));
    ::testing::Test::RecordProperty("shift_detection_permille",
                                    static_cast<int>(std::lround(detected * 10)));
}

// The figures for one check over 26 weeks of hourly windows (`weekly`: a weekly profile
// on top of the daily one), clean and with injected shifts: at most 0.5 % false positives on
// clean windows, and at least 95 % of the level shifts flagged within 2 windows.
void expect_figures(const char* test, bool weekly, std::uint64_t clean_seed,
                    std::uint64_t shifted_seed) {
    const auto clean = run_synthetic(test, 26, weekly, false, clean_seed);
    const auto shifted = run_synthetic(test, 26, weekly, true, shifted_seed);
    report(test, clean, shifted);
    EXPECT_GT(clean.clean, 1000u);
    EXPECT_LE(static_cast<double>(clean.false_positives), 0.005 * static_cast<double>(clean.clean));
    EXPECT_GE(shifted.shifts, 40u);
    EXPECT_GE(static_cast<double>(shifted.shifts_flagged),
              0.95 * static_cast<double>(shifted.shifts));
}

TEST(history_synthetic, hour_of_week_seasonality_with_level_shifts_and_spikes) {
    expect_figures("zscore(last 4 by hour_of_week) < 3", true, 20261204, 4021);
}

TEST(history_synthetic, hour_of_day_seasonality_with_level_shifts_and_spikes) {
    expect_figures("zscore(last 7 by hour_of_day) < 3", false, 77, 78);
}

TEST(history_synthetic, robust_hour_of_week) {
    expect_figures("zscore(last 4 by hour_of_week, robust) < 3", true, 99, 100);
}

}  // namespace
}  // namespace weir::check
