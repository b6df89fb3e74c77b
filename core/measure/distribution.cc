// Histograms of small integers and the values above their mean.
#include "core/measure/distribution.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <string_view>

#include "core/measure/basic.h"
#include "core/sketch/hash.h"

namespace weir::measure {

void int_histogram::insert(std::uint32_t v, std::uint64_t count) {
    const auto it = std::lower_bound(bins_.begin(), bins_.end(), v,
                                     [](const auto& b, std::uint32_t x) { return b.first < x; });
    if (it != bins_.end() && it->first == v) {
        it->second += count;
        last_ = static_cast<std::size_t>(it - bins_.begin());
        return;
    }
    last_ = static_cast<std::size_t>(bins_.insert(it, {v, count}) - bins_.begin());
}

void int_histogram::merge(const int_histogram& o) {
    for (const auto& [v, c] : o.bins_) insert(v, c);
    n_ += o.n_;
}

void int_histogram::serialize(byte_writer& w) const {
    w.varint(bins_.size());
    for (const auto& [v, c] : bins_) {
        w.varint(v);
        w.varint(c);
    }
}

bool int_histogram::deserialize(byte_reader& r) {
    bins_.clear();
    n_ = 0;
    last_ = 0;
    const std::size_t k = r.count(2);
    bins_.reserve(k);
    for (std::size_t i = 0; i < k && r.ok(); ++i) {
        const std::uint64_t v = r.varint();
        const std::uint64_t c = r.varint();
        // Sorted, distinct, 32-bit values and non-zero counts, as serialize() writes them.
        if (v > 0xffffffffu || c == 0 || (!bins_.empty() && bins_.back().first >= v)) {
            r.fail();
            break;
        }
        bins_.emplace_back(static_cast<std::uint32_t>(v), c);
        n_ += c;
    }
    return r.ok();
}

std::optional<double> int_histogram::min() const {
    if (bins_.empty()) return std::nullopt;
    return static_cast<double>(bins_.front().first);
}

std::optional<double> int_histogram::max() const {
    if (bins_.empty()) return std::nullopt;
    return static_cast<double>(bins_.back().first);
}

std::optional<double> int_histogram::mean() const {
    if (n_ == 0) return std::nullopt;
    double total = 0;  // exact: integer products and sums far below 2^53
    for (const auto& [v, c] : bins_) total += static_cast<double>(v) * static_cast<double>(c);
    return total / static_cast<double>(n_);
}

std::optional<double> int_histogram::median() const {
    if (n_ == 0) return std::nullopt;
    // The values of ranks (n + 1) / 2 and n / 2 + 1 (1-based): one rank when n is odd.
    const std::uint64_t lo_rank = (n_ + 1) / 2;
    const std::uint64_t hi_rank = n_ / 2 + 1;
    std::uint64_t seen = 0;
    std::optional<std::uint32_t> lo;
    for (const auto& [v, c] : bins_) {
        seen += c;
        if (!lo && seen >= lo_rank) lo = v;
        if (seen >= hi_rank) {
            return (static_cast<double>(*lo) + static_cast<double>(v)) / 2;
        }
    }
    return std::nullopt;  // unreachable: the counts add up to n_
}

void length_histogram_acc::add(const field_value& v) {
    if (v.kind != value_kind::string || v.length == 0) return;
    lengths.add(utf8_length(v.string()));
}

digit_counts count_digits(double x) {
    // The longest fixed text of a double is the smallest subnormal's: "0." and 324 digits.
    char buf[400];
    const auto r = std::to_chars(buf, buf + sizeof buf, std::abs(x), std::chars_format::fixed);
    const std::string_view s(buf, static_cast<std::size_t>(r.ptr - buf));
    const std::size_t dot = s.find('.');
    if (dot == std::string_view::npos) return {static_cast<std::uint32_t>(s.size()), 0};
    return {static_cast<std::uint32_t>(dot), static_cast<std::uint32_t>(s.size() - dot - 1)};
}

int first_digit(double x) {
    // Scientific text starts with the first significant digit ("4.51e-02").
    char buf[32];
    std::to_chars(buf, buf + sizeof buf, std::abs(x), std::chars_format::scientific);
    return buf[0] - '0';
}

std::optional<double> benford_acc::result() const {
    std::uint64_t n = 0;
    for (const std::uint64_t c : counts) n += c;
    if (n == 0) return std::nullopt;
    double total = 0;
    for (int d = 1; d <= 9; ++d) {
        const double share = static_cast<double>(counts[d - 1]) / static_cast<double>(n);
        total += std::abs(share - std::log10(1.0 + 1.0 / d));
    }
    return total / 9;
}

void above_mean_acc::merge(const above_mean_acc& o) {
    n += o.n;
    if (capped()) {
        std::vector<double>().swap(values);
        return;
    }
    values.insert(values.end(), o.values.begin(), o.values.end());
}

void above_mean_acc::serialize(byte_writer& w) const {
    w.varint(n);
    w.varint(values.size());
    for (const double x : values) w.f64(x);
}

bool above_mean_acc::deserialize(byte_reader& r) {
    n = r.varint();
    const std::size_t k = r.count(8);
    values.clear();
    // Every value is kept below the bound, none above it.
    if (k != (capped() ? 0 : n)) {
        r.fail();
        return false;
    }
    values.reserve(k);
    for (std::size_t i = 0; i < k && r.ok(); ++i) {
        const double x = r.f64();
        if (!std::isfinite(x)) r.fail();
        values.push_back(x);
    }
    return r.ok();
}

std::optional<double> above_mean_acc::count() const {
    if (n == 0 || capped()) return std::nullopt;
    sum_acc s;
    for (const double x : values) s.add_number(x);
    const double mean = *s.mean();
    std::uint64_t above = 0;
    for (const double x : values) above += x > mean ? 1 : 0;
    return static_cast<double>(above);
}

std::optional<double> above_mean_acc::fraction() const {
    const auto c = count();
    if (!c) return std::nullopt;
    return *c / static_cast<double>(n);
}

bool equals_literal(const field_value& v, const measure_value& literal) {
    switch (literal.kind) {
        case measure_kind::null:
            return v.kind == value_kind::null || v.kind == value_kind::absent;
        case measure_kind::number:
            return v.kind == value_kind::number && v.number == literal.number;
        case measure_kind::string:
            return v.kind == value_kind::string && v.string() == literal.text;
        case measure_kind::boolean:
            return v.kind == value_kind::boolean && v.boolean == literal.boolean;
    }
    return false;
}

void heavy_hitters_acc::add_count(std::uint64_t hash, std::uint64_t count) {
    const auto it = std::lower_bound(counters_.begin(), counters_.end(), hash,
                                     [](const std::pair<std::uint64_t, std::uint64_t>& e,
                                        std::uint64_t h) { return e.first < h; });
    if (it != counters_.end() && it->first == hash) {
        it->second += count;
    } else {
        counters_.insert(it, {hash, count});
    }
}

void heavy_hitters_acc::shrink(std::size_t k) {
    if (counters_.size() <= k) return;
    std::vector<std::uint64_t> counts;
    counts.reserve(counters_.size());
    for (const auto& e : counters_) counts.push_back(e.second);
    // The (k + 1)-th largest count.
    std::nth_element(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(k), counts.end(),
                     std::greater<>());
    const std::uint64_t cut = counts[k];
    std::erase_if(counters_, [&](std::pair<std::uint64_t, std::uint64_t>& e) {
        e.second = e.second > cut ? e.second - cut : 0;
        return e.second == 0;
    });
}

void heavy_hitters_acc::add(const field_value& v, const heavy_hitters_config& c) {
    if (v.missing() || v.kind == value_kind::other) return;
    ++n_;
    add_count(hashing::hash_value(v), 1);
    // A new value in a full summary: every count goes down by one (the new one's to 0).
    shrink(c.k);
}

void heavy_hitters_acc::merge(const heavy_hitters_acc& o, const heavy_hitters_config& c) {
    for (const auto& [h, count] : o.counters_) add_count(h, count);
    n_ += o.n_;
    shrink(c.k);
}

void heavy_hitters_acc::serialize(byte_writer& w) const {
    w.varint(n_);
    w.varint(counters_.size());
    for (const auto& [h, count] : counters_) {
        w.u64(h);
        w.varint(count);
    }
}

bool heavy_hitters_acc::deserialize(byte_reader& r, const heavy_hitters_config& c) {
    n_ = r.varint();
    const std::size_t size = r.count(9);
    counters_.clear();
    if (size > c.k) {
        r.fail();
        return false;
    }
    std::uint64_t total = 0;
    for (std::size_t i = 0; i < size && r.ok(); ++i) {
        const std::uint64_t h = r.u64();
        const std::uint64_t count = r.varint();
        if (count == 0 || (!counters_.empty() && counters_.back().first >= h)) {
            r.fail();
            break;
        }
        counters_.emplace_back(h, count);
        total += count;
    }
    if (total > n_) r.fail();
    return r.ok();
}

std::optional<double> heavy_hitters_acc::result(const heavy_hitters_config& c) const {
    if (n_ == 0) return std::nullopt;
    std::uint64_t kept = 0;
    for (const auto& e : counters_) kept += e.second;
    // Integer arithmetic: count + (n - kept) / (k + 1) >= phi n, times (k + 1).
    const double bound = static_cast<double>(n_ - kept);
    const double k1 = static_cast<double>(c.k + 1);
    // A share of exactly phi counts (phi is a decimal that a double only approximates).
    const double need = c.phi * static_cast<double>(n_) * k1 * (1 - 1e-12);
    std::uint64_t hitters = 0;
    for (const auto& e : counters_) {
        hitters += static_cast<double>(e.second) * k1 + bound >= need ? 1 : 0;
    }
    return static_cast<double>(hitters);
}

}  // namespace weir::measure
