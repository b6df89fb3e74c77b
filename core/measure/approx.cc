// median and percentile: exact values while few, a DDSketch beyond.
#include "core/measure/approx.h"

#include <algorithm>
#include <cmath>

namespace weir::measure {

quantile_acc::quantile_acc(const quantile_acc& o)
    : values(o.values),
      sketch(o.sketch ? std::make_unique<sketch::ddsketch>(*o.sketch) : nullptr),
      limit(o.limit) {}

quantile_acc& quantile_acc::operator=(const quantile_acc& o) {
    if (this != &o) *this = quantile_acc(o);
    return *this;
}

void quantile_acc::to_sketch() {
    sketch = std::make_unique<sketch::ddsketch>();
    for (const double x : values) sketch->add(x);
    decltype(values)().swap(values);
}

void quantile_acc::merge(const quantile_acc& o) {
    if (!sketch && !o.sketch && values.size() + o.values.size() <= limit) {
        values.insert(values.end(), o.values.begin(), o.values.end());
        return;
    }
    if (!sketch) to_sketch();
    if (o.sketch) {
        sketch->merge(*o.sketch);
    } else {
        for (const double x : o.values) sketch->add(x);
    }
}

void quantile_acc::serialize(byte_writer& w) const {
    w.u8(sketch ? 1 : 0);
    if (sketch) {
        sketch->serialize(w);
        return;
    }
    w.varint(values.size());
    for (const double x : values) w.f64(x);
}

bool quantile_acc::deserialize_sketch(byte_reader& r) {
    values.clear();
    auto s = std::make_unique<sketch::ddsketch>();
    if (!s->deserialize(r)) return false;
    sketch = s->count() > 0 ? std::move(s) : nullptr;
    return r.ok();
}

bool quantile_acc::deserialize(byte_reader& r) {
    values.clear();
    sketch.reset();
    const std::uint8_t mode = r.u8();
    if (mode == 1) {
        auto s = std::make_unique<sketch::ddsketch>();
        if (!s->deserialize(r)) return false;
        sketch = std::move(s);
        return r.ok();
    }
    if (mode != 0) {
        r.fail();
        return false;
    }
    const std::size_t n = r.count(8);
    if (!r.ok()) return false;
    values.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const double x = r.f64();
        if (!r.ok()) return false;
        if (!std::isfinite(x)) {
            r.fail();
            return false;
        }
        values.push_back(x);
    }
    if (values.size() > limit) to_sketch();
    return true;
}

std::optional<double> quantile_acc::quantile(double q, quantile_method method,
                                             std::vector<double>& scratch) const {
    const std::uint64_t n = count();
    if (n == 0) return std::nullopt;
    q = std::isnan(q) ? 0.5 : std::clamp(q, 0.0, 1.0);
    if (method == quantile_method::nearest) {
        if (sketch) return sketch->quantile(q);
        // The rank as sketch::ddsketch::quantile computes it.
        const auto rank = std::clamp<std::uint64_t>(
            static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(n))), 1, n);
        scratch.assign(values.begin(), values.end());
        const auto k = static_cast<std::ptrdiff_t>(rank - 1);
        std::nth_element(scratch.begin(), scratch.begin() + k, scratch.end());
        return scratch[static_cast<std::size_t>(k)];
    }
    const double h = static_cast<double>(n - 1) * q;
    const double lo = std::floor(h);
    const double d = h - lo;
    const auto k = static_cast<std::uint64_t>(lo);  // 0-based rank of the lower value
    double a;
    double b;
    if (sketch) {
        a = *sketch->at_rank(k + 1);
        if (d == 0) return a;
        b = *sketch->at_rank(k + 2);
    } else {
        scratch.assign(values.begin(), values.end());
        const auto at = scratch.begin() + static_cast<std::ptrdiff_t>(k);
        std::nth_element(scratch.begin(), at, scratch.end());
        a = *at;
        if (d == 0) return a;
        b = *std::min_element(at + 1, scratch.end());
    }
    // As DuckDB's quantile_cont computes it, so that its results are matched exactly.
    return a * (1 - d) + b * d;
}

}  // namespace weir::measure
