// The state machine of a node's dependency; see dependency.h.
#include "core/window/dependency.h"

#include <limits>
#include <utility>

namespace weir::window {

const char* to_string(dependency_state s) {
    switch (s) {
        case dependency_state::up:
            return "up";
        case dependency_state::catching_up:
            return "catching_up";
        case dependency_state::down:
            return "down";
        case dependency_state::held:
            return "held";
        case dependency_state::ended:
            return "ended";
    }
    return "up";
}

dependency_monitor::dependency_monitor(dependency_spec spec, timestamp_ns wall_now)
    : spec_(std::move(spec)) {
    (void)wall_now;
}

namespace {

// How far `dependency` trails `node`; k_no_time when the node has no event time yet.
timestamp_ns trailing(const dependency_observation& o) {
    if (o.node_time == k_no_time) return k_no_time;
    if (o.dependency_time == k_no_time) return std::numeric_limits<timestamp_ns>::max();
    return o.node_time > o.dependency_time ? o.node_time - o.dependency_time : 0;
}

}  // namespace

bool dependency_monitor::update(const dependency_observation& o, timestamp_ns wall_now) {
    const dependency_state before = state_;
    const timestamp_ns behind_by = trailing(o);
    lag_ = behind_by == k_no_time ? 0 : behind_by;
    if (o.ended) {
        state_ = dependency_state::ended;
        down_since_ = k_no_time;
        return state_ != before;
    }
    const bool behind = behind_by != k_no_time && behind_by > spec_.max_lag;
    if (!behind) {
        state_ = dependency_state::up;
        down_since_ = k_no_time;
        hold_expired_ = false;
        return state_ != before;
    }
    bool catching_up = false;
    if (o.backlog > 0) {
        catching_up = true;
    } else if (o.backlog < 0) {
        catching_up = o.last_record != k_no_time && wall_now - o.last_record < spec_.max_lag;
    }
    if (catching_up) {
        state_ = dependency_state::catching_up;
        down_since_ = k_no_time;
        return state_ != before;
    }
    if (down_since_ == k_no_time) down_since_ = wall_now;
    if (spec_.on_down == on_down_action::continue_ || hold_expired_) {
        state_ = dependency_state::down;
    } else if (spec_.max_hold > 0 && wall_now - down_since_ >= spec_.max_hold) {
        hold_expired_ = true;
        ++holds_expired_;
        state_ = dependency_state::down;
    } else {
        state_ = dependency_state::held;
    }
    return state_ != before;
}

void dependency_monitor::finish(const dependency_observation& o, timestamp_ns wall_now) {
    dependency_observation last = o;
    last.ended = false;
    last.backlog = 0;  // nothing more will come
    if (o.ended) {
        // Its stream ended on its own: what it had is all there is, nothing to flag.
        update(o, wall_now);
        return;
    }
    update(last, wall_now);
    final_down_ = state_ == dependency_state::down || state_ == dependency_state::held;
    if (final_down_) state_ = dependency_state::down;
}

void dependency_monitor::serialize(byte_writer& w) const {
    w.u8(static_cast<std::uint8_t>(state_));
    w.i64(down_since_);
    w.boolean(hold_expired_);
    w.u64(holds_expired_);
}

bool dependency_monitor::deserialize(byte_reader& r) {
    const std::uint8_t s = r.u8();
    const timestamp_ns since = r.i64();
    const bool expired = r.boolean();
    const std::uint64_t count = r.u64();
    if (!r.ok() || s > static_cast<std::uint8_t>(dependency_state::ended)) {
        r.fail();
        return false;
    }
    state_ = static_cast<dependency_state>(s);
    down_since_ = since;
    hold_expired_ = expired;
    holds_expired_ = count;
    return true;
}

}  // namespace weir::window
