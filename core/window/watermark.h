// The watermark of a node: the largest event time seen minus allowed_lateness, taken as the
// minimum over the node's sources (inputs, Kafka partitions), with idle sources left out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
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
    // `sources` anonymous sources (ids "0", "1", …).
    watermark_tracker(timestamp_ns allowed_lateness, timestamp_ns idle_timeout,
                      std::size_t sources = 1, timestamp_ns wall_now = 0);
    // Sources with stable ids (an input and its file or Kafka partition): a checkpoint restores
    // by id, so it fits when the set of sources changed meanwhile.
    watermark_tracker(timestamp_ns allowed_lateness, timestamp_ns idle_timeout,
                      const std::vector<std::string>& source_ids, timestamp_ns wall_now);

    // A new source (e.g. a Kafka partition assigned later); returns its index. It holds the
    // watermark back from `wall_now` until its first record or its idle timeout.
    std::size_t add_source(timestamp_ns wall_now);
    std::size_t add_source(std::string id, timestamp_ns wall_now);
    // The source went away (a partition revoked): it no longer holds the watermark back. Its
    // index stays reserved (indices are stable); observe() must not be called for it again.
    void remove_source(std::size_t source);
    // Indices ever handed out, removed ones included.
    std::size_t sources() const { return sources_.size(); }
    bool removed(std::size_t source) const { return sources_[source].removed; }
    const std::string& source_id(std::size_t source) const { return sources_[source].id; }
    // The index of the live source `id`, or sources() when there is none.
    std::size_t find_source(std::string_view id) const;

    // A record of `source` with this event time, arriving at `wall_now`.
    void observe(std::size_t source, timestamp_ns event_time, timestamp_ns wall_now) {
        source_state& s = sources_[source];
        if (event_time > s.max_event) {
            s.max_event = event_time;
            // Only the slowest source raises the minimum the watermark follows. (A source
            // waking up from idle may lower it, which the watermark ignores: it never goes
            // back.)
            if (source == slowest_) settled_ = false;
        }
        s.last_active = wall_now;
    }
    // The source is alive but had nothing to deliver (e.g. a Kafka partition at its end):
    // it keeps holding the watermark back.
    void touch(std::size_t source, timestamp_ns wall_now) {
        sources_[source].last_active = wall_now;
    }

    // How a source takes part in the watermark (depends_on, core/window/dependency.h):
    // `normal` holds it back until idle; `pinned` is exempt from idle_timeout while any normal
    // source is active (a dependency that is up; when every normal source is quiet too, the
    // stream as a whole is quiet and it goes idle like the others); `held` holds it back
    // whatever the others do (a dependency catching up, or down with on_down: hold);
    // `released` never holds it back (a dependency down otherwise, an input whose stream
    // ended). `caught_up` is a source that delivered everything there is so far (a file read
    // to its end while others still have a backlog): it does not hold the watermark back
    // while other sources do, since what it writes next is written now; when no source holds
    // it back any more, the watermark follows the newest event time of all, as if the sources
    // were one (never the wall clock, as when everything is quiet).
    enum class hold_mode : std::uint8_t { normal, pinned, held, released, caught_up };
    void set_hold(std::size_t source, hold_mode mode) {
        sources_[source].hold = mode;
        settled_ = false;
    }
    hold_mode hold(std::size_t source) const { return sources_[source].hold; }
    timestamp_ns source_max_event(std::size_t source) const { return sources_[source].max_event; }
    timestamp_ns source_last_active(std::size_t source) const {
        return sources_[source].last_active;
    }

    // Recomputes the watermark at `wall_now`; returns it (k_no_time when there is none yet).
    // O(1) while the watermark follows the slowest of the active sources, that source has not
    // advanced since, no source went idle, and no source came, went or changed its hold;
    // O(sources) otherwise.
    timestamp_ns update(timestamp_ns wall_now) {
        if (settled_ && wall_now < settled_until_) return watermark_;
        return recompute(wall_now);
    }
    timestamp_ns watermark() const { return watermark_; }
    timestamp_ns max_event_time() const;

    // Back to the state of a new tracker at `wall_now`, keeping the sources (ids and removals).
    void reset(timestamp_ns wall_now) {
        for (auto& s : sources_) {
            s.max_event = k_no_time;
            s.last_active = wall_now;
        }
        watermark_ = k_no_time;
        settled_ = false;
    }

    // Sets the watermark to +infinity: a bounded input ended (close every window).
    void finish() { watermark_ = std::numeric_limits<timestamp_ns>::max(); }

    // The live sources by id, and the watermark.
    void serialize(byte_writer& w) const;
    // What serialize() wrote: saved sources are matched to this tracker's by id (a saved
    // source that is gone is forgotten; a source the save does not know keeps its fresh
    // state). False on corrupt input.
    bool deserialize(byte_reader& r);
    // The format before source ids (anonymous sources by index): the source count must match
    // this tracker's.
    bool deserialize_by_index(byte_reader& r);

  private:
    struct source_state {
        timestamp_ns max_event = k_no_time;
        timestamp_ns last_active = 0;  // wall clock
        std::string id;
        bool removed = false;
        hold_mode hold = hold_mode::normal;  // set by the owner, not checkpointed
    };

    timestamp_ns recompute(timestamp_ns wall_now);

    timestamp_ns allowed_lateness_;
    timestamp_ns idle_timeout_;
    std::vector<source_state> sources_;
    timestamp_ns watermark_ = k_no_time;
    // The last recompute() found the watermark following the slowest active source: until a
    // change above clears settled_, or wall time reaches settled_until_ (the first moment a
    // source goes idle), update() gives the same watermark.
    bool settled_ = false;
    std::size_t slowest_ = static_cast<std::size_t>(-1);
    timestamp_ns settled_until_ = 0;
};

}  // namespace weir::window
