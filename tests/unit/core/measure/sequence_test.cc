// is_frozen, ordered_fraction and correlation against brute-force references over random
// streams, merged in random panes (in order for ordered_fraction), and round-tripped.
#include "core/measure/sequence.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <tuple>

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

TEST(ordered_acc, each_order_counts_its_pairs) {
    // 3, 3, 5, 4, 4, 1: pairs (3,3) (3,5) (5,4) (4,4) (4,1).
    // ascending (>=): (3,3) (3,5) (4,4) = 3/5; strictly ascending: (3,5) = 1/5;
    // descending (<=): (3,3) (5,4) (4,4) (4,1) = 4/5; strictly descending: (5,4) (4,1) = 2/5.
    const double xs[] = {3, 3, 5, 4, 4, 1};
    const std::pair<sequence_order, double> want[] = {
        {sequence_order::ascending, 3.0 / 5},
        {sequence_order::strictly_ascending, 1.0 / 5},
        {sequence_order::descending, 4.0 / 5},
        {sequence_order::strictly_descending, 2.0 / 5},
    };
    for (const auto& [order, fraction] : want) {
        ordered_acc whole;
        for (double x : xs) whole.add(field_value::make_number(x), order);
        EXPECT_DOUBLE_EQ(*whole.result(), fraction) << static_cast<int>(order);
        // Split between 5 and 4: the merge counts the boundary pair with the same order.
        ordered_acc a;
        ordered_acc b;
        for (int i = 0; i < 3; ++i) a.add(field_value::make_number(xs[i]), order);
        for (int i = 3; i < 6; ++i) b.add(field_value::make_number(xs[i]), order);
        a.merge(b, order);
        EXPECT_DOUBLE_EQ(*round_trip(a).result(), fraction) << static_cast<int>(order);
    }
}

TEST(event_order_acc, orders_by_event_time_then_arrival) {
    // Arrival: (t=3, 30) (t=1, 10) (t=2, 5) (t=2, 20) (t=4, 40). By event time, ties in arrival
    // order: 10, 5, 20, 30, 40. Pairs: (10,5) (5,20) (20,30) (30,40).
    event_order_acc a;
    a.add(field_value::make_number(30), 3);
    a.add(field_value::make_number(10), 1);
    a.add(field_value::make_null(), 0);  // not a number: skipped
    a.add(field_value::make_number(5), 2);
    a.add(field_value::make_number(20), 2);
    a.add(field_value::make_number(40), 4);
    EXPECT_DOUBLE_EQ(*a.result(sequence_order::ascending), 3.0 / 4);
    EXPECT_DOUBLE_EQ(*a.result(sequence_order::strictly_descending), 1.0 / 4);
    // In arrival order the same numbers give (30,10) (10,5) (5,20) (20,40): 2/4 ascending.
    ordered_acc arrival;
    for (double x : {30.0, 10.0, 5.0, 20.0, 40.0}) arrival.add(field_value::make_number(x));
    EXPECT_DOUBLE_EQ(*arrival.result(), 2.0 / 4);
    // A round trip keeps the order of ties.
    EXPECT_EQ(round_trip(a).result(sequence_order::ascending), a.result(sequence_order::ascending));
    event_order_acc one;
    one.add(field_value::make_number(1), 1);
    EXPECT_FALSE(one.result(sequence_order::ascending));
}

TEST(event_order_acc, matches_reference_however_merged) {
    for (int seed = 0; seed < 200; ++seed) {
        std::mt19937_64 rng(seed);
        const auto s = random_values(rng, rng() % 150);
        std::vector<time_ns> ts;
        for (std::size_t i = 0; i < s.values.size(); ++i) ts.push_back(rng() % 20);
        // The reference: numbers by (event time, arrival index).
        std::vector<std::tuple<time_ns, std::size_t, double>> ref;
        for (std::size_t i = 0; i < s.values.size(); ++i) {
            const auto& v = s.values[i];
            if (v.kind == value_kind::number && !std::isnan(v.number)) {
                ref.emplace_back(ts[i], i, v.number);
            }
        }
        std::sort(ref.begin(), ref.end());
        for (const auto order : {sequence_order::ascending, sequence_order::strictly_descending}) {
            std::optional<double> want;
            if (ref.size() >= 2) {
                std::size_t ok = 0;
                for (std::size_t i = 1; i < ref.size(); ++i) {
                    ok += in_order(std::get<2>(ref[i - 1]), std::get<2>(ref[i]), order);
                }
                want = static_cast<double>(ok) / static_cast<double>(ref.size() - 1);
            }
            // Panes as an engine cuts them: by event time (here, time ranges of 5), each in
            // arrival order, merged in time order; then round-tripped.
            std::vector<event_order_acc> panes(4);
            for (std::size_t i = 0; i < s.values.size(); ++i) {
                panes[static_cast<std::size_t>(ts[i] / 5)].add(s.values[i], ts[i]);
            }
            event_order_acc merged;
            for (const auto& p : panes) merged.merge(round_trip(p));
            EXPECT_EQ(merged.result(order), want) << "seed " << seed;
        }
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
