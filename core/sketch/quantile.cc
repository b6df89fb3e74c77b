// DDSketch: logarithmic bucket mapping, the two bucket stores with collapsing of the smallest
// magnitudes, exact 64-bit counts through a carry table, rank queries and serialisation.
#include "core/sketch/quantile.h"

#include <algorithm>
#include <cmath>

namespace weir::sketch {

namespace {

// Extra buckets allocated when a store grows, so a slowly widening range does not reallocate
// on every new extreme.
constexpr std::int64_t k_slack = 16;

}  // namespace

ddsketch::ddsketch(double alpha, std::uint32_t max_buckets)
    : alpha_(std::clamp(std::isnan(alpha) ? k_default_alpha : alpha, 1e-4, 0.5)),
      log_gamma_(std::log((1 + alpha_) / (1 - alpha_))),
      inv_log_gamma_(1 / log_gamma_),
      max_buckets_(std::max<std::uint32_t>(max_buckets, 16)) {}

std::int32_t ddsketch::index_of(double magnitude) const {
    return static_cast<std::int32_t>(std::ceil(std::log(magnitude) * inv_log_gamma_));
}

double ddsketch::value_of(std::int32_t index) const {
    // 2 gamma^i / (gamma + 1): the point of (gamma^(i-1), gamma^i] with equal relative
    // distance alpha to both ends.
    const double gamma = (1 + alpha_) / (1 - alpha_);
    return 2 * std::exp(index * log_gamma_) / (gamma + 1);
}

std::size_t ddsketch::memory_bytes() const {
    return (positive_.counts.capacity() + negative_.counts.capacity()) * sizeof(std::uint32_t) +
           carries_.capacity() * sizeof(carry);
}

std::uint64_t ddsketch::count_at(const store& s, bool negative, std::size_t k) const {
    std::uint64_t c = s.counts[k];
    if (!carries_.empty()) {
        const auto index = static_cast<std::int32_t>(s.offset + static_cast<std::int64_t>(k));
        for (const carry& cy : carries_)
            if (cy.index == index && (cy.negative != 0) == negative) c += cy.high << 32;
    }
    return c;
}

void ddsketch::fold_carries(bool negative, std::int32_t below, std::int32_t into) {
    for (carry& cy : carries_)
        if ((cy.negative != 0) == negative && cy.index < below) cy.index = into;
    // Merge carries that now share an index.
    std::sort(carries_.begin(), carries_.end(), [](const carry& a, const carry& b) {
        return a.negative != b.negative ? a.negative < b.negative : a.index < b.index;
    });
    std::size_t out = 0;
    for (std::size_t i = 0; i < carries_.size(); ++i) {
        if (out > 0 && carries_[out - 1].index == carries_[i].index &&
            carries_[out - 1].negative == carries_[i].negative) {
            carries_[out - 1].high += carries_[i].high;
        } else {
            carries_[out++] = carries_[i];
        }
    }
    carries_.resize(out);
}

std::size_t ddsketch::slot(store& s, bool negative, std::int32_t index) {
    if (s.empty()) {
        s.counts.assign(1, 0);
        s.offset = index;
        return 0;
    }
    const std::int64_t lo = s.offset;
    const std::int64_t hi = lo + static_cast<std::int64_t>(s.counts.size()) - 1;
    std::int64_t i = index;
    if (s.collapsed && i < lo) i = lo;  // below the collapse floor
    if (i >= lo && i <= hi) return static_cast<std::size_t>(i - lo);

    const std::int64_t max = max_buckets_;
    std::int64_t new_lo = std::min(lo, i);
    std::int64_t new_hi = std::max(hi, i);
    // Room to grow without reallocating next time, within the bucket limit.
    if (i > hi) new_hi = std::max(i, std::min(i + k_slack, new_lo + max - 1));
    if (i < lo) new_lo = std::min(i, std::max(i - k_slack, new_hi - max + 1));
    new_lo = std::max(new_lo, new_hi - max + 1);  // the floor: collapse what lies below
    const bool collapsing = new_lo > std::min(lo, i);

    std::vector<std::uint32_t> counts(static_cast<std::size_t>(new_hi - new_lo + 1), 0);
    if (collapsing)
        fold_carries(negative, static_cast<std::int32_t>(new_lo),
                     static_cast<std::int32_t>(new_lo));
    for (std::size_t k = 0; k < s.counts.size(); ++k) {
        const std::int64_t idx = std::max(lo + static_cast<std::int64_t>(k), new_lo);
        std::uint32_t& target = counts[static_cast<std::size_t>(idx - new_lo)];
        const std::uint64_t sum = std::uint64_t{target} + s.counts[k];
        target = static_cast<std::uint32_t>(sum);
        if (sum >> 32) {
            carries_.push_back(
                {static_cast<std::int32_t>(idx), negative ? std::uint8_t{1} : std::uint8_t{0}, 1});
            fold_carries(negative, std::numeric_limits<std::int32_t>::min(), 0);
        }
    }
    s.counts = std::move(counts);
    s.offset = static_cast<std::int32_t>(new_lo);
    s.collapsed = s.collapsed || collapsing;
    return static_cast<std::size_t>(std::max(i, new_lo) - new_lo);
}

void ddsketch::add_count(store& s, bool negative, std::int32_t index, std::uint64_t n) {
    const std::size_t k = slot(s, negative, index);
    const std::uint64_t sum = std::uint64_t{s.counts[k]} + (n & 0xffffffffu);
    s.counts[k] = static_cast<std::uint32_t>(sum);
    const std::uint64_t high = (n >> 32) + (sum >> 32);
    if (high == 0) return;
    carries_.push_back({static_cast<std::int32_t>(s.offset + static_cast<std::int64_t>(k)),
                        negative ? std::uint8_t{1} : std::uint8_t{0}, high});
    fold_carries(negative, std::numeric_limits<std::int32_t>::min(), 0);
}

void ddsketch::add(double x) {
    if (!std::isfinite(x)) return;
    ++count_;
    min_ = std::min(min_, x);
    max_ = std::max(max_, x);
    if (x == 0) {
        ++zero_;
        return;
    }
    const bool negative = x < 0;
    store& s = negative ? negative_ : positive_;
    const std::int32_t index = index_of(std::abs(x));
    const auto k = static_cast<std::uint64_t>(static_cast<std::int64_t>(index) - s.offset);
    if (k < s.counts.size()) {  // the common case: an existing bucket
        if (++s.counts[k] != 0) return;
        carries_.push_back({index, negative ? std::uint8_t{1} : std::uint8_t{0}, 1});
        fold_carries(negative, std::numeric_limits<std::int32_t>::min(), 0);
        return;
    }
    add_count(s, negative, index, 1);
}

bool ddsketch::merge(const ddsketch& other) {
    if (other.alpha_ != alpha_ || other.max_buckets_ != max_buckets_) return false;
    if (other.count_ == 0) return true;
    count_ += other.count_;
    zero_ += other.zero_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
    for (const bool negative : {false, true}) {
        const store& from = negative ? other.negative_ : other.positive_;
        store& to = negative ? negative_ : positive_;
        if (from.empty()) continue;
        // Extend once to the other's whole range, then add bucket by bucket.
        const auto top = static_cast<std::int32_t>(
            from.offset + static_cast<std::int64_t>(from.counts.size()) - 1);
        slot(to, negative, top);
        slot(to, negative, from.offset);
        for (std::size_t k = 0; k < from.counts.size(); ++k) {
            const std::uint64_t c = other.count_at(from, negative, k);
            if (c != 0) {
                add_count(to, negative,
                          static_cast<std::int32_t>(from.offset + static_cast<std::int64_t>(k)), c);
            }
        }
        to.collapsed = to.collapsed || from.collapsed;
    }
    return true;
}

std::optional<double> ddsketch::quantile(double q) const {
    if (count_ == 0) return std::nullopt;
    if (std::isnan(q)) q = 0.5;
    q = std::clamp(q, 0.0, 1.0);
    if (q == 0) return min_;
    if (q == 1) return max_;
    const auto n = static_cast<double>(count_);
    return value_of_rank(static_cast<std::uint64_t>(std::ceil(q * n)));
}

std::optional<double> ddsketch::at_rank(std::uint64_t rank) const {
    if (count_ == 0) return std::nullopt;
    if (rank <= 1) return min_;
    if (rank >= count_) return max_;
    return value_of_rank(rank);
}

double ddsketch::value_of_rank(std::uint64_t rank) const {
    rank = std::clamp<std::uint64_t>(rank, 1, count_);
    auto clamp = [&](double v) { return std::clamp(v, min_, max_); };
    std::uint64_t seen = 0;
    for (std::size_t k = negative_.counts.size(); k-- > 0;) {
        seen += count_at(negative_, true, k);
        if (seen >= rank) {
            return clamp(-value_of(
                static_cast<std::int32_t>(negative_.offset + static_cast<std::int64_t>(k))));
        }
    }
    seen += zero_;
    if (seen >= rank) return clamp(0.0);
    for (std::size_t k = 0; k < positive_.counts.size(); ++k) {
        seen += count_at(positive_, false, k);
        if (seen >= rank) {
            return clamp(value_of(
                static_cast<std::int32_t>(positive_.offset + static_cast<std::int64_t>(k))));
        }
    }
    return max_;  // unreachable while counts are consistent
}

void ddsketch::serialize(byte_writer& w) const {
    w.f64(alpha_);
    w.varint(max_buckets_);
    w.varint(count_);
    w.varint(zero_);
    w.f64(min_);
    w.f64(max_);
    for (const bool negative : {false, true}) {
        const store& s = negative ? negative_ : positive_;
        w.boolean(s.collapsed);
        w.svarint(s.offset);
        w.varint(s.counts.size());
        for (std::size_t k = 0; k < s.counts.size(); ++k) w.varint(count_at(s, negative, k));
    }
}

bool ddsketch::deserialize(byte_reader& r) {
    const double alpha = r.f64();
    const std::uint64_t max_buckets = r.varint();
    if (!r.ok()) return false;
    if (!(alpha >= 1e-4 && alpha <= 0.5) || max_buckets < 16 ||
        max_buckets > std::numeric_limits<std::uint32_t>::max()) {
        r.fail();
        return false;
    }
    ddsketch d(alpha, static_cast<std::uint32_t>(max_buckets));
    d.count_ = r.varint();
    d.zero_ = r.varint();
    d.min_ = r.f64();
    d.max_ = r.f64();
    std::uint64_t total = d.zero_;
    for (const bool negative : {false, true}) {
        store& s = negative ? d.negative_ : d.positive_;
        const bool collapsed = r.boolean();
        const std::int64_t offset = r.svarint();
        const std::size_t n = r.count(1);
        if (!r.ok()) return false;
        if (n > max_buckets || offset < std::numeric_limits<std::int32_t>::min() ||
            offset + static_cast<std::int64_t>(n) > std::numeric_limits<std::int32_t>::max()) {
            r.fail();
            return false;
        }
        if (n > 0) {
            s.counts.assign(n, 0);
            s.offset = static_cast<std::int32_t>(offset);
        }
        for (std::size_t k = 0; k < n && r.ok(); ++k) {
            const std::uint64_t c = r.varint();
            if (c > d.count_ - std::min(total, d.count_)) r.fail();
            total += c;
            if (c != 0 && r.ok()) {
                d.add_count(s, negative,
                            static_cast<std::int32_t>(offset + static_cast<std::int64_t>(k)), c);
            }
        }
        s.collapsed = collapsed;
    }
    if (!r.ok()) return false;
    const bool empty_ok = d.count_ != 0 || (std::isinf(d.min_) && d.min_ > 0 && std::isinf(d.max_));
    if (total != d.count_ || !empty_ok ||
        (d.count_ != 0 && !(std::isfinite(d.min_) && std::isfinite(d.max_) && d.min_ <= d.max_))) {
        r.fail();
        return false;
    }
    *this = std::move(d);
    return true;
}

}  // namespace weir::sketch
