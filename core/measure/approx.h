// The sketch-backed accumulators: approx_distinct_count (HyperLogLog) and median/percentile
// (DDSketch), with the same value rules as the exact measures.
#pragma once

#include <cstdint>
#include <optional>

#include "core/checkpoint/byte_codec.h"
#include "core/measure/common.h"
#include "core/sketch/hash.h"
#include "core/sketch/hyperloglog.h"
#include "core/sketch/quantile.h"

namespace weir::measure {

// approx_distinct_count(f): counts what distinct_count counts (present values except wrong
// types; values equal as hashing::hash_value says), within the sketch's documented error.
struct approx_distinct_acc {
    sketch::hyperloglog hll;

    approx_distinct_acc() = default;
    explicit approx_distinct_acc(int precision) : hll(precision) {}

    void add(const field_value& v) {
        if (v.missing() || v.kind == value_kind::other) return;
        hll.add_hash(hashing::hash_value(v));
    }
    void merge(const approx_distinct_acc& o) { hll.merge(o.hll); }
    void serialize(byte_writer& w) const { hll.serialize(w); }
    bool deserialize(byte_reader& r) { return hll.deserialize(r); }
    // Rounded: a count of distinct values is an integer.
    double result() const {
        return static_cast<double>(static_cast<std::uint64_t>(hll.estimate() + 0.5));
    }
};

// median(f) and percentile(f, p) over finite numbers (NaN, +-inf, missing and wrong-typed
// values are skipped), nearest-rank, within relative accuracy alpha (sketch::ddsketch). No
// data when no number was seen.
struct quantile_acc {
    sketch::ddsketch sketch;

    quantile_acc() = default;
    explicit quantile_acc(double alpha) : sketch(alpha) {}

    void add(const field_value& v) {
        double x;
        if (finite_number(v, x)) sketch.add(x);
    }
    void merge(const quantile_acc& o) { sketch.merge(o.sketch); }
    void serialize(byte_writer& w) const { sketch.serialize(w); }
    bool deserialize(byte_reader& r) { return sketch.deserialize(r); }
    std::optional<double> median() const { return sketch.median(); }
    // p in [0, 100] (the measures take a probability: percentile(f, 0.95) reads 95 here).
    std::optional<double> percentile(double p) const { return sketch.quantile(p / 100.0); }
};

}  // namespace weir::measure
