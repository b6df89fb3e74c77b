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
#include <unordered_map>
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
    prometheus::Counter& checkpoint_failures;  // failed or skipped (an output could not flush)
    // (window, group) pairs passed over without a result: a jump of the watermark gives each
    // group a bounded share of empty windows.
    prometheus::Counter& skipped_windows;

    prometheus::Counter& dropped_by(drop_reason r) const {
        return *dropped[static_cast<std::size_t>(r)];
    }
};

// A node with `join:`: records late on arrival at the join, per side (not joined), and the
// records it holds (buffered records and joined rows waiting for their turn).
struct join_metrics {
    prometheus::Counter& late_left;
    prometheus::Counter& late_right;
    prometheus::Gauge& buffered;
};

struct input_metrics {
    prometheus::Counter& records;
    prometheus::Counter& bytes;
    std::array<prometheus::Counter*, static_cast<std::size_t>(input_error::count_)> errors;
    prometheus::Gauge& dependency_down;  // 1 while the input is considered down
    prometheus::Gauge& dependency_lag_seconds;
    prometheus::Counter& dependency_holds_expired;
    prometheus::Gauge& stream_ended;  // 1 once end_when ended the input's stream

    prometheus::Counter& errors_of(input_error e) const {
        return *errors[static_cast<std::size_t>(e)];
    }
};

// A group whose latest window failed, as the status API shows it.
struct failing_group {
    // The group_by fields and their values, in group_by order.
    std::vector<std::pair<std::string, std::string>> group;
    double value = 0;  // the failing window's value; NaN when it was not a number
};

struct group_metrics;

struct check_metrics {
    using result_counters =
        std::array<prometheus::Counter*, static_cast<std::size_t>(check_outcome::count_)>;
    check_metrics(result_counters results_, prometheus::Gauge* value_, prometheus::Gauge* failing_,
                  prometheus::Gauge& last_result_seconds_)
        : results(results_),
          value(value_),
          failing(failing_),
          last_result_seconds(last_result_seconds_) {}

    result_counters results;
    // The measure of the last ungrouped window (NaN after no data) and 1 while its outcome is
    // fail; both null for a check of a grouped node, whose groups have series of their own
    // (metrics::group), so no ungrouped series sits at 0 beside them.
    prometheus::Gauge* value;
    prometheus::Gauge* failing;
    // Unix time of the last result with a value (not null), of any group.
    prometheus::Gauge& last_result_seconds;
    // How many groups' latest window failed (1 for a failing ungrouped check), for the status
    // API; kept by set_failing and clear_failing.
    std::atomic<std::size_t> failing_groups{0};

    prometheus::Counter& results_of(check_outcome o) const {
        return *results[static_cast<std::size_t>(o)];
    }
    // The group `key` ("" for an ungrouped check) failed in its latest window (again). Takes a
    // mutex no one holds for long: the status reads the failing groups under it. `series`: the
    // group's series (metrics::group), or null where the series cap refused it; with it, a
    // group that fails again and one that did not fail before cost no lookup of `key`.
    void set_failing(const std::string& key, failing_group group, group_metrics* series = nullptr);
    // A group failing already (series->listed) failed again, with `value`.
    void refail(group_metrics& series, double value);
    // The group's latest window did not fail.
    void clear_failing(const std::string& key, group_metrics* series = nullptr);
    // The first `n` failing groups by key (failing_groups counts them all).
    std::vector<failing_group> failing_sample(std::size_t n) const;

  private:
    mutable std::mutex failing_mutex_{};
    // By key, unordered: a result of a group without its series looks its key up here, and a
    // node may have a million groups, so the lookup must not depend on how many fail (an ordered
    // map's lookups were 17 % of the samples of a run with 1 M groups). failing_sample() orders the
    // few it returns instead, when the status asks.
    struct failing_entry {
        failing_group group;
        group_metrics* series = nullptr;  // its listed points at `group`
    };
    std::unordered_map<std::string, failing_entry> failing_{};
    // A group failed without its series (the series cap refused it): a series' listed no
    // longer tells whether its group is among the failing ones.
    std::atomic<bool> unlinked_{false};
};

// The series of one group of a grouped check: weir_check_value and weir_check_failing with the
// group_by fields as labels.
struct group_metrics {
    prometheus::Gauge& value;    // NaN after a window without data
    prometheus::Gauge& failing;  // 1 while the group's latest window failed, else 0
    // The group's entry among its check's failing groups (check_metrics), null while it is not
    // failing: written under that check's failing mutex, read without it by the one query
    // writing the group's results. Elements of an unordered map stay where they are.
    std::atomic<failing_group*> listed{nullptr};
};

// Prometheus label names for a grouped node's group_by fields, in their order: characters
// outside [a-zA-Z0-9_] become `_` (`device.id` -> `device_id`), a leading digit gets a `_`
// before it, a name that is one of the fixed labels (pipeline, node, check, and the job and
// instance Prometheus adds) or starts with `__` (reserved) gets `group_` before it, and a name
// already taken by an earlier field gets `_2`, `_3`, ... after it.
std::vector<std::string> group_label_names(const std::vector<std::string>& fields);

// One check failing now, as the status API shows it.
struct failing_check {
    std::string node;
    std::string check;
    std::size_t groups = 0;  // groups whose latest window failed; 0 when not known
    // The first failing groups by key (at most failing_checks' max_groups); empty for an
    // ungrouped check.
    std::vector<failing_group> sample;
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
    // The most groups of grouped checks the whole daemon exports series for (each group has a
    // weir_check_value and a weir_check_failing series); further groups are not exported and
    // are counted in weir_metrics_series_dropped_total.
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
    join_metrics& join(std::string_view pipeline, std::string_view node);
    check_metrics& check(std::string_view pipeline, std::string_view node, std::string_view check) {
        return this->check(pipeline, node, check, false);
    }
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

    // The ungrouped check's handles; `grouped`: the check belongs to a grouped node, so it
    // gets no ungrouped value and failing series (value and failing stay null).
    check_metrics& check(std::string_view pipeline, std::string_view node, std::string_view check,
                         bool grouped);

    // The series of one group of a grouped check. `key` identifies the group (e.g.
    // "device_id=d-17"); `labels` are its (label name, value) pairs, names from
    // group_label_names. nullptr once max_group_series groups have series: the caller skips
    // the update (the refusal is counted once per call).
    group_metrics* group(std::string_view pipeline, std::string_view node, std::string_view check,
                         std::string_view key,
                         const std::vector<std::pair<std::string, std::string>>& labels);

    // weir_config_reloads_total{result="success"|"failure"}.
    void count_reload(bool success);

    // Removes every series of the node: its node, input, check, group and lag series. Handles of
    // the node must no longer be used afterwards.
    void remove_node(std::string_view pipeline, std::string_view node);
    // Removes the pipeline's outputs and every node of the pipeline.
    void remove_pipeline(std::string_view pipeline);

    std::size_t group_series() const;

    // The checks of the pipeline's `nodes` failing now (in at least one group), in node order,
    // then by check name, each with its first `max_groups` failing groups.
    std::vector<failing_check> failing_checks(std::string_view pipeline,
                                              const std::vector<std::string>& nodes,
                                              std::size_t max_groups = 10) const;

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
