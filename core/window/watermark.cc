// Watermark tracking over a node's sources; see watermark.h.
#include "core/window/watermark.h"

#include <algorithm>

namespace weir::window {

namespace {

timestamp_ns saturating_add(timestamp_ns a, timestamp_ns b) {
    timestamp_ns r;
    if (__builtin_add_overflow(a, b, &r)) {
        return b > 0 ? std::numeric_limits<timestamp_ns>::max() : k_no_time;
    }
    return r;
}

}  // namespace

watermark_tracker::watermark_tracker(timestamp_ns allowed_lateness, timestamp_ns idle_timeout,
                                     std::size_t sources, timestamp_ns wall_now)
    : allowed_lateness_(allowed_lateness), idle_timeout_(idle_timeout) {
    sources_.resize(std::max<std::size_t>(sources, 1));
    for (auto& s : sources_) s.last_active = wall_now;
}

std::size_t watermark_tracker::add_source(timestamp_ns wall_now) {
    sources_.push_back({k_no_time, wall_now});
    return sources_.size() - 1;
}

timestamp_ns watermark_tracker::max_event_time() const {
    timestamp_ns m = k_no_time;
    for (const auto& s : sources_) m = std::max(m, s.max_event);
    return m;
}

timestamp_ns watermark_tracker::update(timestamp_ns wall_now) {
    timestamp_ns lowest_active = std::numeric_limits<timestamp_ns>::max();
    bool any_active = false;
    timestamp_ns highest = k_no_time;
    timestamp_ns last_activity = k_no_time;
    for (const auto& s : sources_) {
        highest = std::max(highest, s.max_event);
        last_activity = std::max(last_activity, s.last_active);
        const bool idle = idle_timeout_ > 0 && wall_now - s.last_active >= idle_timeout_;
        if (idle) continue;
        any_active = true;
        lowest_active = std::min(lowest_active, s.max_event);
    }
    timestamp_ns candidate = k_no_time;
    if (any_active) {
        if (lowest_active != k_no_time) candidate = lowest_active - allowed_lateness_;
    } else if (highest != k_no_time) {
        // Everything is quiet: event time moves on with the wall clock.
        const timestamp_ns quiet_for = wall_now - saturating_add(last_activity, idle_timeout_);
        candidate =
            saturating_add(highest - allowed_lateness_, std::max<timestamp_ns>(0, quiet_for));
    }
    watermark_ = std::max(watermark_, candidate);
    return watermark_;
}

void watermark_tracker::serialize(byte_writer& w) const {
    w.varint(sources_.size());
    for (const auto& s : sources_) {
        w.i64(s.max_event);
        w.i64(s.last_active);
    }
    w.i64(watermark_);
}

bool watermark_tracker::deserialize(byte_reader& r) {
    const std::size_t n = r.count(16);
    if (!r.ok() || n != sources_.size()) {
        r.fail();
        return false;
    }
    for (auto& s : sources_) {
        s.max_event = r.i64();
        s.last_active = r.i64();
    }
    watermark_ = r.i64();
    return r.ok();
}

}  // namespace weir::window
