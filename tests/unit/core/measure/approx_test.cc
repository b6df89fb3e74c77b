// The sketch-backed accumulators apply the same value rules as the exact ones.
#include "core/measure/approx.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <random>
#include <vector>

#include "core/measure/frequency.h"
#include "tests/unit/core/measure/random_values.h"

namespace weir::measure {
namespace {

TEST(approx_distinct_acc, agrees_with_exact_distinct_count_on_small_streams) {
    for (int seed = 0; seed < 100; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = test::random_values(rng, rng() % 500, 0.5);
        approx_distinct_acc a;
        approx_distinct_acc b;
        frequency_acc exact;
        for (std::size_t i = 0; i < s.values.size(); ++i) {
            (i % 2 ? a : b).add(s.values[i]);
            exact.add(s.values[i], frequency_config{});
        }
        a.merge(b);
        // Sparse mode: exact for these few distinct values (bucket collisions aside).
        EXPECT_EQ(test::round_trip(a).result(), *exact.distinct_count().value) << seed;
    }
}

// The exact nearest-rank and linear quantiles of sorted numbers, as their definitions say.
double nearest_of(const std::vector<double>& sorted, double q) {
    const auto n = sorted.size();
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(n)));
    return sorted[std::clamp<std::size_t>(rank, 1, n) - 1];
}
double linear_of(const std::vector<double>& sorted, double q) {
    const double h = static_cast<double>(sorted.size() - 1) * q;
    const auto k = static_cast<std::size_t>(std::floor(h));
    if (k + 1 >= sorted.size()) return sorted[k];
    const double d = h - std::floor(h);
    return sorted[k] * (1 - d) + sorted[k + 1] * d;
}

std::optional<double> at(const quantile_acc& a, double q, quantile_method m) {
    std::vector<double> scratch;
    return a.quantile(q, m, scratch);
}

quantile_acc of(std::initializer_list<double> xs, std::uint32_t limit = 4096) {
    quantile_acc a(limit);
    for (const double x : xs) a.add(field_value::make_number(x));
    return a;
}

TEST(quantile_acc, small_windows_are_exact_by_hand) {
    using enum quantile_method;
    const quantile_acc two = of({5, -3});
    EXPECT_EQ(at(two, 0.5, linear), 1.0);  // not a sketch artefact such as -2.974
    EXPECT_EQ(at(two, 0.5, nearest), -3.0);
    EXPECT_FALSE(two.approximate());
    const quantile_acc four = of({4, 1, 3, 2});
    EXPECT_EQ(at(four, 0.5, linear), 2.5);
    EXPECT_EQ(at(four, 0.5, nearest), 2.0);
    EXPECT_EQ(at(four, 0.9, linear), 3.7000000000000002);  // h = 2.7: 3 + 0.7 * (4 - 3)
    EXPECT_EQ(at(four, 0.9, nearest), 4.0);                // rank ceil(3.6) = 4
    EXPECT_EQ(at(four, 0.25, nearest), 1.0);               // rank 1
    EXPECT_EQ(at(four, 0.25, linear), 1.75);               // h = 0.75
    EXPECT_EQ(at(four, 0.0, linear), 1.0);
    EXPECT_EQ(at(four, 0.0, nearest), 1.0);
    EXPECT_EQ(at(four, 1.0, linear), 4.0);
    EXPECT_EQ(at(four, 1.0, nearest), 4.0);
    const quantile_acc one = of({7.5});
    EXPECT_EQ(at(one, 0.3, linear), 7.5);
    EXPECT_EQ(at(one, 0.3, nearest), 7.5);
    EXPECT_FALSE(at(quantile_acc(), 0.5, linear));
    EXPECT_FALSE(at(quantile_acc(), 0.5, nearest));
}

TEST(quantile_acc, skips_non_numbers) {
    quantile_acc a;
    a.add(field_value::make_number(2));
    a.add(field_value::make_string("9"));
    a.add(field_value::make_number(std::numeric_limits<double>::quiet_NaN()));
    a.add(field_value::make_number(std::numeric_limits<double>::infinity()));
    a.add(field_value::make_null());
    a.add(field_value::make_number(4));
    EXPECT_EQ(a.count(), 2u);
    EXPECT_EQ(at(a, 0.5, quantile_method::linear), 3.0);
}

// n - 1, n and n + 1 values for a limit n: exact up to n, the sketch (and approximate) beyond,
// in add(), in merges that stay within or cross the limit, and across checkpoint round trips.
TEST(quantile_acc, exact_up_to_the_limit_and_sketched_beyond) {
    constexpr std::size_t limit = 64;
    for (const std::size_t n : {limit - 1, limit, limit + 1, 3 * limit}) {
        std::mt19937_64 rng(n);
        std::vector<double> xs;
        for (std::size_t i = 0; i < n; ++i) {
            xs.push_back(static_cast<double>(rng() % 2000) / 8 - 100);
        }
        // Added one by one, and as two halves merged (every split point).
        std::vector<quantile_acc> accs;
        quantile_acc whole(static_cast<std::uint32_t>(limit));
        for (const double x : xs) whole.add(field_value::make_number(x));
        accs.push_back(whole);
        for (const std::size_t cut : {std::size_t{0}, n / 3, n / 2, n - 1, n}) {
            quantile_acc a(static_cast<std::uint32_t>(limit));
            quantile_acc b(static_cast<std::uint32_t>(limit));
            for (std::size_t i = 0; i < n; ++i)
                (i < cut ? a : b).add(field_value::make_number(xs[i]));
            EXPECT_EQ(a.approximate(), cut > limit);
            a.merge(b);
            accs.push_back(a);
        }
        std::vector<double> sorted = xs;
        std::sort(sorted.begin(), sorted.end());
        for (const auto& acc : accs) {
            for (const quantile_acc& q : {acc, test::round_trip(acc)}) {
                ASSERT_EQ(q.count(), n);
                EXPECT_EQ(q.approximate(), n > limit) << n;
                for (const double p : {0.0, 0.01, 0.25, 0.5, 0.9, 0.99, 1.0}) {
                    const double near = nearest_of(sorted, p);
                    const double lin = linear_of(sorted, p);
                    if (n <= limit) {
                        EXPECT_EQ(at(q, p, quantile_method::nearest), near) << n << " " << p;
                        EXPECT_EQ(at(q, p, quantile_method::linear), lin) << n << " " << p;
                    } else {
                        // The sketch's bound; linear: both closest ranks within it.
                        const double lo = sorted[static_cast<std::size_t>(
                            std::floor(static_cast<double>(n - 1) * p))];
                        const double hi = sorted[static_cast<std::size_t>(
                            std::ceil(static_cast<double>(n - 1) * p))];
                        const double slack = 0.01 * std::max(std::abs(lo), std::abs(hi)) + 1e-12;
                        EXPECT_NEAR(*at(q, p, quantile_method::nearest), near,
                                    0.01 * std::abs(near) + 1e-12)
                            << n << " " << p;
                        EXPECT_NEAR(*at(q, p, quantile_method::linear), lin, slack)
                            << n << " " << p;
                    }
                }
            }
        }
    }
}

TEST(quantile_acc, merges_of_sketched_and_exact_states) {
    // An exact state merged into a sketched one, and the other way round.
    quantile_acc big(4);
    for (int i = 1; i <= 10; ++i) big.add(field_value::make_number(i));
    ASSERT_TRUE(big.approximate());
    quantile_acc small = of({100, 200}, 4);
    quantile_acc a = small;
    a.merge(big);
    quantile_acc b = big;
    b.merge(small);
    for (const quantile_acc& q : {a, b, test::round_trip(a)}) {
        EXPECT_TRUE(q.approximate());
        EXPECT_EQ(q.count(), 12u);
        EXPECT_EQ(at(q, 1.0, quantile_method::nearest), 200.0);
        EXPECT_EQ(at(q, 0.0, quantile_method::nearest), 1.0);
        // Ranks 6 and 7 of 1..10, 100, 200: 6 and 7, within 1%.
        EXPECT_NEAR(*at(q, 0.5, quantile_method::linear), 6.5, 0.07);
    }
}

TEST(quantile_acc, a_restore_into_a_smaller_limit_sketches) {
    const quantile_acc exact = of({1, 2, 3, 4, 5, 6});
    byte_writer w;
    exact.serialize(w);
    const std::string bytes = w.take();
    quantile_acc back(4);
    byte_reader r(bytes);
    ASSERT_TRUE(back.deserialize(r));
    EXPECT_TRUE(back.approximate());
    EXPECT_EQ(back.count(), 6u);
    quantile_acc same(6);
    byte_reader r2(bytes);
    ASSERT_TRUE(same.deserialize(r2));
    EXPECT_FALSE(same.approximate());
    EXPECT_EQ(at(same, 0.5, quantile_method::linear), 3.5);
}

TEST(quantile_acc, limit_zero_always_sketches) {
    const quantile_acc a = of({-3, 5}, 0);
    EXPECT_TRUE(a.approximate());
    EXPECT_NEAR(*at(a, 0.5, quantile_method::nearest), -3.0, 0.03);
}

TEST(quantile_acc, sketched_answers_stay_within_the_bound_on_random_values) {
    std::mt19937_64 rng(4);
    auto s = test::random_values(rng, 3000, 0.7);
    quantile_acc q(100);
    std::vector<double> xs;
    for (const auto& v : s.values) {
        q.add(v);
        if (v.is_number() && std::isfinite(v.number)) xs.push_back(v.number);
    }
    std::sort(xs.begin(), xs.end());
    q = test::round_trip(q);
    ASSERT_EQ(q.count(), xs.size());
    ASSERT_TRUE(q.approximate());
    for (double p : {0.01, 0.5, 0.95}) {
        const double want = nearest_of(xs, p);
        EXPECT_NEAR(*at(q, p, quantile_method::nearest), want, 0.01 * std::abs(want) + 1e-12) << p;
    }
}

}  // namespace
}  // namespace weir::measure
