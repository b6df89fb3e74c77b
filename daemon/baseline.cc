// Operator commands on baselines; see baseline.h.
#include "daemon/baseline.h"

#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <exception>
#include <nlohmann/json.hpp>

#include "core/check/assessment.h"
#include "daemon/exit_codes.h"
#include "daemon/status_client.h"

namespace weir::daemon {

namespace {

using json = nlohmann::ordered_json;

// A JSON scalar as a group value; nullopt for objects and arrays.
std::optional<measure_value> value_of(const json& v) {
    if (v.is_null()) return measure_value::make_null();
    if (v.is_boolean()) return measure_value::make_boolean(v.get<bool>());
    if (v.is_number()) return measure_value::make_number(v.get<double>());
    if (v.is_string()) return measure_value::make_string(v.get<std::string>());
    return std::nullopt;
}

json json_of(const measure_value& v) {
    switch (v.kind) {
        case measure_kind::null:
            return nullptr;
        case measure_kind::boolean:
            return v.boolean;
        case measure_kind::number:
            // 500, not 500.0, when it is a whole number a double holds exactly.
            if (std::trunc(v.number) == v.number && std::fabs(v.number) < 9007199254740992.0) {
                return static_cast<std::int64_t>(v.number);
            }
            return v.number;
        case measure_kind::string:
            return v.text;
    }
    return nullptr;
}

// The text of a JSON string member, or nullopt with `error` when it is there but not a
// non-empty string. `present` says whether it is there.
std::optional<std::string> string_member(const json& body, const char* key, bool& present,
                                         std::string& error) {
    const auto it = body.find(key);
    present = it != body.end() && !it->is_null();
    if (!present) return std::string();
    if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
        error = fmt::format("\"{}\" must be a non-empty string", key);
        return std::nullopt;
    }
    return it->get<std::string>();
}

std::string fields_text(const std::vector<field_path>& fields) {
    std::string s;
    for (const auto& f : fields) s += (s.empty() ? "" : ", ") + f.to_string();
    return s;
}

}  // namespace

const char* to_string(engine::history_command c) {
    return c == engine::history_command::reset ? "reset" : "acknowledge";
}

std::optional<engine::history_command> parse_history_command(std::string_view s) {
    if (s == "reset") return engine::history_command::reset;
    if (s == "acknowledge") return engine::history_command::acknowledge;
    return std::nullopt;
}

std::optional<baseline_request> parse_baseline_request(engine::history_command command,
                                                       std::string_view body, std::string& error) {
    const json doc = json::parse(body, nullptr, false);
    if (doc.is_discarded()) {
        error = "the body is not JSON";
        return std::nullopt;
    }
    if (!doc.is_object()) {
        error = "the body must be a JSON object with \"pipeline\" and \"node\"";
        return std::nullopt;
    }
    for (const auto& [key, value] : doc.items()) {
        if (key != "pipeline" && key != "node" && key != "check" && key != "group") {
            error = fmt::format(
                "unknown key \"{}\": expected \"pipeline\", \"node\", \"check\" and \"group\"",
                key);
            return std::nullopt;
        }
    }
    baseline_request r;
    r.command = command;
    bool present = false;
    const auto pipeline = string_member(doc, "pipeline", present, error);
    if (!pipeline) return std::nullopt;
    if (!present) {
        error = "\"pipeline\" is missing";
        return std::nullopt;
    }
    const auto node = string_member(doc, "node", present, error);
    if (!node) return std::nullopt;
    if (!present) {
        error = "\"node\" is missing";
        return std::nullopt;
    }
    const auto check = string_member(doc, "check", present, error);
    if (!check) return std::nullopt;
    r.pipeline = *pipeline;
    r.node = *node;
    r.check = *check;
    if (const auto g = doc.find("group"); g != doc.end() && !g->is_null()) {
        if (!g->is_object()) {
            error = "\"group\" must be an object of group_by fields and their values";
            return std::nullopt;
        }
        auto& fields = r.group.emplace();
        for (const auto& [field, value] : g->items()) {
            auto v = value_of(value);
            if (!v) {
                error = fmt::format(
                    "group field \"{}\": a value is a string, a number, true, false or null",
                    field);
                return std::nullopt;
            }
            fields.emplace_back(field, std::move(*v));
        }
    }
    return r;
}

std::string to_json(const baseline_request& r) {
    nlohmann::ordered_json out;
    out["pipeline"] = r.pipeline;
    out["node"] = r.node;
    if (!r.check.empty()) out["check"] = r.check;
    if (r.group) {
        nlohmann::ordered_json group = nlohmann::ordered_json::object();
        for (const auto& [field, value] : *r.group) group[field] = json_of(value);
        out["group"] = group;
    }
    return out.dump();
}

bool judges_against_history(const engine::check_plan& c) {
    return (c.parsed_must_be && c.parsed_must_be->history()) ||
           (c.parsed_should_be && c.parsed_should_be->history());
}

std::optional<group_key> resolve_group(const baseline_request& r, const engine::node_plan& node,
                                       std::string& error) {
    group_key key;
    if (!r.group) return key;
    if (node.group_by.empty()) {
        error = fmt::format("node \"{}\" has no group_by: leave \"group\" out", r.node);
        return std::nullopt;
    }
    for (const auto& field : node.group_by) {
        const std::string name = field.to_string();
        const measure_value* value = nullptr;
        for (const auto& [given, v] : *r.group) {
            if (given == name) value = &v;
        }
        if (value == nullptr) {
            error = fmt::format(
                "group: field \"{}\" is missing; node \"{}\" groups by {} (every field, with "
                "its value as the results show it)",
                name, r.node, fields_text(node.group_by));
            return std::nullopt;
        }
        key.emplace_back(name, *value);
    }
    for (const auto& [given, v] : *r.group) {
        bool known = false;
        for (const auto& field : node.group_by) known = known || field.to_string() == given;
        if (!known) {
            error = fmt::format("group: node \"{}\" does not group by \"{}\"; it groups by {}",
                                r.node, given, fields_text(node.group_by));
            return std::nullopt;
        }
    }
    return key;
}

std::string describe_target(const baseline_request& r) {
    std::string s = r.pipeline + "/" + r.node;
    if (r.check.empty()) {
        s += " (every check against history)";
    } else {
        s += "/" + r.check;
    }
    if (r.group) {
        s += ", group ";
        bool first = true;
        for (const auto& [field, value] : *r.group) {
            s += (first ? "" : ", ") + field + "=" + to_string(value);
            first = false;
        }
    }
    return s;
}

std::optional<baseline_request> request_of(const baseline_options& options, std::string& error) {
    baseline_request r;
    const auto command = parse_history_command(options.action);
    if (!command) {
        error = "expected reset or acknowledge, not \"" + options.action + "\"";
        return std::nullopt;
    }
    r.command = *command;
    std::vector<std::string> parts;
    std::size_t from = 0;
    while (true) {
        const auto slash = options.target.find('/', from);
        parts.push_back(options.target.substr(from, slash - from));
        if (slash == std::string::npos) break;
        from = slash + 1;
    }
    bool empty_part = false;
    for (const auto& p : parts) empty_part = empty_part || p.empty();
    if (parts.size() < 2 || parts.size() > 3 || empty_part) {
        error = "\"" + options.target + "\": expected PIPELINE/NODE or PIPELINE/NODE/CHECK";
        return std::nullopt;
    }
    r.pipeline = parts[0];
    r.node = parts[1];
    if (parts.size() == 3) r.check = parts[2];
    for (const auto& g : options.groups) {
        const auto eq = g.find('=');
        if (eq == std::string::npos || eq == 0) {
            error = "--group \"" + g + "\": expected FIELD=VALUE";
            return std::nullopt;
        }
        const std::string field = g.substr(0, eq);
        const std::string text = g.substr(eq + 1);
        auto& fields = r.group ? *r.group : r.group.emplace();
        for (const auto& [f, v] : fields) {
            if (f == field) {
                error = "--group: field \"" + field + "\" given twice";
                return std::nullopt;
            }
        }
        // JSON when it is a JSON scalar (42, 1.5, true, null, "quoted"), else the text itself.
        const json parsed = json::parse(text, nullptr, false);
        std::optional<measure_value> value;
        if (!parsed.is_discarded()) value = value_of(parsed);
        fields.emplace_back(field, value ? std::move(*value) : measure_value::make_string(text));
    }
    return r;
}

int run_baseline(const baseline_options& options, std::ostream& out, std::ostream& err) {
    std::string error;
    const auto request = request_of(options, error);
    if (!request) {
        err << "weir baseline: " << error << '\n';
        return exit_usage;
    }
    http_reply reply;
    try {
        // The daemon answers once the query applied it; it waits a bounded time for that.
        reply = http_exchange(options.url, "POST",
                              std::string("/api/v1/baselines/") + to_string(request->command),
                              to_json(*request), "weir-baseline", std::chrono::seconds(30));
    } catch (const std::exception& e) {
        err << "weir baseline: " << e.what() << '\n';
        return exit_failure;
    }
    const json body = json::parse(reply.body, nullptr, false);
    if (reply.status != 200) {
        std::string why = reply.body;
        if (!body.is_discarded() && body.is_object() && body.contains("error") &&
            body["error"].is_string()) {
            why = body["error"].get<std::string>();
        }
        while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
        err << fmt::format("weir baseline: {} answered {}: {}\n", options.url, reply.status, why);
        return reply.status == 400 ? exit_usage : exit_failure;
    }
    if (body.is_discarded() || !body.is_object() || !body.contains("series") ||
        !body["series"].is_number_unsigned()) {
        err << "weir baseline: " << options.url << " did not answer with the series affected\n";
        return exit_failure;
    }
    const auto series = body["series"].get<std::uint64_t>();
    out << fmt::format(
        "{} {} series of {}{}\n",
        request->command == engine::history_command::reset ? "reset" : "acknowledged", series,
        describe_target(*request), series == 0 ? " (no history yet)" : "");
    return exit_ok;
}

}  // namespace weir::daemon
