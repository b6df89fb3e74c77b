// Partials (DESIGN.md §3 "Scale-out"): what a partition-local engine hands to the merge step.
// A local engine reads one source (a file, a Kafka partition) and, instead of emitting windows,
// gives up each cell — a pane (or a session) of one group — once the source's event time has
// passed its end. The merge step (node_engine::absorb) combines the cells of every source in a
// fixed order and emits the windows, so one chain and N partition chains, in one daemon or in
// several, produce the same results.
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
