// Event-time window shapes (tumbling, sliding, session) and the arithmetic that maps an event
// time to its panes and windows. Windows are aligned to the Unix epoch: [k*slide, k*slide+size).
#pragma once

#include <cstdint>
#include <limits>
#include <numeric>

#include "core/time/timestamp.h"

namespace weir::window {

using time::timestamp_ns;

// "No time yet": below every real event time.
inline constexpr timestamp_ns k_no_time = std::numeric_limits<timestamp_ns>::min();

enum class window_kind : std::uint8_t { tumbling, sliding, session };

struct window_spec {
    window_kind kind = window_kind::tumbling;
    timestamp_ns size = 60 * time::ns_per_s;  // tumbling, sliding
    timestamp_ns slide = 0;                   // sliding (tumbling: equal to size)
    timestamp_ns gap = 0;                     // session
    timestamp_ns allowed_lateness = 0;
    timestamp_ns idle_timeout = 0;  // 0: a silent source holds the watermark back forever

    // The effective slide: size for tumbling windows.
    timestamp_ns step() const { return kind == window_kind::sliding ? slide : size; }
    // Sliding windows are kept as panes of gcd(size, slide): every window is a whole number of
    // panes, so a record updates exactly one pane whatever size / slide is.
    timestamp_ns pane() const { return std::gcd(size, step()); }
};

// Floor division (event times before 1970 are negative).
constexpr timestamp_ns floor_div(timestamp_ns a, timestamp_ns b) {
    const timestamp_ns q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

constexpr timestamp_ns align_down(timestamp_ns t, timestamp_ns unit) {
    return floor_div(t, unit) * unit;
}

// The end of the last window containing `t`: every window containing t has ended once the
// watermark reaches it (then a record at t is late).
constexpr timestamp_ns last_window_end(timestamp_ns t, timestamp_ns size, timestamp_ns slide) {
    return align_down(t, slide) + size;
}

// The end of the first window containing `t` (the first one that closes).
constexpr timestamp_ns first_window_end(timestamp_ns t, timestamp_ns size, timestamp_ns slide) {
    // Windows containing t start in (t - size, t]; the earliest such start aligned to slide.
    return align_down(t - size, slide) + slide + size;
}

}  // namespace weir::window
