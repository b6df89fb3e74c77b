// Exact accumulators of one field's basic statistics: count, missing, sum/mean, variance,
// min/max, string lengths, and the time measures (freshness, max_delay, rate).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/measure/common.h"

namespace weir::measure {

// count(): every record of the window, whatever its fields hold. rate() is the same state
// divided by the window's length at result time.
struct count_acc {
    std::uint64_t n = 0;

    void add() { ++n; }
    void merge(const count_acc& o) { n += o.n; }
    void serialize(byte_writer& w) const { w.varint(n); }
    bool deserialize(byte_reader& r);
    // A count is never "no data": an empty window counts 0.
    double result() const { return static_cast<double>(n); }
    // rate(): records per second of window length; no data for a zero-length window.
    std::optional<double> rate(time_ns window_length) const;
};

// Placeholders that a check declares to mean "missing", matched as in_set matches: strings
// (e.g. "N/A", "-") match strings byte for byte; numbers (sentinels such as -999 or 9999)
// match numbers of the same value (-999 and -999.0 are one number, -0.0 is 0); booleans match
// booleans. No conversions: the number -999 does not match the text "-999" (list both to
// catch both).
struct missing_config {
    std::vector<std::string> placeholders;
    std::vector<double> numbers;
    bool has_true = false;
    bool has_false = false;

    bool is_placeholder(std::string_view s) const {
        for (const auto& p : placeholders)
            if (p == s) return true;
        return false;
    }
    bool is_placeholder(const field_value& v) const {
        if (v.kind == value_kind::number) {
            for (const double d : numbers)
                if (d == v.number) return true;
            return false;
        }
        if (v.kind == value_kind::string) return is_placeholder(v.string());
        return v.kind == value_kind::boolean && (v.boolean ? has_true : has_false);
    }
};

// count(f), missing_count(f), missing_fraction(f).
// Missing: absent, null, "" and any listed placeholder. Everything else is present —
// including NaN, booleans and wrong-typed values (objects/arrays): they are *there*, just not
// usable numbers, which mean() and friends report by skipping them. The fraction's
// denominator is every record; an empty window has no data.
struct missing_acc {
    std::uint64_t records = 0;
    std::uint64_t missing = 0;

    void add(const field_value& v, const missing_config& c) {
        ++records;
        bool m = v.missing();
        // The kind first: a list without numbers costs a number one test (this is per record).
        if (!m && v.kind == value_kind::number) {
            m = !c.numbers.empty() && c.is_placeholder(v);
        } else if (!m && v.kind != value_kind::other) {
            m = c.is_placeholder(v);
        }
        missing += m ? 1 : 0;
    }
    void merge(const missing_acc& o) {
        records += o.records;
        missing += o.missing;
    }
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    double present_count() const { return static_cast<double>(records - missing); }
    double missing_count() const { return static_cast<double>(missing); }
    std::optional<double> missing_fraction() const { return ratio(missing, records); }
};

// sum(f) and mean(f) over finite numbers (NaN, +-inf, strings, booleans, wrong types and
// missing values are skipped). Neumaier-compensated, so sums of many small values and of
// integers stay exact far longer than naive summation; merging adds the compensations.
// No data when no finite number was seen (as SQL's SUM over no rows).
struct sum_acc {
    std::uint64_t n = 0;
    double sum = 0;
    double compensation = 0;

    void add(const field_value& v) {
        double x;
        if (!finite_number(v, x)) return;
        add_number(x);
    }
    void add_number(double x) {
        const double t = sum + x;
        compensation += std::abs(sum) >= std::abs(x) ? (sum - t) + x : (x - t) + sum;
        sum = t;
        ++n;
    }
    void merge(const sum_acc& o);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    std::optional<double> sum_result() const {
        if (n == 0) return std::nullopt;
        return sum + compensation;
    }
    std::optional<double> mean() const {
        if (n == 0) return std::nullopt;
        return (sum + compensation) / static_cast<double>(n);
    }
};

// variance(f), std_dev(f): SAMPLE statistics (divide by n - 1), no data below two finite
// numbers; variance_pop(f), std_dev_pop(f): POPULATION statistics (divide by n), no data below
// one. Welford's update per value and Chan et al.'s pairwise formula to merge, both stable
// against catastrophic cancellation (values around 1e9 with spread 1 are fine). Skips what
// sum_acc skips.
struct moments_acc {
    std::uint64_t n = 0;
    double mean = 0;
    double m2 = 0;  // sum of squared deviations from the mean

    void add(const field_value& v) {
        double x;
        if (!finite_number(v, x)) return;
        add_number(x);
    }
    void add_number(double x) {
        ++n;
        const double delta = x - mean;
        mean += delta / static_cast<double>(n);
        m2 += delta * (x - mean);
    }
    void merge(const moments_acc& o);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    std::optional<double> variance() const {
        if (n < 2) return std::nullopt;
        return std::max(0.0, m2) / static_cast<double>(n - 1);
    }
    std::optional<double> std_dev() const {
        auto v = variance();
        if (!v) return std::nullopt;
        return std::sqrt(*v);
    }
    std::optional<double> variance_pop() const {
        if (n < 1) return std::nullopt;
        return std::max(0.0, m2) / static_cast<double>(n);
    }
    std::optional<double> std_dev_pop() const {
        auto v = variance_pop();
        if (!v) return std::nullopt;
        return std::sqrt(*v);
    }
};

// min(f) / max(f) over finite numbers; everything else is skipped; no data when none seen.
// +inf (for min) and -inf (for max) mark "empty", which no finite number can be.
struct min_acc {
    double value = std::numeric_limits<double>::infinity();

    void add(const field_value& v) {
        double x;
        if (finite_number(v, x)) value = std::min(value, x);
    }
    void merge(const min_acc& o) { value = std::min(value, o.value); }
    void serialize(byte_writer& w) const { w.f64(value); }
    bool deserialize(byte_reader& r);
    std::optional<double> result() const {
        if (value == std::numeric_limits<double>::infinity()) return std::nullopt;
        return value;
    }
};

struct max_acc {
    double value = -std::numeric_limits<double>::infinity();

    void add(const field_value& v) {
        double x;
        if (finite_number(v, x)) value = std::max(value, x);
    }
    void merge(const max_acc& o) { value = std::max(value, o.value); }
    void serialize(byte_writer& w) const { w.f64(value); }
    bool deserialize(byte_reader& r);
    std::optional<double> result() const {
        if (value == -std::numeric_limits<double>::infinity()) return std::nullopt;
        return value;
    }
};

// The length of a string in Unicode code points, counted as the bytes that do not continue a
// UTF-8 sequence. Operators mean characters ("a name of at most 50 characters"), not bytes.
// Malformed UTF-8 still gets a length: each stray continuation byte is skipped, each other
// byte counts one.
inline std::uint32_t utf8_length(std::string_view s) {
    std::uint32_t n = 0;
    for (const char c : s) n += (static_cast<unsigned char>(c) & 0xC0u) != 0x80u ? 1u : 0u;
    return n;
}

// min_length(f), max_length(f), mean_length(f) over strings, in code points (utf8_length).
// Only strings have a length: numbers, booleans and wrong types are skipped, and so are missing
// values — "" is missing, so the smallest length ever reported is 1 (0 where a node's
// empty_is_missing is false). No data when no string.
struct length_acc {
    std::uint64_t n = 0;
    std::uint64_t total = 0;
    std::uint32_t min = std::numeric_limits<std::uint32_t>::max();
    std::uint32_t max = 0;

    void add(const field_value& v) {
        if (v.kind != value_kind::string || v.missing()) return;
        const std::uint32_t len = utf8_length(v.string());
        ++n;
        total += len;
        min = std::min(min, len);
        max = std::max(max, len);
    }
    void merge(const length_acc& o);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

    std::optional<double> min_length() const;
    std::optional<double> max_length() const;
    std::optional<double> mean_length() const { return ratio(total, n); }
};

// freshness(): wall clock at window close minus the newest event time of the window, in
// seconds. Keeps only the newest event time. No data for an empty window (the check then
// reports no_data rather than an ever-growing staleness; count() > 0 catches silence).
struct freshness_acc {
    time_ns newest = std::numeric_limits<time_ns>::min();

    void add(time_ns event_time) { newest = std::max(newest, event_time); }
    void merge(const freshness_acc& o) { newest = std::max(newest, o.newest); }
    void serialize(byte_writer& w) const { w.i64(newest); }
    bool deserialize(byte_reader& r);
    std::optional<double> result(time_ns now) const;
};

// max_delay(): the largest (arrival time - event time) over the window's records, in seconds.
// Negative when every event claims a time after its arrival (a producer's clock is ahead); that
// is reported as is, not clamped, because it is itself a data-quality finding.
struct max_delay_acc {
    time_ns max_delay = std::numeric_limits<time_ns>::min();

    void add(time_ns arrival_time, time_ns event_time) {
        time_ns d;
        // Saturate instead of overflowing on absurd event times (e.g. a parsed year 1).
        if (__builtin_sub_overflow(arrival_time, event_time, &d)) {
            d = event_time < 0 ? std::numeric_limits<time_ns>::max()
                               : std::numeric_limits<time_ns>::min() + 1;
        }
        max_delay = std::max(max_delay, d);
    }
    void merge(const max_delay_acc& o) { max_delay = std::max(max_delay, o.max_delay); }
    void serialize(byte_writer& w) const { w.i64(max_delay); }
    bool deserialize(byte_reader& r);
    std::optional<double> result() const;
};

}  // namespace weir::measure
