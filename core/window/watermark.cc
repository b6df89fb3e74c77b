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
    for (std::size_t i = 0; i < sources_.size(); ++i) {
        sources_[i].last_active = wall_now;
        sources_[i].id = std::to_string(i);
    }
}

watermark_tracker::watermark_tracker(timestamp_ns allowed_lateness, timestamp_ns idle_timeout,
                                     const std::vector<std::string>& source_ids,
                                     timestamp_ns wall_now)
    : allowed_lateness_(allowed_lateness), idle_timeout_(idle_timeout) {
    for (const auto& id : source_ids)
        sources_.push_back({k_no_time, wall_now, id, false, hold_mode::normal});
}

std::size_t watermark_tracker::add_source(timestamp_ns wall_now) {
    return add_source(std::to_string(sources_.size()), wall_now);
}

std::size_t watermark_tracker::add_source(std::string id, timestamp_ns wall_now) {
    sources_.push_back({k_no_time, wall_now, std::move(id), false, hold_mode::normal});
    settled_ = false;
    return sources_.size() - 1;
}

void watermark_tracker::remove_source(std::size_t source) {
    source_state& s = sources_[source];
    s.removed = true;
    s.max_event = k_no_time;
    settled_ = false;
}

std::size_t watermark_tracker::find_source(std::string_view id) const {
    for (std::size_t i = 0; i < sources_.size(); ++i) {
        if (!sources_[i].removed && sources_[i].id == id) return i;
    }
    return sources_.size();
}

timestamp_ns watermark_tracker::max_event_time() const {
    timestamp_ns m = k_no_time;
    for (const auto& s : sources_) m = std::max(m, s.max_event);
    return m;
}

timestamp_ns watermark_tracker::recompute(timestamp_ns wall_now) {
    settled_ = false;
    std::size_t slowest = sources_.size();
    // The first moment a source that is not idle now goes idle.
    timestamp_ns next_idle = std::numeric_limits<timestamp_ns>::max();
    timestamp_ns lowest_active = std::numeric_limits<timestamp_ns>::max();
    bool any_active = false;
    timestamp_ns highest = k_no_time;
    timestamp_ns last_activity = k_no_time;
    auto idle = [&](const source_state& s) {
        return idle_timeout_ > 0 && wall_now - s.last_active >= idle_timeout_;
    };
    // Pinned sources wait while the rest of the stream goes on (see hold_mode).
    bool normal_active = false;
    for (const auto& s : sources_) {
        if (!s.removed && (s.hold == hold_mode::normal || s.hold == hold_mode::caught_up) &&
            !idle(s)) {
            normal_active = true;
        }
    }
    bool caught_up_active = false;
    for (std::size_t i = 0; i < sources_.size(); ++i) {
        const source_state& s = sources_[i];
        if (s.removed) continue;
        if (idle_timeout_ > 0 && !idle(s)) {
            next_idle = std::min(next_idle, saturating_add(s.last_active, idle_timeout_));
        }
        highest = std::max(highest, s.max_event);
        last_activity = std::max(last_activity, s.last_active);
        if (s.hold == hold_mode::released) continue;
        if (s.hold == hold_mode::caught_up) {
            caught_up_active |= !idle(s);
            continue;
        }
        const bool waited_for =
            s.hold == hold_mode::held || (s.hold == hold_mode::pinned && normal_active);
        if (idle(s) && !waited_for) continue;
        any_active = true;
        if (s.max_event < lowest_active) {
            lowest_active = s.max_event;
            slowest = i;
        }
    }
    timestamp_ns candidate = k_no_time;
    if (any_active) {
        if (lowest_active != k_no_time) candidate = lowest_active - allowed_lateness_;
        // The other branches follow the newest event time or the wall clock: no shortcut.
        settled_ = true;
        slowest_ = slowest;
        settled_until_ = next_idle;
    } else if (caught_up_active) {
        // Every source that is not idle has delivered all it has: they are one stream.
        if (highest != k_no_time) candidate = highest - allowed_lateness_;
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
    std::size_t live = 0;
    for (const auto& s : sources_) live += !s.removed;
    w.varint(live);
    for (const auto& s : sources_) {
        if (s.removed) continue;
        w.str(s.id);
        w.i64(s.max_event);
        w.i64(s.last_active);
    }
    w.i64(watermark_);
}

bool watermark_tracker::deserialize(byte_reader& r) {
    settled_ = false;
    const std::size_t n = r.count(17);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        const std::string_view id = r.str();
        const timestamp_ns max_event = r.i64();
        const timestamp_ns last_active = r.i64();
        if (!r.ok()) break;
        const std::size_t at = find_source(id);
        if (at == sources_.size()) continue;  // gone since (a partition reassigned)
        sources_[at].max_event = max_event;
        sources_[at].last_active = last_active;
    }
    watermark_ = r.i64();
    return r.ok();
}

bool watermark_tracker::deserialize_by_index(byte_reader& r) {
    settled_ = false;
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
