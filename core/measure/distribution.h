// Accumulators of how one field's values are spread: exact histograms of small integers (string
// lengths, digit counts), the values above their own mean, which placeholders occur, and the
// heavy hitters (a bounded Misra-Gries summary).
#pragma once

#include <bit>
#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/measure/common.h"
#include "core/measure/measure_value.h"

namespace weir::measure {

// How many small non-negative integers (string lengths, digit counts) took each value, sorted
// by value: exact minimum, maximum, mean and median in memory proportional to the distinct
// integers seen (a string length histogram has at most longest length + 1 bins, 12 bytes
// each), never to the number of values. Merge adds the counts: commutative and associative.
class int_histogram {
  public:
    void add(std::uint32_t v) {
        // The previous value again is the common case (lengths of one format).
        if (last_ < bins_.size() && bins_[last_].first == v) {
            ++bins_[last_].second;
        } else {
            insert(v, 1);
        }
        ++n_;
    }
    void merge(const int_histogram& o);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    std::uint64_t count() const { return n_; }
    std::size_t bins() const { return bins_.size(); }
    std::optional<double> min() const;
    std::optional<double> max() const;
    std::optional<double> mean() const;
    // The middle value of the sorted values, or the mean of the two middle ones when their
    // number is even (numpy's median); no data when empty.
    std::optional<double> median() const;

  private:
    void insert(std::uint32_t v, std::uint64_t count);

    std::vector<std::pair<std::uint32_t, std::uint64_t>> bins_;  // (value, count), by value
    std::uint64_t n_ = 0;
    std::size_t last_ = 0;  // the bin add() touched last (a hint, not state)
};

// median_length(f): the lengths (utf8_length) of string values, as min/max/mean_length count
// them: only strings, "" is missing.
struct length_histogram_acc {
    int_histogram lengths;

    void add(const field_value& v);
    void merge(const length_histogram_acc& o) { lengths.merge(o.lengths); }
    void serialize(byte_writer& w) const { lengths.serialize(w); }
    bool deserialize(byte_reader& r) { return lengths.deserialize(r); }
};

// The digits of a finite number as its shortest round-trip decimal text in fixed notation
// writes them (the text that reads back as the same double: 1.50 is 1.5, 1e21 has 22 integer
// digits, 1e-7 is 0.0000001). Decoding keeps numbers as doubles, not as their text, so the
// source's trailing zeros are not seen. The integer part of 0.5 is "0", one digit; the sign
// is not a digit (-12.3 has 2 and 1).
struct digit_counts {
    std::uint32_t integer = 0;
    std::uint32_t fraction = 0;
};
digit_counts count_digits(double x);

// min/max/mean/median_int_digits(f), min/max/mean/median_frac_digits(f): the digit counts of
// the finite numbers (count_digits), one histogram each.
struct digits_acc {
    int_histogram integer;
    int_histogram fraction;

    void add(const field_value& v) {
        double x;
        if (!finite_number(v, x)) return;
        const digit_counts d = count_digits(x);
        integer.add(d.integer);
        fraction.add(d.fraction);
    }
    void merge(const digits_acc& o) {
        integer.merge(o.integer);
        fraction.merge(o.fraction);
    }
    void serialize(byte_writer& w) const {
        integer.serialize(w);
        fraction.serialize(w);
    }
    bool deserialize(byte_reader& r) {
        return integer.deserialize(r) && fraction.deserialize(r) &&
               integer.count() == fraction.count();
    }
};

// The first significant digit (1-9) of a finite non-zero number, as its shortest round-trip
// decimal text writes it (0.0451 has 4, -300 has 3).
int first_digit(double x);

// benford_deviation(f): the mean absolute deviation, over the digits 1-9, between the share of
// the finite non-zero numbers whose first significant digit is d and Benford's law,
// log10(1 + 1/d): (1/9) sum |p(d) - log10(1 + 1/d)|. 0 for data that follow the law exactly;
// no data without a finite non-zero number.
struct benford_acc {
    std::uint64_t counts[9] = {};

    void add(const field_value& v) {
        double x;
        if (!finite_number(v, x) || x == 0) return;
        ++counts[first_digit(x) - 1];
    }
    void merge(const benford_acc& o) {
        for (int d = 0; d < 9; ++d) counts[d] += o.counts[d];
    }
    void serialize(byte_writer& w) const {
        for (const std::uint64_t c : counts) w.varint(c);
    }
    bool deserialize(byte_reader& r) {
        for (std::uint64_t& c : counts) c = r.varint();
        return r.ok();
    }
    std::optional<double> result() const;
};

// Values kept per field, window and group by above_mean_count/fraction: 65 536 doubles
// (512 KiB).
inline constexpr std::uint64_t k_max_kept_values = 65'536;

// above_mean_count(f), above_mean_fraction(f): finite numbers strictly greater than the mean of
// the window's finite numbers. The mean is known only when the window closes, so the values
// themselves are kept, exactly, up to k_max_kept_values. Past the bound the values are
// released and the results have no data (`capped`): a count over part of the window would be
// a wrong number that looks right.
struct above_mean_acc {
    std::uint64_t n = 0;  // finite numbers seen, also past the bound
    std::vector<double> values;

    void add(const field_value& v) {
        double x;
        if (!finite_number(v, x)) return;
        ++n;
        if (n <= k_max_kept_values) {
            values.push_back(x);
        } else if (!values.empty()) {
            std::vector<double>().swap(values);
        }
    }
    void merge(const above_mean_acc& o);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    bool capped() const { return n > k_max_kept_values; }
    // No data without a finite number, and when capped().
    std::optional<double> count() const;
    std::optional<double> fraction() const;
};

// The most placeholders a distinct_placeholder_* call may list (one bit each).
inline constexpr std::size_t k_max_placeholders = 64;

// Whether a field value equals a literal of a measure's list: numbers by value (-0 equals 0,
// NaN equals nothing), strings byte for byte, booleans; `null` equals an absent or null value.
// No conversions: 1 is not "1".
bool equals_literal(const field_value& v, const measure_value& literal);

// distinct_placeholder_count(f, [..]), distinct_placeholder_fraction(f, [..]): which of the
// listed literals (at most k_max_placeholders) some record of the window holds in the field.
struct placeholder_acc {
    std::uint64_t seen = 0;  // bit i: list[i] occurred

    void add(const field_value& v, std::span<const measure_value> list) {
        for (std::size_t i = 0; i < list.size(); ++i) {
            if (equals_literal(v, list[i])) seen |= std::uint64_t{1} << i;
        }
    }
    void merge(const placeholder_acc& o) { seen |= o.seen; }
    void serialize(byte_writer& w) const { w.u64(seen); }
    bool deserialize(byte_reader& r) {
        seen = r.u64();
        return r.ok();
    }
    double count() const { return static_cast<double>(std::popcount(seen)); }
};

// heavy_hitters(f, phi): how many distinct values make up at least phi (0 < phi < 1) of the
// window's considered values (present values, objects and arrays aside, compared by 64-bit
// hash as the distinct-value functions compare them). A Misra-Gries summary of
// k = ceil(2 / phi) counters: every count it keeps underestimates its value's true count by
// at most (n - sum of counts) / (k + 1) <= n / (k + 1), and merging (add the counters, then
// subtract the (k + 1)-th largest count from all) keeps that bound. A value is counted when its
// count plus that bound reaches phi n. Hence: no false negatives (every value with share >= phi
// is counted), and every value counted has a share > phi / 2, so at most 2 / phi are. Exact
// while the window holds at most k distinct values.
struct heavy_hitters_config {
    double phi = 0.1;
    std::size_t k = 20;
};

class heavy_hitters_acc {
  public:
    void add(const field_value& v, const heavy_hitters_config& c);
    void merge(const heavy_hitters_acc& o, const heavy_hitters_config& c);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r, const heavy_hitters_config& c);
    // No data when no value was considered.
    std::optional<double> result(const heavy_hitters_config& c) const;

    std::uint64_t considered() const { return n_; }
    std::size_t counters() const { return counters_.size(); }

  private:
    void add_count(std::uint64_t hash, std::uint64_t count);
    // Keeps the k largest counts less the (k + 1)-th largest.
    void shrink(std::size_t k);

    std::vector<std::pair<std::uint64_t, std::uint64_t>> counters_;  // (hash, count), by hash
    std::uint64_t n_ = 0;
};

}  // namespace weir::measure
