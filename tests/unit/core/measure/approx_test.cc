// The sketch-backed accumulators apply the same value rules as the exact ones.
#include "core/measure/approx.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

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

TEST(quantile_acc, skips_non_numbers_and_answers_percentiles) {
    std::mt19937_64 rng(4);
    auto s = test::random_values(rng, 3000, 0.7);
    quantile_acc q;
    std::vector<double> xs;
    for (const auto& v : s.values) {
        q.add(v);
        if (v.is_number() && std::isfinite(v.number)) xs.push_back(v.number);
    }
    std::sort(xs.begin(), xs.end());
    q = test::round_trip(q);
    ASSERT_EQ(q.sketch.count(), xs.size());
    for (double p : {1.0, 50.0, 95.0}) {
        auto rank = static_cast<std::size_t>(std::ceil(p / 100 * xs.size()));
        const double want = xs[std::max<std::size_t>(rank, 1) - 1];
        EXPECT_NEAR(*q.percentile(p), want, 0.01 * std::abs(want) + 1e-12) << p;
    }
    EXPECT_EQ(q.median(), q.percentile(50));
    EXPECT_FALSE(quantile_acc().median());
}

}  // namespace
}  // namespace weir::measure
