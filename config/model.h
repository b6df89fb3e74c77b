// The typed, positioned form of weir's configuration: daemon settings and pipelines
// (DESIGN.md §1.2, §2). Every value remembers where it was written so later stages
// (graph checks, expression and assessment compilers) report problems at the right place.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/params/registry.h"
#include "core/params/spec.h"
#include "core/params/value.h"

namespace weir::config {

struct compiled_pipeline;  // plan.h

using params::located;
using std::chrono::milliseconds;

// An input or output: its type, and its validated parameters for the connector to read
// with its own declaration (params::reader over `spec` and `params`).
struct component_config {
    std::string name;
    source_pos pos;  // the name's position
    located<std::string> type;
    const params::component_info* info = nullptr;  // never null after a successful load
    params::value params;                          // the whole mapping, `type` included
    std::vector<std::string> secrets;  // values of parameters declared secret (mark_secrets)
};
using input_config = component_config;
using output_config = component_config;

struct field_schema_config {
    located<std::string> name;
    located<std::string> type;  // string | number | integer | boolean | timestamp | object | array
    bool required = false;
    std::vector<located<std::string>> allowed;  // `enum:`
    std::optional<located<double>> minimum;
    std::optional<located<double>> maximum;
    std::optional<located<std::string>> pattern;  // RE2, full match
};

struct schema_config {
    source_pos pos;
    std::vector<field_schema_config> fields;
    located<std::string> on_invalid;                  // drop | keep | fail
    std::optional<located<std::string>> dead_letter;  // an output
};

struct transform_config {
    enum class kind { filter, set, rename, drop };
    kind type = kind::filter;
    source_pos pos;
    located<std::string> expression;  // filter
    // set: field = expression; rename: old = new; drop: fields (second is empty)
    std::vector<std::pair<located<std::string>, located<std::string>>> assignments;
};

struct time_config {
    source_pos pos;
    bool processing = false;
    located<std::string> field;
    located<std::string> format;    // rfc3339 | epoch_s | epoch_ms | epoch_us | epoch_ns | strftime
    located<std::string> timezone;  // of a pattern's local times: IANA name, UTC or +hh:mm
    located<milliseconds> max_jump;  // 0: off
};

struct window_config {
    source_pos pos;
    located<std::string> type;    // tumbling | sliding | session
    located<milliseconds> size;   // tumbling, sliding
    located<milliseconds> slide;  // sliding
    located<milliseconds> gap;    // session
    located<milliseconds> allowed_lateness;
    located<milliseconds> idle_timeout;  // 0 = never
};

struct check_config {
    source_pos pos;
    located<std::string> name;
    located<std::string> measure;
    std::optional<located<std::string>> must_be;  // or the deprecated `assess:`
    std::optional<located<std::string>> should_be;
    // Restricts the check's measures to the records for which this expression is true.
    std::optional<located<std::string>> filter;
    bool assess_alias = false;  // must_be was written as `assess:`
    std::string description;
    // Unset: the node's.
    std::optional<located<std::string>> on_no_data;  // ignore | pass | warn | fail
    std::optional<located<std::string>> on_partial;  // no_data | judge
    located<std::int64_t> samples;                   // 0: none
    bool learn_anomalies = false;  // checks against history: warn/fail values join it too
    // Alert labels and annotations of the check, in source order (name, value).
    std::vector<std::pair<located<std::string>, located<std::string>>> labels;
    std::vector<std::pair<located<std::string>, located<std::string>>> annotations;
};

struct on_error_config {
    located<std::string> action;  // continue | stop
    located<std::int64_t> max_errors;
    located<milliseconds> per;
};

struct buffer_config {
    located<std::int64_t> max_records;
    located<std::string> when_full;  // block | drop_newest | drop_oldest
};

struct join_config {
    source_pos pos;
    located<std::string> type;  // interval | temporal
    located<std::string> left;
    located<std::string> right;
    located<std::string> on_left;  // key expressions
    located<std::string> on_right;
    located<milliseconds> within;  // interval joins
    located<std::string> kind;     // inner | left | full
};

struct dependency_config {
    source_pos pos;
    located<std::string> input;
    located<milliseconds> max_lag;
    located<std::string> on_down;    // hold | continue
    located<milliseconds> max_hold;  // hold: how long at most, then as continue
};

struct node_config {
    std::string name;
    source_pos pos;  // the name's position
    std::vector<located<std::string>> from;
    bool critical = false;
    std::optional<schema_config> schema;
    std::vector<transform_config> transforms;
    std::optional<time_config> time;
    std::optional<window_config> window;
    std::vector<located<std::string>> group_by;
    located<std::int64_t> max_groups;
    located<milliseconds> group_ttl;
    located<std::int64_t> exact_quantile_limit;
    bool empty_is_missing = true;  // "" is missing (true) or a present empty string
    std::vector<check_config> checks;
    located<std::string> emit;        // all | failures | changes
    located<std::string> on_no_data;  // ignore | pass | warn | fail
    located<std::string> on_partial;  // no_data | judge
    std::vector<located<std::string>> outputs;
    on_error_config on_error;
    buffer_config buffer;
    std::optional<join_config> join;
    std::vector<dependency_config> depends_on;
    std::optional<located<std::string>> late_output;
    // Records the node cannot use; schema.dead_letter is the older spelling of it.
    std::optional<located<std::string>> dead_letter;

    // False when the node's section had errors and was read leniently (for the graph
    // checks); stages that need a well-formed node, like compilation, skip it.
    bool complete = true;

    // A node with checks emits check results; one without emits derived records.
    bool emits_results() const { return !checks.empty(); }
};

struct pipeline_config {
    std::string name;
    source_pos name_pos;  // `pipeline:` value, or the file's start when taken from the stem
    std::string file;
    std::vector<input_config> inputs;  // in source order
    std::vector<node_config> nodes;
    std::vector<output_config> outputs;
    // The compiled plan (plan.h): what `run` runs. Null when the pipeline has errors.
    std::shared_ptr<const compiled_pipeline> plan;

    const input_config* find_input(std::string_view name) const;
    const node_config* find_node(std::string_view name) const;
    const output_config* find_output(std::string_view name) const;
};

struct settings_config {
    std::string file;  // "" when no settings file was given
    located<std::string> data_dir;
    located<std::string> http_listen;
    // GET /api/v1/tap (`weir tap`): served only when http.tap is true; to clients on this
    // machine only unless http.tap_remote; at most http.tap_rate items a second per tap.
    located<bool> http_tap;
    located<bool> http_tap_remote;
    located<bool> http_commands_remote;  // baseline commands from other machines
    located<std::int64_t> http_tap_rate;
    located<std::string> log_level;   // trace | debug | info | warn | error
    located<std::string> log_format;  // text | json
    located<milliseconds> checkpoint_interval;
    located<milliseconds> shutdown_timeout;
    located<std::int64_t> metrics_max_group_series;
};

struct config_set {
    settings_config settings;
    std::vector<pipeline_config> pipelines;  // sorted by name
};

}  // namespace weir::config
