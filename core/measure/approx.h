// The sketch-backed accumulators: approx_distinct_count (HyperLogLog) and median/percentile
// (exact values while few, then DDSketch), with the same value rules as the exact measures.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/measure/common.h"
#include "core/record/prefetch.h"
#include "core/sketch/hash.h"
#include "core/sketch/hyperloglog.h"
#include "core/sketch/pool.h"
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
    void prefetch() const { hll.prefetch(); }
    void merge(const approx_distinct_acc& o) { hll.merge(o.hll); }
    void serialize(byte_writer& w) const { hll.serialize(w); }
    bool deserialize(byte_reader& r) { return hll.deserialize(r); }
    // Rounded: a count of distinct values is an integer.
    double result() const {
        return static_cast<double>(static_cast<std::uint64_t>(hll.estimate() + 0.5));
    }
};

// How a quantile between two ranks is chosen: `linear` (the default) interpolates between the
// two closest ranks, as numpy's default, pandas and DuckDB's quantile_cont do: with the n values
// in ascending order x[0..n-1], h = (n - 1) q and d = h - floor(h), x[floor(h)] (1 - d) +
// x[ceil(h)] d. `nearest` is the nearest rank, a value of the data: x[ceil(q n) - 1] (x[0] for
// q = 0), as DuckDB's quantile_disc.
enum class quantile_method : std::uint8_t { linear, nearest };

// median(f) and percentile(f, p, method) keep a (window, group)'s values exactly while there
// are at most this many (the node key exact_quantile_limit).
inline constexpr std::uint32_t k_default_exact_quantile_limit = 4096;

// median(f) and percentile(f, p, method) over finite numbers (NaN, +-inf, missing and wrong-typed
// values are skipped). No data when no number was seen.
//
// Exact while small: the values themselves are kept (8 bytes each) while there are at most
// `limit` of them, and quantiles are exact. The value beyond the limit moves them all into a
// DDSketch (sketch::ddsketch, relative accuracy alpha), which answers from then on: nearest
// within alpha of the exact nearest-rank value; linear interpolates between the sketch's values
// of the two closest ranks, within alpha of the exact value when both ranks have the same sign.
// Merging stays exact while the merged count is within the limit. approximate() says which.
struct quantile_acc {
    // The values, in no particular order, while exact; empty once sketched.
    sketch::pooled_vector<double> values;
    std::unique_ptr<sketch::ddsketch> sketch;  // null while exact
    std::uint32_t limit = k_default_exact_quantile_limit;

    quantile_acc() = default;
    explicit quantile_acc(std::uint32_t exact_limit) : limit(exact_limit) {}
    quantile_acc(const quantile_acc& o);
    quantile_acc& operator=(const quantile_acc& o);
    quantile_acc(quantile_acc&&) noexcept = default;
    quantile_acc& operator=(quantile_acc&&) noexcept = default;
    ~quantile_acc() = default;

    void add(const field_value& v) {
        double x;
        if (!finite_number(v, x)) return;
        if (sketch) {
            sketch->add(x);
        } else if (values.size() < limit) {
            // Room for a few from the first on: growing one by one would allocate at 1, 2, 4
            // and 8 values.
            if (values.capacity() == 0) values.reserve(std::min<std::uint32_t>(limit, 8));
            values.push_back(x);
        } else {
            to_sketch();
            sketch->add(x);
        }
    }
    // A hint that add() follows soon: fetches the line the next exact value goes to.
    void prefetch() const {
        if (values.size() < values.capacity()) weir::prefetch(values.data() + values.size());
    }
    void merge(const quantile_acc& o);
    // Bytes: 0 and the values while exact, 1 and the sketch once sketched. A restore into an
    // accumulator with a smaller limit than the values it holds sketches them.
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);
    // A bare sketch, the state written before exact values were kept: restored sketched.
    bool deserialize_sketch(byte_reader& r);

    // q in [0, 1]; `scratch` is working memory (it receives a copy of the values).
    std::optional<double> quantile(double q, quantile_method method,
                                   std::vector<double>& scratch) const;
    bool approximate() const { return sketch != nullptr; }
    std::uint64_t count() const { return sketch ? sketch->count() : values.size(); }
    std::size_t memory_bytes() const {
        return values.capacity() * sizeof(double) +
               (sketch ? sizeof(sketch::ddsketch) + sketch->memory_bytes() : 0);
    }

  private:
    // Moves the values into a new sketch.
    void to_sketch();
};

}  // namespace weir::measure
