// Merging, serialisation and results of the basic accumulators.
#include "core/measure/basic.h"

namespace weir::measure {

namespace {

constexpr double k_ns_per_s = 1e9;

}  // namespace

bool count_acc::deserialize(byte_reader& r) {
    n = r.varint();
    return r.ok();
}

std::optional<double> count_acc::rate(time_ns window_length) const {
    if (window_length <= 0) return std::nullopt;
    return static_cast<double>(n) / (static_cast<double>(window_length) / k_ns_per_s);
}

void missing_acc::serialize(byte_writer& w) const {
    w.varint(records);
    w.varint(missing);
}

bool missing_acc::deserialize(byte_reader& r) {
    records = r.varint();
    missing = r.varint();
    if (missing > records) r.fail();
    return r.ok();
}

void sum_acc::merge(const sum_acc& o) {
    if (o.n == 0) return;
    const std::uint64_t count = n;
    add_number(o.sum);  // also carries the rounding error of this addition into compensation
    compensation += o.compensation;
    n = count + o.n;
}

void sum_acc::serialize(byte_writer& w) const {
    w.varint(n);
    w.f64(sum);
    w.f64(compensation);
}

bool sum_acc::deserialize(byte_reader& r) {
    n = r.varint();
    sum = r.f64();
    compensation = r.f64();
    if (!std::isfinite(sum) || !std::isfinite(compensation)) r.fail();
    return r.ok();
}

void moments_acc::merge(const moments_acc& o) {
    if (o.n == 0) return;
    if (n == 0) {
        *this = o;
        return;
    }
    const double na = static_cast<double>(n);
    const double nb = static_cast<double>(o.n);
    const double total = na + nb;
    const double delta = o.mean - mean;
    mean += delta * (nb / total);
    m2 += o.m2 + delta * delta * (na * nb / total);
    n += o.n;
}

void moments_acc::serialize(byte_writer& w) const {
    w.varint(n);
    w.f64(mean);
    w.f64(m2);
}

bool moments_acc::deserialize(byte_reader& r) {
    n = r.varint();
    mean = r.f64();
    m2 = r.f64();
    if (std::isnan(mean) || std::isnan(m2)) r.fail();
    return r.ok();
}

bool min_acc::deserialize(byte_reader& r) {
    value = r.f64();
    if (std::isnan(value) || value == -std::numeric_limits<double>::infinity()) r.fail();
    return r.ok();
}

bool max_acc::deserialize(byte_reader& r) {
    value = r.f64();
    if (std::isnan(value) || value == std::numeric_limits<double>::infinity()) r.fail();
    return r.ok();
}

void length_acc::merge(const length_acc& o) {
    n += o.n;
    total += o.total;
    min = std::min(min, o.min);
    max = std::max(max, o.max);
}

void length_acc::serialize(byte_writer& w) const {
    w.varint(n);
    w.varint(total);
    w.varint(min);
    w.varint(max);
}

bool length_acc::deserialize(byte_reader& r) {
    n = r.varint();
    total = r.varint();
    const std::uint64_t lo = r.varint();
    const std::uint64_t hi = r.varint();
    constexpr std::uint64_t k_max = std::numeric_limits<std::uint32_t>::max();
    if (lo > k_max || hi > k_max) r.fail();
    min = static_cast<std::uint32_t>(lo);
    max = static_cast<std::uint32_t>(hi);
    // min is 0 only where "" is a present value (empty_is_missing: false).
    if (n > 0 && min > max) r.fail();
    return r.ok();
}

std::optional<double> length_acc::min_length() const {
    if (n == 0) return std::nullopt;
    return static_cast<double>(min);
}

std::optional<double> length_acc::max_length() const {
    if (n == 0) return std::nullopt;
    return static_cast<double>(max);
}

bool freshness_acc::deserialize(byte_reader& r) {
    newest = r.i64();
    return r.ok();
}

std::optional<double> freshness_acc::result(time_ns now) const {
    if (newest == std::numeric_limits<time_ns>::min()) return std::nullopt;
    // Subtract as integers: doubles near 1.7e18 ns are only exact to about 256 ns.
    time_ns d;
    if (__builtin_sub_overflow(now, newest, &d)) d = std::numeric_limits<time_ns>::max();
    return static_cast<double>(d) / k_ns_per_s;
}

bool max_delay_acc::deserialize(byte_reader& r) {
    max_delay = r.i64();
    return r.ok();
}

std::optional<double> max_delay_acc::result() const {
    if (max_delay == std::numeric_limits<time_ns>::min()) return std::nullopt;
    return static_cast<double>(max_delay) / k_ns_per_s;
}

}  // namespace weir::measure
