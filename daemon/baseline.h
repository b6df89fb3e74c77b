// Operator commands on the baselines of checks against history (core/check/history.h): reset
// a check's history so that it warms up again, or acknowledge the values held out as anomalous
// so that a new level becomes the baseline. `weir baseline reset|acknowledge` sends them as
// POST /api/v1/baselines/reset|acknowledge; the daemon applies them on the query's strand and
// records each in its log. This file holds the request (its JSON body both ways), what the
// daemon checks against the plan, and the client.
#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/engine/node_engine.h"
#include "core/engine/node_plan.h"
#include "core/result/check_result.h"

namespace weir::daemon {

// The request bodies accept at most this much.
inline constexpr std::size_t k_baseline_body_limit = 16 * 1024;

// "reset", "acknowledge".
const char* to_string(engine::history_command c);
std::optional<engine::history_command> parse_history_command(std::string_view s);

struct baseline_request {
    engine::history_command command = engine::history_command::reset;
    std::string pipeline;
    std::string node;
    std::string check;  // "": every check of the node that judges against history
    // Null: every group. Else the group's fields with their values, in the order given.
    std::optional<std::vector<std::pair<std::string, measure_value>>> group;
};

// The body of a POST: {"pipeline": "...", "node": "...", "check": "..." (optional),
// "group": {"field": value, ...} (optional; values are strings, numbers, booleans or null)}.
// nullopt, and `error` saying what is wrong, when it is not such an object.
std::optional<baseline_request> parse_baseline_request(engine::history_command command,
                                                       std::string_view body, std::string& error);

// The body the client sends for `r` (parse_baseline_request reads it back).
std::string to_json(const baseline_request& r);

// Whether the check judges against history (its must_be or should_be does).
bool judges_against_history(const engine::check_plan& c);

// The request's group as the node's engine keys it: every group_by field of `node`, in
// group_by order. nullopt, and `error`, when the fields given are not exactly those (or the
// node is not grouped).
std::optional<group_key> resolve_group(const baseline_request& r, const engine::node_plan& node,
                                       std::string& error);

// What a command is about, for the log and the client: `web/errors/error_rate_change`,
// `web/errors` (every check against history) and `, group host="web-3"`.
std::string describe_target(const baseline_request& r);

// `weir baseline reset|acknowledge PIPELINE/NODE[/CHECK] [--group FIELD=VALUE]...`.
struct baseline_options {
    std::string url;     // the daemon's base URL, "http://127.0.0.1:9797"
    std::string action;  // "reset" or "acknowledge"
    std::string target;  // PIPELINE/NODE[/CHECK]
    // FIELD=VALUE; VALUE is read as JSON when it is a JSON number, true, false, null or a
    // quoted string, else taken as the string it is.
    std::vector<std::string> groups;
};

// The request of `weir baseline`'s arguments; nullopt, and `error`, when they are not valid.
std::optional<baseline_request> request_of(const baseline_options& options, std::string& error);

// Sends the command and prints what was done ("reset 3 series of web/errors/error_rate_change").
// Exit codes: exit_ok; exit_usage for bad arguments (or a request the daemon found malformed:
// a group that does not match the node's group_by); exit_failure when the daemon cannot be
// reached, does not know the pipeline, node or check (404), or could not apply it.
int run_baseline(const baseline_options& options, std::ostream& out, std::ostream& err);

}  // namespace weir::daemon
