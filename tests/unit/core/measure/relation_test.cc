// trend(x, t) and trend(x), the rank correlations and Cramér's V: hand-computed values,
// brute-force references, merges in random panes against one pass, checkpoint round trips.
#include "core/measure/relation.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/core/measure/random_values.h"

namespace weir::measure {
namespace {

field_value num(double d) {
    return field_value::make_number(d);
}

TEST(trend_acc, hand_computed_slopes) {
    trend_acc a;
    EXPECT_EQ(a.result(), std::nullopt);
    a.add(num(1), num(0));
    EXPECT_EQ(a.result(), std::nullopt);  // one pair
    a.add(num(3), num(1));
    a.add(num(5), num(2));
    EXPECT_DOUBLE_EQ(*a.result(), 2.0);  // x = 1 + 2 t
    // t = 0 1 2 3, x = 1 2 2 5: mean t 1.5, mean x 2.5;
    // sum (dt dx) = (-1.5)(-1.5) + (-0.5)(-0.5) + (0.5)(-0.5) + (1.5)(2.5) = 6,
    // sum dt^2 = 5: slope 1.2.
    trend_acc b;
    const double ts[] = {0, 1, 2, 3};
    const double xs[] = {1, 2, 2, 5};
    for (int i = 0; i < 4; ++i) b.add(num(xs[i]), num(ts[i]));
    EXPECT_DOUBLE_EQ(*b.result(), 1.2);
    // Records with a side that is not a finite number are skipped.
    b.add(num(100), field_value::make_null());
    b.add(field_value::make_string("7"), num(4));
    b.add(num(std::nan("")), num(4));
    EXPECT_EQ(b.moments.n, 4u);
    EXPECT_DOUBLE_EQ(*b.result(), 1.2);
}

TEST(trend_acc, no_data_when_t_has_no_spread) {
    trend_acc a;
    a.add(num(1), num(7));
    a.add(num(9), num(7));
    EXPECT_EQ(a.result(), std::nullopt);
    // A constant x has slope 0, not no data.
    trend_acc b;
    b.add(num(4), num(1));
    b.add(num(4), num(2));
    EXPECT_EQ(b.result(), 0.0);
}

TEST(trend_acc, against_event_time_in_seconds) {
    // Epoch times around 1.8e9 s, one reading every 500 ms rising by 1 a reading: 2 per second.
    trend_acc a;
    const time_ns start = 1'800'000'000LL * 1'000'000'000LL;
    for (int i = 0; i < 100; ++i) {
        a.add(num(10 + i), start + static_cast<time_ns>(i) * 500'000'000LL);
    }
    EXPECT_NEAR(*a.result(), 2.0, 1e-9);
    // Negative slope: x falls by 3 every 2 s.
    trend_acc b;
    b.add(num(9), start);
    b.add(num(6), start + 2'000'000'000LL);
    EXPECT_NEAR(*b.result(), -1.5, 1e-9);
}

TEST(trend_acc, stays_precise_far_from_zero) {
    // t around 1e9 with a spread of 1: naive sums of squares would lose every digit.
    trend_acc a;
    for (int i = 0; i < 1000; ++i) a.add(num(1e6 + 0.25 * i), num(1e9 + i));
    EXPECT_NEAR(*a.result(), 0.25, 1e-9);
}

TEST(trend_acc, merges_in_any_panes_and_round_trips) {
    std::mt19937_64 rng(17);
    std::uniform_real_distribution<double> u(-50, 50);
    for (int trial = 0; trial < 200; ++trial) {
        const std::size_t n = rng() % 40;
        std::vector<std::pair<double, double>> ps;  // (t, x)
        for (std::size_t i = 0; i < n; ++i) ps.emplace_back(std::floor(u(rng)), u(rng));
        const auto cuts = test::random_panes(rng, n);
        std::vector<trend_acc> parts;
        for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
            trend_acc a;
            for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i)
                a.add_pair(ps[i].first, ps[i].second);
            parts.push_back(a);
        }
        const trend_acc merged = test::merge_randomly(
            rng, parts, true, [](trend_acc& a, const trend_acc& b) { a.merge(b); });
        const trend_acc back = test::round_trip(merged);
        double mt = 0, mx = 0;
        for (auto [t, x] : ps) {
            mt += t;
            mx += x;
        }
        mt /= std::max<double>(1, double(n));
        mx /= std::max<double>(1, double(n));
        double stt = 0, stx = 0;
        for (auto [t, x] : ps) {
            stt += (t - mt) * (t - mt);
            stx += (t - mt) * (x - mx);
        }
        if (n < 2 || stt == 0) {
            EXPECT_EQ(back.result(), std::nullopt) << trial;
            continue;
        }
        ASSERT_TRUE(back.result()) << trial;
        EXPECT_NEAR(*back.result(), stx / stt, 1e-9 * (1 + std::abs(stx / stt))) << trial;
    }
}

TEST(rank_pairs_acc, hand_computed_spearman_and_kendall) {
    rank_pairs_acc a;
    EXPECT_EQ(a.spearman(), std::nullopt);
    EXPECT_EQ(a.kendall(), std::nullopt);
    // b's two 7s share rank 3.5: ranks of b are 1 2 3.5 5 3.5; Spearman 8 / sqrt(10 * 9.5).
    // Kendall: 8 concordant, 1 discordant, 1 pair tied in b: (8 - 1) / sqrt(10 * 9).
    const double as[] = {1, 2, 3, 4, 5};
    const double bs[] = {5, 6, 7, 8, 7};
    for (int i = 0; i < 5; ++i) a.add(num(as[i]), num(bs[i]));
    a.add(num(6), field_value::make_null());  // skipped: b is not a number
    a.add(field_value::make_string("7"), num(1));
    EXPECT_NEAR(*a.spearman(), 0.8207826816681233, 1e-12);
    EXPECT_NEAR(*a.kendall(), 0.7378647873726218, 1e-12);
    // Reversed order: -1 for both.
    rank_pairs_acc r;
    for (int i = 0; i < 4; ++i) r.add(num(i), num(10 - i * i));
    EXPECT_EQ(r.spearman(), -1.0);
    EXPECT_EQ(r.kendall(), -1.0);
    // A constant side has no rank correlation.
    rank_pairs_acc c;
    c.add(num(1), num(3));
    c.add(num(2), num(3));
    EXPECT_EQ(c.spearman(), std::nullopt);
    EXPECT_EQ(c.kendall(), std::nullopt);
}

// Kendall's tau-b pair by pair.
std::optional<double> brute_kendall(const std::vector<std::pair<double, double>>& ps) {
    const std::size_t n = ps.size();
    if (n < 2) return std::nullopt;
    double s = 0, ta = 0, tb = 0;
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = i + 1; j < n; ++j) {
            const double da = ps[i].first - ps[j].first;
            const double db = ps[i].second - ps[j].second;
            s += (da * db > 0) - (da * db < 0);
            ta += da == 0;
            tb += db == 0;
        }
    }
    const double n0 = double(n) * double(n - 1) / 2;
    if (n0 == ta || n0 == tb) return std::nullopt;
    return s / std::sqrt((n0 - ta) * (n0 - tb));
}

TEST(rank_pairs_acc, matches_pair_by_pair_kendall_in_panes_and_round_trips) {
    std::mt19937_64 rng(18);
    for (int trial = 0; trial < 300; ++trial) {
        const std::size_t n = rng() % 40;
        std::vector<std::pair<double, double>> ps;
        // Few distinct values: many ties on either side and in both.
        for (std::size_t i = 0; i < n; ++i) {
            ps.emplace_back(double(rng() % 6), double(rng() % (trial % 2 ? 4 : 50)) - 2);
        }
        const auto cuts = test::random_panes(rng, n);
        std::vector<rank_pairs_acc> parts;
        for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
            rank_pairs_acc a;
            for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i) {
                a.add(num(ps[i].first), num(ps[i].second));
            }
            parts.push_back(a);
        }
        const rank_pairs_acc merged = test::merge_randomly(
            rng, parts, true, [](rank_pairs_acc& a, const rank_pairs_acc& b) { a.merge(b); });
        const rank_pairs_acc back = test::round_trip(merged);
        const auto want = brute_kendall(ps);
        const auto got = back.kendall();
        ASSERT_EQ(got.has_value(), want.has_value()) << trial;
        if (want) {
            EXPECT_NEAR(*got, *want, 1e-12) << trial;
        }
        ASSERT_EQ(back.spearman().has_value(), want.has_value()) << trial;
    }
}

TEST(rank_pairs_acc, past_the_bound_has_no_data) {
    rank_pairs_acc a;
    for (std::uint64_t i = 0; i <= k_max_kept_pairs; ++i) {
        a.add(num(double(i)), num(double(i % 7)));
    }
    EXPECT_TRUE(a.kept.capped());
    EXPECT_TRUE(a.kept.pairs.empty());
    EXPECT_EQ(a.spearman(), std::nullopt);
    EXPECT_EQ(a.kendall(), std::nullopt);
    EXPECT_TRUE(test::round_trip(a).kept.capped());
}

TEST(category_pairs_acc, hand_computed_cramers_v) {
    const auto s = [](const char* text) { return field_value::make_string(text); };
    category_pairs_acc dependent;
    EXPECT_EQ(dependent.result(), std::nullopt);
    // Either field determines the other: 1.
    for (int i = 0; i < 2; ++i) {
        dependent.add(s("x"), num(1));
        dependent.add(s("y"), num(2));
    }
    EXPECT_NEAR(*dependent.result(), 1.0, 1e-12);
    // Independent: 0.
    category_pairs_acc independent;
    independent.add(s("x"), num(1));
    independent.add(s("x"), num(2));
    independent.add(s("y"), num(1));
    independent.add(s("y"), num(2));
    independent.add(field_value::make_null(), num(1));  // missing: skipped
    independent.add(s(""), num(2));
    EXPECT_NEAR(*independent.result(), 0.0, 1e-12);
    // [[2, 1], [1, 2]]: expected 1.5 a cell, chi2 = 4 * 0.25 / 1.5 = 2/3, V = sqrt(2/3 / 6).
    category_pairs_acc t;
    for (const auto& [a, b] : std::vector<std::pair<const char*, double>>{
             {"x", 1}, {"x", 1}, {"x", 2}, {"y", 1}, {"y", 2}, {"y", 2}}) {
        t.add(s(a), num(b));
    }
    EXPECT_NEAR(*t.result(), 1.0 / 3, 1e-12);
    // 1, "1" and true are three values; a single column has no V.
    category_pairs_acc one_column;
    one_column.add(num(1), s("a"));
    one_column.add(s("1"), s("a"));
    one_column.add(field_value::make_boolean(true), s("a"));
    EXPECT_EQ(one_column.result(), std::nullopt);
    EXPECT_EQ(test::round_trip(t).result(), t.result());
}

TEST(category_pairs_acc, matches_the_chi_squared_of_every_cell) {
    std::mt19937_64 rng(19);
    for (int trial = 0; trial < 200; ++trial) {
        const std::size_t n = rng() % 60;
        std::vector<std::pair<int, int>> ps;
        for (std::size_t i = 0; i < n; ++i) ps.emplace_back(int(rng() % 4), int(rng() % 3));
        category_pairs_acc a;
        for (const auto& [x, y] : ps) a.add(num(x), num(y));
        std::map<std::pair<int, int>, double> cells;
        std::map<int, double> rows, cols;
        for (const auto& p : ps) {
            ++cells[p];
            ++rows[p.first];
            ++cols[p.second];
        }
        if (rows.size() < 2 || cols.size() < 2) {
            EXPECT_EQ(a.result(), std::nullopt);
            continue;
        }
        double chi2 = 0;
        for (const auto& [r, rn] : rows) {
            for (const auto& [c, cn] : cols) {
                const double e = rn * cn / double(n);
                const double o = cells.count({r, c}) ? cells[{r, c}] : 0;
                chi2 += (o - e) * (o - e) / e;
            }
        }
        const double k = double(std::min(rows.size(), cols.size()) - 1);
        ASSERT_TRUE(a.result()) << trial;
        EXPECT_NEAR(*a.result(), std::sqrt(chi2 / (double(n) * k)), 1e-12) << trial;
    }
}

}  // namespace
}  // namespace weir::measure
