// The status model's JSON; see status.h.
#include "daemon/status.h"

#include <array>
#include <nlohmann/json.hpp>

namespace weir::daemon {

namespace {

using ordered = nlohmann::ordered_json;

template <typename T>
ordered or_null(const std::optional<T>& v) {
    return v ? ordered(*v) : ordered(nullptr);
}

ordered query_json(const query_status& q) {
    ordered out;
    out["pipeline"] = q.pipeline;
    out["query"] = q.query;
    out["nodes"] = q.nodes;
    auto failing = ordered::array();
    for (const auto& f : q.failing_checks) {
        ordered one = {{"node", f.node}, {"check", f.check}, {"groups", or_null(f.groups)}};
        if (f.groups) {
            auto groups = ordered::array();
            for (const auto& g : f.failing_groups) {
                ordered fields = ordered::object();
                for (const auto& [field, value] : g.group) fields[field] = value;
                groups.push_back({{"group", std::move(fields)}, {"value", or_null(g.value)}});
            }
            one["failing_groups"] = std::move(groups);
        }
        failing.push_back(std::move(one));
    }
    out["failing_checks"] = std::move(failing);
    out["inputs"] = q.inputs;
    out["state"] = q.state;
    if (!q.degraded_reason.empty()) out["degraded_reason"] = q.degraded_reason;
    if (q.figures) {
        const query_figures& f = *q.figures;
        out["critical"] = f.critical;
        out["watermark"] = or_null(f.watermark);
        out["lag_seconds"] = or_null(f.lag_seconds);
        out["input_records"] = f.input_records;
        out["invalid_records"] = f.invalid_records;
        out["results"] = f.results;
        out["checkpoints"] = f.checkpoints;
        if (!f.sources.empty()) {
            auto sources = ordered::array();
            for (const auto& s : f.sources) {
                sources.push_back({{"input", s.input},
                                   {"source", s.source},
                                   {"position", or_null(s.position)},
                                   {"end", or_null(s.end)},
                                   {"lag", or_null(s.lag)}});
            }
            out["sources"] = std::move(sources);
        }
        if (!f.merging.empty()) {
            auto merging = ordered::array();
            for (const auto& m : f.merging) {
                merging.push_back({{"partition", m.partition},
                                   {"position", m.position},
                                   {"replaying", m.replaying},
                                   {"replay_end", m.replay_end}});
            }
            out["merging"] = std::move(merging);
        }
        if (!f.dependencies.empty()) {
            auto deps = ordered::array();
            for (const auto& d : f.dependencies) {
                deps.push_back({{"node", d.node},
                                {"input", d.input},
                                {"state", d.state},
                                {"lag_seconds", or_null(d.lag_seconds)},
                                {"hold_expired", d.hold_expired}});
            }
            out["dependencies"] = std::move(deps);
        }
        if (!f.ended_inputs.empty()) out["ended_inputs"] = f.ended_inputs;
        if (!f.bad_records.empty()) {
            ordered bad = ordered::object();
            for (const auto& [reason, n] : f.bad_records) bad[reason] = n;
            out["bad_records"] = std::move(bad);
        }
        if (f.last_bad_record) {
            const bad_record_status& b = *f.last_bad_record;
            out["last_bad_record"] = {
                {"node", b.node},
                {"input", b.input},
                {"source", b.source},
                {"offset", or_null(b.offset)},
                {"reason", b.reason},
                {"field", b.field.empty() ? ordered(nullptr) : ordered(b.field)},
                {"message", b.message}};
        }
    }
    out["restarts"] = q.restarts;
    return out;
}

// Readers of one optional key: true when it is absent, null or of the expected type (then
// stored); false when it has another type.
using json = nlohmann::json;

bool read(const json& object, const char* key, std::string& out) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

bool read(const json& object, const char* key, std::optional<std::string>& out) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_string()) return false;
    out = it->get<std::string>();
    return true;
}

bool read(const json& object, const char* key, std::uint64_t& out) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_number_unsigned()) return false;
    out = it->get<std::uint64_t>();
    return true;
}

bool read(const json& object, const char* key, std::optional<std::uint64_t>& out) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_number_unsigned()) return false;
    out = it->get<std::uint64_t>();
    return true;
}

bool read(const json& object, const char* key, std::optional<double>& out) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_number()) return false;
    out = it->get<double>();
    return true;
}

bool read(const json& object, const char* key, bool& out) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_boolean()) return false;
    out = it->get<bool>();
    return true;
}

bool read(const json& object, const char* key, std::vector<std::string>& out) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_array()) return false;
    for (const auto& v : *it) {
        if (!v.is_string()) return false;
        out.push_back(v.get<std::string>());
    }
    return true;
}

bool read_failing_groups(const json& object, std::vector<failing_group_status>& out) {
    const auto it = object.find("failing_groups");
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_array()) return false;
    for (const auto& v : *it) {
        failing_group_status g;
        if (!v.is_object() || !read(v, "value", g.value)) return false;
        const auto fields = v.find("group");
        if (fields != v.end() && !fields->is_null()) {
            if (!fields->is_object()) return false;
            for (const auto& [field, value] : fields->items()) {
                if (!value.is_string()) return false;
                g.group.emplace_back(field, value.get<std::string>());
            }
        }
        out.push_back(std::move(g));
    }
    return true;
}

bool read_failing(const json& object, std::vector<failing_check_status>& out) {
    const auto it = object.find("failing_checks");
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_array()) return false;
    for (const auto& v : *it) {
        failing_check_status f;
        if (!v.is_object() || !read(v, "node", f.node) || !read(v, "check", f.check) ||
            !read(v, "groups", f.groups) || !read_failing_groups(v, f.failing_groups)) {
            return false;
        }
        out.push_back(std::move(f));
    }
    return true;
}

bool read(const json& object, const char* key, std::optional<std::int64_t>& out) {
    const auto it = object.find(key);
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_number_integer()) return false;
    out = it->get<std::int64_t>();
    return true;
}

bool read_sources(const json& object, std::vector<source_figures>& out) {
    const auto it = object.find("sources");
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_array()) return false;
    for (const auto& v : *it) {
        source_figures f;
        if (!v.is_object() || !read(v, "input", f.input) || !read(v, "source", f.source) ||
            !read(v, "position", f.position) || !read(v, "end", f.end) || !read(v, "lag", f.lag)) {
            return false;
        }
        out.push_back(std::move(f));
    }
    return true;
}

bool read_merging(const json& object, std::vector<merge_figures>& out) {
    const auto it = object.find("merging");
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_array()) return false;
    for (const auto& v : *it) {
        merge_figures m;
        std::optional<std::int64_t> partition;
        std::optional<std::int64_t> position;
        std::optional<std::int64_t> end;
        if (!v.is_object() || !read(v, "partition", partition) || !read(v, "position", position) ||
            !read(v, "replaying", m.replaying) || !read(v, "replay_end", end)) {
            return false;
        }
        m.partition = static_cast<std::int32_t>(partition.value_or(0));
        m.position = position.value_or(0);
        m.replay_end = end.value_or(0);
        out.push_back(m);
    }
    return true;
}

bool read_dependencies(const json& object, std::vector<dependency_status>& out) {
    const auto it = object.find("dependencies");
    if (it == object.end() || it->is_null()) return true;
    if (!it->is_array()) return false;
    for (const auto& v : *it) {
        dependency_status d;
        if (!v.is_object() || !read(v, "node", d.node) || !read(v, "input", d.input) ||
            !read(v, "state", d.state) || !read(v, "lag_seconds", d.lag_seconds) ||
            !read(v, "hold_expired", d.hold_expired)) {
            return false;
        }
        out.push_back(std::move(d));
    }
    return true;
}

bool read_bad_records(const json& object, query_figures& f) {
    if (const auto it = object.find("bad_records"); it != object.end() && !it->is_null()) {
        if (!it->is_object()) return false;
        for (const auto& [reason, n] : it->items()) {
            if (!n.is_number_unsigned()) return false;
            f.bad_records.emplace_back(reason, n.get<std::uint64_t>());
        }
    }
    const auto it = object.find("last_bad_record");
    if (it == object.end() || it->is_null()) return true;
    bad_record_status b;
    if (!it->is_object() || !read(*it, "node", b.node) || !read(*it, "input", b.input) ||
        !read(*it, "source", b.source) || !read(*it, "offset", b.offset) ||
        !read(*it, "reason", b.reason) || !read(*it, "field", b.field) ||
        !read(*it, "message", b.message)) {
        return false;
    }
    f.last_bad_record = std::move(b);
    return true;
}

bool read_figures(const json& object, std::optional<query_figures>& out) {
    static constexpr std::array keys = {"critical",      "watermark", "lag_seconds",
                                        "input_records", "results",   "invalid_records",
                                        "checkpoints"};
    bool any = false;
    for (const char* key : keys) any = any || object.contains(key);
    if (!any) return true;
    query_figures f;
    if (!read(object, "critical", f.critical) || !read(object, "watermark", f.watermark) ||
        !read(object, "lag_seconds", f.lag_seconds) ||
        !read(object, "input_records", f.input_records) ||
        !read(object, "invalid_records", f.invalid_records) ||
        !read(object, "results", f.results) || !read(object, "checkpoints", f.checkpoints) ||
        !read_sources(object, f.sources) || !read_merging(object, f.merging) ||
        !read_bad_records(object, f) || !read_dependencies(object, f.dependencies) ||
        !read(object, "ended_inputs", f.ended_inputs)) {
        return false;
    }
    out = std::move(f);
    return true;
}

bool read_query(const json& object, query_status& q) {
    return object.is_object() && read(object, "pipeline", q.pipeline) &&
           read(object, "query", q.query) && read(object, "nodes", q.nodes) &&
           read_failing(object, q.failing_checks) && read(object, "inputs", q.inputs) &&
           read(object, "state", q.state) && read(object, "degraded_reason", q.degraded_reason) &&
           read_figures(object, q.figures) && read(object, "restarts", q.restarts);
}

}  // namespace

std::string to_json(const daemon_status& status) {
    ordered out;
    out["state"] = status.state;
    auto queries = ordered::array();
    for (const auto& q : status.queries) queries.push_back(query_json(q));
    out["queries"] = std::move(queries);
    return out.dump();
}

std::optional<daemon_status> from_json(std::string_view text) {
    const json parsed = json::parse(text, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) return std::nullopt;
    const auto queries = parsed.find("queries");
    if (queries == parsed.end() || !queries->is_array()) return std::nullopt;
    daemon_status out;
    if (!read(parsed, "state", out.state)) return std::nullopt;
    for (const auto& q : *queries) {
        query_status one;
        if (!read_query(q, one)) return std::nullopt;
        out.queries.push_back(std::move(one));
    }
    return out;
}

}  // namespace weir::daemon
