// is_frozen, ordered_fraction and correlation against brute-force references over random
// streams, merged in random panes (in order for ordered_fraction), and round-tripped.
#include "core/measure/sequence.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "tests/unit/core/measure/random_values.h"

namespace weir::measure {
namespace {

using test::merge_randomly;
using test::random_panes;
using test::random_values;
using test::round_trip;

template <class Acc>
Acc in_panes(std::mt19937_64& rng, const std::vector<field_value>& vs, bool commutative) {
    const auto cuts = random_panes(rng, vs.size());
    std::vector<Acc> parts;
    for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
        Acc a;
        for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i) a.add(vs[i]);
        parts.push_back(a);
    }
    return merge_randomly(rng, parts, commutative, [](Acc& a, const Acc& b) { a.merge(b); });
}

// Streams that are frozen more often than random ones would be.
test::value_stream frozen_prone(std::mt19937_64& rng) {
    test::value_stream s;
    const std::size_t n = rng() % 12;
    const int style = static_cast<int>(rng() % 4);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint64_t r = rng() % 10;
        if (r == 0) {
            s.values.push_back(field_value::make_null());
        } else if (r == 1) {
            s.values.push_back(field_value::make_other());
        } else if (style == 0) {
            s.values.push_back(field_value::make_number(i % 2 ? -0.0 : 0.0));
        } else if (style == 1) {
            s.push_string(r == 9 ? "other" : "stuck");
        } else if (style == 2) {
            s.values.push_back(field_value::make_number(std::nan("")));
        } else {
            s.values.push_back(r == 9 ? field_value::make_string("7")
                                      : field_value::make_number(7));
        }
    }
    return s;
}

TEST(frozen_acc, matches_reference) {
    for (int seed = 0; seed < 400; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = seed % 2 ? frozen_prone(rng) : random_values(rng, rng() % 6);
        // Reference: pairwise equality with the documented value semantics.
        std::vector<field_value> vals;
        for (const auto& v : s.values)
            if (!v.missing() && v.kind != value_kind::other) vals.push_back(v);
        auto same = [](const field_value& a, const field_value& b) {
            if (a.kind != b.kind) return false;
            switch (a.kind) {
                case value_kind::number:
                    return a.number == b.number || (std::isnan(a.number) && std::isnan(b.number));
                case value_kind::string:
                    return a.string() == b.string();
                case value_kind::boolean:
                    return a.boolean == b.boolean;
                default:
                    return false;
            }
        };
        std::optional<bool> want;
        if (!vals.empty()) {
            bool all = vals.size() >= 2;
            for (const auto& v : vals) all = all && same(v, vals.front());
            want = all;
        }
        auto merged = round_trip(in_panes<frozen_acc>(rng, s.values, true));
        EXPECT_EQ(merged.result(), want) << "seed " << seed;
    }
}

TEST(ordered_acc, matches_reference_with_in_order_merges) {
    for (int seed = 0; seed < 300; ++seed) {
        std::mt19937_64 rng(seed);
        test::value_stream s;
        if (seed % 2) {
            s = random_values(rng, rng() % 200);
        } else {  // mostly increasing, like sequence numbers with a few resets
            double x = 0;
            for (std::size_t i = 0, n = rng() % 200; i < n; ++i) {
                x = rng() % 20 == 0 ? x - 5 : x + static_cast<double>(rng() % 3);
                s.values.push_back(rng() % 15 == 0 ? field_value::make_null()
                                                   : field_value::make_number(x));
            }
        }
        std::vector<double> xs;
        for (const auto& v : s.values)
            if (v.kind == value_kind::number && !std::isnan(v.number)) xs.push_back(v.number);
        std::optional<double> want;
        if (xs.size() >= 2) {
            std::size_t up = 0;
            for (std::size_t i = 1; i < xs.size(); ++i) up += xs[i - 1] <= xs[i];
            want = static_cast<double>(up) / static_cast<double>(xs.size() - 1);
        }
        auto merged = round_trip(in_panes<ordered_acc>(rng, s.values, false));
        EXPECT_EQ(merged.result(), want) << "seed " << seed;
    }
}

TEST(ordered_acc, merge_order_matters) {
    ordered_acc a;
    ordered_acc b;
    a.add(field_value::make_number(1));
    a.add(field_value::make_number(2));
    b.add(field_value::make_number(3));
    b.add(field_value::make_number(4));
    ordered_acc ab = a;
    ab.merge(b);
    ordered_acc ba = b;
    ba.merge(a);
    EXPECT_EQ(*ab.result(), 1.0);
    EXPECT_DOUBLE_EQ(*ba.result(), 2.0 / 3.0);
}

TEST(correlation_acc, matches_two_pass_reference) {
    for (int seed = 0; seed < 300; ++seed) {
        std::mt19937_64 rng(seed);
        const std::size_t n = rng() % 300;
        auto sa = random_values(rng, n, 0.85);
        auto sb = random_values(rng, n, 0.85);
        // Make b depend on a for some seeds so strong correlations are covered.
        const double slope = static_cast<double>(static_cast<int>(rng() % 5) - 2);
        std::normal_distribution<double> noise(0, 1 + rng() % 10);
        for (std::size_t i = 0; i < n; ++i) {
            if (sa.values[i].is_number() && sb.values[i].is_number() &&
                std::isfinite(sa.values[i].number))
                sb.values[i].number = slope * sa.values[i].number + noise(rng);
        }
        std::vector<std::pair<double, double>> pairs;
        for (std::size_t i = 0; i < n; ++i) {
            const auto& a = sa.values[i];
            const auto& b = sb.values[i];
            if (a.is_number() && b.is_number() && std::isfinite(a.number) &&
                std::isfinite(b.number))
                pairs.emplace_back(a.number, b.number);
        }
        std::optional<double> want;
        if (pairs.size() >= 2) {
            long double ma = 0, mb = 0;
            for (auto [x, y] : pairs) ma += x, mb += y;
            ma /= pairs.size();
            mb /= pairs.size();
            long double saa = 0, sbb = 0, sab = 0;
            for (auto [x, y] : pairs) {
                saa += (x - ma) * (x - ma);
                sbb += (y - mb) * (y - mb);
                sab += (x - ma) * (y - mb);
            }
            if (saa > 0 && sbb > 0) want = static_cast<double>(sab / std::sqrt(saa * sbb));
        }
        const auto cuts = random_panes(rng, n);
        std::vector<correlation_acc> parts;
        for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
            correlation_acc c;
            for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i) c.add(sa.values[i], sb.values[i]);
            parts.push_back(c);
        }
        auto merged = round_trip(merge_randomly(
            rng, parts, true, [](correlation_acc& a, const correlation_acc& b) { a.merge(b); }));
        ASSERT_EQ(merged.result().has_value(), want.has_value()) << "seed " << seed;
        // Tolerance: r is a ratio of co-moments, each within ~1e-13 relative of the two-pass
        // long-double values; 1e-9 absolute leaves room for ill-conditioned small samples.
        if (want) {
            EXPECT_NEAR(*merged.result(), *want, 1e-9) << "seed " << seed;
        }
    }
}

TEST(correlation_acc, perfect_and_undefined) {
    correlation_acc c;
    for (int i = 0; i < 10; ++i) c.add_pair(i, 3.0 - 2.0 * i);
    EXPECT_DOUBLE_EQ(*c.result(), -1.0);
    correlation_acc flat;
    for (int i = 0; i < 10; ++i) flat.add_pair(i, 5.0);
    EXPECT_FALSE(flat.result());
}

TEST(sequence_acc, per_group_state_is_small) {
    EXPECT_LE(sizeof(frozen_acc), 24u);
    EXPECT_LE(sizeof(ordered_acc), 32u);
    EXPECT_LE(sizeof(correlation_acc), 48u);
}

}  // namespace
}  // namespace weir::measure
