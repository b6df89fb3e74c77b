// Rules every accumulator shares: which field values count as missing, and which count as a
// number. One place, so that count(f), mean(f) and in_range_fraction(f) agree on every record.
#pragma once

#include <cmath>
#include <cstdint>
#include <optional>

#include "core/record/field_value.h"
#include "core/time/timestamp.h"

namespace weir::measure {

// Every accumulator in core/measure follows one shape, so the window engine can keep them in
// contiguous arrays by kind and call them without virtual dispatch:
//   void add(...)                         per record; no allocation (frequency_acc amortises)
//   void merge(const T& other)            panes, partitions; associative and commutative
//                                         (ordered_fraction: associative, order-preserving)
//   void serialize(byte_writer&) const    checkpoint state
//   bool deserialize(byte_reader&)        false on corrupt input (reader's error is set)
//   result(...)                           std::nullopt means "no data" (value null in results)
// Anything an accumulator needs that is the same for every (window, group) — bounds, sets,
// regexes, placeholders, caps — lives in a shared immutable *_config passed to add().

// A number usable in arithmetic: finite. NaN and +-inf are skipped by sum, mean, variance,
// min, max and correlation (an infinity would turn every later result into inf or NaN).
inline bool finite_number(const field_value& v, double& out) {
    if (v.kind != value_kind::number) return false;
    out = v.number;
    return std::isfinite(out);
}

// Time stamps: nanoseconds since the Unix epoch, as core/time parses them.
using time_ns = time::timestamp_ns;

inline std::optional<double> ratio(std::uint64_t num, std::uint64_t den) {
    if (den == 0) return std::nullopt;
    return static_cast<double>(num) / static_cast<double>(den);
}

}  // namespace weir::measure
