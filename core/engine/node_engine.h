// The event-time engine of one node: assigns records to windows (tumbling, sliding by panes,
// session) per group, tracks the watermark, emits every window exactly once with its check
// results, and snapshots its whole state for checkpoints.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/check/assessment.h"
#include "core/checkpoint/byte_codec.h"
#include "core/engine/aggregates.h"
#include "core/engine/node_plan.h"
#include "core/engine/partials.h"
#include "core/measure/measure_expr.h"
#include "core/record/batch.h"
#include "core/record/huge_pages.h"
#include "core/result/check_result.h"
#include "core/window/watermark.h"

namespace weir::engine {

struct engine_stats {
    std::uint64_t records = 0;  // valid records received (late ones included)
    std::uint64_t late = 0;     // dropped: every window they belong to was emitted
    std::uint64_t invalid = 0;  // status != none, or no event time
    // Of `invalid`: kept despite a schema violation (on_invalid: keep), so used as records, not
    // dropped. Not in checkpoints: it only feeds the dropped-records metric's increments.
    std::uint64_t kept_invalid = 0;
    std::uint64_t group_overflow = 0;  // dropped: a new group beyond max_groups
    std::uint64_t windows = 0;         // (window, group) pairs emitted
    std::uint64_t results = 0;         // check results emitted (after the emit filter)
    // (window, group) pairs not emitted: see node_plan::max_empty_windows and
    // max_empty_windows_per_group.
    std::uint64_t skipped_empty_windows = 0;
    // Merge step: cells of a source taken already (a partial handed over again after a restart
    // or a rebalance), not merged twice. Not in checkpoints.
    std::uint64_t duplicate_cells = 0;

    engine_stats& operator+=(const engine_stats& o) {
        records += o.records;
        late += o.late;
        invalid += o.invalid;
        kept_invalid += o.kept_invalid;
        group_overflow += o.group_overflow;
        windows += o.windows;
        results += o.results;
        skipped_empty_windows += o.skipped_empty_windows;
        duplicate_cells += o.duplicate_cells;
        return *this;
    }
    // Takes away counts included in these (o was taken from the same engine earlier).
    engine_stats& operator-=(const engine_stats& o) {
        records -= o.records;
        late -= o.late;
        invalid -= o.invalid;
        kept_invalid -= o.kept_invalid;
        group_overflow -= o.group_overflow;
        windows -= o.windows;
        results -= o.results;
        skipped_empty_windows -= o.skipped_empty_windows;
        duplicate_cells -= o.duplicate_cells;
        return *this;
    }
};

// Operator commands on checks against history (`weir baseline reset|acknowledge`).
enum class history_command : std::uint8_t {
    reset,        // forget the history: the series warms up again
    acknowledge,  // learn the values held out as anomalous: a new level becomes the baseline
};

class node_engine {
  public:
    // Compiles the plan: parses measures and assessments, resolves fields to slots. Set-up
    // code: throws std::invalid_argument with a message on anything invalid.
    explicit node_engine(node_plan plan, timestamp_ns wall_now = 0);
    ~node_engine();
    node_engine(const node_engine&) = delete;
    node_engine& operator=(const node_engine&) = delete;

    // Feeds one batch from watermark source `source`. event_times[i] is record i's event time
    // (window::k_no_time when unknown: the record is counted invalid); empty for
    // processing-time nodes (every record then takes arrival_time). Windows the new watermark
    // closes are appended to `out` (emitted_at = arrival_time). Indices of late records are
    // appended to `late` when given (for late_output). Hot path: no allocation in the steady
    // state, no exceptions.
    void process(const record_batch& batch, std::span<const timestamp_ns> event_times,
                 timestamp_ns arrival_time, std::vector<check_result>& out,
                 std::vector<std::uint32_t>* late = nullptr, std::size_t source = 0);

    // ---- Scale-out (DESIGN.md §3): local-global aggregation, see core/engine/partials.h ----
    // Partition-local: the engine reads one source and emits no windows. It gives up each cell
    // as a partial once the source's newest event time, less allowed_lateness, has passed the
    // cell's end (a session's: its last record + gap). A record for a cell given up already
    // starts a new one, given up at once: the merge step judges whether it is late. `sink` takes
    // the hand-over at the end of each process() that gave cells up, at finish() and
    // hand_over_all(); it may move the cells out. A process() that only moved the source on
    // hands over where the merge step may close a window with it (the progress, less
    // allowed_lateness, passes a pane's end; sessions: always), or when 100 ms (half the
    // idle_timeout, where shorter) have passed since the last: so a source read in small bites
    // does not make a message a bite.
    // Set before the first record; not for processing-time windows (std::invalid_argument).
    void set_partial_sink(std::function<void(partial_batch&)> sink);
    // Gives up every cell now, whatever its end, and hands over: the engine then holds nothing
    // the merge step lacks (before a checkpoint of the merge step, or when its source goes).
    // A later record of such a cell starts a new one; the merge step merges both.
    void hand_over_all();
    // Partition-local, before its first record: the epoch of its cells (partial_batch::epoch)
    // in place of the random one set_partial_sink() draws. An engine that starts afresh where
    // its predecessor handed everything over (node_chain::cut) takes an epoch that position
    // decides, so a replay from there gives the same cells the same numbers in the same epoch.
    void set_epoch(std::uint64_t epoch);
    // Partition-local: the source delivered everything it has for now (a file read to its end,
    // while the merge step holds the watermark for it no more): every cell goes to the merge
    // step now and at the end of each process() until it has more again (false).
    void set_caught_up(bool caught_up);
    // Merge step: takes the partials of partition-local engines of the same plan in place of
    // records, each source's cells once (by export_seq). A cell waits in its window until the
    // window closes, and the cells of the sources are merged then in the order of the sources'
    // ids, so the order of arrival does not change a result. A source counts in the watermark
    // from its first hand-over; a source that ended stops holding it back. Windows that close
    // are appended to `out`.
    void absorb(const partial_batch& batch, timestamp_ns now, std::vector<check_result>& out);

    // Wall-clock tick: idle timeouts and processing-time windows.
    void advance(timestamp_ns now, std::vector<check_result>& out);
    // A step before the engine that orders its records (a join) promises that no record of
    // `source` comes before `event_time` any more: the source's newest event time moves there
    // (as a record's would), and windows the watermark passes close.
    void promise(std::size_t source, timestamp_ns event_time, timestamp_ns now,
                 std::vector<check_result>& out);

    // While one call emits many results (a window closing for 100 K groups), hands them over
    // in chunks of `chunk`: `flush(out)` consumes and clears `out`, so memory holds one chunk
    // instead of every group's results at once.
    void set_result_flush(std::size_t chunk,
                          std::function<void(std::vector<check_result>&)> flush) {
        flush_chunk_ = chunk;
        flush_ = std::move(flush);
    }

    // End of a bounded input: closes every window that holds records (and the empty ones
    // before them); later records are late.
    void finish(timestamp_ns now, std::vector<check_result>& out);

    // A new watermark source (e.g. a Kafka partition); returns its index.
    std::size_t add_source(timestamp_ns wall_now) {
        source_max_.push_back(window::k_no_time);
        return watermark_.add_source(wall_now);
    }
    std::size_t add_source(std::string id, timestamp_ns wall_now) {
        source_max_.push_back(window::k_no_time);
        return watermark_.add_source(std::move(id), wall_now);
    }
    // The source went away: it no longer holds the watermark back (see watermark_tracker).
    void remove_source(std::size_t source) { watermark_.remove_source(source); }
    const window::watermark_tracker& watermark_sources() const { return watermark_; }
    // How a source holds the watermark back (depends_on, end_when): see watermark_tracker.
    void set_source_hold(std::size_t source, window::watermark_tracker::hold_mode mode) {
        watermark_.set_hold(source, mode);
    }
    window::watermark_tracker::hold_mode source_hold(std::size_t source) const {
        return watermark_.hold(source);
    }

    // Checkpoint of the whole state, versioned; restore() into an engine compiled from the
    // same plan. On false (corrupt, truncated or incompatible bytes, reader's error set) the
    // engine is reset to its freshly compiled state.
    void snapshot(byte_writer& w) const;
    bool restore(byte_reader& r);

    // The same snapshot in slices, so a large state does not hold its thread for long: call
    // until it returns true; each call writes at least one group and stops after `budget`
    // (bytes written, or a deadline of the steady clock). The engine must not change between
    // the calls (the query pauses its inputs meanwhile).
    struct snapshot_cursor {
        bool started = false;
        std::size_t next_group = 0;
    };
    struct slice_budget {
        std::size_t bytes = std::numeric_limits<std::size_t>::max();
        std::chrono::steady_clock::time_point deadline =
            std::chrono::steady_clock::time_point::max();
    };
    bool snapshot_some(byte_writer& w, snapshot_cursor& cursor, const slice_budget& budget) const;

    // Applies `cmd` to the history of check `check` ("" : every check of the node that judges
    // against history) for the group `group` (null: every group). nullopt when the node has no
    // such check; else the number of (check, group) series affected (0 when the group has no
    // history yet).
    std::optional<std::size_t> command_history(history_command cmd, std::string_view check,
                                               const group_key* group);

    // The history of checks against history, a checkpoint section of its own (apart from
    // snapshot(), so that it survives a plan change that drops the windows): each
    // assessment's series, restored only into an assessment of the same name and identity
    // (history_model::identity()); the others start afresh. False on corrupt bytes.
    bool has_history() const;
    void snapshot_history(byte_writer& w) const;
    bool restore_history(byte_reader& r);

    // What the runtime knows of the node's inputs now (input_lag(), input_lag_seconds()); NaN:
    // not known.
    void set_input_gauges(double lag, double lag_seconds) {
        gauges_.lag = lag;
        gauges_.lag_seconds = lag_seconds;
    }

    const engine_stats& stats() const { return stats_; }
    timestamp_ns watermark() const { return watermark_.watermark(); }
    const node_plan& plan() const { return plan_; }
    const aggregate_layout& layout() const { return *layout_; }
    // The node's schema-drift tracker (see aggregate_layout::attach_drift); it must outlive
    // the engine's use of it.
    void attach_drift(const schema::drift_tracker* tracker) { layout_->attach_drift(tracker); }
    std::size_t live_groups() const { return live_groups_; }
    std::size_t live_cells() const { return live_cells_; }
    // Bytes held by windows and groups (accumulator heap memory of sketches excluded).
    std::size_t memory_bytes() const;

  private:
    std::size_t flush_chunk_ = 0;
    std::function<void(std::vector<check_result>&)> flush_;
    struct compiled_check;
    struct group_state;
    struct cell_meta;

    static constexpr std::uint32_t k_nil = 0xffffffffu;

    // cells
    cell_meta& meta(std::uint32_t c) const;
    std::byte* block(std::uint32_t c) const;
    std::uint32_t allocate_cell(timestamp_ns start);
    void release_cell(std::uint32_t c);
    // When no cell is live: gives the cells' memory back to the system (the input ended, so
    // the pool that held every window of every group is not needed again).
    void release_cell_memory();

    // groups
    // `hash`: key_hash(key), the encoded group values' hash.
    std::uint32_t find_or_add_group(std::string_view key, std::uint32_t hash, bool& overflow);
    std::uint32_t insert_group(std::string_view key, std::uint32_t hash);
    void drop_group(std::uint32_t g);
    // The table at `capacity` slots (a power of two), its groups placed again.
    void rehash(std::size_t capacity);
    // Puts a slot (make_slot) in the first free place of its probe chain.
    void place_slot(std::uint64_t slot);

    // windows
    // Returns the cell the record went to.
    std::uint32_t add_record(std::uint32_t g, const record_batch& batch, std::size_t i,
                             timestamp_ns t, timestamp_ns arrival, bool valid, bool kept = false);
    // The group's cell of the pane starting at `pane_start`, made when it has none.
    std::uint32_t pane_cell(std::uint32_t g, timestamp_ns pane_start, timestamp_ns t);
    // The group's session that takes event times from..to (sessions within a gap of it merge
    // into one), made when none does.
    std::uint32_t session_cell(std::uint32_t g, timestamp_ns from, timestamp_ns to);
    std::uint32_t find_group(std::string_view key, std::uint32_t hash) const;
    // Fetch ahead what find_group(…, hash) will read: the key's table slot, then (once the
    // slot is in cache) its group. Hints only: they change nothing.
    void prefetch_slot(std::uint32_t hash) const;
    void prefetch_group(std::uint32_t hash) const;
    // Then (once the group is in cache) its newest cell.
    void prefetch_cell(std::uint32_t hash) const;
    // Then (once the cell is in cache) the heap memory its sketches point to.
    void prefetch_heap(std::uint32_t hash, std::span<const field_value> record) const;
    // The group whose slot carries `hash` among the first few probed, or k_nil: what a
    // prefetch fetches (it may be another group with the same hash; find_group decides).
    std::uint32_t probable_group(std::uint32_t hash) const;
    bool session_overlaps(std::uint32_t g, timestamp_ns t) const;
    void push_session(std::uint32_t g, std::uint32_t c);
    void emit_until(timestamp_ns new_watermark, timestamp_ns now, std::vector<check_result>& out);
    void emit_aligned(timestamp_ns from_end, timestamp_ns to_end, timestamp_ns now,
                      std::vector<check_result>& out);
    // `any_emitted`: a window went out (else every live group had used up its share of empty
    // windows in this advance, counted in `capped`).
    bool close_aligned(timestamp_ns start, timestamp_ns end, timestamp_ns now,
                       std::vector<check_result>& out, bool& any_records, bool& any_emitted,
                       std::size_t& capped);
    // Sliding windows of many panes: per group, folds of its panes in blocks of one window's
    // length, aligned to multiples of the window size (van Herk / Gil-Werman). In a block, the
    // suffixes (each pane merged with the later ones, built once per block) and, in the next
    // block, a prefix grown by a pane or two per close: a window is a suffix of one block merged
    // with a prefix of the next, so a close merges O(1) blocks instead of each of its panes, and
    // always in pane order (ordered_fraction). Derived state: a function of the panes alone, not
    // in snapshots, rebuilt after a restore and when a record reaches a pane already folded.
    // Only for layouts of plain counters (no heap memory to copy); costs (panes per window + 1)
    // blocks per group.
    struct pane_folds;
    bool folds_apply() const;
    // The group's block of the window [start, end) (null: no pane of it holds anything).
    const std::byte* folded_window(std::uint32_t g, timestamp_ns start, timestamp_ns end);
    void drop_folds(std::uint32_t g);
    void emit_sessions(timestamp_ns watermark, timestamp_ns now, std::vector<check_result>& out);
    // The sessions ended by `until` (their last record + gap), into due_ in the order they
    // close; taken off the heap (entries of sessions that grew meanwhile go back).
    void collect_due_sessions(timestamp_ns until);
    // `newest_record`: the group's newest valid event time up to the window's end (freshness()
    // of an empty window).
    void emit_window(std::uint32_t g, const std::byte* block, timestamp_ns start, timestamp_ns end,
                     timestamp_ns now, timestamp_ns newest_record, std::vector<check_result>& out);
    void note_newest_record(group_state& gs, std::uint32_t c) const;
    // Judges a check with an assessment against history; `evidence` is what the result shows.
    outcome judge_history(const compiled_check& cc, std::string_view key, timestamp_ns start,
                          const measure_value& v,
                          std::shared_ptr<const expected_evidence>& evidence);
    // Forgets the history of groups gone for longer than it reaches back.
    void prune_history(timestamp_ns start);
    // The node started after the window began: it holds only part of its records.
    bool is_partial(timestamp_ns start, timestamp_ns end) const;
    timestamp_ns min_open_start() const;
    timestamp_ns max_open_last_end() const;
    void clear_state();

    // Partition-local mode (set_partial_sink).
    // Gives up the cells the source's progress to `threshold` ends (closed_through_ is then how
    // far cells were given up).
    void export_until(timestamp_ns threshold);
    void export_cell(std::uint32_t g, std::uint32_t c);
    // Takes cell `c` out of its group's list (not released).
    void unlink_cell(group_state& gs, std::uint32_t c);
    // `now`: the wall clock of the process() that calls it (k_no_time: not from one).
    void hand_over(bool always, timestamp_ns now = window::k_no_time);
    std::function<void(partial_batch&)> partial_sink_;
    partial_batch partial_out_;
    std::uint64_t export_seq_ = 0;  // exports so far (checkpointed)
    std::uint64_t epoch_ = 0;       // partial_batch::epoch (checkpointed)
    bool export_open_ = false;      // export_seq_ numbers cells being given up now
    bool caught_up_ = false;        // set_caught_up(): every process() hands everything over
    // Wall clock of the last hand-over that came from a process() (k_no_time: none yet).
    timestamp_ns handed_over_at_ = window::k_no_time;

    // Merge mode (absorb). Per cell, until its first window closes: the sources' cells in it,
    // as (source index, serialized block), merged then in the order of the sources' ids.
    bool merging_ = false;
    struct cell_parts {
        bool settled = false;
        std::vector<std::pair<std::uint32_t, std::string>> parts;
    };
    std::vector<cell_parts> parts_;
    // By source: its latest epochs (the most recent last, at most k_epochs_kept), each with
    // the newest export_seq taken in it. More than one: a local engine that cut (cut_epoch)
    // and then died is replayed from an earlier cut, so its older epochs come again.
    struct seen_epoch {
        std::uint64_t epoch = 0;
        std::uint64_t seq = 0;
    };
    std::vector<std::vector<seen_epoch>> seen_;
    // The newest export_seq taken from `source` in `epoch` (made the source's latest).
    std::uint64_t& seen_seq(std::uint32_t source, std::uint64_t epoch);
    void enter_merge_mode();
    void absorb_cell(std::uint32_t source, const partial_cell& cell);
    void settle(std::uint32_t c);
    std::unique_ptr<std::byte[]> part_block_;

    node_plan plan_;
    bool grouped_ = false;
    bool sessions_ = false;
    timestamp_ns pane_ = 0;
    timestamp_ns size_ = 0;
    timestamp_ns step_ = 0;
    timestamp_ns ttl_ = 0;
    std::vector<std::uint32_t> group_slots_;
    std::unique_ptr<aggregate_layout> layout_;
    std::vector<std::unique_ptr<compiled_check>> checks_;

    // Cells (one per pane or session and group): fixed-stride, in chunks that never move.
    std::size_t stride_ = 0;
    std::vector<mapped_bytes> chunks_;
    std::uint32_t cell_count_ = 0;  // cells ever allocated (indices below are valid)
    std::uint32_t free_cells_ = k_nil;
    std::size_t live_cells_ = 0;

    // Groups: a vector with a free list, found through an open-addressing table.
    huge_vector<group_state> groups_;
    std::vector<std::uint32_t> free_groups_;
    huge_vector<std::uint64_t> table_;  // hash << 32 | (group index + 1); 0 is empty
    std::size_t live_groups_ = 0;
    // process(): the batch's encoded group keys, one after the other (record i's ends at
    // batch_key_ends_[i]), and their hashes; kept for their capacity.
    std::string batch_keys_;
    std::vector<std::uint32_t> batch_key_ends_;
    std::vector<std::uint32_t> batch_hashes_;
    // emit: changes — the previous outcome per (group, check), 0xff none; groups × tracked_.
    // tracked_ is the number of checks when one of them emits changes, else 0 (nothing kept).
    std::vector<std::uint8_t> last_outcome_;
    std::size_t tracked_ = 0;

    window::watermark_tracker watermark_;
    // Newest event time per source since start or restore (derived state, not checkpointed:
    // after a restore the first record of each source re-checks the watermark).
    std::vector<timestamp_ns> source_max_;
    // Windows ending at or before this were closed (emitted or never live).
    timestamp_ns closed_through_ = window::k_no_time;
    // Counts the advances of the watermark that close windows: a group's share of empty
    // windows is per advance (group_state::empty_advance).
    std::uint32_t advance_ = 0;
    bool finished_ = false;
    // Partial windows: those that began before the first record this engine received
    // (first_time_, event time) and could still take records when it was created (they ended
    // after started_wall_, wall clock, less the allowed lateness), so a replay of old data has
    // none. Checkpointed: a restored engine goes on with
    // the boundary of the run that started it, and a window emitted again is the same.
    bool awaiting_first_ = true;
    timestamp_ns first_time_ = window::k_no_time;
    timestamp_ns started_wall_ = 0;
    engine_stats stats_;

    // Pane folds (folds_apply()), by group; each fold covers panes that start before
    // fold_horizon_ (the end of the latest window closed with folds; k_no_time: none).
    std::vector<pane_folds> folds_;
    std::size_t fold_slots_ = 0;  // panes per window (0: folds do not apply)
    timestamp_ns fold_horizon_ = window::k_no_time;

    // Scratch, reused across windows.
    std::unique_ptr<std::byte[]> merge_block_;
    std::vector<measure_value> call_values_;
    std::vector<measure_value> check_values_;
    struct due_session {
        timestamp_ns end;
        std::uint32_t group;
        timestamp_ns start;
        std::uint32_t cell;
    };
    std::vector<due_session> due_;
    // Sessions by end (lazily corrected: an entry's end only grows behind it), in two parts:
    // those ending before session_horizon_ in a heap, the others unordered in session_later_.
    // The horizon moves a fraction of (gap + allowed_lateness) past the watermark at a time,
    // so the heap holds the few sessions about to end, not every open one: an open session's
    // entry comes due once per gap (to be put back at its actual end), and in one heap of
    // 100 K sessions each such turn missed the cache at every level (W6).
    struct session_entry {
        timestamp_ns end;
        std::uint32_t group;
        std::uint32_t cell;
        std::uint32_t gen;
    };
    std::vector<session_entry> session_heap_;
    std::vector<session_entry> session_later_;
    timestamp_ns session_horizon_ = window::k_no_time;
    timestamp_ns session_step_ = 1;
    void queue_session(const session_entry& e);
    // Whether collect_due_sessions(until) may find a session due.
    bool sessions_may_be_due(timestamp_ns until) const {
        return (!session_heap_.empty() && session_heap_.front().end <= until) ||
               (!session_later_.empty() && until >= session_horizon_);
    }
    // Partition-local sessions: the open ones by start (session_entry::end holds the start),
    // stale entries dropped lazily; the earliest start bounds the progress handed over.
    std::vector<session_entry> open_starts_;
    void push_open_start(std::uint32_t c);
    timestamp_ns earliest_open_start();
    std::unique_ptr<std::byte[]> empty_block_;
    timestamp_ns created_at_ = 0;
    aggregate_layout::input_gauges gauges_;
    // Per watermark source: its input among plan_.origins (k_any_origin: none, or not yet
    // known); derived from the source ids, so not checkpointed.
    std::vector<std::uint32_t> source_origin_;
    std::uint32_t origin_of(std::size_t source);
    std::uint32_t batch_origin_ = k_any_origin;  // the input of the batch process() adds
    // Checks against history: the window start up to which their stores were last pruned.
    timestamp_ns pruned_at_ = window::k_no_time;
};

}  // namespace weir::engine
