// Accumulators about how values relate to each other: is_frozen (all the same), ordered_fraction
// (arrival order) and correlation (two fields).
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/measure/common.h"
#include "core/sketch/hash.h"

namespace weir::measure {

// is_frozen(f): true when the window holds at least two present values and all of them are
// identical (a stuck sensor); false with one value or any difference; no data with none.
// Values compare by their 64-bit hash (hashing::hash_value): same kind and same value, -0.0 ==
// 0.0, NaN == NaN (a sensor stuck at NaN is frozen). Two different values are taken as equal
// only on a hash collision, with probability 2^-64 per comparison. Missing values and
// wrong-typed values (objects, arrays: their content is not decoded) are skipped.
struct frozen_acc {
    std::uint64_t n = 0;
    std::uint64_t first = 0;  // hash of the first value seen
    bool varied = false;

    void add(const field_value& v) {
        if (v.missing() || v.kind == value_kind::other) return;
        const std::uint64_t h = hashing::hash_value(v);
        first = n == 0 ? h : first;
        varied |= h != first;
        ++n;
    }
    void merge(const frozen_acc& o);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);
    std::optional<bool> result() const {
        if (n == 0) return std::nullopt;
        return n >= 2 && !varied;
    }
};

// What ordered_fraction(f, order) counts as a pair in order (`next` follows `prev`):
// ascending next >= prev (the default: a sequence number or a timestamp that never goes back),
// strictly_ascending next > prev, descending next <= prev, strictly_descending next < prev.
enum class sequence_order : std::uint8_t {
    ascending,
    strictly_ascending,
    descending,
    strictly_descending,
};

inline bool in_order(double prev, double next, sequence_order o) {
    switch (o) {
        case sequence_order::ascending:
            return next >= prev;
        case sequence_order::strictly_ascending:
            return next > prev;
        case sequence_order::descending:
            return next <= prev;
        case sequence_order::strictly_descending:
            return next < prev;
    }
    return false;
}

// ordered_fraction(f [, order]): of the consecutive pairs of numbers in arrival order, the
// fraction that is in `order` (ascending by default: second >= first). Only numbers take part
// (NaN, missing and other kinds are skipped and do not break a pair); no data below two
// numbers. Every call passes the same order to add() and merge().
// Order matters, so merge is associative but NOT commutative: a.merge(b) means b's values
// arrived after a's; the pair that straddles the boundary (a's last, b's first) is counted then.
// Panes must be merged in their time order; for partitions of one stream, arrival order across
// partitions is not defined, and the boundary pairs are an approximation.
struct ordered_acc {
    std::uint64_t n = 0;
    std::uint64_t ordered = 0;  // pairs in order among the n - 1
    double first = 0;
    double last = 0;

    void add(const field_value& v, sequence_order o = sequence_order::ascending) {
        if (v.kind != value_kind::number || std::isnan(v.number)) return;
        const double x = v.number;
        ordered += (n > 0 && in_order(last, x, o)) ? 1 : 0;
        first = n == 0 ? x : first;
        last = x;
        ++n;
    }
    void merge(const ordered_acc& later, sequence_order o = sequence_order::ascending);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);
    std::optional<double> result() const {
        if (n < 2) return std::nullopt;
        return static_cast<double>(ordered) / static_cast<double>(n - 1);
    }
};

// ordered_fraction(f, order, event_time): the window's numbers put in event-time order (equal
// event times in arrival order), then measured as ordered_acc measures arrival order. A value
// arriving late may belong anywhere in that order, so no summary suffices: the state is every
// number with its event time, in arrival order (16 bytes per number of the window and group),
// sorted when the result is asked for. merge(later) appends `later`'s numbers after this one's:
// panes of a window cover disjoint event times, so only ties within one pane depend on arrival
// order, and those keep it. The result is the same however the window was split into panes,
// merged or checkpointed.
struct event_order_acc {
    std::vector<std::pair<time_ns, double>> values;  // (event time, number), arrival order

    void add(const field_value& v, time_ns event_time) {
        if (v.kind != value_kind::number || std::isnan(v.number)) return;
        values.emplace_back(event_time, v.number);
    }
    void merge(const event_order_acc& later);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);
    std::optional<double> result(sequence_order o) const;
};

// correlation(a, b): Pearson's r over the records where both fields are finite numbers (a
// record with either side missing, NaN, infinite or wrong-typed is skipped). Keeps means and
// co-moments, updated per pair (Welford) and merged with the pairwise formula; no data below
// two pairs or when either side is constant (r is undefined then, not 0).
struct correlation_acc {
    std::uint64_t n = 0;
    double mean_a = 0;
    double mean_b = 0;
    double m2_a = 0;  // sum of squared deviations of a
    double m2_b = 0;
    double c_ab = 0;  // sum of products of deviations

    void add(const field_value& a, const field_value& b) {
        double x;
        double y;
        if (!finite_number(a, x) || !finite_number(b, y)) return;
        add_pair(x, y);
    }
    void add_pair(double x, double y) {
        ++n;
        const double inv = 1.0 / static_cast<double>(n);
        const double dx = x - mean_a;
        const double dy = y - mean_b;
        mean_a += dx * inv;
        mean_b += dy * inv;
        m2_a += dx * (x - mean_a);
        m2_b += dy * (y - mean_b);
        c_ab += dx * (y - mean_b);
    }
    void merge(const correlation_acc& o);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);
    std::optional<double> result() const;
};

}  // namespace weir::measure
