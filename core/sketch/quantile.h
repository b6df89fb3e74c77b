// DDSketch: a mergeable quantile sketch with relative accuracy, for median() and
// percentile(f, p). Small while a group's values span a small range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "core/checkpoint/byte_codec.h"

namespace weir::sketch {

// Guarantee: for a quantile q of the values added so far, with the nearest-rank definition —
// the value of rank ceil(q * n) in ascending order (rank 1 for q = 0) — quantile(q) returns x'
// with |x' - x| <= alpha * |x|, where x is that exact value. q = 0 and q = 1 return the exact
// minimum and maximum (kept alongside), and every answer is clamped into [min, max].
//
// How: values are bucketed by a logarithmic mapping, bucket i holding magnitudes in
// (gamma^(i-1), gamma^i] with gamma = (1 + alpha) / (1 - alpha); a bucket answers with
// 2 gamma^i / (gamma + 1), within alpha of everything it holds. Positive and negative values
// have a store each (by magnitude), zero has its own counter. Only finite numbers are added.
//
// Bound: each store keeps at most `max_buckets` consecutive buckets (default 2048: at
// alpha = 1% that spans magnitudes over a ratio of about 1e17, so real data rarely reach it).
// Beyond it the buckets of the smallest magnitudes are collapsed into the lowest kept bucket:
// the guarantee then holds for quantiles whose value has a magnitude at or above that bucket's
// lower bound, and quantiles among the collapsed magnitudes are over-estimated (for positive
// values) or under-estimated (for negative ones) in magnitude. collapsed() reports it.
//
// Memory: 4 bytes per bucket between the smallest and the largest magnitude seen, so a group
// whose values span a factor of 100 at alpha = 1% needs about 230 buckets, under 1 KB. Bucket
// counts are 32-bit with exact carries into a side table for the (rare) bucket that exceeds
// 2^32 - 1 values.
class ddsketch {
  public:
    static constexpr double k_default_alpha = 0.01;
    static constexpr std::uint32_t k_default_max_buckets = 2048;

    // alpha is clamped to [1e-4, 0.5]; max_buckets to at least 16.
    explicit ddsketch(double alpha = k_default_alpha,
                      std::uint32_t max_buckets = k_default_max_buckets);

    // Skips NaN and +-inf. Allocation-free unless the value extends the bucket range.
    void add(double x);
    // Both sketches must have the same alpha and max_buckets; returns false (and changes
    // nothing) if not. Commutative and associative (counts add) while nothing collapses.
    bool merge(const ddsketch& other);

    // q in [0, 1] (clamped); no data when the sketch is empty.
    std::optional<double> quantile(double q) const;
    std::optional<double> median() const { return quantile(0.5); }
    // The value of rank `rank` in ascending order (1-based, clamped into [1, count()]), within
    // the guarantee above; ranks 1 and count() are the exact minimum and maximum. No data when
    // the sketch is empty.
    std::optional<double> at_rank(std::uint64_t rank) const;

    std::uint64_t count() const { return count_; }
    double alpha() const { return alpha_; }
    bool collapsed() const { return positive_.collapsed || negative_.collapsed; }
    std::size_t memory_bytes() const;

    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

  private:
    // Consecutive buckets [offset, offset + counts.size()) of one sign, by magnitude.
    struct store {
        std::vector<std::uint32_t> counts;
        std::int32_t offset = 0;
        bool collapsed = false;  // indices below `offset` were folded into it

        bool empty() const { return counts.empty(); }
    };
    struct carry {
        std::int32_t index;
        std::uint8_t negative;  // which store
        std::uint64_t high;     // multiples of 2^32
    };

    std::int32_t index_of(double magnitude) const;
    // The bucket value of rank `rank` (clamped into [1, count_]); count_ > 0.
    double value_of_rank(std::uint64_t rank) const;
    double value_of(std::int32_t index) const;
    // Makes `index` addressable (growing or collapsing); returns the slot it maps to.
    std::size_t slot(store& s, bool negative, std::int32_t index);
    void add_count(store& s, bool negative, std::int32_t index, std::uint64_t n);
    std::uint64_t count_at(const store& s, bool negative, std::size_t k) const;
    void fold_carries(bool negative, std::int32_t below, std::int32_t into);

    double alpha_;
    double log_gamma_;      // ln(gamma)
    double inv_log_gamma_;  // 1 / ln(gamma)
    std::uint32_t max_buckets_;
    std::uint64_t count_ = 0;
    std::uint64_t zero_ = 0;
    double min_ = std::numeric_limits<double>::infinity();
    double max_ = -std::numeric_limits<double>::infinity();
    store positive_;
    store negative_;
    std::vector<carry> carries_;
};

}  // namespace weir::sketch
