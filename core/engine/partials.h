// Partials (DESIGN.md §3 "Scale-out"): what a partition-local engine hands to the merge step.
// A local engine reads one source (a file, a Kafka partition) and, instead of emitting windows,
// gives up each cell — a pane (or a session) of one group — once the source's event time has
// passed its end. The merge step (node_engine::absorb) combines the cells of every source in a
// fixed order and emits the windows, so one chain and N partition chains, in one daemon or in
// several, produce the same results.
//
// Several daemons: a lane's hand-overs are published to a partials topic as they happen, and
// the daemon that owns a partials partition merges them, so what a lane handed over survives
// its daemon. What it held does not: a lane that holds nothing but the records after a
// position can be replaced by one that starts at that position. So a lane *cuts* its
// partition (node_chain::cut): it hands everything over and starts afresh at the position,
// numbering its cells in an epoch the position decides (partition offset + 1). Between cuts a
// lane's exports follow from its records alone, so a lane that starts at a cut gives the cells
// of the dead one from there under the same (epoch, export_seq), and the merge step takes
// each once (it remembers a few epochs per source). A cut that no replay could know of would
// break that, so a lane registers each cut before what follows it leaves: it commits the
// partition's offset at its previous cut with the new cut's position pending in the commit
// metadata, and holds its hand-overs back until that commit is acknowledged. A replacement
// starts at the committed offset, cuts at the pending position too, and makes no cut of its
// own before the partition's end as of when it got it (cut_ledger).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/checkpoint/byte_codec.h"
#include "core/window/watermark.h"

namespace weir::engine {

struct partial_cell {
    // The export of the source that gave the cell up, counted from 1. Exports follow from the
    // source's records alone (never from a clock or from where a batch ended), so a local engine
    // that replays its source from a checkpoint gives the same cells the same numbers: the merge
    // step takes each number once per source and epoch (partial_batch::epoch).
    std::uint64_t export_seq = 0;
    std::string group;             // the encoded group values (empty: the node has no group_by)
    time::timestamp_ns start = 0;  // pane start, or the session's first record
    time::timestamp_ns last = 0;   // the latest event time of its records
    std::string block;             // the accumulators, as aggregate_layout::serialize writes them
};

// One hand-over: the cells given up since the last, then where the source stands. A batch
// without cells is a heartbeat: it tells the merge step how far the source has come.
struct partial_batch {
    std::string source;  // the source's stable id ("events/3"), the same in every daemon
    // The local engine that numbered the cells: a fresh one (no checkpoint of its own to go on
    // from) numbers from 1 again, in an epoch of its own; a restored one goes on in its epoch.
    std::uint64_t epoch = 0;
    time::timestamp_ns newest = window::k_no_time;  // newest event time of the source's records
    time::timestamp_ns first = window::k_no_time;   // event time of its first record
    bool active = false;                            // it delivered records since the last hand-over
    bool ended = false;  // a bounded source that ended: it holds nothing back any more
    std::vector<partial_cell> cells;

    void clear() {
        cells.clear();
        active = false;
    }
};

// ---- Several daemons: a lane's side of the cuts (see the top of this file) ----

// The epoch of a local engine that starts afresh at `offset` of its partition.
constexpr std::uint64_t epoch_at(std::int64_t offset) {
    return static_cast<std::uint64_t>(offset) + 1;
}

// The cuts of one partition a lane reads, and what it commits to register them. Not
// thread-safe; the lane's query drives it.
//
//   committed (C, "cut at P")   a lane that takes the partition starts at C in epoch_at(C),
//                               and cuts at P when it gets there (replay_cut)
//   cut(X) -> commit (P, "cut at X")   confirms P and registers X; what the lane hands over
//                               from X on is held until registered(true)
class cut_ledger {
  public:
    // Where the partition was committed (-1: never) and that commit's metadata ("" or a
    // foreign one: no cut pending); `end` is the partition's end offset when the lane got it
    // (-1: not known, then every owner before it is taken to have read nothing beyond the
    // commit).
    //
    // A lane makes no cut of its own before `end`: a lane that had the partition before may
    // have handed over cells from anywhere up to where it stopped — never beyond the end it
    // had then — in the epoch of its last cut, and a cut numbers its hand-over in that epoch.
    // Past `end`, this lane's cells in that epoch are a superset of the other's, under the same
    // numbers, so its hand-over comes after all of them.
    cut_ledger(std::int64_t committed, std::string_view note, std::int64_t end = -1);

    // The offset the lane starts at and cuts first (epoch_at), -1: at the first record it
    // reads (a partition never committed starts where every new owner starts, at its
    // beginning or its end).
    std::int64_t start() const { return start_; }
    // A cut the last owner registered, still ahead of the lane: it cuts there too.
    std::optional<std::int64_t> replay_cut() const { return replay_; }
    void replayed();
    // A lane that started at its first record (start() -1) read it at `offset`, and cut there.
    void began(std::int64_t offset);

    struct commit {
        std::int64_t offset = -1;  // the cut it confirms
        std::string note;          // the cut it registers
    };
    // A cut at `offset` (the next offset the lane reads; no earlier than the last cut): the
    // commit that registers it. nullopt: not now — nothing read yet, a registration is still
    // out, a cut to replay is still ahead, or `offset` is before the end the lane was given the
    // partition at (see the constructor). The commit confirms the cut before: every
    // hand-over released so far must have reached the partials topic before it is made.
    std::optional<commit> cut(std::int64_t offset);
    // The commit of the registration that is out, again (after it failed).
    std::optional<commit> outstanding() const;
    void registered(bool ok);
    // A cut is registered but its commit not acknowledged: hand-overs wait.
    bool holding() const { return holding_; }
    // The position of the latest cut (-1: none yet).
    std::int64_t last_cut() const { return last_; }

    static std::string note(std::int64_t pending);
    static std::optional<std::int64_t> pending_in(std::string_view note);

  private:
    std::int64_t start_ = -1;
    std::int64_t end_ = -1;
    std::optional<std::int64_t> replay_;
    std::int64_t confirmed_ = -1;  // the cut the latest registration confirms
    std::int64_t last_ = -1;
    bool holding_ = false;
};

// The wire form, for a partials topic and for checkpoints: versioned.
void encode_partial(const partial_batch& batch, byte_writer& w);
// False on corrupt or unknown bytes (the reader's error set); `batch` is then unspecified.
bool decode_partial(byte_reader& r, partial_batch& batch);

}  // namespace weir::engine
