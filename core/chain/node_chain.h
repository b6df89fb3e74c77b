// The data path of one managed query (DESIGN.md §3, STYLE.md "The data path"): every record an
// input delivers goes decode → schema → transforms → (join) → event time → engine, and what
// comes out — results, derived records, late records, dead letters — goes to a sink. The
// daemon's query schedules the chain (deliveries, ticks, the end of bounded inputs) and
// implements the sink (outputs, back-pressure, metrics, on_error); it never reaches into the
// steps. snapshot()/restore() cover every step, each in a section of its own.
//
// Not thread-safe: one chain is driven from one strand. No exception and no allocation per
// record on the hot path in the steady state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/chain/chain_plan.h"
#include "core/checkpoint/checkpoint_file.h"
#include "core/engine/node_engine.h"
#include "core/expr/scratch_arena.h"
#include "core/record/batch.h"
#include "core/record/delivery.h"
#include "core/result/check_result.h"
#include "core/schema/drift.h"
#include "core/window/dependency.h"

namespace weir::chain {

// A record the chain could not use, as log lines and dead letters describe it. Its views are
// valid during the sink call that hands it over.
struct record_problem {
    std::size_t input = 0;     // where it was read: chain_plan::inputs
    std::string_view source;   // a file's path, a Kafka "topic/partition"; "" when not known
    std::int64_t offset = -1;  // a byte offset in the file, a Kafka message offset; -1: unknown
    invalid_reason reason = invalid_reason::none;  // malformed, too_long, schema, bad_time
    std::string_view field;  // the field at fault; "" for the record as a whole
    std::string_view rule;   // what it broke: malformed, too_long, a schema rule, time
    std::string message;     // for people, e.g. `"2026-12-03 10:00:00": no time zone: …`
};

// Where the chain's products go. Called on the chain's strand, from inside the chain's calls.
class chain_sink {
  public:
    virtual ~chain_sink() = default;

    // A delivery of input `input` was decoded into `records` records, `invalid` of them
    // unusable (malformed, too long); `first` describes the first of those (null when
    // invalid is 0). False: stop here — the query failed, nothing of the delivery goes on.
    virtual bool on_decoded(std::size_t input, std::size_t records, std::size_t bytes,
                            std::size_t invalid, const record_problem* first) = 0;

    // Node `node` could not use `count` records of a batch: its schema rejected them
    // (on_invalid: drop or keep), or their event time is unreadable (bad_time, then dropped).
    // `first` describes the first; dead letters are written already. False: stop — the query
    // failed.
    virtual bool on_rejected(std::size_t node, std::size_t count, const record_problem& first) = 0;

    // The query cannot go on (a record violates a schema with on_invalid: fail). The chain
    // stops the delivery under way; the sink fails the query.
    virtual void on_failure(const std::string& message) = 0;

    // Node `node` is about to write these results (a window closed), for metrics.
    virtual void on_results(std::size_t node, std::span<const check_result> results) = 0;

    // Whether `count` results or records of node `node` may go to `output` now: false sheds
    // them (back-pressure, when_full: drop_newest), counted by the sink.
    virtual bool admit(std::size_t node, output_index output, std::size_t count) = 0;

    // A live tap (`weir tap`): whether someone watches the records of node `node` now. Asked
    // once per batch, so it must cost next to nothing (a relaxed atomic load); when true, the
    // node's records that pass its transforms go to tap_record, one by one, until it returns
    // false (enough for now); tap_skipped then says how many of the batch it did not see.
    virtual bool tapping(std::size_t node) {
        (void)node;
        return false;
    }
    virtual bool tap_record(std::size_t node, std::string_view json) {
        (void)node;
        (void)json;
        return false;
    }
    virtual void tap_skipped(std::size_t node, std::size_t count) {
        (void)node;
        (void)count;
    }

    // Dependency `dependency` of node `node` (node_plan::depends_on) changed state from
    // `before`; dependencies(node) has the new one. For logs.
    virtual void on_dependency(std::size_t node, std::size_t dependency,
                               window::dependency_state before) {
        (void)node;
        (void)dependency;
        (void)before;
    }
    // Input `input` ended its stream (a record matched its end_when): the chain takes nothing
    // more from it; the sink stops reading it. Called once per input.
    virtual void on_stream_end(std::size_t input) { (void)input; }

    // A partition-local chain (node_chain::options): partials of node `node`'s engine for the
    // merge step (node_chain::absorb); the sink may move the cells out.
    virtual void on_partials(std::size_t node, engine::partial_batch& batch) {
        (void)node;
        (void)batch;
    }

    virtual void write_result(output_index output, const check_result& result) = 0;
    // A node wrote to `output` every result of the windows it closed just now (once per
    // dispatch, after its last write_result there).
    virtual void end_of_results(output_index output) { (void)output; }
    // One JSON object without newline: a derived record, a late record or a dead letter.
    virtual void write_record(output_index output, std::string_view json) = 0;
};

struct chain_stats {
    std::uint64_t records = 0;   // decoded, valid or not
    std::uint64_t filtered = 0;  // dropped by `filter` transforms
    // Per node (plan order): records dropped for an unreadable event time (the engine counts
    // them invalid too), and dead letters written.
    std::vector<std::uint64_t> bad_time;
    // Per node: records dropped as suspicious, their event time too far after the newest of
    // their source (time.max_jump); not in bad_time, but the engine counts them invalid too.
    std::vector<std::uint64_t> future_time;
    std::vector<std::uint64_t> dead_letters;
    // Per node (0 for nodes without a join): records behind the join's watermark on arrival,
    // per side (not joined), and the records the join holds now (buffered records and joined
    // rows waiting for their turn).
    std::vector<std::uint64_t> join_late_left;
    std::vector<std::uint64_t> join_late_right;
    std::vector<std::uint64_t> join_buffered;
};

struct chain_options {
    // Scale-out (DESIGN.md §3): the node's engine becomes one partition-local engine per
    // watermark source (a file, a Kafka partition), whose partials go to the sink
    // (chain_sink::on_partials) instead of windows; a chain of the same plan merges them
    // (node_chain::absorb). Only for plans node_chain::partitionable() takes.
    bool partition_local = false;
};

class node_chain {
  public:
    // Builds every step from `plan` (throws std::invalid_argument on a plan the engine
    // refuses; set-up code). `initial_sources[i]` are the sources input i has before it starts
    // (input::initial_sources()); more come through add_source().
    node_chain(std::shared_ptr<const chain_plan> plan, chain_sink& sink,
               const std::vector<std::vector<std::string>>& initial_sources,
               time::timestamp_ns wall_now, chain_options opts = {});

    // Whether a plan's work can be spread over partition-local chains: one node with checks
    // over event time, reading JSON inputs, without a join, late_output, depends_on, end_when
    // or schema-drift measures (whose state is not kept per partition yet).
    static bool partitionable(const chain_plan& plan);
    // Merge step: partials of node `node` from a partition-local chain of the same plan; the
    // windows they close go to the sink.
    void absorb(std::size_t node, const engine::partial_batch& batch, time::timestamp_ns wall_now);
    // Partition-local: every engine gives up all its cells and hands over now (before the merge
    // step's checkpoint: this chain then holds nothing a checkpoint must keep).
    void hand_over_all();
    // Partition-local, several daemons (see core/engine/partials.h): the engines of `source`
    // of input `input` hand everything over, and the source starts afresh — engines and
    // time.max_jump guards as new, the engines numbering their cells in `epoch`. A chain that
    // starts at the same position with the same epoch then gives up exactly the cells this one
    // gives up from here, under the same numbers. An unknown source is added first.
    void cut(std::size_t input, std::string_view source, std::uint64_t epoch,
             time::timestamp_ns wall_now);
    ~node_chain();
    node_chain(const node_chain&) = delete;
    node_chain& operator=(const node_chain&) = delete;

    const chain_plan& plan() const { return *plan_; }

    // What input `input` reports of its lag (records behind, -1: not known; the event age of
    // its last record read while behind): input_lag() and input_lag_seconds() of the nodes
    // that read it, directly or through earlier nodes, sum the lags and take the largest age.
    void set_input_lag(std::size_t input, std::int64_t lag, double lag_seconds);

    // A source of input `input` came or went (a Kafka partition assigned or revoked).
    void add_source(std::size_t input, std::string_view source, time::timestamp_ns wall_now);
    // `hand_over`: a partition-local chain's engines of the source hand over what they hold
    // first (false: they are dropped — several daemons, where its next owner starts again at
    // the last registered cut).
    void remove_source(std::size_t input, std::string_view source, bool hand_over = true);
    // The source delivered everything it has for now (a file read to its end), or has more
    // again: while caught up it does not hold its nodes' watermarks back (hold_mode::caught_up;
    // a dependency's hold is left alone). A partition-local chain hands the source's cells
    // over meanwhile, since the merge step no longer waits for them.
    void set_caught_up(std::size_t input, std::string_view source, bool caught_up);

    // Records of `source` of input `input`, arriving at `wall_now`. An unknown source is
    // added first.
    void deliver(std::size_t input, std::string_view source, const record_delivery& records,
                 time::timestamp_ns wall_now);
    // Input `input` ended: a final record it held back (a CSV record without line end) goes
    // through now.
    void end_input(std::size_t input, time::timestamp_ns wall_now);

    // The wall clock moved on: idle timeouts and processing-time windows.
    void advance(time::timestamp_ns wall_now);
    // Every bounded input ended (--once): close every window.
    void finish(time::timestamp_ns wall_now);

    // The state of every step: sections named "decoder/<input>" (a CSV header),
    // "dependencies/<node>" (depends_on states), "ended/<input>" (streams ended by end_when),
    // "drift/<node>" (the fields a node knows, for schema-drift measures), "history/<node>"
    // (the history of its checks against history), "join/<node>" (the records a join holds,
    // its watermark sources) and "engine/<node>" (windows, groups, watermark sources).
    using sections = std::vector<std::pair<std::string, std::string>>;
    sections snapshot() const;
    // The same in slices, each within `budget` (bytes, or a deadline), so a large state does
    // not hold the strand for long: call until it returns true, writing the pieces as they
    // come (checkpoint::stream), or join() them.
    // Nothing may be delivered to the chain, and no time may pass for it (advance), between
    // the calls. No slice copies what an earlier one wrote: each writes a piece of its own.
    struct snapshot_progress {
        // The sections done, each as the pieces its slices wrote (none holding much more memory
        // than its bytes).
        checkpoint::section_pieces done;
        bool decoders_done = false;
        std::size_t node = 0;             // the next node whose engine is written
        std::vector<std::string> pieces;  // its section so far (a writer may take them)
        std::string section;              // the name of that section
        byte_writer writer;               // this slice's bytes
        engine::node_engine::snapshot_cursor cursor;

        // The sections whole: a second copy of the state.
        sections join();
    };
    bool snapshot_some(snapshot_progress& progress,
                       const engine::node_engine::slice_budget& budget) const;
    // Into a chain built from the same plan, before any delivery. False with `error` naming
    // the section that does not fit; the chain must then not be used.
    // The sections as views of bytes held elsewhere (a checkpoint file read whole), or owned.
    using section_views = std::vector<std::pair<std::string, std::string_view>>;
    bool restore(const section_views& saved, std::string& error);
    bool restore(const sections& saved, std::string& error);
    // Only the history of checks against history ("history/<node>" sections), into a chain
    // built from another plan (a reload or a restart changed what the query measures): each
    // check whose assessment is the same keeps its history, the windows start afresh.
    bool restore_history(const section_views& saved, std::string& error);
    bool restore_history(const sections& saved, std::string& error);

    // Operator commands on checks against history (node_engine::command_history) of node
    // `node` (by name); nullopt when it has no such node or check.
    std::optional<std::size_t> command_history(engine::history_command cmd, std::string_view node,
                                               std::string_view check, const group_key* group);

    // The dependencies of node `node`, in the order of its depends_on (empty without).
    std::span<const window::dependency_monitor> dependencies(std::size_t node) const;
    // Whether input `input` ended its stream (end_when), in this run or before a restore.
    bool input_ended(std::size_t input) const;
    // Inputs whose stream ended, since start (restored ones included).
    std::size_t ended_inputs() const;

    // Null for nodes without checks.
    const engine::node_engine* engine(std::size_t node) const;
    // Partition-local chains: what node `node`'s engines (one per source, those of sources
    // that went included) counted. Zero in other chains.
    engine::engine_stats local_stats(std::size_t node) const;
    // Null for nodes without schema-drift measures.
    const schema::drift_tracker* drift(std::size_t node) const;
    const chain_stats& stats() const { return stats_; }

    // A stable id of a watermark source: `from` (an input's or node's name) and its source.
    static std::string source_key(std::string_view from, std::string_view source);

  private:
    struct flow;
    struct input_state;
    struct node_state;

    void decode(input_state& in, const record_delivery& records, bool end_of_data, flow& f);
    void accept(std::size_t input, std::size_t source, std::size_t bytes, flow& f,
                time::timestamp_ns wall_now);
    // `from_input`: the flow comes straight from an input (not from an upstream node), so the
    // records it could not decode are this node's to dead-letter.
    void run_node(std::size_t node, std::uint32_t engine_source, flow& f,
                  time::timestamp_ns wall_now, bool from_input);
    // Event times of the batch into times_; records whose time is unreadable become bad_time
    // and are reported, and so do (flagged in future_) records whose event time jumps more
    // than time.max_jump past the newest of their source `engine_source`: such a record is
    // accepted only when the wall clock agrees with it (a live stream resumed after a gap) or
    // when k_confirming_records consecutive records of the source agree with each other (a
    // replay resumed after a gap). False when the sink said stop.
    bool read_event_times(std::size_t node, flow& f, std::uint32_t engine_source,
                          time::timestamp_ns wall_now);
    // The records of the flow that node `node` refused (decode failures when `from_input`,
    // schema violations, unreadable times) to its dead_letter, in record order.
    void write_dead_letters(std::size_t node, const flow& f, bool from_input);
    // Where record i of the flow was read, and what is wrong with it.
    record_problem locate(const flow& f, std::size_t i) const;
    record_problem decode_problem(const flow& f, std::size_t i) const;
    record_problem schema_problem(std::size_t node, const flow& f, std::size_t i,
                                  std::uint32_t code) const;
    record_problem time_problem(std::size_t node, const flow& f, std::size_t i) const;
    // One dead letter of node `node`: the record with where it was read and why it is refused.
    // `structured`: the record was decoded (else only its text is kept, as `_raw`).
    void write_dead_letter(std::size_t node, const flow& f, std::size_t i,
                           const record_problem& problem, bool structured);
    void route_derived(std::size_t node, flow& f, time::timestamp_ns wall_now);
    // A join node: the records of one side (`reader_source` says which side and source) into
    // the join, then the rows it lets out to the engine.
    void join_step(std::size_t node, std::uint32_t reader_source, flow& f,
                   time::timestamp_ns wall_now, bool from_input);
    void emit_joined(std::size_t node, time::timestamp_ns wall_now);
    // A join node without checks: its rows as derived records, to its outputs and readers.
    void emit_derived_join(std::size_t node, time::timestamp_ns wall_now);
    // Every field of each record the engine will see, through the node's drift tracker, into
    // the record's drift slot.
    void observe_drift(std::size_t node, flow& f, time::timestamp_ns wall_now);
    void dispatch(std::size_t node);
    // A batch of node `index` from an input (`from_input`): the newest event time of each
    // dependency that input is, then refresh_dependencies().
    void observe_dependencies(std::size_t index, const flow& f, bool from_input,
                              time::timestamp_ns wall_now);
    // depends_on: re-evaluates the node's dependencies and sets how their sources hold the
    // watermark (and the sources of ended inputs: released).
    void refresh_dependencies(std::size_t node, time::timestamp_ns wall_now);
    // end_when: the index of the first usable record of the flow that ends input `in`'s
    // stream, or the flow's size.
    std::size_t find_end_marker(const input_state& in, const flow& f);
    // Input `input` ended its stream: its sources stop holding the nodes back, and the engines
    // whose every source ended close their windows.
    void end_stream(std::size_t input, time::timestamp_ns wall_now);
    bool source_ended(const source_ref& from) const;
    // The sources of ended inputs (and of nodes whose every source ended) no longer hold the
    // watermark back; with `wall_now`, the engines move on (or finish, every source ended).
    void release_ended(std::optional<time::timestamp_ns> wall_now);
    window::dependency_observation observe_dependency(std::size_t node, std::size_t k) const;
    bool restore_dependencies(const std::string& name, std::string_view bytes, std::string& error);
    bool restore_history_section(const std::string& name, std::string_view bytes,
                                 std::string& error);
    std::string_view record_json(const node_plan& node, const flow& f, std::size_t i,
                                 bool as_read = false);
    std::size_t find_source(input_state& in, std::string_view source);

    // Partition-local: node `node`'s engine for engine source `source`, made on first use.
    engine::node_engine& local_engine(std::size_t node, std::uint32_t source);

    std::shared_ptr<const chain_plan> plan_;
    chain_sink& sink_;
    bool partition_local_ = false;
    std::vector<std::unique_ptr<input_state>> inputs_;
    std::vector<std::unique_ptr<node_state>> nodes_;
    chain_stats stats_;
    bool stopped_ = false;  // the sink said stop during the current call

    // Scratch, reused across deliveries (no allocation in the steady state).
    std::unique_ptr<flow> flow_;
    std::unique_ptr<flow> join_flow_;  // the rows a join lets out
    // join_step(): each joined record's key (its text in join_key_text_, by position).
    struct batch_key {
        std::uint32_t record;
        bool has_key;
        std::uint32_t hash;
    };
    std::vector<batch_key> join_keys_;
    std::vector<std::string> join_key_text_;  // strings keep their capacity from batch to batch
    std::vector<field_value> join_values_;
    // Per input: its lag as last reported (records, -1 unknown; seconds).
    std::vector<std::pair<std::int64_t, double>> input_lags_;
    std::vector<check_result> results_;
    std::vector<std::uint32_t> late_;
    std::vector<time::timestamp_ns> times_;
    std::vector<std::uint8_t> future_;  // per record of the flow: refused by time.max_jump
    expr::scratch_arena scratch_;
    schema::schema_verdicts verdicts_;
    schema::schema_stats schema_stats_;
    std::string record_json_;
    std::string dead_letter_json_;
    std::vector<std::pair<std::string_view, field_value>> csv_cells_;
    arena csv_strings_;
};

}  // namespace weir::chain
