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
// starts at the committed offset and cuts at the pending position too.
#pragma once

#include <cstdint>
#include <string>
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

// The wire form, for a partials topic and for checkpoints: versioned.
void encode_partial(const partial_batch& batch, byte_writer& w);
// False on corrupt or unknown bytes (the reader's error set); `batch` is then unspecified.
bool decode_partial(byte_reader& r, partial_batch& batch);

}  // namespace weir::engine
