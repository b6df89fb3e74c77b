// The declarations of pipeline files (DESIGN.md §2) and of the daemon settings file (§1.2):
// one place that validation, `weir schema` and the docs all read.
#include "config/specs.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <optional>

#include "config/load.h"

namespace weir::config {

using params::key_rule;
using params::object_spec;
using params::param_spec;
using params::param_type;
using params::string_role;
using params::value;

namespace {

std::optional<std::chrono::milliseconds> duration_at(const value& v, std::string_view key) {
    const value* item = v.find(key);
    if (item == nullptr || !item->is_scalar()) return std::nullopt;
    return params::parse_duration(item->text);
}

// host:port, [v6]:port; port 0 lets the system choose.
bool is_host_port(std::string_view text) {
    const std::size_t colon = text.rfind(':');
    if (colon == std::string_view::npos || colon == 0 || colon + 1 >= text.size()) return false;
    if (text[0] == '[') {
        if (colon < 3 || text[colon - 1] != ']') return false;
    } else if (text.find(':') != colon) {
        return false;
    }
    const std::string_view port = text.substr(colon + 1);
    if (port[0] == '+' || port[0] == '-') return false;
    const auto n = params::parse_integer(port);
    return n.has_value() && *n <= 65535;
}

// --- schema -------------------------------------------------------------------------------

std::shared_ptr<const object_spec> make_field_schema_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "field schema";
    spec->description = "What a valid value of one field looks like.";
    spec->params = {
        {.name = "type",
         .type = param_type::enumeration,
         .description = "The field's JSON type; timestamp is a string or number the node's "
                        "time format reads.",
         .required = true,
         .choices = {"string", "number", "integer", "boolean", "timestamp", "object", "array"}},
        {.name = "required",
         .type = param_type::boolean,
         .description = "A record without the field (or with null) is invalid.",
         .default_text = "false"},
        {.name = "enum",
         .type = param_type::string_list,
         .description = "The only allowed values (read as the field's type)."},
        {.name = "min",
         .type = param_type::number,
         .description = "Smallest allowed value (number, integer)."},
        {.name = "max",
         .type = param_type::number,
         .description = "Largest allowed value (number, integer)."},
        {.name = "pattern",
         .type = param_type::string,
         .description = "A regular expression (RE2) the whole string must match.",
         .role = string_role::regex},
    };
    const std::vector<std::string> numeric = {"min", "max"};
    spec->conditionals = {
        {.key = "type", .equals = "string", .forbids_keys = numeric},
        {.key = "type", .equals = "number", .forbids_keys = {"pattern"}},
        {.key = "type", .equals = "integer", .forbids_keys = {"pattern"}},
        {.key = "type", .equals = "boolean", .forbids_keys = {"min", "max", "pattern", "enum"}},
        {.key = "type", .equals = "timestamp", .forbids_keys = {"min", "max", "pattern", "enum"}},
        {.key = "type", .equals = "object", .forbids_keys = {"min", "max", "pattern", "enum"}},
        {.key = "type", .equals = "array", .forbids_keys = {"min", "max", "pattern", "enum"}},
    };
    spec->check = [](const value& v, const std::string& path, diagnostics& out) {
        const value* lo = v.find("min");
        const value* hi = v.find("max");
        if (lo != nullptr && hi != nullptr) {
            const auto a = params::parse_number(lo->text);
            const auto b = params::parse_number(hi->text);
            if (a && b && *a > *b) {
                out.error(hi->pos, path + ".max",
                          "max (" + hi->text + ") must not be less than min (" + lo->text + ")");
            }
        }
    };
    return spec;
}

std::shared_ptr<const object_spec> make_schema_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "record schema";
    spec->description =
        "Fields the node's records must have. Invalid records are counted "
        "(invalid_count(), weir_node_dropped_records_total{reason=\"invalid\"}) and handled by "
        "on_invalid.";
    spec->params = {
        {.name = "fields",
         .type = param_type::object_map,
         .description = "Field paths (a.b for nested fields) and what their values must be.",
         .required = true,
         .object = make_field_schema_spec(),
         // Field names come from the data (e.g. camelCase JSON), not from weir's naming rules.
         .role = string_role::expression},
        {.name = "on_invalid",
         .type = param_type::enumeration,
         .description = "drop: leave invalid records out; keep: keep them (measures see them, "
                        "invalid_count() counts them); fail: an invalid record is an error "
                        "(see on_error).",
         .default_text = "drop",
         .choices = {"drop", "keep", "fail"}},
        {.name = "dead_letter",
         .type = param_type::string,
         .description = "The node's dead_letter (the older place for it; give one of the two).",
         .role = string_role::output_ref},
    };
    return spec;
}

// --- transforms, time, window -------------------------------------------------------------

std::shared_ptr<const object_spec> make_transform_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "transform";
    spec->description =
        "One step applied to each record, in order: exactly one of filter, set, "
        "rename, drop.";
    spec->params = {
        {.name = "filter",
         .type = param_type::string,
         .description = "Keep only records for which this expression is true, e.g. "
                        "'status != \"test\"'.",
         .role = string_role::expression},
        {.name = "set",
         .type = param_type::string_map,
         .description = "Fields to set from expressions, e.g. {temp_c: '(temperature - 32) * "
                        "5 / 9'}."},
        {.name = "rename",
         .type = param_type::string_map,
         .description = "Fields to rename, old name: new name."},
        {.name = "drop",
         .type = param_type::string_list,
         .description = "Fields to remove.",
         .role = string_role::expression},
    };
    spec->rules = {
        {.rule = key_rule::kind::exactly_one, .keys = {"filter", "set", "rename", "drop"}}};
    return spec;
}

const std::vector<std::string>& time_formats() {
    static const std::vector<std::string> formats = {"rfc3339", "epoch_s", "epoch_ms", "epoch_us",
                                                     "epoch_ns"};
    return formats;
}

std::shared_ptr<const object_spec> make_time_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "event time";
    spec->description =
        "Where a record's event time comes from; or `time: processing` to use "
        "the arrival time (wall clock).";
    spec->params = {
        {.name = "field",
         .type = param_type::string,
         .description = "The field holding the event time.",
         .required = true,
         .role = string_role::expression},
        {.name = "format",
         .type = param_type::string,
         .description = "rfc3339, epoch_s, epoch_ms, epoch_us, epoch_ns (numbers or numeric "
                        "strings), or a strftime pattern such as \"%Y-%m-%d %H:%M:%S\" (local "
                        "times in `timezone`).",
         .default_text = "rfc3339"},
        {.name = "timezone",
         .type = param_type::string,
         .description = "The zone of the local times a pattern without %z reads: an IANA name "
                        "such as Europe/Berlin (daylight saving included), UTC, or an offset "
                        "such as +02:00.",
         .default_text = "UTC"},
        {.name = "max_jump",
         .type = param_type::duration,
         .description = "A record whose event time is more than this after the newest event "
                        "time of its source is suspicious: dropped (future_time) and "
                        "dead-lettered instead of moving the watermark, unless the wall clock or "
                        "3 consecutive records agree with it. 0 turns the check off.",
         .default_text = "1d"},
    };
    spec->check = [](const value& v, const std::string& path, diagnostics& out) {
        const value* format = v.find("format");
        if (format == nullptr) return;
        const auto& named = time_formats();
        const std::string& text = format->text;
        if (std::find(named.begin(), named.end(), text) != named.end()) return;
        if (text.find('%') != std::string::npos) return;
        std::string message =
            "expected rfc3339, epoch_s, epoch_ms, epoch_us, epoch_ns or a "
            "strftime pattern with %, got " +
            format->display();
        if (!format->secret) {
            const std::string near = nearest(text, named);
            if (!near.empty()) message += "; did you mean " + in_quotes(near) + "?";
        }
        out.error(format->pos, path + ".format", message);
    };
    return spec;
}

std::shared_ptr<const object_spec> make_window_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "window";
    spec->description =
        "How records are cut into windows of event time. A window [start, end) is emitted once, "
        "when the watermark (largest event time seen minus allowed_lateness) passes its end; "
        "empty windows are emitted too.";
    spec->params = {
        {.name = "type",
         .type = param_type::enumeration,
         .description = "tumbling {size}: back-to-back windows; sliding {size, slide}: "
                        "overlapping windows starting every slide; session {gap}: a window per "
                        "burst of activity, closed by a gap without records.",
         .required = true,
         .choices = {"tumbling", "sliding", "session"}},
        {.name = "size",
         .type = param_type::duration,
         .description = "Length of a window (tumbling, sliding).",
         .minimum = 1},
        {.name = "slide",
         .type = param_type::duration,
         .description = "Distance between the starts of two sliding windows; size must be a "
                        "multiple of it.",
         .minimum = 1},
        {.name = "gap",
         .type = param_type::duration,
         .description = "Silence that ends a session.",
         .minimum = 1},
        {.name = "allowed_lateness",
         .type = param_type::duration,
         .description = "How far event times may go back before records count as late; "
                        "windows close this much later.",
         .default_text = "0s"},
        {.name = "idle_timeout",
         .type = param_type::duration,
         .description = "After this much wall-clock silence an input stops holding the "
                        "watermark back, so quiet streams still close windows; 0 = never.",
         .default_text = "0s"},
    };
    spec->conditionals = {
        {.key = "type",
         .equals = "tumbling",
         .requires_keys = {"size"},
         .forbids_keys = {"slide", "gap"}},
        {.key = "type",
         .equals = "sliding",
         .requires_keys = {"size", "slide"},
         .forbids_keys = {"gap"}},
        {.key = "type",
         .equals = "session",
         .requires_keys = {"gap"},
         .forbids_keys = {"size", "slide"}},
    };
    spec->check = [](const value& v, const std::string& path, diagnostics& out) {
        const auto size = duration_at(v, "size");
        const auto slide = duration_at(v, "slide");
        if (!size || !slide) return;
        const value& at = *v.find("slide");
        if (*slide > *size) {
            out.error(at.pos, path + ".slide",
                      "slide (" + params::format_duration(*slide) + ") must not exceed size (" +
                          params::format_duration(*size) + ")");
        } else if (size->count() % slide->count() != 0) {
            out.error(at.pos, path + ".slide",
                      "size (" + params::format_duration(*size) +
                          ") must be a multiple of "
                          "slide (" +
                          params::format_duration(*slide) + ")");
        }
    };
    return spec;
}

// --- checks and the rest of a node ----------------------------------------------------------

// Label and annotation names Prometheus and Alertmanager accept: [a-zA-Z_][a-zA-Z0-9_]*, and
// not __ first (reserved for their own use).
bool is_alert_label_name(std::string_view name) {
    if (name.empty() || name.starts_with("__") || (name[0] >= '0' && name[0] <= '9')) {
        return false;
    }
    return std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_';
    });
}

// The labels weir gives every alert of a check (severity may be replaced by the check).
bool is_weir_alert_label(std::string_view name) {
    return name == "alertname" || name == "pipeline" || name == "node" || name == "check";
}

// A group_by field as the alert label it becomes ("device.id" -> "device_id").
std::string group_label_name(std::string_view field) {
    std::string out;
    if (field.empty() || (field[0] >= '0' && field[0] <= '9')) out += '_';
    for (const char c : field) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out += ok ? c : '_';
    }
    return out;
}

std::shared_ptr<const object_spec> make_check_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "check";
    spec->description = "A measure computed on every window (and group), and what it must be.";
    spec->params = {
        {.name = "name",
         .type = param_type::string,
         .description = "snake_case, unique within the node; the `check` label of metrics and "
                        "results.",
         .required = true,
         .role = string_role::name},
        {.name = "measure",
         .type = param_type::string,
         .description = "An expression over aggregate functions, e.g. count(), "
                        "missing_fraction(temperature), percentile(latency_ms, 0.99).",
         .required = true,
         .role = string_role::measure},
        {.name = "must_be",
         .type = param_type::string,
         .description = "The assessment whose violation makes the outcome `fail`, e.g. "
                        "\"> 50\", \"[15, 35]\", \"< 5%\", \"< 60s\", \"in {a, b}\".",
         .role = string_role::assessment},
        {.name = "should_be",
         .type = param_type::string,
         .description = "An assessment whose violation makes the outcome `warn`.",
         .role = string_role::assessment},
        {.name = "assess",
         .type = param_type::string,
         .description = "Deprecated spelling of must_be.",
         .role = string_role::assessment,
         .alias_of = "must_be"},
        {.name = "filter",
         .type = param_type::string,
         .description = "Measure only the records for which this expression is true (the "
                        "language of a filter: transform), e.g. 'region == \"eu\"'; the "
                        "node's other checks still see every record. A null result does not "
                        "match. `records` in results still counts the whole window.",
         .role = string_role::expression},
        {.name = "description",
         .type = param_type::string,
         .description = "What the check watches, for people: sent as the `description` "
                        "annotation of its alerts unless annotations give one (not in result "
                        "records)."},
        {.name = "labels",
         .type = param_type::string_map,
         .description = "Labels of the check's alerts, e.g. {team: payments, tier: \"1\"}; "
                        "they win over the output's labels. `severity` replaces the output's "
                        "severity_map for this check; alertname, pipeline, node, check and the "
                        "node's group_by fields are weir's and cannot be set. Names: "
                        "[a-zA-Z_][a-zA-Z0-9_]*, not starting with __; values not empty."},
        {.name = "annotations",
         .type = param_type::string_map,
         .description = "Annotations of the check's alerts, usually runbook_url, owner and "
                        "description (any name is allowed); they win over the output's "
                        "annotations and weir's own (summary, description...)."},
        {.name = "on_no_data",
         .type = param_type::enumeration,
         .description = "The outcome when the measure has no data (is null), for this check; "
                        "default: the node's on_no_data.",
         .choices = {"ignore", "pass", "warn", "fail"}},
        {.name = "on_partial",
         .type = param_type::enumeration,
         .description = "How a partial window is judged, for this check; default: the node's "
                        "on_partial.",
         .choices = {"no_data", "judge"}},
        {.name = "learn_anomalies",
         .type = param_type::boolean,
         .description = "Checks against history (\"zscore(last 24) < 3\", \"change vs 1w < "
                        "30%\"): whether values judged warn or fail join the history too. "
                        "false keeps them out, so one incident does not teach the baseline; "
                        "`weir baseline acknowledge` learns them when a new level is right.",
         .default_text = "false"},
        {.name = "samples",
         .type = param_type::integer,
         .description = "Results that fail or warn carry up to this many of the window's "
                        "records that count against the check (the missing, out-of-range, "
                        "non-matching ones...): their event time and the fields the measure "
                        "reads, fields named like secrets masked. For measures that are one "
                        "call of count(f), missing_count/fraction, in_range_*, in_set_*, "
                        "matches_*, count_where or fraction_where; 0 keeps none.",
         .default_text = "0",
         .minimum = 0,
         .maximum = 100},
    };
    spec->rules = {{.rule = key_rule::kind::at_least_one, .keys = {"must_be", "should_be"}}};
    spec->check = [](const value& v, const std::string& path, diagnostics& out) {
        for (const char* key : {"labels", "annotations"}) {
            const value* map = v.find(key);
            if (map == nullptr || !map->is_mapping()) continue;
            const bool labels = key == std::string_view("labels");
            for (const auto& e : map->entries) {
                const std::string where = path + "." + key + "." + e.key;
                if (!is_alert_label_name(e.key)) {
                    out.error(e.key_pos, where,
                              std::string(labels ? "label" : "annotation") + " name \"" + e.key +
                                  "\" is not allowed by Alertmanager: use letters, digits and "
                                  "_, not starting with a digit or __");
                } else if (labels && is_weir_alert_label(e.key)) {
                    out.error(e.key_pos, where,
                              "label \"" + e.key +
                                  "\" is set by weir to identify the alert; choose another name");
                } else if (labels && e.val.is_scalar() && e.val.text.empty()) {
                    out.error(e.val.pos, where,
                              "label \"" + e.key +
                                  "\" is empty; Alertmanager drops empty labels, so give it a "
                                  "value or leave it out");
                }
            }
        }
    };
    return spec;
}

std::shared_ptr<const object_spec> make_on_error_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "error policy";
    spec->description =
        "Records that cannot be decoded or evaluated are counted "
        "(weir_input_errors_total, weir_node_dropped_records_total) and skipped; this says "
        "when that stops being acceptable.";
    spec->params = {
        {.name = "action",
         .type = param_type::enumeration,
         .description = "continue: keep skipping bad records; stop: fail the node when more "
                        "than max_errors occur within `per` (a critical node then stops the "
                        "daemon, others restart with back-off).",
         .default_text = "continue",
         .choices = {"continue", "stop"}},
        {.name = "max_errors",
         .type = param_type::integer,
         .description = "Errors tolerated within `per`.",
         .default_text = "100",
         .minimum = 0},
        {.name = "per",
         .type = param_type::duration,
         .description = "The sliding time span over which errors are counted.",
         .default_text = "1m",
         .minimum = 1000},
    };
    return spec;
}

std::shared_ptr<const object_spec> make_buffer_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "input buffer";
    spec->description =
        "Back-pressure. A node processes records as they are read; what can pile up is what it "
        "writes to outputs that are slower than the input (a webhook that is slow or down). "
        "max_records caps the records queued in each output the query writes to.";
    spec->params = {
        {.name = "max_records",
         .type = param_type::integer,
         .description = "Capacity of the buffer.",
         .default_text = "100000",
         .minimum = 1,
         .maximum = 100000000},
        {.name = "when_full",
         .type = param_type::enumeration,
         .description = "block: pause reading the query's inputs until the outputs drained to "
                        "half (files and Kafka catch up later; the query shows as degraded); "
                        "drop_newest: do not write new results while an output is full; "
                        "drop_oldest: an output drops its oldest queued requests (counted in "
                        "weir_node_dropped_records_total{reason=\"buffer_full\"}).",
         .default_text = "block",
         .choices = {"block", "drop_newest", "drop_oldest"}},
    };
    return spec;
}

std::shared_ptr<const object_spec> make_join_keys_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "join keys";
    spec->description = "The key expression on each side; records join when they are equal.";
    spec->params = {
        {.name = "left",
         .type = param_type::string,
         .description = "Key of the left source's records, e.g. order_id.",
         .required = true,
         .role = string_role::expression},
        {.name = "right",
         .type = param_type::string,
         .description = "Key of the right source's records.",
         .required = true,
         .role = string_role::expression},
    };
    return spec;
}

std::shared_ptr<const object_spec> make_join_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "join";
    spec->description =
        "Pairs records of the node's two sources; joined fields are namespaced by source name "
        "(orders.amount).";
    spec->params = {
        {.name = "type",
         .type = param_type::enumeration,
         .description = "interval: records whose keys match and whose event times are within "
                        "`within`; temporal: each left record with the latest right record at "
                        "or before its time (as-of join).",
         .required = true,
         .choices = {"interval", "temporal"}},
        {.name = "left",
         .type = param_type::string,
         .description = "The left source (one of from).",
         .required = true,
         .role = string_role::source_ref},
        {.name = "right",
         .type = param_type::string,
         .description = "The right source (the other one of from).",
         .required = true,
         .role = string_role::source_ref},
        {.name = "on",
         .type = param_type::object,
         .description = "Join keys.",
         .required = true,
         .object = make_join_keys_spec()},
        {.name = "within",
         .type = param_type::duration,
         .description = "interval: the largest distance of event times; temporal: the oldest a "
                        "right record may be (default: no limit).",
         .minimum = 1},
        {.name = "kind",
         .type = param_type::enumeration,
         .description = "inner: only pairs; left: also unmatched left records; full: also "
                        "unmatched right records (interval joins).",
         .default_text = "inner",
         .choices = {"inner", "left", "full"}},
    };
    spec->conditionals = {{.key = "type", .equals = "interval", .requires_keys = {"within"}}};
    spec->check = [](const value& v, const std::string& path, diagnostics& out) {
        const value* type = v.find("type");
        const value* kind = v.find("kind");
        if (type != nullptr && type->text == "temporal" && kind != nullptr &&
            kind->text == "full") {
            out.error(kind->pos, path + ".kind",
                      "a temporal join is inner or left: right records are not emitted alone");
        }
    };
    return spec;
}

std::shared_ptr<const object_spec> make_dependency_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "dependency";
    spec->description =
        "An input of the node whose event time must keep up: while it trails the node's by "
        "more than max_lag and is not catching up on a backlog, it is down "
        "(weir_dependency_down is 1) and the node's windows wait for it or are flagged.";
    spec->params = {
        {.name = "input",
         .type = param_type::string,
         .description = "The input depended on.",
         .required = true,
         .role = string_role::input_ref},
        {.name = "max_lag",
         .type = param_type::duration,
         .description = "How far the dependency's event time may trail the node's watermark.",
         .required = true,
         .minimum = 1},
        {.name = "on_down",
         .type = param_type::enumeration,
         .description = "hold: the node's windows wait for it (up to max_hold) and are "
                        "evaluated with its data once it is back; continue: they close "
                        "without it, their results flagged with dependency_down.",
         .default_text = "hold",
         .choices = {"hold", "continue"}},
        {.name = "max_hold",
         .type = param_type::duration,
         .description = "on_down: hold: how long (wall clock) windows wait for a dependency "
                        "that is down; then it is treated as on_down: continue until it is up "
                        "again. 0: no bound.",
         .default_text = "1h"},
    };
    return spec;
}

std::shared_ptr<const object_spec> make_node_spec() {
    auto spec = std::make_shared<object_spec>();
    spec->name = "node";
    spec->description =
        "Reads inputs or other nodes, shapes the records, and either computes checks on "
        "windows (emitting check results) or, without checks, emits the shaped records as a "
        "derived stream.";
    spec->params = {
        {.name = "from",
         .type = param_type::string_list,
         .description = "The inputs or nodes read: one name or a list.",
         .required = true,
         .role = string_role::source_ref},
        {.name = "critical",
         .type = param_type::boolean,
         .description = "A failure of this node stops the daemon (exit 1); otherwise the node "
                        "restarts with back-off.",
         .default_text = "false"},
        {.name = "schema",
         .type = param_type::object,
         .description = "Fields the records must have.",
         .object = make_schema_spec()},
        {.name = "transforms",
         .type = param_type::object_list,
         .description = "Steps applied to each record in order.",
         .object = make_transform_spec()},
        {.name = "time",
         .type = param_type::object,
         .description = "Event time: {field, format}, or processing.",
         .object = make_time_spec(),
         .scalar_forms = {"processing"}},
        {.name = "window",
         .type = param_type::object,
         .description = "Windows the checks are computed on.",
         .object = make_window_spec()},
        {.name = "group_by",
         .type = param_type::string_list,
         .description = "Fields whose values split each window into groups, checked "
                        "separately.",
         .role = string_role::expression},
        {.name = "max_groups",
         .type = param_type::integer,
         .description = "Most groups tracked at once; records of further groups are dropped "
                        "and counted (reason=\"group_overflow\").",
         .default_text = "100000",
         .minimum = 1,
         .maximum = 100000000},
        {.name = "group_ttl",
         .type = param_type::duration,
         .description = "A group silent for this long (event time) is forgotten: no more empty "
                        "windows for it.",
         .default_text = "1h",
         .minimum = 1000},
        {.name = "empty_is_missing",
         .type = param_type::boolean,
         .description = "Whether the measures take an empty string \"\" for a missing value "
                        "(like null: true) or for a present value, an empty string (false).",
         .default_text = "true"},
        {.name = "exact_quantile_limit",
         .type = param_type::integer,
         .description = "median and percentile are exact while a window (and group) holds at "
                        "most this many numbers, and come from a sketch beyond (results say "
                        "approximate). 0: always the sketch.",
         .default_text = "4096",
         .minimum = 0,
         .maximum = 1000000},
        {.name = "checks",
         .type = param_type::object_list,
         .description = "Measures and what they must be.",
         .object = make_check_spec()},
        {.name = "emit",
         .type = param_type::enumeration,
         .description =
             "all: every result; failures: every result but pass (warn, fail, no_data); changes: "
             "results whose outcome differs from the same check's previous window "
             "(and group).",
         .default_text = "all",
         .choices = {"all", "failures", "changes"}},
        {.name = "on_no_data",
         .type = param_type::enumeration,
         .description =
             "The outcome of a check whose measure has no data (is null, e.g. mean() of an empty "
             "window): ignore: no_data, which raises no alert; pass, warn or fail: that outcome "
             "(value null), so missing data can alert. A check's own on_no_data wins.",
         .default_text = "ignore",
         .choices = {"ignore", "pass", "warn", "fail"}},
        {.name = "on_partial",
         .type = param_type::enumeration,
         .description =
             "A window is partial when the node started (without checkpointed state for it) "
             "after the window began; its results say partial: true. no_data: a partial "
             "window's warn or fail is reported as no_data (no false alarm at start); judge: "
             "judged like any window. A check's own on_partial wins.",
         .default_text = "no_data",
         .choices = {"no_data", "judge"}},
        {.name = "outputs",
         .type = param_type::string_list,
         .description = "Outputs that receive the node's results (or records).",
         .role = string_role::output_ref},
        {.name = "on_error",
         .type = param_type::object,
         .description = "How many bad records are acceptable.",
         .object = make_on_error_spec()},
        {.name = "buffer",
         .type = param_type::object,
         .description = "Back-pressure between the inputs and the node.",
         .object = make_buffer_spec()},
        {.name = "join",
         .type = param_type::object,
         .description = "Join the node's two sources.",
         .object = make_join_spec()},
        {.name = "depends_on",
         .type = param_type::object_list,
         .description = "Inputs whose lag holds back or flags the results.",
         .object = make_dependency_spec()},
        {.name = "late_output",
         .type = param_type::string,
         .description = "An output that receives late records instead of dropping them.",
         .role = string_role::output_ref},
        {.name = "dead_letter",
         .type = param_type::string,
         .description = "An output that receives every record the node cannot use (not JSON, "
                        "not a CSV row, a schema violation, an unreadable event time), with "
                        "where it was read and why.",
         .role = string_role::output_ref},
    };
    spec->check = [](const value& v, const std::string& path, diagnostics& out) {
        // The group_by fields become labels of the alerts: a check label of the same name
        // would hide which group fails.
        const value* group_by = v.find("group_by");
        const value* checks = v.find("checks");
        if (group_by == nullptr || checks == nullptr || !checks->is_sequence()) return;
        std::vector<std::pair<std::string, std::string>> fields;  // label, field
        if (group_by->is_scalar())
            fields.emplace_back(group_label_name(group_by->text), group_by->text);
        for (const auto& g : group_by->items) {
            if (g.is_scalar()) fields.emplace_back(group_label_name(g.text), g.text);
        }
        for (std::size_t i = 0; i < checks->items.size(); ++i) {
            const value* labels = checks->items[i].find("labels");
            if (labels == nullptr) continue;
            for (const auto& e : labels->entries) {
                for (const auto& [label, field] : fields) {
                    if (e.key != label) continue;
                    out.error(e.key_pos,
                              path + ".checks[" + std::to_string(i) + "].labels." + e.key,
                              "label \"" + e.key + "\" is the group_by field " + field +
                                  ", which labels the alert with its group's value; choose "
                                  "another name");
                }
            }
        }
    };
    return spec;
}

const std::shared_ptr<const object_spec>& shared_node_spec() {
    static const std::shared_ptr<const object_spec> spec = make_node_spec();
    return spec;
}

// --- the file ------------------------------------------------------------------------------

std::vector<param_spec> pipeline_params(std::shared_ptr<const object_spec> input,
                                        std::shared_ptr<const object_spec> node,
                                        std::shared_ptr<const object_spec> output) {
    return {
        {.name = "pipeline",
         .type = param_type::string,
         .description = "The pipeline's name (snake_case); default: the file's stem.",
         .role = string_role::name},
        {.name = "inputs",
         .type = param_type::object_map,
         .description = "The streams read, by name; each has a `type` and that type's "
                        "parameters.",
         .required = true,
         .object = std::move(input),
         .role = string_role::input_ref},
        {.name = "nodes",
         .type = param_type::object_map,
         .description = "The nodes, by name.",
         .required = true,
         .object = std::move(node),
         .role = string_role::source_ref},
        {.name = "outputs",
         .type = param_type::object_map,
         .description = "Where results go, by name; each has a `type` and that type's "
                        "parameters.",
         .object = std::move(output),
         .role = string_role::output_ref},
    };
}

std::shared_ptr<const object_spec> make_component_spec(const params::component_registry& registry,
                                                       params::component_kind kind) {
    const bool input = kind == params::component_kind::input;
    auto spec = std::make_shared<object_spec>();
    spec->name = input ? "input" : "output";
    spec->description = input ? "An input: `type` selects the connector and its parameters."
                              : "An output: `type` selects the connector and its parameters.";
    param_spec type{.name = "type",
                    .type = param_type::enumeration,
                    .description = "The connector.",
                    .required = true,
                    .choices = registry.types(kind)};
    spec->params.push_back(std::move(type));
    return spec;
}

std::shared_ptr<const object_spec> make_settings_spec() {
    auto http = std::make_shared<object_spec>();
    http->name = "http server";
    http->description =
        "The daemon's HTTP server: /metrics, /health, /ready, /api/v1/status, /api/v1/tap.";
    http->params = {{.name = "listen",
                     .type = param_type::string,
                     .description = "host:port to listen on (the --http-listen flag and "
                                    "WEIR_HTTP_LISTEN override it).",
                     .default_text = "127.0.0.1:9797",
                     .role = string_role::host_port},
                    {.name = "tap",
                     .type = param_type::boolean,
                     .description = "Serve /api/v1/tap, the live sample of a node's records or "
                                    "results that `weir tap` shows (records may hold personal "
                                    "data: off unless set).",
                     .default_text = "false"},
                    {.name = "tap_remote",
                     .type = param_type::boolean,
                     .description = "Let clients on other machines tap too; without it, "
                                    "/api/v1/tap answers only clients on this machine.",
                     .default_text = "false"},
                    {.name = "commands_remote",
                     .type = param_type::boolean,
                     .description = "Take baseline commands (POST /api/v1/baselines/..., `weir "
                                    "baseline`) from clients on other machines too; without "
                                    "it they are taken from this machine only.",
                     .default_text = "false"},
                    {.name = "tap_rate",
                     .type = param_type::integer,
                     .description = "Most records or results a second one tap receives; the "
                                    "rest are dropped and counted.",
                     .default_text = "100",
                     .minimum = 1,
                     .maximum = 100000}};
    http->check = [](const value& v, const std::string& path, diagnostics& out) {
        const value* listen = v.find("listen");
        if (listen != nullptr && !is_host_port(listen->text)) {
            out.error(listen->pos, path + ".listen",
                      "expected host:port such as \"127.0.0.1:9797\", got " + listen->display());
        }
    };

    auto log = std::make_shared<object_spec>();
    log->name = "logging";
    log->description = "The daemon's log (standard error, or the journal under systemd).";
    log->params = {
        {.name = "level",
         .type = param_type::enumeration,
         .description = "Least severe level logged (--log-level, WEIR_LOG_LEVEL).",
         .default_text = "info",
         .choices = {"trace", "debug", "info", "warn", "error"}},
        {.name = "format",
         .type = param_type::enumeration,
         .description = "text lines or JSON objects (--log-format, WEIR_LOG_FORMAT).",
         .default_text = "text",
         .choices = {"text", "json"}},
    };

    auto checkpoint = std::make_shared<object_spec>();
    checkpoint->name = "checkpoints";
    checkpoint->description = "Per-query checkpoints under <data_dir>/checkpoints/.";
    checkpoint->params = {{.name = "interval",
                           .type = param_type::duration,
                           .description = "Time between checkpoints of a query; also the most "
                                          "work a crash can make weir redo.",
                           .default_text = "10s",
                           .minimum = 100,
                           .maximum = 3600.0 * 1000}};

    auto metrics = std::make_shared<object_spec>();
    metrics->name = "metrics";
    metrics->description = "Prometheus metrics at /metrics.";
    metrics->params = {{.name = "max_group_series",
                        .type = param_type::integer,
                        .description = "Most groups of grouped checks with series "
                                       "(weir_check_value and weir_check_failing, the "
                                       "group_by fields as labels), all checks together "
                                       "(cardinality cap); further groups are counted, not "
                                       "exported; 0 exports none.",
                        .default_text = "1000",
                        .minimum = 0,
                        .maximum = 1000000}};

    auto spec = std::make_shared<object_spec>();
    spec->name = "weir settings";
    spec->description = "Daemon settings (weir.yaml); every key is optional.";
    spec->params = {
        {.name = "data_dir",
         .type = param_type::string,
         .description = "Where checkpoints live (--data-dir, WEIR_DATA_DIR).",
         .default_text = "/var/lib/weir",
         .role = string_role::path},
        {.name = "http",
         .type = param_type::object,
         .description = http->description,
         .object = http},
        {.name = "log", .type = param_type::object, .description = log->description, .object = log},
        {.name = "checkpoint",
         .type = param_type::object,
         .description = checkpoint->description,
         .object = checkpoint},
        {.name = "shutdown_timeout",
         .type = param_type::duration,
         .description = "Longest a graceful stop (drain, flush, final checkpoint) may take.",
         .default_text = "30s",
         .minimum = 1000,
         .maximum = 3600.0 * 1000},
        {.name = "metrics",
         .type = param_type::object,
         .description = metrics->description,
         .object = metrics},
    };
    return spec;
}

}  // namespace

bool is_snake_case(std::string_view s) {
    if (s.empty() || s[0] < 'a' || s[0] > 'z') return false;
    return std::all_of(s.begin(), s.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
}

const object_spec& node_spec() {
    return *shared_node_spec();
}

const object_spec& pipeline_sections_spec() {
    static const object_spec spec = [] {
        object_spec s;
        s.name = "pipeline file";
        s.description =
            "One pipeline: the inputs it reads, the nodes that shape and check "
            "records, and the outputs results go to.";
        // No nested declarations: any named mapping passes here; the loader validates each
        // node, and each input and output against its type's declaration.
        s.params = pipeline_params(nullptr, nullptr, nullptr);
        return s;
    }();
    return spec;
}

std::shared_ptr<const object_spec> make_pipeline_spec(const params::component_registry& registry) {
    auto spec = std::make_shared<object_spec>(pipeline_sections_spec());
    spec->params = pipeline_params(make_component_spec(registry, params::component_kind::input),
                                   shared_node_spec(),
                                   make_component_spec(registry, params::component_kind::output));
    return spec;
}

const object_spec& pipeline_spec(const params::component_registry& registry) {
    // One spec per set of registered types; callers keep the reference for the program's life.
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<const object_spec>> cache;
    std::string key;
    for (const auto kind : {params::component_kind::input, params::component_kind::output}) {
        for (const auto& t : registry.types(kind)) key += t + ",";
        key += ";";
    }
    const std::lock_guard lock(mutex);
    auto& slot = cache[key];
    if (!slot) slot = make_pipeline_spec(registry);
    return *slot;
}

const object_spec& settings_spec() {
    static const std::shared_ptr<const object_spec> spec = make_settings_spec();
    return *spec;
}

void check_node_rules(const value& node, const std::string& path, diagnostics& out) {
    if (!node.is_mapping()) return;
    const value::entry* from = node.find_entry("from");
    const value::entry* checks = node.find_entry("checks");
    const value::entry* window = node.find_entry("window");
    const value::entry* time = node.find_entry("time");
    const value::entry* join = node.find_entry("join");
    const value::entry* late = node.find_entry("late_output");

    // References name keys of the same file, which are never interpolated: a name from the
    // environment can only be a mistake, and echoing it in "unknown name" messages could leak
    // a secret.
    auto literal_names = [&](const value* v, const std::string& at, const char* what) {
        if (v == nullptr) return;
        std::vector<const value*> names;
        if (v->is_scalar()) names.push_back(v);
        if (v->is_sequence()) {
            for (const auto& item : v->items) names.push_back(&item);
        }
        for (const value* name : names) {
            if (name->is_scalar() && name->from_env) {
                out.error(name->pos, at,
                          std::string(what) + " names are written as they are, without ${...}");
            }
        }
    };
    literal_names(node.find("from"), path + ".from", "input and node");
    literal_names(node.find("outputs"), path + ".outputs", "output");
    literal_names(node.find("late_output"), path + ".late_output", "output");
    literal_names(node.find("dead_letter"), path + ".dead_letter", "output");
    if (const value* schema = node.find("schema")) {
        literal_names(schema->find("dead_letter"), path + ".schema.dead_letter", "output");
        const value* both = schema->find("dead_letter");
        if (both != nullptr && node.find("dead_letter") != nullptr) {
            out.error(both->pos, path + ".schema.dead_letter",
                      "the node has dead_letter already: give it once (dead_letter: receives "
                      "schema violations too)");
        }
    }
    if (const value* j = node.find("join")) {
        literal_names(j->find("left"), path + ".join.left", "input and node");
        literal_names(j->find("right"), path + ".join.right", "input and node");
    }
    if (const value* deps = node.find("depends_on"); deps != nullptr && deps->is_sequence()) {
        for (std::size_t i = 0; i < deps->items.size(); ++i) {
            literal_names(deps->items[i].find("input"),
                          path + ".depends_on[" + std::to_string(i) + "].input", "input");
        }
    }

    // Sources: at least one, each once.
    if (from != nullptr && from->val.is_sequence()) {
        if (from->val.items.empty()) {
            out.error(from->val.pos, path + ".from", "expected at least one input or node");
        }
        std::map<std::string, int, std::less<>> seen;
        for (const auto& item : from->val.items) {
            if (!item.is_scalar()) continue;
            if (!seen.emplace(item.text, item.pos.line).second) {
                out.error(item.pos, path + ".from", item.display() + " is listed twice");
            }
        }
    }

    // Check names: snake_case, unique within the node.
    const bool has_checks =
        checks != nullptr && checks->val.is_sequence() && !checks->val.items.empty();
    if (checks != nullptr && checks->val.is_sequence()) {
        std::map<std::string, source_pos, std::less<>> seen;
        for (std::size_t i = 0; i < checks->val.items.size(); ++i) {
            const value* name = checks->val.items[i].find("name");
            if (name == nullptr || !name->is_scalar()) continue;
            const std::string at = path + ".checks[" + std::to_string(i) + "].name";
            if (!is_snake_case(name->text)) {
                out.error(name->pos, at,
                          "invalid check name " + name->display() +
                              ": names are snake_case ([a-z][a-z0-9_]*)");
            }
            auto [it, fresh] = seen.emplace(name->text, name->pos);
            if (!fresh) {
                out.error(name->pos, at,
                          "duplicate check name " + name->display() + " (first at line " +
                              std::to_string(it->second.line) + ")");
            }
        }
    }

    // Windows exist for checks, and windows need event time.
    if (has_checks && window == nullptr) {
        out.error(checks->key_pos, path + ".checks",
                  "a node with checks needs a window, e.g. window: {type: tumbling, size: 1m}");
    }
    if (window != nullptr && time == nullptr) {
        out.error(window->key_pos, path + ".window",
                  "a window needs `time`: an event-time field (time: {field: ts}) or "
                  "time: processing");
    }
    if (window != nullptr && checks == nullptr && join == nullptr) {
        out.warning(window->key_pos, path + ".window",
                    "the window has no effect: a node without checks emits records");
    }
    if (late != nullptr && window == nullptr) {
        out.warning(late->key_pos, path + ".late_output",
                    "late_output has no effect without a window: nothing is ever late");
    }

    // A join reads exactly two different sources.
    if (join != nullptr && join->val.is_mapping() && from != nullptr) {
        const std::size_t count = from->val.is_sequence() ? from->val.items.size()
                                  : from->val.is_scalar() ? 1
                                                          : 2;
        if (count != 2) {
            out.error(from->val.pos, path + ".from",
                      "a join reads exactly two sources; from lists " + std::to_string(count));
        }
        const value* left = join->val.find("left");
        const value* right = join->val.find("right");
        if (left != nullptr && right != nullptr && left->is_scalar() && right->is_scalar() &&
            left->text == right->text) {
            out.error(right->pos, path + ".join.right", "left and right must be different sources");
        }
    }
}

}  // namespace weir::config
