// Compiling a query for the runtime; see query_plan.h.
#include "daemon/query_plan.h"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "core/measure/measure_expr.h"
#include "core/sketch/hash.h"

namespace weir::daemon {

namespace {

// The names a node sees, each bound to a slot of the query's slot space.
using environment = std::map<std::string, std::uint32_t, std::less<>>;

// A canonical path (`a.b`, `a["x y"]`, as field_path::to_string() writes it) as segments.
field_path parse_path(const std::string& path) {
    field_path p;
    std::string segment;
    for (std::size_t i = 0; i < path.size(); ++i) {
        if (path[i] == '.') {
            p.segments.push_back(segment);
            segment.clear();
        } else if (path[i] == '[' && i + 1 < path.size() && path[i + 1] == '"') {
            if (!segment.empty()) p.segments.push_back(segment);
            segment.clear();
            std::size_t j = i + 2;
            for (; j < path.size() && path[j] != '"'; ++j) {
                if (path[j] == '\\' && j + 1 < path.size()) ++j;
                segment += path[j];
            }
            p.segments.push_back(segment);
            segment.clear();
            i = j + 1;  // at the closing ]
            if (i + 1 < path.size() && path[i + 1] == '.') ++i;
        } else {
            segment += path[i];
        }
    }
    if (!segment.empty() || p.segments.empty()) p.segments.push_back(segment);
    return p;
}

// The slots of one query: decoded fields, shared by every node, and fields `set` computes.
class slot_space {
  public:
    std::uint32_t decoded(const std::string& path) {
        if (auto it = decoded_.find(path); it != decoded_.end()) return it->second;
        const auto slot = static_cast<std::uint32_t>(fields_.size());
        fields_.push_back(parse_path(path));
        decoded_[path] = slot;
        return slot;
    }

    // A slot no decoder fills; its decode path (a NUL byte) matches no JSON key.
    std::uint32_t computed(const std::string& name) {
        const auto slot = static_cast<std::uint32_t>(fields_.size());
        fields_.push_back(field_path{{std::string("\0computed:", 10) + name}});
        return slot;
    }

    std::size_t size() const { return fields_.size(); }
    std::vector<field_path> take() { return std::move(fields_); }

  private:
    std::vector<field_path> fields_;
    std::map<std::string, std::uint32_t, std::less<>> decoded_;
};

window::window_spec window_of(const config::window_config& w) {
    auto ns = [](std::chrono::milliseconds d) { return d.count() * time::ns_per_ms; };
    window::window_spec s;
    if (w.type.value == "sliding") s.kind = window::window_kind::sliding;
    if (w.type.value == "session") s.kind = window::window_kind::session;
    s.size = ns(w.size.value);
    s.slide = ns(w.slide.value);
    s.gap = ns(w.gap.value);
    s.allowed_lateness = ns(w.allowed_lateness.value);
    s.idle_timeout = ns(w.idle_timeout.value);
    return s;
}

engine::emit_mode emit_of(const std::string& emit) {
    if (emit == "failures") return engine::emit_mode::failures;
    if (emit == "changes") return engine::emit_mode::changes;
    return engine::emit_mode::all;
}

// The slot `path` names in `env`; a name the node did not define is a decoded field.
std::uint32_t resolve(const std::string& path, environment& env, slot_space& slots) {
    if (auto it = env.find(path); it != env.end()) return it->second;
    const std::uint32_t slot = slots.decoded(path);
    env[path] = slot;
    return slot;
}

std::shared_ptr<const expr::program> compile_program(const std::string& text, environment& env,
                                                     slot_space& slots, expr::value_type expected) {
    expr::compile_options options;
    options.expected = expected;
    options.resolve = [&](const field_path& p) -> std::optional<std::uint32_t> {
        return resolve(p.to_string(), env, slots);
    };
    auto program = expr::compile(text, options);
    if (!program) {
        throw std::invalid_argument("expression \"" + text + "\": " + program.error().message);
    }
    return std::make_shared<const expr::program>(std::move(*program));
}

// A canonical, order-preserving text of a parameter tree, for fingerprints.
void canonical_value(const params::value& v, std::string& out) {
    switch (v.type) {
        case params::value::kind::null:
            out += "~";
            break;
        case params::value::kind::scalar:
            out += std::to_string(v.text.size()) + ":" + v.text;
            break;
        case params::value::kind::sequence:
            out += "[";
            for (const auto& i : v.items) canonical_value(i, out), out += ",";
            out += "]";
            break;
        case params::value::kind::mapping:
            out += "{";
            for (const auto& e : v.entries) {
                out += std::to_string(e.key.size()) + ":" + e.key + "=";
                canonical_value(e.val, out);
                out += ",";
            }
            out += "}";
            break;
    }
}

}  // namespace

std::string canonical_text(const params::value& v) {
    std::string out;
    canonical_value(v, out);
    return out;
}

compiled_query compile_query(const config::pipeline_config& pipeline,
                             const config::query_plan& query) {
    compiled_query q;
    q.pipeline = pipeline.name;
    q.name = query.name;
    q.outputs = query.outputs;

    // Everything that changes what the query computes or reads goes into the fingerprint.
    std::string canonical = "weir-query-v1\n";
    for (const auto& name : query.inputs) {
        const config::input_config* in = pipeline.find_input(name);
        q.inputs.push_back(in);
        canonical += "input " + name + " ";
        canonical_value(in->params, canonical);
        canonical += "\n";
    }

    slot_space slots;
    std::map<std::string, environment, std::less<>> env_after;  // node -> names after it
    std::vector<environment> node_envs;

    for (const auto& name : query.nodes) {
        const config::node_config& n = *pipeline.find_node(name);
        if (n.join) {
            throw std::invalid_argument("node \"" + n.name +
                                        "\": joins are not supported by this runtime yet");
        }
        if (!n.depends_on.empty()) {
            throw std::invalid_argument("node \"" + n.name +
                                        "\": depends_on is not supported by this runtime yet");
        }
        compiled_node c;
        c.config = &n;
        environment env;
        canonical += "node " + n.name + " from";
        for (const auto& f : n.from) {
            c.from.push_back(f.value);
            canonical += " " + f.value;
            // A node reading a derived stream sees the names its source made.
            if (auto it = env_after.find(f.value); it != env_after.end()) {
                env.insert(it->second.begin(), it->second.end());
            }
        }
        canonical += "\n";

        if (n.schema && !n.schema->fields.empty()) {
            schema::schema_description d;
            d.on_invalid = schema::parse_invalid_action(n.schema->on_invalid.value)
                               .value_or(schema::invalid_action::drop);
            canonical += "schema " + n.schema->on_invalid.value + "\n";
            for (const auto& f : n.schema->fields) {
                schema::field_description fd;
                fd.name = f.name.value;
                fd.slot = resolve(f.name.value, env, slots);
                fd.type =
                    schema::parse_field_type(f.type.value).value_or(schema::field_type::string);
                fd.required = f.required;
                for (const auto& a : f.allowed) fd.allowed.push_back(a.value);
                if (f.minimum) fd.minimum = f.minimum->value;
                if (f.maximum) fd.maximum = f.maximum->value;
                if (f.pattern) fd.pattern = f.pattern->value;
                if (n.time && !n.time->processing && n.time->field.value == f.name.value) {
                    fd.time_format = n.time->format.value;
                }
                canonical += fmt::format("field {} {} {} {} {} {} {}\n", fd.name, f.type.value,
                                         fd.required, fd.allowed.size(), fd.minimum.value_or(0),
                                         fd.maximum.value_or(0), fd.pattern.value_or(""));
                for (const auto& a : fd.allowed) canonical += " enum " + a + "\n";
                d.fields.push_back(std::move(fd));
            }
            c.schema = std::move(d);
        }

        for (const auto& t : n.transforms) {
            compiled_transform ct;
            switch (t.type) {
                case config::transform_config::kind::filter:
                    ct.type = compiled_transform::kind::filter;
                    ct.filter =
                        compile_program(t.expression.value, env, slots, expr::value_type::boolean);
                    canonical += "filter " + t.expression.value + "\n";
                    c.transforms.push_back(std::move(ct));
                    break;
                case config::transform_config::kind::set:
                    ct.type = compiled_transform::kind::set;
                    for (const auto& [target, text] : t.assignments) {
                        auto program =
                            compile_program(text.value, env, slots, expr::value_type::any);
                        const std::uint32_t slot = slots.computed(target.value);
                        env[target.value] = slot;
                        ct.assignments.emplace_back(slot, std::move(program));
                        canonical += "set " + target.value + " = " + text.value + "\n";
                    }
                    c.transforms_reshape = true;
                    c.transforms.push_back(std::move(ct));
                    break;
                case config::transform_config::kind::rename:
                    for (const auto& [from, to] : t.assignments) {
                        const std::uint32_t slot = resolve(from.value, env, slots);
                        env.erase(from.value);
                        env[to.value] = slot;
                        canonical += "rename " + from.value + " " + to.value + "\n";
                    }
                    c.transforms_reshape = true;
                    break;
                case config::transform_config::kind::drop:
                    for (const auto& [field, unused] : t.assignments) {
                        // Later references read a slot nobody fills: absent.
                        env[field.value] = slots.computed(field.value);
                        canonical += "drop " + field.value + "\n";
                    }
                    c.transforms_reshape = true;
                    break;
            }
        }

        if (n.emits_results()) {
            engine::node_plan plan;
            plan.pipeline = pipeline.name;
            plan.node = n.name;
            plan.window = window_of(*n.window);
            plan.processing_time = !n.time || n.time->processing;
            plan.group_ttl = n.group_by.empty() ? 0 : n.group_ttl.value.count() * time::ns_per_ms;
            plan.max_groups = static_cast<std::size_t>(n.max_groups.value);
            plan.sources = n.from.size();
            for (const auto& g : n.group_by) {
                resolve(g.value, env, slots);
                plan.group_by.push_back(parse_path(g.value));
            }
            for (const auto& check : n.checks) {
                engine::check_plan cp;
                cp.name = check.name.value;
                cp.measure = check.measure.value;
                cp.must_be = check.must_be ? check.must_be->value : "";
                cp.should_be = check.should_be ? check.should_be->value : "";
                cp.emit = emit_of(n.emit.value);
                auto m = measure::parse_measure(cp.measure);
                if (!m) throw std::invalid_argument("measure \"" + cp.measure + "\"");
                for (const auto& call : m->calls()) {
                    for (const auto& arg : call.args) {
                        if (arg.kind != measure::arg_kind::field) continue;
                        // In a node reading several inputs, count(orders) names an input: it
                        // would be read here as a field of that name and count nothing.
                        const std::string name = arg.field.to_string();
                        const bool names_input =
                            n.from.size() > 1 &&
                            std::any_of(n.from.begin(), n.from.end(),
                                        [&](const auto& f) { return f.value == name; });
                        if (names_input) {
                            throw std::invalid_argument(
                                "check \"" + cp.name + "\": measures of one input (" +
                                std::string(call.function->name) + "(" + name +
                                ")) are not supported by this runtime yet");
                        }
                        resolve(name, env, slots);
                    }
                }
                canonical += "check " + cp.name + " " + cp.measure + " | " + cp.must_be + " | " +
                             cp.should_be + " | " + n.emit.value + "\n";
                plan.checks.push_back(std::move(cp));
            }
            canonical += fmt::format("window {} {} {} {} {} {}\n", n.window->type.value,
                                     plan.window.size, plan.window.slide, plan.window.gap,
                                     plan.window.allowed_lateness, plan.window.idle_timeout);
            canonical += fmt::format("groups {} {}\n", plan.group_ttl, plan.max_groups);
            for (const auto& g : n.group_by) canonical += "group_by " + g.value + "\n";
            if (!plan.processing_time) {
                time::time_parser::error err;
                auto parser = time::time_parser::compile(n.time->format.value, &err);
                if (!parser) {
                    throw std::invalid_argument("time format \"" + n.time->format.value +
                                                "\": " + err.message);
                }
                c.time = *parser;
                c.time_slot = resolve(n.time->field.value, env, slots);
                if (parser->type() != time::time_parser::kind::rfc3339 &&
                    parser->type() != time::time_parser::kind::pattern) {
                    q.number_text_slots.push_back(c.time_slot);
                }
                canonical += "time " + n.time->field.value + " " + n.time->format.value + "\n";
            } else {
                canonical += "time processing\n";
            }
            c.plan = std::move(plan);
        }
        env_after[n.name] = env;
        c.visible.assign(env.begin(), env.end());
        node_envs.push_back(env);
        q.nodes.push_back(std::move(c));
    }

    // Now the slot count is final: each engine sees every slot, named as its node names it
    // (slots it does not name get a placeholder no measure can refer to).
    const std::size_t total = slots.size();
    for (std::size_t i = 0; i < q.nodes.size(); ++i) {
        if (!q.nodes[i].plan) continue;
        auto& fields = q.nodes[i].plan->fields;
        fields.assign(total, field_path{});
        for (std::size_t s = 0; s < total; ++s) {
            fields[s] = field_path{{std::string("\0slot:", 6) + std::to_string(s)}};
        }
        for (const auto& [name, slot] : node_envs[i]) fields[slot] = parse_path(name);
    }
    q.decode_fields = slots.take();

    const std::uint64_t h1 = hashing::hash_bytes(canonical.data(), canonical.size(), 1);
    const std::uint64_t h2 = hashing::hash_bytes(canonical.data(), canonical.size(), 2);
    q.fingerprint = fmt::format("{:016x}{:016x}", h1, h2);
    return q;
}

}  // namespace weir::daemon
