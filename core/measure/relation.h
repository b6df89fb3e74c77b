// Accumulators of how two quantities of a record move together: the least-squares trend of a
// field against another field or against event time, rank correlations and Cramér's V.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/measure/common.h"
#include "core/measure/sequence.h"

namespace weir::measure {

// trend(x, t) and trend(x): the least-squares slope of x against t (x per unit of t; per second
// of event time without t) over the records where both are finite numbers. Keeps the means and
// the centred co-moments, updated per pair (Welford) and merged with the pairwise formula
// (Chan et al.), so values far from zero with a small spread (epoch seconds) lose no precision.
// No data below two pairs or when t has no spread (the slope is undefined, not 0).
struct trend_acc {
    // The co-moments of (t, x), merged as correlation() merges them: the slope is c_ab / m2_a.
    correlation_acc moments;

    void add(const field_value& x, const field_value& t) {
        double a;
        double b;
        if (!finite_number(x, a) || !finite_number(t, b)) return;
        moments.add_pair(b, a);
    }
    // x against event time, in seconds.
    void add(const field_value& x, time_ns event_time) {
        double a;
        if (!finite_number(x, a)) return;
        moments.add_pair(static_cast<double>(event_time) / 1e9, a);
    }
    void add_pair(double t, double x) { moments.add_pair(t, x); }
    void merge(const trend_acc& o) { moments.merge(o.moments); }
    void serialize(byte_writer& w) const { moments.serialize(w); }
    bool deserialize(byte_reader& r) { return moments.deserialize(r); }
    std::optional<double> result() const {
        if (moments.n < 2 || !(moments.m2_a > 0)) return std::nullopt;
        return moments.c_ab / moments.m2_a;
    }
};

// Pairs kept per pair of fields, window and group by the rank correlations and Cramér's V:
// 65 536 pairs (1 MiB).
inline constexpr std::uint64_t k_max_kept_pairs = 65'536;

// The pairs of two fields' values that a measure of their joint distribution needs, kept
// exactly up to k_max_kept_pairs. Past the bound the pairs are released and the results have
// no data (`capped`): a statistic of part of the window would look right and be wrong. Merge
// appends: commutative for the statistics below, which do not depend on the pairs' order.
struct kept_pairs {
    std::uint64_t n = 0;  // pairs seen, also past the bound
    std::vector<std::array<std::uint64_t, 2>> pairs;

    void add(std::uint64_t a, std::uint64_t b) {
        ++n;
        if (n <= k_max_kept_pairs) {
            pairs.push_back({a, b});
        } else if (!pairs.empty()) {
            std::vector<std::array<std::uint64_t, 2>>().swap(pairs);
        }
    }
    bool capped() const { return n > k_max_kept_pairs; }
    void merge(const kept_pairs& o);
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);
};

// spearman_correlation(a, b), kendall_correlation(a, b): over the records where both fields
// are finite numbers (the pairs kept as the doubles' bits).
//   Spearman: Pearson's r of the ranks, tied values sharing their mean rank.
//   Kendall: tau-b, (concordant - discordant) / sqrt((n0 - ties of a) (n0 - ties of b)) with
//   n0 = n (n - 1) / 2, computed in O(n log n) by counting the swaps of a merge sort (Knight).
// No data below two pairs, when either side is constant, and past the bound.
struct rank_pairs_acc {
    kept_pairs kept;

    void add(const field_value& a, const field_value& b) {
        double x;
        double y;
        if (!finite_number(a, x) || !finite_number(b, y)) return;
        // -0 and 0 are one value, as everywhere.
        kept.add(std::bit_cast<std::uint64_t>(x + 0.0), std::bit_cast<std::uint64_t>(y + 0.0));
    }
    void merge(const rank_pairs_acc& o) { kept.merge(o.kept); }
    void serialize(byte_writer& w) const { kept.serialize(w); }
    bool deserialize(byte_reader& r);
    std::optional<double> spearman() const;
    std::optional<double> kendall() const;
};

// cramers_v(a, b): Cramér's V of the contingency table of the two fields' values over the
// records where both are present (missing values and objects/arrays are skipped), values
// compared as the distinct-value functions compare them (a 64-bit hash: 1, "1" and true are
// three values). V = sqrt(chi2 / (n (min(rows, columns) - 1))), chi2 the Pearson statistic
// of independence, without bias correction. 0 for independent fields, 1 when either field
// determines the other. No data when either field has a single value, and past the bound.
struct category_pairs_acc {
    kept_pairs kept;

    void add(const field_value& a, const field_value& b);
    void merge(const category_pairs_acc& o) { kept.merge(o.kept); }
    void serialize(byte_writer& w) const { kept.serialize(w); }
    bool deserialize(byte_reader& r) { return kept.deserialize(r); }
    std::optional<double> result() const;
};

}  // namespace weir::measure
