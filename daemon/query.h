// A managed query at run time (DESIGN.md §3): the lifecycle around one node chain — its own
// input instances, timers, checkpoint files, back-pressure and metrics. The records' path is
// the chain's (core/chain/node_chain.h); the query is its sink: it writes what the chain
// produces to the pipeline's outputs and counts it. Everything a query does runs on its own
// strand.
#pragma once

#include <array>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/plan.h"
#include "connectors/runtime.h"
#include "core/chain/node_chain.h"
#include "daemon/check_cycle.h"
#include "daemon/check_history.h"
#include "daemon/checkpoint_store.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/once_summary.h"
#include "daemon/status.h"
#include "daemon/tap.h"

namespace weir::daemon {

enum class query_state { starting, running, degraded, failed, stopped, finished };
const char* to_string(query_state s);

// Updated on the query's strand, read by the HTTP server's status from any thread.
struct query_counters {
    std::atomic<std::uint64_t> input_records{0};
    std::atomic<std::uint64_t> input_bytes{0};
    // Records the query could not use, and the same by invalid_reason (malformed, too_long,
    // schema, bad_time).
    std::atomic<std::uint64_t> invalid_records{0};
    std::array<std::atomic<std::uint64_t>, 6> invalid_by_reason{};
    std::atomic<std::uint64_t> results{0};
    std::atomic<std::uint64_t> checkpoints{0};
};

struct query_environment {
    boost::asio::io_context* io = nullptr;
    // Null: no checkpoint is read or written (--once without --resume); the query still
    // flushes its outputs where it would write one.
    const checkpoint_store* checkpoints = nullptr;
    const connectors::connector_factories* factories = nullptr;
    connectors::wall_clock clock;
    // The pipeline's outputs by name, shared by its queries.
    std::map<std::string, std::shared_ptr<connectors::output>, std::less<>> outputs;
    bool once = false;
    once_summary* summary = nullptr;  // --once: every result the query emits is added here
    std::chrono::milliseconds checkpoint_interval{10'000};
    daemon::metrics* metrics = nullptr;  // optional
    check_history* history = nullptr;    // optional: the status page's recent results
    // Restarted after its plan changed (a reload). A checkpoint of another plan gives only its
    // input positions, either way; this says why in the log.
    bool plan_changed = false;
    // Blocking work (checkpoint files: write, fsync, rename) runs here, off the loop threads;
    // null: on the query's strand.
    boost::asio::any_io_executor blocking;
    // Live taps (GET /api/v1/tap); null when they are off.
    std::shared_ptr<tap_hub> taps;
    // Scale-out inside the daemon (DESIGN.md §3): a query whose plan node_chain::partitionable()
    // takes spreads its sources (files, Kafka partitions) over this many lanes, each a
    // partition-local chain on a strand of its own; 1: one chain does everything.
    std::size_t lanes = 1;
};

class query : public std::enable_shared_from_this<query>, private chain::chain_sink {
  public:
    struct listener {
        // `rebuild`: an input lost its client (on_client_lost); restart from the checkpoint
        // rather than treat the query as failed.
        std::function<void(const std::string& message, bool rebuild)> failed;
        // --once: every input ended and all is flushed. `write_error`: why the final
        // checkpoint's file could not be written, "" when it was.
        std::function<void(const std::string& write_error)> finished;
    };

    // `plan` is pipeline->queries[index]; the pipeline's plan outlives nothing it is given to.
    query(std::shared_ptr<const config::compiled_pipeline> pipeline, std::size_t index,
          query_environment env, listener events);
    ~query() override;

    const std::string& pipeline() const { return pipeline_->name; }
    const std::string& name() const { return plan_.name; }
    const config::compiled_query& plan() const { return plan_; }
    bool critical() const { return plan_.policy.critical; }

    // Restores the checkpoint, starts the inputs and the timers (asynchronously, on the strand).
    void start();

    // Stops the inputs, writes a final checkpoint and calls `done` (from any thread). Open
    // windows stay open: they are in the checkpoint. `write_error`: why the final checkpoint's
    // file could not be written, "" when it was (or was skipped for an output that could not
    // flush, or the query was not running).
    void stop(std::function<void(const std::string& write_error)> done);

    // Operator commands on checks against history (POST /api/v1/baselines/*), from any thread:
    // on the strand, applies `cmd` to check `check` ("": every check against history) of node
    // `node` for `group` (null: every group) and calls `done` there with the series affected,
    // or nullopt and why not (the query does not run, or its chain has no such check). Then a
    // checkpoint is taken, so that a crash does not bring the old history back.
    using history_done =
        std::function<void(std::optional<std::size_t> series, const std::string& why)>;
    void command_history(engine::history_command cmd, std::string node, std::string check,
                         std::optional<group_key> group, history_done done);

    query_state state() const { return state_.load(); }
    // Why the query is degraded ("" when it is not): its outputs are full (back-pressure or
    // shedding), its last checkpoint failed, or bad records exceed on_error.
    std::string degraded_reason() const;
    const query_counters& counters() const { return counters_; }
    // Event time up to which windows are closed (Unix ns), of the terminal node.
    time::timestamp_ns watermark() const { return watermark_.load(); }
    // The sources its inputs read now, as of the last tick (Kafka partitions). Any thread.
    std::vector<source_figures> sources() const;
    // The partitions of its partials topic it merges, as of the last tick. Any thread.
    std::vector<merge_figures> merging() const;
    // The latest record it could not use; nullopt before the first. Any thread.
    std::optional<bad_record_status> last_bad_record() const;
    // depends_on of its nodes, as of the last tick; inputs whose stream ended (end_when). Any
    // thread.
    std::vector<dependency_status> dependencies() const;
    std::vector<std::string> ended_inputs() const;

    // The lanes the query's sources are spread over (0: none, one chain does everything).
    std::size_t lanes() const { return lanes_.size(); }
    // Several daemons merge this query's partials through a topic (its input's
    // partials_topic).
    bool shares_partials() const { return partials_ != nullptr; }

  private:
    class input_adapter;
    // Scale-out inside the daemon: each lane is a partition-local chain on a strand of its own,
    // fed copies of the deliveries of its sources; what its chain hands the sink (partials,
    // bad records, dead letters) comes back to the query's strand in order, where chain_
    // merges the partials and writes the results.
    struct lane;
    class lane_sink;
    std::vector<std::unique_ptr<lane>> lanes_;
    std::unordered_map<std::string, std::size_t> lane_of_;  // by "<input index>/<source>"
    std::size_t next_lane_ = 0;
    std::shared_ptr<void> delivery_copies_;  // the lanes' copies of deliveries, reused
    std::size_t lane_work_ = 0;              // handed to lanes, not yet back
    bool lanes_full_ = false;                // reading paused: the lanes have too much to do
    bool draining_ = false;  // a checkpoint or the end waits for the lanes to hand over
    bool delivered_since_drain_ = false;
    std::function<void(chain::node_chain&)> drain_work_;
    std::vector<std::function<void()>> after_drain_;
    bool lanes_finished_ = false;
    lane& lane_for(std::size_t input, std::string_view source);
    // `work` on the lane's strand; then, on the query's strand, what it handed the sink and
    // `after`.
    void post_to_lane(lane& l, std::function<void(chain::node_chain&)> work,
                      std::function<void()> after = {});
    void lane_done();
    // Runs `work` on every lane (hand_over_all before a checkpoint, finish at the end) until
    // nothing was delivered to a lane since, with reading paused; then `then`.
    void drain_lanes(std::function<void(chain::node_chain&)> work, std::function<void()> then);
    void resume_reading();
    void checkpoint_now(std::function<void(bool ok)> then);
    // What a lane handed over: to the merge step, or to the partials topic.
    void on_lane_partials(std::size_t node, engine::partial_batch& batch);

    // ---- Several daemons (daemon/query_partials.cc; core/engine/partials.h) ----
    // The lanes' hand-overs go to the input's partials topic, cut by cut (each registered in a
    // commit of the input's group first), and the partitions of that topic this daemon owns
    // are merged here, each by a merge chain of its own.
    struct partials_state;
    class merge_sink;
    std::unique_ptr<partials_state> partials_;
    // At start: opens the channel when an input has a partials topic; false with `error`.
    bool open_partials(std::string& error);
    // A delivery of a source of the shared input, to its lane, cut where its ledger says.
    void deliver_shared(std::size_t input, std::string_view source,
                        const connectors::record_delivery& records);
    void shared_sources_changed(std::size_t input, std::span<const connectors::source_id> added,
                                std::span<const connectors::source_id> removed);
    void publish_partials(std::size_t node, engine::partial_batch& batch);
    // Pauses the input while the partials held back (their cut not committed) pass the
    // channel's max_held, and resumes it once they are down to half.
    void bound_held_partials();
    // The checkpoint of a query whose partials are shared: cuts every source that read on,
    // flushes the outputs, then (off the loop) waits for the partials topic, commits the merge
    // positions and registers the cuts; `then` on the strand.
    void checkpoint_shared(std::function<void(bool ok)> then);
    void advance_merges(time::timestamp_ns now);
    // The merge chains' engine stats of node `node`, summed.
    engine::engine_stats merged_stats(std::size_t node) const;
    // Flushes every output; `then(ok, error)` on the strand.
    void flush_outputs(std::function<void(bool ok, const std::string& error)> then);

    void do_start();
    bool restore(std::string& error);
    void on_records(std::size_t input, std::string_view source,
                    const connectors::record_delivery& records);
    void on_sources_changed(std::size_t input, std::span<const connectors::source_id> added,
                            std::span<const connectors::source_id> removed);
    void on_end(std::size_t input);
    void on_problem(std::size_t input, std::string_view type, const std::string& message);
    void on_checkpoint_wanted();
    void on_source_caught_up(std::size_t input, std::string_view source, bool caught_up);
    // Input status into metrics, the status API and the degraded state; every tick.
    void report_inputs();
    void fail(const std::string& message, bool rebuild = false);
    // Counts bad records and input problems against on_error; false when the query failed.
    bool count_errors(std::uint64_t n);

    // chain::chain_sink
    bool on_decoded(std::size_t input, std::size_t records, std::size_t bytes, std::size_t invalid,
                    const chain::record_problem* first) override;
    bool on_rejected(std::size_t node, std::size_t count,
                     const chain::record_problem& first) override;
    // Counts bad records for the status API and keeps `example` as the latest.
    void note_bad_records(std::size_t node, std::size_t count,
                          const chain::record_problem& example);
    // ` (input "readings", /data/a.jsonl offset 120)`: where a bad record was read, for logs.
    std::string where(const chain::record_problem& p) const;
    void on_failure(const std::string& message) override;
    void on_results(std::size_t node, std::span<const check_result> results) override;
    bool admit(std::size_t node, chain::output_index output, std::size_t count) override;
    void write_result(chain::output_index output, const check_result& result) override;
    void end_of_results(chain::output_index output) override;
    void on_dependency(std::size_t node, std::size_t dependency,
                       window::dependency_state before) override;
    void on_stream_end(std::size_t input) override;
    // depends_on states into metrics and the status API; every tick.
    void report_dependencies();
    void write_record(chain::output_index output, std::string_view json) override;
    bool tapping(std::size_t node) override {
        return node < tap_points_.size() && tap_points_[node]->wanted(tap_kind::records);
    }
    bool tap_record(std::size_t node, std::string_view json) override {
        return tap_points_[node]->offer(tap_kind::records, json);
    }
    void tap_skipped(std::size_t node, std::size_t count) override {
        tap_points_[node]->skip(tap_kind::records, count);
    }
    void tap_results(std::size_t node, std::span<const check_result> results);

    struct check_entry;
    // What this query's log lines are about: the pipeline and query, and a node, an input and
    // an error type where they apply (views of names the query keeps).
    log_fields log_fields_of(std::string_view node = {}, std::string_view input = {},
                             std::string_view error_type = {}) const;
    group_metrics* group_series(check_entry& e, std::size_t node, const std::string& check,
                                const std::string& key, const group_key& group);
    // Metrics of the nodes' engines, and the terminal node's watermark.
    void report_nodes();
    void report_node(std::size_t node);
    void report_join(std::size_t node);
    void report_capped(std::size_t node);
    void report_drift_bound(std::size_t node);

    // running or degraded: reading and processing.
    bool active() const {
        const query_state s = state_.load();
        return s == query_state::running || s == query_state::degraded;
    }
    enum condition : unsigned {
        outputs_full = 1,
        checkpoint_failing = 2,
        errors_over_limit = 4,
        inputs_unreachable = 8
    };
    void set_condition(condition c, bool on);
    // A checkpoint (or a partials commit) that failed: counted, and logged unless it repeats
    // the last failure within a minute. After failures, a success is logged once.
    void checkpoint_failed(failure_log& log, const std::string& what);
    void checkpoint_recovered(failure_log& log, const char* what);
    // `buffer` of the terminal node, after each delivery: block pauses the inputs until the
    // outputs drained; drop_newest stops writing to a full output; drop_oldest makes it drop.
    void apply_back_pressure();
    void poll_back_pressure();

    void schedule_tick();
    void schedule_checkpoint();
    // Snapshot now (in slices, inputs paused); flush the outputs; then write, off the loop.
    // `then` runs on the strand afterwards.
    void checkpoint(std::function<void(bool ok)> then);
    void snapshot_step();
    // Takes what is left of a snapshot under way at once (a delivery must not overtake it).
    void finish_snapshot();
    // The checkpoint file written while the snapshot is taken: each slice's bytes are handed
    // to it (on_writer) and freed once written, so the state is never held twice.
    struct checkpoint_file {
        checkpoint_stream out;
        std::string streaming;     // a section handed over in part: its name
        std::size_t handed = 0;    // entries of the snapshot's `done` handed over
        double write_seconds = 0;  // spent writing, on the writer
    };
    // `file`: the chain's snapshot, already written to it; null: the file holds data alone.
    void write_checkpoint(std::shared_ptr<checkpoint::checkpoint_data> data,
                          std::function<void(bool ok)> then,
                          std::shared_ptr<checkpoint_file> file = nullptr);
    struct snapshot_job {
        chain::node_chain::snapshot_progress progress;
        std::shared_ptr<checkpoint::checkpoint_data> data;
        std::function<void(bool ok)> then;
        std::shared_ptr<checkpoint_file> file;
    };
    std::shared_ptr<snapshot_job> snapshot_;  // a snapshot under way
    // What the snapshot's slices finished since the last call, to the file's writer.
    void hand_over(snapshot_job& job);
    // Runs `work` where checkpoint files are written: in order on the blocking threads, or at
    // once where there are none.
    void on_writer(std::function<void()> work);
    std::optional<boost::asio::strand<boost::asio::any_io_executor>> writer_;
    void finish_once();
    void final_checkpoint();  // of finish_once(); waits for outputs that cannot deliver yet
    void stop_inputs();

    std::shared_ptr<const config::compiled_pipeline> pipeline_;
    const config::compiled_query& plan_;
    query_environment env_;
    listener events_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::steady_timer tick_timer_;
    boost::asio::steady_timer checkpoint_timer_;
    boost::asio::steady_timer pressure_timer_;

    std::unique_ptr<chain::node_chain> chain_;
    std::vector<std::shared_ptr<tap_point>> tap_points_;  // by node; empty: taps are off
    std::vector<std::unique_ptr<connectors::input>> inputs_;
    std::vector<std::unique_ptr<input_adapter>> adapters_;
    std::vector<bool> ended_;
    // Per node, per dependency: holds expired as last reported to the metric.
    std::vector<std::vector<std::uint64_t>> reported_holds_expired_;
    std::vector<dependency_status> dependencies_;  // under status_mutex_
    std::vector<std::string> ended_inputs_;        // under status_mutex_
    // By the chain's output index: the pipeline's output (null when it is missing), and
    // whether it sheds new records now (when_full: drop_newest).
    std::vector<std::shared_ptr<connectors::output>> outputs_;
    std::vector<bool> shedding_;
    bool any_shedding_ = false;

    std::atomic<query_state> state_{query_state::starting};
    std::atomic<time::timestamp_ns> watermark_{0};
    query_counters counters_;
    // Metric handles, fetched at start (empty without metrics).
    std::vector<node_metrics*> node_metrics_;
    std::vector<input_metrics*> input_metrics_;
    std::vector<engine::engine_stats> reported_stats_;
    std::vector<std::uint64_t> reported_bad_time_;
    std::vector<std::uint64_t> reported_future_time_;
    // Per node: the join's handles (null for nodes without a join), and its late records
    // reported so far (left, right).
    std::vector<join_metrics*> join_metrics_;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> reported_join_late_;
    std::vector<std::uint64_t> capped_reported_;
    std::vector<std::uint8_t> drift_bound_reported_;  // per node: the drift bound was logged
    // Per node, per check: metric handles, and the per-group series this query owns.
    struct check_entry {
        check_metrics* metrics = nullptr;
        std::unordered_map<std::string, group_metrics*> groups;  // by group key
        std::vector<std::string> label_names;  // group_label_names of the node's group_by
        bool capped = false;                   // the series cap refused a group of this check
    };
    using check_entries = std::map<interned_text, check_entry, std::less<>>;  // by check
    std::vector<check_entries> check_entries_;
    std::string group_label_;  // the group key of the result at hand, reused
    check_cycle<check_entries::value_type> check_cycle_;  // on_results()', into check_entries_
    time::timestamp_ns error_window_start_ = 0;
    std::uint64_t errors_in_window_ = 0;
    bool error_limit_reported_ = false;
    bool checkpoint_running_ = false;
    // Restored from a checkpoint of another plan: the first checkpoint is taken at once, so a
    // crash before the interval's end does not restore that old one again.
    bool checkpoint_at_start_ = false;
    // Why the latest checkpoint was not written ("" when it was), and whether its file could
    // not be written (rather than skipped for an output that could not flush).
    std::string checkpoint_error_;
    bool checkpoint_write_failed_ = false;
    // Checkpoints, and partials commits (several daemons), that fail again and again.
    failure_log checkpoint_failures_;
    failure_log commit_failures_;
    bool outputs_unflushed_ = false;  // the last checkpoint was skipped: an output did not flush
    bool final_wait_logged_ = false;
    bool finishing_ = false;  // every input ended (finish_once)
    std::vector<std::function<void(bool ok)>> queued_checkpoints_;
    bool stopping_ = false;

    std::atomic<unsigned> conditions_{0};
    bool paused_ = false;
    // Keys of the rate-limited logs of bad records (and input problems), by kind.
    std::string problem_key_;
    std::string schema_problem_key_;
    std::string time_problem_key_;

    // report_inputs(): per input, the sources reported last (for their metric series), the
    // rebalances counted; what sources() returns; why inputs_unreachable is set.
    std::vector<std::set<std::string>> reported_sources_;
    std::vector<std::uint64_t> reported_rebalances_;
    // Per input: (sources held, partitions of their topics) as last said (report_ownership).
    std::vector<std::pair<std::size_t, std::int64_t>> reported_ownership_;
    void report_ownership(std::size_t input, const connectors::input_status& st);
    mutable std::mutex status_mutex_;
    std::vector<source_figures> sources_;
    std::vector<merge_figures> merging_;
    std::optional<bad_record_status> last_bad_record_;
    std::string unreachable_reason_;
};

}  // namespace weir::daemon
