// A node's dependency on one of its inputs (`depends_on`, DESIGN.md §2): whether the input is
// up, catching up on a backlog, or down, and what that does to the node's watermark and
// results. A pure state machine over event times, backlogs and the wall clock; the node chain
// feeds it and applies its verdict to the watermark sources of the input.
#pragma once

#include <cstdint>
#include <string>

#include "core/checkpoint/byte_codec.h"
#include "core/window/window_spec.h"

namespace weir::window {

enum class dependency_state : std::uint8_t {
    up,           // its event time is within max_lag of the node's
    catching_up,  // behind, but reading a backlog: never down
    down,         // behind and not catching up; with on_down: continue, results are flagged
    held,         // down with on_down: hold: the node's windows wait for it (up to max_hold)
    ended,        // its stream ended (end_when, or a bounded input at its end)
};
const char* to_string(dependency_state s);

enum class on_down_action : std::uint8_t { hold, continue_ };

struct dependency_spec {
    std::string input;  // the input depended on, one of the node's sources
    timestamp_ns max_lag = 0;
    on_down_action on_down = on_down_action::hold;
    timestamp_ns max_hold = 0;  // hold: how long (wall clock) at most; 0: no bound
};

// What the chain knows of the dependency when it asks.
struct dependency_observation {
    timestamp_ns dependency_time = k_no_time;  // the newest event time of its sources
    timestamp_ns node_time = k_no_time;        // the newest event time of the node's sources
    timestamp_ns last_record = k_no_time;      // wall clock of its last record (or its start)
    std::int64_t backlog = -1;                 // records behind its end (Kafka); -1: not known
    bool ended = false;                        // its stream ended
};

// The states:
//  - behind: the node has seen a record and the dependency's newest event time trails the
//    node's by more than max_lag (or it has none yet).
//  - up: not behind. catching_up: behind with a backlog (backlog > 0), or, with the backlog not
//    known (files, sockets), behind but a record came within max_lag of wall clock. down:
//    behind with no backlog (backlog 0), or silent for max_lag of wall clock.
//  - hold: a down dependency is `held` until it has been down for max_hold (wall clock); then
//    the hold has expired: it is `down` and treated as with on_down: continue until it is up
//    again (which clears the expiry).
// Watermark: a dependency holds the node's watermark back (up: exempt from idle_timeout while
// the node's other sources are active; catching up or held: always, its data is still to come)
// unless it is down and not held, or ended (released). Results of windows closed while it is down
// (not held) are flagged with its name when they end after its newest event time (the node chain
// decides that per window: a window its data reached is not flagged).
class dependency_monitor {
  public:
    dependency_monitor(dependency_spec spec, timestamp_ns wall_now);

    // Re-evaluates at `wall_now`; true when the state changed.
    bool update(const dependency_observation& o, timestamp_ns wall_now);
    // Every input ended (--once): a dependency still behind will not catch up. It is down,
    // and the windows closed now are flagged with it, held or not.
    void finish(const dependency_observation& o, timestamp_ns wall_now);

    const dependency_spec& spec() const { return spec_; }
    dependency_state state() const { return state_; }
    // Whether the dependency's sources hold the watermark back, exempt from idle_timeout.
    bool holds_watermark() const {
        return state_ != dependency_state::down && state_ != dependency_state::ended;
    }
    // Whether results of windows closing now carry its name in `dependency_down`.
    bool flags_results() const { return state_ == dependency_state::down || final_down_; }
    // How far its event time trails the node's (0 when it does not; ns; the largest
    // timestamp when it has no event time yet while the node has one).
    timestamp_ns lag() const { return lag_; }
    // Holds that ran out (max_hold) since start.
    std::uint64_t holds_expired() const { return holds_expired_; }
    bool hold_expired() const { return hold_expired_; }
    // Since when (wall clock) it has been down or held; k_no_time when it is not.
    timestamp_ns down_since() const { return down_since_; }

    // The state that must survive a restart: the state, since when it is down and whether
    // its hold expired (so max_hold counts across restarts).
    void serialize(byte_writer& w) const;
    bool deserialize(byte_reader& r);

  private:
    dependency_spec spec_;
    dependency_state state_ = dependency_state::up;
    timestamp_ns lag_ = 0;
    timestamp_ns down_since_ = k_no_time;
    bool hold_expired_ = false;
    bool final_down_ = false;
    std::uint64_t holds_expired_ = 0;
};

}  // namespace weir::window
