// The daemon's Prometheus metrics (DESIGN.md §1.4): one registry holding every weir_ family,
// cheap per-node handles for the hot path, and the text exposition served on GET /metrics.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::daemon {

// The fixed label values of weir_input_errors_total{error_type}. Connectors report these names
// through input_listener::on_problem; anything else is counted as `other`.
enum class input_error : std::size_t { decode, too_long, io, protocol, rotation, other, count_ };
const char* to_string(input_error e);
input_error input_error_from(std::string_view name);

// weir_node_dropped_records_total{reason}. invalid: not decodable, or a schema violation;
// bad_time: the event time is absent, null or unreadable.
enum class drop_reason : std::size_t {
    invalid,
    late,
    group_overflow,
    filtered,
    buffer_full,
    bad_time,
    future_time,  // the event time jumps more than time.max_jump past its source's newest
    count_
};
const char* to_string(drop_reason r);

// weir_check_results_total{outcome}: the outcomes of DESIGN.md §1.5.
enum class check_outcome : std::size_t { pass, warn, fail, no_data, count_ };
const char* to_string(check_outcome o);

// Handles are references into the registry, valid until the node (or pipeline) that owns them is
// removed; incrementing them is lock-free, so queries fetch them once at start and keep them.
struct node_metrics {
    prometheus::Counter& records;
    prometheus::Counter& late_records;
    std::array<prometheus::Counter*, static_cast<std::size_t>(drop_reason::count_)> dropped;
    prometheus::Gauge& watermark_seconds;       // event time, Unix seconds
    prometheus::Histogram& emit_delay_seconds;  // window end (event time) -> emitted (wall clock)
    prometheus::Gauge& up;
    prometheus::Histogram& checkpoint_duration_seconds;
    prometheus::Gauge& checkpoint_last_success_seconds;
    // (window, group) pairs passed over without a result: a jump of the watermark gives each
    // group a bounded share of empty windows.
    prometheus::Counter& skipped_windows;

    prometheus::Counter& dropped_by(drop_reason r) const {
        return *dropped[static_cast<std::size_t>(r)];
    }
};

struct input_metrics {
    prometheus::Counter& records;
    prometheus::Counter& bytes;
    std::array<prometheus::Counter*, static_cast<std::size_t>(input_error::count_)> errors;
    prometheus::Gauge& dependency_down;  // 1 while the input is considered down

    prometheus::Counter& errors_of(input_error e) const {
        return *errors[static_cast<std::size_t>(e)];
    }
};

struct check_metrics {
    std::array<prometheus::Counter*, static_cast<std::size_t>(check_outcome::count_)> results;
    prometheus::Gauge& value;    // the measure of the last ungrouped window; NaN after no data
    prometheus::Gauge& failing;  // 1 while the last outcome was fail, else 0
    // Unix time of the last result with a value (not null), of any group.
    prometheus::Gauge& last_result_seconds;
    // How many groups' latest window failed (1 for a failing ungrouped check), for the status
    // API; set with set_failing.
    std::atomic<std::size_t> failing_groups{0};

    prometheus::Counter& results_of(check_outcome o) const {
        return *results[static_cast<std::size_t>(o)];
    }
    // weir_check_failing and the count behind it together.
    void set_failing(std::size_t groups) {
        failing_groups.store(groups, std::memory_order_relaxed);
        failing.Set(groups > 0 ? 1 : 0);
    }
};

// One check failing now, as the status API shows it.
struct failing_check {
    std::string node;
    std::string check;
    std::size_t groups = 0;  // groups whose latest window failed; 0 when not known
};

// A partition a Kafka input owns now; removed when it is revoked.
struct kafka_source_metrics {
    prometheus::Gauge& lag;          // messages behind the high watermark
    prometheus::Gauge& lag_seconds;  // age of the last message read while behind
};

struct kafka_input_metrics {
    prometheus::Gauge& broker_up;
    prometheus::Counter& rebalances;
};

struct output_metrics {
    prometheus::Counter& records;
    prometheus::Counter& errors;
    prometheus::Gauge& blocked;  // 1 while it cannot deliver (a full disk, a webhook down)
    prometheus::Gauge& queued;   // records waiting in memory for their destination
};

struct metrics_options {
    std::string version = "unknown";  // weir_build_info{version}
    // The most grouped weir_check_value series the whole daemon exports; further groups are not
    // exported and are counted in weir_metrics_series_dropped_total.
    std::size_t max_group_series = 1000;
};

// Thread-safe. Creating and removing series takes a mutex (set-up and reload paths only);
// updating a handle does not.
class metrics {
  public:
    explicit metrics(metrics_options options = {});
    ~metrics();
    metrics(const metrics&) = delete;
    metrics& operator=(const metrics&) = delete;

    // Each returns the same handles when called again with the same names.
    node_metrics& node(std::string_view pipeline, std::string_view node);
    input_metrics& input(std::string_view pipeline, std::string_view node, std::string_view input);
    check_metrics& check(std::string_view pipeline, std::string_view node, std::string_view check);
    output_metrics& output(std::string_view pipeline, std::string_view output);
    kafka_source_metrics& kafka_source(std::string_view pipeline, std::string_view node,
                                       std::string_view input, std::string_view topic,
                                       std::string_view partition);
    // The partition's series go (it was revoked); no-op when there are none.
    void remove_kafka_source(std::string_view pipeline, std::string_view node,
                             std::string_view input, std::string_view topic,
                             std::string_view partition);
    kafka_input_metrics& kafka_input(std::string_view pipeline, std::string_view node,
                                     std::string_view input);

    // weir_check_value{...,group} of one group of a grouped check; `group` is the label value
    // (e.g. "device_id=d-17"). nullptr once max_group_series series exist: the caller skips the
    // update (the refusal is counted once per call).
    prometheus::Gauge* group_value(std::string_view pipeline, std::string_view node,
                                   std::string_view check, std::string_view group);

    // weir_config_reloads_total{result="success"|"failure"}.
    void count_reload(bool success);

    // Removes every series of the node: its node, input, check, group and lag series. Handles of
    // the node must no longer be used afterwards.
    void remove_node(std::string_view pipeline, std::string_view node);
    // Removes the pipeline's outputs and every node of the pipeline.
    void remove_pipeline(std::string_view pipeline);

    std::size_t group_series() const;

    // The checks of the pipeline's `nodes` whose weir_check_failing is 1 now, in node order, then
    // by check name.
    std::vector<failing_check> failing_checks(std::string_view pipeline,
                                              const std::vector<std::string>& nodes) const;

    // The text exposition format 0.0.4 of every family plus the process_* metrics read from
    // /proc/self now.
    std::string serialize() const;

    prometheus::Registry& registry() { return *registry_; }

  private:
    struct families;
    struct node_entry;
    using node_key = std::pair<std::string, std::string>;

    node_entry& entry(std::string_view pipeline, std::string_view node);  // mutex_ held
    void remove_entry(node_entry& e);                                     // mutex_ held

    metrics_options options_;
    std::shared_ptr<prometheus::Registry> registry_;
    std::unique_ptr<families> families_;
    mutable std::mutex mutex_;
    std::map<node_key, std::unique_ptr<node_entry>, std::less<>> nodes_;
    std::map<node_key, std::unique_ptr<output_metrics>, std::less<>> outputs_;
    std::size_t group_series_ = 0;
};

}  // namespace weir::daemon
