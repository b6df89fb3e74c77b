// The watermark of a node: the largest event time seen minus allowed_lateness, taken as the
// minimum over the node's sources (inputs, Kafka partitions), with idle sources left out.
#pragma once

#include <cstddef>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/window/window_spec.h"

namespace weir::window {

// Event times are the records' times; wall times come from the caller's (injectable) clock.
//
// A source holds the watermark back until it has seen a record, and while it is active. A
// source silent for idle_timeout (wall clock) is idle and no longer holds it back; its next
// record makes it active again. When every source is idle the stream as a whole is quiet, and
// the watermark then advances with the wall clock from the moment the last source went idle
// (max event time - allowed_lateness + wall time since), so the windows after the last record
// still close and `count() > 50` fails when data stops. The watermark never goes back.
class watermark_tracker {
  public:
    watermark_tracker(timestamp_ns allowed_lateness, timestamp_ns idle_timeout,
                      std::size_t sources = 1, timestamp_ns wall_now = 0);

    // A new source (e.g. a Kafka partition assigned later); returns its index. It holds the
    // watermark back from `wall_now` until its first record or its idle timeout.
    std::size_t add_source(timestamp_ns wall_now);
    std::size_t sources() const { return sources_.size(); }

    // A record of `source` with this event time, arriving at `wall_now`.
    void observe(std::size_t source, timestamp_ns event_time, timestamp_ns wall_now) {
        source_state& s = sources_[source];
        if (event_time > s.max_event) s.max_event = event_time;
        s.last_active = wall_now;
    }
    // The source is alive but had nothing to deliver (e.g. a Kafka partition at its end):
    // it keeps holding the watermark back.
    void touch(std::size_t source, timestamp_ns wall_now) {
        sources_[source].last_active = wall_now;
    }

    // Recomputes the watermark at `wall_now`; returns it (k_no_time when there is none yet).
    timestamp_ns update(timestamp_ns wall_now);
    timestamp_ns watermark() const { return watermark_; }
    timestamp_ns max_event_time() const;

    // Sets the watermark to +infinity: a bounded input ended (close every window).
    void finish() { watermark_ = std::numeric_limits<timestamp_ns>::max(); }

    void serialize(byte_writer& w) const;
    // The source count must match this tracker's; false on corrupt input.
    bool deserialize(byte_reader& r);

  private:
    struct source_state {
        timestamp_ns max_event = k_no_time;
        timestamp_ns last_active = 0;  // wall clock
    };

    timestamp_ns allowed_lateness_;
    timestamp_ns idle_timeout_;
    std::vector<source_state> sources_;
    timestamp_ns watermark_ = k_no_time;
};

}  // namespace weir::window
