// Merging and checkpointing the two-quantity accumulators.
#include "core/measure/relation.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/sketch/hash.h"

namespace weir::measure {

void kept_pairs::merge(const kept_pairs& o) {
    n += o.n;
    if (capped()) {
        std::vector<std::array<std::uint64_t, 2>>().swap(pairs);
        return;
    }
    pairs.insert(pairs.end(), o.pairs.begin(), o.pairs.end());
}

void kept_pairs::serialize(byte_writer& w) const {
    w.varint(n);
    w.varint(pairs.size());
    for (const auto& p : pairs) {
        w.u64(p[0]);
        w.u64(p[1]);
    }
}

bool kept_pairs::deserialize(byte_reader& r) {
    n = r.varint();
    const std::size_t k = r.count(16);
    pairs.clear();
    // Every pair is kept below the bound, none above it.
    if (k != (capped() ? 0 : n)) {
        r.fail();
        return false;
    }
    pairs.reserve(k);
    for (std::size_t i = 0; i < k && r.ok(); ++i) {
        const std::uint64_t a = r.u64();
        const std::uint64_t b = r.u64();
        pairs.push_back({a, b});
    }
    return r.ok();
}

namespace {

// Ranks 1..n of `v` (by value), tied values sharing the mean of their ranks.
std::vector<double> mean_ranks(const std::vector<double>& v) {
    std::vector<std::uint32_t> order(v.size());
    for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](std::uint32_t a, std::uint32_t b) { return v[a] < v[b]; });
    std::vector<double> ranks(v.size());
    for (std::size_t i = 0; i < order.size();) {
        std::size_t j = i + 1;
        while (j < order.size() && v[order[j]] == v[order[i]]) ++j;
        // Ranks i + 1 .. j share their mean.
        const double r = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2;
        for (std::size_t k = i; k < j; ++k) ranks[order[k]] = r;
        i = j;
    }
    return ranks;
}

// Pairs of equal values among the sorted `v`: the sum of t (t - 1) / 2 over runs of t.
std::uint64_t tied_pairs(const std::vector<double>& sorted) {
    std::uint64_t ties = 0;
    for (std::size_t i = 0; i < sorted.size();) {
        std::size_t j = i + 1;
        while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
        const std::uint64_t t = j - i;
        ties += t * (t - 1) / 2;
        i = j;
    }
    return ties;
}

// Sorts v[lo, hi) stably, returning the number of swaps an insertion sort would make
// (pairs out of order; equal values are in order).
std::uint64_t sort_counting_swaps(std::vector<double>& v, std::vector<double>& tmp, std::size_t lo,
                                  std::size_t hi) {
    if (hi - lo < 2) return 0;
    const std::size_t mid = lo + (hi - lo) / 2;
    std::uint64_t swaps =
        sort_counting_swaps(v, tmp, lo, mid) + sort_counting_swaps(v, tmp, mid, hi);
    std::size_t i = lo;
    std::size_t j = mid;
    std::size_t k = lo;
    while (i < mid && j < hi) {
        if (v[j] < v[i]) {
            swaps += mid - i;
            tmp[k++] = v[j++];
        } else {
            tmp[k++] = v[i++];
        }
    }
    while (i < mid) tmp[k++] = v[i++];
    while (j < hi) tmp[k++] = v[j++];
    std::copy(tmp.begin() + static_cast<std::ptrdiff_t>(lo),
              tmp.begin() + static_cast<std::ptrdiff_t>(hi),
              v.begin() + static_cast<std::ptrdiff_t>(lo));
    return swaps;
}

std::vector<std::pair<double, double>> as_numbers(const kept_pairs& kept) {
    std::vector<std::pair<double, double>> out;
    out.reserve(kept.pairs.size());
    for (const auto& p : kept.pairs) {
        out.emplace_back(std::bit_cast<double>(p[0]), std::bit_cast<double>(p[1]));
    }
    return out;
}

}  // namespace

bool rank_pairs_acc::deserialize(byte_reader& r) {
    if (!kept.deserialize(r)) return false;
    for (const auto& p : kept.pairs) {
        if (!std::isfinite(std::bit_cast<double>(p[0])) ||
            !std::isfinite(std::bit_cast<double>(p[1]))) {
            r.fail();
            return false;
        }
    }
    return true;
}

std::optional<double> rank_pairs_acc::spearman() const {
    if (kept.capped() || kept.pairs.size() < 2) return std::nullopt;
    const auto ps = as_numbers(kept);
    std::vector<double> a;
    std::vector<double> b;
    for (const auto& [x, y] : ps) {
        a.push_back(x);
        b.push_back(y);
    }
    const std::vector<double> ra = mean_ranks(a);
    const std::vector<double> rb = mean_ranks(b);
    // Pearson's r of the ranks, from centred sums (the mean rank is (n + 1) / 2).
    const double mean = (static_cast<double>(ps.size()) + 1) / 2;
    double saa = 0;
    double sbb = 0;
    double sab = 0;
    for (std::size_t i = 0; i < ps.size(); ++i) {
        const double da = ra[i] - mean;
        const double db = rb[i] - mean;
        saa += da * da;
        sbb += db * db;
        sab += da * db;
    }
    if (!(saa > 0) || !(sbb > 0)) return std::nullopt;
    return std::clamp(sab / std::sqrt(saa * sbb), -1.0, 1.0);
}

std::optional<double> rank_pairs_acc::kendall() const {
    if (kept.capped() || kept.pairs.size() < 2) return std::nullopt;
    auto ps = as_numbers(kept);
    std::sort(ps.begin(), ps.end());
    const std::uint64_t n = ps.size();
    const std::uint64_t n0 = n * (n - 1) / 2;
    std::vector<double> a;
    std::vector<double> b;
    for (const auto& [x, y] : ps) {
        a.push_back(x);
        b.push_back(y);
    }
    const std::uint64_t ties_a = tied_pairs(a);
    // Pairs tied in both: runs of equal (a, b) in the sorted pairs.
    std::uint64_t ties_ab = 0;
    for (std::size_t i = 0; i < ps.size();) {
        std::size_t j = i + 1;
        while (j < ps.size() && ps[j] == ps[i]) ++j;
        const std::uint64_t t = j - i;
        ties_ab += t * (t - 1) / 2;
        i = j;
    }
    // Sorted by a, then b: the swaps that sort b are the discordant pairs (pairs tied in a are
    // already in b's order and cost none).
    std::vector<double> tmp(b.size());
    const std::uint64_t discordant = sort_counting_swaps(b, tmp, 0, b.size());
    const std::uint64_t ties_b = tied_pairs(b);
    if (n0 == ties_a || n0 == ties_b) return std::nullopt;
    // concordant - discordant = n0 - ties_a - ties_b + ties_ab - 2 discordant
    const double s = static_cast<double>(n0) - static_cast<double>(ties_a) -
                     static_cast<double>(ties_b) + static_cast<double>(ties_ab) -
                     2 * static_cast<double>(discordant);
    const double d =
        std::sqrt(static_cast<double>(n0 - ties_a)) * std::sqrt(static_cast<double>(n0 - ties_b));
    return std::clamp(s / d, -1.0, 1.0);
}

void category_pairs_acc::add(const field_value& a, const field_value& b) {
    if (a.missing() || b.missing() || a.kind == value_kind::other || b.kind == value_kind::other) {
        return;
    }
    kept.add(hashing::hash_value(a), hashing::hash_value(b));
}

std::optional<double> category_pairs_acc::result() const {
    if (kept.capped() || kept.pairs.empty()) return std::nullopt;
    // Rows, columns and cells by sorting: no hash tables to size.
    std::vector<std::uint64_t> rows_of;
    std::vector<std::uint64_t> cols_of;
    for (const auto& p : kept.pairs) {
        rows_of.push_back(p[0]);
        cols_of.push_back(p[1]);
    }
    const auto totals = [](std::vector<std::uint64_t>& v) {
        std::sort(v.begin(), v.end());
        std::vector<std::pair<std::uint64_t, std::uint64_t>> out;  // (value, count)
        for (const std::uint64_t x : v) {
            if (out.empty() || out.back().first != x) out.emplace_back(x, 0);
            ++out.back().second;
        }
        return out;
    };
    const auto rows = totals(rows_of);
    const auto cols = totals(cols_of);
    if (rows.size() < 2 || cols.size() < 2) return std::nullopt;
    const auto count_of = [](const std::vector<std::pair<std::uint64_t, std::uint64_t>>& t,
                             std::uint64_t x) {
        return std::lower_bound(t.begin(), t.end(), std::pair<std::uint64_t, std::uint64_t>{x, 0})
            ->second;
    };
    auto cells = kept.pairs;
    std::sort(cells.begin(), cells.end());
    // chi2 = n (sum over cells of O^2 / (row total * column total) - 1); empty cells add 0.
    double sum = 0;
    for (std::size_t i = 0; i < cells.size();) {
        std::size_t j = i + 1;
        while (j < cells.size() && cells[j] == cells[i]) ++j;
        const double o = static_cast<double>(j - i);
        sum += o * o /
               (static_cast<double>(count_of(rows, cells[i][0])) *
                static_cast<double>(count_of(cols, cells[i][1])));
        i = j;
    }
    const double n = static_cast<double>(cells.size());
    const double chi2 = std::max(0.0, n * (sum - 1));
    const double k = static_cast<double>(std::min(rows.size(), cols.size()) - 1);
    return std::clamp(std::sqrt(chi2 / (n * k)), 0.0, 1.0);
}

}  // namespace weir::measure
