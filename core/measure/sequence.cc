// Merging, serialisation and results of is_frozen, ordered_fraction and correlation.
#include "core/measure/sequence.h"

#include <algorithm>

namespace weir::measure {

void frozen_acc::merge(const frozen_acc& o) {
    if (o.n == 0) return;
    if (n == 0) {
        *this = o;
        return;
    }
    varied = varied || o.varied || o.first != first;
    n += o.n;
}

void frozen_acc::serialize(byte_writer& w) const {
    w.varint(n);
    w.u64(first);
    w.boolean(varied);
}

bool frozen_acc::deserialize(byte_reader& r) {
    n = r.varint();
    first = r.u64();
    varied = r.boolean();
    if (varied && n < 2) r.fail();
    return r.ok();
}

void ordered_acc::merge(const ordered_acc& later, sequence_order o) {
    if (later.n == 0) return;
    if (n == 0) {
        *this = later;
        return;
    }
    ordered += later.ordered + (in_order(last, later.first, o) ? 1 : 0);
    last = later.last;
    n += later.n;
}

void ordered_acc::serialize(byte_writer& w) const {
    w.varint(n);
    w.varint(ordered);
    w.f64(first);
    w.f64(last);
}

bool ordered_acc::deserialize(byte_reader& r) {
    n = r.varint();
    ordered = r.varint();
    first = r.f64();
    last = r.f64();
    if ((n > 0 && ordered > n - 1) || (n == 0 && ordered != 0) || std::isnan(first) ||
        std::isnan(last)) {
        r.fail();
    }
    return r.ok();
}

void event_order_acc::merge(const event_order_acc& later) {
    values.insert(values.end(), later.values.begin(), later.values.end());
}

void event_order_acc::serialize(byte_writer& w) const {
    w.varint(values.size());
    for (const auto& [t, x] : values) {
        w.i64(t);
        w.f64(x);
    }
}

bool event_order_acc::deserialize(byte_reader& r) {
    values.clear();
    const std::size_t n = r.count(16);  // an event time and a number each
    if (!r.ok()) return false;
    values.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const time_ns t = r.i64();
        const double x = r.f64();
        if (std::isnan(x)) r.fail();
        if (!r.ok()) return false;
        values.emplace_back(t, x);
    }
    return r.ok();
}

std::optional<double> event_order_acc::result(sequence_order o) const {
    if (values.size() < 2) return std::nullopt;
    std::vector<std::pair<time_ns, double>> sorted = values;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::uint64_t ok = 0;
    for (std::size_t i = 1; i < sorted.size(); ++i) {
        ok += in_order(sorted[i - 1].second, sorted[i].second, o) ? 1 : 0;
    }
    return static_cast<double>(ok) / static_cast<double>(sorted.size() - 1);
}

void correlation_acc::merge(const correlation_acc& o) {
    if (o.n == 0) return;
    if (n == 0) {
        *this = o;
        return;
    }
    const double na = static_cast<double>(n);
    const double nb = static_cast<double>(o.n);
    const double total = na + nb;
    const double dx = o.mean_a - mean_a;
    const double dy = o.mean_b - mean_b;
    const double w = na * nb / total;
    mean_a += dx * (nb / total);
    mean_b += dy * (nb / total);
    m2_a += o.m2_a + dx * dx * w;
    m2_b += o.m2_b + dy * dy * w;
    c_ab += o.c_ab + dx * dy * w;
    n += o.n;
}

void correlation_acc::serialize(byte_writer& w) const {
    w.varint(n);
    w.f64(mean_a);
    w.f64(mean_b);
    w.f64(m2_a);
    w.f64(m2_b);
    w.f64(c_ab);
}

bool correlation_acc::deserialize(byte_reader& r) {
    n = r.varint();
    mean_a = r.f64();
    mean_b = r.f64();
    m2_a = r.f64();
    m2_b = r.f64();
    c_ab = r.f64();
    for (double d : {mean_a, mean_b, m2_a, m2_b, c_ab})
        if (std::isnan(d)) r.fail();
    return r.ok();
}

std::optional<double> correlation_acc::result() const {
    if (n < 2 || !(m2_a > 0) || !(m2_b > 0)) return std::nullopt;
    return std::clamp(c_ab / std::sqrt(m2_a * m2_b), -1.0, 1.0);
}

}  // namespace weir::measure
