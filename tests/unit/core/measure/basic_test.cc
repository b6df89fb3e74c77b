// count, missing, sum/mean, variance/std_dev, min/max, lengths and the time measures against
// brute-force references over random streams, merged in random panes, and round-tripped.
#include "core/measure/basic.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "tests/unit/core/measure/random_values.h"

namespace weir::measure {
namespace {

using test::merge_randomly;
using test::random_panes;
using test::random_values;
using test::round_trip;

constexpr int k_seeds = 200;

// Relative-or-absolute closeness for floating-point results that merge in a different order.
void expect_close(std::optional<double> got, std::optional<double> want, double rel) {
    ASSERT_EQ(got.has_value(), want.has_value());
    if (!want) return;
    EXPECT_NEAR(*got, *want, rel * std::max(1.0, std::abs(*want))) << "want " << *want;
}

std::vector<double> finite_numbers(const std::vector<field_value>& vs) {
    std::vector<double> out;
    for (const auto& v : vs)
        if (v.kind == value_kind::number && std::isfinite(v.number)) out.push_back(v.number);
    return out;
}

// Accumulates each pane separately, then merges the panes in a random tree.
template <class Acc, class Add, class Merge>
Acc in_panes(std::mt19937_64& rng, const std::vector<field_value>& vs, Add add, Merge merge,
             bool commutative = true) {
    const auto cuts = random_panes(rng, vs.size());
    std::vector<Acc> parts;
    for (std::size_t p = 0; p + 1 < cuts.size(); ++p) {
        Acc a;
        for (std::size_t i = cuts[p]; i < cuts[p + 1]; ++i) add(a, vs[i]);
        parts.push_back(a);
    }
    return merge_randomly(rng, parts, commutative, merge);
}

TEST(count_acc, counts_every_record_and_rate_divides_by_window_seconds) {
    for (int seed = 0; seed < k_seeds; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = random_values(rng, rng() % 300);
        count_acc seq;
        for (std::size_t i = 0; i < s.values.size(); ++i) seq.add();
        EXPECT_EQ(seq.result(), static_cast<double>(s.values.size()));
        auto merged = in_panes<count_acc>(
            rng, s.values, [](count_acc& a, const field_value&) { a.add(); },
            [](count_acc& a, const count_acc& b) { a.merge(b); });
        EXPECT_EQ(merged.result(), seq.result());
        EXPECT_EQ(round_trip(merged).n, seq.n);
    }
    count_acc c;
    for (int i = 0; i < 120; ++i) c.add();
    EXPECT_DOUBLE_EQ(*c.rate(60'000'000'000), 2.0);
    EXPECT_FALSE(c.rate(0).has_value());
}

TEST(missing_acc, matches_reference_with_placeholders) {
    missing_config cfg;
    cfg.placeholders = {"N/A", "-"};
    for (int seed = 0; seed < k_seeds; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = random_values(rng, rng() % 300);
        std::uint64_t want_missing = 0;
        for (const auto& v : s.values) {
            const bool m = v.kind == value_kind::absent || v.kind == value_kind::null ||
                           (v.kind == value_kind::string &&
                            (v.string().empty() || v.string() == "N/A" || v.string() == "-"));
            want_missing += m;
        }
        auto add = [&](missing_acc& a, const field_value& v) { a.add(v, cfg); };
        auto merge = [](missing_acc& a, const missing_acc& b) { a.merge(b); };
        missing_acc seq;
        for (const auto& v : s.values) add(seq, v);
        EXPECT_EQ(seq.missing_count(), static_cast<double>(want_missing));
        EXPECT_EQ(seq.present_count(), static_cast<double>(s.values.size() - want_missing));
        if (s.values.empty()) {
            EXPECT_FALSE(seq.missing_fraction());
        } else {
            EXPECT_DOUBLE_EQ(*seq.missing_fraction(),
                             static_cast<double>(want_missing) / s.values.size());
        }
        auto merged = in_panes<missing_acc>(rng, s.values, add, merge);
        EXPECT_EQ(merged.missing, seq.missing);
        EXPECT_EQ(merged.records, seq.records);
        auto back = round_trip(merged);
        EXPECT_EQ(back.missing, seq.missing);
        EXPECT_EQ(back.records, seq.records);
    }
}

TEST(missing_acc, numeric_and_boolean_placeholders_match_by_type_and_value) {
    // [-999, 9999, "N/A", false]: -999 and -999.0 are one number; the text "-999" is not the
    // number, nor the number 9999 the text "9999"; -0.0 matches a placeholder 0.
    missing_config cfg;
    cfg.placeholders = {"N/A"};
    cfg.numbers = {-999, 0, 9999};
    cfg.has_false = true;
    missing_acc a;
    a.add(field_value::make_number(-999), cfg);          // missing
    a.add(field_value::make_number(-999.0), cfg);        // missing
    a.add(field_value::make_number(-0.0), cfg);          // missing (0)
    a.add(field_value::make_number(9999), cfg);          // missing
    a.add(field_value::make_boolean(false), cfg);        // missing
    a.add(field_value::make_string("N/A"), cfg);         // missing
    a.add(field_value::make_null(), cfg);                // missing
    a.add(field_value::make_number(5), cfg);             // present
    a.add(field_value::make_number(-999.5), cfg);        // present
    a.add(field_value::make_string("-999"), cfg);        // present: text
    a.add(field_value::make_string("9999"), cfg);        // present: text
    a.add(field_value::make_boolean(true), cfg);         // present
    a.add(field_value::make_number(std::nan("")), cfg);  // present
    a.add(field_value::make_other(), cfg);               // present
    EXPECT_EQ(a.missing_count(), 7);
    EXPECT_EQ(a.present_count(), 7);
    EXPECT_DOUBLE_EQ(*a.missing_fraction(), 0.5);

    // The defect of issue 15: missing_fraction(x, [-999]) on [-999, 5] is 1/2, not 0.
    missing_config sentinel;
    sentinel.numbers = {-999};
    missing_acc b;
    b.add(field_value::make_number(-999), sentinel);
    b.add(field_value::make_number(5), sentinel);
    EXPECT_DOUBLE_EQ(*b.missing_fraction(), 0.5);
    EXPECT_TRUE(sentinel.is_placeholder(field_value::make_number(-999.0)));
    EXPECT_FALSE(sentinel.is_placeholder(field_value::make_string("-999")));
}

TEST(missing_acc, nan_booleans_and_wrong_types_are_present) {
    missing_config none;
    missing_acc a;
    a.add(field_value::make_number(std::nan("")), none);
    a.add(field_value::make_boolean(false), none);
    a.add(field_value::make_other(), none);
    a.add(field_value::make_string("N/A"), none);  // not listed: present
    a.add(field_value::make_string(""), none);
    a.add(field_value::make_null(), none);
    a.add(field_value::make_absent(), none);
    EXPECT_EQ(a.missing_count(), 3);
    EXPECT_EQ(a.present_count(), 4);
}

TEST(sum_acc, sum_and_mean_match_reference) {
    for (int seed = 0; seed < k_seeds; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = random_values(rng, rng() % 400);
        const auto xs = finite_numbers(s.values);
        long double want = 0;
        for (double x : xs) want += x;
        auto add = [](sum_acc& a, const field_value& v) { a.add(v); };
        auto merge = [](sum_acc& a, const sum_acc& b) { a.merge(b); };
        sum_acc seq;
        for (const auto& v : s.values) add(seq, v);
        std::optional<double> want_sum;
        std::optional<double> want_mean;
        if (!xs.empty()) {
            want_sum = static_cast<double>(want);
            want_mean = static_cast<double>(want / xs.size());
        }
        // Compensated summation: as good as long double accumulation here.
        expect_close(seq.sum_result(), want_sum, 1e-14);
        expect_close(seq.mean(), want_mean, 1e-14);
        auto merged = in_panes<sum_acc>(rng, s.values, add, merge);
        expect_close(merged.sum_result(), want_sum, 1e-13);
        expect_close(merged.mean(), want_mean, 1e-13);
        auto back = round_trip(merged);
        EXPECT_EQ(back.sum_result(), merged.sum_result());
        EXPECT_EQ(back.n, merged.n);
    }
}

TEST(sum_acc, compensation_keeps_small_terms) {
    sum_acc a;
    a.add_number(1e16);
    for (int i = 0; i < 1000; ++i) a.add_number(1.0);
    a.add_number(-1e16);
    EXPECT_EQ(*a.sum_result(), 1000.0);  // naive summation gives 0
}

TEST(moments_acc, sample_variance_matches_two_pass_reference) {
    for (int seed = 0; seed < k_seeds; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = random_values(rng, rng() % 400);
        const auto xs = finite_numbers(s.values);
        std::optional<double> want_var;
        if (xs.size() >= 2) {
            long double mean = 0;
            for (double x : xs) mean += x;
            mean /= xs.size();
            long double ss = 0;
            for (double x : xs) ss += (x - mean) * (x - mean);
            want_var = static_cast<double>(ss / (xs.size() - 1));
        }
        auto add = [](moments_acc& a, const field_value& v) { a.add(v); };
        auto merge = [](moments_acc& a, const moments_acc& b) { a.merge(b); };
        moments_acc seq;
        for (const auto& v : s.values) add(seq, v);
        // Tolerance: Welford/Chan agree with an extended-precision two-pass within ~1e-12
        // relative for these streams; merge order changes rounding only.
        expect_close(seq.variance(), want_var, 1e-12);
        auto merged = in_panes<moments_acc>(rng, s.values, add, merge);
        expect_close(merged.variance(), want_var, 1e-12);
        if (want_var) expect_close(merged.std_dev(), std::sqrt(*want_var), 1e-12);
        auto back = round_trip(merged);
        EXPECT_EQ(back.variance(), merged.variance());
    }
}

TEST(moments_acc, stable_for_large_offsets) {
    // Values 1e9 + {4, 7, 13, 16}: sample variance 30. The textbook sum-of-squares formula
    // loses every digit here.
    moments_acc a;
    moments_acc b;
    a.add_number(1e9 + 4);
    a.add_number(1e9 + 7);
    b.add_number(1e9 + 13);
    b.add_number(1e9 + 16);
    a.merge(b);
    EXPECT_NEAR(*a.variance(), 30.0, 1e-6);
    moments_acc one;
    one.add_number(3);
    EXPECT_FALSE(one.variance());
    EXPECT_FALSE(one.std_dev());
}

TEST(moments_acc, population_variance_divides_by_n_and_needs_one_number) {
    // {2, 4, 4, 4, 5, 5, 7, 9}: mean 5, squared deviations sum to 32: population variance
    // 32 / 8 = 4 (std_dev_pop 2), sample variance 32 / 7.
    moments_acc a;
    moments_acc b;
    for (double x : {2.0, 4.0, 4.0, 4.0}) a.add_number(x);
    for (double x : {5.0, 5.0, 7.0, 9.0}) b.add_number(x);
    a.merge(b);
    EXPECT_DOUBLE_EQ(*a.variance_pop(), 4.0);
    EXPECT_DOUBLE_EQ(*a.std_dev_pop(), 2.0);
    EXPECT_DOUBLE_EQ(*a.variance(), 32.0 / 7.0);
    const moments_acc back = round_trip(a);
    EXPECT_EQ(back.variance_pop(), a.variance_pop());
    // One number: the population variance is 0; the sample variance has no data.
    moments_acc one;
    one.add_number(3);
    EXPECT_EQ(one.variance_pop(), std::optional<double>(0.0));
    EXPECT_EQ(one.std_dev_pop(), std::optional<double>(0.0));
    EXPECT_FALSE(one.variance());
    // None: no data for either.
    const moments_acc none;
    EXPECT_FALSE(none.variance_pop());
    EXPECT_FALSE(none.std_dev_pop());
}

TEST(min_max_acc, match_reference_and_skip_non_finite) {
    for (int seed = 0; seed < k_seeds; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = random_values(rng, rng() % 200);
        const auto xs = finite_numbers(s.values);
        std::optional<double> lo;
        std::optional<double> hi;
        if (!xs.empty()) {
            lo = *std::min_element(xs.begin(), xs.end());
            hi = *std::max_element(xs.begin(), xs.end());
        }
        auto merged_min = in_panes<min_acc>(
            rng, s.values, [](min_acc& a, const field_value& v) { a.add(v); },
            [](min_acc& a, const min_acc& b) { a.merge(b); });
        auto merged_max = in_panes<max_acc>(
            rng, s.values, [](max_acc& a, const field_value& v) { a.add(v); },
            [](max_acc& a, const max_acc& b) { a.merge(b); });
        EXPECT_EQ(merged_min.result(), lo);
        EXPECT_EQ(merged_max.result(), hi);
        EXPECT_EQ(round_trip(merged_min).result(), lo);
        EXPECT_EQ(round_trip(merged_max).result(), hi);
    }
}

TEST(length_acc, counts_code_points_of_strings_only) {
    EXPECT_EQ(utf8_length("h\xc3\xa9llo"), 5u);
    EXPECT_EQ(utf8_length("\xe2\x82\xac"), 1u);
    EXPECT_EQ(utf8_length("\xf0\x9f\x98\x80x"), 2u);
    EXPECT_EQ(utf8_length("\x80\x80"), 0u);  // stray continuation bytes count nothing
    for (int seed = 0; seed < k_seeds; ++seed) {
        std::mt19937_64 rng(seed);
        auto s = random_values(rng, rng() % 300, 0.3);
        std::vector<std::uint32_t> lens;
        for (const auto& v : s.values) {
            if (v.kind != value_kind::string || v.string().empty()) continue;
            std::uint32_t n = 0;  // reference: decode lead bytes one by one
            for (std::size_t i = 0; i < v.length; ++i) {
                const auto c = static_cast<unsigned char>(v.chars[i]);
                if (c < 0x80 || c >= 0xC0) ++n;
            }
            lens.push_back(n);
        }
        auto merged = in_panes<length_acc>(
            rng, s.values, [](length_acc& a, const field_value& v) { a.add(v); },
            [](length_acc& a, const length_acc& b) { a.merge(b); });
        auto back = round_trip(merged);
        if (lens.empty()) {
            EXPECT_FALSE(back.min_length());
            EXPECT_FALSE(back.max_length());
            EXPECT_FALSE(back.mean_length());
            continue;
        }
        double total = 0;
        for (auto l : lens) total += l;
        EXPECT_EQ(*back.min_length(), *std::min_element(lens.begin(), lens.end()));
        EXPECT_EQ(*back.max_length(), *std::max_element(lens.begin(), lens.end()));
        EXPECT_DOUBLE_EQ(*back.mean_length(), total / lens.size());
    }
}

TEST(time_acc, freshness_and_max_delay) {
    for (int seed = 0; seed < k_seeds; ++seed) {
        std::mt19937_64 rng(seed);
        const std::size_t n = rng() % 100;
        std::vector<std::pair<time_ns, time_ns>> events;  // (arrival, event)
        for (std::size_t i = 0; i < n; ++i) {
            const time_ns event =
                1'700'000'000'000'000'000 + static_cast<time_ns>(rng() % 1000'000'000'000);
            const time_ns delay = static_cast<time_ns>(rng() % 10'000'000'000) - 1'000'000'000;
            events.emplace_back(event + delay, event);
        }
        std::vector<freshness_acc> fs(1 + rng() % 5);
        std::vector<max_delay_acc> ds(fs.size());
        time_ns newest = std::numeric_limits<time_ns>::min();
        time_ns worst = std::numeric_limits<time_ns>::min();
        for (const auto& [arrival, event] : events) {
            const std::size_t p = rng() % fs.size();
            fs[p].add(event);
            ds[p].add(arrival, event);
            newest = std::max(newest, event);
            worst = std::max(worst, arrival - event);
        }
        auto f = merge_randomly(rng, fs, true, [](auto& a, const auto& b) { a.merge(b); });
        auto d = merge_randomly(rng, ds, true, [](auto& a, const auto& b) { a.merge(b); });
        f = round_trip(f);
        d = round_trip(d);
        const time_ns now = 1'700'001'000'000'000'000;
        if (n == 0) {
            EXPECT_FALSE(f.result(now));
            EXPECT_FALSE(d.result());
            continue;
        }
        EXPECT_DOUBLE_EQ(*f.result(now), static_cast<double>(now - newest) / 1e9);
        EXPECT_DOUBLE_EQ(*d.result(), static_cast<double>(worst) / 1e9);
    }
    max_delay_acc extreme;
    extreme.add(std::numeric_limits<time_ns>::max(), std::numeric_limits<time_ns>::min());
    EXPECT_GT(*extreme.result(), 9e9);  // saturated, not wrapped round to a negative delay
}

TEST(basic_acc, corrupt_state_is_rejected) {
    byte_writer w;
    w.varint(3);
    w.varint(5);  // missing > records
    byte_reader r(w.data());
    missing_acc m;
    EXPECT_FALSE(m.deserialize(r));
    EXPECT_EQ(r.error(), codec_error::malformed);

    byte_writer w2;
    w2.f64(std::nan(""));
    byte_reader r2(w2.data());
    min_acc mn;
    EXPECT_FALSE(mn.deserialize(r2));
}

TEST(basic_acc, per_group_state_is_small) {
    EXPECT_LE(sizeof(count_acc), 8u);
    EXPECT_LE(sizeof(missing_acc), 16u);
    EXPECT_LE(sizeof(sum_acc), 24u);
    EXPECT_LE(sizeof(moments_acc), 24u);
    EXPECT_LE(sizeof(min_acc) + sizeof(max_acc), 16u);
    EXPECT_LE(sizeof(length_acc), 24u);
    EXPECT_LE(sizeof(freshness_acc) + sizeof(max_delay_acc), 16u);
}

}  // namespace
}  // namespace weir::measure
