// The daemon's Prometheus metrics; see metrics.h.
#include "daemon/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/diag/assert.h"

namespace weir::daemon {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Labels;

const char* to_string(input_error e) {
    switch (e) {
        case input_error::decode:
            return "decode";
        case input_error::too_long:
            return "too_long";
        case input_error::io:
            return "io";
        case input_error::protocol:
            return "protocol";
        case input_error::rotation:
            return "rotation";
        case input_error::other:
        case input_error::count_:
            break;
    }
    return "other";
}

input_error input_error_from(std::string_view name) {
    for (std::size_t i = 0; i < static_cast<std::size_t>(input_error::other); ++i) {
        const auto e = static_cast<input_error>(i);
        if (name == to_string(e)) return e;
    }
    return input_error::other;
}

const char* to_string(drop_reason r) {
    switch (r) {
        case drop_reason::invalid:
            return "invalid";
        case drop_reason::late:
            return "late";
        case drop_reason::group_overflow:
            return "group_overflow";
        case drop_reason::filtered:
            return "filtered";
        case drop_reason::buffer_full:
            return "buffer_full";
        case drop_reason::bad_time:
            return "bad_time";
        case drop_reason::future_time:
            return "future_time";
        case drop_reason::count_:
            break;
    }
    return "unknown";
}

const char* to_string(check_outcome o) {
    switch (o) {
        case check_outcome::pass:
            return "pass";
        case check_outcome::warn:
            return "warn";
        case check_outcome::fail:
            return "fail";
        case check_outcome::no_data:
            return "no_data";
        case check_outcome::count_:
            break;
    }
    return "unknown";
}

void check_metrics::set_failing(const std::string& key, failing_group group,
                                group_metrics* series) {
    std::lock_guard lock(failing_mutex_);
    auto it = failing_.find(key);
    if (it == failing_.end()) {
        it = failing_.emplace(key, failing_entry{std::move(group), series}).first;
        if (series == nullptr) unlinked_.store(true, std::memory_order_relaxed);
    } else {
        it->second.group.value = group.value;
        if (series != nullptr) it->second.series = series;
    }
    if (series != nullptr) series->listed.store(&it->second.group, std::memory_order_relaxed);
    failing_groups.store(failing_.size(), std::memory_order_relaxed);
    if (failing != nullptr) failing->Set(1);
}

void check_metrics::refail(group_metrics& series, double value) {
    std::lock_guard lock(failing_mutex_);
    if (failing_group* f = series.listed.load(std::memory_order_relaxed)) f->value = value;
}

void check_metrics::clear_failing(const std::string& key, group_metrics* series) {
    if (failing_groups.load(std::memory_order_relaxed) == 0) {
        if (failing != nullptr) failing->Set(0);
        return;
    }
    // A group that was not failing has nothing to take out (most results, with a million
    // groups): unless a failing group came without its series.
    if (series != nullptr && series->listed.load(std::memory_order_relaxed) == nullptr &&
        !unlinked_.load(std::memory_order_relaxed)) {
        return;
    }
    std::lock_guard lock(failing_mutex_);
    if (auto it = failing_.find(key); it != failing_.end()) {
        if (it->second.series != nullptr) {
            it->second.series->listed.store(nullptr, std::memory_order_relaxed);
        }
        failing_.erase(it);
    }
    failing_groups.store(failing_.size(), std::memory_order_relaxed);
    if (failing != nullptr) failing->Set(failing_.empty() ? 0 : 1);
}

std::vector<failing_group> check_metrics::failing_sample(std::size_t n) const {
    // The n smallest keys: a max-heap of n entries over all of them, O(N log n).
    using entry = const std::pair<const std::string, failing_entry>*;
    const auto by_key = [](entry a, entry b) { return a->first < b->first; };
    std::vector<entry> first;
    std::vector<failing_group> out;
    std::lock_guard lock(failing_mutex_);
    if (n == 0) return out;
    first.reserve(std::min(n, failing_.size()));
    for (const auto& e : failing_) {
        if (first.size() < n) {
            first.push_back(&e);
            std::push_heap(first.begin(), first.end(), by_key);
        } else if (e.first < first.front()->first) {
            std::pop_heap(first.begin(), first.end(), by_key);
            first.back() = &e;
            std::push_heap(first.begin(), first.end(), by_key);
        }
    }
    std::sort_heap(first.begin(), first.end(), by_key);
    out.reserve(first.size());
    for (entry e : first) out.push_back(e->second.group);
    return out;
}

std::vector<std::string> group_label_names(const std::vector<std::string>& fields) {
    static constexpr std::string_view fixed[] = {"pipeline", "node", "check", "job", "instance"};
    std::vector<std::string> out;
    out.reserve(fields.size());
    auto taken = [&](std::string_view name) {
        for (auto f : fixed) {
            if (f == name) return true;
        }
        for (const auto& o : out) {
            if (o == name) return true;
        }
        return false;
    };
    for (const auto& field : fields) {
        std::string name;
        for (char ch : field) {
            const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                            (ch >= '0' && ch <= '9') || ch == '_';
            name += ok ? ch : '_';
        }
        if (name.empty() || (name[0] >= '0' && name[0] <= '9')) name.insert(0, "_");
        bool is_fixed = name.starts_with("__");
        for (auto f : fixed) is_fixed = is_fixed || f == name;
        if (is_fixed) name.insert(0, "group_");
        if (taken(name)) {
            std::string base = name;
            for (int i = 2; taken(name); ++i) name = base + "_" + std::to_string(i);
        }
        out.push_back(std::move(name));
    }
    return out;
}

namespace {

template <typename T>
Family<T>& add_family(prometheus::Registry& r, const std::string& name, const std::string& help);

template <>
Family<Counter>& add_family(prometheus::Registry& r, const std::string& name,
                            const std::string& help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(r);
}

template <>
Family<Gauge>& add_family(prometheus::Registry& r, const std::string& name,
                          const std::string& help) {
    return prometheus::BuildGauge().Name(name).Help(help).Register(r);
}

template <>
Family<Histogram>& add_family(prometheus::Registry& r, const std::string& name,
                              const std::string& help) {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(r);
}

// From a window that closes on time (tens of milliseconds) to one held back by allowed lateness
// or a stalled input (minutes).
const Histogram::BucketBoundaries& emit_delay_buckets() {
    static const Histogram::BucketBoundaries b{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                               2.5,  5,     10,   30,  60,   120, 300};
    return b;
}

// Writing a checkpoint: a small file plus two fsyncs; slow disks take seconds.
const Histogram::BucketBoundaries& checkpoint_buckets() {
    static const Histogram::BucketBoundaries b{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                               0.25,  0.5,    1,     2.5,  5,     10};
    return b;
}

Labels node_labels(std::string_view pipeline, std::string_view node) {
    return Labels{{"pipeline", std::string(pipeline)}, {"node", std::string(node)}};
}

Labels with(Labels l, const char* name, std::string_view value) {
    l.emplace(name, std::string(value));
    return l;
}

prometheus::MetricFamily process_family(const char* name, const char* help,
                                        prometheus::MetricType type, double value) {
    prometheus::MetricFamily f;
    f.name = name;
    f.help = help;
    f.type = type;
    prometheus::ClientMetric m;
    if (type == prometheus::MetricType::Counter) {
        m.counter.value = value;
    } else {
        m.gauge.value = value;
    }
    f.metric.push_back(std::move(m));
    return f;
}

// The process_* metrics every Prometheus client exports, read from /proc/self at scrape time.
// A metric whose source cannot be read is left out rather than reported as 0.
void append_process_metrics(std::vector<prometheus::MetricFamily>& out) {
    using prometheus::MetricType;
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));

    std::ifstream stat_file("/proc/self/stat");
    std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
    // Fields after "(comm)", which may itself hold spaces: state is field 3.
    const auto paren = stat.rfind(')');
    if (paren != std::string::npos && ticks > 0) {
        std::istringstream in(stat.substr(paren + 1));
        std::vector<std::string> fields;
        for (std::string f; in >> f;) fields.push_back(f);
        auto field = [&](std::size_t n) -> double {  // n as numbered in proc(5)
            return n - 3 < fields.size() ? std::strtod(fields[n - 3].c_str(), nullptr) : 0.0;
        };
        if (fields.size() >= 22) {
            out.push_back(process_family("process_cpu_seconds_total",
                                         "Total user and system CPU time spent in seconds.",
                                         MetricType::Counter, (field(14) + field(15)) / ticks));
            out.push_back(process_family("process_virtual_memory_bytes",
                                         "Virtual memory size in bytes.", MetricType::Gauge,
                                         field(23)));
            out.push_back(process_family("process_resident_memory_bytes",
                                         "Resident memory size in bytes.", MetricType::Gauge,
                                         field(24) * page));
            // starttime is in ticks since boot; btime is the boot time in Unix seconds.
            std::ifstream proc_stat("/proc/stat");
            for (std::string line; std::getline(proc_stat, line);) {
                if (line.rfind("btime ", 0) == 0) {
                    const double boot = std::strtod(line.c_str() + 6, nullptr);
                    out.push_back(
                        process_family("process_start_time_seconds",
                                       "Start time of the process since unix epoch in seconds.",
                                       MetricType::Gauge, boot + field(22) / ticks));
                    break;
                }
            }
        }
    }

    std::error_code ec;
    std::size_t fds = 0;
    for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
         it.increment(ec)) {
        ++fds;
    }
    if (!ec) {
        out.push_back(process_family("process_open_fds", "Number of open file descriptors.",
                                     MetricType::Gauge, static_cast<double>(fds)));
    }
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
        out.push_back(process_family("process_max_fds", "Maximum number of open file descriptors.",
                                     MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
    }
}

}  // namespace

struct metrics::families {
    explicit families(prometheus::Registry& r)
        : build_info(add_family<Gauge>(r, "weir_build_info",
                                       "Always 1; the version of the running weir.")),
          input_records(add_family<Counter>(r, "weir_input_records_total",
                                            "Records read by an input of a node.")),
          input_bytes(add_family<Counter>(r, "weir_input_bytes_total",
                                          "Bytes read by an input of a node.")),
          input_errors(add_family<Counter>(r, "weir_input_errors_total",
                                           "Problems an input met while reading, by type.")),
          dependency_down(add_family<Gauge>(
              r, "weir_dependency_down", "1 while an input a node depends on is considered down.")),
          dependency_lag(add_family<Gauge>(
              r, "weir_dependency_lag_seconds",
              "How far the event time of an input a node depends on trails the node's.")),
          dependency_holds_expired(add_family<Counter>(
              r, "weir_dependency_hold_expired_total",
              "Holds of a dependency that was down that ran out (max_hold): its node went on "
              "without it, flagging results.")),
          input_stream_ended(add_family<Gauge>(
              r, "weir_input_stream_ended",
              "1 once an input ended its stream on a record matching its end_when.")),
          kafka_lag(add_family<Gauge>(
              r, "weir_kafka_consumer_lag",
              "Messages between a partition's end offset and the consumer's position.")),
          kafka_lag_seconds(add_family<Gauge>(
              r, "weir_kafka_consumer_lag_seconds",
              "While a partition is behind: the age of the last message read from it.")),
          kafka_broker_up(add_family<Gauge>(
              r, "weir_kafka_broker_up",
              "1 while a Kafka input reaches at least one broker of its cluster.")),
          kafka_rebalances(
              add_family<Counter>(r, "weir_kafka_rebalances_total",
                                  "Partition assignments a Kafka input received from its group.")),
          node_records(add_family<Counter>(r, "weir_node_records_total",
                                           "Valid records a node received, late ones included.")),
          node_late(add_family<Counter>(
              r, "weir_node_late_records_total",
              "Records that arrived after every window they belong to was emitted.")),
          node_dropped(add_family<Counter>(r, "weir_node_dropped_records_total",
                                           "Records a node did not measure, by reason.")),
          join_late(add_family<Counter>(
              r, "weir_join_late_records_total",
              "Records behind a join's watermark on arrival, by side: counted, not joined.")),
          join_buffered(add_family<Gauge>(
              r, "weir_join_buffered_records",
              "Records a join holds: buffered for matching and joined rows awaiting their turn.")),
          node_skipped_windows(add_family<Counter>(
              r, "weir_node_skipped_windows_total",
              "Empty windows not emitted: beyond a group's share in one jump of the watermark.")),
          watermark(add_family<Gauge>(r, "weir_watermark_timestamp_seconds",
                                      "A node's event-time watermark as a Unix timestamp.")),
          emit_delay(add_family<Histogram>(
              r, "weir_window_emit_delay_seconds",
              "Wall-clock time from a window's end to the emission of its results.")),
          node_up(add_family<Gauge>(r, "weir_node_up", "1 while a node's query is running.")),
          checkpoint_duration(add_family<Histogram>(r, "weir_checkpoint_duration_seconds",
                                                    "Time taken to write a checkpoint.")),
          checkpoint_last_success(
              add_family<Gauge>(r, "weir_checkpoint_last_success_timestamp_seconds",
                                "Unix time of a node's last successful checkpoint.")),
          checkpoint_failures(add_family<Counter>(
              r, "weir_checkpoint_failures_total",
              "Checkpoints that failed, or were skipped because an output could not flush.")),
          check_results(add_family<Counter>(r, "weir_check_results_total",
                                            "Check results emitted, by outcome.")),
          check_value(add_family<Gauge>(
              r, "weir_check_value",
              "The measured value of a check's last window (per group for a grouped node).")),
          check_failing(add_family<Gauge>(
              r, "weir_check_failing",
              "1 while a check's last outcome was fail, else 0 (per group for a grouped node).")),
          check_last_result(add_family<Gauge>(
              r, "weir_check_last_result_timestamp_seconds",
              "Unix time when a check last produced a value (a result that was not no data).")),
          output_records(
              add_family<Counter>(r, "weir_output_records_total", "Results written by an output.")),
          output_errors(
              add_family<Counter>(r, "weir_output_errors_total", "Failed writes of an output.")),
          output_blocked(add_family<Gauge>(
              r, "weir_output_blocked",
              "1 while an output cannot deliver (disk full, endpoint down): what it holds waits, "
              "and no checkpoint passes it.")),
          output_queued(add_family<Gauge>(r, "weir_output_queued_records",
                                          "Records an output holds in memory, not yet delivered.")),
          config_reloads(add_family<Counter>(r, "weir_config_reloads_total",
                                             "Configuration reloads, by result.")),
          series_dropped(add_family<Counter>(
              r, "weir_metrics_series_dropped_total",
              "Groups of grouped checks without series because max_group_series was reached.")) {}

    Family<Gauge>& build_info;
    Family<Counter>& input_records;
    Family<Counter>& input_bytes;
    Family<Counter>& input_errors;
    Family<Gauge>& dependency_down;
    Family<Gauge>& dependency_lag;
    Family<Counter>& dependency_holds_expired;
    Family<Gauge>& input_stream_ended;
    Family<Gauge>& kafka_lag;
    Family<Gauge>& kafka_lag_seconds;
    Family<Gauge>& kafka_broker_up;
    Family<Counter>& kafka_rebalances;
    Family<Counter>& node_records;
    Family<Counter>& node_late;
    Family<Counter>& node_dropped;
    Family<Counter>& join_late;
    Family<Gauge>& join_buffered;
    Family<Counter>& node_skipped_windows;
    Family<Gauge>& watermark;
    Family<Histogram>& emit_delay;
    Family<Gauge>& node_up;
    Family<Histogram>& checkpoint_duration;
    Family<Gauge>& checkpoint_last_success;
    Family<Counter>& checkpoint_failures;
    Family<Counter>& check_results;
    Family<Gauge>& check_value;
    Family<Gauge>& check_failing;
    Family<Gauge>& check_last_result;
    Family<Counter>& output_records;
    Family<Counter>& output_errors;
    Family<Gauge>& output_blocked;
    Family<Gauge>& output_queued;
    Family<Counter>& config_reloads;
    Family<Counter>& series_dropped;
};

struct metrics::node_entry {
    std::string pipeline;
    std::string node;
    std::unique_ptr<node_metrics> handles;
    std::unique_ptr<join_metrics> join;
    std::map<std::string, std::unique_ptr<input_metrics>, std::less<>> inputs;
    std::map<std::string, std::unique_ptr<check_metrics>, std::less<>> checks;
    // check -> group key -> series
    std::map<std::string, std::map<std::string, std::unique_ptr<group_metrics>, std::less<>>,
             std::less<>>
        groups;
    // (input, topic, partition) -> series
    std::map<std::tuple<std::string, std::string, std::string>,
             std::unique_ptr<kafka_source_metrics>, std::less<>>
        kafka_sources;
    std::map<std::string, std::unique_ptr<kafka_input_metrics>, std::less<>> kafka_inputs;
};

metrics::metrics(metrics_options options)
    : options_(std::move(options)),
      registry_(std::make_shared<prometheus::Registry>()),
      families_(std::make_unique<families>(*registry_)) {
    families_->build_info.Add({{"version", options_.version}}).Set(1);
    // Present from the start, so rate() and alerts see the first failure.
    families_->config_reloads.Add({{"result", "success"}});
    families_->config_reloads.Add({{"result", "failure"}});
    families_->series_dropped.Add({});
}

metrics::~metrics() = default;

metrics::node_entry& metrics::entry(std::string_view pipeline, std::string_view node) {
    node_key key{std::string(pipeline), std::string(node)};
    auto it = nodes_.find(key);
    if (it == nodes_.end()) {
        auto e = std::make_unique<node_entry>();
        e->pipeline = key.first;
        e->node = key.second;
        it = nodes_.emplace(std::move(key), std::move(e)).first;
    }
    return *it->second;
}

node_metrics& metrics::node(std::string_view pipeline, std::string_view node) {
    std::lock_guard lock(mutex_);
    auto& e = entry(pipeline, node);
    if (!e.handles) {
        auto& f = *families_;
        const Labels l = node_labels(pipeline, node);
        decltype(node_metrics::dropped) dropped{};
        for (std::size_t i = 0; i < dropped.size(); ++i) {
            dropped[i] =
                &f.node_dropped.Add(with(l, "reason", to_string(static_cast<drop_reason>(i))));
        }
        e.handles = std::make_unique<node_metrics>(node_metrics{
            f.node_records.Add(l), f.node_late.Add(l), dropped, f.watermark.Add(l),
            f.emit_delay.Add(l, emit_delay_buckets()), f.node_up.Add(l),
            f.checkpoint_duration.Add(l, checkpoint_buckets()), f.checkpoint_last_success.Add(l),
            f.checkpoint_failures.Add(l), f.node_skipped_windows.Add(l)});
    }
    return *e.handles;
}

join_metrics& metrics::join(std::string_view pipeline, std::string_view node) {
    std::lock_guard lock(mutex_);
    auto& e = entry(pipeline, node);
    if (!e.join) {
        auto& f = *families_;
        const Labels l = node_labels(pipeline, node);
        e.join = std::make_unique<join_metrics>(
            join_metrics{f.join_late.Add(with(l, "side", "left")),
                         f.join_late.Add(with(l, "side", "right")), f.join_buffered.Add(l)});
    }
    return *e.join;
}

input_metrics& metrics::input(std::string_view pipeline, std::string_view node,
                              std::string_view input) {
    std::lock_guard lock(mutex_);
    auto& e = entry(pipeline, node);
    auto it = e.inputs.find(input);
    if (it == e.inputs.end()) {
        auto& f = *families_;
        const Labels l = with(node_labels(pipeline, node), "input", input);
        decltype(input_metrics::errors) errors{};
        for (std::size_t i = 0; i < errors.size(); ++i) {
            errors[i] =
                &f.input_errors.Add(with(l, "error_type", to_string(static_cast<input_error>(i))));
        }
        it = e.inputs
                 .emplace(std::string(input),
                          std::make_unique<input_metrics>(input_metrics{
                              f.input_records.Add(l), f.input_bytes.Add(l), errors,
                              f.dependency_down.Add(l), f.dependency_lag.Add(l),
                              f.dependency_holds_expired.Add(l), f.input_stream_ended.Add(l)}))
                 .first;
    }
    return *it->second;
}

check_metrics& metrics::check(std::string_view pipeline, std::string_view node,
                              std::string_view check, bool grouped) {
    std::lock_guard lock(mutex_);
    auto& e = entry(pipeline, node);
    auto it = e.checks.find(check);
    if (it == e.checks.end()) {
        auto& f = *families_;
        const Labels l = with(node_labels(pipeline, node), "check", check);
        decltype(check_metrics::results) results{};
        for (std::size_t i = 0; i < results.size(); ++i) {
            results[i] =
                &f.check_results.Add(with(l, "outcome", to_string(static_cast<check_outcome>(i))));
        }
        it =
            e.checks
                .emplace(std::string(check), std::make_unique<check_metrics>(
                                                 results, grouped ? nullptr : &f.check_value.Add(l),
                                                 grouped ? nullptr : &f.check_failing.Add(l),
                                                 f.check_last_result.Add(l)))
                .first;
    }
    return *it->second;
}

output_metrics& metrics::output(std::string_view pipeline, std::string_view output) {
    std::lock_guard lock(mutex_);
    node_key key{std::string(pipeline), std::string(output)};
    auto it = outputs_.find(key);
    if (it == outputs_.end()) {
        const Labels l{{"pipeline", key.first}, {"output", key.second}};
        auto m = std::make_unique<output_metrics>(
            output_metrics{families_->output_records.Add(l), families_->output_errors.Add(l),
                           families_->output_blocked.Add(l), families_->output_queued.Add(l)});
        it = outputs_.emplace(std::move(key), std::move(m)).first;
    }
    return *it->second;
}

kafka_source_metrics& metrics::kafka_source(std::string_view pipeline, std::string_view node,
                                            std::string_view input, std::string_view topic,
                                            std::string_view partition) {
    std::lock_guard lock(mutex_);
    auto& e = entry(pipeline, node);
    auto key = std::make_tuple(std::string(input), std::string(topic), std::string(partition));
    auto it = e.kafka_sources.find(key);
    if (it == e.kafka_sources.end()) {
        const Labels l =
            with(with(with(node_labels(pipeline, node), "input", input), "topic", topic),
                 "partition", partition);
        auto m = std::make_unique<kafka_source_metrics>(
            kafka_source_metrics{families_->kafka_lag.Add(l), families_->kafka_lag_seconds.Add(l)});
        it = e.kafka_sources.emplace(std::move(key), std::move(m)).first;
    }
    return *it->second;
}

void metrics::remove_kafka_source(std::string_view pipeline, std::string_view node,
                                  std::string_view input, std::string_view topic,
                                  std::string_view partition) {
    std::lock_guard lock(mutex_);
    auto n = nodes_.find(node_key{std::string(pipeline), std::string(node)});
    if (n == nodes_.end()) return;
    auto& sources = n->second->kafka_sources;
    auto it = sources.find(
        std::make_tuple(std::string(input), std::string(topic), std::string(partition)));
    if (it == sources.end()) return;
    families_->kafka_lag.Remove(&it->second->lag);
    families_->kafka_lag_seconds.Remove(&it->second->lag_seconds);
    sources.erase(it);
}

kafka_input_metrics& metrics::kafka_input(std::string_view pipeline, std::string_view node,
                                          std::string_view input) {
    std::lock_guard lock(mutex_);
    auto& e = entry(pipeline, node);
    auto it = e.kafka_inputs.find(input);
    if (it == e.kafka_inputs.end()) {
        const Labels l = with(node_labels(pipeline, node), "input", input);
        auto m = std::make_unique<kafka_input_metrics>(kafka_input_metrics{
            families_->kafka_broker_up.Add(l), families_->kafka_rebalances.Add(l)});
        it = e.kafka_inputs.emplace(std::string(input), std::move(m)).first;
    }
    return *it->second;
}

group_metrics* metrics::group(std::string_view pipeline, std::string_view node,
                              std::string_view check, std::string_view key,
                              const std::vector<std::pair<std::string, std::string>>& labels) {
    std::lock_guard lock(mutex_);
    auto& e = entry(pipeline, node);
    auto c = e.groups.find(check);
    if (c != e.groups.end()) {
        auto g = c->second.find(key);
        if (g != c->second.end()) return g->second.get();
    }
    if (group_series_ >= options_.max_group_series) {
        families_->series_dropped.Add({}).Increment();
        return nullptr;
    }
    if (c == e.groups.end()) c = e.groups.emplace(std::string(check), decltype(c->second){}).first;
    Labels l = with(node_labels(pipeline, node), "check", check);
    // group_label_names keeps the fixed names out; a clash here is a caller's bug, and the
    // fixed label wins.
    for (const auto& [name, value] : labels) l.emplace(name, value);
    auto m = std::unique_ptr<group_metrics>(
        new group_metrics{families_->check_value.Add(l), families_->check_failing.Add(l)});
    auto* out = m.get();
    c->second.emplace(std::string(key), std::move(m));
    ++group_series_;
    return out;
}

void metrics::count_reload(bool success) {
    families_->config_reloads.Add({{"result", success ? "success" : "failure"}}).Increment();
}

void metrics::remove_entry(node_entry& e) {
    auto& f = *families_;
    if (e.handles) {
        auto& h = *e.handles;
        f.node_records.Remove(&h.records);
        f.node_late.Remove(&h.late_records);
        for (auto* c : h.dropped) f.node_dropped.Remove(c);
        f.watermark.Remove(&h.watermark_seconds);
        f.emit_delay.Remove(&h.emit_delay_seconds);
        f.node_up.Remove(&h.up);
        f.checkpoint_duration.Remove(&h.checkpoint_duration_seconds);
        f.checkpoint_last_success.Remove(&h.checkpoint_last_success_seconds);
        f.checkpoint_failures.Remove(&h.checkpoint_failures);
        f.node_skipped_windows.Remove(&h.skipped_windows);
    }
    if (e.join) {
        f.join_late.Remove(&e.join->late_left);
        f.join_late.Remove(&e.join->late_right);
        f.join_buffered.Remove(&e.join->buffered);
    }
    for (auto& [name, in] : e.inputs) {
        f.input_records.Remove(&in->records);
        f.input_bytes.Remove(&in->bytes);
        for (auto* c : in->errors) f.input_errors.Remove(c);
        f.dependency_down.Remove(&in->dependency_down);
        f.dependency_lag.Remove(&in->dependency_lag_seconds);
        f.dependency_holds_expired.Remove(&in->dependency_holds_expired);
        f.input_stream_ended.Remove(&in->stream_ended);
    }
    for (auto& [name, c] : e.checks) {
        for (auto* r : c->results) f.check_results.Remove(r);
        if (c->value != nullptr) f.check_value.Remove(c->value);
        if (c->failing != nullptr) f.check_failing.Remove(c->failing);
        f.check_last_result.Remove(&c->last_result_seconds);
    }
    for (auto& [check, groups] : e.groups) {
        for (auto& [group, g] : groups) {
            f.check_value.Remove(&g->value);
            f.check_failing.Remove(&g->failing);
        }
        group_series_ -= groups.size();
    }
    for (auto& [key, k] : e.kafka_sources) {
        f.kafka_lag.Remove(&k->lag);
        f.kafka_lag_seconds.Remove(&k->lag_seconds);
    }
    for (auto& [name, k] : e.kafka_inputs) {
        f.kafka_broker_up.Remove(&k->broker_up);
        f.kafka_rebalances.Remove(&k->rebalances);
    }
}

void metrics::remove_node(std::string_view pipeline, std::string_view node) {
    std::lock_guard lock(mutex_);
    auto it = nodes_.find(node_key{std::string(pipeline), std::string(node)});
    if (it == nodes_.end()) return;
    remove_entry(*it->second);
    nodes_.erase(it);
}

void metrics::remove_pipeline(std::string_view pipeline) {
    std::lock_guard lock(mutex_);
    for (auto it = nodes_.begin(); it != nodes_.end();) {
        if (it->first.first == pipeline) {
            remove_entry(*it->second);
            it = nodes_.erase(it);
        } else {
            ++it;
        }
    }
    for (auto it = outputs_.begin(); it != outputs_.end();) {
        if (it->first.first == pipeline) {
            families_->output_records.Remove(&it->second->records);
            families_->output_errors.Remove(&it->second->errors);
            families_->output_blocked.Remove(&it->second->blocked);
            families_->output_queued.Remove(&it->second->queued);
            it = outputs_.erase(it);
        } else {
            ++it;
        }
    }
}

std::size_t metrics::group_series() const {
    std::lock_guard lock(mutex_);
    return group_series_;
}

std::vector<failing_check> metrics::failing_checks(std::string_view pipeline,
                                                   const std::vector<std::string>& nodes,
                                                   std::size_t max_groups) const {
    std::vector<failing_check> out;
    std::lock_guard lock(mutex_);
    for (const auto& node : nodes) {
        const auto it = nodes_.find(node_key{std::string(pipeline), node});
        if (it == nodes_.end()) continue;
        for (const auto& [name, c] : it->second->checks) {
            const std::size_t groups = c->failing_groups.load(std::memory_order_relaxed);
            if (groups == 0) continue;
            failing_check f{node, name, groups, {}};
            // An ungrouped check fails as a whole: no group to name.
            if (c->value == nullptr) f.sample = c->failing_sample(max_groups);
            out.push_back(std::move(f));
        }
    }
    return out;
}

std::string metrics::serialize() const {
    auto families = registry_->Collect();
    append_process_metrics(families);
    // Invariants found broken where weir goes on (WEIR_CHECK, core/diag/assert.h): a bug to
    // report, counted where no alert can miss it.
    families.push_back(process_family("weir_internal_errors_total",
                                      "Internal errors weir detected and survived (a bug: "
                                      "the log says where).",
                                      prometheus::MetricType::Counter,
                                      static_cast<double>(diag::broken_checks())));
    return prometheus::TextSerializer().Serialize(families);
}

}  // namespace weir::daemon
