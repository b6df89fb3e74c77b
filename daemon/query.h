// A managed query at run time (DESIGN.md §3): its own input instances, decoding, the node
// chain (transforms, engines), results to the pipeline's outputs, timers, and checkpoints.
// Everything a query does runs on its own strand.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/model.h"
#include "connectors/runtime.h"
#include "core/decode/csv_decoder.h"
#include "core/decode/json_decoder.h"
#include "core/engine/node_engine.h"
#include "core/expr/scratch_arena.h"
#include "core/record/arena.h"
#include "daemon/checkpoint_store.h"
#include "daemon/metrics.h"
#include "daemon/query_plan.h"

namespace weir::daemon {

enum class query_state { starting, running, degraded, failed, stopped, finished };
const char* to_string(query_state s);

// Updated on the query's strand, read by the HTTP server's status from any thread.
struct query_counters {
    std::atomic<std::uint64_t> input_records{0};
    std::atomic<std::uint64_t> input_bytes{0};
    std::atomic<std::uint64_t> invalid_records{0};
    std::atomic<std::uint64_t> filtered_records{0};
    std::atomic<std::uint64_t> results{0};
    std::atomic<std::uint64_t> checkpoints{0};
};

struct query_environment {
    boost::asio::io_context* io = nullptr;
    const checkpoint_store* checkpoints = nullptr;
    const connectors::connector_factories* factories = nullptr;
    connectors::wall_clock clock;
    // The pipeline's outputs by name, shared by its queries.
    std::map<std::string, std::shared_ptr<connectors::output>, std::less<>> outputs;
    bool once = false;
    std::chrono::milliseconds checkpoint_interval{10'000};
    daemon::metrics* metrics = nullptr;  // optional
    // Restarted after its plan changed (a reload): an old checkpoint of another plan gives only
    // its input positions, instead of stopping the query.
    bool plan_changed = false;
};

class query : public std::enable_shared_from_this<query> {
  public:
    struct listener {
        std::function<void(const std::string& message)> failed;
        std::function<void()> finished;  // --once: every input ended and all is flushed
    };

    query(compiled_query plan, const config::pipeline_config& pipeline, query_environment env,
          listener events);
    ~query();

    const std::string& pipeline() const { return plan_.pipeline; }
    const std::string& name() const { return plan_.name; }
    const compiled_query& plan() const { return plan_; }
    bool critical() const;

    // Restores the checkpoint, starts the inputs and the timers (asynchronously, on the strand).
    void start();

    // Stops the inputs, writes a final checkpoint and calls `done` (from any thread). Open
    // windows stay open: they are in the checkpoint.
    void stop(std::function<void()> done);

    query_state state() const { return state_.load(); }
    // Why the query is degraded ("" when it is not): its outputs are full (back-pressure or
    // shedding), its last checkpoint failed, or bad records exceed on_error.
    std::string degraded_reason() const;
    const query_counters& counters() const { return counters_; }
    // Event time up to which windows are closed (Unix ns), of the terminal node.
    time::timestamp_ns watermark() const { return watermark_.load(); }

  private:
    class input_adapter;
    struct flow;

    void do_start();
    bool restore(std::string& error);
    void on_data(std::size_t input, std::string_view data);
    void on_end(std::size_t input);
    void on_problem(std::size_t input, std::string_view type, const std::string& message);
    void fail(const std::string& message);
    // Counts bad records and input problems against on_error; false when the query failed.
    bool count_errors(std::uint64_t n);

    // Counts a decoded delivery (counters, metrics, on_error) and sends it down the chain.
    void accept(std::size_t input, std::size_t bytes, flow& f);
    void route(const std::string& source, flow& f);
    void decode_csv(std::size_t input, std::string_view data, bool end_of_data, flow& f);
    // The record as JSON for outputs: its raw line, unless transforms reshaped it or it has
    // none (CSV); then the node's visible fields.
    // `as_read`: the record as it was read, whatever the transforms did (dead letters).
    std::string_view record_json(const compiled_node& node, const flow& f, std::size_t i,
                                 bool as_read = false);
    void run_node(std::size_t node, std::size_t source_index, flow& f);
    void dispatch(const compiled_node& node);
    struct check_entry;
    prometheus::Gauge* group_gauge(check_entry& e, const compiled_node& node,
                                   const std::string& check, const std::string& group);
    void report_capped(std::size_t node);
    void report_node(std::size_t node);

    // running or degraded: reading and processing.
    bool active() const {
        const query_state s = state_.load();
        return s == query_state::running || s == query_state::degraded;
    }
    enum condition : unsigned { outputs_full = 1, checkpoint_failing = 2, errors_over_limit = 4 };
    void set_condition(condition c, bool on);
    // `buffer` of the terminal node, after each delivery: block pauses the inputs until the
    // outputs drained; drop_newest stops writing to a full output; drop_oldest makes it drop.
    void apply_back_pressure();
    void poll_back_pressure();
    // Whether node `node` may write to `out` now (drop_newest sheds while it is full).
    bool admit(std::size_t node, const std::string& out, std::uint64_t records = 1);

    void schedule_tick();
    void schedule_checkpoint();
    // Snapshot now; flush the outputs; then write. `then` runs on the strand afterwards.
    void checkpoint(std::function<void(bool ok)> then);
    void finish_once();
    void stop_inputs();

    compiled_query plan_;
    const config::pipeline_config& pipeline_;
    query_environment env_;
    listener events_;
    boost::asio::strand<boost::asio::io_context::executor_type> strand_;
    boost::asio::steady_timer tick_timer_;
    boost::asio::steady_timer checkpoint_timer_;
    boost::asio::steady_timer pressure_timer_;

    std::vector<std::unique_ptr<connectors::input>> inputs_;
    std::vector<std::unique_ptr<input_adapter>> adapters_;
    std::vector<bool> ended_;
    std::vector<std::uint64_t> capped_reported_;
    std::unique_ptr<decode::json_decoder> decoder_;
    // Per input: a CSV decoder (null for JSON inputs) and the bytes of a record that spans
    // deliveries (a quoted cell with a newline), kept for the next one.
    std::vector<std::unique_ptr<decode::csv_decoder>> csv_;
    std::vector<std::string> csv_carry_;
    std::string csv_buffer_;
    std::vector<std::unique_ptr<engine::node_engine>> engines_;    // per node; null without checks
    std::vector<std::unique_ptr<schema::record_schema>> schemas_;  // per node; null without
    schema::schema_verdicts verdicts_;
    schema::schema_stats schema_stats_;
    std::vector<std::vector<std::size_t>> readers_of_node_;  // node -> nodes reading it
    std::map<std::string, std::vector<std::pair<std::size_t, std::size_t>>, std::less<>>
        readers_of_input_;  // input -> (node, source index)
    std::vector<check_result> results_;
    std::vector<std::uint32_t> late_;
    std::vector<time::timestamp_ns> times_;
    expr::scratch_arena scratch_;
    std::string record_json_;
    std::vector<std::pair<std::string_view, field_value>> csv_cells_;
    arena csv_strings_;

    std::atomic<query_state> state_{query_state::starting};
    std::atomic<time::timestamp_ns> watermark_{0};
    query_counters counters_;
    // Metric handles, fetched at start (null without metrics).
    std::vector<node_metrics*> node_metrics_;
    std::vector<input_metrics*> input_metrics_;
    std::vector<engine::engine_stats> reported_stats_;
    // Per node, per check: metric handles, the groups failing now, and the per-group value
    // gauges this query owns.
    struct check_entry {
        check_metrics* metrics = nullptr;
        std::unordered_set<std::string> failing;
        std::unordered_map<std::string, prometheus::Gauge*> groups;
        bool capped = false;  // the series cap refused a group of this check
    };
    std::vector<std::map<std::string, check_entry, std::less<>>> check_entries_;
    std::string group_label_;
    time::timestamp_ns error_window_start_ = 0;
    std::uint64_t errors_in_window_ = 0;
    bool error_limit_reported_ = false;
    bool checkpoint_running_ = false;
    std::vector<std::function<void(bool ok)>> queued_checkpoints_;
    bool stopping_ = false;

    std::atomic<unsigned> conditions_{0};
    // Back-pressure: the outputs this query writes to, and which of them shed new records.
    std::vector<std::pair<std::string, std::shared_ptr<connectors::output>>> written_;
    std::set<std::string, std::less<>> shedding_;
    bool paused_ = false;
    std::string problem_key_;
    std::unique_ptr<flow> data_flow_;  // reused by on_data()  // of the rate-limited log of bad
                                       // records and input problems
};

}  // namespace weir::daemon
