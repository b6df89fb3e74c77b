// Histograms of small integers (median_length) and the values above their mean: hand-computed
// values, merges in random panes against one pass, checkpoint round trips.
#include "core/measure/distribution.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "tests/unit/core/measure/random_values.h"

namespace weir::measure {
namespace {

using test::merge_randomly;
using test::random_panes;
using test::round_trip;

// A field_value points at its characters: pass literals (static storage), never a temporary.
field_value str(std::string_view s) {
    return field_value::make_string(s);
}

TEST(int_histogram, hand_computed_statistics) {
    int_histogram h;
    EXPECT_EQ(h.median(), std::nullopt);
    EXPECT_EQ(h.min(), std::nullopt);
    EXPECT_EQ(h.mean(), std::nullopt);
    for (const std::uint32_t v : {5u, 1u, 3u}) h.add(v);
    EXPECT_EQ(h.median(), 3.0);  // 1 3 5
    EXPECT_EQ(h.min(), 1.0);
    EXPECT_EQ(h.max(), 5.0);
    EXPECT_EQ(h.mean(), 3.0);
    h.add(10);
    EXPECT_EQ(h.median(), 4.0);  // 1 3 5 10: (3 + 5) / 2
    EXPECT_EQ(h.mean(), 19.0 / 4);
    h.add(3);
    h.add(3);
    EXPECT_EQ(h.median(), 3.0);  // 1 3 3 3 5 10
    EXPECT_EQ(h.count(), 6u);
    EXPECT_EQ(h.bins(), 4u);
}

TEST(length_histogram_acc, median_of_string_lengths_in_characters) {
    length_histogram_acc a;
    // "" is missing, numbers have no length; "héllo" is 5 characters (6 bytes).
    for (const auto& v : {str("ab"), str(""), field_value::make_number(12345), str("h\xc3\xa9llo"),
                          field_value::make_null(), str("abcd")}) {
        a.add(v);
    }
    EXPECT_EQ(a.lengths.count(), 3u);
    EXPECT_EQ(a.lengths.median(), 4.0);  // 2 4 5
    a.add(str("x"));
    EXPECT_EQ(a.lengths.median(), 3.0);  // 1 2 4 5: (2 + 4) / 2
    length_histogram_acc none;
    none.add(field_value::make_number(1));
    EXPECT_EQ(none.lengths.median(), std::nullopt);
}

TEST(int_histogram, merges_in_any_panes_and_round_trips) {
    std::mt19937_64 rng(15);
    for (int trial = 0; trial < 200; ++trial) {
        const std::size_t n = rng() % 60;
        std::vector<std::uint32_t> vs;
        for (std::size_t i = 0; i < n; ++i) vs.push_back(static_cast<std::uint32_t>(rng() % 9));
        int_histogram whole;
        for (const auto v : vs) whole.add(v);
        const auto cuts = random_panes(rng, n);
        std::vector<int_histogram> parts;
        for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
            int_histogram h;
            for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i) h.add(vs[i]);
            parts.push_back(h);
        }
        const int_histogram merged = merge_randomly(
            rng, parts, true, [](int_histogram& a, const int_histogram& b) { a.merge(b); });
        const int_histogram back = round_trip(merged);
        // The brute-force median of the sorted values.
        std::sort(vs.begin(), vs.end());
        const std::optional<double> want =
            n == 0 ? std::nullopt
                   : std::optional<double>((double(vs[(n - 1) / 2]) + double(vs[n / 2])) / 2);
        for (const int_histogram* h :
             std::initializer_list<const int_histogram*>{&whole, &merged, &back}) {
            EXPECT_EQ(h->median(), want) << trial;
            EXPECT_EQ(h->count(), n);
            EXPECT_EQ(h->min(), n ? std::optional<double>(vs.front()) : std::nullopt);
            EXPECT_EQ(h->max(), n ? std::optional<double>(vs.back()) : std::nullopt);
        }
    }
}

TEST(int_histogram, rejects_unsorted_or_empty_bins) {
    byte_writer w;
    w.varint(2);
    w.varint(5);
    w.varint(1);
    w.varint(3);  // not after 5
    w.varint(1);
    const std::string bytes = w.take();
    byte_reader r(bytes);
    int_histogram h;
    EXPECT_FALSE(h.deserialize(r));
}

TEST(count_digits, integer_and_fractional_digits_of_the_shortest_text) {
    const auto d = [](double x) {
        const digit_counts c = count_digits(x);
        return std::pair{c.integer, c.fraction};
    };
    EXPECT_EQ(d(0.5), std::pair(1u, 1u));    // "0.5": the integer part "0" is one digit
    EXPECT_EQ(d(-12.3), std::pair(2u, 1u));  // the sign is not a digit
    EXPECT_EQ(d(1.50), std::pair(1u, 1u));   // the double 1.5: the text's trailing 0 is gone
    EXPECT_EQ(d(100), std::pair(3u, 0u));
    EXPECT_EQ(d(0), std::pair(1u, 0u));
    EXPECT_EQ(d(-0.0), std::pair(1u, 0u));
    EXPECT_EQ(d(123.456), std::pair(3u, 3u));
    EXPECT_EQ(d(1e21), std::pair(22u, 0u));       // fixed notation, never 1e+21
    EXPECT_EQ(d(1e-7), std::pair(1u, 7u));        // 0.0000001
    EXPECT_EQ(d(0.1 + 0.2), std::pair(1u, 17u));  // 0.30000000000000004
}

TEST(digits_acc, statistics_of_both_parts) {
    digits_acc a;
    // int digits 1 2 3 4, frac digits 1 1 0 2; strings, NaN, inf and null are skipped.
    for (const auto& v : {field_value::make_number(0.5), field_value::make_number(-12.3),
                          str("1.25"), field_value::make_number(100), field_value::make_null(),
                          field_value::make_number(std::numeric_limits<double>::infinity()),
                          field_value::make_number(1234.56)}) {
        a.add(v);
    }
    EXPECT_EQ(a.integer.min(), 1.0);
    EXPECT_EQ(a.integer.max(), 4.0);
    EXPECT_EQ(a.integer.mean(), 2.5);
    EXPECT_EQ(a.integer.median(), 2.5);
    EXPECT_EQ(a.fraction.min(), 0.0);
    EXPECT_EQ(a.fraction.max(), 2.0);
    EXPECT_EQ(a.fraction.mean(), 1.0);
    EXPECT_EQ(a.fraction.median(), 1.0);  // 0 1 1 2
    const digits_acc back = round_trip(a);
    EXPECT_EQ(back.fraction.median(), 1.0);
    EXPECT_EQ(back.integer.count(), 4u);
    digits_acc none;
    none.add(str("12"));
    EXPECT_EQ(none.integer.median(), std::nullopt);
    EXPECT_EQ(none.fraction.min(), std::nullopt);
}

TEST(first_digit, first_significant_digit) {
    EXPECT_EQ(first_digit(0.0451), 4);
    EXPECT_EQ(first_digit(-300), 3);
    EXPECT_EQ(first_digit(1), 1);
    EXPECT_EQ(first_digit(1000), 1);  // no log10 rounding: 1000 is not 9.99...
    EXPECT_EQ(first_digit(9.99e-300), 9);
    EXPECT_EQ(first_digit(5e-324), 5);
    EXPECT_EQ(first_digit(0.3), 3);
}

TEST(benford_acc, mean_absolute_deviation_from_benford) {
    benford_acc a;
    EXPECT_EQ(a.result(), std::nullopt);
    a.add(field_value::make_number(0));  // zero has no first significant digit
    a.add(str("123"));
    EXPECT_EQ(a.result(), std::nullopt);
    // Shares 1/3 for 1, 2 and 3: (|1/3 - log10 2| + |1/3 - log10 1.5| + |1/3 - log10 4/3| +
    // log10 2.5) / 9.
    for (const double x : {1.0, 2.5, -0.03}) a.add(field_value::make_number(x));
    EXPECT_NEAR(*a.result(), 0.08843111303823058, 1e-12);
    // 1, 10, 100 and 2: shares 3/4 and 1/4.
    benford_acc b;
    for (const double x : {1.0, 10.0, 100.0, 2.0}) b.add(field_value::make_number(x));
    EXPECT_NEAR(*b.result(), 0.11619527672896392, 1e-12);
    benford_acc merged = a;
    merged.merge(b);
    EXPECT_EQ(merged.counts[0], 4u);
    EXPECT_EQ(merged.counts[1], 2u);
    EXPECT_EQ(round_trip(merged).result(), merged.result());
}

TEST(above_mean_acc, hand_computed_counts_and_fractions) {
    above_mean_acc a;
    EXPECT_EQ(a.count(), std::nullopt);
    EXPECT_EQ(a.fraction(), std::nullopt);
    // Mean of 1, 2, 3, 10 is 4: only 10 is above. Strings, NaN and null are skipped.
    for (const auto& v : {field_value::make_number(1), field_value::make_number(2), str("99"),
                          field_value::make_number(std::nan("")), field_value::make_number(3),
                          field_value::make_null(), field_value::make_number(10)}) {
        a.add(v);
    }
    EXPECT_EQ(a.count(), 1.0);
    EXPECT_EQ(a.fraction(), 0.25);
    // Equal to the mean is not above it: 2 2 2 has none above.
    above_mean_acc flat;
    for (int i = 0; i < 3; ++i) flat.add(field_value::make_number(2));
    EXPECT_EQ(flat.count(), 0.0);
    EXPECT_EQ(flat.fraction(), 0.0);
    // -1 0 4: mean 1, one above.
    above_mean_acc b;
    for (const double x : {-1.0, 0.0, 4.0}) b.add(field_value::make_number(x));
    EXPECT_EQ(b.count(), 1.0);
    EXPECT_DOUBLE_EQ(*b.fraction(), 1.0 / 3);
}

TEST(above_mean_acc, merges_in_any_panes_and_round_trips) {
    std::mt19937_64 rng(16);
    for (int trial = 0; trial < 200; ++trial) {
        const auto s = test::random_values(rng, rng() % 80);
        std::vector<double> xs;
        for (const auto& v : s.values) {
            if (v.kind == value_kind::number && std::isfinite(v.number)) xs.push_back(v.number);
        }
        const auto cuts = random_panes(rng, s.values.size());
        std::vector<above_mean_acc> parts;
        for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
            above_mean_acc a;
            for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i) a.add(s.values[i]);
            parts.push_back(a);
        }
        const above_mean_acc merged = merge_randomly(
            rng, parts, true, [](above_mean_acc& a, const above_mean_acc& b) { a.merge(b); });
        const above_mean_acc back = round_trip(merged);
        if (xs.empty()) {
            EXPECT_EQ(back.count(), std::nullopt);
            continue;
        }
        long double sum = 0;
        for (const double x : xs) sum += x;
        const double mean = static_cast<double>(sum / static_cast<long double>(xs.size()));
        std::size_t above = 0;
        for (const double x : xs) above += x > mean;
        EXPECT_EQ(back.count(), static_cast<double>(above)) << trial;
        EXPECT_EQ(back.fraction(), static_cast<double>(above) / static_cast<double>(xs.size()));
    }
}

TEST(above_mean_acc, past_the_bound_has_no_data) {
    above_mean_acc a;
    above_mean_acc b;
    for (std::uint64_t i = 0; i < k_max_kept_values; ++i) {
        a.add(field_value::make_number(static_cast<double>(i % 2)));
    }
    EXPECT_FALSE(a.capped());
    EXPECT_EQ(a.count(), static_cast<double>(k_max_kept_values / 2));
    b.add(field_value::make_number(1));
    a.merge(b);
    EXPECT_TRUE(a.capped());
    EXPECT_TRUE(a.values.empty());  // the memory is released
    EXPECT_EQ(a.count(), std::nullopt);
    EXPECT_EQ(a.fraction(), std::nullopt);
    const above_mean_acc back = round_trip(a);
    EXPECT_TRUE(back.capped());
    EXPECT_EQ(back.count(), std::nullopt);
}

TEST(placeholder_acc, which_listed_literals_occur) {
    // The list as a measure holds it: null, numbers, strings, booleans.
    const std::vector<measure_value> list = {
        measure_value::make_null(), measure_value::make_number(-999), measure_value::make_number(0),
        measure_value::make_string("N/A"), measure_value::make_boolean(true)};
    placeholder_acc a;
    EXPECT_EQ(a.count(), 0.0);
    // "-999" is not -999, false is not true, NaN equals nothing; -0 equals 0; absent is null.
    for (const auto& v :
         {str("-999"), field_value::make_boolean(false), field_value::make_number(std::nan("")),
          field_value::make_number(-0.0), field_value::make_absent(), str("N/A"), str("N/A")}) {
        a.add(v, list);
    }
    EXPECT_EQ(a.count(), 3.0);  // 0, null, "N/A"
    placeholder_acc b;
    b.add(field_value::make_number(-999), list);
    a.merge(b);
    EXPECT_EQ(a.count(), 4.0);
    EXPECT_EQ(round_trip(a).seen, a.seen);
}

// Shares by brute force: values with share >= phi (must be counted) and > phi / 2 (may be).
std::pair<std::size_t, std::size_t> share_bounds(const std::vector<int>& vs, double phi) {
    std::map<int, std::size_t> counts;
    for (const int v : vs) ++counts[v];
    std::size_t must = 0, may = 0;
    for (const auto& [v, c] : counts) {
        must += double(c) >= phi * double(vs.size()) * (1 - 1e-12);
        may += double(c) > phi / 2 * double(vs.size());
    }
    return {must, may};
}

TEST(heavy_hitters_acc, exact_with_few_distinct_values) {
    heavy_hitters_config c;
    c.phi = 0.25;
    c.k = 8;
    heavy_hitters_acc a;
    EXPECT_EQ(a.result(c), std::nullopt);
    // 8 values: "a" 3 times (37.5%), 1 twice (25%: exactly phi counts), true, "b", "c" once.
    for (const auto& v : {str("a"), field_value::make_number(1), str("a"), str("b"), str(""),
                          field_value::make_boolean(true), field_value::make_number(1), str("a"),
                          field_value::make_null(), str("c"), field_value::make_other()}) {
        a.add(v, c);
    }
    EXPECT_EQ(a.considered(), 8u);  // "", null and the object are not considered
    EXPECT_EQ(a.result(c), 2.0);
    byte_writer w;
    a.serialize(w);
    const std::string bytes = w.take();
    byte_reader r(bytes);
    heavy_hitters_acc back;
    ASSERT_TRUE(back.deserialize(r, c));
    EXPECT_TRUE(r.at_end());
    EXPECT_EQ(back.result(c), 2.0);
    // Every prefix is refused.
    for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
        byte_reader pr(std::string_view(bytes).substr(0, cut));
        heavy_hitters_acc partial;
        EXPECT_FALSE(partial.deserialize(pr, c) && pr.at_end() && pr.ok()) << cut;
    }
}

TEST(heavy_hitters_acc, bounded_and_never_misses_a_heavy_value) {
    std::mt19937_64 rng(20);
    for (int trial = 0; trial < 300; ++trial) {
        heavy_hitters_config c;
        c.phi = trial % 3 == 0 ? 0.1 : trial % 3 == 1 ? 0.2 : 0.05;
        c.k = static_cast<std::size_t>(std::ceil(2 / c.phi));
        // Skewed: a few heavy values among many light ones.
        const std::size_t n = rng() % 400;
        std::vector<int> vs;
        for (std::size_t i = 0; i < n; ++i) {
            vs.push_back(rng() % 3 == 0 ? int(rng() % 3) : int(rng() % 200));
        }
        const auto cuts = random_panes(rng, n);
        std::vector<heavy_hitters_acc> parts;
        for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
            heavy_hitters_acc h;
            for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i) {
                h.add(field_value::make_number(vs[i]), c);
                ASSERT_LE(h.counters(), c.k);
            }
            parts.push_back(h);
        }
        const heavy_hitters_acc merged =
            merge_randomly(rng, parts, true, [&](heavy_hitters_acc& a, const heavy_hitters_acc& b) {
                a.merge(b, c);
                EXPECT_LE(a.counters(), c.k);
            });
        byte_writer w;
        merged.serialize(w);
        const std::string bytes = w.take();
        byte_reader r(bytes);
        heavy_hitters_acc back;
        ASSERT_TRUE(back.deserialize(r, c));
        if (n == 0) {
            EXPECT_EQ(back.result(c), std::nullopt);
            continue;
        }
        const auto [must, may] = share_bounds(vs, c.phi);
        const double got = *back.result(c);
        EXPECT_GE(got, double(must)) << trial;
        EXPECT_LE(got, double(may)) << trial;
        EXPECT_LE(got, 2 / c.phi);
    }
}

}  // namespace
}  // namespace weir::measure
