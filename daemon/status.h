// The daemon's status (DESIGN.md §1.3, GET /api/v1/status) as one model: the supervisor fills
// it, the HTTP server sends it as JSON, and `weir status` reads that JSON back into it to print
// its table. The JSON is a public interface: its keys, their order and their types stay.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::daemon {

// A group whose latest window failed: its group_by fields with their values, and the value.
struct failing_group_status {
    std::vector<std::pair<std::string, std::string>> group;  // in group_by order
    std::optional<double> value;                             // null: not a finite number

    bool operator==(const failing_group_status&) const = default;
};

// A check whose latest window failed (for a grouped node: in at least one group).
struct failing_check_status {
    std::string node;
    std::string check;
    // How many groups fail; nullopt when unknown or the node has no group_by (JSON null).
    std::optional<std::uint64_t> groups;
    // The first failing groups by key (at most 10; `groups` counts them all). The JSON has
    // "failing_groups" only for grouped checks.
    std::vector<failing_group_status> failing_groups;

    bool operator==(const failing_check_status&) const = default;
};

// A source an input reads now (a Kafka partition), with its offsets.
struct source_figures {
    std::string input;
    std::string source;                    // "topic/partition"
    std::optional<std::int64_t> position;  // the next offset to read
    std::optional<std::int64_t> end;       // the high watermark
    std::optional<std::int64_t> lag;       // messages behind

    bool operator==(const source_figures&) const = default;
};

// A partition of a query's partials topic this daemon merges (several daemons).
struct merge_figures {
    std::int32_t partition = 0;
    std::int64_t position = 0;  // the next offset to merge
    // Still merging what the partition's previous owner merged and wrote the results of
    // (silently, up to `replay_end`): its own results begin after.
    bool replaying = false;
    std::int64_t replay_end = 0;

    bool operator==(const merge_figures&) const = default;
};

// A dependency of a node (depends_on) and its state now.
struct dependency_status {
    std::string node;
    std::string input;
    std::string state;  // up, catching_up, down, held, ended
    // How far its event time trails the node's, in seconds; nullopt while it has no event time
    // and the node has.
    std::optional<double> lag_seconds;
    bool hold_expired = false;  // on_down: hold ran out (max_hold): treated as continue

    bool operator==(const dependency_status&) const = default;
};

// The latest record a query could not use: where it was read and why.
struct bad_record_status {
    std::string node;
    std::string input;
    std::string source;                  // a file's path, a Kafka "topic/partition"; may be ""
    std::optional<std::int64_t> offset;  // byte offset in the file, or Kafka message offset
    std::string reason;                  // malformed, too_long, schema, bad_time
    std::string field;                   // "" for the record as a whole
    std::string message;

    bool operator==(const bad_record_status&) const = default;
};

// What a running query reports; a query that starts or waits for a restart has none of it.
struct query_figures {
    bool critical = false;
    // Event time up to which windows are closed, RFC 3339 with milliseconds; nullopt before
    // the first window closed.
    std::optional<std::string> watermark;
    // How far the watermark trails the wall clock, in seconds (negative: data from the
    // future); nullopt with the watermark.
    std::optional<double> lag_seconds;
    std::uint64_t input_records = 0;
    // Records it could not use: not decodable, schema violations, unreadable event times.
    std::uint64_t invalid_records = 0;
    std::uint64_t results = 0;
    std::uint64_t checkpoints = 0;
    // Sources of inputs that report them (Kafka partitions owned now); the JSON has "sources"
    // only when there are any.
    std::vector<source_figures> sources;
    // Partitions of the partials topic it merges (an input with partials_topic); the JSON has
    // "merging" only when there are any.
    std::vector<merge_figures> merging;
    // invalid_records by reason (malformed, too_long, schema, bad_time), the reasons seen only;
    // the JSON has "bad_records" (an object) and "last_bad_record" only when there are any.
    std::vector<std::pair<std::string, std::uint64_t>> bad_records;
    std::optional<bad_record_status> last_bad_record;
    // depends_on of its nodes; the JSON has "dependencies" only when there are any.
    std::vector<dependency_status> dependencies;
    // Inputs whose stream ended (end_when); the JSON has "ended_inputs" only when any.
    std::vector<std::string> ended_inputs;

    bool operator==(const query_figures&) const = default;
};

struct query_status {
    std::string pipeline;
    std::string query;
    std::vector<std::string> nodes;  // in chain order; the last one is the terminal node
    std::vector<failing_check_status> failing_checks;  // in node order, then by check
    std::vector<std::string> inputs;
    // query_state's names (daemon/query.h): "starting", "running", "degraded", "failed",
    // "stopped", "finished".
    std::string state;
    std::string degraded_reason;           // "" unless degraded (then absent from the JSON)
    std::optional<query_figures> figures;  // nullopt while the query is not running
    std::uint64_t restarts = 0;            // consecutive failures, for the back-off

    bool operator==(const query_status&) const = default;
};

struct daemon_status {
    std::string state;  // "running", "reloading" or "stopping"
    std::vector<query_status> queries;

    bool operator==(const daemon_status&) const = default;
};

// The body of GET /api/v1/status: one JSON object, keys in a fixed order.
std::string to_json(const daemon_status& status);

// Reads what to_json wrote (leniently: keys it does not know are ignored, missing ones take their
// defaults; a query with any of the figures' keys has figures). nullopt when `text` is not a
// status: not JSON, not an object with a "queries" array of objects, or a known key of the wrong
// type.
std::optional<daemon_status> from_json(std::string_view text);

}  // namespace weir::daemon
